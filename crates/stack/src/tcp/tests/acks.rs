//! When ACKs go out: one per two full-sized segments however the link batches them
//! (RFC 1122 §4.2.3.2, RFC 5681 §4.2), and window updates only when the wire value changes
//! (RFC 9293 §3.8.6.2.2).

use smoltcp::wire::TcpControl::None as N;

use super::script::{Script, S};
use crate::tcp::TcpConfig;

/// Eight full-sized segments processed before output runs get four ACKs, each for its own
/// point of the stream (none a duplicate of another).
#[test]
fn rfc1122_4_2_3_2_ack_every_second_segment_of_a_batch() {
    let mut s = Script::new(&TcpConfig::default());
    let _c = s.establish_passive(); // peer MSS 1000
    for i in 0..8u32 {
        s.send(S::new(N, 5001 + i * 1000, Some(10_001)).data(&[1u8; 1000]));
    }
    let mut acks = Vec::new();
    while let Some(a) = s.recv() {
        assert!(a.data.is_empty());
        acks.push(a.ack.unwrap());
    }
    assert_eq!(acks, [7001, 9001, 11_001, 13_001]);
}

/// An application read that does not change the window on the wire sends nothing: the
/// same ACK number with the same (capped) window would be a duplicate ACK to the sender.
#[test]
fn rfc5681_4_2_no_window_update_identical_to_last_ack() {
    let mut s = Script::new(&TcpConfig::default()); // 256 KiB receive buffer
    let c = s.establish_passive(); // the peer's SYN has no window scale: field capped at 65535
    for i in 0..40u32 {
        s.send(S::new(N, 5001 + i * 1000, Some(10_001)).data(&[2u8; 1000]));
    }
    let mut last = None;
    while let Some(a) = s.recv() {
        last = Some(a);
    }
    let last = last.expect("ACKs");
    assert_eq!((last.ack, last.win), (Some(45_001), 65535));
    let mut buf = vec![0u8; 40_000];
    assert_eq!(s.host.tcp.recv(s.now, c, &mut buf), Ok(40_000));
    s.recv_nothing();
}

/// A read that does open the window on the wire is announced at once.
#[test]
fn rfc9293_3_8_6_2_2_window_update_when_the_window_opens() {
    let cfg = TcpConfig {
        recv_buffer: 8000,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let c = s.establish_passive();
    for i in 0..8u32 {
        s.send(S::new(N, 5001 + i * 1000, Some(10_001)).data(&[3u8; 1000]));
    }
    let mut last = None;
    while let Some(a) = s.recv() {
        last = Some(a);
    }
    assert_eq!(last.unwrap().win, 0, "buffer full");
    let mut buf = vec![0u8; 8000];
    assert_eq!(s.host.tcp.recv(s.now, c, &mut buf), Ok(8000));
    let u = s.recv().expect("window update");
    assert_eq!((u.ack, u.win), (Some(13_001), 8000));
    s.recv_nothing();
}
