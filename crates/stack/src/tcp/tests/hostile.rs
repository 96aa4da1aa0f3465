//! Hostile peers: random well-formed segments (any flags, sequence and acknowledgment numbers
//! near and far from the window, any window, any payload) against connections in every state.
//! The stack must never panic, never hold more than its configured memory, and never lose data
//! it acknowledged.

use smoltcp::wire::TcpControl;

use super::script::*;
use crate::tcp::{TcpConfig, TcpState};
use crate::time::Duration;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random segments around a live connection in many states never panic and keep memory
/// within the configured buffers.
#[test]
fn random_segments_never_panic_and_stay_bounded() {
    let cfg = TcpConfig {
        recv_buffer: 8 * 1024,
        send_buffer: 8 * 1024,
        ..TcpConfig::default()
    };
    let seeds = std::env::var("TCPLAB_TCP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8u64);
    for seed in 1..=seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut s = Script::new(&cfg);
        let c = s.establish_passive();
        s.host.tcp.send(s.now, c, &[5; 4000]).unwrap();
        let mut peer_seq = 5001u32;
        for i in 0..3000 {
            let ctl = match rng.below(10) {
                0 => TcpControl::Syn,
                1 => TcpControl::Fin,
                2 => TcpControl::Rst,
                3 => TcpControl::Psh,
                _ => TcpControl::None,
            };
            let seq = match rng.below(4) {
                0 => rng.next() as u32,
                _ => peer_seq
                    .wrapping_add(rng.below(20_000) as u32)
                    .wrapping_sub(10_000),
            };
            let ack = match rng.below(5) {
                0 => None,
                1 => Some(rng.next() as u32),
                _ => Some(10_001u32.wrapping_add(rng.below(6000) as u32)),
            };
            let len = if rng.below(3) == 0 {
                rng.below(1400) as usize
            } else {
                0
            };
            let data = vec![rng.next() as u8; len];
            let mut seg = S::new(ctl, seq, ack)
                .data(&data)
                .win(rng.below(65536) as u16);
            if rng.below(20) == 0 {
                seg.mss = Some(rng.below(70_000) as u16);
                seg.wscale = Some(rng.below(20) as u8);
            }
            s.send(seg);
            if rng.below(4) == 0 {
                // Some in-order data too, so the connection makes progress.
                s.send(S::new(TcpControl::None, peer_seq, Some(10_001)).data(&[1; 100]));
                peer_seq = peer_seq.wrapping_add(100);
            }
            while s.recv().is_some() {}
            match rng.below(50) {
                0 => {
                    let _ = s.host.tcp.shutdown_write(s.now, c);
                }
                1 => {
                    let mut b = [0u8; 1000];
                    let _ = s.host.tcp.recv(s.now, c, &mut b);
                }
                2 => {
                    let _ = s.host.tcp.send(s.now, c, &[6; 3000]);
                }
                _ => {}
            }
            s.advance(Duration::from_millis(rng.below(300)));
            if let Some(conn) = s.host.tcp.conns.get(&c) {
                assert!(
                    conn.recvbuf.readable() + conn.recvbuf.ooo_bytes() <= cfg.recv_buffer,
                    "seed {seed} step {i}"
                );
                assert!(conn.sendbuf.len() <= cfg.send_buffer);
            }
            assert!(s.host.tcp.connection_count() <= cfg.max_syn_backlog + 1);
        }
        // Whatever happened, the connection is in a defined state and answers calls.
        let st = s.host.tcp.state(c);
        assert!(st.is_some());
        let _ = s.host.tcp.info(c);
        if st != Some(TcpState::Closed) {
            s.host.tcp.abort(s.now, c);
        }
    }
}

/// Acknowledged data is never lost: after random reordering and duplication of the peer's
/// segments, the bytes we acknowledged are exactly the bytes the application reads.
#[test]
fn acknowledged_data_is_what_the_application_reads() {
    let cfg = TcpConfig {
        recv_buffer: 64 * 1024,
        ..TcpConfig::default()
    };
    let mut rng = Rng(77);
    let mut s = Script::new(&cfg);
    let c = s.establish_passive();
    let stream: Vec<u8> = (0..60_000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    let mut highest_ack = 5001u32;
    for _ in 0..2000 {
        // Mostly random ranges, sometimes starting at what we acknowledged so far.
        let next = (highest_ack - 5001) as usize;
        let off = if rng.below(4) == 0 && next < stream.len() {
            next
        } else {
            rng.below(stream.len() as u64 - 1) as usize
        };
        let len = (1 + rng.below(1200) as usize).min(stream.len() - off);
        s.send(
            S::new(TcpControl::None, 5001 + off as u32, Some(10_001)).data(&stream[off..off + len]),
        );
        while let Some(r) = s.recv() {
            if let Some(a) = r.ack {
                highest_ack = highest_ack.max(a);
            }
        }
    }
    s.advance(Duration::from_secs(1));
    while let Some(r) = s.recv() {
        if let Some(a) = r.ack {
            highest_ack = highest_ack.max(a);
        }
    }
    let acked = (highest_ack - 5001) as usize;
    assert!(acked > 30_000, "{acked}");
    let mut got = vec![0u8; 70_000];
    let n = s.host.tcp.recv(s.now, c, &mut got).unwrap();
    assert_eq!(n, acked, "everything acknowledged is readable");
    assert!(got[..n] == stream[..n], "and correct");
}
