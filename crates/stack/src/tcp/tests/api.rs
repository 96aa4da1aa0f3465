//! User calls (RFC 9293 §3.9.1): CLOSE with unread data, ABORT, closing a listener, the
//! connection limit, and the orphaned FIN-WAIT-2 bound.

use smoltcp::wire::TcpControl::{self, Fin, Rst, Syn};

use super::script::*;
use crate::error::TcpError;
use crate::tcp::{TcpConfig, TcpState};
use crate::time::Duration;

const N: TcpControl = TcpControl::None;

/// RFC 9293 §3.10.5: ABORT sends <SEQ=SND.NXT><CTL=RST> and the connection is gone.
#[test]
fn rfc9293_3_10_5_abort_sends_rst() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive();
    s.host.tcp.abort(s.now, c);
    let r = s.recv().unwrap();
    assert_eq!((r.ctl, r.seq), (Rst, 10_001));
    assert_eq!(s.host.tcp.connection_count(), 0);
    assert_eq!(s.host.tcp.state(c), None, "handle released");
}

/// RFC 1122 §4.2.2.13: CLOSE with unread received data resets instead of a graceful FIN.
#[test]
fn rfc1122_4_2_2_13_close_with_unread_data_resets() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive();
    s.send(S::new(N, 5001, Some(10_001)).data(b"unread"));
    while s.recv().is_some() {}
    s.host.tcp.close(s.now, c);
    let r = s.recv().unwrap();
    assert_eq!(r.ctl, Rst);
    assert_eq!(s.host.tcp.connection_count(), 0);
}

/// RFC 9293 §3.10.4: CLOSE of a drained connection is a FIN; the orphaned connection finishes
/// alone, and FIN-WAIT-2 is bounded by `fin_wait2_timeout` when the peer never closes.
#[test]
fn orphaned_fin_wait_2_is_bounded() {
    let cfg = TcpConfig {
        fin_wait2_timeout: Duration::from_secs(5),
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let c = s.establish_passive();
    s.host.tcp.close(s.now, c);
    assert_eq!(s.recv().unwrap().ctl, Fin);
    s.send(S::new(N, 5001, Some(10_002)));
    assert_eq!(s.host.tcp.connection_count(), 1, "FIN-WAIT-2");
    s.advance(Duration::from_secs(4));
    assert_eq!(s.host.tcp.connection_count(), 1);
    s.advance(Duration::from_secs(2));
    assert_eq!(
        s.host.tcp.connection_count(),
        0,
        "given up after the timeout"
    );
}

/// Closing a listener resets connections in its accept queue and drops embryonic ones.
#[test]
fn close_listener_resets_unaccepted_connections() {
    let mut s = Script::new(&TcpConfig::default());
    let l = s.listen();
    s.send(S::new(Syn, 5000, None));
    assert_eq!(s.recv().unwrap().ctl, Syn);
    s.send(S::new(N, 5001, Some(10_001)));
    s.send_from(PPORT + 1, S::new(Syn, 7000, None));
    assert_eq!(s.recv().unwrap().ctl, Syn);
    assert_eq!(s.host.tcp.connection_count(), 2);
    s.host.tcp.close_listener(l);
    let mut rsts = 0;
    while let Some(r) = s.recv() {
        assert_eq!(r.ctl, Rst);
        rsts += 1;
    }
    assert_eq!(rsts, 2);
    assert_eq!(s.host.tcp.connection_count(), 0);
    assert_eq!(s.host.tcp.accept(l), Err(TcpError::InvalidHandle));
    // The port is free again: a SYN now gets RST.
    s.send(S::new(Syn, 9000, None));
    assert_eq!(s.recv().unwrap().ctl, Rst);
}

/// `max_connections` bounds active opens too; ports are not reused while a tuple is live.
#[test]
fn connection_limit_and_ports() {
    let cfg = TcpConfig {
        max_connections: 3,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let now = s.now;
    let peer = s.peer;
    let (tcp, mut ctx) = s.host.ctx();
    let mut ports = Vec::new();
    for _ in 0..3 {
        let c = tcp
            .connect(now, &mut ctx, super::harness::A_IP, peer)
            .unwrap();
        ports.push(tcp.info(c).unwrap().local.unwrap().port());
    }
    assert_eq!(
        tcp.connect(now, &mut ctx, super::harness::A_IP, peer),
        Err(TcpError::TooManyConnections)
    );
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    assert!(ports.iter().all(|p| *p >= 49152));
}

/// Calls on a connection in the wrong state give the errors std users expect.
#[test]
fn error_kinds_for_calls() {
    let mut s = Script::new(&TcpConfig::default());
    let c = s.establish_passive();
    s.host.tcp.shutdown_write(s.now, c).unwrap();
    assert_eq!(s.host.tcp.send(s.now, c, b"x"), Err(TcpError::BrokenPipe));
    let mut b = [0u8; 4];
    assert_eq!(s.host.tcp.recv(s.now, c, &mut b), Err(TcpError::WouldBlock));
    assert_eq!(
        s.host.tcp.send(s.now, crate::tcp::ConnHandle(999), b"x"),
        Err(TcpError::InvalidHandle)
    );
    assert_eq!(s.state(c), Some(TcpState::FinWait1));
}
