use super::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetRepr, Ipv4Address, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber,
};

const SRC: Ipv4Address = Ipv4Address::new(198, 18, 0, 1);
const DST: Ipv4Address = Ipv4Address::new(198, 18, 0, 2);

/// One TCP/IPv4 frame with valid checksums, built with smoltcp's emitters.
fn segment(
    seq: u32,
    ident: u16,
    payload: &[u8],
    control: TcpControl,
    psh: bool,
    src_port: u16,
) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port,
        dst_port: 80,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: Some(TcpSeqNumber(7)),
        window_len: 1000,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: SRC,
        dst_addr: DST,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut buf = vec![0u8; ETH_LEN + ip.buffer_len() + ip.payload_len];
    let caps = ChecksumCapabilities::default();
    eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    let mut ipp = Ipv4Packet::new_unchecked(&mut buf[ETH_LEN..]);
    ip.emit(&mut ipp, &caps);
    ipp.set_ident(ident);
    ipp.set_dont_frag(true);
    ipp.fill_checksum();
    let mut t = TcpPacket::new_unchecked(ipp.payload_mut());
    tcp.emit(&mut t, &SRC.into(), &DST.into(), &caps);
    t.set_psh(psh);
    t.fill_checksum(&SRC.into(), &DST.into());
    buf
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn checksums_ok(frame: &[u8]) -> bool {
    let ip = Ipv4Packet::new_checked(&frame[ETH_LEN..]).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    ip.verify_checksum() && tcp.verify_checksum(&SRC.into(), &DST.into())
}

#[test]
fn ones_sum_agrees_with_smoltcp_checksums() {
    for len in [0, 1, 2, 3, 5, 1000, 1001, 1460] {
        let f = segment(1, 1, &pattern(len), TcpControl::None, false, 1);
        assert!(checksums_ok(&f));
        // A correct TCP checksum makes the sum over pseudo-header + segment all ones.
        let tcp = &f[ETH_LEN + 20..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&SRC.octets());
        pseudo.extend_from_slice(&DST.octets());
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(tcp);
        assert_eq!(ones_sum(&pseudo), 0xffff, "len {len}");
    }
}

#[test]
fn vnet_hdr_round_trips() {
    let h = VnetHdr {
        flags: 1,
        gso_type: GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    assert_eq!(VnetHdr::parse(&h.emit()), h);
}

/// NEEDS_CSUM: the field holds the pseudo-header sum; completing it gives a valid checksum
/// (the kernel's CHECKSUM_PARTIAL contract). Offsets outside the frame are refused.
#[test]
fn partial_checksum_is_completed() {
    let mut f = segment(9, 3, &pattern(333), TcpControl::None, true, 1);
    let tcp_len = f.len() - ETH_LEN - 20;
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&SRC.octets());
    pseudo.extend_from_slice(&DST.octets());
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    let partial = ones_sum(&pseudo);
    let at = ETH_LEN + 20 + 16;
    f[at..at + 2].copy_from_slice(&partial.to_be_bytes());
    assert!(!checksums_ok(&f));
    let hdr = VnetHdr {
        flags: F_NEEDS_CSUM,
        csum_start: (ETH_LEN + 20) as u16,
        csum_offset: 16,
        ..VnetHdr::default()
    };
    complete_csum(&mut f, &hdr).unwrap();
    assert!(checksums_ok(&f));
    let bad = VnetHdr {
        csum_offset: 4000,
        ..hdr
    };
    assert_eq!(complete_csum(&mut f, &bad), Err(RxError::BadCsumOffsets));
}

/// Merging then splitting gives back exactly the frames the stack produced.
#[test]
fn coalesce_then_split_is_identity() {
    let mss = 1460;
    let data = pattern(mss * 5 + 700);
    let base = 0xffff_f000u32; // the sequence space wraps inside the run
    let frames: Vec<Vec<u8>> = data
        .chunks(mss)
        .enumerate()
        .map(|(i, c)| {
            let last = (i + 1) * mss >= data.len();
            segment(
                base.wrapping_add((i * mss) as u32),
                0xfffe_u16.wrapping_add(i as u16),
                c,
                TcpControl::None,
                last,
                1,
            )
        })
        .collect();
    let mut co = Coalescer::new();
    for f in &frames {
        assert_eq!(co.push(f), Push::Merged);
    }
    let (hdr, sup, segs) = co.take().unwrap();
    assert_eq!(segs, frames.len());
    assert_eq!(hdr.gso_type, GSO_TCPV4);
    assert_eq!(hdr.gso_size as usize, mss);
    assert_eq!(hdr.hdr_len as usize, ETH_LEN + 40);
    assert!(
        checksums_ok(sup),
        "the super-segment carries a full, valid checksum"
    );
    let sup = sup.to_vec();
    assert!(co.is_empty());
    let mut sp = Splitter::new(&sup, &hdr).unwrap();
    let mut out = vec![0u8; 2000];
    let mut got = Vec::new();
    while let Some(n) = sp.next_into(&sup, &mut out) {
        got.push(out[..n].to_vec());
    }
    assert!(sp.done());
    assert_eq!(got, frames);
}

/// Odd segment sizes put later payloads at odd offsets: the derived checksum still holds.
#[test]
fn odd_sized_segments_merge_with_a_valid_checksum() {
    for mss in [1, 3, 537, 1459] {
        let data = pattern(mss * 4 + 2);
        let mut co = Coalescer::new();
        for (i, c) in data.chunks(mss).enumerate() {
            let f = segment((i * mss) as u32, i as u16, c, TcpControl::None, false, 1);
            assert_eq!(co.push(&f), Push::Merged, "mss {mss} segment {i}");
        }
        let (hdr, sup, _) = co.take().unwrap();
        assert_eq!(hdr.gso_type, GSO_TCPV4);
        assert!(checksums_ok(sup), "mss {mss}");
    }
}

/// A segment whose checksum was wrong yields a super-segment whose checksum is wrong.
#[test]
fn a_bad_checksum_is_not_repaired() {
    let p = pattern(1000);
    let mut co = Coalescer::new();
    let mut bad = segment(1000, 1, &p, TcpControl::None, false, 1);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        co.push(&segment(0, 0, &p, TcpControl::None, false, 1)),
        Push::Merged
    );
    assert_eq!(co.push(&bad), Push::Merged);
    let (_, sup, _) = co.take().unwrap();
    assert!(!checksums_ok(sup));
}

#[test]
fn only_continuing_segments_merge() {
    let p = pattern(1000);
    let mut co = Coalescer::new();
    assert_eq!(
        co.push(&segment(0, 0, &p, TcpControl::None, false, 1)),
        Push::Merged
    );
    // A gap in sequence space, another flow, a FIN, a pure ACK: none may join.
    for f in [
        segment(2000, 1, &p, TcpControl::None, false, 1),
        segment(1000, 1, &p, TcpControl::None, false, 2),
        segment(1000, 1, &p, TcpControl::Fin, false, 1),
        segment(1000, 1, &[], TcpControl::None, false, 1),
        segment(1000, 1, &pattern(1200), TcpControl::None, false, 1),
    ] {
        assert_eq!(co.push(&f), Push::Flush);
    }
    // A shorter segment may end the super-segment; nothing may follow it.
    assert_eq!(
        co.push(&segment(1000, 1, &p[..10], TcpControl::None, false, 1)),
        Push::Merged
    );
    assert_eq!(
        co.push(&segment(1010, 2, &p, TcpControl::None, false, 1)),
        Push::Flush
    );
    let (hdr, sup, segs) = co.take().unwrap();
    assert_eq!(
        (segs, hdr.gso_type, sup.len()),
        (2, GSO_TCPV4, ETH_LEN + 40 + 1010)
    );
    // Anything goes out alone through an empty coalescer, without GSO.
    let syn = segment(5, 0, &[], TcpControl::Syn, false, 1);
    assert_eq!(co.push(&syn), Push::Merged);
    assert_eq!(
        co.push(&segment(6, 0, &p, TcpControl::None, false, 1)),
        Push::Flush
    );
    let (hdr, f, segs) = co.take().unwrap();
    assert_eq!((hdr, f, segs), (VnetHdr::default(), &syn[..], 1));
}

#[test]
fn super_segments_stay_within_64k() {
    let p = pattern(1460);
    let mut co = Coalescer::new();
    let mut merged = 0;
    for i in 0..100u32 {
        if co.push(&segment(i * 1460, i as u16, &p, TcpControl::None, false, 1)) == Push::Flush {
            break;
        }
        merged += 1;
    }
    let (_, sup, segs) = co.take().unwrap();
    assert_eq!(segs, merged);
    assert!(sup.len() - ETH_LEN <= MAX_SUPER_IP_LEN);
    assert_eq!(merged, (MAX_SUPER_IP_LEN - 40) / 1460);
}

#[test]
fn bad_super_segments_are_refused() {
    let f = segment(0, 0, &pattern(3000), TcpControl::None, false, 1);
    let gso = VnetHdr {
        gso_type: GSO_TCPV4,
        gso_size: 1000,
        ..VnetHdr::default()
    };
    assert!(Splitter::new(&f, &gso).is_ok());
    let udp = VnetHdr { gso_type: 3, ..gso };
    assert_eq!(Splitter::new(&f, &udp).unwrap_err(), RxError::BadGso);
    let zero = VnetHdr { gso_size: 0, ..gso };
    assert_eq!(Splitter::new(&f, &zero).unwrap_err(), RxError::BadGso);
    assert_eq!(Splitter::new(&f[..30], &gso).unwrap_err(), RxError::BadGso);
    let empty = segment(0, 0, &[], TcpControl::None, false, 1);
    assert_eq!(Splitter::new(&empty, &gso).unwrap_err(), RxError::BadGso);
    // A too-small output buffer yields nothing rather than panicking.
    let mut sp = Splitter::new(&f, &gso).unwrap();
    assert_eq!(sp.next_into(&f, &mut [0u8; 100]), None);
}
