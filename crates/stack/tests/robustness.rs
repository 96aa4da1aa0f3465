//! Property tests: whatever bytes arrive, the stack never panics and its bounded queues stay
//! within their configured caps (issue "Bad input": dropped and counted, memory bounded).

mod common;

use common::*;
use proptest::prelude::*;
use smoltcp::wire::{EthernetAddress, EthernetProtocol, IpProtocol};
use tcplab_stack::{Duration, Instant, MemoryUsage, SocketAddrV4, Stack};

fn small_caps(c: &mut tcplab_stack::Config) {
    c.ipv4.reassembly_max_bytes = 16 * 1024;
    c.ipv4.reassembly_max_datagrams = 4;
    c.ipv4.reassembly_max_holes = 8;
    c.arp.max_pending_bytes = 8 * 1024;
    c.arp.max_pending_total = 8;
    c.icmp.max_queued = 4;
    c.icmp.max_queued_bytes = 16 * 1024;
    c.udp.rx_max_datagrams = 4;
    c.udp.rx_max_bytes = 4096;
    c.udp.max_sockets = 2;
}

fn check(s: &Stack) {
    let caps = MemoryUsage::caps(s.config());
    let used = s.memory_usage();
    assert!(used.within(&caps), "{used:?} exceeds {caps:?}");
}

/// Feed a frame, then run output and timers as a driver would.
fn feed(s: &mut Stack, now: Instant, frame: &[u8]) {
    s.handle_frame(now, frame);
    check(s);
    drain(s, now);
    if let Some(t) = s.poll_timeout() {
        if t <= now {
            s.handle_timeout(now);
        }
    }
    check(s);
}

fn ip_proto() -> impl Strategy<Value = IpProtocol> {
    prop_oneof![
        Just(IpProtocol::Icmp),
        Just(IpProtocol::Udp),
        Just(IpProtocol::Tcp),
        any::<u8>().prop_map(IpProtocol::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1600), 1..20)) {
        let mut s = stack_with(small_caps);
        let _sock = s.udp_bind(SocketAddrV4::new(US, 7)).unwrap();
        for (i, f) in frames.iter().enumerate() {
            feed(&mut s, Instant::from_millis(i as u64), f);
        }
    }

    /// Frames with a valid Ethernet header to us and a random IPv4 datagram with a correct
    /// header checksum, so they reach the deeper layers.
    #[test]
    fn random_datagrams_never_panic(
        items in proptest::collection::vec(
            (ip_proto(), any::<u16>(), any::<bool>(), 0u16..8192, any::<bool>(),
             proptest::collection::vec(any::<u8>(), 0..1480)),
            1..40),
    ) {
        let mut s = stack_with(small_caps);
        let _sock = s.udp_bind(SocketAddrV4::new(US, 7)).unwrap();
        s.handle_frame(Instant::ZERO, &arp_request_from_peer());
        for (i, (proto, ident, more, offset, bcast, payload)) in items.iter().enumerate() {
            let mut ip = Ip::new(*proto);
            ip.ident = *ident % 8;
            ip.more = *more;
            ip.offset = offset & !7;
            let dst = if *bcast { EthernetAddress::BROADCAST } else { US_MAC };
            let frame = eth(dst, EthernetProtocol::Ipv4, &ipv4(ip, payload));
            feed(&mut s, Instant::from_millis(i as u64 * 500), &frame);
        }
    }

    /// A flood of random fragments: reassembly memory stays within its cap at every step and
    /// is empty once every timeout has run.
    #[test]
    fn fragment_flood_stays_bounded(
        frags in proptest::collection::vec((0u16..16, 0u16..8192, any::<bool>(), 1usize..1480), 1..200),
    ) {
        let mut s = stack_with(small_caps);
        for (i, (ident, offset, more, len)) in frags.iter().enumerate() {
            let mut ip = Ip::new(IpProtocol::Udp);
            ip.ident = *ident;
            ip.offset = offset & !7;
            ip.more = *more;
            let len = if *more { (*len & !7).max(8) } else { *len };
            feed(&mut s, Instant::from_millis(i as u64), &ip_frame(ip, &vec![i as u8; len]));
        }
        let later = Instant::from_millis(frags.len() as u64) + Duration::from_secs(3600);
        s.handle_timeout(later);
        prop_assert_eq!(s.memory_usage().reassembly, 0);
    }

    /// Sending to an unresolvable neighbour never grows the ARP queue past its caps.
    #[test]
    fn unresolved_sends_stay_bounded(sizes in proptest::collection::vec(0usize..9000, 1..64)) {
        let mut s = stack_with(small_caps);
        let h = s.udp_bind(SocketAddrV4::new(US, 0)).unwrap();
        for (i, n) in sizes.iter().enumerate() {
            let dst = SocketAddrV4::new(tcplab_stack::Ipv4Addr::new(198, 18, 0, 10 + (i % 3) as u8), 9);
            let _ = s.udp_send_to(Instant::ZERO, h, &vec![0; *n], dst);
            drain(&mut s, Instant::ZERO);
            check(&s);
        }
        while let Some(now) = s.poll_timeout() {
            s.handle_timeout(now);
            drain(&mut s, now);
            if now > Instant::from_secs(60) {
                break;
            }
        }
        prop_assert_eq!(s.memory_usage().arp_pending, 0);
    }
}
