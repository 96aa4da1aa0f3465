//! Interop of `tcplab` with the Linux kernel (issue #2): ARP, ICMP echo both ways, UDP echo,
//! IPv4 fragmentation (4000-byte pings), over TAP and over a veth pair with AF_PACKET; plus the
//! CLI's error behaviour (one readable line, non-zero exit). Each test builds its own
//! namespace(s) and needs root; without root it prints `SKIPPED (needs root): ...`.

mod common;

use std::time::Duration;

use common::{tap_lab, tcplab_ready, tcplab_run, veth_lab, Netns, TCPLAB};

const T: Duration = Duration::from_secs(20);

/// Kernel `ping` (iputils) with `count` echoes of `size` bytes to `dest` from `ns`.
fn kernel_ping(ns: &Netns, dest: &str, count: u32, size: usize) -> common::Output {
    let (c, s) = (count.to_string(), size.to_string());
    ns.run(
        &[
            "ping", "-n", "-c", &c, "-i", "0.2", "-W", "2", "-s", &s, dest,
        ],
        T,
    )
}

fn assert_all_received(out: &common::Output, count: u32) {
    assert!(out.success(), "ping failed:\n{}", out.describe());
    let want = format!("{count} received");
    assert!(
        out.out().contains(&want),
        "expected {want:?}:\n{}",
        out.describe()
    );
}

/// Checks iputils-like output of `tcplab ping` (CLI.md): reply lines and the summary.
fn assert_tcplab_ping_ok(out: &common::Output, dest: &str, count: u32, size: usize) {
    assert!(out.success(), "tcplab ping failed:\n{}", out.describe());
    let text = out.out();
    let reply = format!("{} bytes from {dest}: icmp_seq=", size + 8);
    let replies = text.lines().filter(|l| l.starts_with(&reply)).count();
    assert_eq!(
        replies, count as usize,
        "expected {count} lines starting {reply:?}:\n{text}"
    );
    assert!(
        text.contains(&format!("--- {dest} ping statistics ---")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{count} packets transmitted, {count} received, 0% packet loss"
        )),
        "{text}"
    );
    assert!(text.contains("rtt min/avg/max/mdev = "), "{text}");
}

#[test]
fn kernel_pings_tcplab_host_over_tap() {
    require_root!();
    require_tools!("ping");
    let ns = tap_lab(1);
    let mut host = tcplab_ready(&ns, &["host", "--tap", "tap0", "--addr", "198.18.1.2/24"]);
    assert_all_received(&kernel_ping(&ns, "198.18.1.2", 3, 56), 3);
    // The kernel learned our MAC through ARP (RFC 826) on the TAP link.
    let neigh = ns
        .exec_ok(&["ip", "neigh", "show", "198.18.1.2", "dev", "tap0"])
        .out();
    assert!(neigh.contains("lladdr"), "no ARP entry for tcplab: {neigh}");
    let out = host.terminate(Duration::from_secs(5));
    assert!(
        !out.timed_out,
        "host did not stop on SIGTERM:\n{}",
        out.describe()
    );
}

#[test]
fn tcplab_pings_kernel_over_tap() {
    require_root!();
    let ns = tap_lab(1);
    let out = tcplab_run(
        &ns,
        &[
            "ping",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "-c",
            "3",
            "-i",
            "0.2",
            "198.18.1.1",
        ],
        T,
    );
    assert_tcplab_ping_ok(&out, "198.18.1.1", 3, 56);
}

#[test]
fn kernel_pings_tcplab_host_over_af_packet() {
    require_root!();
    require_tools!("ping");
    let (a, b) = veth_lab(4);
    let mut host = tcplab_ready(&a, &["host", "--iface", "veth0", "--addr", "198.18.4.2/24"]);
    assert_all_received(&kernel_ping(&b, "198.18.4.2", 3, 56), 3);
    host.terminate(Duration::from_secs(5));
}

#[test]
fn tcplab_pings_kernel_over_af_packet() {
    require_root!();
    let (a, _b) = veth_lab(4);
    let out = tcplab_run(
        &a,
        &[
            "ping",
            "--iface",
            "veth0",
            "--addr",
            "198.18.4.2/24",
            "-c",
            "3",
            "-i",
            "0.2",
            "198.18.4.1",
        ],
        T,
    );
    assert_tcplab_ping_ok(&out, "198.18.4.1", 3, 56);
}

/// Both veth ends in one namespace: the kernel holds the address on one end, tcplab takes the
/// other end with AF_PACKET.
#[test]
fn af_packet_with_both_veth_ends_in_one_namespace() {
    require_root!();
    require_tools!("ping");
    let ns = Netns::new();
    common::veth(&ns, "veth0", &ns, "veth1", Some("198.18.5.1/24"));
    let mut host = tcplab_ready(
        &ns,
        &["host", "--iface", "veth0", "--addr", "198.18.5.2/24"],
    );
    assert_all_received(&kernel_ping(&ns, "198.18.5.2", 2, 56), 2);
    host.terminate(Duration::from_secs(5));
}

#[test]
fn kernel_udp_to_tcplab_udp_echo_over_tap() {
    require_root!();
    require_tools!("socat");
    let ns = tap_lab(1);
    let mut host = tcplab_ready(
        &ns,
        &[
            "host",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "--udp-echo",
            "7007",
        ],
    );
    // Three datagrams, each echoed back unchanged (RFC 862 over UDP).
    for msg in ["hello tcplab\n", "second datagram\n", &"x".repeat(1400)] {
        let out = ns.run_stdin(
            &["socat", "-t", "3", "-T", "5", "-", "UDP4:198.18.1.2:7007"],
            msg.as_bytes().to_vec(),
            T,
        );
        assert!(out.success(), "socat failed:\n{}", out.describe());
        assert_eq!(out.out(), msg, "echo differs");
    }
    // A datagram larger than the MTU: fragmented by the kernel, reassembled by tcplab, and the
    // echo fragmented by tcplab and reassembled by the kernel (RFC 791 §3.2).
    let big = common::pattern(3000, 5)
        .iter()
        .map(|b| b'a' + b % 26)
        .collect::<Vec<u8>>();
    let out = ns.run_stdin(
        &["socat", "-t", "3", "-T", "5", "-", "UDP4:198.18.1.2:7007"],
        big.clone(),
        T,
    );
    assert!(out.success(), "socat failed:\n{}", out.describe());
    assert_eq!(out.stdout, big, "fragmented echo differs");
    host.terminate(Duration::from_secs(5));
}

#[test]
fn kernel_udp_to_tcplab_udp_echo_over_af_packet() {
    require_root!();
    require_tools!("socat");
    let (a, b) = veth_lab(4);
    let mut host = tcplab_ready(
        &a,
        &[
            "host",
            "--iface",
            "veth0",
            "--addr",
            "198.18.4.2/24",
            "--udp-echo",
            "7",
        ],
    );
    let msg = b"over AF_PACKET\n".to_vec();
    let out = b.run_stdin(
        &["socat", "-t", "3", "-T", "5", "-", "UDP4:198.18.4.2:7"],
        msg.clone(),
        T,
    );
    assert!(out.success(), "socat failed:\n{}", out.describe());
    assert_eq!(out.stdout, msg);
    host.terminate(Duration::from_secs(5));
}

#[test]
fn fragmented_4000_byte_ping_kernel_to_tcplab() {
    require_root!();
    require_tools!("ping");
    let ns = tap_lab(1);
    let mut host = tcplab_ready(&ns, &["host", "--tap", "tap0", "--addr", "198.18.1.2/24"]);
    assert_all_received(&kernel_ping(&ns, "198.18.1.2", 2, 4000), 2);
    host.terminate(Duration::from_secs(5));
}

#[test]
fn fragmented_4000_byte_ping_tcplab_to_kernel() {
    require_root!();
    let ns = tap_lab(1);
    let out = tcplab_run(
        &ns,
        &[
            "ping",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "-c",
            "2",
            "-i",
            "0.2",
            "-s",
            "4000",
            "198.18.1.1",
        ],
        T,
    );
    assert_tcplab_ping_ok(&out, "198.18.1.1", 2, 4000);
}

#[test]
fn fragmented_ping_both_ways_over_af_packet() {
    require_root!();
    require_tools!("ping");
    let (a, b) = veth_lab(4);
    let out = tcplab_run(
        &a,
        &[
            "ping",
            "--iface",
            "veth0",
            "--addr",
            "198.18.4.2/24",
            "-c",
            "2",
            "-i",
            "0.2",
            "-s",
            "4000",
            "198.18.4.1",
        ],
        T,
    );
    assert_tcplab_ping_ok(&out, "198.18.4.1", 2, 4000);
    let mut host = tcplab_ready(&a, &["host", "--iface", "veth0", "--addr", "198.18.4.2/24"]);
    assert_all_received(&kernel_ping(&b, "198.18.4.2", 2, 4000), 2);
    host.terminate(Duration::from_secs(5));
}

#[test]
fn ping_to_a_silent_address_fails_with_exit_1() {
    require_root!();
    let ns = tap_lab(1);
    // Nobody has 198.18.1.99: ARP goes unanswered, no reply ever comes.
    let out = tcplab_run(
        &ns,
        &[
            "ping",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "198.18.1.99",
        ],
        T,
    );
    assert!(!out.timed_out, "{}", out.describe());
    assert_eq!(out.code(), Some(1), "{}", out.describe());
}

/// One readable `tcplab: error: ...` line on stderr (CLI.md).
fn assert_one_error_line(out: &common::Output) {
    let lines = out.err_lines();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one stderr line:\n{}",
        out.describe()
    );
    assert!(
        lines[0].starts_with("tcplab: error: "),
        "{}",
        out.describe()
    );
}

#[test]
fn wrong_cli_flag_gives_one_line_and_exit_2() {
    // No root needed: the flag is rejected before any link is opened.
    let out = common::run_timeout(
        {
            let mut c = std::process::Command::new(TCPLAB);
            c.args(["ping", "--no-such-flag", "198.18.1.1"]);
            c
        },
        None,
        T,
    );
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert_one_error_line(&out);
    assert!(
        out.err().contains("--no-such-flag"),
        "the line should name the bad flag:\n{}",
        out.describe()
    );
}

#[test]
fn missing_link_option_gives_one_line_and_exit_2() {
    let out = common::run_timeout(
        {
            let mut c = std::process::Command::new(TCPLAB);
            c.args(["ping", "198.18.1.1"]);
            c
        },
        None,
        T,
    );
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert_one_error_line(&out);
}

#[test]
fn missing_interface_gives_one_line_and_nonzero_exit() {
    require_root!();
    let ns = Netns::new();
    let out = tcplab_run(
        &ns,
        &[
            "ping",
            "--iface",
            "nosuch0",
            "--addr",
            "198.18.6.2/24",
            "-c",
            "1",
            "198.18.6.1",
        ],
        T,
    );
    assert!(!out.timed_out && !out.success(), "{}", out.describe());
    assert_one_error_line(&out);
    assert!(
        out.err().contains("nosuch0"),
        "the line should name the interface:\n{}",
        out.describe()
    );
}

#[test]
fn tap_without_permission_gives_one_line_and_nonzero_exit() {
    require_root!();
    require_tools!("setpriv");
    let ns = tap_lab(1);
    // `nobody` without CAP_NET_ADMIN may open /dev/net/tun but not attach to tap0.
    let out = ns.run(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            TCPLAB,
            "host",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "--duration",
            "3",
        ],
        T,
    );
    assert!(!out.timed_out && !out.success(), "{}", out.describe());
    assert_one_error_line(&out);
    let line = out.err().to_lowercase();
    assert!(
        line.contains("permission") || line.contains("not permitted"),
        "{}",
        out.describe()
    );
}

#[test]
fn pcap_of_a_tap_ping_decodes_in_tshark() {
    require_root!();
    require_tools!("tshark");
    let ns = tap_lab(1);
    let dir = common::TempDir::new();
    let pcap = dir.join("ping.pcap");
    let out = tcplab_run(
        &ns,
        &[
            "ping",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "--pcap",
            pcap.to_str().unwrap(),
            "-c",
            "2",
            "-i",
            "0.2",
            "198.18.1.1",
        ],
        T,
    );
    assert_tcplab_ping_ok(&out, "198.18.1.1", 2, 56);
    let mut c = std::process::Command::new("tshark");
    c.arg("-r")
        .arg(&pcap)
        .args(["-T", "fields", "-e", "_ws.col.Info"]);
    let t = common::run_timeout(c, None, T);
    assert!(t.success(), "tshark:\n{}", t.describe());
    let info = t.out();
    // What crossed the TAP device: ARP resolution, then two echo round trips (RFC 792).
    assert!(info.contains("Who has 198.18.1.1?"), "{info}");
    assert!(info.contains("198.18.1.1 is at"), "{info}");
    let requests = info
        .lines()
        .filter(|l| l.contains("Echo (ping) request"))
        .count();
    let replies = info
        .lines()
        .filter(|l| l.contains("Echo (ping) reply"))
        .count();
    assert_eq!((requests, replies), (2, 2), "{info}");
}
