//! `tcplab demo` end to end (issue #2 "Done when"): it succeeds without root, and the pcap it
//! writes opens in tshark with a full decode: ARP, ICMP echo, UDP echo, TCP and HTTP, with no
//! malformed packet, no expert error and no bad IPv4/TCP/UDP checksum.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{run_timeout, TempDir, TCPLAB};

#[test]
fn demo_pcap_decodes_fully_in_tshark() {
    require_tools!("tshark");
    let dir = TempDir::new();
    let pcap = dir.join("demo.pcap");
    let mut demo = Command::new(TCPLAB);
    demo.args(["demo", "--quiet", "--size", "200000", "--pcap"])
        .arg(&pcap);
    let out = run_timeout(demo, None, Duration::from_secs(60));
    assert!(out.success(), "tcplab demo failed:\n{}", out.describe());
    assert!(
        out.out()
            .contains(&format!("pcap written to {}", pcap.display())),
        "{}",
        out.describe()
    );

    let tshark = |args: &[&str]| {
        let mut c = Command::new("tshark");
        c.arg("-r").arg(&pcap).args(args);
        let o = run_timeout(c, None, Duration::from_secs(60));
        assert!(o.success(), "tshark {args:?}:\n{}", o.describe());
        o.out()
    };
    let protocols = tshark(&["-T", "fields", "-e", "frame.protocols"]);
    for want in [
        "eth:ethertype:arp",
        "eth:ethertype:ip:icmp",
        "eth:ethertype:ip:udp",
        "eth:ethertype:ip:tcp",
        "eth:ethertype:ip:tcp:http",
    ] {
        assert!(
            protocols.lines().any(|l| l.starts_with(want)),
            "no {want} frame in the demo pcap; protocols seen:\n{}",
            summarize(&protocols)
        );
    }
    let bad = tshark(&[
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-Y",
        "_ws.malformed || _ws.expert.severity == error || ip.checksum.status == \"Bad\" \
         || tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\"",
    ]);
    assert!(
        bad.trim().is_empty(),
        "frames tshark flags as broken:\n{bad}"
    );
}

/// Distinct protocol stacks with their counts, for failure messages.
fn summarize(protocols: &str) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for l in protocols.lines() {
        *counts.entry(l).or_insert(0u32) += 1;
    }
    counts.iter().map(|(p, n)| format!("{n:6} {p}\n")).collect()
}
