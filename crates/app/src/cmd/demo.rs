//! `tcplab demo`: two stacks (198.18.0.1 and 198.18.0.2 /24) in one process over the in-memory
//! link, optionally impaired: ARP resolution and ping, a UDP echo, and an HTTP download over
//! TCP whose SHA-256 is compared with the file served. Prints a short trace of each step by
//! layer (rendered from the stacks' events) and writes a pcap of A's side of the wire.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use sha2::{Digest, Sha256};
use tcplab_link::memory;
use tcplab_stack::icmp::PingEvent;
use tcplab_stack::{Config, Stack};

use crate::cli::DemoArgs;
use crate::cmd::get;
use crate::cmd::host::udp_echo;
use crate::cmd::serve::{serve_http, ServeCounters};
use crate::error::AppError;
use crate::http::Url;
use crate::net::{ping, TcpListener, UdpSocket};
use crate::runtime::{Handle, Runtime, RuntimeOptions};
use crate::setup::{self, derived_mac};
use crate::trace::Sink;

const ADDR_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const ADDR_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const HTTP_PORT: u16 = 80;
const ECHO_PORT: u16 = 7;
/// Trace lines shown per step (the rest are counted).
const TRACE_LINES_PER_STEP: usize = 40;

/// One step of the demo: a success message or what failed.
type Step<'a> = dyn Fn() -> Result<String, String> + 'a;

/// Run `tcplab demo`.
pub fn run(args: DemoArgs) -> Result<i32, AppError> {
    let impair = args
        .impair
        .as_deref()
        .map(|s| setup::impair_config(s, args.seed))
        .transpose()?;
    let pcap_path = args.pcap.clone().unwrap_or_else(default_pcap_path);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = (!args.quiet).then(|| Sink::Buffer(lines.clone()));

    let (la, lb) = memory::try_pair(memory::DEFAULT_CAPACITY)?;
    // A's link is captured (the wire as A's port sees it); both sides impair what they send,
    // with different seeds so the two directions lose different frames.
    let epoch = StdInstant::now();
    let link_a = setup::wrap_link(Box::new(la), impair.clone(), Some(&pcap_path), epoch)?;
    let link_b = setup::wrap_link(
        Box::new(lb),
        impair.map(|mut c| {
            c.seed = c.seed.wrapping_add(1);
            c
        }),
        None,
        epoch,
    )?;
    let start = |name: &str, addr: Ipv4Addr, link| -> Result<Runtime, AppError> {
        let mut config = Config::new(derived_mac(addr), addr, 24);
        config.seed = args.seed;
        config.tcp.congestion = args.cc;
        let stack = Stack::new(config)?;
        let opts = RuntimeOptions {
            name: name.into(),
            trace: sink.clone(),
            epoch,
            ..RuntimeOptions::default()
        };
        Runtime::start(stack, link, opts).map_err(|e| AppError::io("start runtime", e))
    };
    let a = start("A", ADDR_A, link_a)?;
    let b = start("B", ADDR_B, link_b)?;
    println!(
        "tcplab demo: A = {ADDR_A} ({}), B = {ADDR_B} ({}), in-memory link",
        derived_mac(ADDR_A),
        derived_mac(ADDR_B)
    );
    if let Some(spec) = &args.impair {
        println!("impairment on both directions: {spec} (seed {})", args.seed);
    }

    let mut ok = true;
    let steps: [(&str, &Step); 3] = [
        ("ARP + ping (RFC 826, RFC 792)", &|| step_ping(&a)),
        ("UDP echo (RFC 768, RFC 862)", &|| step_udp(&a, &b)),
        ("HTTP download over TCP (RFC 9293, RFC 9112)", &|| {
            step_http(&a, &b, args.size, args.seed)
        }),
    ];
    for (i, (title, step)) in steps.iter().enumerate() {
        println!();
        println!("== step {}: {title}", i + 1);
        let result = step();
        print_trace(&lines);
        match result {
            Ok(msg) => println!("ok: {msg}"),
            Err(msg) => {
                ok = false;
                println!("FAILED: {msg}");
            }
        }
    }
    // Stop both loops before either link end is dropped, so neither sees its peer vanish.
    a.stop("demo finished");
    b.stop("demo finished");
    drop(a);
    drop(b);
    println!();
    println!("pcap written to {}", pcap_path.display());
    let _ = io::stdout().flush();
    Ok(if ok { 0 } else { 1 })
}

fn default_pcap_path() -> PathBuf {
    if Path::new("target").is_dir() {
        PathBuf::from("target/demo.pcap")
    } else {
        std::env::temp_dir().join(format!("tcplab-demo-{}.pcap", std::process::id()))
    }
}

/// Print (and forget) the trace lines collected so far, at most a screenful.
fn print_trace(lines: &Mutex<Vec<(tcplab_stack::Instant, String)>>) {
    let mut taken = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    // Each runtime records in its own order; merge both by event time (stable for ties).
    taken.sort_by_key(|(t, _)| *t);
    if taken.len() <= TRACE_LINES_PER_STEP {
        taken.iter().for_each(|(_, l)| println!("  {l}"));
        return;
    }
    // The start (handshake, first data) and the end (the close), with a count between.
    let tail = TRACE_LINES_PER_STEP / 4;
    let head = TRACE_LINES_PER_STEP - tail;
    taken[..head].iter().for_each(|(_, l)| println!("  {l}"));
    println!("  ... {} more events ...", taken.len() - head - tail);
    taken[taken.len() - tail..]
        .iter()
        .for_each(|(_, l)| println!("  {l}"));
}

/// A pings B three times; the first request waits in A's ARP queue until B answers.
fn step_ping(a: &Handle) -> Result<String, String> {
    let ident = 0x7c1b;
    let mut replies = Vec::new();
    for seq in 1..=3u16 {
        ping::send(a, ADDR_B, ident, seq, 56).map_err(|e| format!("ping: {e}"))?;
        let deadline = StdInstant::now() + Duration::from_secs(2);
        while let Some(ev) = ping::next_result(
            a,
            ident,
            deadline.saturating_duration_since(StdInstant::now()),
        )
        .map_err(|e| format!("ping: {e}"))?
        {
            match ev {
                PingEvent::Reply {
                    seq: s, ttl, rtt, ..
                } if s == seq => {
                    replies.push(format!(
                        "seq={seq} ttl={ttl} time={:.3} ms",
                        rtt.as_secs_f64() * 1e3
                    ));
                    break;
                }
                PingEvent::Error { seq: s, kind, .. } if s == seq => {
                    return Err(format!("seq {seq}: {kind}"))
                }
                _ => {}
            }
        }
    }
    if replies.is_empty() {
        return Err("no echo reply from B".into());
    }
    Ok(format!(
        "{} of 3 echo replies from {ADDR_B}: {}",
        replies.len(),
        replies.join(", ")
    ))
}

/// B echoes UDP datagrams on port 7; A sends three and checks each comes back unchanged
/// (re-sending after a timeout, since UDP does not retransmit and the link may lose frames).
fn step_udp(a: &Handle, b: &Handle) -> Result<String, String> {
    let server = UdpSocket::bind(b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, ECHO_PORT))
        .map_err(|e| e.to_string())?;
    server
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| e.to_string())?;
    let stopping = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let thread = {
        let (stopping, echoed) = (stopping.clone(), echoed.clone());
        std::thread::spawn(move || udp_echo(&server, &stopping, &echoed))
    };
    let result = (|| {
        let client = UdpSocket::bind(a, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
            .map_err(|e| e.to_string())?;
        client
            .set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(|e| e.to_string())?;
        let dst = SocketAddrV4::new(ADDR_B, ECHO_PORT);
        let mut buf = [0u8; 1500];
        for i in 1..=3 {
            let msg = format!("hello {i} from A");
            let mut answered = false;
            for _try in 0..5 {
                client
                    .send_to(msg.as_bytes(), dst)
                    .map_err(|e| e.to_string())?;
                match client.recv_from(&mut buf) {
                    Ok((n, from)) if &buf[..n] == msg.as_bytes() && from == dst => {
                        answered = true;
                        break;
                    }
                    Ok(_) | Err(_) => {}
                }
            }
            if !answered {
                return Err(format!("no echo for datagram {i}"));
            }
        }
        Ok(format!("3 datagrams echoed by {dst}, byte-exact"))
    })();
    stopping.store(true, Ordering::Relaxed);
    let _ = thread.join();
    result
}

/// B serves a generated file over HTTP; A downloads it and compares SHA-256 digests.
fn step_http(a: &Handle, b: &Handle, size: u64, seed: u64) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("tcplab-demo-{}", std::process::id()));
    let _cleanup = RemoveDir(dir.clone());
    std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
    let expected = write_pattern_file(&dir.join("file.bin"), size, seed)
        .map_err(|e| format!("test file: {e}"))?;
    let root = dir.canonicalize().map_err(|e| e.to_string())?;

    let listener = TcpListener::bind(b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, HTTP_PORT), 0)
        .map_err(|e| format!("listen: {e}"))?;
    let server = std::thread::spawn(move || {
        let counters = ServeCounters::default();
        if let Ok((stream, _)) = listener.accept_timeout(Some(Duration::from_secs(30))) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let _ = serve_http(&stream, &root, &counters);
        }
    });
    let url: Url = format!("http://{ADDR_B}:{HTTP_PORT}/file.bin")
        .parse()
        .map_err(|e: String| e)?;
    let mut hasher = Sha256::new();
    let got = get::fetch(a, &url, &mut hasher, false, Some(Duration::from_secs(30)));
    let _ = server.join();
    // Both sides have closed; give the last FIN and ACK a moment so the trace shows the whole
    // close (RFC 9293 §3.6).
    std::thread::sleep(Duration::from_millis(50));
    let got = got.map_err(|e| e.to_string())?;
    let digest = hex(&hasher.finalize());
    if digest != expected {
        return Err(format!(
            "sha256 mismatch: got {digest}, expected {expected}"
        ));
    }
    Ok(format!("{}; sha256 {digest} matches", got.summary()))
}

/// Write `size` pseudo-random bytes (from `seed`) to `path`; returns their SHA-256 in hex.
fn write_pattern_file(path: &Path, size: u64, seed: u64) -> io::Result<String> {
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut x = seed | 1;
    let mut left = size;
    let mut block = [0u8; 8192];
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            // xorshift64: cheap, deterministic, and not compressible by accident.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    file.flush()?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a directory when dropped (also on early return).
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
