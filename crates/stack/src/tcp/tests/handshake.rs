//! Connection establishment and release end to end: RFC 9293 §3.5 (three-way handshake,
//! simultaneous open), §3.6 (closing, simultaneous close, half-close), §3.4.2 (TIME-WAIT),
//! §3.10.7.1 (RST for a closed port), and the listener backlog.

use core::net::{Ipv4Addr, SocketAddrV4};

use super::harness::*;
use crate::error::TcpError;
use crate::tcp::{TcpConfig, TcpEvent, TcpState};
use crate::time::Duration;

/// RFC 9293 §3.5 figure 6 + §3.6 figure 12: handshake, 100 kB transfer, close, TIME-WAIT.
#[test]
fn rfc9293_3_5_handshake_transfer_and_close() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 1);
    let data = pattern(100_000, 1);
    let f = transfer(&mut p, data.clone(), Duration::from_secs(30));
    assert!(f.eof, "server saw EOF");
    assert_eq!(f.received, data, "byte-exact");
    let c = f.client.unwrap();
    // The client half-closed first; after the server's FIN it must be in TIME-WAIT.
    p.run_until(Duration::from_secs(1), |p| {
        p.b.tcp.state(c) == Some(TcpState::TimeWait)
    });
    assert_eq!(p.b.tcp.state(c), Some(TcpState::TimeWait));
    let info = p.b.tcp.info(c).unwrap();
    assert_eq!(info.bytes_acked, 100_000);
    assert!(info.srtt.is_some());
    // RFC 9293 §3.4.2: TIME-WAIT lasts 2*MSL, then CLOSED.
    let entered = p.now;
    p.run_until(Duration::from_secs(120), |p| {
        p.b.tcp.state(c) == Some(TcpState::Closed)
    });
    assert_eq!(p.b.tcp.state(c), Some(TcpState::Closed));
    let waited = p.now - entered;
    assert!(
        waited >= cfg.msl * 2 - Duration::from_millis(100),
        "waited {:?}",
        waited
    );
    assert!(
        waited <= cfg.msl * 2 + Duration::from_secs(1),
        "waited {:?}",
        waited
    );
    // The server closed as passive closer: LAST-ACK -> CLOSED, gone from the table.
    assert_eq!(p.a.tcp.connection_count(), 0);
    p.b.tcp.close(p.now, c);
    assert_eq!(p.b.tcp.connection_count(), 0);
    // Events recorded the transitions.
    let ev = p.b.take_events();
    let states: Vec<TcpState> = ev
        .iter()
        .filter_map(|e| {
            if let TcpEvent::StateChange { to, .. } = e {
                Some(*to)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        states,
        [
            TcpState::SynSent,
            TcpState::Established,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::TimeWait,
            TcpState::Closed
        ]
    );
    assert!(ev
        .iter()
        .all(|e| e.rfc().is_some() && !e.to_string().is_empty()));
}

/// RFC 9293 §3.10.7.1: a SYN to a closed port gets RST,ACK; the connect fails with
/// ConnectionRefused at once (one round trip).
#[test]
fn rfc9293_3_10_7_1_connect_to_closed_port_is_refused() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 2);
    let mut f = Flow::start(&mut p, vec![1, 2, 3], 81, false);
    let start = p.now;
    p.run_until(Duration::from_secs(5), |p| {
        f.poll(p, None);
        f.client_error.is_some()
    });
    assert_eq!(f.client_error, Some(TcpError::ConnectionRefused));
    assert!(
        p.now - start <= Duration::from_millis(50),
        "refused within one RTT"
    );
    assert_eq!(p.a.stats.tcp.resets_sent, 1);
}

/// RFC 9293 §3.5 figure 8: simultaneous open: both sides SYN-SENT -> SYN-RECEIVED ->
/// ESTABLISHED, then data flows.
#[test]
fn rfc9293_3_5_simultaneous_open() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 3);
    let now = p.now;
    let (tcp, mut ctx) = p.a.ctx();
    let ca = tcp
        .connect_inner(now, A_IP, Some(5000), SocketAddrV4::new(B_IP, 6000))
        .unwrap();
    let _ = &mut ctx;
    let (tcp, _ctx) = p.b.ctx();
    let cb = tcp
        .connect_inner(now, B_IP, Some(6000), SocketAddrV4::new(A_IP, 5000))
        .unwrap();
    p.run_until(Duration::from_secs(5), |p| {
        p.a.tcp.state(ca) == Some(TcpState::Established)
            && p.b.tcp.state(cb) == Some(TcpState::Established)
    });
    assert_eq!(p.a.tcp.state(ca), Some(TcpState::Established));
    assert_eq!(p.b.tcp.state(cb), Some(TcpState::Established));
    let ev = p.a.take_events();
    assert!(ev.iter().any(|e| matches!(
        e,
        TcpEvent::StateChange {
            to: TcpState::SynReceived,
            ..
        }
    )));
    p.a.tcp.send(p.now, ca, b"hello").unwrap();
    p.drive(Duration::from_secs(1));
    let mut buf = [0u8; 16];
    assert_eq!(p.b.tcp.recv(p.now, cb, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
}

/// RFC 9293 §3.6 figure 13: simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both.
#[test]
fn rfc9293_3_6_simultaneous_close() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 4);
    let mut f = Flow::start(&mut p, Vec::new(), 80, true);
    f.client_shut = true; // keep the flow app from closing by itself
    p.run_until(Duration::from_secs(5), |p| {
        f.poll(p, None);
        f.server.is_some() && p.b.tcp.state(f.client.unwrap()) == Some(TcpState::Established)
    });
    let (c, s) = (f.client.unwrap(), f.server.unwrap());
    p.b.tcp.shutdown_write(p.now, c).unwrap();
    p.a.tcp.shutdown_write(p.now, s).unwrap();
    p.run_until(Duration::from_secs(5), |p| {
        p.a.tcp.state(s) == Some(TcpState::TimeWait) && p.b.tcp.state(c) == Some(TcpState::TimeWait)
    });
    for h in [&mut p.a, &mut p.b] {
        let ev = h.take_events();
        assert!(
            ev.iter().any(|e| matches!(
                e,
                TcpEvent::StateChange {
                    to: TcpState::Closing,
                    ..
                }
            )),
            "both pass through CLOSING"
        );
    }
    assert_eq!(p.a.tcp.state(s), Some(TcpState::TimeWait));
    assert_eq!(p.b.tcp.state(c), Some(TcpState::TimeWait));
}

/// RFC 9293 §3.6 (half-close): after our FIN the peer may still send data to us, which we read
/// in FIN-WAIT-2; then CLOSE-WAIT on the other side ends with its FIN.
#[test]
fn rfc9293_3_6_half_close_data_flows_in_fin_wait_2() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 5);
    let mut f = Flow::start(&mut p, Vec::new(), 80, true);
    f.read_enabled = false;
    p.run_until(Duration::from_secs(5), |p| {
        f.poll(p, None);
        f.server.is_some() && p.b.tcp.state(f.client.unwrap()) == Some(TcpState::FinWait2)
    });
    let (c, s) = (f.client.unwrap(), f.server.unwrap());
    assert_eq!(p.a.tcp.state(s), Some(TcpState::CloseWait));
    let mut buf = [0u8; 8];
    assert_eq!(p.a.tcp.recv(p.now, s, &mut buf), Ok(0), "EOF");
    let reply = pattern(50_000, 5);
    let mut sent = 0;
    let mut got = Vec::new();
    p.run_until(Duration::from_secs(10), |p| {
        if sent < reply.len() {
            sent += p.a.tcp.send(p.now, s, &reply[sent..]).unwrap_or(0);
        }
        let mut b = [0u8; 4096];
        while let Ok(n) = p.b.tcp.recv(p.now, c, &mut b) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&b[..n]);
        }
        got.len() == reply.len()
    });
    assert_eq!(got, reply);
    assert_eq!(p.b.tcp.state(c), Some(TcpState::FinWait2));
    p.a.tcp.close(p.now, s);
    p.run_until(Duration::from_secs(5), |p| {
        p.b.tcp.state(c) == Some(TcpState::TimeWait)
    });
    assert_eq!(p.b.tcp.state(c), Some(TcpState::TimeWait));
    assert_eq!(p.b.tcp.recv(p.now, c, &mut buf), Ok(0));
}

/// Listen backlog: with an accept queue of 2 and no accept() calls, only 2 connections are
/// established at the server; the rest complete once the application accepts.
#[test]
fn listen_backlog_limits_accept_queue() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 6);
    let l =
        p.a.tcp
            .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 2)
            .unwrap();
    let mut clients = Vec::new();
    for _ in 0..5 {
        let now = p.now;
        let (tcp, mut ctx) = p.b.ctx();
        clients.push(
            tcp.connect(now, &mut ctx, B_IP, SocketAddrV4::new(A_IP, 80))
                .unwrap(),
        );
    }
    p.run_until(Duration::from_secs(3), |_| false);
    let queued = p.a.tcp.listeners[&l].accept.len();
    assert_eq!(queued, 2, "accept queue bounded by backlog");
    assert!(p.a.stats.tcp.drop_accept_queue_full > 0);
    let mut accepted = Vec::new();
    p.run_until(Duration::from_secs(120), |p| {
        while let Ok(c) = p.a.tcp.accept(l) {
            accepted.push(c);
        }
        accepted.len() == 5
    });
    assert_eq!(accepted.len(), 5, "the others get in after accept()");
    for c in clients {
        assert_eq!(p.b.tcp.state(c), Some(TcpState::Established));
    }
}

/// Many parallel connections through one listener, each transferring its own data.
#[test]
fn many_parallel_connections_through_one_listener() {
    let cfg = TcpConfig::default();
    let mut p = Pair::new(&cfg, 7);
    p.impair = Impair {
        loss: 2.0,
        dup: 1.0,
        reorder: 2.0,
    };
    let l =
        p.a.tcp
            .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 64)
            .unwrap();
    let n = 40;
    let mut flows: Vec<Flow> = (0..n)
        .map(|i| {
            let mut f = Flow::start(&mut p, pattern(20_000 + i * 100, i as u64), 80, false);
            f.listener = None;
            f
        })
        .collect();
    // Accept in arrival order; match server connections to flows by the client's port.
    let mut by_port = std::collections::HashMap::new();
    p.run_until(Duration::from_secs(120), |p| {
        while let Ok(s) = p.a.tcp.accept(l) {
            let port = p.a.tcp.info(s).unwrap().remote.unwrap().port();
            by_port.insert(port, s);
        }
        for f in flows.iter_mut() {
            if f.server.is_none() {
                let port =
                    p.b.tcp
                        .info(f.client.unwrap())
                        .unwrap()
                        .local
                        .unwrap()
                        .port();
                f.server = by_port.get(&port).copied();
            }
            f.poll(p, None);
        }
        flows.iter().all(|f| f.eof)
    });
    for (i, f) in flows.iter().enumerate() {
        assert!(f.eof, "flow {i} finished");
        assert_eq!(f.received, f.data, "flow {i} byte-exact");
    }
}
