//! End-to-end tests of the runtime and the socket API: two runtimes (two stacks, two event
//! loops) over the in-memory link pair, on the real clock.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::time::Duration;

use tcplab_link::memory;
use tcplab_stack::icmp::PingEvent;
use tcplab_stack::{Config, Stack};

use crate::cmd::serve::{serve_http, ServeCounters};
use crate::http::Url;
use crate::net::{ping, TcpListener, TcpStream, UdpSocket};
use crate::runtime::{Runtime, RuntimeOptions};
use crate::setup::{derived_mac, impair_config, wrap_link};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const T: Option<Duration> = Some(Duration::from_secs(20));

/// Two runtimes A and B over a memory pair; `impair` applies to what each side sends (with
/// different seeds), so both directions see it.
fn pair(impair: Option<&str>) -> (Runtime, Runtime) {
    let (la, lb) = memory::pair(memory::DEFAULT_CAPACITY);
    let imp = impair.map(|s| impair_config(s, 7).unwrap());
    let imp_b = imp.clone().map(|mut c| {
        c.seed += 1;
        c
    });
    let epoch = std::time::Instant::now();
    let la = wrap_link(Box::new(la), imp, None, epoch).unwrap();
    let lb = wrap_link(Box::new(lb), imp_b, None, epoch).unwrap();
    let start = |name: &str, addr, link| {
        let stack = Stack::new(Config::new(derived_mac(addr), addr, 24)).unwrap();
        let opts = RuntimeOptions {
            name: name.into(),
            epoch,
            ..RuntimeOptions::default()
        };
        Runtime::start(stack, link, opts).unwrap()
    };
    (start("A", A, la), start("B", B, lb))
}

#[test]
fn ping_resolves_arp_and_gets_a_reply() {
    let (a, _b) = pair(None);
    ping::send(&a, B, 1, 1, 56).unwrap();
    match ping::next_result(&a, 1, Duration::from_secs(5)).unwrap() {
        Some(PingEvent::Reply {
            from, seq, bytes, ..
        }) => assert_eq!((from, seq, bytes), (B, 1, 64)),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn udp_datagrams_cross_both_ways() {
    let (a, b) = pair(None);
    let sb = UdpSocket::bind(&b, SocketAddrV4::new(B, 7)).unwrap();
    let sa = UdpSocket::bind(&a, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    sb.set_read_timeout(T).unwrap();
    sa.set_read_timeout(T).unwrap();
    sa.send_to(b"ping", SocketAddrV4::new(B, 7)).unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = sb.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], *from.ip()), (&b"ping"[..], A));
    sb.send_to(b"pong", from).unwrap();
    let (n, from) = sa.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"pong"[..], SocketAddrV4::new(B, 7)));
}

fn echo_roundtrip(impair: Option<&str>, len: usize) {
    let (a, b) = pair(impair);
    let listener = TcpListener::bind(&b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7), 0).unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept_timeout(T).unwrap();
        s.set_read_timeout(T).unwrap();
        crate::cmd::serve::echo(&s, &ServeCounters::default()).unwrap();
    });
    let c =
        std::sync::Arc::new(TcpStream::connect_timeout(&a, SocketAddrV4::new(B, 7), T).unwrap());
    c.set_read_timeout(T).unwrap();
    assert_eq!(c.peer_addr().unwrap(), SocketAddrV4::new(B, 7));
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let writer = {
        let (c, data) = (c.clone(), data.clone());
        std::thread::spawn(move || {
            (&*c).write_all(&data).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    (&*c).read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    server.join().unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "echoed bytes differ");
}

#[test]
fn tcp_echo_with_half_close() {
    echo_roundtrip(None, 300_000);
}

#[test]
fn tcp_echo_under_loss_and_reordering() {
    echo_roundtrip(
        Some("loss=3%,delay=1ms,jitter=1ms,reorder=2%,dup=1%"),
        200_000,
    );
}

#[test]
fn connect_to_a_closed_port_is_refused_quickly() {
    let (a, _b) = pair(None);
    let start = std::time::Instant::now();
    let err = TcpStream::connect_timeout(&a, SocketAddrV4::new(B, 9), T).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn http_downloads_from_many_concurrent_clients() {
    let (a, b) = pair(None);
    let dir = std::env::temp_dir().join(format!("tcplab-e2e-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("f.bin"), &body).unwrap();
    let root = dir.canonicalize().unwrap();
    let listener = TcpListener::bind(&b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 0).unwrap();
    const CLIENTS: usize = 8;
    let server = std::thread::spawn(move || {
        let mut threads = Vec::new();
        for _ in 0..CLIENTS + 1 {
            let (s, _) = listener.accept_timeout(T).unwrap();
            let root = root.clone();
            threads.push(std::thread::spawn(move || {
                s.set_read_timeout(T).unwrap();
                serve_http(&s, &root, &ServeCounters::default()).unwrap();
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let a = a.handle();
            std::thread::spawn(move || {
                let url: Url = format!("http://{B}/f.bin").parse().unwrap();
                let mut out = Vec::new();
                let d = crate::cmd::get::fetch(&a, &url, &mut out, false, T).unwrap();
                assert_eq!(d.bytes, out.len() as u64);
                out
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap() == body);
    }
    // A missing file is a 404 error, on a connection of its own.
    let url: Url = format!("http://{B}/missing").parse().unwrap();
    let err = crate::cmd::get::fetch(&a, &url, &mut Vec::new(), false, T).unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    server.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Raw HTTP/1.1 exchanges with `serve_http` on one keep-alive connection: GET, HEAD, 404,
/// traversal (403), then a malformed request (400 and close).
#[test]
fn http_server_answers_per_rfc_9112_on_one_connection() {
    let (a, b) = pair(None);
    let dir = std::env::temp_dir().join(format!("tcplab-e2e-raw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), b"hello world\n").unwrap();
    let root = dir.canonicalize().unwrap();
    let listener =
        TcpListener::bind(&b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080), 0).unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept_timeout(T).unwrap();
        s.set_read_timeout(T).unwrap();
        let counters = ServeCounters::default();
        serve_http(&s, &root, &counters).unwrap();
        counters
    });
    let c = TcpStream::connect_timeout(&a, SocketAddrV4::new(B, 8080), T).unwrap();
    c.set_read_timeout(T).unwrap();
    // Two pipelined requests in one write, then three more.
    (&c).write_all(
        b"GET /hello.txt HTTP/1.1\r\nHost: b\r\n\r\nHEAD /hello.txt HTTP/1.1\r\nHost: b\r\n\r\n",
    )
    .unwrap();
    (&c)
        .write_all(b"GET /nope HTTP/1.1\r\nHost: b\r\n\r\nGET /../etc/passwd HTTP/1.1\r\nHost: b\r\n\r\nBREW /pot HTCPCP/1.0\r\n\r\n")
        .unwrap();
    let mut reader = std::io::BufReader::new(&c);
    let mut expect = |status: u16, body: Option<&[u8]>| {
        let resp = crate::http::read_response(&mut reader).unwrap();
        assert_eq!(resp.status, status);
        let len = resp.fields.content_length().unwrap().unwrap();
        if let Some(body) = body {
            assert_eq!(len as usize, body.len());
            let mut got = vec![0u8; body.len()];
            reader.read_exact(&mut got).unwrap();
            assert_eq!(got, body);
        } else if status != 200 {
            let mut got = vec![0u8; len as usize];
            reader.read_exact(&mut got).unwrap();
        }
        resp
    };
    expect(200, Some(b"hello world\n"));
    let head = expect(200, None);
    assert_eq!(
        head.fields.content_length().unwrap(),
        Some(12),
        "HEAD announces the GET length"
    );
    expect(404, None);
    expect(403, None);
    let bad = expect(400, None);
    assert!(bad.fields.has_token("connection", "close"));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the 400: {rest:?}");
    let counters = server.join().unwrap();
    assert_eq!(
        counters.http_2xx.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(
        counters.http_4xx.load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `get` decodes a chunked response (RFC 9112 §7.1) from a server that sends one.
#[test]
fn get_decodes_a_chunked_response() {
    let (a, b) = pair(None);
    let listener =
        TcpListener::bind(&b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8081), 0).unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept_timeout(T).unwrap();
        s.set_read_timeout(T).unwrap();
        let mut reader = std::io::BufReader::new(&s);
        let req = crate::http::read_request(&mut reader).unwrap();
        assert_eq!(req.target, "/c");
        let mut w = &s;
        w.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        for chunk in [&b"hello "[..], b"chunked ", b"world"] {
            write!(w, "{:x}\r\n", chunk.len()).unwrap();
            w.write_all(chunk).unwrap();
            w.write_all(b"\r\n").unwrap();
        }
        w.write_all(b"0\r\n\r\n").unwrap();
    });
    let url: Url = format!("http://{B}:8081/c").parse().unwrap();
    let mut out = Vec::new();
    let d = crate::cmd::get::fetch(&a, &url, &mut out, false, T).unwrap();
    assert_eq!(out, b"hello chunked world");
    assert_eq!(d.bytes, 19);
    server.join().unwrap();
}

/// The whole demo (ARP, ping, UDP echo, HTTP download with checksum) succeeds under
/// impairment and writes a nanosecond pcap.
#[test]
fn demo_succeeds_under_impairment_and_writes_a_pcap() {
    let pcap = std::env::temp_dir().join(format!("tcplab-e2e-demo-{}.pcap", std::process::id()));
    let args = crate::cli::DemoArgs {
        impair: Some("loss=2%,delay=1ms".into()),
        pcap: Some(pcap.clone()),
        seed: 3,
        size: 200_000,
        quiet: true,
        cc: tcplab_stack::CongestionAlgorithm::default(),
    };
    assert_eq!(crate::cmd::demo::run(args).unwrap(), 0);
    let bytes = std::fs::read(&pcap).unwrap();
    // pcap with nanosecond timestamps, little-endian (0xa1b23c4d), Ethernet link type.
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
    assert!(bytes.len() > 200_000, "the download is in the capture");
    std::fs::remove_file(&pcap).unwrap();
}

/// After traffic, with a connection still open and idle, neither loop spins: they sleep until
/// a timer or a frame (issue #3: "no busy polling when idle").
#[test]
fn idle_connection_does_not_spin_the_loops() {
    let (a, b) = pair(None);
    let listener = TcpListener::bind(&b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7), 0).unwrap();
    let c = TcpStream::connect_timeout(&a, SocketAddrV4::new(B, 7), T).unwrap();
    let (s, _) = listener.accept_timeout(T).unwrap();
    (&c).write_all(&[7u8; 10_000]).unwrap();
    let mut got = vec![0u8; 10_000];
    (&s).read_exact(&mut got).unwrap();
    // Let delayed ACKs and window updates settle, then count wake-ups over an idle period.
    std::thread::sleep(Duration::from_millis(300));
    let before = (a.loop_iterations(), b.loop_iterations());
    std::thread::sleep(Duration::from_millis(500));
    let woke = (
        a.loop_iterations() - before.0,
        b.loop_iterations() - before.1,
    );
    assert!(
        woke.0 < 10 && woke.1 < 10,
        "loops woke {woke:?} times in 500 ms of idleness"
    );
}
