//! One-line descriptions of frames for trace events, parsed with `smoltcp::wire` views.
//!
//! Only called when event recording is on; never on the hot path otherwise.

use core::fmt::Write;

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Icmpv4Message, Icmpv4Packet,
    IpProtocol, Ipv4Packet, TcpPacket, UdpPacket,
};

use crate::event::Layer;

/// Describe `frame` by its topmost layer that parses: `(layer, "ipv4: a > b udp 53 > 9 len 12")`.
pub(crate) fn summarize(frame: &[u8]) -> (Layer, String) {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return (
            Layer::Ethernet,
            format!("eth: truncated frame of {} bytes", frame.len()),
        );
    };
    match eth.ethertype() {
        EthernetProtocol::Arp => (Layer::Arp, summarize_arp(eth.payload())),
        EthernetProtocol::Ipv4 => summarize_ipv4(eth.payload()),
        other => (
            Layer::Ethernet,
            format!("eth: {} > {} type {other}", eth.src_addr(), eth.dst_addr()),
        ),
    }
}

fn summarize_arp(bytes: &[u8]) -> String {
    let parsed = ArpPacket::new_checked(bytes)
        .ok()
        .and_then(|p| ArpRepr::parse(&p).ok());
    match parsed {
        Some(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_protocol_addr: tpa,
            ..
        }) => match operation {
            ArpOperation::Request if spa == tpa => format!("arp: announce {spa} is-at {sha}"),
            ArpOperation::Request => format!("arp: who-has {tpa} tell {spa}"),
            ArpOperation::Reply => format!("arp: reply {spa} is-at {sha}"),
            _ => format!("arp: unknown operation from {spa}"),
        },
        _ => "arp: malformed".to_string(),
    }
}

fn summarize_ipv4(bytes: &[u8]) -> (Layer, String) {
    let Ok(ip) = Ipv4Packet::new_checked(bytes) else {
        return (Layer::Ipv4, "ipv4: malformed".to_string());
    };
    let mut s = format!("ipv4: {} > {}", ip.src_addr(), ip.dst_addr());
    if ip.more_frags() || ip.frag_offset() != 0 {
        let _ = write!(
            s,
            " {} fragment id {} offset {}{} len {}",
            ip.next_header(),
            ip.ident(),
            ip.frag_offset(),
            if ip.more_frags() { " MF" } else { "" },
            ip.payload().len()
        );
        if ip.frag_offset() != 0 {
            return (Layer::Ipv4, s);
        }
    }
    let payload = ip.payload();
    match ip.next_header() {
        IpProtocol::Icmp => {
            if let Ok(icmp) = Icmpv4Packet::new_checked(payload) {
                let _ = match icmp.msg_type() {
                    Icmpv4Message::EchoRequest | Icmpv4Message::EchoReply => write!(
                        s,
                        " icmp {} id={} seq={} len={}",
                        icmp.msg_type(),
                        icmp.echo_ident(),
                        icmp.echo_seq_no(),
                        payload.len()
                    ),
                    t => write!(s, " icmp {t} code {}", icmp.msg_code()),
                };
                return (Layer::Icmp, s);
            }
        }
        IpProtocol::Udp => {
            if let Ok(udp) = UdpPacket::new_checked(payload) {
                let _ = write!(
                    s,
                    " udp {} > {} len {}",
                    udp.src_port(),
                    udp.dst_port(),
                    udp.payload().len()
                );
                return (Layer::Udp, s);
            }
        }
        IpProtocol::Tcp => {
            if let Ok(tcp) = TcpPacket::new_checked(payload) {
                let mut flags = String::new();
                for (on, c) in [
                    (tcp.syn(), 'S'),
                    (tcp.fin(), 'F'),
                    (tcp.rst(), 'R'),
                    (tcp.psh(), 'P'),
                    (tcp.ack(), '.'),
                ] {
                    if on {
                        flags.push(c);
                    }
                }
                let _ = write!(
                    s,
                    " tcp {} > {} [{flags}] seq {} ack {} win {} len {}",
                    tcp.src_port(),
                    tcp.dst_port(),
                    tcp.seq_number(),
                    tcp.ack_number(),
                    tcp.window_len(),
                    tcp.payload().len()
                );
                return (Layer::Tcp, s);
            }
        }
        p => {
            let _ = write!(s, " proto {p} len {}", payload.len());
        }
    }
    (Layer::Ipv4, s)
}
