//! End-to-end tests of the runtime and the socket API: two runtimes (two stacks, two event
//! loops) over the in-memory link pair, on the real clock.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_link::memory;
use tcplab_stack::icmp::PingEvent;
use tcplab_stack::{Config, Stack};

use crate::net::{ping, UdpSocket};
use crate::runtime::{Runtime, RuntimeOptions};
use crate::setup::derived_mac;

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const T: Option<Duration> = Some(Duration::from_secs(20));

fn pair(impair: Option<&str>) -> (Runtime, Runtime) {
    assert!(impair.is_none());
    let (la, lb) = memory::pair(memory::DEFAULT_CAPACITY);
    let (la, lb) = (Box::new(la), Box::new(lb));
    let epoch = std::time::Instant::now();
    let start = |name: &str, addr, link| {
        let stack = Stack::new(Config::new(derived_mac(addr), addr, 24)).unwrap();
        let opts = RuntimeOptions {
            name: name.into(),
            epoch,
            ..RuntimeOptions::default()
        };
        Runtime::start(stack, link, opts).unwrap()
    };
    (start("A", A, la), start("B", B, lb))
}

#[test]
fn ping_resolves_arp_and_gets_a_reply() {
    let (a, _b) = pair(None);
    ping::send(&a, B, 1, 1, 56).unwrap();
    match ping::next_result(&a, 1, Duration::from_secs(5)).unwrap() {
        Some(PingEvent::Reply {
            from, seq, bytes, ..
        }) => assert_eq!((from, seq, bytes), (B, 1, 64)),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn udp_datagrams_cross_both_ways() {
    let (a, b) = pair(None);
    let sb = UdpSocket::bind(&b, SocketAddrV4::new(B, 7)).unwrap();
    let sa = UdpSocket::bind(&a, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    sb.set_read_timeout(T).unwrap();
    sa.set_read_timeout(T).unwrap();
    sa.send_to(b"ping", SocketAddrV4::new(B, 7)).unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = sb.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], *from.ip()), (&b"ping"[..], A));
    sb.send_to(b"pong", from).unwrap();
    let (n, from) = sa.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"pong"[..], SocketAddrV4::new(B, 7)));
}
