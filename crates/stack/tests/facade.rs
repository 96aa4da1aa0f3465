//! Two stacks wired back to back through the facade (no link crate): ARP, ping, UDP,
//! fragmentation, ICMP errors, and the drop counters, each citing the rule it checks.

use tcplab_stack::{
    Config, Duration, EthernetAddress, IcmpErrorKind, Instant, Ipv4Addr, PingEvent, SocketAddrV4,
    Stack,
};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn config(last: u8, addr: Ipv4Addr) -> Config {
    let mut c = Config::new(EthernetAddress([2, 0, 0, 0, 0, last]), addr, 24);
    c.seed = last as u64;
    c
}

/// Two stacks and a wire with zero delay; `drop_if` can eat frames.
struct Pair {
    a: Stack,
    b: Stack,
    now: Instant,
    frames: usize,
}

impl Pair {
    fn new() -> Pair {
        Pair::with(config(1, A), config(2, B))
    }

    fn with(a: Config, b: Config) -> Pair {
        Pair {
            a: Stack::new(a).unwrap(),
            b: Stack::new(b).unwrap(),
            now: Instant::ZERO,
            frames: 0,
        }
    }

    /// Exchange frames until both stacks are quiet.
    fn exchange(&mut self) {
        let mut buf = vec![0u8; 14 + 1500];
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
                self.b.handle_frame(self.now, &buf[..n]);
                self.frames += 1;
                moved = true;
            }
            while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
                self.a.handle_frame(self.now, &buf[..n]);
                self.frames += 1;
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("stacks never went quiet");
    }

    /// Jump to the next deadline of either stack and run timers.
    fn advance(&mut self) -> bool {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) => {
                self.now = self.now.max(t);
                self.a.handle_timeout(self.now);
                self.b.handle_timeout(self.now);
                true
            }
            None => false,
        }
    }
}

#[test]
fn rfc792_ping_resolves_arp_and_gets_reply() {
    let mut p = Pair::new();
    p.a.ping(p.now, B, 7, 1, 56).unwrap();
    p.exchange();
    match p.a.poll_ping() {
        Some(PingEvent::Reply {
            from,
            ident,
            seq,
            ttl,
            bytes,
            ..
        }) => {
            assert_eq!((from, ident, seq, ttl, bytes), (B, 7, 1, 64, 64));
        }
        other => panic!("expected a reply, got {other:?}"),
    }
    // Both learned each other (RFC 826: the target adds the requester).
    assert!(p.a.arp_entries().iter().any(|e| e.ip == B));
    assert!(p.b.arp_entries().iter().any(|e| e.ip == A));
    assert_eq!(p.b.stats().icmp.echo_replies_sent, 1);
}

#[test]
fn rfc791_large_ping_is_fragmented_and_echoed_exactly() {
    let mut p = Pair::new();
    p.a.ping(p.now, B, 1, 1, 4000).unwrap();
    p.exchange();
    match p.a.poll_ping() {
        Some(PingEvent::Reply { bytes, .. }) => assert_eq!(bytes, 4008),
        other => panic!("expected a reply, got {other:?}"),
    }
    assert_eq!(p.b.stats().ipv4.reassembled, 1);
    assert_eq!(p.a.stats().ipv4.reassembled, 1);
    assert_eq!(p.a.stats().ipv4.fragments_out, 3);
}

#[test]
fn rfc768_udp_exchange_and_port_unreachable() {
    let mut p = Pair::new();
    let sa = p.a.udp_bind(SocketAddrV4::new(A, 0)).unwrap();
    let sb = p.b.udp_bind(SocketAddrV4::new(B, 7)).unwrap();
    let data: Vec<u8> = (0..8000u32).map(|i| (i * 7) as u8).collect();
    p.a.udp_send_to(p.now, sa, &data, SocketAddrV4::new(B, 7))
        .unwrap();
    p.exchange();
    let mut buf = vec![0u8; 65536];
    let (n, from) = p.b.udp_recv_from(sb, &mut buf).unwrap().unwrap();
    assert_eq!(&buf[..n], &data[..]);
    assert_eq!(from, p.a.udp_local_addr(sa).unwrap());
    // RFC 1122 §4.1.3.1: no socket -> port unreachable, stored on the sender's socket.
    p.a.udp_send_to(p.now, sa, b"x", SocketAddrV4::new(B, 9))
        .unwrap();
    p.exchange();
    assert_eq!(p.b.stats().icmp.unreachable_sent, 1);
    assert_eq!(p.a.udp_take_error(sa), Some(IcmpErrorKind::PortUnreachable));
    assert_eq!(p.a.udp_take_error(sa), None);
}

#[test]
fn rfc1122_2_3_2_2_unresolvable_destination_gives_up_and_reports() {
    let mut p = Pair::new();
    let ghost = Ipv4Addr::new(198, 18, 0, 99);
    p.a.ping(p.now, ghost, 1, 1, 8).unwrap();
    p.exchange();
    let mut steps = 0;
    while p.a.poll_ping().is_none() {
        assert!(p.advance(), "no deadline left before the ping failed");
        p.exchange();
        steps += 1;
        assert!(steps < 100);
    }
    assert_eq!(p.a.stats().arp.resolution_failed, 1);
    assert!(p.now >= Instant::ZERO + Duration::from_secs(7));
}

#[test]
fn rfc1122_3_3_1_no_route_is_an_error() {
    let mut p = Pair::new();
    let far = Ipv4Addr::new(198, 19, 5, 5);
    assert!(p.a.ping(p.now, far, 1, 1, 8).is_err());
    let s = p.a.udp_bind(SocketAddrV4::new(A, 0)).unwrap();
    assert!(p
        .a
        .udp_send_to(p.now, s, b"x", SocketAddrV4::new(far, 1))
        .is_err());
    assert_eq!(p.a.stats().ipv4.no_route, 2);
}

#[test]
fn rfc1122_3_3_1_gateway_is_next_hop() {
    let mut ca = config(1, A);
    ca.gateway = Some(B);
    let mut p = Pair::with(ca, config(2, B));
    let far = Ipv4Addr::new(198, 19, 5, 5);
    p.a.ping(p.now, far, 1, 1, 8).unwrap();
    p.exchange();
    // The request went to B's MAC; B is not `far` and does not forward: not for us.
    assert_eq!(p.b.stats().ipv4.not_for_us, 1);
}

#[test]
fn events_render_with_rfc_sections() {
    let mut p = Pair::new();
    p.a.set_events(true);
    p.a.ping(p.now, B, 1, 1, 8).unwrap();
    p.exchange();
    let lines: Vec<String> = std::iter::from_fn(|| p.a.poll_event())
        .map(|e| e.kind.to_string())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("arp: who-has 198.18.0.2 tell 198.18.0.1")
                && l.contains("[RFC 826]")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("icmp echo reply")),
        "{lines:#?}"
    );
}

#[test]
fn rfc1122_2_3_2_2_udp_to_unresolvable_neighbour_reports_host_unreachable() {
    let mut p = Pair::new();
    let ghost = Ipv4Addr::new(198, 18, 0, 99);
    let s = p.a.udp_bind(SocketAddrV4::new(A, 0)).unwrap();
    p.a.udp_send_to(p.now, s, b"anyone?", SocketAddrV4::new(ghost, 9))
        .unwrap();
    p.exchange();
    assert!(p.a.memory_usage().arp_pending > 0);
    while p.a.udp_take_error(s).is_none() {
        assert!(p.advance(), "no deadline left before the send failed");
        p.exchange();
    }
    assert_eq!(p.a.memory_usage().arp_pending, 0);
    assert_eq!(p.a.stats().arp.pending_dropped_unresolved, 1);
    // RFC 1122 §2.3.2.1: requests were retransmitted, not flooded.
    assert_eq!(
        p.a.stats().arp.requests_sent,
        1 + p.a.config().arp.max_requests as u64
    );
}
