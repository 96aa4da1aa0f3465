//! TIME-WAIT as compact entries (RFC 9293 §3.4.2, RFC 1337, RFC 6191): outside the
//! connection limit, bounded, answering what arrives.

use smoltcp::wire::TcpControl::{Fin, None as N, Syn};

use super::script::{Script, S};
use crate::tcp::TcpConfig;

/// Open a connection from peer port `port`, let the server close first (HTTP/1.0 style) and
/// the peer answer with its FIN, leaving the server in TIME-WAIT.
fn one_request(s: &mut Script, l: crate::tcp::ListenerHandle, port: u16) -> bool {
    let mut syn = S::new(Syn, 5000, None);
    syn.mss = Some(1000);
    s.send_from(port, syn);
    let Some(synack) = s.recv() else {
        return false;
    };
    if synack.ctl != Syn {
        return false;
    }
    s.send_from(port, S::new(N, 5001, Some(synack.seq + 1)));
    let Ok(c) = s.host.tcp.accept(l) else {
        return false;
    };
    s.host.tcp.close(s.now, c);
    let fin = s.recv().expect("our FIN");
    assert_eq!(fin.ctl, Fin);
    s.send_from(port, S::new(Fin, 5001, Some(fin.seq + 1)));
    let ack = s.recv().expect("ACK of the peer's FIN");
    assert_eq!(ack.ack, Some(5002));
    true
}

/// The `ab -c 20` stall: TIME-WAIT must not use up `max_connections`.
#[test]
fn rfc9293_3_4_2_time_wait_outside_connection_limit() {
    let cfg = TcpConfig {
        max_connections: 4,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let l = s.listen();
    for i in 0..50u16 {
        assert!(one_request(&mut s, l, 30_000 + i), "request {i} refused");
    }
    assert_eq!(s.host.tcp.timewait_count(), 50);
    assert_eq!(s.host.tcp.connection_count(), 0);
    assert_eq!(s.host.stats.tcp.drop_too_many_connections, 0);
    // 2*MSL later they are all gone.
    s.advance(cfg.msl * 2 + crate::time::Duration::from_secs(1));
    assert_eq!(s.host.tcp.timewait_count(), 0);
}

/// The table has its own bound: the oldest entries are dropped early and counted
/// (Linux `tcp_max_tw_buckets`).
#[test]
fn time_wait_table_is_bounded() {
    let cfg = TcpConfig {
        max_timewait: 3,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let l = s.listen();
    for i in 0..10u16 {
        assert!(one_request(&mut s, l, 30_000 + i));
    }
    assert_eq!(s.host.tcp.timewait_count(), 3);
    assert_eq!(s.host.stats.tcp.drop_timewait_full, 7);
    assert_eq!(s.host.stats.tcp.timewait_entered, 10);
}

/// A segment for a TIME-WAIT 4-tuple that is out of window draws one ACK, then the rate
/// limit holds; a bare in-window ACK draws nothing.
#[test]
fn rfc9293_3_10_7_4_time_wait_answers_unacceptable_segments_once() {
    let mut s = Script::new(&TcpConfig::default());
    let l = s.listen();
    assert!(one_request(&mut s, l, 30_000));
    s.send_from(30_000, S::new(N, 5002, Some(10_002)));
    s.recv_nothing();
    s.send_from(30_000, S::new(N, 9_000, Some(10_002)).data(b"x"));
    let a = s.recv().expect("ACK");
    assert_eq!((a.seq, a.ack), (10_002, Some(5002)));
    s.send_from(30_000, S::new(N, 9_001, Some(10_002)).data(b"x"));
    s.recv_nothing();
    assert_eq!(s.host.stats.tcp.timewait_acks, 2, "FIN's ACK and this one");
}
