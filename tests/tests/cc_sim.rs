//! Congestion control on a long fat path (RFC 9438 §1: CUBIC exists because Reno's one segment
//! per RTT cannot fill a large bandwidth-delay product): one bulk transfer over a 200 Mbit/s
//! link with 100 ms RTT and a little random loss, once with NewReno and once with CUBIC, under
//! the same seed, so the loss pattern is the same in both runs.
//!
//! 200 Mbit/s rather than 1 Gbit/s keeps the run short (the simulation moves every frame);
//! the BDP (2.5 MB, about 1700 segments) is already far beyond what NewReno regains after a
//! loss within the run. Knobs for exploring:
//! `TCPLAB_CC_SPEC=rate=1gbit,delay=50ms,loss=0.001% TCPLAB_CC_SECS=30 cargo test --release
//! -p tcplab-tests --test cc_sim -- --nocapture`.

use tcplab_stack::tcp::{CongestionReason, TcpEvent};
use tcplab_stack::{
    CongestionAlgorithm, Duration, EventKind, Ipv4Addr, SocketAddrV4, TcpError, TcpInfo,
};
use tcplab_tests::{Impairment, World};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// 200 Mbit/s bottleneck, 50 ms each way (BDP about 1700 frames), a 2000-frame queue, one
/// frame in 20000 lost in each direction.
const SPEC: &str = "rate=200mbit,delay=50ms,queue=2000,loss=0.005%";
/// Virtual seconds: 60 in release (about 3 s of CPU), 20 in debug builds. The first seconds
/// are slow start and its overshoot, the same for both; the longer run shows the steady state.
const SECS: u64 = if cfg!(debug_assertions) { 20 } else { 60 };
const SEED: u64 = 7;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// What one run produced.
#[derive(Debug, PartialEq)]
struct Run {
    /// Bytes the server received.
    received: u64,
    /// The client's final statistics.
    info: TcpInfo,
    /// HyStart++ phase changes in the client's trace (RFC 9406).
    hystart_events: Vec<CongestionReason>,
}

/// `secs` of virtual time of a client that always has data to send.
fn bulk(cc: CongestionAlgorithm, spec: &str, secs: u64) -> Run {
    let mut w = World::new(SEED);
    let mut hosts = Vec::new();
    for n in [1, 2] {
        let mut c = w.host_config(n);
        c.tcp.congestion = cc;
        // Buffers (and a window scale) above the BDP, so only congestion control limits.
        c.tcp.send_buffer = 8 << 20;
        c.tcp.recv_buffer = 8 << 20;
        c.tcp.window_scale = 8;
        hosts.push(w.add_host(c));
    }
    let (a, b) = (hosts[0], hosts[1]);
    let debug = std::env::var("TCPLAB_CC_DEBUG").is_ok();
    w.stack(b).set_events(true);
    let mut hystart_events = Vec::new();
    w.connect(a, b, Impairment::spec(spec));
    let l = w
        .stack(a)
        .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .unwrap();
    let now = w.now();
    let client = w
        .stack(b)
        .tcp_connect(now, SocketAddrV4::new(A, 80))
        .unwrap();
    let chunk = vec![0x5a; 256 * 1024];
    let mut buf = vec![0u8; 256 * 1024];
    let mut server = None;
    let mut received = 0u64;
    w.run_until(
        |w| {
            let now = w.now();
            // TCPLAB_CC_DEBUG: print every congestion event other than growth on ACKs.
            while let Some(e) = w.stack(b).poll_event() {
                if let EventKind::Tcp(TcpEvent::Congestion {
                    cwnd,
                    ssthresh,
                    reason,
                    ..
                }) = e.kind
                {
                    if matches!(
                        reason,
                        CongestionReason::HystartCss
                            | CongestionReason::HystartResume
                            | CongestionReason::HystartExit
                    ) {
                        hystart_events.push(reason);
                    }
                    let growth =
                        matches!(reason, CongestionReason::Ack | CongestionReason::Recovery);
                    if debug && !growth {
                        println!("{now:?} {cc} cwnd={cwnd} ssthresh={ssthresh} {reason:?}");
                    }
                }
            }
            if server.is_none() {
                server = w.stack(a).tcp_accept(l).ok();
            }
            loop {
                match w.stack(b).tcp_send(now, client, &chunk) {
                    Ok(n) if n > 0 => {}
                    Ok(_) | Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            if let Some(s) = server {
                loop {
                    match w.stack(a).tcp_recv(now, s, &mut buf) {
                        Ok(n) if n > 0 => received += n as u64,
                        Ok(_) | Err(TcpError::WouldBlock) => break,
                        Err(e) => panic!("recv: {e}"),
                    }
                }
            }
            false
        },
        Duration::from_secs(secs),
    );
    let info = w.stack_ref(b).tcp_info(client).unwrap();
    Run {
        received,
        info,
        hystart_events,
    }
}

fn mbit(bytes: u64, secs: u64) -> f64 {
    bytes as f64 * 8.0 / secs as f64 / 1e6
}

/// RFC 9438 §1 and §4: on a 200 Mbit/s, 100 ms path with random loss CUBIC regains its window
/// in K seconds instead of one segment per RTT, and moves markedly more data than NewReno
/// (release, 60 s: about 65 against 28 Mbit/s).
#[test]
fn rfc9438_cubic_beats_newreno_on_long_fat_path() {
    let spec = env_or("TCPLAB_CC_SPEC", SPEC);
    let secs: u64 = env_or("TCPLAB_CC_SECS", &SECS.to_string()).parse().unwrap();
    let r = bulk(CongestionAlgorithm::NewReno, &spec, secs);
    let c = bulk(CongestionAlgorithm::Cubic, &spec, secs);
    let (reno, reno_info, cubic, cubic_info) = (r.received, &r.info, c.received, &c.info);
    println!(
        "{spec}, {secs} s: newreno {:.1} Mbit/s (cwnd {}, retransmits {}), cubic {:.1} Mbit/s \
         (cwnd {}, retransmits {})",
        mbit(reno, secs),
        reno_info.cwnd,
        reno_info.retransmits,
        mbit(cubic, secs),
        cubic_info.cwnd,
        cubic_info.retransmits,
    );
    assert_eq!(reno_info.congestion, "newreno");
    assert_eq!(cubic_info.congestion, "cubic");
    // RFC 9406: the queue building up in slow start moved CUBIC to Conservative Slow Start;
    // NewReno has no HyStart++.
    assert_eq!(
        c.hystart_events.first(),
        Some(&CongestionReason::HystartCss)
    );
    assert!(r.hystart_events.is_empty());
    assert!(
        cubic > reno + reno / 2,
        "CUBIC should beat NewReno by more than 50%: {cubic} vs {reno} bytes"
    );
}

/// Same seed, same result: the whole run, CUBIC's arithmetic included, is deterministic.
#[test]
fn cubic_run_is_deterministic() {
    let spec = "rate=50mbit,delay=20ms,loss=0.1%";
    let one = bulk(CongestionAlgorithm::Cubic, spec, 3);
    let two = bulk(CongestionAlgorithm::Cubic, spec, 3);
    assert_eq!(one, two);
    assert!(one.received > 0);
}
