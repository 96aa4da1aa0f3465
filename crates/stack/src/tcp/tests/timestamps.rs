//! RFC 7323 timestamps on the wire: negotiation (§3.2), the option layout Linux uses, PAWS
//! (§5.3) and RTTM (§4.1), with scripted segments.

use smoltcp::wire::TcpControl::{None as N, Syn};

use super::script::{Script, LPORT, S};
use crate::tcp::{TcpConfig, TcpState};
use crate::time::Duration;

/// Passive open where the peer's SYN carries timestamps (TSval 100).
fn establish_with_ts(s: &mut Script) -> crate::tcp::ConnHandle {
    let l = s.listen();
    let mut syn = S::new(Syn, 5000, None).ts(100, 0);
    syn.mss = Some(1000);
    s.send(syn);
    let synack = s.recv().expect("SYN,ACK");
    let (_, echo) = synack
        .ts
        .expect("RFC 7323 §3.2: SYN,ACK answers with timestamps");
    assert_eq!(echo, 100, "TSecr echoes the SYN's TSval");
    let our = synack.ts.unwrap().0;
    s.send(S::new(N, 5001, Some(10_001)).ts(101, our));
    s.host.tcp.accept(l).expect("accepted")
}

/// RFC 7323 §3.2 and Linux's layout: our SYN carries "mss, sackOK, TS, nop, wscale".
#[test]
fn rfc7323_3_2_syn_carries_timestamps_in_linux_layout() {
    let mut s = Script::new(&TcpConfig::default());
    let now = s.now;
    let (tcp, _) = s.host.ctx();
    tcp.connect_inner(now, super::harness::A_IP, Some(LPORT), s.peer)
        .unwrap();
    let (syn, bytes) = s.recv_with_bytes().unwrap();
    let (tsval, tsecr) = syn.ts.expect("timestamps offered");
    assert_eq!(tsecr, 0);
    assert_eq!(bytes[12] >> 4, 10, "40-byte header");
    let opts = &bytes[20..40];
    assert_eq!(&opts[0..2], &[2, 4], "MSS first");
    assert_eq!(&opts[4..6], &[4, 2], "SACK permitted");
    assert_eq!(&opts[6..8], &[8, 10], "timestamps");
    assert_eq!(&opts[8..12], &tsval.to_be_bytes());
    assert_eq!(&opts[16..20], &[1, 3, 3, 7], "nop, wscale 7");
    // Switched off, the SYN has none.
    let cfg = TcpConfig {
        timestamps: false,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let now = s.now;
    let (tcp, _) = s.host.ctx();
    tcp.connect_inner(now, super::harness::A_IP, Some(LPORT), s.peer)
        .unwrap();
    assert_eq!(s.recv().unwrap().ts, None);
}

/// RFC 7323 §3.2: once negotiated, every segment carries TS as "nop, nop, TS" (32-bit
/// aligned), echoing the peer's latest TSval; the MSS shrinks by the 12 option bytes.
#[test]
fn rfc7323_3_2_every_segment_carries_timestamps() {
    let mut s = Script::new(&TcpConfig::default());
    let c = establish_with_ts(&mut s);
    let info = s.host.tcp.info(c).unwrap();
    assert!(info.timestamps);
    assert_eq!(info.mss, 988, "1000 - 12 bytes of timestamp option");
    s.host.tcp.send(s.now, c, &[7u8; 3000]).unwrap();
    let (d, bytes) = s.recv_with_bytes().unwrap();
    assert_eq!(d.data.len(), 988);
    assert_eq!(&bytes[20..24], &[1, 1, 8, 10], "nop, nop, TS");
    assert_eq!(d.ts.unwrap().1, 101, "echoes the latest TSval");
}

/// RFC 7323 §3.2: no timestamps unless the peer's SYN had them.
#[test]
fn rfc7323_3_2_not_used_when_peer_does_not_offer() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive();
    assert!(!s.host.tcp.info(c).unwrap().timestamps);
    s.host.tcp.send(s.now, c, b"hello").unwrap();
    assert_eq!(s.recv().unwrap().ts, None);
}

/// RFC 7323 §5.3 R1: a segment with an older TSval is an old duplicate: dropped, answered
/// with an ACK, counted; its data never reaches the application.
#[test]
fn rfc7323_5_3_paws_drops_old_duplicate() {
    let mut s = Script::new(&TcpConfig::default());
    let c = establish_with_ts(&mut s);
    s.send(S::new(N, 5001, Some(10_001)).ts(200, 0).data(b"new"));
    let mut buf = [0u8; 16];
    assert_eq!(s.host.tcp.recv(s.now, c, &mut buf), Ok(3));
    while s.recv().is_some() {}
    // An in-window segment, but stamped before the last one: PAWS rejects it.
    s.send(S::new(N, 5004, Some(10_001)).ts(150, 0).data(b"old"));
    let a = s.recv().expect("PAWS answers with an ACK");
    assert_eq!(a.ack, Some(5004));
    assert_eq!(s.host.stats.tcp.drop_paws, 1);
    assert!(
        s.host.tcp.recv(s.now, c, &mut buf).is_err(),
        "nothing delivered"
    );
    // A RST is never subject to PAWS (§5.3 R1 "if the RST bit is not set").
    s.send(S::new(smoltcp::wire::TcpControl::Rst, 5004, None).ts(1, 0));
    assert_eq!(s.state(c), Some(TcpState::Closed));
}

/// RFC 7323 §4.1 RTTM: the RTT comes from the echoed TSval, also for a retransmission that
/// Karn's rule would not time.
#[test]
fn rfc7323_4_1_rtt_from_echoed_timestamp_after_retransmission() {
    let mut s = Script::new(&TcpConfig::default());
    let c = establish_with_ts(&mut s);
    s.host.tcp.send(s.now, c, b"data").unwrap();
    let first = s.recv().unwrap();
    assert_eq!(first.data, b"data");
    // Lost: the RTO (1 s initial) resends it.
    s.advance(Duration::from_millis(1100));
    let again = s.recv().expect("retransmission");
    assert_eq!(again.seq, first.seq);
    let before = s.host.tcp.info(c).unwrap().srtt;
    s.advance(Duration::from_millis(30));
    s.send(S::new(N, 5001, Some(10_005)).ts(300, again.ts.unwrap().0));
    let srtt = s.host.tcp.info(c).unwrap().srtt.expect("sampled");
    assert_ne!(Some(srtt), before);
    // The handshake measured 0 ms (the script answers at once); RFC 6298 (2.3) then gives
    // SRTT = 7/8 * 0 + 1/8 * 30 ms for the 30 ms the retransmission took.
    assert_eq!(srtt, Duration::from_micros(3750), "{srtt:?}");
}
