//! Command-line interface: subcommands and options, parsed with clap (derive). Every parse error
//! becomes one `tcplab: error: ...` line with exit code 2 (see [`one_line`]).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tcplab_stack::{CongestionAlgorithm, EthernetAddress};

/// tcplab: a userspace TCP/IP stack you can watch.
#[derive(Debug, Parser)]
#[command(name = "tcplab", version, about, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Two stacks over an in-memory link: ARP, ping, UDP echo and an HTTP download over TCP.
    Demo(DemoArgs),
    /// Ping a host from our stack, like iputils ping.
    Ping(PingArgs),
    /// Answer ARP, ping and UDP echo until Ctrl-C, then print counters.
    Host(HostArgs),
    /// Run a TCP server: echo (RFC 862), discard (RFC 863), chargen (RFC 864) or http.
    Serve(ServeArgs),
    /// netcat-like client: stdin to the connection, the connection to stdout.
    Connect(ConnectArgs),
    /// Download http://HOST:PORT/PATH into a file.
    Get(GetArgs),
    /// Draw SVG graphs (time-sequence, cwnd, RTT, goodput) of the TCP connections in a pcap.
    Plot(PlotArgs),
    /// Run a scenario file (hosts, links, flows) on simulated stacks with a virtual clock:
    /// summary, pcaps, graphs and index.html (docs/experiments.md).
    Sim(SimArgs),
}

/// An IPv4 address with a prefix length, `A.B.C.D/P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("expected A.B.C.D/P, got '{s}'"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| format!("bad IPv4 address '{a}'"))?;
        let prefix: u8 = p.parse().map_err(|_| format!("bad prefix length '{p}'"))?;
        if prefix > 32 {
            return Err(format!("prefix length {prefix} is larger than 32"));
        }
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(format!("{addr} cannot be a host address"));
        }
        Ok(Cidr { addr, prefix })
    }
}

/// Parse `XX:XX:XX:XX:XX:XX` as a unicast MAC.
pub fn parse_mac(s: &str) -> Result<EthernetAddress, String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(format!(
            "expected six hex bytes like 02:00:c6:12:00:02, got '{s}'"
        ));
    }
    let mut b = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("bad MAC byte '{p}' in '{s}'"));
        }
        b[i] = u8::from_str_radix(p, 16).map_err(|_| format!("bad MAC byte '{p}' in '{s}'"))?;
    }
    if b[0] & 1 != 0 {
        return Err(format!("{s} is a multicast address, not usable as our MAC"));
    }
    Ok(EthernetAddress(b))
}

/// A number of seconds, possibly fractional (`0.2`), non-negative and finite.
pub fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(format!("'{s}' is not a valid number of seconds"));
    }
    Ok(v)
}

/// Parse a congestion-control name (`cubic`, `newreno` or its alias `reno`); an unknown name
/// is an error that lists the valid ones.
pub fn parse_cc(s: &str) -> Result<CongestionAlgorithm, String> {
    s.parse().map_err(|e| format!("{e}"))
}

/// Parse `A.B.C.D:PORT`.
pub fn parse_sockaddr(s: &str) -> Result<SocketAddrV4, String> {
    s.parse::<SocketAddrV4>()
        .map_err(|_| format!("expected A.B.C.D:PORT, got '{s}'"))
}

/// Options shared by every subcommand that owns a link.
#[derive(Debug, Clone, Args)]
pub struct LinkOpts {
    /// Attach to TAP device NAME (created if missing).
    #[arg(long, value_name = "NAME", conflicts_with = "iface")]
    pub tap: Option<String>,
    /// Use AF_PACKET on the existing interface NAME (e.g. one end of a veth pair).
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,
    /// Our IPv4 address and prefix (required with --tap/--iface).
    #[arg(long, value_name = "A.B.C.D/P")]
    pub addr: Option<Cidr>,
    /// Default gateway.
    #[arg(long, value_name = "A.B.C.D")]
    pub gw: Option<Ipv4Addr>,
    /// Our MAC (default: locally administered, derived from the address: 02:00:A:B:C:D).
    #[arg(long, value_name = "XX:XX:XX:XX:XX:XX", value_parser = parse_mac)]
    pub mac: Option<EthernetAddress>,
    /// Link MTU.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(576..))]
    pub mtu: u16,
    /// Write every frame sent and received to FILE (pcap, ns timestamps).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Impair the link, e.g. loss=1%,delay=20ms,jitter=5ms,rate=100mbit (both directions
    /// unless the spec sets dir=tx|rx).
    #[arg(long, value_name = "SPEC")]
    pub impair: Option<String>,
    /// Seed for the impairment and the stack's randomness (ISN secret, ephemeral ports). By
    /// default a fresh random seed per process, so that a new process never repeats the
    /// 4-tuples and initial sequence numbers of the last one (RFC 6528, RFC 6056); give one to
    /// replay a run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print a readable trace of stack events on stderr.
    #[arg(long)]
    pub trace: bool,
    /// TCP congestion control: cubic (RFC 9438 with HyStart++, RFC 9406) or newreno (alias
    /// reno; RFC 5681, RFC 6582).
    #[arg(long = "cc", value_name = "NAME", value_parser = parse_cc, default_value_t = CongestionAlgorithm::default())]
    pub cc: CongestionAlgorithm,
    /// With --tap: exchange only MTU-sized frames with the kernel (no IFF_VNET_HDR segmentation
    /// offload), so that what the kernel side sees is exactly what the stack emitted.
    #[arg(long)]
    pub no_offload: bool,
}

impl LinkOpts {
    /// The seed in force: `--seed`, or one random seed drawn once per process.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(process_seed)
    }
}

/// A random seed drawn once per process from the OS (std's `RandomState` keys come from the
/// OS random source), so separate runs get distinct ISN secrets and ephemeral ports.
fn process_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    })
}

/// `tcplab plot`.
#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// The capture (pcap; Ethernet, Linux cooked or raw IPv4 link type).
    #[arg(value_name = "FILE.pcap")]
    pub file: PathBuf,
    /// Only this connection (both directions), e.g. 198.18.0.1:49152-198.18.0.2:80.
    #[arg(long, value_name = "A:P-B:P")]
    pub conn: Option<crate::graph::ConnFilter>,
    /// Directory for the SVG files and index.html (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
}

/// `tcplab demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Impair the in-memory link: each stack impairs what it sends, so both directions.
    #[arg(long, value_name = "SPEC")]
    pub impair: Option<String>,
    /// Where to write the pcap (default: target/demo.pcap, or a temp path).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Seed for the impairment and both stacks.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size of the file downloaded over TCP.
    #[arg(long, default_value_t = 1_000_000, value_name = "BYTES")]
    pub size: u64,
    /// Print only the step results, not the frame trace.
    #[arg(long)]
    pub quiet: bool,
    /// TCP congestion control: cubic (RFC 9438 with HyStart++, RFC 9406) or newreno (alias
    /// reno; RFC 5681, RFC 6582).
    #[arg(long = "cc", value_name = "NAME", value_parser = parse_cc, default_value_t = CongestionAlgorithm::default())]
    pub cc: CongestionAlgorithm,
}

/// `tcplab sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// The scenario file (TOML; see docs/experiments.md).
    #[arg(value_name = "SCENARIO.toml")]
    pub scenario: PathBuf,
    /// Output directory (default: sim-out/<scenario name>).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run with this seed instead of the scenario's.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run every seed of A..B (inclusive, e.g. 1..20), each into DIR/seed-N/, and write the
    /// medians per flow metric to DIR/sweep.txt and DIR/sweep.json.
    #[arg(long, value_name = "A..B")]
    pub seeds: Option<SeedRange>,
}

/// An inclusive range of seeds, `A..B`, at most [`SeedRange::MAX_SEEDS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    /// First seed.
    pub first: u64,
    /// Last seed (inclusive).
    pub last: u64,
}

impl SeedRange {
    /// Most seeds one sweep may run.
    pub const MAX_SEEDS: u64 = 1000;
}

impl FromStr for SeedRange {
    type Err = String;
    fn from_str(s: &str) -> Result<SeedRange, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("expected A..B like 1..20, got '{s}'"))?;
        let b = b.strip_prefix('=').unwrap_or(b);
        let first: u64 = a.trim().parse().map_err(|_| format!("bad seed '{a}'"))?;
        let last: u64 = b.trim().parse().map_err(|_| format!("bad seed '{b}'"))?;
        if last < first {
            return Err(format!("empty seed range {s}"));
        }
        if last - first >= SeedRange::MAX_SEEDS {
            return Err(format!(
                "at most {} seeds per sweep, got {s}",
                SeedRange::MAX_SEEDS
            ));
        }
        Ok(SeedRange { first, last })
    }
}

/// `tcplab ping`.
#[derive(Debug, Clone, Args)]
pub struct PingArgs {
    /// Link options (see LinkOpts).
    #[command(flatten)]
    pub link: LinkOpts,
    /// Send COUNT echo requests.
    #[arg(short = 'c', default_value_t = 4, value_name = "COUNT", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Payload bytes per request.
    #[arg(short = 's', default_value_t = 56, value_name = "SIZE", value_parser = clap::value_parser!(u16).range(..=65507))]
    pub size: u16,
    /// Seconds between requests.
    #[arg(short = 'i', default_value = "1", value_name = "INTERVAL", value_parser = parse_secs)]
    pub interval: f64,
    /// Seconds to wait for the last reply.
    #[arg(short = 'W', default_value = "2", value_name = "TIMEOUT", value_parser = parse_secs)]
    pub timeout: f64,
    /// The host to ping.
    #[arg(value_name = "DEST")]
    pub dest: Ipv4Addr,
}

/// `tcplab host`.
#[derive(Debug, Clone, Args)]
pub struct HostArgs {
    /// Link options (see LinkOpts).
    #[command(flatten)]
    pub link: LinkOpts,
    /// UDP echo port (RFC 862).
    #[arg(long, default_value_t = 7, value_name = "PORT")]
    pub udp_echo: u16,
    /// Stop after SECS seconds instead of waiting for Ctrl-C.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<f64>,
}

/// The servers `tcplab serve` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// RFC 862: send back what arrives.
    Echo,
    /// RFC 863: read and throw away.
    Discard,
    /// RFC 864: send a rotating pattern of printable characters.
    Chargen,
    /// HTTP/1.1 static files from --root.
    Http,
}

/// `tcplab serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Which server.
    #[arg(value_enum)]
    pub service: Service,
    /// Link options (see LinkOpts).
    #[command(flatten)]
    pub link: LinkOpts,
    /// TCP port to listen on.
    #[arg(long, value_name = "N")]
    pub port: u16,
    /// Directory served by `http`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Stop after SECS seconds instead of waiting for Ctrl-C/SIGTERM.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<f64>,
    /// Most clients served at once; more are refused with a reset.
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_clients: usize,
}

/// `tcplab connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Link options (see LinkOpts).
    #[command(flatten)]
    pub link: LinkOpts,
    /// Where to connect.
    #[arg(value_name = "HOST:PORT", value_parser = parse_sockaddr)]
    pub target: SocketAddrV4,
}

/// `tcplab get`.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// Link options (see LinkOpts).
    #[command(flatten)]
    pub link: LinkOpts,
    /// http://HOST:PORT/PATH (HOST is an IPv4 address).
    #[arg(value_name = "URL")]
    pub url: String,
    /// Where to write the body.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Render a clap error as the one line CLI.md asks for (without the `tcplab: error: ` prefix).
pub fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    first
        .trim()
        .strip_prefix("error: ")
        .unwrap_or(first.trim())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tcplab").chain(args.iter().copied()))
    }

    #[test]
    fn ping_defaults_match_iputils() {
        let cli = parse(&[
            "ping",
            "--tap",
            "tap0",
            "--addr",
            "198.18.0.2/24",
            "198.18.0.1",
        ])
        .unwrap();
        let Command::Ping(p) = cli.command else {
            panic!("not ping")
        };
        assert_eq!((p.count, p.size, p.interval, p.timeout), (4, 56, 1.0, 2.0));
        assert_eq!(p.dest, Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(
            p.link.addr,
            Some(Cidr {
                addr: Ipv4Addr::new(198, 18, 0, 2),
                prefix: 24
            })
        );
        assert_eq!(p.link.mtu, 1500);
        assert_eq!(p.link.seed, None);
        assert_eq!(p.link.seed(), p.link.seed(), "one random seed per process");
    }

    #[test]
    fn serve_takes_service_then_options() {
        let cli = parse(&[
            "serve",
            "http",
            "--tap",
            "t",
            "--addr",
            "198.18.0.2/24",
            "--port",
            "80",
            "--root",
            "/tmp",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(s.service, Service::Http);
        assert_eq!(s.port, 80);
        assert_eq!(s.root, PathBuf::from("/tmp"));
    }

    #[test]
    fn bad_values_are_usage_errors_on_one_line() {
        for args in [
            &["ping", "--addr", "198.18.0.2", "198.18.0.1"][..],
            &["ping", "--addr", "198.18.0.2/33", "198.18.0.1"],
            &["ping", "--mac", "zz:00:00:00:00:00", "198.18.0.1"],
            &["ping", "-c", "0", "198.18.0.1"],
            &["ping", "-i", "-1", "198.18.0.1"],
            &["ping", "not-an-ip"],
            &["ping", "--tap", "a", "--iface", "b", "198.18.0.1"],
            &["serve", "gopher", "--port", "70"],
            &["connect", "198.18.0.1"],
            &["get", "http://198.18.0.1/"],
            &["frobnicate"],
            &["ping", "--mtu", "100", "198.18.0.1"],
            &["ping", "--cc", "bbr", "198.18.0.1"],
            &["demo", "--cc", "vegas"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?} should fail"));
            assert_ne!(err.kind(), ErrorKind::DisplayHelp);
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let line = one_line(&err);
            assert!(
                !line.is_empty() && !line.contains('\n') && !line.starts_with("error:"),
                "{line}"
            );
        }
    }

    #[test]
    fn cc_option_on_every_stack_owning_subcommand() {
        let link = ["--tap", "t", "--addr", "198.18.0.2/24"];
        let cases: [&[&str]; 6] = [
            &["ping", "198.18.0.1"],
            &["host"],
            &["serve", "echo", "--port", "7"],
            &["connect", "198.18.0.1:7"],
            &["get", "http://198.18.0.1/", "-o", "/tmp/x"],
            &["demo"],
        ];
        for case in cases {
            for (name, want) in [
                (None, CongestionAlgorithm::Cubic),
                (Some("cubic"), CongestionAlgorithm::Cubic),
                (Some("newreno"), CongestionAlgorithm::NewReno),
                (Some("reno"), CongestionAlgorithm::NewReno),
            ] {
                let mut args: Vec<&str> = case.to_vec();
                if case[0] != "demo" {
                    args.extend(link);
                }
                if let Some(n) = name {
                    args.extend(["--cc", n]);
                }
                let cc = match parse(&args).unwrap().command {
                    Command::Demo(d) => d.cc,
                    Command::Ping(a) => a.link.cc,
                    Command::Host(a) => a.link.cc,
                    Command::Serve(a) => a.link.cc,
                    Command::Connect(a) => a.link.cc,
                    Command::Get(a) => a.link.cc,
                    Command::Plot(_) | Command::Sim(_) => unreachable!("not in the cases"),
                };
                assert_eq!(cc, want, "{args:?}");
            }
        }
        let err = parse(&["ping", "--cc", "bbr", "198.18.0.1"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let line = one_line(&err);
        assert!(
            line.contains("unknown congestion control 'bbr' (valid: newreno, reno, cubic)"),
            "{line}"
        );
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:00:c6:12:00:02").unwrap(),
            EthernetAddress([2, 0, 0xc6, 0x12, 0, 2])
        );
        assert!(parse_mac("01:00:5e:00:00:01").is_err(), "multicast");
        assert!(parse_mac("02:00:c6:12:00").is_err());
        assert!(parse_mac("02:00:c6:12:00:002").is_err());
    }

    #[test]
    fn cidr_rejects_non_host_addresses() {
        assert!("0.0.0.0/0".parse::<Cidr>().is_err());
        assert!("255.255.255.255/32".parse::<Cidr>().is_err());
        assert!("224.0.0.1/4".parse::<Cidr>().is_err());
        assert_eq!("198.18.0.2/24".parse::<Cidr>().unwrap().prefix, 24);
    }
}
