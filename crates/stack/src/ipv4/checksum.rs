//! The Internet checksum (RFC 1071) for the hot paths: the TCP checksum of every segment is
//! computed once on output and verified once on input (RFC 9293 §3.1), so its speed bounds
//! bulk throughput.
//!
//! RFC 1071 §2(B): the one's complement sum does not depend on byte order or word size, so
//! we add native-endian 32-bit words into 64-bit accumulators (no carry is lost for any input
//! shorter than 2^32 words) and fold to 16 bits at the end; §2(C) parallel summation lets the
//! compiler vectorize the loop. The result equals `smoltcp::wire`'s checksum bit for bit.

use core::net::Ipv4Addr;

use smoltcp::wire::IpProtocol;

/// The 16-bit one's complement sum of `data` (RFC 1071 §4.1, not complemented), as a number
/// (big-endian interpretation of the 16-bit words; an odd last byte is padded with zero).
pub fn ones_sum(data: &[u8]) -> u16 {
    // The folded sum of native-endian words is the sum's bytes in native order.
    u16::from_be(fold(sum_ne(data)))
}

/// Sum of `data` as native-endian 16-bit words, unfolded.
fn sum_ne(data: &[u8]) -> u64 {
    let mut acc = [0u64; 8];
    let split = data.len() & !31;
    let (blocks, rest) = data.split_at(split);
    for b in blocks.chunks_exact(32) {
        for (i, a) in acc.iter_mut().enumerate() {
            *a += u32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]) as u64;
        }
    }
    let mut s: u64 = acc.iter().sum();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        s += u16::from_ne_bytes([w[0], w[1]]) as u64;
    }
    if let [b] = words.remainder() {
        s += u16::from_ne_bytes([*b, 0]) as u64;
    }
    s
}

/// Fold a 64-bit sum of native-endian 16-bit words into 16 bits (end-around carry).
fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s >> 16) + (s & 0xffff);
    }
    s as u16
}

/// The one's complement sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768).
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, len: usize) -> u16 {
    let s = src.octets();
    let d = dst.octets();
    let words = [
        u16::from_be_bytes([s[0], s[1]]),
        u16::from_be_bytes([s[2], s[3]]),
        u16::from_be_bytes([d[0], d[1]]),
        u16::from_be_bytes([d[2], d[3]]),
        u8::from(protocol) as u16,
        len as u16,
    ];
    fold(words.iter().map(|&w| w as u64).sum::<u64>() + (len as u64 >> 16))
}

/// Add two one's complement sums.
pub fn combine(a: u16, b: u16) -> u16 {
    fold(a as u64 + b as u64)
}

/// Whether a TCP or UDP `segment` (header and data, checksum field included) from `src` to
/// `dst` has a correct checksum: the sum over pseudo-header and segment is all ones.
pub fn verify_transport(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    segment: &[u8],
) -> bool {
    combine(
        pseudo_header_sum(src, dst, protocol, segment.len()),
        ones_sum(segment),
    ) == 0xffff
}

/// The checksum field value for a TCP or UDP `segment` whose checksum field is zero.
pub fn transport_checksum(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    segment: &[u8],
) -> u16 {
    !combine(
        pseudo_header_sum(src, dst, protocol, segment.len()),
        ones_sum(segment),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{IpAddress, TcpPacket};

    fn data(n: usize, seed: u32) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
            .collect()
    }

    /// RFC 1071 §3's worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        assert_eq!(
            ones_sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    /// Equal to smoltcp's TCP checksum for every length around the block size and for
    /// all-ones data (the carry-heavy case).
    #[test]
    fn agrees_with_smoltcp() {
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let dst = Ipv4Addr::new(198, 18, 0, 2);
        for len in (20..200).chain([1459, 1460, 1480, 9000, 65515]) {
            for buf in [data(len, len as u32), vec![0xff; len]] {
                let mut buf = buf;
                buf[12] = 0x50; // data offset: 20 bytes
                let mut p = TcpPacket::new_unchecked(&mut buf[..]);
                p.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
                assert!(
                    verify_transport(src, dst, IpProtocol::Tcp, &buf),
                    "len {len}"
                );
                let want = u16::from_be_bytes([buf[16], buf[17]]);
                buf[16] = 0;
                buf[17] = 0;
                assert_eq!(
                    transport_checksum(src, dst, IpProtocol::Tcp, &buf),
                    want,
                    "len {len}"
                );
                buf[len - 1] ^= 0x10;
                buf[16..18].copy_from_slice(&want.to_be_bytes());
                assert!(
                    !verify_transport(src, dst, IpProtocol::Tcp, &buf),
                    "len {len}"
                );
            }
        }
    }
}
