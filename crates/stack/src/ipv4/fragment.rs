//! Fragmenting outgoing datagrams larger than the MTU (RFC 791 §3.2, "Fragmentation").
//!
//! One datagram is fragmented at a time; `poll_transmit` emits one fragment per call. Every
//! fragment carries the same identification, an offset in units of 8 octets and MF set on all
//! but the last, so each fragment's payload except the last is a multiple of 8 bytes.

use smoltcp::wire::EthernetAddress;

use super::OutDatagram;
use crate::pool::BufPool;

/// A datagram being sent in pieces.
#[derive(Debug)]
struct InProgress {
    dgram: OutDatagram,
    dst_mac: EthernetAddress,
    ident: u16,
    offset: usize,
}

/// The fragment currently due: where it goes and which bytes it carries.
#[derive(Debug)]
pub(crate) struct Fragment<'a> {
    pub dgram: &'a OutDatagram,
    pub dst_mac: EthernetAddress,
    pub ident: u16,
    pub offset: usize,
    pub more: bool,
    pub data: &'a [u8],
}

/// At most one datagram in the middle of being fragmented.
#[derive(Debug, Default)]
pub(crate) struct Fragmenter {
    current: Option<InProgress>,
}

/// Payload bytes per fragment for a link `mtu` with a 20-byte header: a multiple of 8.
pub(crate) fn fragment_payload(mtu: usize) -> usize {
    (mtu.saturating_sub(20) / 8 * 8).max(8)
}

/// Number of fragments needed for `len` payload bytes.
pub(crate) fn fragment_count(len: usize, mtu: usize) -> usize {
    len.div_ceil(fragment_payload(mtu)).max(1)
}

impl Fragmenter {
    /// Whether a datagram is being fragmented.
    #[cfg(test)]
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.current.as_ref().map_or(0, |c| c.dgram.payload.len())
    }

    /// Start fragmenting `dgram`; the caller must check `busy()` first.
    pub fn start(&mut self, dgram: OutDatagram, dst_mac: EthernetAddress, ident: u16) {
        debug_assert!(self.current.is_none());
        self.current = Some(InProgress {
            dgram,
            dst_mac,
            ident,
            offset: 0,
        });
    }

    /// Run `emit` on the next fragment and advance; finish the datagram after its last one.
    /// Returns what `emit` returned, or `None` when idle.
    pub fn next<R>(
        &mut self,
        mtu: usize,
        pool: &mut BufPool,
        emit: impl FnOnce(&Fragment<'_>) -> R,
    ) -> Option<R> {
        let cur = self.current.as_mut()?;
        let chunk = fragment_payload(mtu);
        let total = cur.dgram.payload.len();
        let end = (cur.offset + chunk).min(total);
        let frag = Fragment {
            dgram: &cur.dgram,
            dst_mac: cur.dst_mac,
            ident: cur.ident,
            offset: cur.offset,
            more: end < total,
            data: &cur.dgram.payload[cur.offset..end],
        };
        let r = emit(&frag);
        cur.offset = end;
        if end >= total {
            if let Some(done) = self.current.take() {
                pool.give(done.dgram.payload);
            }
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use smoltcp::wire::IpProtocol;

    #[test]
    fn rfc791_offsets_are_8_aligned_and_mf_on_all_but_last() {
        assert_eq!(fragment_payload(1500), 1480);
        assert_eq!(fragment_payload(1006), 984);
        assert_eq!(fragment_count(8008, 1500), 6);
        let dgram = OutDatagram {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            proto: IpProtocol::Udp,
            dont_frag: false,
            origin: super::super::Origin::Icmp,
            payload: (0..3000u32).map(|i| i as u8).collect(),
        };
        let mut f = Fragmenter::default();
        let mut pool = BufPool::new(1);
        f.start(dgram, EthernetAddress::BROADCAST, 7);
        let mut seen = Vec::new();
        while let Some((off, more, len)) =
            f.next(1006, &mut pool, |fr| (fr.offset, fr.more, fr.data.len()))
        {
            seen.push((off, more, len));
        }
        assert_eq!(
            seen,
            vec![
                (0, true, 984),
                (984, true, 984),
                (1968, true, 984),
                (2952, false, 48)
            ]
        );
        assert!(seen.iter().all(|&(o, _, _)| o % 8 == 0));
        assert!(!f.busy());
    }
}
