//! TAP segmentation offload (`IFF_VNET_HDR` + `TUNSETOFFLOAD`), done in software at the link.
//!
//! # Why
//! Without offloads, every Ethernet frame crossing a TAP device costs one `read(2)` or
//! `write(2)` and one pass of the kernel's per-packet path; at MTU 1500 that per-frame cost,
//! not our stack, bounds bulk throughput. With a `virtio_net_hdr` in front of every frame
//! (the interface virtual machines use), the kernel may hand us one TCP "super-segment" of up
//! to 64 KiB per read (TSO, `VIRTIO_NET_HDR_GSO_TCPV4`) and accept one from us per write.
//!
//! # What the stack sees
//! Nothing changes for the stack: this module cuts every received super-segment into the
//! MTU-sized segments the kernel would have produced itself (RFC 9293 §3.7.1: each at most
//! the announced MSS, `gso_size`), with their own IPv4 identification, total length and
//! header checksum (RFC 791), TCP sequence number, flags (CWR on the first, PSH and FIN on
//! the last only, as Linux's `tcp_gso_segment`) and full TCP checksum (RFC 9293 §3.1), and it
//! completes partial checksums (`NEEDS_CSUM`) of small frames. In the other direction it
//! merges consecutive data segments of one connection that the stack produced in one batch,
//! each already complete with its checksum, into one super-segment with a full checksum
//! derived from theirs (no checksum is left for the kernel to trust); the kernel treats it like segments its own
//! GRO merged. The frames the stack sends and receives are exactly those of a plain TAP link.
//!
//! Header fields are read and written with `smoltcp::wire`.

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket, TcpSeqNumber,
};
use tcplab_stack::ipv4::checksum::{combine, ones_sum, pseudo_header_sum, transport_checksum};

/// Size of `struct virtio_net_hdr` (no `num_buffers`), the kernel's default for TAP.
pub(crate) const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` holds only the
/// pseudo-header sum; the rest must be added.
const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
pub(crate) const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub(crate) const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_ECN`: set with a GSO type when the segments carry ECN (CWR).
const GSO_ECN: u8 = 0x80;

/// Ethernet header length (no VLAN tags on a TAP link).
const ETH_LEN: usize = 14;

/// Largest super-segment we build for the kernel: the IPv4 total length is 16 bits.
const MAX_SUPER_IP_LEN: usize = 65535;

/// The `virtio_net_hdr` in front of every frame (host byte order, legacy virtio on a
/// little-endian host as Linux's TAP uses it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct VnetHdr {
    pub(crate) flags: u8,
    pub(crate) gso_type: u8,
    pub(crate) hdr_len: u16,
    pub(crate) gso_size: u16,
    pub(crate) csum_start: u16,
    pub(crate) csum_offset: u16,
}

impl VnetHdr {
    pub(crate) fn parse(b: &[u8; VNET_HDR_LEN]) -> VnetHdr {
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        }
    }

    pub(crate) fn emit(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }
}

/// Why a received frame could not be turned into plain frames (it is dropped and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RxError {
    /// `NEEDS_CSUM` with a checksum position outside the frame.
    BadCsumOffsets,
    /// A GSO type other than TCPv4, or a super-segment that is not a valid IPv4/TCP packet.
    BadGso,
}

/// Complete a partial checksum (`NEEDS_CSUM`): the 16-bit field at `start + offset` holds the
/// pseudo-header sum; the one's complement sum of everything from `start` on (RFC 1071),
/// complemented, replaces it.
pub(crate) fn complete_csum(frame: &mut [u8], hdr: &VnetHdr) -> Result<(), RxError> {
    if !hdr.needs_csum() {
        return Ok(());
    }
    let start = hdr.csum_start as usize;
    let at = start + hdr.csum_offset as usize;
    if start > frame.len() || at + 2 > frame.len() {
        return Err(RxError::BadCsumOffsets);
    }
    let sum = ones_sum(&frame[start..]);
    frame[at..at + 2].copy_from_slice(&(!sum).to_be_bytes());
    Ok(())
}

/// A received TCPv4 super-segment being cut into MTU-sized frames.
#[derive(Debug)]
pub(crate) struct Splitter {
    /// Ethernet + IPv4 + TCP headers of the super-segment.
    hdr_len: usize,
    ip_hdr_len: usize,
    gso_size: usize,
    /// Payload offset (in the super-segment's buffer) of the next segment.
    next: usize,
    /// Index of the next segment.
    index: u16,
    len: usize,
}

impl Splitter {
    /// Validate the super-segment in `frame` and prepare to split it.
    pub(crate) fn new(frame: &[u8], hdr: &VnetHdr) -> Result<Splitter, RxError> {
        if hdr.gso_type & !GSO_ECN != GSO_TCPV4 || hdr.gso_size == 0 {
            return Err(RxError::BadGso);
        }
        let eth = EthernetFrame::new_checked(frame).map_err(|_| RxError::BadGso)?;
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return Err(RxError::BadGso);
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| RxError::BadGso)?;
        if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
            return Err(RxError::BadGso);
        }
        let ip_hdr_len = ip.header_len() as usize;
        let ip_len = ip.total_len() as usize;
        let tcp = TcpPacket::new_checked(&eth.payload()[ip_hdr_len..ip_len])
            .map_err(|_| RxError::BadGso)?;
        let hdr_len = ETH_LEN + ip_hdr_len + tcp.header_len() as usize;
        if hdr_len >= ETH_LEN + ip_len {
            // No payload to segment: nothing the kernel's GSO would send.
            return Err(RxError::BadGso);
        }
        Ok(Splitter {
            hdr_len,
            ip_hdr_len,
            gso_size: hdr.gso_size as usize,
            next: hdr_len,
            index: 0,
            len: ETH_LEN + ip_len,
        })
    }

    /// Whether every segment has been produced.
    pub(crate) fn done(&self) -> bool {
        self.next >= self.len
    }

    /// Write the next segment of `frame` (the same buffer given to `new`) into `out`; returns
    /// its length. `out` must hold at least headers + `gso_size` bytes.
    pub(crate) fn next_into(&mut self, frame: &[u8], out: &mut [u8]) -> Option<usize> {
        if self.done() {
            return None;
        }
        let chunk = self.gso_size.min(self.len - self.next);
        let seg_len = self.hdr_len + chunk;
        if out.len() < seg_len {
            return None;
        }
        let first = self.index == 0;
        let last = self.next + chunk >= self.len;
        let seq_advance = (self.next - self.hdr_len) as i32;
        out[..self.hdr_len].copy_from_slice(&frame[..self.hdr_len]);
        out[self.hdr_len..seg_len].copy_from_slice(&frame[self.next..self.next + chunk]);
        let ip_bytes = &mut out[ETH_LEN..seg_len];
        let mut ip = Ipv4Packet::new_unchecked(&mut *ip_bytes);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        ip.set_total_len((seg_len - ETH_LEN) as u16);
        ip.set_ident(ip.ident().wrapping_add(self.index));
        ip.fill_checksum();
        let mut tcp = TcpPacket::new_unchecked(&mut ip_bytes[self.ip_hdr_len..]);
        let seq = tcp.seq_number();
        tcp.set_seq_number(seq + seq_advance as usize);
        if !first {
            tcp.set_cwr(false);
        }
        if !last {
            tcp.set_fin(false);
            tcp.set_psh(false);
        }
        fill_tcp_checksum(&mut ip_bytes[self.ip_hdr_len..], src, dst);
        self.next += chunk;
        self.index = self.index.wrapping_add(1);
        Some(seg_len)
    }
}

/// Compute and store the full TCP checksum of `segment` (RFC 9293 §3.1).
fn fill_tcp_checksum(segment: &mut [u8], src: Ipv4Address, dst: Ipv4Address) {
    let mut tcp = TcpPacket::new_unchecked(&mut *segment);
    tcp.set_checksum(0);
    let sum = transport_checksum(src, dst, IpProtocol::Tcp, segment);
    TcpPacket::new_unchecked(segment).set_checksum(sum);
}

/// The identity of a data segment that may join a super-segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SegKey {
    /// Ethernet + IPv4 + TCP headers, except the fields that differ between segments.
    hdr_len: usize,
    ip_hdr_len: usize,
    payload: usize,
    seq: TcpSeqNumber,
}

/// Classify `frame` for merging: a TCPv4 segment with payload, no fragments, and only ACK
/// (and PSH) flags set; `None` for anything else.
fn seg_key(frame: &[u8]) -> Option<SegKey> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp
        || ip.more_frags()
        || ip.frag_offset() != 0
        || ip.total_len() as usize != eth.payload().len()
    {
        return None;
    }
    let ip_hdr_len = ip.header_len() as usize;
    let tcp = TcpPacket::new_checked(&eth.payload()[ip_hdr_len..]).ok()?;
    let plain = tcp.ack() && !tcp.syn() && !tcp.fin() && !tcp.rst() && !tcp.urg() && !tcp.ece();
    let hdr_len = ETH_LEN + ip_hdr_len + tcp.header_len() as usize;
    let payload = frame.len() - hdr_len;
    if !plain || tcp.cwr() || payload == 0 {
        return None;
    }
    Some(SegKey {
        hdr_len,
        ip_hdr_len,
        payload,
        seq: tcp.seq_number(),
    })
}

/// Whether the headers of two segments are equal except for the fields that legitimately
/// differ between consecutive segments (IPv4 identification, total length and checksum; TCP
/// sequence number, PSH and checksum).
fn same_flow(a: &[u8], b: &[u8], k: &SegKey) -> bool {
    let ip = ETH_LEN;
    let tcp = ETH_LEN + k.ip_hdr_len;
    // Ethernet, IPv4 version..TOS, flags..protocol, addresses and options.
    a[..ip + 2] == b[..ip + 2]
        && a[ip + 6..ip + 10] == b[ip + 6..ip + 10]
        && a[ip + 12..tcp] == b[ip + 12..tcp]
        // TCP ports; ack..window except PSH (byte 13, bit 3); urgent pointer and options.
        && a[tcp..tcp + 4] == b[tcp..tcp + 4]
        && a[tcp + 8..tcp + 13] == b[tcp + 8..tcp + 13]
        && a[tcp + 13] & !0x08 == b[tcp + 13] & !0x08
        && a[tcp + 14..tcp + 16] == b[tcp + 14..tcp + 16]
        && a[tcp + 18..k.hdr_len] == b[tcp + 18..k.hdr_len]
}

/// Merges consecutive full-size data segments of one connection into a super-segment.
#[derive(Debug)]
pub(crate) struct Coalescer {
    buf: Vec<u8>,
    key: Option<SegKey>,
    /// Segments merged into `buf`.
    segs: usize,
    /// Sequence number the next segment must have.
    next_seq: TcpSeqNumber,
    /// A short segment ended the super-segment: nothing may follow it.
    closed: bool,
    /// One's complement sum of the merged payloads, as they lie in `buf`.
    data_sum: u16,
    /// The merged payload so far has an odd length (the next one starts at an odd offset).
    odd: bool,
}

/// What [`Coalescer::push`] did with a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Push {
    /// The frame was appended; nothing to send yet.
    Merged,
    /// The frame cannot join: send the pending super-segment (if any) with [`Coalescer::take`]
    /// and push the frame again.
    Flush,
}

impl Coalescer {
    pub(crate) fn new() -> Coalescer {
        Coalescer {
            buf: Vec::with_capacity(ETH_LEN + MAX_SUPER_IP_LEN),
            key: None,
            segs: 0,
            next_seq: TcpSeqNumber(0),
            closed: false,
            data_sum: 0,
            odd: false,
        }
    }

    /// Whether nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.segs == 0
    }

    /// Offer `frame`. A frame that is not a plain data segment, or does not continue the
    /// pending one exactly (same flow, next sequence number, the same segment size; a shorter
    /// one may end it), gives [`Push::Flush`], as does one that would not fit in 64 KiB.
    /// Frames that can never merge are accepted into an empty coalescer and sent alone.
    pub(crate) fn push(&mut self, frame: &[u8]) -> Push {
        let Some(k) = seg_key(frame) else {
            if self.is_empty() {
                self.start_single(frame);
                return Push::Merged;
            }
            return Push::Flush;
        };
        if self.is_empty() {
            self.buf.clear();
            self.buf.extend_from_slice(frame);
            self.key = Some(k);
            self.segs = 1;
            self.next_seq = k.seq + k.payload;
            self.closed = false;
            self.data_sum = 0;
            self.odd = false;
            self.add_payload_sum(frame, &k);
            return Push::Merged;
        }
        let Some(first) = self.key else {
            return Push::Flush;
        };
        let fits = self.buf.len() - ETH_LEN + k.payload <= MAX_SUPER_IP_LEN;
        if self.closed
            || !fits
            || k.hdr_len != first.hdr_len
            || k.seq != self.next_seq
            || k.payload > first.payload
            || !same_flow(&self.buf[..first.hdr_len], frame, &first)
        {
            return Push::Flush;
        }
        // PSH on any merged segment is kept on the super-segment (the kernel's GRO does
        // the same), so the receiver pushes the data no later than it would have.
        let psh = frame[ETH_LEN + first.ip_hdr_len + 13] & 0x08;
        self.buf[ETH_LEN + first.ip_hdr_len + 13] |= psh;
        self.buf.extend_from_slice(&frame[k.hdr_len..]);
        self.add_payload_sum(frame, &k);
        self.segs += 1;
        self.next_seq = k.seq + k.payload;
        self.closed = k.payload < first.payload;
        Push::Merged
    }

    /// Add the sum of `frame`'s payload to `data_sum`, derived from the checksum the stack
    /// computed (pseudo-header + header + payload sum to all ones, RFC 9293 §3.1), so the
    /// payload is not read again: its sum is the complement of the pseudo-header and header
    /// sums. A segment with a wrong checksum thus gives a super-segment with a wrong one,
    /// which the kernel drops, as it would have dropped the segment.
    fn add_payload_sum(&mut self, frame: &[u8], k: &SegKey) {
        let ip = Ipv4Packet::new_unchecked(&frame[ETH_LEN..]);
        let tcp_len = frame.len() - ETH_LEN - k.ip_hdr_len;
        let pseudo = pseudo_header_sum(ip.src_addr(), ip.dst_addr(), IpProtocol::Tcp, tcp_len);
        let header = ones_sum(&frame[ETH_LEN + k.ip_hdr_len..k.hdr_len]);
        let mut payload = !combine(pseudo, header);
        // RFC 1071 §2(B): a sum over bytes at odd offsets is the byte-swapped sum.
        if self.odd {
            payload = payload.swap_bytes();
        }
        self.data_sum = combine(self.data_sum, payload);
        self.odd ^= k.payload % 2 == 1;
    }

    fn start_single(&mut self, frame: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(frame);
        self.key = None;
        self.segs = 1;
        self.closed = true;
    }

    /// The pending frame and its `virtio_net_hdr`, ready to write; the coalescer is empty
    /// afterwards (the returned slice stays valid until the next `push`).
    /// Also returns how many segments it holds.
    pub(crate) fn take(&mut self) -> Option<(VnetHdr, &[u8], usize)> {
        if self.is_empty() {
            return None;
        }
        let segs = self.segs;
        self.segs = 0;
        let hdr = match self.key {
            Some(k) if segs > 1 => {
                let total = self.buf.len();
                let mut ip = Ipv4Packet::new_unchecked(&mut self.buf[ETH_LEN..]);
                let (src, dst) = (ip.src_addr(), ip.dst_addr());
                ip.set_total_len((total - ETH_LEN) as u16);
                ip.fill_checksum();
                let tcp = &mut self.buf[ETH_LEN + k.ip_hdr_len..];
                let tcp_len = tcp.len();
                TcpPacket::new_unchecked(&mut *tcp).set_checksum(0);
                let header = ones_sum(&tcp[..k.hdr_len - ETH_LEN - k.ip_hdr_len]);
                let pseudo = pseudo_header_sum(src, dst, IpProtocol::Tcp, tcp_len);
                let sum = combine(pseudo, combine(header, self.data_sum));
                TcpPacket::new_unchecked(tcp).set_checksum(!sum);
                VnetHdr {
                    flags: 0,
                    gso_type: GSO_TCPV4,
                    hdr_len: k.hdr_len as u16,
                    gso_size: k.payload as u16,
                    csum_start: 0,
                    csum_offset: 0,
                }
            }
            _ => VnetHdr::default(),
        };
        Some((hdr, &self.buf, segs))
    }
}

#[cfg(test)]
#[path = "offload_tests.rs"]
mod tests;
