//! Reliable delivery under impairment: byte-exact bulk transfers with seeded loss, reordering
//! and duplication (RFC 9293 §3.8, RFC 6298, RFC 5681/6582), sequence wrap-around (RFC 9293
//! §3.4), fast retransmit without timeout, giving up on a silent peer (RFC 1122 §4.2.3.5), ICMP
//! errors (RFC 1122 §4.2.3.9) and keep-alives (RFC 9293 §3.8.4).

use core::net::SocketAddrV4;

use super::harness::*;
use crate::error::TcpError;
use crate::tcp::{RetransmitReason, TcpConfig, TcpEvent, TcpIcmpError, TcpState};
use crate::time::Duration;

fn seeds() -> u64 {
    std::env::var("TCPLAB_TCP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
}

/// Bulk transfers are byte-exact under 5% loss, 2% duplication and 5% reordering, for several
/// seeds (set TCPLAB_TCP_SEEDS for more).
#[test]
fn bulk_transfer_byte_exact_under_loss_dup_reorder() {
    for seed in 0..seeds() {
        let cfg = TcpConfig::default();
        let mut p = Pair::new(&cfg, seed);
        p.impair = Impair {
            loss: 5.0,
            dup: 2.0,
            reorder: 5.0,
        };
        let data = pattern(300_000, seed);
        let f = transfer(&mut p, data.clone(), Duration::from_secs(600));
        assert!(
            f.eof,
            "seed {seed}: finished (errors {:?} {:?})",
            f.client_error, f.server_error
        );
        assert_eq!(f.received.len(), data.len(), "seed {seed}");
        assert!(f.received == data, "seed {seed}: byte-exact");
    }
}

/// 10% loss both ways still completes byte-exact.
#[test]
fn bulk_transfer_byte_exact_under_ten_percent_loss() {
    for seed in 100..100 + seeds() / 2 + 1 {
        let cfg = TcpConfig::default();
        let mut p = Pair::new(&cfg, seed);
        p.impair = Impair {
            loss: 10.0,
            dup: 1.0,
            reorder: 3.0,
        };
        let data = pattern(100_000, seed);
        let f = transfer(&mut p, data.clone(), Duration::from_secs(1200));
        assert!(f.eof, "seed {seed}: finished");
        assert!(f.received == data, "seed {seed}: byte-exact");
    }
}

/// RFC 9293 §3.4: sequence numbers wrap past 2^32 mid-transfer (ISN just below 2^32).
#[test]
fn rfc9293_3_4_sequence_wrap_during_transfer() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 9);
    p.a.tcp.isn_override = Some(u32::MAX - 20_000);
    p.b.tcp.isn_override = Some(u32::MAX - 1_000);
    p.impair = Impair {
        loss: 3.0,
        dup: 1.0,
        reorder: 3.0,
    };
    let data = pattern(200_000, 9);
    let f = transfer(&mut p, data.clone(), Duration::from_secs(300));
    assert!(f.eof);
    assert!(f.received == data, "byte-exact across the wrap");
}

/// RFC 5681 §3.2 / RFC 6582: one lost segment in a window is repaired by fast retransmit after
/// three duplicate ACKs, without waiting for the RTO.
#[test]
fn rfc5681_3_2_fast_retransmit_repairs_single_loss() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 10);
    let mut data_segs = 0;
    p.filter = Some(Box::new(move |to_a, seg: &[u8]| {
        // b -> a carries the data (b is the client); drop the 20th data segment once.
        if !to_a && seg.len() > 100 {
            data_segs += 1;
            return data_segs != 20;
        }
        true
    }));
    let data = pattern(400_000, 10);
    let f = transfer(&mut p, data.clone(), Duration::from_secs(60));
    assert!(f.eof);
    assert!(f.received == data);
    let st = &p.b.stats.tcp;
    assert_eq!(st.fast_retransmits, 1, "{st:?}");
    assert_eq!(st.rto_expirations, 0, "no timeout needed");
    let ev = p.b.take_events();
    assert!(ev.iter().any(|e| matches!(
        e,
        TcpEvent::Retransmit {
            reason: RetransmitReason::FastRetransmit,
            ..
        }
    )));
    assert!(ev.iter().any(|e| matches!(e, TcpEvent::Congestion { .. })));
}

/// RFC 6582 §3.2: several losses in one window are repaired by partial ACKs in one recovery.
#[test]
fn rfc6582_3_2_partial_acks_repair_multiple_losses() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 11);
    let mut data_segs = 0;
    p.filter = Some(Box::new(move |to_a, seg: &[u8]| {
        if !to_a && seg.len() > 100 {
            data_segs += 1;
            return !(data_segs == 40 || data_segs == 43 || data_segs == 46);
        }
        true
    }));
    let data = pattern(400_000, 11);
    let f = transfer(&mut p, data.clone(), Duration::from_secs(60));
    assert!(f.received == data);
    assert_eq!(p.b.stats.tcp.fast_retransmits, 1, "one recovery episode");
    let ev = p.b.take_events();
    assert!(
        ev.iter()
            .filter(|e| matches!(
                e,
                TcpEvent::Retransmit {
                    reason: RetransmitReason::PartialAck,
                    ..
                }
            ))
            .count()
            >= 2
    );
}

/// RFC 1122 §4.2.3.5: a peer that stops acknowledging makes the connection fail with TimedOut
/// after the configured number of retransmissions; nothing panics, memory stays bounded.
#[test]
fn rfc1122_4_2_3_5_peer_stops_acking_times_out() {
    let cfg = TcpConfig {
        max_retransmits: 5,
        ..TcpConfig::default()
    };
    let mut p = Pair::new(&cfg, 12);
    let mut f = Flow::start(&mut p, pattern(1_000_000, 12), 80, true);
    let mut blackhole = false;
    p.run_until(Duration::from_secs(5), |p| {
        f.poll(p, None);
        f.received.len() > 50_000
    });
    let _ = &mut blackhole;
    p.filter = Some(Box::new(|to_a, _| to_a)); // a never answers b again
    p.run_until(Duration::from_secs(600), |p| {
        f.poll(p, None);
        f.client_error.is_some()
    });
    assert_eq!(f.client_error, Some(TcpError::TimedOut));
    assert!(p.b.stats.tcp.timeouts >= 1);
    let c = f.client.unwrap();
    assert_eq!(p.b.tcp.state(c), Some(TcpState::Closed));
    let info = p.b.tcp.info(c).unwrap();
    assert!(info.retransmits >= 5, "{info:?}");
    assert!(info.rto >= cfg.rto_min * 8, "backed off: {:?}", info.rto);
}

/// RFC 1122 §4.2.3.5 for SYN: a silent host makes connect fail with TimedOut.
#[test]
fn rfc1122_4_2_3_5_syn_retransmissions_then_timeout() {
    let cfg = TcpConfig {
        max_syn_retransmits: 3,
        ..TcpConfig::default()
    };
    let mut p = Pair::new(&cfg, 13);
    p.filter = Some(Box::new(|_, _| false));
    let mut f = Flow::start(&mut p, vec![1], 80, true);
    p.run_until(Duration::from_secs(60), |p| {
        f.poll(p, None);
        f.client_error.is_some()
    });
    assert_eq!(f.client_error, Some(TcpError::TimedOut));
    // 1 + 2 + 4 + 8 s with the initial RTO of 1 s.
    assert!(p.now.as_millis() >= 15_000, "{:?}", p.now);
}

/// RFC 1122 §4.2.3.9: a hard ICMP error aborts a connection in SYN-SENT; a soft error is
/// remembered and reported when the connection times out.
#[test]
fn rfc1122_4_2_3_9_icmp_hard_and_soft_errors() {
    let cfg = TcpConfig {
        max_syn_retransmits: 2,
        ..TcpConfig::default()
    };
    let mut p = Pair::new(&cfg, 14);
    p.filter = Some(Box::new(|_, _| false));
    let f = Flow::start(&mut p, vec![], 80, false);
    p.flush();
    let c = f.client.unwrap();
    let info = p.b.tcp.info(c).unwrap();
    let local = info.local.unwrap();
    let remote = SocketAddrV4::new(A_IP, 80);
    let iss = p.b.tcp.conns[&c].iss.0;
    let now = p.now;
    let (tcp, mut ctx) = p.b.ctx();
    // Out-of-flight sequence number: ignored (RFC 5927 §4.1).
    tcp.icmp_error(
        now,
        &mut ctx,
        TcpIcmpError {
            local,
            remote,
            seq: iss + 5000,
            frag_mtu: None,
            hard: true,
            error: TcpError::HostUnreachable,
        },
    );
    assert_eq!(tcp.state(c), Some(TcpState::SynSent));
    tcp.icmp_error(
        now,
        &mut ctx,
        TcpIcmpError {
            local,
            remote,
            seq: iss,
            frag_mtu: None,
            hard: false,
            error: TcpError::HostUnreachable,
        },
    );
    assert_eq!(
        tcp.state(c),
        Some(TcpState::SynSent),
        "soft: remembered only"
    );
    p.run_until(Duration::from_secs(60), |p| {
        p.b.tcp.state(c) == Some(TcpState::Closed)
    });
    assert_eq!(
        p.b.tcp.recv(p.now, c, &mut [0u8; 1]),
        Err(TcpError::HostUnreachable),
        "soft error reported on timeout"
    );

    let mut f2 = Flow::start(&mut p, vec![], 80, false);
    p.flush();
    let c2 = f2.client.unwrap();
    let local = p.b.tcp.info(c2).unwrap().local.unwrap();
    let iss = p.b.tcp.conns[&c2].iss.0;
    let now = p.now;
    let (tcp, mut ctx) = p.b.ctx();
    tcp.icmp_error(
        now,
        &mut ctx,
        TcpIcmpError {
            local,
            remote,
            seq: iss,
            frag_mtu: None,
            hard: true,
            error: TcpError::ConnectionRefused,
        },
    );
    assert_eq!(
        tcp.state(c2),
        Some(TcpState::Closed),
        "hard error aborts SYN-SENT"
    );
    f2.poll(&mut p, None);
    assert_eq!(f2.client_error, Some(TcpError::ConnectionRefused));
}

/// RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: keep-alives keep an idle connection with a live peer
/// open, and detect a dead one.
#[test]
fn rfc9293_3_8_4_keepalive() {
    let cfg = TcpConfig {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(2),
        keepalive_probes: 3,
        ..TcpConfig::default()
    };
    let mut p = Pair::new(&cfg, 15);
    let mut f = Flow::start(&mut p, vec![], 80, true);
    f.client_shut = true;
    p.run_until(Duration::from_secs(2), |p| {
        f.poll(p, None);
        f.server.is_some()
    });
    let c = f.client.unwrap();
    p.run_until(Duration::from_secs(100), |_| false);
    assert_eq!(
        p.b.tcp.state(c),
        Some(TcpState::Established),
        "live peer answers probes"
    );
    assert!(p
        .b
        .take_events()
        .iter()
        .any(|e| matches!(e, TcpEvent::KeepAliveProbe { .. })));
    p.filter = Some(Box::new(|_, _| false));
    p.run_until(Duration::from_secs(100), |p| {
        p.b.tcp.state(c) == Some(TcpState::Closed)
    });
    assert_eq!(
        p.b.tcp.recv(p.now, c, &mut [0u8; 1]),
        Err(TcpError::TimedOut)
    );
}

/// Determinism: the same seed gives byte-identical segments (ISNs, ports, timing decisions).
#[test]
fn same_seed_gives_identical_segments() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let run = |seed: u64| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let cfg = TcpConfig::default();
        let mut p = Pair::new(&cfg, seed);
        p.impair = Impair {
            loss: 3.0,
            dup: 1.0,
            reorder: 3.0,
        };
        p.filter = Some(Box::new(move |to_b, seg: &[u8]| {
            l2.borrow_mut().push((to_b, seg.to_vec()));
            true
        }));
        let f = transfer(&mut p, pattern(100_000, seed), Duration::from_secs(100));
        assert!(f.eof);
        let v = log.borrow().clone();
        v
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
}

/// A clean bulk transfer (size from TCPLAB_SIM_BYTES, default 2 MB): byte-exact, no
/// retransmissions, and the window grows past the initial window (RFC 5681 slow start).
#[test]
fn clean_bulk_transfer_no_retransmissions() {
    let n = std::env::var("TCPLAB_SIM_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 31);
    p.latency = Duration::from_micros(50);
    let data = pattern(n, 31);
    let t0 = std::time::Instant::now();
    let f = transfer(&mut p, data.clone(), Duration::from_secs(600));
    let el = t0.elapsed();
    assert!(f.received == data);
    let info = p.b.tcp.info(f.client.unwrap()).unwrap();
    assert_eq!(info.retransmits, 0);
    assert!(info.cwnd > 10 * 1460, "{info:?}");
    eprintln!(
        "{} bytes: {:?} wall, {:.0} Mbit/s of CPU time; virtual {:?}; segments {}",
        n,
        el,
        n as f64 * 8.0 / el.as_secs_f64() / 1e6,
        p.now,
        p.delivered
    );
}

/// Loss recovery quality at 5% random loss both ways (RFC 3042 Limited Transmit, RFC 6582
/// full-ACK deflation to ssthresh): most losses are repaired by fast retransmit, few by
/// timeout, and 2 MB cross in a bounded virtual time.
#[test]
fn rfc3042_rfc6582_recovery_mostly_avoids_timeouts() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 3);
    p.latency = Duration::from_micros(100);
    p.impair = Impair {
        loss: 5.0,
        dup: 0.0,
        reorder: 0.0,
    };
    let data = pattern(2_000_000, 3);
    let start = p.now;
    let f = transfer(&mut p, data.clone(), Duration::from_secs(600));
    assert!(f.received == data);
    let st = &p.b.stats.tcp;
    assert!(st.rto_expirations * 4 < st.fast_retransmits, "{st:?}");
    assert!(
        p.now - start < Duration::from_secs(4),
        "{:?}",
        p.now - start
    );
}
