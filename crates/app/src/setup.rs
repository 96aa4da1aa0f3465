//! From command-line options to a running runtime: the stack's configuration, the link
//! (TAP, AF_PACKET, optionally impaired and captured to pcap), and the event loop.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use tcplab_link::impair::{Direction, Impair, ImpairConfig};
use tcplab_link::packet::PacketLink;
use tcplab_link::pcap::Pcap;
use tcplab_link::tap::{TapConfig, TapLink};
use tcplab_link::Link;
use tcplab_stack::{Config, EthernetAddress, Stack};

use crate::cli::LinkOpts;
use crate::error::AppError;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::trace::Sink;

/// The locally administered MAC we use when none is given: 02:00 followed by the IPv4 address,
/// so each lab address has a stable, recognisable MAC (IEEE 802 "U/L" bit set).
pub fn derived_mac(addr: Ipv4Addr) -> EthernetAddress {
    let o = addr.octets();
    EthernetAddress([0x02, 0x00, o[0], o[1], o[2], o[3]])
}

/// The stack configuration the options describe.
pub fn stack_config(opts: &LinkOpts) -> Result<Config, AppError> {
    let cidr = opts
        .addr
        .ok_or_else(|| AppError::Usage("--addr A.B.C.D/P is required with --tap/--iface".into()))?;
    let mac = opts.mac.unwrap_or_else(|| derived_mac(cidr.addr));
    let mut config = Config::new(mac, cidr.addr, cidr.prefix);
    config.gateway = opts.gw;
    config.mtu = usize::from(opts.mtu);
    config.seed = opts.seed();
    config.tcp.congestion = opts.cc;
    Ok(config)
}

/// Parse an impairment spec (`loss=1%,delay=20ms`, see `tcplab_link::impair::config`). The
/// seed comes from `--seed` unless the spec names one; bad specs are configuration errors.
pub fn impair_config(spec: &str, seed: u64) -> Result<ImpairConfig, AppError> {
    let mut config: ImpairConfig = spec.parse()?;
    if !spec_has_key(spec, "seed") {
        config.seed = seed;
    }
    Ok(config)
}

/// Whether a `key=value,...` spec sets `key`.
fn spec_has_key(spec: &str, key: &str) -> bool {
    spec.split(',')
        .filter_map(|kv| kv.split('=').next())
        .any(|k| k.trim().eq_ignore_ascii_case(key))
}

/// Wrap `link` with impairment and a pcap writer as asked.
///
/// The capture sits between the impairment and the wire (`Impair<Pcap<L>>`): it records the
/// frames that really left (after loss, delay, duplication) and every frame that arrived, as a
/// tap on the cable at our port would. Timestamps are wall-clock: `epoch` (the runtime's
/// `Instant::ZERO`) is converted to time since the Unix epoch.
pub fn wrap_link(
    link: Box<dyn Link>,
    impair: Option<ImpairConfig>,
    pcap: Option<&Path>,
    epoch: std::time::Instant,
) -> Result<Box<dyn Link>, AppError> {
    let link: Box<dyn Link> = match pcap {
        Some(path) => {
            let mut p = Pcap::create(link, path)?;
            let since_unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            p.sink_mut()
                .set_time_base(since_unix.saturating_sub(epoch.elapsed()));
            Box::new(p)
        }
        None => link,
    };
    match impair {
        Some(config) => Ok(Box::new(Impair::new(link, config)?)),
        None => Ok(link),
    }
}

/// Open the link the options name: a TAP device (`--tap`) or AF_PACKET on an existing
/// interface (`--iface`).
pub fn open_link(opts: &LinkOpts) -> Result<Box<dyn Link>, AppError> {
    match (&opts.tap, &opts.iface) {
        (Some(name), _) if opts.no_offload => Ok(Box::new(TapLink::open_with(
            name,
            TapConfig { offload: false },
        )?)),
        (Some(name), _) => Ok(Box::new(TapLink::open(name)?)),
        (None, Some(name)) => Ok(Box::new(PacketLink::open(name)?)),
        (None, None) => Err(no_link()),
    }
}

fn no_link() -> AppError {
    AppError::Usage("no link given: use --tap NAME or --iface NAME".into())
}

/// Validate the options, open the link and start a runtime named `name`.
pub fn start(opts: &LinkOpts, name: &str) -> Result<Runtime, AppError> {
    if opts.tap.is_none() && opts.iface.is_none() {
        return Err(no_link());
    }
    let config = stack_config(opts)?;
    let impair = match &opts.impair {
        Some(spec) => {
            let mut c = impair_config(spec, opts.seed())?;
            // On a real link, impair both directions unless the spec says otherwise: what
            // tcplab sends and what it receives see the same network.
            if !spec_has_key(spec, "dir") {
                c.dir = Direction::Both;
            }
            Some(c)
        }
        None => None,
    };
    let rt_opts = RuntimeOptions {
        name: name.to_string(),
        trace: opts.trace.then_some(Sink::Stderr),
        ..RuntimeOptions::default()
    };
    let link = wrap_link(
        open_link(opts)?,
        impair,
        opts.pcap.as_deref(),
        rt_opts.epoch,
    )?;
    let stack = Stack::new(config)?;
    Runtime::start(stack, link, rt_opts).map_err(|e| AppError::io("start the event loop", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impair_spec_takes_the_cli_seed_unless_it_names_one() {
        assert_eq!(impair_config("loss=1%", 9).unwrap().seed, 9);
        assert_eq!(impair_config("loss=1%,SEED=3", 9).unwrap().seed, 3);
        let err = impair_config("loss=abc", 1).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let line = err.to_string();
        assert!(line.contains("loss") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn derived_mac_is_locally_administered_unicast() {
        let mac = derived_mac(Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(mac, EthernetAddress([0x02, 0x00, 198, 18, 0, 2]));
        assert!(mac.is_unicast() && mac.is_local());
    }
}
