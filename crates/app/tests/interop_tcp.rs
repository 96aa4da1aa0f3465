//! TCP interop of `tcplab` with the Linux kernel and real clients (issue #3): curl and wget
//! downloads from `tcplab serve http`, `tcplab get` from a kernel HTTP server over TAP and
//! AF_PACKET, nc/socat against `tcplab serve echo` and `tcplab connect`, 100 concurrent curl
//! clients, a transfer through 5% loss, both close orders, and refused connections.
//!
//! Sizes come from the environment so CI stays fast: `TL_HTTP_MB` (default 50: the issue's
//! curl/wget download), `TL_GET_MB` (default 8), `TL_LOSS_MB` (default 2), `TL_CLIENTS`
//! (default 100). Every process has a deadline; each test builds its own namespace(s).

mod common;

use std::time::{Duration, Instant};

use common::{
    env_usize, pattern, sha256_hex, tap_lab, tcplab_ready, veth, veth_lab, Netns, Proc, TempDir,
    TCPLAB,
};

const MB: usize = 1 << 20;

/// A file of `len` pseudo-random bytes in a fresh directory; returns (dir, sha256).
fn blob_dir(name: &str, len: usize, seed: u64) -> (TempDir, String) {
    let dir = TempDir::new();
    let data = pattern(len, seed);
    std::fs::write(dir.join(name), &data).expect("write blob");
    (dir, sha256_hex(&data))
}

fn file_sha(path: &std::path::Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap_or_default())
}

/// Time allowed for `bytes` to cross the link: generous (debug builds, a loaded 2-core box,
/// impairment), but bounded.
fn budget(bytes: usize) -> Duration {
    Duration::from_secs(30 + (bytes / MB) as u64 * 2)
}

fn serve_http(ns: &Netns, root: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "serve",
        "http",
        "--tap",
        "tap0",
        "--addr",
        "198.18.1.2/24",
        "--port",
        "80",
        "--root",
        root,
    ];
    args.extend_from_slice(extra);
    tcplab_ready(ns, &args)
}

#[test]
fn curl_and_wget_download_from_tcplab_http_over_tap() {
    require_root!();
    require_tools!("curl", "wget");
    let len = env_usize("TL_HTTP_MB", 50) * MB;
    let (dir, sha) = blob_dir("blob.bin", len, 1);
    let ns = tap_lab(1);
    let mut server = serve_http(&ns, dir.path(), &[]);
    let url = "http://198.18.1.2/blob.bin";

    let dst = dir.join("curl.out");
    let out = ns.run(
        &[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "120",
            "-o",
            dst.to_str().unwrap(),
            url,
        ],
        budget(len),
    );
    assert!(out.success(), "curl failed:\n{}", out.describe());
    assert_eq!(file_sha(&dst), sha, "curl download differs");

    let dst = dir.join("wget.out");
    let out = ns.run(
        &[
            "wget",
            "-q",
            "--tries=1",
            "--timeout=60",
            "-O",
            dst.to_str().unwrap(),
            url,
        ],
        budget(len),
    );
    assert!(out.success(), "wget failed:\n{}", out.describe());
    assert_eq!(file_sha(&dst), sha, "wget download differs");

    // HEAD and 404 answers (HTTP/1.1 semantics the clients rely on).
    let out = ns.run(
        &["curl", "-sS", "-I", "--max-time", "10", url],
        Duration::from_secs(15),
    );
    assert!(out.success(), "{}", out.describe());
    assert!(
        out.out()
            .to_lowercase()
            .contains(&format!("content-length: {len}")),
        "{}",
        out.describe()
    );
    let out = ns.run(
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
            "http://198.18.1.2/missing",
        ],
        Duration::from_secs(15),
    );
    assert_eq!(out.out(), "404", "{}", out.describe());

    let out = server.terminate(Duration::from_secs(10));
    assert!(
        !out.timed_out,
        "server did not stop on SIGTERM:\n{}",
        out.describe()
    );
}

#[test]
fn curl_downloads_from_tcplab_http_over_af_packet() {
    require_root!();
    require_tools!("curl");
    let len = env_usize("TL_GET_MB", 8) * MB;
    let (dir, sha) = blob_dir("blob.bin", len, 12);
    let (a, b) = veth_lab(4);
    let mut server = tcplab_ready(
        &a,
        &[
            "serve",
            "http",
            "--iface",
            "veth0",
            "--addr",
            "198.18.4.2/24",
            "--port",
            "80",
            "--root",
            dir.path(),
        ],
    );
    let dst = dir.join("curl.out");
    let out = b.run(
        &[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "120",
            "-o",
            dst.to_str().unwrap(),
            "http://198.18.4.2/blob.bin",
        ],
        budget(len),
    );
    assert!(
        out.success(),
        "curl over AF_PACKET failed:\n{}",
        out.describe()
    );
    assert_eq!(file_sha(&dst), sha, "download over AF_PACKET differs");
    server.terminate(Duration::from_secs(10));
}

/// `python3 -m http.server` in `ns`, bound to `addr`, serving `dir`; waits until it listens.
fn kernel_http_server(ns: &Netns, addr: &str, dir: &str) -> Proc {
    let mut p = ns.spawn(&[
        "python3",
        "-u",
        "-m",
        "http.server",
        "8000",
        "--bind",
        addr,
        "--directory",
        dir,
    ]);
    p.wait_line("Serving HTTP", Duration::from_secs(15));
    p
}

fn check_get(out: &common::Output, dst: &std::path::Path, sha: &str, len: usize) {
    assert!(out.success(), "tcplab get failed:\n{}", out.describe());
    assert_eq!(file_sha(dst), sha, "tcplab get download differs");
    // Final line: "<bytes> bytes in <secs> s (<rate> Mbit/s)".
    let text = out.out();
    let last = text.lines().last().unwrap_or("");
    assert!(
        last.starts_with(&format!("{len} bytes in ")) && last.ends_with("Mbit/s)"),
        "final line: {last:?}"
    );
}

#[test]
fn tcplab_get_from_kernel_http_server_over_tap() {
    require_root!();
    require_tools!("python3");
    let len = env_usize("TL_GET_MB", 8) * MB;
    let (dir, sha) = blob_dir("blob.bin", len, 2);
    let ns = tap_lab(1);
    let _server = kernel_http_server(&ns, "198.18.1.1", dir.path());
    let dst = dir.join("get.out");
    let out = common::tcplab_run(
        &ns,
        &[
            "get",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "http://198.18.1.1:8000/blob.bin",
            "-o",
            dst.to_str().unwrap(),
            "--quiet",
        ],
        budget(len),
    );
    check_get(&out, &dst, &sha, len);

    // A missing file is an HTTP error: exit 1, one line.
    let out = common::tcplab_run(
        &ns,
        &[
            "get",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "http://198.18.1.1:8000/missing",
            "-o",
            dir.join("missing.out").to_str().unwrap(),
            "--quiet",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(1), "{}", out.describe());
}

/// Three `tcplab get` processes in a row against one kernel server. Each must (a) close its
/// side before exiting, so the kernel (which closed first: HTTP/1.0 server) ends in TIME-WAIT
/// rather than FIN-WAIT-2, and (b) open its connection with a single SYN: a new process must
/// not pick a 4-tuple and ISN the kernel's TIME-WAIT rejects (RFC 6528 ISNs advance with a
/// clock; RFC 6056 ephemeral ports), which costs an RST and a 1 s SYN retransmission.
#[test]
fn repeated_tcplab_get_runs_reconnect_cleanly() {
    require_root!();
    require_tools!("python3", "tshark");
    let (dir, sha) = blob_dir("blob.bin", 100_000, 11);
    let ns = tap_lab(1);
    let _server = kernel_http_server(&ns, "198.18.1.1", dir.path());
    for run in 0..3 {
        let dst = dir.join(&format!("get{run}.out"));
        let pcap = dir.join(&format!("get{run}.pcap"));
        let out = common::tcplab_run(
            &ns,
            &[
                "get",
                "--tap",
                "tap0",
                "--addr",
                "198.18.1.2/24",
                "--pcap",
                pcap.to_str().unwrap(),
                "http://198.18.1.1:8000/blob.bin",
                "-o",
                dst.to_str().unwrap(),
                "--quiet",
            ],
            Duration::from_secs(30),
        );
        check_get(&out, &dst, &sha, 100_000);
        let mut c = std::process::Command::new("tshark");
        c.arg("-r").arg(&pcap).args([
            "-Y",
            "ip.src == 198.18.1.2 && tcp.flags.syn == 1 && tcp.flags.ack == 0",
        ]);
        let syns = common::run_timeout(c, None, Duration::from_secs(30));
        assert!(syns.success(), "tshark:\n{}", syns.describe());
        assert_eq!(
            syns.out().lines().count(),
            1,
            "run {run}: expected one SYN from tcplab:\n{}",
            syns.out()
        );
        wait_kernel_state(&ns, "fin-wait-2", 8000, false);
    }
}

#[test]
fn tcplab_get_from_kernel_http_server_over_af_packet() {
    require_root!();
    require_tools!("python3");
    let len = env_usize("TL_GET_MB", 8) * MB;
    let (dir, sha) = blob_dir("blob.bin", len, 3);
    let (a, b) = veth_lab(4);
    let _server = kernel_http_server(&b, "198.18.4.1", dir.path());
    let dst = dir.join("get.out");
    let out = common::tcplab_run(
        &a,
        &[
            "get",
            "--iface",
            "veth0",
            "--addr",
            "198.18.4.2/24",
            "http://198.18.4.1:8000/blob.bin",
            "-o",
            dst.to_str().unwrap(),
            "--quiet",
        ],
        budget(len),
    );
    check_get(&out, &dst, &sha, len);
}

#[test]
fn nc_to_tcplab_serve_echo() {
    require_root!();
    require_tools!("nc");
    let ns = tap_lab(1);
    let mut server = tcplab_ready(
        &ns,
        &[
            "serve",
            "echo",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "--port",
            "7",
        ],
    );
    // 1 MB through the echo server: nc half-closes after stdin EOF (-N), the server echoes
    // everything, then closes (RFC 862), and nc exits on EOF.
    let data = pattern(MB, 4);
    let out = ns.run_stdin(
        &["nc", "-N", "-w", "20", "198.18.1.2", "7"],
        data.clone(),
        Duration::from_secs(60),
    );
    assert!(out.success(), "nc failed:\n{}", out.describe());
    assert_eq!(out.stdout.len(), data.len(), "echo length");
    assert!(out.stdout == data, "echoed bytes differ");
    server.terminate(Duration::from_secs(10));
}

/// A one-connection kernel echo server on 198.18.1.1:9000 for the close-order tests.
const ECHO_SERVER: &str = "import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('198.18.1.1', 9000))
s.listen(1)
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d:
        break
    c.sendall(d)
c.close()
";

#[test]
fn tcplab_connect_to_kernel_echo_we_close_first() {
    require_root!();
    require_tools!("python3");
    let ns = tap_lab(1);
    // Kernel echo server: receive, send it all back, close after our FIN. (Not `socat PIPE`:
    // socat select()s the pipe as writable and then blocks writing a whole 8 KiB block into
    // it, which it alone drains, so a fast sender such as CUBIC with IW10 wedged it with
    // 100 KiB unread in its receive queue and nothing to send.)
    let mut echo = ns.spawn(&["python3", "-c", ECHO_SERVER]);
    wait_listening(&ns, 9000);
    let data = pattern(512 * 1024, 5);
    let start = Instant::now();
    // stdin EOF -> tcplab half-closes first (we send FIN first); socat then closes too.
    let out = ns.run_stdin(
        &[
            TCPLAB,
            "connect",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "198.18.1.1:9000",
        ],
        data.clone(),
        Duration::from_secs(60),
    );
    assert!(out.success(), "tcplab connect failed:\n{}", out.describe());
    assert!(
        out.stdout == data,
        "echo through kernel differs ({} of {} bytes)",
        out.stdout.len(),
        data.len()
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    let e = echo.wait(Duration::from_secs(10));
    assert!(
        e.success(),
        "kernel side did not finish cleanly:\n{}",
        e.describe()
    );
    // We closed first, so we hold TIME-WAIT; the kernel's side went LAST-ACK -> CLOSED, which
    // needs our ACK of its FIN: exiting before sending it would leave the kernel in LAST-ACK.
    wait_kernel_state(&ns, "time-wait", 9000, false);
    wait_kernel_state(&ns, "last-ack", 9000, false);
}

#[test]
fn kernel_closes_first_then_tcplab_closes() {
    require_root!();
    require_tools!("socat");
    let ns = tap_lab(1);
    let (dir, _) = blob_dir("hello.bin", 200_000, 6);
    let data = std::fs::read(dir.join("hello.bin")).unwrap();
    // The kernel sends the file and closes its side first (socat -u: one direction only).
    let src = format!("OPEN:{}", dir.join("hello.bin").display());
    let mut sender = ns.spawn(&[
        "socat",
        "-u",
        &src,
        "TCP4-LISTEN:9001,bind=198.18.1.1,reuseaddr",
    ]);
    wait_listening(&ns, 9001);
    let mut conn = ns.spawn_stdin(&[
        TCPLAB,
        "connect",
        "--tap",
        "tap0",
        "--addr",
        "198.18.1.2/24",
        "198.18.1.1:9001",
    ]);
    assert!(
        conn.wait_stdout_len(data.len(), Duration::from_secs(30)),
        "did not receive all data"
    );
    // The kernel's FIN was acknowledged: its socket waits in FIN-WAIT-2 for ours (we are in
    // CLOSE-WAIT, RFC 9293 §3.6); our stdin is still open, so tcplab keeps running.
    wait_kernel_state(&ns, "fin-wait-2", 9001, true);
    conn.close_stdin();
    let out = conn.wait(Duration::from_secs(15));
    assert!(
        out.success(),
        "tcplab connect after peer close:\n{}",
        out.describe()
    );
    assert!(out.stdout == data, "received bytes differ");
    let s = sender.wait(Duration::from_secs(10));
    assert!(s.success(), "kernel sender:\n{}", s.describe());
    // Whether our FIN then reached the kernel (kernel in TIME-WAIT, RFC 9293 §3.6) is checked
    // by `repeated_tcplab_get_runs_reconnect_cleanly` (ignored until tcplab flushes its FIN
    // before exiting).
}

#[test]
fn curl_closes_first_and_server_keeps_serving() {
    require_root!();
    require_tools!("curl");
    let (dir, sha) = blob_dir("small.bin", 100_000, 7);
    let ns = tap_lab(1);
    let mut server = serve_http(&ns, dir.path(), &[]);
    // Each curl run closes its connection first (active close on the kernel side); the next
    // run must still be served, and two URLs in one run reuse one keep-alive connection.
    for _ in 0..3 {
        let out = ns.run(
            &[
                "curl",
                "-sS",
                "--fail",
                "--max-time",
                "20",
                "http://198.18.1.2/small.bin",
                "http://198.18.1.2/small.bin",
            ],
            Duration::from_secs(30),
        );
        assert!(out.success(), "curl:\n{}", out.describe());
        assert_eq!(out.stdout.len(), 200_000);
        assert_eq!(sha256_hex(&out.stdout[..100_000]), sha);
        assert_eq!(sha256_hex(&out.stdout[100_000..]), sha);
    }
    // curl closed first, so curl's side holds TIME-WAIT: our FIN came after (CLOSE-WAIT ->
    // LAST-ACK on our side, RFC 9293 §3.6), and none of curl's sockets waits in FIN-WAIT-2.
    wait_kernel_sockets(&ns, "time-wait", "dport = :80", true);
    wait_kernel_sockets(&ns, "fin-wait-2", "dport = :80", false);
    server.terminate(Duration::from_secs(10));
}

#[test]
fn hundred_concurrent_curl_clients() {
    require_root!();
    require_tools!("curl");
    let clients = env_usize("TL_CLIENTS", 100);
    let (dir, sha) = blob_dir("obj.bin", 64 * 1024, 8);
    let ns = tap_lab(1);
    let mut server = serve_http(&ns, dir.path(), &[]);
    let start = Instant::now();
    let mut procs: Vec<Proc> = (0..clients)
        .map(|_| {
            ns.spawn(&[
                "curl",
                "-sS",
                "--fail",
                "--max-time",
                "60",
                "http://198.18.1.2/obj.bin",
            ])
        })
        .collect();
    let mut failed = Vec::new();
    for (i, p) in procs.iter_mut().enumerate() {
        let left = Duration::from_secs(90)
            .saturating_sub(start.elapsed())
            .max(Duration::from_secs(1));
        let out = p.wait(left);
        if !out.success() || sha256_hex(&out.stdout) != sha {
            failed.push((i, out.describe()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {clients} clients failed; first: {:?}",
        failed.len(),
        failed.first()
    );
    server.terminate(Duration::from_secs(10));
}

/// ApacheBench, HTTP/1.0, one connection per request: the server closes first, so every
/// request leaves a TIME-WAIT entry on tcplab's side. They used to be full connections
/// counted against `max_connections` and `ab -n 20000 -c 20` stalled after ~4,400 requests;
/// TIME-WAIT is now a compact table of its own (RFC 9293 §3.4.2). `TL_AB_REQUESTS` (default
/// 20000) sets the count.
#[test]
fn ab_one_connection_per_request_never_stalls() {
    require_root!();
    require_tools!("ab");
    let n = env_usize("TL_AB_REQUESTS", 20_000);
    let (dir, _sha) = blob_dir("small.txt", 512, 9);
    let ns = tap_lab(1);
    let mut server = serve_http(&ns, dir.path(), &[]);
    let out = ns.run(
        &[
            "ab",
            "-q",
            "-n",
            &n.to_string(),
            "-c",
            "50",
            "-s",
            "10",
            "http://198.18.1.2/small.txt",
        ],
        Duration::from_secs(240),
    );
    let text = out.out();
    assert!(out.success(), "ab failed:\n{}", out.describe());
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert_eq!(field("Complete requests:"), n.to_string(), "{text}");
    assert_eq!(field("Failed requests:"), "0", "{text}");
    eprintln!(
        "ab: {n} requests, {} requests/s",
        text.lines()
            .find(|l| l.starts_with("Requests per second:"))
            .unwrap_or("?")
    );
    let end = server.terminate(Duration::from_secs(10));
    assert!(
        !end.err().contains("drop_too_many_connections"),
        "{}",
        end.err()
    );
}

/// Path MTU discovery (RFC 1191) across two kernel routers whose middle link has MTU 1280,
/// while both end links have 1500 (so the client's MSS of 1460 does not hide the problem):
/// tcplab's 1500-byte segments carry DF, the first router answers "fragmentation needed,
/// MTU 1280", and tcplab must lower its MSS and resend. Without it the download hangs.
///
/// ```text
/// tcplab 198.18.1.2 --tap-- r1 198.18.1.1 | 198.18.2.1 ==mtu 1280== 198.18.2.2 r2
///                                                    198.18.3.1 --veth-- 198.18.3.2 client
/// ```
#[test]
fn download_across_a_1280_mtu_router_hop_completes() {
    require_root!();
    require_tools!("curl");
    let len = 4 * MB;
    let (dir, sha) = blob_dir("pmtu.bin", len, 11);
    let r1 = tap_lab(1);
    let r2 = Netns::new();
    let client = Netns::new();
    veth(&r1, "mid0", &r2, "mid1", Some("198.18.2.2/24"));
    r1.ip(&["addr", "add", "198.18.2.1/24", "dev", "mid0"]);
    r1.ip(&["link", "set", "mid0", "mtu", "1280"]);
    r2.ip(&["link", "set", "mid1", "mtu", "1280"]);
    veth(&r2, "out0", &client, "out1", Some("198.18.3.2/24"));
    r2.ip(&["addr", "add", "198.18.3.1/24", "dev", "out0"]);
    r1.ip(&["route", "add", "198.18.3.0/24", "via", "198.18.2.2"]);
    r2.ip(&["route", "add", "198.18.1.0/24", "via", "198.18.2.1"]);
    client.ip(&["route", "add", "default", "via", "198.18.3.1"]);
    for ns in [&r1, &r2] {
        ns.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    let mut server = serve_http(&r1, dir.path(), &["--gw", "198.18.1.1"]);
    let dst = dir.join("pmtu.out");
    let out = client.run(
        &[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "60",
            "-o",
            dst.to_str().unwrap(),
            "http://198.18.1.2/pmtu.bin",
        ],
        Duration::from_secs(75),
    );
    let end = server.terminate(Duration::from_secs(10));
    assert!(
        out.success(),
        "curl across the 1280 hop failed:\n{}\nserver:\n{}",
        out.describe(),
        end.describe()
    );
    assert_eq!(file_sha(&dst), sha, "download differs");
    assert!(
        end.out().contains("tcp.pmtu_lowered 1"),
        "the MSS came down through RFC 1191:\n{}",
        end.describe()
    );
}

#[test]
fn download_through_five_percent_loss_is_byte_exact() {
    require_root!();
    require_tools!("curl");
    let len = env_usize("TL_LOSS_MB", 2) * MB;
    let (dir, sha) = blob_dir("blob.bin", len, 9);
    let ns = tap_lab(1);
    // Loss applies to frames in both directions inside tcplab's link (seeded: reproducible).
    let mut server = serve_http(&ns, dir.path(), &["--impair", "loss=5%", "--seed", "7"]);
    let dst = dir.join("lossy.out");
    let out = ns.run(
        &[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "170",
            "-o",
            dst.to_str().unwrap(),
            "http://198.18.1.2/blob.bin",
        ],
        Duration::from_secs(180),
    );
    assert!(
        out.success(),
        "curl through loss failed:\n{}",
        out.describe()
    );
    assert_eq!(file_sha(&dst), sha, "download through 5% loss differs");
    server.terminate(Duration::from_secs(10));
}

#[test]
fn connect_to_closed_kernel_port_is_refused_quickly() {
    require_root!();
    let ns = tap_lab(1);
    let start = Instant::now();
    // Nothing listens on 198.18.1.1:9; the kernel answers our SYN with RST (RFC 9293 §3.10.7.1).
    let out = ns.run(
        &[
            TCPLAB,
            "connect",
            "--tap",
            "tap0",
            "--addr",
            "198.18.1.2/24",
            "198.18.1.1:9",
        ],
        Duration::from_secs(20),
    );
    assert!(!out.timed_out && !out.success(), "{}", out.describe());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "refusal took {:?}",
        start.elapsed()
    );
    let lines = out.err_lines();
    assert_eq!(lines.len(), 1, "{}", out.describe());
    assert!(
        lines[0].to_lowercase().contains("refused"),
        "{}",
        out.describe()
    );
}

#[test]
fn kernel_connect_to_closed_tcplab_port_is_refused_quickly() {
    require_root!();
    require_tools!("curl");
    let (dir, _) = blob_dir("x", 1, 10);
    let ns = tap_lab(1);
    let mut server = serve_http(&ns, dir.path(), &[]);
    let start = Instant::now();
    // tcplab listens on 80 only: a SYN to 81 gets RST (curl exit code 7: couldn't connect).
    let out = ns.run(
        &["curl", "-sS", "--max-time", "10", "http://198.18.1.2:81/"],
        Duration::from_secs(15),
    );
    assert_eq!(out.code(), Some(7), "{}", out.describe());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "refusal took {:?}",
        start.elapsed()
    );
    server.terminate(Duration::from_secs(10));
}

/// Waits (bounded: 10 s, or 3 s for absence) until the kernel has (`present`) or has no
/// (`!present`) TCP socket in `state` (an `ss` state name) with local port `port` inside `ns`;
/// panics otherwise.
fn wait_kernel_state(ns: &Netns, state: &str, port: u16, present: bool) {
    wait_kernel_sockets(ns, state, &format!("sport = :{port}"), present);
}

/// Like [`wait_kernel_state`] with any `ss` filter (e.g. `dport = :80`).
fn wait_kernel_sockets(ns: &Netns, state: &str, filter: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(if present { 10 } else { 3 });
    loop {
        let out = ns.run(
            &["ss", "-Htn", "state", state, filter],
            Duration::from_secs(5),
        );
        assert!(out.success(), "ss failed:\n{}", out.describe());
        let found = !out.out().trim().is_empty();
        if found == present {
            return;
        }
        if Instant::now() >= deadline {
            let all = ns.run(&["ss", "-Htan", filter], Duration::from_secs(5));
            panic!(
                "kernel socket ({filter}) in {state}: expected {present}, got {found}; \
                 all sockets matching:\n{}",
                all.out()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (bounded) until a kernel TCP socket listens on `port` inside `ns`.
fn wait_listening(ns: &Netns, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let filter = format!("sport = :{port}");
    while Instant::now() < deadline {
        let out = ns.run(&["ss", "-Htln", &filter], Duration::from_secs(5));
        if out.success() && !out.out().trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port} in {}", ns.name());
}
