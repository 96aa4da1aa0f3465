//! Shared pieces of tcplab's fuzz targets: a stack set up with open sockets (so TCP and UDP
//! paths are reachable, not only "port unreachable"), and well-formed frames built with
//! `smoltcp::wire` (valid checksums, so fuzzed segments reach the TCP state machine).

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
    UdpPacket,
};
use tcplab_stack::{Config, Instant, Ipv4Addr, ListenerHandle, SocketAddrV4, Stack};

/// The stack under test.
pub const OURS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Its MAC.
pub const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 198, 18, 0, 1]);
/// The fuzzer's peer.
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The peer's MAC.
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 198, 18, 0, 2]);
/// A port the stack listens on.
pub const LISTEN_PORT: u16 = 80;

/// A stack at 198.18.0.1/24 with a TCP listener on port 80 (returned) and a UDP socket on
/// port 7.
pub fn stack() -> (Stack, Option<ListenerHandle>) {
    let mut cfg = Config::new(OUR_MAC, OURS, 24);
    cfg.seed = 1;
    let mut s = Stack::new(cfg).expect("valid config");
    let l = s.tcp_listen(SocketAddrV4::new(OURS, LISTEN_PORT), 4).ok();
    let _ = s.udp_bind(SocketAddrV4::new(OURS, 7));
    (s, l)
}

/// Drains everything the stack wants to send; returns the frames.
pub fn drain(s: &mut Stack, now: Instant, buf: &mut [u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Bounded: a stack that never stops transmitting is a bug the fuzzer should report.
    for _ in 0..10_000 {
        match s.poll_transmit(now, buf) {
            Some(n) => out.push(buf[..n].to_vec()),
            None => return out,
        }
    }
    panic!("poll_transmit did not run dry after 10000 frames");
}

/// An ARP request from the peer asking for our address: teaches the stack the peer's MAC
/// (RFC 826 merge rule), so its answers go out without waiting for resolution.
pub fn arp_from_peer() -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: OURS,
    };
    let eth = EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let mut buf = vec![0u8; eth.buffer_len() + arp.buffer_len()];
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    buf
}

/// An Ethernet + IPv4 + TCP frame from the peer to us with correct checksums.
pub fn tcp_frame(repr: &TcpRepr<'_>) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: PEER,
        dst_addr: OURS,
        next_header: IpProtocol::Tcp,
        payload_len: repr.buffer_len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut buf = vec![0u8; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
    let caps = ChecksumCapabilities::default();
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut frame);
    let mut pkt = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut pkt, &caps);
    repr.emit(
        &mut TcpPacket::new_unchecked(pkt.payload_mut()),
        &IpAddress::Ipv4(PEER),
        &IpAddress::Ipv4(OURS),
        &caps,
    );
    buf
}

/// The TCP segment (sequence number, ack, flags) inside a frame the stack sent to the peer.
pub fn parse_tcp(frame: &[u8]) -> Option<(u16, u16, u32, Option<u32>, bool, bool, usize)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let ack = if tcp.ack() {
        Some(tcp.ack_number().0 as u32)
    } else {
        None
    };
    Some((
        tcp.src_port(),
        tcp.dst_port(),
        tcp.seq_number().0 as u32,
        ack,
        tcp.syn(),
        tcp.fin(),
        tcp.payload().len(),
    ))
}

/// Makes a fuzzed frame more likely to get past the outer layers: with `to_us`, addresses it
/// to our MAC and IPv4 address from the peer; then, if it parses as Ethernet + IPv4, fills in
/// the IPv4 header checksum and (for unfragmented datagrams) the TCP, UDP or ICMP checksum.
/// Everything else stays as the fuzzer made it; nothing here can panic on short input.
pub fn fix_checksums(frame: &mut [u8], to_us: bool) {
    let Ok(mut eth) = EthernetFrame::new_checked(&mut frame[..]) else {
        return;
    };
    if to_us {
        eth.set_dst_addr(OUR_MAC);
        eth.set_src_addr(PEER_MAC);
    }
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return;
    }
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else {
        return;
    };
    if to_us {
        ip.set_dst_addr(OURS);
        ip.set_src_addr(PEER);
    }
    ip.fill_checksum();
    if ip.more_frags() || ip.frag_offset() != 0 {
        return;
    }
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let proto = ip.next_header();
    let payload = ip.payload_mut();
    match proto {
        IpProtocol::Tcp => {
            if let Ok(mut t) = TcpPacket::new_checked(payload) {
                t.fill_checksum(&src, &dst);
            }
        }
        IpProtocol::Udp => {
            if let Ok(mut u) = UdpPacket::new_checked(payload) {
                u.fill_checksum(&src, &dst);
            }
        }
        IpProtocol::Icmp => {
            if let Ok(mut i) = Icmpv4Packet::new_checked(payload) {
                i.fill_checksum();
            }
        }
        _ => {}
    }
}
