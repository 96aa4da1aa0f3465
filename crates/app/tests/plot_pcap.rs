//! `tcplab plot` and the graph module on captures of simulated TCP transfers
//! (`tcplab_tests::World` with its pcap tap): flows, retransmissions, well-formed SVGs with
//! the expected series, byte-identical output, errors that name the byte offset, and the
//! command end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use tcplab::graph::{self, ConnFilter, FlowTrace, GraphError};
use tcplab_stack::{Duration, Ipv4Addr, SocketAddrV4, TcpError};
use tcplab_tests::{Impairment, World};

const TCPLAB: &str = env!("CARGO_BIN_EXE_tcplab");
const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80);

/// A scratch directory removed on drop (also when the test panics).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tcplab-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pcap, taken at the sender (198.18.0.2), of a `bytes`-long upload to 198.18.0.1:80
/// over a link impaired by `spec` (both directions).
fn transfer_pcap(seed: u64, spec: &str, bytes: usize) -> Vec<u8> {
    let mut w = World::new(seed);
    let a = w.add_host_at(1);
    let b = w.add_host_at(2);
    w.pcap(b);
    w.connect(a, b, Impairment::spec(spec));
    let l = w
        .stack(a)
        .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .expect("listen");
    let now = w.now();
    let c = w.stack(b).tcp_connect(now, SERVER).expect("connect");
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got, mut server, mut shut) = (0, 0, None, false);
    let done = w.run_until(
        |w| {
            let now = w.now();
            if server.is_none() {
                server = w.stack(a).tcp_accept(l).ok();
            }
            while sent < data.len() {
                match w.stack(b).tcp_send(now, c, &data[sent..]) {
                    Ok(n) => sent += n,
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            if sent == data.len() && !shut {
                w.stack(b).tcp_shutdown_write(now, c).expect("shutdown");
                shut = true;
            }
            if let Some(s) = server {
                let mut buf = [0u8; 16384];
                while let Ok(n) = w.stack(a).tcp_recv(now, s, &mut buf) {
                    if n == 0 {
                        return true;
                    }
                    got += n;
                }
            }
            false
        },
        Duration::from_secs(600),
    );
    assert!(done && got == bytes, "transfer finished: {got} of {bytes}");
    w.run_for(Duration::from_millis(200));
    w.pcap_bytes(b)
}

fn write(dir: &Scratch, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path(name);
    std::fs::write(&p, bytes).expect("write pcap");
    p
}

fn upload(flows: &[FlowTrace]) -> &FlowTrace {
    flows
        .iter()
        .find(|f| f.dst == SERVER)
        .expect("a flow towards the server")
}

#[test]
fn flows_and_retransmissions_from_a_lossy_transfer() {
    let dir = Scratch::new("lossy");
    let pcap = write(
        &dir,
        "lossy.pcap",
        &transfer_pcap(3, "loss=2%,delay=2ms", 300_000),
    );
    let flows = graph::flows_from_pcap(&pcap, None).expect("read pcap");
    assert_eq!(flows.len(), 1, "only the upload carries data: {flows:#?}");
    let f = upload(&flows);
    assert_eq!(f.label, format!("{} -> {SERVER}", f.src));
    assert!(f.retransmits() > 0, "loss=2% gives retransmissions");
    assert!(!f.acks.is_empty() && !f.rtt.is_empty());
    assert!(f.cwnd.is_empty() && !f.stack_events);
    // Every byte was sent and acknowledged; relative sequence numbers start at 0.
    assert_eq!(f.segments.first().map(|s| s.seq), Some(0));
    let top = f.segments.iter().map(|s| s.seq + u64::from(s.len)).max();
    assert_eq!(top, Some(300_000));
    assert!(f.acks.iter().any(|a| a.ack >= 300_000));
    assert!(f.acks.iter().all(|a| a.win_edge >= a.ack));
    assert!(f.notes.is_empty(), "handshake captured: {:?}", f.notes);
}

#[test]
fn no_retransmissions_without_loss() {
    let dir = Scratch::new("clean");
    let pcap = write(&dir, "clean.pcap", &transfer_pcap(3, "delay=2ms", 300_000));
    let flows = graph::flows_from_pcap(&pcap, None).expect("read pcap");
    let f = upload(&flows);
    assert_eq!(f.retransmits(), 0);
    assert!(f.acks.iter().all(|a| a.sack.is_empty()));
}

#[test]
fn the_connection_filter_selects_one_connection() {
    let dir = Scratch::new("filter");
    let bytes = transfer_pcap(4, "delay=2ms", 50_000);
    let pcap = write(&dir, "f.pcap", &bytes);
    let all = graph::flows_from_pcap(&pcap, None).expect("read");
    let in_memory = graph::flows_from_reader(&bytes[..], Path::new("mem"), None);
    assert_eq!(in_memory.expect("read from memory"), all);
    let f = upload(&all);
    let filter: ConnFilter = format!("{SERVER}-{}", f.src).parse().expect("filter");
    assert_eq!(
        graph::flows_from_pcap(&pcap, Some(&filter)).expect("read"),
        all
    );
    let other: ConnFilter = "198.18.0.9:1-198.18.0.1:80".parse().expect("filter");
    assert!(graph::flows_from_pcap(&pcap, Some(&other))
        .expect("read")
        .is_empty());
    assert!("198.18.0.1:80".parse::<ConnFilter>().is_err());
}

/// Parse an SVG and return its text content.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read svg");
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{}: not well-formed XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

#[test]
fn svgs_are_well_formed_and_show_the_series() {
    let dir = Scratch::new("svg");
    let pcap = write(
        &dir,
        "lossy.pcap",
        &transfer_pcap(5, "loss=2%,delay=2ms", 200_000),
    );
    let flows = graph::flows_from_pcap(&pcap, None).expect("read pcap");
    let f = upload(&flows);
    let files = graph::render(f, &dir.0, "x.").expect("render");
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["x.tseq.svg", "x.cwnd.svg", "x.rtt.svg", "x.goodput.svg"]
    );

    let tseq = svg_texts(&files[0]);
    for want in [
        "data",
        "retransmission",
        "ACK",
        "window",
        "SACK",
        "time (s)",
    ] {
        assert!(
            tseq.iter().any(|t| t == want),
            "tseq has {want:?}: {tseq:?}"
        );
    }
    assert!(tseq.iter().any(|t| t.contains("relative sequence number")));
    let cwnd = svg_texts(&files[1]);
    assert!(
        cwnd.iter()
            .any(|t| t.contains("not available from a packet capture")),
        "{cwnd:?}"
    );
    let rtt = svg_texts(&files[2]);
    for want in ["RTT sample", "srtt", "milliseconds"] {
        assert!(rtt.iter().any(|t| t == want), "rtt has {want:?}: {rtt:?}");
    }
    let goodput = svg_texts(&files[3]);
    assert!(goodput.iter().any(|t| t == "Mbit/s"), "{goodput:?}");
    assert!(goodput.iter().any(|t| t.contains("average")), "{goodput:?}");
}

#[test]
fn stack_event_series_are_drawn() {
    let dir = Scratch::new("events");
    let mut f = FlowTrace::new(
        "198.18.0.2:49152".parse().expect("addr"),
        "198.18.0.1:80".parse().expect("addr"),
    );
    f.stack_events = true;
    for i in 0..50u32 {
        let t = f64::from(i) * 0.01;
        f.cwnd.push(graph::CwndPt {
            t,
            cwnd: 1460 * (i + 1),
            ssthresh: (i > 20).then_some(20_000),
        });
        f.rtt.push(graph::RttPt {
            t,
            sample_ms: 10.0 + f64::from(i % 3),
            srtt_ms: Some(10.5),
            rto_ms: Some(200.0),
        });
    }
    let files = graph::render(&f, &dir.0, "e.").expect("render");
    let cwnd = svg_texts(&files[1]);
    assert!(cwnd.iter().any(|t| t == "cwnd") && cwnd.iter().any(|t| t == "ssthresh"));
    let rtt = svg_texts(&files[2]);
    assert!(rtt.iter().any(|t| t == "RTO"), "{rtt:?}");
    // Data-less graphs still exist and say why.
    assert!(svg_texts(&files[3]).iter().any(|t| t.contains("no ACKs")));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let dir = Scratch::new("same");
    let pcap = write(
        &dir,
        "same.pcap",
        &transfer_pcap(6, "loss=2%,delay=2ms", 100_000),
    );
    let mut outputs = Vec::new();
    for run in ["one", "two"] {
        let out = dir.path(run);
        std::fs::create_dir_all(&out).expect("mkdir");
        let flows = graph::flows_from_pcap(&pcap, None).expect("read");
        let files = graph::render(upload(&flows), &out, "f.").expect("render");
        let bytes: Vec<Vec<u8>> = files
            .iter()
            .map(|p| std::fs::read(p).expect("read svg"))
            .collect();
        outputs.push(bytes);
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn damaged_files_give_one_error_with_the_byte_offset() {
    let dir = Scratch::new("bad");
    let good = transfer_pcap(7, "delay=2ms", 20_000);

    // Cut in the middle of a packet record: the error names where that record starts.
    let cut = write(&dir, "cut.pcap", &good[..good.len() - 10]);
    let err = graph::flows_from_pcap(&cut, None).expect_err("truncated");
    assert!(matches!(err, GraphError::Truncated { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("cut.pcap: truncated packet record at byte "),
        "{msg}"
    );
    let offset: usize = msg
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("offset at the end");
    assert!(offset >= 24 && offset < good.len() - 10, "{msg}");

    // A header cut short.
    let short = write(&dir, "short.pcap", &good[..20]);
    let msg = graph::flows_from_pcap(&short, None)
        .expect_err("short")
        .to_string();
    assert!(msg.contains("truncated file header at byte 0"), "{msg}");

    // Not a pcap at all.
    let garbage = write(&dir, "garbage.bin", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let msg = graph::flows_from_pcap(&garbage, None)
        .expect_err("garbage")
        .to_string();
    assert!(msg.contains("garbage.bin: not a pcap file"), "{msg}");
    assert!(msg.contains("at byte 0"), "{msg}");

    // pcapng: refused with the conversion command.
    let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
    ng.resize(28, 0);
    let ng = write(&dir, "x.pcapng", &ng);
    let msg = graph::flows_from_pcap(&ng, None)
        .expect_err("pcapng")
        .to_string();
    assert!(
        msg.contains("pcapng is not supported") && msg.contains("tshark -F pcap"),
        "{msg}"
    );

    // A link type we do not decode (802.11 = 105).
    let mut wifi = good[..24].to_vec();
    wifi[20..24].copy_from_slice(&105u32.to_le_bytes());
    let wifi = write(&dir, "wifi.pcap", &wifi);
    let msg = graph::flows_from_pcap(&wifi, None)
        .expect_err("wifi")
        .to_string();
    assert!(
        msg.contains("link type") && msg.contains("not supported"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn cli_plot_end_to_end() {
    let dir = Scratch::new("cli");
    let pcap = write(
        &dir,
        "t.pcap",
        &transfer_pcap(8, "loss=2%,delay=2ms", 100_000),
    );
    let out = dir.path("graphs");
    let run = Command::new(TCPLAB)
        .arg("plot")
        .arg(&pcap)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run tcplab plot");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "four graphs and the index: {stdout}");
    for line in &lines {
        assert!(Path::new(line).is_file(), "{line} exists");
    }
    assert!(lines[0].ends_with("-198.18.0.1_80.tseq.svg"), "{stdout}");
    assert!(lines[4].ends_with("index.html"), "{stdout}");
    let index = std::fs::read_to_string(out.join("index.html")).expect("index");
    assert!(index.contains("<img src=\"") && !index.contains("<script"));
    assert_eq!(index.matches("<img ").count(), 4);

    // With a filter that matches nothing: one error line, non-zero exit.
    let none = Command::new(TCPLAB)
        .args(["plot", "--conn", "198.18.0.9:1-198.18.0.1:80", "-o"])
        .arg(&out)
        .arg(&pcap)
        .output()
        .expect("run");
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tcplab: error: ") && err.contains("no TCP data"),
        "{err}"
    );

    // A damaged file: one line naming the file and the byte offset.
    let bytes = std::fs::read(&pcap).expect("read");
    let cut = write(&dir, "cut.pcap", &bytes[..bytes.len() - 3]);
    let bad = Command::new(TCPLAB)
        .arg("plot")
        .arg(&cut)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cut.pcap: truncated packet record at byte"),
        "{err}"
    );

    // A bad --conn is a usage error (exit 2).
    let usage = Command::new(TCPLAB)
        .args(["plot", "--conn", "nonsense", "-o"])
        .arg(&out)
        .arg(&pcap)
        .output()
        .expect("run");
    assert_eq!(usage.status.code(), Some(2));
}

/// Damaged captures never panic: random byte flips and cuts of a real capture either read
/// (and draw) or give one error line.
#[test]
fn mutated_captures_never_panic() {
    let dir = Scratch::new("mutate");
    let good = transfer_pcap(9, "loss=5%,delay=1ms", 30_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let path = dir.path("m.pcap");
    let (mut read, mut refused) = (0, 0);
    for round in 0..200 {
        let mut bytes = good.clone();
        for _ in 0..(1 + next() % 8) {
            let i = (next() as usize) % bytes.len();
            bytes[i] = next() as u8;
        }
        if round % 3 == 0 {
            bytes.truncate((next() as usize) % good.len());
        }
        std::fs::write(&path, &bytes).expect("write");
        match graph::flows_from_pcap(&path, None) {
            Ok(flows) => {
                read += 1;
                if round % 10 == 0 {
                    for f in &flows {
                        graph::render(f, &dir.0, "m.").expect("render");
                    }
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
    assert!(read > 20 && refused > 20, "read {read}, refused {refused}");
}
