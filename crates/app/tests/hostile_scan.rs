//! nmap against the real `tcplab` binary inside a throw-away namespace: SYN (-sS), connect
//! (-sT), FIN/XMAS/NULL (-sF/-sX/-sN) scans of ports 1-1024 and a UDP scan (-sU). nmap's
//! verdicts follow from the answers RFC 9293 prescribes (§3.10.7.1: RST from closed ports;
//! §3.10.7.2: SYN-ACK from a listener, silence for FIN/XMAS/NULL) and, for UDP, ICMP port
//! unreachable (RFC 1122 §4.1.3.1). Afterwards the server still serves a byte-exact download.
//!
//! Needs root and nmap (`scripts/setup.sh`); skipped otherwise.

mod common;
#[path = "hostile/lab.rs"]
mod lab;

use std::time::Duration;

use common::{tap_lab, Netns};
use lab::{assert_download, counter, stop_clean, RssWatch, RSS_LIMIT_MIB};

/// Runs `nmap -n -Pn ARGS -oG - TARGET` in `ns`; returns the "Ports:" and "Ignored State:"
/// parts of its greppable output, e.g. ("80/open/tcp//http///", "closed (1023)").
fn nmap(ns: &Netns, args: &[&str], target: &str) -> (String, String) {
    let mut argv = vec!["nmap", "-n", "-Pn", "--max-retries", "2", "-T4"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["-oG", "-", target]);
    let out = ns.run(&argv, Duration::from_secs(60));
    assert!(out.success(), "nmap {args:?}:\n{}", out.describe());
    let line = out
        .out()
        .lines()
        .find(|l| l.contains("Ports:"))
        .unwrap_or_else(|| panic!("no Ports line from nmap {args:?}:\n{}", out.out()))
        .to_string();
    let field = |name: &str| {
        line.split('\t')
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    (field("Ports: "), field("Ignored State: "))
}

#[test]
fn nmap_tcp_scans_see_open_and_closed_ports_per_rfc() {
    require_root!();
    require_attack_tools!("nmap", "curl");
    let dir = lab::blob(1 << 20, 51);
    let ns = tap_lab(51);
    let mut server = lab::serve_http(&ns, 51, &dir);
    let rss = RssWatch::start(&server);
    for scan in ["-sS", "-sT"] {
        let (ports, ignored) = nmap(&ns, &[scan, "-p", "1-1024"], "198.18.51.2");
        assert_eq!(ports, "80/open/tcp//http///", "nmap {scan}");
        assert_eq!(ignored, "closed (1023)", "nmap {scan}");
    }
    // FIN, XMAS and NULL probes: closed ports answer RST (§3.10.7.1), the listener drops them
    // (§3.10.7.2 "drop the segment and return"), which nmap reports as open|filtered.
    for scan in ["-sF", "-sX", "-sN"] {
        let (ports, ignored) = nmap(&ns, &[scan, "-p", "1-1024"], "198.18.51.2");
        assert_eq!(ports, "80/open|filtered/tcp//http///", "nmap {scan}");
        assert_eq!(ignored, "closed (1023)", "nmap {scan}");
    }
    assert_download(&ns, &dir, "198.18.51.2", "after nmap scans");
    rss.assert_below(RSS_LIMIT_MIB, "nmap scans");
    let out = stop_clean(&mut server, "nmap scans");
    assert!(
        counter(&out, "stack.tcp.resets_sent") >= 5 * 1023,
        "{}",
        out.out()
    );
}

#[test]
fn nmap_udp_scan_sees_echo_open_and_others_closed() {
    require_root!();
    require_attack_tools!("nmap");
    let ns = tap_lab(52);
    let mut host = common::tcplab_ready(
        &ns,
        &[
            "host",
            "--tap",
            "tap0",
            "--addr",
            "198.18.52.2/24",
            "--udp-echo",
            "7",
        ],
    );
    // nmap sends its echo payload to 7 (echoed back: open); the rest get port unreachable.
    let (ports, ignored) = nmap(&ns, &["-sU", "-p", "1-20"], "198.18.52.2");
    let mut open = Vec::new();
    let mut closed = 0;
    for p in ports.split(", ") {
        let mut f = p.split('/');
        let (port, state) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        match state {
            "closed" => closed += 1,
            _ => open.push(format!("{port}:{state}")),
        }
    }
    // Ports nmap lists as ignored (all closed) do not appear in "Ports:".
    let ignored_closed: usize = ignored
        .strip_prefix("closed (")
        .and_then(|v| v.strip_suffix(')'))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert_eq!(open, vec!["7:open".to_string()], "nmap -sU: {ports}");
    assert_eq!(closed + ignored_closed, 19, "nmap -sU: {ports} / {ignored}");
    let ping = ns.run(
        &["ping", "-c", "1", "-W", "2", "198.18.52.2"],
        Duration::from_secs(5),
    );
    assert!(ping.success(), "{}", ping.describe());
    let out = stop_clean(&mut host, "nmap udp");
    assert!(counter(&out, "stack.udp.no_socket") >= 19, "{}", out.out());
}
