//! Frame builders shared by the integration tests (all through `smoltcp::wire`).
#![allow(dead_code)]

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket,
    UdpRepr,
};
use tcplab_stack::{Config, Instant, Ipv4Addr, Stack};

pub const US_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
pub const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

pub fn stack() -> Stack {
    let mut c = Config::new(US_MAC, US, 24);
    c.arp.gratuitous_on_start = false;
    Stack::new(c).unwrap()
}

pub fn stack_with(f: impl FnOnce(&mut Config)) -> Stack {
    let mut c = Config::new(US_MAC, US, 24);
    c.arp.gratuitous_on_start = false;
    f(&mut c);
    Stack::new(c).unwrap()
}

/// Fields of an IPv4 datagram to build.
#[derive(Clone, Copy)]
pub struct Ip {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: IpProtocol,
    pub ident: u16,
    pub more: bool,
    pub offset: u16,
    pub ttl: u8,
}

impl Ip {
    pub fn new(proto: IpProtocol) -> Ip {
        Ip {
            src: PEER,
            dst: US,
            proto,
            ident: 1,
            more: false,
            offset: 0,
            ttl: 64,
        }
    }
}

pub fn eth(dst: EthernetAddress, ty: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + payload.len()];
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: dst,
        ethertype: ty,
    }
    .emit(&mut frame);
    frame.payload_mut().copy_from_slice(payload);
    f
}

pub fn ipv4(ip: Ip, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 20 + payload.len()];
    let repr = Ipv4Repr {
        src_addr: ip.src,
        dst_addr: ip.dst,
        next_header: ip.proto,
        payload_len: payload.len(),
        hop_limit: ip.ttl,
    };
    let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
    repr.emit(&mut p, &ChecksumCapabilities::default());
    p.set_ident(ip.ident);
    p.clear_flags();
    p.set_more_frags(ip.more);
    p.set_frag_offset(ip.offset);
    p.fill_checksum();
    p.payload_mut().copy_from_slice(payload);
    b
}

pub fn ip_frame(ip: Ip, payload: &[u8]) -> Vec<u8> {
    eth(US_MAC, EthernetProtocol::Ipv4, &ipv4(ip, payload))
}

pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 8 + payload.len()];
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut b[..]),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |p| p.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    b
}

pub fn echo_request(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let repr = Icmpv4Repr::EchoRequest {
        ident,
        seq_no: seq,
        data,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(&mut b[..]),
        &ChecksumCapabilities::default(),
    );
    b
}

/// An ICMP error of `ty`/`code` quoting `quote` (an IP header and at least 8 bytes).
pub fn icmp_error(ty: u8, code: u8, quote: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 8 + quote.len()];
    let mut p = Icmpv4Packet::new_unchecked(&mut b[..]);
    p.set_msg_type(ty.into());
    p.set_msg_code(code);
    p.data_mut().copy_from_slice(quote);
    p.fill_checksum();
    b
}

pub fn arp_request_from_peer() -> Vec<u8> {
    // A request for our address teaches us the peer's MAC (RFC 826); an unsolicited reply
    // would not (Linux `arp_accept=0` behaviour).
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER,
        target_hardware_addr: US_MAC,
        target_protocol_addr: US,
    };
    let mut b = vec![0u8; 28];
    repr.emit(&mut ArpPacket::new_unchecked(&mut b[..]));
    eth(US_MAC, EthernetProtocol::Arp, &b)
}

/// Every frame the stack wants to send now.
pub fn drain(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 14 + 1500];
    while let Some(n) = s.poll_transmit(now, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// The IPv4 packets among `frames`, as (header+payload) byte vectors.
pub fn ip_packets(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            (e.ethertype() == EthernetProtocol::Ipv4).then(|| e.payload().to_vec())
        })
        .collect()
}
