//! `World::connect_link` (per-direction impairment, a pcap at `a`'s end) and
//! `World::record_events`.

use tcplab_link::impair::ImpairConfig;
use tcplab_sim::{LinkOptions, World};
use tcplab_stack::{Duration, EventKind, Ipv4Addr};

fn lossy() -> ImpairConfig {
    "loss=100%".parse().unwrap()
}

#[test]
fn a_host_is_on_one_link_and_a_link_joins_two_hosts() {
    let mut w = World::new(1);
    let (a, b, c) = (w.add_host_at(1), w.add_host_at(2), w.add_host_at(3));
    assert!(w.connect_link(a, a, LinkOptions::default()).is_err());
    let l = w.connect_link(a, b, LinkOptions::default()).unwrap();
    assert_eq!(w.link_ends(l), (a, b));
    let e = w.connect_link(b, c, LinkOptions::default()).unwrap_err();
    assert!(e.contains("already on a link"), "{e}");
    assert!(w.link_pcap_bytes(l).is_empty(), "no pcap asked for");
}

#[test]
fn each_direction_has_its_own_impairment_and_the_pcap_sees_what_a_sent() {
    for (a_to_b, b_to_a) in [(Some(lossy()), None), (None, Some(lossy()))] {
        let mut w = World::new(1);
        let (a, b) = (w.add_host_at(1), w.add_host_at(2));
        let opts = LinkOptions {
            a_to_b,
            b_to_a,
            pcap: true,
            seed_key: None,
        };
        let l = w.connect_link(a, b, opts).unwrap();
        let now = w.now();
        w.stack(a)
            .ping(now, Ipv4Addr::new(198, 18, 0, 2), 1, 1, 56)
            .unwrap();
        let replied = w.run_until(
            |w| {
                matches!(
                    w.stack(a).poll_ping(),
                    Some(tcplab_stack::PingEvent::Reply { .. })
                )
            },
            Duration::from_secs(3),
        );
        assert!(!replied, "one direction loses everything");
        // a's ARP requests are in the capture even when the link then loses them.
        assert!(w.link_pcap_bytes(l).len() > 24 + 16 + 42);
    }
}

#[test]
fn tcp_events_are_recorded_with_virtual_time() {
    let mut w = World::new(1);
    let (a, b) = (w.add_host_at(1), w.add_host_at(2));
    w.connect_link(a, b, LinkOptions::default()).unwrap();
    w.record_events(a);
    let server = std::net::SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 80);
    w.stack(b).tcp_listen(server, 1).unwrap();
    w.run_for(Duration::from_millis(10));
    let now = w.now();
    w.stack(a).tcp_connect(now, server).unwrap();
    w.run_for(Duration::from_millis(100));
    let ev = w.events(a);
    assert!(!ev.is_empty());
    assert!(ev
        .iter()
        .all(|e| matches!(e.kind, EventKind::Tcp(_)) && e.time >= now));
    assert!(w.events(b).is_empty(), "only hosts asked for");
    assert_eq!(w.events_dropped(a), 0);
}
