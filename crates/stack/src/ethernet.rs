//! Ethernet II framing (RFC 894: IP over Ethernet; IEEE 802.3 frame format).
//!
//! Input: accept frames addressed to our MAC or to broadcast, demultiplex by EtherType to ARP
//! or IPv4, drop (and count) everything else. Output: write the 14-byte header in front of a
//! payload already placed at `buf[14..]`.

use smoltcp::wire::{EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr};

use crate::event::DropReason;
use crate::stats::EthernetCounters;

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// What a received frame carries, once accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Demux<'a> {
    /// An ARP packet (RFC 826).
    Arp(&'a [u8]),
    /// An IPv4 datagram (RFC 894); `broadcast` if the frame went to ff:ff:ff:ff:ff:ff.
    Ipv4 { payload: &'a [u8], broadcast: bool },
}

/// Accept or drop one received frame (RFC 894: only frames to our MAC or broadcast are ours).
pub(crate) fn demux<'a>(
    frame: &'a [u8],
    our_mac: EthernetAddress,
    counters: &mut EthernetCounters,
) -> Result<Demux<'a>, DropReason> {
    counters.frames_in += 1;
    let view = match EthernetFrame::new_checked(frame) {
        Ok(v) => v,
        Err(_) => {
            counters.truncated += 1;
            return Err(DropReason::EthTruncated);
        }
    };
    let Ok(repr) = EthernetRepr::parse(&view) else {
        counters.truncated += 1;
        return Err(DropReason::EthTruncated);
    };
    if repr.src_addr == our_mac {
        counters.from_self += 1;
        return Err(DropReason::EthNotForUs);
    }
    let broadcast = repr.dst_addr.is_broadcast();
    if repr.dst_addr != our_mac && !broadcast {
        counters.not_for_us += 1;
        return Err(DropReason::EthNotForUs);
    }
    match repr.ethertype {
        EthernetProtocol::Arp => Ok(Demux::Arp(view.payload())),
        EthernetProtocol::Ipv4 => Ok(Demux::Ipv4 {
            payload: view.payload(),
            broadcast,
        }),
        _ => {
            counters.unknown_ethertype += 1;
            Err(DropReason::EthUnknownType)
        }
    }
}

/// Write an Ethernet II header at the start of `buf` (which must hold at least 14 bytes).
pub(crate) fn emit_header(
    buf: &mut [u8],
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EthernetProtocol,
) {
    let repr = EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    };
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..HEADER_LEN]);
    repr.emit(&mut frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const THEM: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

    fn frame(dst: EthernetAddress, src: EthernetAddress, ty: EthernetProtocol) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        emit_header(&mut f, src, dst, ty);
        f
    }

    #[test]
    fn rfc894_accepts_unicast_and_broadcast_only() {
        let mut c = EthernetCounters::default();
        let f = frame(US, THEM, EthernetProtocol::Ipv4);
        assert!(matches!(
            demux(&f, US, &mut c),
            Ok(Demux::Ipv4 {
                broadcast: false,
                ..
            })
        ));
        let f = frame(EthernetAddress::BROADCAST, THEM, EthernetProtocol::Arp);
        assert!(matches!(demux(&f, US, &mut c), Ok(Demux::Arp(_))));
        let other = EthernetAddress([2, 0, 0, 0, 0, 9]);
        let f = frame(other, THEM, EthernetProtocol::Ipv4);
        assert_eq!(demux(&f, US, &mut c), Err(DropReason::EthNotForUs));
        let f = frame(US, THEM, EthernetProtocol::Ipv6);
        assert_eq!(demux(&f, US, &mut c), Err(DropReason::EthUnknownType));
        assert_eq!(demux(&f[..10], US, &mut c), Err(DropReason::EthTruncated));
        assert_eq!(
            (c.frames_in, c.not_for_us, c.unknown_ethertype, c.truncated),
            (5, 1, 1, 1)
        );
    }
}
