//! `tcplab plot` on real kernel captures (root only): a Linux-to-Linux transfer between two
//! namespaces over a veth pair, captured by tcpdump both on the veth (Ethernet) and on `any`
//! (Linux cooked SLL2). Both captures give the same flow, with the window scale read from
//! the captured handshake.

mod common;

use std::time::{Duration, Instant};

use common::{veth, Netns, TempDir, TCPLAB};
use tcplab::graph;

/// Waits (bounded) until tcpdump has written the pcap file header.
fn wait_for_header(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::metadata(path)
            .map(|m| m.len() >= 24)
            .unwrap_or(false)
        {
            // The header is written once the capture is open; give the filter a moment.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tcpdump did not start writing {}", path.display());
}

/// Waits (bounded) until the file has stopped growing for half a second.
fn wait_until_quiet(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (0, Instant::now());
    while Instant::now() < deadline {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len != last.0 {
            last = (len, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(500) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kernel_transfer_captured_by_tcpdump() {
    require_root!();
    require_tools!("tcpdump", "socat", "ethtool");
    let a = Netns::new();
    let b = Netns::new();
    veth(&a, "veth0", &b, "veth1", Some("198.18.9.1/24"));
    a.ip(&["addr", "add", "198.18.9.2/24", "dev", "veth0"]);
    let dir = TempDir::new();
    let data = dir.join("data.bin");
    std::fs::write(&data, common::pattern(1_000_000, 11)).expect("write data");
    let eth = dir.join("eth.pcap");
    let any = dir.join("any.pcap");

    let mut server = b.spawn(&[
        "socat",
        "-u",
        "TCP-LISTEN:5001,reuseaddr",
        "GOPEN:/dev/null",
    ]);
    let eth_s = eth.to_string_lossy().into_owned();
    let any_s = any.to_string_lossy().into_owned();
    // -Z root: tcpdump would otherwise drop to its own user, who cannot write the directory.
    // -B: a 32 MB kernel buffer, so a burst is not dropped on a loaded machine.
    let filter = ["-Z", "root", "-B", "32768", "tcp", "port", "5001"];
    let mut cap_eth =
        a.spawn(&[&["tcpdump", "-i", "veth0", "-U", "-w", &eth_s], &filter[..]].concat());
    let mut cap_any =
        a.spawn(&[&["tcpdump", "-i", "any", "-U", "-w", &any_s], &filter[..]].concat());
    wait_for_header(&eth);
    wait_for_header(&any);
    let data_s = data.to_string_lossy().into_owned();
    let client = a.run(
        &[
            "socat",
            "-u",
            &format!("OPEN:{data_s}"),
            "TCP:198.18.9.1:5001",
        ],
        Duration::from_secs(30),
    );
    assert!(client.success(), "client: {}", client.describe());
    wait_until_quiet(&eth);
    wait_until_quiet(&any);
    cap_eth.terminate(Duration::from_secs(5));
    cap_any.terminate(Duration::from_secs(5));
    server.terminate(Duration::from_secs(5));

    let from_eth = graph::flows_from_pcap(&eth, None).expect("read the Ethernet capture");
    let from_any = graph::flows_from_pcap(&any, None).expect("read the SLL2 capture");
    assert_eq!(
        from_eth.len(),
        1,
        "one direction carries data: {from_eth:#?}"
    );
    let f = &from_eth[0];
    assert_eq!(f.dst.to_string(), "198.18.9.1:5001");
    assert!(f.notes.is_empty(), "handshake captured: {:?}", f.notes);
    let top = f.segments.iter().map(|s| s.seq + u64::from(s.len)).max();
    assert_eq!(top, Some(1_000_000));
    assert!(!f.rtt.is_empty());
    // Linux scales its window (RFC 7323): the window edge runs well past 65535 bytes.
    assert!(f.acks.iter().any(|a| a.win_edge - a.ack > 65_535));
    // The cooked capture shows the same segments and ACKs.
    let key = |fl: &[graph::FlowTrace]| -> Vec<(u64, u32)> {
        fl[0].segments.iter().map(|s| (s.seq, s.len)).collect()
    };
    assert_eq!(key(&from_any), key(&from_eth));

    let out = dir.join("graphs");
    let run = std::process::Command::new(TCPLAB)
        .arg("plot")
        .arg(&any)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run tcplab plot");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).lines().count(), 5);
}
