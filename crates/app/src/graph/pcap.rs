//! Read a pcap file as a stream into [`FlowTrace`]s. Headers are decoded with
//! `smoltcp::wire` (Ethernet, IPv4, TCP and its options); the Linux cooked headers (SLL,
//! SLL2), which smoltcp does not know, are skipped by their fixed length after checking the
//! protocol field. Only per-flow points are kept, so memory does not grow with the file.
//!
//! Not decoded: IPv6, VLAN tags, IP fragments (TCP is rarely fragmented). Checksums are not
//! verified: a capture taken on the sender shows checksums the NIC fills in later.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::net::SocketAddrV4;
use std::path::Path;

use pcap_file::pcap::PcapReader;
use pcap_file::{DataLink, PcapError, TsResolution};
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpOption, TcpPacket,
};

use super::trace::{Segment, Tracker};
use super::{ConnFilter, FlowTrace, GraphError};

/// Size of the pcap file header.
const FILE_HEADER_LEN: u64 = 24;
/// Size of a pcap packet record header.
const RECORD_HEADER_LEN: u64 = 16;
/// The pcapng section header block type, as the first four bytes of a pcapng file.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// The four pcap magic numbers (micro/nanosecond, either byte order), as bytes in the file.
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
];

/// How frames of the capture start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Ethernet,
    /// Linux cooked capture v1: 16-byte header, protocol in the last two bytes.
    Sll,
    /// Linux cooked capture v2: 20-byte header, protocol in the first two bytes.
    Sll2,
    /// The frame is the IP packet.
    Raw,
}

/// Read the TCP connections of a pcap file (Ethernet, Linux cooked SLL/SLL2, or raw IPv4
/// link type), streaming it. Returns one [`FlowTrace`] per direction that carried data, in
/// order of first appearance; with `filter`, only the directions of that connection.
///
/// Errors name the file and, for a damaged file, the byte offset where the bad header or
/// record starts. pcapng files are refused with the command that converts them.
pub fn flows_from_pcap(
    path: &Path,
    filter: Option<&ConnFilter>,
) -> Result<Vec<FlowTrace>, GraphError> {
    let file = File::open(path).map_err(|source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    flows_from_reader(file, path, filter)
}

/// [`flows_from_pcap`] on any byte stream, e.g. `&World::pcap_bytes(h)[..]` or a pipe;
/// `path` only names the input in errors.
pub fn flows_from_reader<R: Read>(
    mut input: R,
    path: &Path,
    filter: Option<&ConnFilter>,
) -> Result<Vec<FlowTrace>, GraphError> {
    let magic = check_magic(path, &mut input)?;
    // Put the magic number back in front of the stream for pcap-file.
    let stream = std::io::Cursor::new(magic).chain(input);
    let mut reader =
        PcapReader::new(stream).map_err(|e| record_error(path, "file header", 0, e))?;
    let header = reader.header();
    let link = match header.datalink {
        DataLink::ETHERNET => Link::Ethernet,
        DataLink::LINUX_SLL => Link::Sll,
        DataLink::LINUX_SLL2 => Link::Sll2,
        DataLink::RAW | DataLink::IPV4 => Link::Raw,
        other => {
            return Err(GraphError::LinkType {
                path: path.to_path_buf(),
                linktype: format!("{other:?} ({})", u32::from(other)),
            })
        }
    };
    let frac = match header.ts_resolution {
        TsResolution::MicroSecond => 1e-6,
        TsResolution::NanoSecond => 1e-9,
    };
    let mut offset = FILE_HEADER_LEN;
    let mut first: Option<(u32, u32)> = None;
    let mut tracker = Tracker::default();
    while let Some(packet) = reader.next_raw_packet() {
        let packet = packet.map_err(|e| record_error(path, "packet record", offset, e))?;
        offset += RECORD_HEADER_LEN + u64::from(packet.incl_len);
        let (s0, f0) = *first.get_or_insert((packet.ts_sec, packet.ts_frac));
        let t = (f64::from(packet.ts_sec) - f64::from(s0))
            + (f64::from(packet.ts_frac) - f64::from(f0)) * frac;
        let Some(ip) = ip_packet(link, &packet.data) else {
            continue;
        };
        let Some(seg) = tcp_segment(t, ip) else {
            continue;
        };
        if filter.is_some_and(|f| !f.matches(seg.src, seg.dst)) {
            continue;
        }
        tracker.handle(&seg);
    }
    Ok(tracker.finish())
}

/// Read the first four bytes; refuse pcapng and anything that is not a pcap file before
/// pcap-file reads it.
fn check_magic(path: &Path, file: &mut impl Read) -> Result<[u8; 4], GraphError> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(GraphError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    if got < magic.len() {
        return Err(GraphError::Truncated {
            path: path.to_path_buf(),
            what: "file header",
            offset: 0,
        });
    }
    if magic == PCAPNG_MAGIC {
        return Err(GraphError::Pcapng {
            path: path.to_path_buf(),
        });
    }
    if !PCAP_MAGICS.contains(&magic) {
        return Err(GraphError::NotPcap {
            path: path.to_path_buf(),
            magic: u32::from_be_bytes(magic),
        });
    }
    Ok(magic)
}

/// Name what pcap-file reported at `offset`.
fn record_error(path: &Path, what: &'static str, offset: u64, e: PcapError) -> GraphError {
    let path = path.to_path_buf();
    match e {
        // pcap-file reports a record longer than the rest of the file, or longer than its
        // 8 MB buffer, as an unexpected end of file.
        PcapError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            GraphError::Truncated { path, what, offset }
        }
        PcapError::IoError(source) => GraphError::Io { path, source },
        other => GraphError::Corrupt {
            path,
            what,
            offset,
            reason: other.to_string(),
        },
    }
}

/// The IPv4 packet inside a captured frame, if it is one.
fn ip_packet(link: Link, frame: &[u8]) -> Option<&[u8]> {
    const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
    match link {
        Link::Ethernet => {
            let eth = EthernetFrame::new_checked(frame).ok()?;
            (eth.ethertype() == EthernetProtocol::Ipv4).then(|| eth.payload())
        }
        Link::Sll => (frame.get(14..16)? == ETHERTYPE_IPV4).then(|| frame.get(16..))?,
        Link::Sll2 => (frame.get(0..2)? == ETHERTYPE_IPV4).then(|| frame.get(20..))?,
        Link::Raw => Some(frame),
    }
}

/// The TCP segment in an IPv4 packet, if it is an unfragmented one whose TCP header was
/// captured. The payload length comes from the IP header, so a capture cut at a snap length
/// still counts every byte, and Ethernet padding is not counted.
fn tcp_segment(t: f64, ip: &[u8]) -> Option<Segment> {
    // Not `new_checked`: it refuses packets cut short by the snap length.
    let p = Ipv4Packet::new_unchecked(ip);
    if ip.len() < 20 || p.version() != 4 {
        return None;
    }
    let header_len = usize::from(p.header_len());
    let total_len = usize::from(p.total_len());
    if header_len < 20 || header_len > ip.len() || total_len < header_len {
        return None;
    }
    if p.next_header() != IpProtocol::Tcp || p.more_frags() || p.frag_offset() != 0 {
        return None;
    }
    let tcp_bytes = ip.get(header_len..total_len.min(ip.len()))?;
    let tcp = TcpPacket::new_checked(tcp_bytes).ok()?;
    let payload_len = total_len.checked_sub(header_len + usize::from(tcp.header_len()))?;
    let mut seg = Segment {
        t,
        src: SocketAddrV4::new(p.src_addr(), tcp.src_port()),
        dst: SocketAddrV4::new(p.dst_addr(), tcp.dst_port()),
        seq: tcp.seq_number().0 as u32,
        ack: tcp.ack().then(|| tcp.ack_number().0 as u32),
        syn: tcp.syn(),
        window: tcp.window_len(),
        payload_len: u32::try_from(payload_len).ok()?,
        ..Segment::default()
    };
    let mut options = tcp.options();
    while !options.is_empty() {
        let Ok((rest, option)) = TcpOption::parse(options) else {
            break;
        };
        match option {
            TcpOption::EndOfList => break,
            TcpOption::WindowScale(s) => seg.wscale = Some(s),
            TcpOption::SackRange(blocks) => seg.sack.extend(blocks.iter().flatten()),
            _ => {}
        }
        options = rest;
    }
    Some(seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_tcp_and_short_packets_are_skipped() {
        assert!(tcp_segment(0.0, &[]).is_none());
        assert!(tcp_segment(0.0, &[0x45; 19]).is_none());
        let mut udp = [0u8; 28];
        udp[0] = 0x45;
        udp[3] = 28;
        udp[9] = 17;
        assert!(tcp_segment(0.0, &udp).is_none());
        assert!(ip_packet(Link::Sll, &[0; 10]).is_none());
        assert!(ip_packet(Link::Ethernet, &[0; 10]).is_none());
    }

    #[test]
    fn linux_cooked_headers_are_skipped_by_protocol() {
        let ip = [0x45u8, 0, 0, 20];
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(ip_packet(Link::Sll, &sll), Some(&ip[..]));
        sll[15] = 0xdd; // IPv6
        assert_eq!(ip_packet(Link::Sll, &sll), None);
        let mut sll2 = vec![0x08u8, 0x00];
        sll2.resize(20, 0);
        sll2.extend_from_slice(&ip);
        assert_eq!(ip_packet(Link::Sll2, &sll2), Some(&ip[..]));
        assert_eq!(ip_packet(Link::Raw, &ip), Some(&ip[..]));
    }
}
