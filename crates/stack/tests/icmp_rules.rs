//! ICMP behaviour through the facade: RFC 792 echo, RFC 1122 §3.2.2 error rules, RFC 1812
//! §4.3.2.8 rate limiting, reassembly time exceeded, and errors routed back to ping and UDP.

mod common;

use common::*;
use smoltcp::wire::{Icmpv4Message, Icmpv4Packet, IpProtocol, Ipv4Packet};
use tcplab_stack::{Duration, IcmpErrorKind, Instant, PingEvent, SocketAddrV4};

fn icmp_out(s: &mut tcplab_stack::Stack, now: Instant) -> Vec<Vec<u8>> {
    ip_packets(&drain(s, now))
        .into_iter()
        .filter(|p| Ipv4Packet::new_checked(&p[..]).unwrap().next_header() == IpProtocol::Icmp)
        .collect()
}

fn icmp_of(packet: &[u8]) -> (Icmpv4Message, u8, Vec<u8>) {
    let ip = Ipv4Packet::new_checked(packet).unwrap();
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    (icmp.msg_type(), icmp.msg_code(), icmp.data().to_vec())
}

#[test]
fn rfc792_echo_reply_carries_the_same_data() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
    s.handle_frame(
        t,
        &ip_frame(Ip::new(IpProtocol::Icmp), &echo_request(0x1234, 9, &data)),
    );
    let out = icmp_out(&mut s, t);
    assert_eq!(out.len(), 1);
    let ip = Ipv4Packet::new_checked(&out[0][..]).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr(), ip.hop_limit()),
        (US, PEER, 64)
    );
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), Icmpv4Message::EchoReply);
    assert_eq!((icmp.echo_ident(), icmp.echo_seq_no()), (0x1234, 9));
    assert_eq!(icmp.data(), &data[..]);
}

#[test]
fn rfc1122_3_2_2_6_broadcast_echo_ignored_by_default() {
    let mut s = stack();
    let mut ip = Ip::new(IpProtocol::Icmp);
    ip.dst = tcplab_stack::Ipv4Addr::new(198, 18, 0, 255);
    s.handle_frame(Instant::ZERO, &ip_frame(ip, &echo_request(1, 1, b"hi")));
    assert!(icmp_out(&mut s, Instant::ZERO).is_empty());
    assert_eq!(s.stats().icmp.echo_broadcast_ignored, 1);
}

#[test]
fn rfc1812_4_3_2_3_protocol_unreachable_quotes_up_to_576_bytes() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    let sent = ipv4(Ip::new(IpProtocol::Unknown(99)), &[0xab; 40]);
    s.handle_frame(
        t,
        &eth(US_MAC, smoltcp::wire::EthernetProtocol::Ipv4, &sent),
    );
    let out = icmp_out(&mut s, t);
    assert_eq!(out.len(), 1);
    let (ty, code, data) = icmp_of(&out[0]);
    assert_eq!((ty, code), (Icmpv4Message::DstUnreachable, 2));
    assert_eq!(data, sent, "the whole 60-byte datagram fits");
    assert_eq!(s.stats().ipv4.unknown_protocol, 1);
    // A long datagram is quoted up to 548 bytes, so the error is 576 bytes long.
    let long = ipv4(Ip::new(IpProtocol::Unknown(99)), &[0xcd; 1000]);
    s.handle_frame(
        Instant::from_secs(2),
        &eth(US_MAC, smoltcp::wire::EthernetProtocol::Ipv4, &long),
    );
    let out = icmp_out(&mut s, Instant::from_secs(2));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 576);
    assert_eq!(icmp_of(&out[0]).2, long[..548].to_vec());
}

#[test]
fn rfc1122_3_2_2_no_errors_about_broadcasts() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    let bcast = tcplab_stack::Ipv4Addr::new(198, 18, 0, 255);
    let mut ip = Ip::new(IpProtocol::Udp);
    ip.dst = bcast;
    s.handle_frame(t, &ip_frame(ip, &udp(PEER, bcast, 1, 9, b"x")));
    // Also a unicast datagram carried in a link-layer broadcast.
    let unicast = ipv4(Ip::new(IpProtocol::Udp), &udp(PEER, US, 1, 9, b"x"));
    s.handle_frame(
        t,
        &eth(
            smoltcp::wire::EthernetAddress::BROADCAST,
            smoltcp::wire::EthernetProtocol::Ipv4,
            &unicast,
        ),
    );
    assert!(icmp_out(&mut s, t).is_empty());
    assert_eq!(s.stats().icmp.error_suppressed, 2);
}

#[test]
fn rfc1812_4_3_2_8_errors_are_rate_limited() {
    let mut s = stack_with(|c| {
        c.icmp.error_burst = 5;
        c.icmp.error_rate_per_sec = 10;
    });
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    for port in 0..20u16 {
        s.handle_frame(
            t,
            &ip_frame(
                Ip::new(IpProtocol::Udp),
                &udp(PEER, US, 1, 100 + port, b"x"),
            ),
        );
    }
    assert_eq!(icmp_out(&mut s, t).len(), 5);
    assert_eq!(s.stats().icmp.rate_limited, 15);
    // 10 per second: after 300 ms, 3 more tokens.
    let later = t + Duration::from_millis(300);
    for port in 0..10u16 {
        s.handle_frame(
            later,
            &ip_frame(
                Ip::new(IpProtocol::Udp),
                &udp(PEER, US, 1, 100 + port, b"x"),
            ),
        );
    }
    assert_eq!(icmp_out(&mut s, later).len(), 3);
}

#[test]
fn rfc792_time_exceeded_code_1_only_when_fragment_zero_arrived() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    let payload = udp(PEER, US, 1, 9, &[7; 64]);
    let mut first = Ip::new(IpProtocol::Udp);
    first.more = true;
    first.ident = 50;
    s.handle_frame(t, &ip_frame(first, &payload[..32]));
    let mut later = Ip::new(IpProtocol::Udp);
    later.ident = 51;
    later.offset = 32;
    s.handle_frame(t, &ip_frame(later, &payload[32..]));
    assert!(s.memory_usage().reassembly > 0);
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, t + s.config().ipv4.reassembly_timeout);
    s.handle_timeout(deadline);
    assert_eq!(s.memory_usage().reassembly, 0);
    let out = icmp_out(&mut s, deadline);
    assert_eq!(
        out.len(),
        1,
        "one time exceeded, for the datagram whose first fragment came"
    );
    let (ty, code, data) = icmp_of(&out[0]);
    assert_eq!((ty, code), (Icmpv4Message::TimeExceeded, 1));
    assert_eq!(Ipv4Packet::new_unchecked(&data[..]).ident(), 50);
    assert_eq!(s.stats().ipv4.reassembly_timeout, 2);
}

#[test]
fn rfc1122_3_2_2_no_error_about_an_icmp_error() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    // Fragment zero of an ICMP error message, never completed.
    let quoted = ipv4(Ip::new(IpProtocol::Udp), &[0; 8]);
    let err = icmp_error(3, 3, &quoted);
    let mut first = Ip::new(IpProtocol::Icmp);
    first.more = true;
    s.handle_frame(t, &ip_frame(first, &err[..16]));
    let deadline = t + s.config().ipv4.reassembly_timeout;
    s.handle_timeout(deadline);
    assert!(icmp_out(&mut s, deadline).is_empty());
    assert_eq!(s.stats().icmp.error_suppressed, 1);
}

#[test]
fn icmp_errors_reach_ping_and_udp() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    s.ping(t, PEER, 3, 4, 16).unwrap();
    let h = s.udp_bind(SocketAddrV4::new(US, 4000)).unwrap();
    s.udp_send_to(t, h, b"hello", SocketAddrV4::new(PEER, 53))
        .unwrap();
    let sent = ip_packets(&drain(&mut s, t));
    assert_eq!(sent.len(), 2);
    for p in &sent {
        let quote = &p[..28];
        s.handle_frame(
            t,
            &ip_frame(Ip::new(IpProtocol::Icmp), &icmp_error(3, 1, quote)),
        );
    }
    assert_eq!(
        s.poll_ping(),
        Some(PingEvent::Error {
            from: PEER,
            ident: 3,
            seq: 4,
            kind: IcmpErrorKind::HostUnreachable
        })
    );
    assert_eq!(s.udp_take_error(h), Some(IcmpErrorKind::HostUnreachable));
    // An error quoting a datagram that was not ours is only counted.
    let foreign = ipv4(Ip::new(IpProtocol::Udp), &[0; 8]);
    s.handle_frame(
        t,
        &ip_frame(Ip::new(IpProtocol::Icmp), &icmp_error(3, 3, &foreign)),
    );
    assert_eq!(s.stats().icmp.errors_unmatched, 1);
}

#[test]
fn rfc9293_3_1_tcp_checksum_verified_before_tcp() {
    let mut s = stack();
    let mut seg = vec![0u8; 20];
    let mut p = smoltcp::wire::TcpPacket::new_unchecked(&mut seg[..]);
    p.set_header_len(20);
    p.set_dst_port(80);
    p.set_checksum(0x1234); // wrong on purpose
    s.handle_frame(Instant::ZERO, &ip_frame(Ip::new(IpProtocol::Tcp), &seg));
    assert_eq!(s.stats().tcp_input.bad_checksum, 1);
    s.handle_frame(
        Instant::ZERO,
        &ip_frame(Ip::new(IpProtocol::Tcp), &seg[..10]),
    );
    assert_eq!(s.stats().tcp_input.truncated, 1);
}

#[test]
fn rfc1122_3_2_2_no_errors_to_sources_that_are_not_one_host() {
    let mut s = stack();
    let t = Instant::ZERO;
    s.handle_frame(t, &arp_request_from_peer());
    for src in [
        tcplab_stack::Ipv4Addr::new(0, 0, 0, 0),
        tcplab_stack::Ipv4Addr::new(240, 0, 0, 1),
    ] {
        let mut ip = Ip::new(IpProtocol::Udp);
        ip.src = src;
        s.handle_frame(t, &ip_frame(ip, &udp(src, US, 1, 9, b"x")));
    }
    assert!(icmp_out(&mut s, t).is_empty());
    assert_eq!(s.stats().icmp.error_suppressed, 2);
}
