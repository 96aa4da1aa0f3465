//! Scripted per-state tests: RST in each state (RFC 9293 §3.10.7, RFC 5961 §3.2), SYN in
//! synchronized states (RFC 5961 §4.2), LISTEN (§3.10.7.2), SYN-SENT (§3.10.7.3), FIN handling
//! and TIME-WAIT (§3.10.7.4 eighth step), bounded SYN queue, garbage input.

use smoltcp::wire::TcpControl::{self, Fin, Rst, Syn};

use super::script::*;
use crate::error::TcpError;
use crate::tcp::{TcpConfig, TcpState};
use crate::time::Duration;

const N: TcpControl = TcpControl::None;

fn script() -> Script {
    Script::new(&TcpConfig::default())
}

/// RFC 9293 §3.10.7.3: in SYN-SENT a RST is believed only with an acceptable ACK.
#[test]
fn rfc9293_3_10_7_3_rst_in_syn_sent() {
    let mut s = script();
    let now = s.now;
    let (tcp, mut ctx) = s.host.ctx();
    let c = tcp
        .connect_inner(now, super::harness::A_IP, Some(LPORT), s.peer)
        .unwrap();
    let _ = &mut ctx;
    assert_eq!(s.recv().unwrap().ctl, Syn);
    s.send(S::new(Rst, 0, None)); // no ACK: ignored
    assert_eq!(s.state(c), Some(TcpState::SynSent));
    s.send(S::new(Rst, 0, Some(10_005))); // unacceptable ACK: ignored
    assert_eq!(s.state(c), Some(TcpState::SynSent));
    s.recv_nothing();
    s.send(S::new(Rst, 0, Some(10_001)));
    assert_eq!(s.state(c), Some(TcpState::Closed));
    let mut b = [0u8; 4];
    assert_eq!(
        s.host.tcp.recv(s.now, c, &mut b),
        Err(TcpError::ConnectionRefused)
    );
}

/// RFC 9293 §3.10.7.3: an unacceptable ACK in SYN-SENT is answered with <SEQ=SEG.ACK><RST>.
#[test]
fn rfc9293_3_10_7_3_bad_ack_in_syn_sent_gets_rst() {
    let mut s = script();
    let now = s.now;
    let (tcp, _) = s.host.ctx();
    let c = tcp
        .connect_inner(now, super::harness::A_IP, Some(LPORT), s.peer)
        .unwrap();
    s.recv().unwrap();
    s.send(S::new(Syn, 5000, Some(9_000)));
    let r = s.recv().unwrap();
    assert_eq!((r.ctl, r.seq, r.ack), (Rst, 9_000, None));
    assert_eq!(s.state(c), Some(TcpState::SynSent));
}

/// RFC 9293 §3.10.7.2: LISTEN ignores RST, answers ACK with RST, and SYN with SYN,ACK carrying
/// MSS (§3.7.1) and window scale (RFC 7323) only when the SYN offered it.
#[test]
fn rfc9293_3_10_7_2_listen() {
    let mut s = script();
    s.listen();
    s.send(S::new(Rst, 1, None));
    s.recv_nothing();
    s.send(S::new(N, 1, Some(777)));
    let r = s.recv().unwrap();
    assert_eq!((r.ctl, r.seq), (Rst, 777));
    let mut syn = S::new(Syn, 5000, None);
    syn.wscale = Some(2);
    s.send(syn);
    let r = s.recv().unwrap();
    assert_eq!(
        (r.ctl, r.ack, r.mss, r.wscale),
        (Syn, Some(5001), Some(1460), Some(7))
    );
    s.send_from(40001, S::new(Syn, 7000, None));
    let r = s.recv().unwrap();
    assert_eq!(
        (r.ctl, r.wscale),
        (Syn, None),
        "no window scale unless offered"
    );
}

/// RFC 9293 §3.10.7.4 / RFC 5961 §3.2: in ESTABLISHED a RST with SEG.SEQ = RCV.NXT resets,
/// an in-window one draws a challenge ACK, an out-of-window one is dropped.
#[test]
fn rfc5961_3_2_rst_in_established() {
    let mut s = script();
    let c = s.establish_passive();
    s.send(S::new(Rst, 5001 + 100, None));
    let r = s.recv().expect("challenge ACK");
    assert_eq!((r.ctl, r.seq, r.ack), (N, 10_001, Some(5001)));
    assert_eq!(s.state(c), Some(TcpState::Established));
    s.send(S::new(Rst, 5001 + 10_000_000, None));
    s.recv_nothing();
    assert_eq!(s.state(c), Some(TcpState::Established));
    s.send(S::new(Rst, 5001, None));
    assert_eq!(s.state(c), Some(TcpState::Closed));
    let mut b = [0u8; 4];
    assert_eq!(
        s.host.tcp.recv(s.now, c, &mut b),
        Err(TcpError::ConnectionReset)
    );
    assert_eq!(
        s.host.tcp.send(s.now, c, b"x"),
        Err(TcpError::ConnectionReset)
    );
}

/// RFC 9293 §3.10.7.4: RST in SYN-RECEIVED from a passive open returns to LISTEN (the
/// embryonic connection disappears, the listener stays).
#[test]
fn rfc9293_3_10_7_4_rst_in_syn_received_returns_to_listen() {
    let mut s = script();
    let l = s.listen();
    s.send(S::new(Syn, 5000, None));
    s.recv().unwrap();
    assert_eq!(s.host.tcp.connection_count(), 1);
    s.send(S::new(Rst, 5001, None));
    assert_eq!(s.host.tcp.connection_count(), 0);
    assert_eq!(s.host.tcp.accept(l), Err(TcpError::WouldBlock));
    s.send(S::new(Syn, 6000, None));
    assert_eq!(s.recv().unwrap().ctl, Syn, "listener still works");
}

/// RFC 9293 §3.10.7.4: RST in FIN-WAIT-1, FIN-WAIT-2 and CLOSE-WAIT reports a reset; in
/// CLOSING, LAST-ACK and TIME-WAIT it just closes.
#[test]
fn rfc9293_3_10_7_4_rst_in_closing_states() {
    // FIN-WAIT-1
    let mut s = script();
    let c = s.establish_passive();
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    assert_eq!(s.recv().unwrap().ctl, Fin);
    assert_eq!(s.state(c), Some(TcpState::FinWait1));
    s.send(S::new(Rst, 5001, None));
    assert_eq!(s.state(c), Some(TcpState::Closed));
    assert_eq!(
        s.host.tcp.recv(s.now, c, &mut [0u8; 4]),
        Err(TcpError::ConnectionReset)
    );
    // FIN-WAIT-2
    let mut s = script();
    let c = s.establish_passive();
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    s.recv().unwrap();
    s.send(S::new(N, 5001, Some(10_002)));
    assert_eq!(s.state(c), Some(TcpState::FinWait2));
    s.send(S::new(Rst, 5001, None));
    assert_eq!(
        s.host.tcp.recv(s.now, c, &mut [0u8; 4]),
        Err(TcpError::ConnectionReset)
    );
    // CLOSE-WAIT
    let mut s = script();
    let c = s.establish_passive();
    s.send(S::new(Fin, 5001, Some(10_001)));
    assert_eq!(s.state(c), Some(TcpState::CloseWait));
    s.send(S::new(Rst, 5002, None));
    assert_eq!(s.state(c), Some(TcpState::Closed));
    // LAST-ACK
    let mut s = script();
    let c = s.establish_passive();
    s.send(S::new(Fin, 5001, Some(10_001)));
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    assert_eq!(s.state(c), Some(TcpState::LastAck));
    s.send(S::new(Rst, 5002, None));
    assert_eq!(s.state(c), Some(TcpState::Closed));
    assert_eq!(
        s.host.tcp.recv(s.now, c, &mut [0u8; 4]),
        Ok(0),
        "no reset error after our close"
    );
    // CLOSING
    let mut s = script();
    let c = s.establish_passive();
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    s.recv().unwrap();
    s.send(S::new(Fin, 5001, Some(10_001)));
    assert_eq!(s.state(c), Some(TcpState::Closing));
    s.send(S::new(Rst, 5002, None));
    assert_eq!(s.state(c), Some(TcpState::Closed));
    // TIME-WAIT
    let mut s = script();
    let c = s.establish_passive();
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    s.recv().unwrap();
    s.send(S::new(Fin, 5001, Some(10_002)));
    assert_eq!(s.state(c), Some(TcpState::TimeWait));
    // RFC 1337 §3 (fix 1): a RST must not end TIME-WAIT early ("TIME-WAIT assassination").
    s.recv().unwrap();
    s.send(S::new(Rst, 5002, None));
    assert_eq!(s.state(c), Some(TcpState::TimeWait));
    assert_eq!(s.host.stats.tcp.timewait_rst_ignored, 1);
    s.recv_nothing();
}

/// RFC 5961 §4.2: a SYN in a synchronized state draws a challenge ACK and changes nothing.
#[test]
fn rfc5961_4_2_syn_in_established_gets_challenge_ack() {
    let mut s = script();
    let c = s.establish_passive();
    s.send(S::new(Syn, 5001, None));
    let r = s.recv().unwrap();
    assert_eq!((r.ctl, r.seq, r.ack), (N, 10_001, Some(5001)));
    assert_eq!(s.state(c), Some(TcpState::Established));
    assert_eq!(s.host.stats.tcp.challenge_acks, 1);
}

/// RFC 9293 §3.10.7.4 (first step): an unacceptable segment is answered with an ACK and dropped.
#[test]
fn rfc9293_3_10_7_4_out_of_window_data_is_acked_and_dropped() {
    let mut s = script();
    let c = s.establish_passive();
    s.send(S::new(N, 5001 - 100, Some(10_001)).data(&[1; 50])); // entirely old
    let r = s.recv().unwrap();
    assert_eq!((r.seq, r.ack), (10_001, Some(5001)));
    s.send(S::new(N, 5001 + 1_000_000, Some(10_001)).data(&[1; 50])); // far beyond
    assert_eq!(s.recv().unwrap().ack, Some(5001));
    assert!(!s.host.tcp.can_recv(c));
    // ACK of data never sent: ACK and drop (RFC 9293 §3.10.7.4 fifth step).
    s.send(S::new(N, 5001, Some(10_500)).data(b"zz"));
    assert_eq!(s.recv().unwrap().ack, Some(5001));
    assert!(!s.host.tcp.can_recv(c));
}

/// RFC 9293 §3.10.7.4 (eighth step): a FIN is processed only when everything before it
/// arrived; an out-of-order FIN waits for the gap to fill.
#[test]
fn rfc9293_3_10_7_4_fin_after_gap() {
    let mut s = script();
    let c = s.establish_passive();
    s.send(S::new(Fin, 5001 + 5, Some(10_001)).data(b"world"));
    assert_eq!(
        s.recv().unwrap().ack,
        Some(5001),
        "out of order: immediate dup ACK"
    );
    assert_eq!(s.state(c), Some(TcpState::Established));
    s.send(S::new(N, 5001, Some(10_001)).data(b"hello"));
    assert_eq!(s.state(c), Some(TcpState::CloseWait));
    assert_eq!(
        s.recv().unwrap().ack,
        Some(5001 + 11),
        "data and FIN acknowledged"
    );
    let mut b = [0u8; 32];
    assert_eq!(s.host.tcp.recv(s.now, c, &mut b), Ok(10));
    assert_eq!(&b[..10], b"helloworld");
    assert_eq!(s.host.tcp.recv(s.now, c, &mut b), Ok(0));
}

/// RFC 9293 §3.10.7.4: a retransmitted FIN in TIME-WAIT is acknowledged and restarts 2*MSL.
#[test]
fn rfc9293_3_10_7_4_time_wait_fin_restarts_timer() {
    let cfg = TcpConfig::default();
    let mut s = Script::new(&cfg);
    let c = s.establish_passive();
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    s.recv().unwrap();
    s.send(S::new(Fin, 5001, Some(10_002)));
    assert_eq!(s.state(c), Some(TcpState::TimeWait));
    assert_eq!(s.recv().unwrap().ack, Some(5002));
    s.advance(cfg.msl);
    s.send(S::new(Fin, 5001, Some(10_002)));
    assert_eq!(
        s.recv().unwrap().ack,
        Some(5002),
        "retransmitted FIN is ACKed"
    );
    s.advance(cfg.msl * 2 - Duration::from_millis(10));
    assert_eq!(s.state(c), Some(TcpState::TimeWait), "timer restarted");
    s.advance(Duration::from_millis(20));
    assert_eq!(s.state(c), Some(TcpState::Closed));
}

/// SYN flood: SYN-RECEIVED connections per listener are bounded by `max_syn_backlog`; excess
/// SYNs are dropped and counted; memory does not grow. (With SYN cookies off: the cookie
/// answer to the same flood is tested in `syncookie.rs`.)
#[test]
fn syn_flood_is_bounded() {
    let cfg = TcpConfig {
        max_syn_backlog: 16,
        syncookies: crate::tcp::SynCookies::Off,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    s.listen();
    for i in 0..1000u16 {
        s.send_from(20000 + i, S::new(Syn, 1000 + i as u32, None));
        while s.recv().is_some() {}
    }
    assert_eq!(s.host.tcp.connection_count(), 16);
    assert_eq!(s.host.stats.tcp.drop_syn_queue_full, 1000 - 16);
    // The embryonic connections time out after their SYN,ACK retransmissions.
    s.advance(Duration::from_secs(600));
    assert_eq!(s.host.tcp.connection_count(), 0);
}

/// Garbage and hostile segments never panic and never create state.
#[test]
fn garbage_segments_never_panic() {
    let mut s = script();
    let c = s.establish_passive();
    let mut x: u64 = 0x1234_5678;
    for len in 0..2000usize {
        let mut bytes = vec![0u8; len % 80];
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        if bytes.len() >= 4 {
            // Aim some of them at the live connection.
            bytes[0..2].copy_from_slice(&PPORT.to_be_bytes());
            bytes[2..4].copy_from_slice(&LPORT.to_be_bytes());
        }
        s.raw(&bytes);
        while s.recv().is_some() {}
        s.advance(Duration::from_millis(1));
    }
    assert!(s.host.tcp.connection_count() <= 1);
    let _ = c;
}

/// RFC 1122 §4.2.2.13: a new SYN with a higher sequence number reopens a connection that is
/// in TIME-WAIT on a listening port (clients reuse ports quickly).
#[test]
fn rfc1122_4_2_2_13_syn_reopens_time_wait() {
    let mut s = script();
    let c = s.establish_passive();
    s.host.tcp.close(s.now, c);
    assert_eq!(s.recv().unwrap().ctl, Fin);
    s.send(S::new(Fin, 5001, Some(10_002)));
    assert_eq!(s.recv().unwrap().ack, Some(5002));
    assert_eq!(s.host.tcp.timewait_count(), 1, "in TIME-WAIT");
    assert_eq!(
        s.host.tcp.connection_count(),
        0,
        "not a connection any more"
    );
    s.send(S::new(Syn, 900_000, None));
    let r = s.recv().expect("SYN,ACK for the new incarnation");
    assert_eq!((r.ctl, r.ack), (Syn, Some(900_001)));
    // An old duplicate SYN (lower sequence number) does not.
    let mut s = script();
    let c = s.establish_passive();
    s.host.tcp.close(s.now, c);
    s.recv().unwrap();
    s.send(S::new(Fin, 5001, Some(10_002)));
    s.recv().unwrap();
    s.send(S::new(Syn, 4000, None));
    let r = s.recv().unwrap();
    assert_eq!(r.ctl, N, "only an ACK");
}

/// RFC 5961 §7: challenge ACKs are rate limited per connection.
#[test]
fn rfc5961_7_challenge_ack_rate_limit() {
    let cfg = TcpConfig {
        challenge_ack_limit: 3,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    s.establish_passive();
    let mut acks = 0;
    for i in 0..20 {
        s.send(S::new(Rst, 5001 + 10 + i, None));
        while s.recv().is_some() {
            acks += 1;
        }
    }
    assert_eq!(acks, 3);
    assert_eq!(s.host.stats.tcp.drop_challenge_ack_limit, 17);
    s.advance(Duration::from_secs(1));
    s.send(S::new(Syn, 5001, None));
    assert!(s.recv().is_some(), "a new second allows more");
}

/// RFC 9293 §3.10.7.3: SYN,ACK in SYN-SENT establishes (ACK sent), MSS from the option is used
/// for data, and the window in the SYN is not scaled (RFC 7323 §2.2).
#[test]
fn rfc9293_3_10_7_3_syn_ack_establishes_and_sets_mss() {
    let mut s = script();
    let c = s.establish_active(); // peer MSS 1000, no window scale
    s.host.tcp.send(s.now, c, &[9; 3000]).unwrap();
    let mut lens = Vec::new();
    while let Some(r) = s.recv() {
        lens.push(r.data.len());
    }
    assert_eq!(lens, [1000, 1000, 1000]);
    let info = s.host.tcp.info(c).unwrap();
    assert_eq!((info.mss, info.snd_wnd), (1000, 65535));
}

/// RFC 9293 §3.10.7.1: SYN+FIN to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
/// with SYN and FIN both counted in SEG.LEN (smoltcp's parser refuses the combination, so it
/// used to be dropped silently); to a listening port it is dropped, as Linux does.
#[test]
fn rfc9293_3_10_7_1_syn_fin_to_closed_port_gets_rst() {
    let mut s = script();
    let mut seg = vec![0u8; 20];
    {
        let mut p = smoltcp::wire::TcpPacket::new_unchecked(&mut seg[..]);
        p.set_src_port(PPORT);
        p.set_dst_port(LPORT);
        p.set_seq_number(smoltcp::wire::TcpSeqNumber(7000));
        p.set_header_len(20);
        p.set_syn(true);
        p.set_fin(true);
        p.set_window_len(1000);
    }
    s.raw(&seg);
    let r = s.recv().expect("RST");
    assert_eq!((r.ctl, r.seq, r.ack), (Rst, 0, Some(7002)));
    s.listen();
    s.raw(&seg);
    s.recv_nothing();
}
