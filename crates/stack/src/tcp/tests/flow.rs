//! Flow control and ACK policy: zero window and persist (RFC 9293 §3.8.6.1), Nagle
//! (§3.7.4), delayed ACK (§3.8.6.3), silly window avoidance (§3.8.6.2), and a peer that never
//! reads (bounded memory, MUST-26: no abort while the peer answers probes).

use smoltcp::wire::TcpControl;

use super::harness::*;
use super::script::*;
use crate::tcp::{TcpConfig, TcpEvent, TcpState};
use crate::time::Duration;

const N: TcpControl = TcpControl::None;

/// RFC 9293 §3.8.6.1: the receiver's window closes while its application does not read; the
/// sender probes the zero window with backoff; when the application reads, the window reopens
/// and the transfer completes byte-exact.
#[test]
fn rfc9293_3_8_6_1_zero_window_reopens() {
    let server_cfg = TcpConfig {
        recv_buffer: 16 * 1024,
        ..TcpConfig::default()
    };
    let client_cfg = TcpConfig::default();
    let mut p = Pair::with_configs(&server_cfg, &client_cfg, 21);
    let data = pattern(200_000, 21);
    let mut f = Flow::start(&mut p, data.clone(), 80, true);
    f.read_enabled = false;
    let c = f.client.unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        f.poll(p, None);
        p.b.tcp
            .info(c)
            .is_some_and(|i| i.snd_wnd == 0 && i.bytes_acked >= 16 * 1024)
    });
    assert_eq!(p.b.tcp.info(c).unwrap().snd_wnd, 0, "window closed");
    // Stay closed for a while: probes go out, the connection is not aborted.
    p.run_until(Duration::from_secs(20), |p| {
        f.poll(p, None);
        false
    });
    let probes =
        p.b.take_events()
            .iter()
            .filter(|e| matches!(e, TcpEvent::WindowProbe { .. }))
            .count();
    assert!(probes >= 2, "persist timer probes ({probes})");
    assert!(probes <= 10, "with exponential backoff ({probes})");
    assert_eq!(
        p.b.tcp.state(c),
        Some(TcpState::FinWait1),
        "still alive (data queued, FIN pending)"
    );
    f.read_enabled = true;
    p.run_until(Duration::from_secs(60), |p| {
        f.poll(p, None);
        f.eof
    });
    assert!(f.eof);
    assert!(f.received == data, "byte-exact after reopening");
}

/// A lost window update is recovered by the persist timer's probe.
#[test]
fn rfc9293_3_8_6_1_lost_window_update_recovered_by_probe() {
    let server_cfg = TcpConfig {
        recv_buffer: 8 * 1024,
        ..TcpConfig::default()
    };
    let mut p = Pair::with_configs(&server_cfg, &TcpConfig::default(), 22);
    let data = pattern(50_000, 22);
    let mut f = Flow::start(&mut p, data.clone(), 80, true);
    f.read_enabled = false;
    let c = f.client.unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        f.poll(p, None);
        p.b.tcp.info(c).is_some_and(|i| i.snd_wnd == 0)
    });
    // Drop the next segments from a to b (the window updates) for a while.
    let mut dropped = 0;
    p.filter = Some(Box::new(move |to_b, _| {
        if to_b && dropped < 2 {
            dropped += 1;
            return false;
        }
        true
    }));
    f.read_enabled = true;
    p.run_until(Duration::from_secs(120), |p| {
        f.poll(p, None);
        f.eof
    });
    assert!(f.received == data);
}

/// A peer that never reads: the sender's memory is bounded by its send buffer, writes block,
/// and the connection is not aborted while the peer keeps answering probes (RFC 9293
/// §3.8.6.1, MUST-26).
#[test]
fn peer_never_reading_is_bounded_and_not_aborted() {
    let cfg = TcpConfig {
        send_buffer: 32 * 1024,
        recv_buffer: 16 * 1024,
        ..TcpConfig::default()
    };
    let mut p = Pair::new(&cfg, 23);
    let mut f = Flow::start(&mut p, pattern(10_000_000, 23), 80, true);
    f.read_enabled = false;
    p.run_until(Duration::from_secs(1800), |p| {
        f.poll(p, None);
        false
    });
    // Send buffer + peer window, nothing more (the last scale unit of the peer's window, 128
    // bytes, may stay unannounced).
    assert!(f.sent <= 32 * 1024 + 16 * 1024, "{}", f.sent);
    assert!(f.sent > 32 * 1024 + 16 * 1024 - 128, "{}", f.sent);
    assert_eq!(
        p.b.tcp.state(f.client.unwrap()),
        Some(TcpState::Established)
    );
    assert!(f.client_error.is_none());
}

/// RFC 9293 §3.7.4 (Nagle): a second small write waits for the ACK of the first; with
/// `nodelay` it goes at once.
#[test]
fn rfc9293_3_7_4_nagle() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive();
    s.host.tcp.send(s.now, c, b"a").unwrap();
    let r = s.recv().unwrap();
    assert_eq!((r.seq, r.data.as_slice()), (10_001, &b"a"[..]));
    s.host.tcp.send(s.now, c, b"b").unwrap();
    s.host.tcp.send(s.now, c, b"c").unwrap();
    s.recv_nothing(); // held: "a" is unacknowledged
    s.send(S::new(N, 5001, Some(10_002)));
    let r = s.recv().unwrap();
    assert_eq!(
        (r.seq, r.data.as_slice()),
        (10_002, &b"bc"[..]),
        "coalesced after the ACK"
    );
    s.host.tcp.set_nodelay(c, true).unwrap();
    s.host.tcp.send(s.now, c, b"d").unwrap();
    assert_eq!(
        s.recv().unwrap().data,
        b"d",
        "nodelay: sent with data in flight"
    );
}

/// RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: one segment is ACKed after the delayed-ACK timer;
/// a second full-sized segment is ACKed at once.
#[test]
fn rfc9293_3_8_6_3_delayed_ack() {
    let cfg = TcpConfig::default();
    let mut s = Script::new(&cfg);
    let _c = s.establish_passive();
    s.send(S::new(N, 5001, Some(10_001)).data(&[7; 1000]));
    s.recv_nothing();
    s.advance(cfg.delayed_ack - Duration::from_millis(1));
    s.recv_nothing();
    s.advance(Duration::from_millis(2));
    assert_eq!(
        s.recv().unwrap().ack,
        Some(6001),
        "ACK when the timer fires"
    );
    s.send(S::new(N, 6001, Some(10_001)).data(&[7; 1000]));
    s.recv_nothing();
    s.send(S::new(N, 7001, Some(10_001)).data(&[7; 1000]));
    assert_eq!(
        s.recv().unwrap().ack,
        Some(8001),
        "every second segment ACKed at once"
    );
}

/// RFC 9293 §3.8.6.2.1 (sender SWS): with the peer offering a window smaller than both the
/// data and half its largest window, nothing is sent until the window grows.
#[test]
fn rfc9293_3_8_6_2_1_sender_avoids_silly_window() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive(); // peer window 65535, MSS 1000
    s.host.tcp.send(s.now, c, &[1; 5000]).unwrap();
    let mut next = 10_001;
    while let Some(r) = s.recv() {
        next = r.seq + r.data.len() as u32;
    }
    // Peer acknowledges everything but offers only 100 bytes.
    s.send(S::new(N, 5001, Some(next)).win(100));
    s.host.tcp.send(s.now, c, &[2; 5000]).unwrap();
    s.recv_nothing();
    s.send(S::new(N, 5001, Some(next)).win(40_000));
    let r = s.recv().unwrap();
    assert_eq!(r.data.len(), 1000, "full segment once the window allows");
}

/// RFC 9293 §3.8.6.2.2 (receiver SWS): after the window closed, small reads do not reopen it;
/// the update is sent once an MSS of space is free.
#[test]
fn rfc9293_3_8_6_2_2_receiver_avoids_silly_window() {
    let cfg = TcpConfig {
        recv_buffer: 4000,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let c = s.establish_passive(); // MSS 1000
    for i in 0..4u32 {
        s.send(S::new(N, 5001 + i * 1000, Some(10_001)).data(&[1; 1000]));
    }
    let mut last = None;
    while let Some(r) = s.recv() {
        last = Some(r);
    }
    let last = last.unwrap();
    assert_eq!((last.ack, last.win), (Some(9001), 0), "window closed");
    let mut b = [0u8; 300];
    s.host.tcp.recv(s.now, c, &mut b).unwrap();
    s.recv_nothing();
    s.host.tcp.recv(s.now, c, &mut b).unwrap();
    s.recv_nothing();
    s.host.tcp.recv(s.now, c, &mut b).unwrap();
    s.host.tcp.recv(s.now, c, &mut b).unwrap();
    let r = s.recv().expect("window update");
    assert_eq!(r.win, 1200, "opened by at least an MSS");
}

/// RFC 5681 §4.1: after an idle period longer than the RTO, cwnd restarts from the initial
/// window.
#[test]
fn rfc5681_4_1_restart_after_idle() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 24);
    let mut f = Flow::start(&mut p, pattern(500_000, 24), 80, true);
    f.client_shut = true;
    p.run_until(Duration::from_secs(30), |p| {
        f.poll(p, None);
        f.received.len() == 500_000
    });
    let c = f.client.unwrap();
    let grown = p.b.tcp.info(c).unwrap().cwnd;
    assert!(grown > 20 * 1460, "{grown}");
    p.run_until(Duration::from_secs(5), |_| false);
    p.b.tcp.send(p.now, c, &[1; 100_000]).unwrap();
    p.flush();
    let info = p.b.tcp.info(c).unwrap();
    // MSS 1448 with timestamps: IW = min(10 * 1448, max(2 * 1448, 14600)).
    assert_eq!(info.mss, 1448);
    assert_eq!(
        info.cwnd, 14_480,
        "restart window = IW (RFC 6928: min(10*MSS, max(2*MSS, 14600)))"
    );
    assert!(p.b.take_events().iter().any(|e| matches!(
        e,
        TcpEvent::Congestion {
            reason: crate::tcp::CongestionReason::Idle,
            ..
        }
    )));
}

/// RFC 3042 (Limited Transmit): each of the first two duplicate ACKs releases one new segment
/// beyond cwnd.
#[test]
fn rfc3042_limited_transmit() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive(); // MSS 1000, IW 10000 (RFC 6928)
    s.host.tcp.send(s.now, c, &[3; 20_000]).unwrap();
    let mut n = 0;
    while s.recv().is_some() {
        n += 1;
    }
    assert_eq!(n, 10, "initial window");
    s.send(S::new(N, 5001, Some(10_001)));
    let r = s.recv().expect("first dup ACK releases a segment");
    assert_eq!(r.seq, 20_001);
    s.recv_nothing();
    s.send(S::new(N, 5001, Some(10_001)));
    assert_eq!(s.recv().expect("second one too").seq, 21_001);
    s.recv_nothing();
    s.send(S::new(N, 5001, Some(10_001)));
    assert_eq!(s.recv().expect("third: fast retransmit").seq, 10_001);
}
