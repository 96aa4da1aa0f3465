//! Ephemeral port selection (RFC 6056 §3.3.3, "Algorithm 3: Simple Hash-Based Port Selection").
//!
//! Each destination (local IP, remote IP, remote port) gets its own secret offset into the
//! ephemeral range (RFC 6335 §6: 49152-65535), and one counter moves every search forward.
//! Consecutive connections to one server therefore use consecutive ports starting from a point
//! an observer cannot predict from the ports used towards other destinations, and a client
//! opening connections in a loop walks the whole range before it comes back to a port whose
//! 4-tuple may still be in TIME-WAIT (the search skips those anyway).

use core::hash::Hasher;
use core::net::{Ipv4Addr, SocketAddrV4};

use siphasher::sip::SipHasher13;

/// First port of the ephemeral range (RFC 6335 §6: 49152-65535).
pub(crate) const EPHEMERAL_FIRST: u16 = 49152;
/// Number of ports in the range.
pub(crate) const EPHEMERAL_COUNT: u32 = (u16::MAX - EPHEMERAL_FIRST) as u32 + 1;

/// RFC 6056 §3.3.3: F(local IP, remote IP, remote port, secret key).
pub(crate) fn offset(key: (u64, u64), local: Ipv4Addr, remote: SocketAddrV4) -> u32 {
    let mut h = SipHasher13::new_with_keys(key.0, key.1);
    h.write(&local.octets());
    h.write(&remote.ip().octets());
    h.write_u16(remote.port());
    h.finish() as u32
}

/// The `i`-th candidate: min_ephemeral + (next_ephemeral + offset) % num_ephemeral.
pub(crate) fn candidate(offset: u32, counter: u32) -> u16 {
    let n = offset.wrapping_add(counter) % EPHEMERAL_COUNT;
    EPHEMERAL_FIRST + n as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6056 §3.3.3: different destinations start at unrelated points; one destination
    /// walks the range in order and covers every port once.
    #[test]
    fn rfc6056_3_3_3_per_destination_offsets() {
        let key = (1, 2);
        let l = Ipv4Addr::new(198, 18, 0, 1);
        let a = offset(key, l, SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 80));
        let b = offset(key, l, SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 81));
        assert_ne!(candidate(a, 0), candidate(b, 0));
        let mut seen = std::collections::HashSet::new();
        for i in 0..EPHEMERAL_COUNT {
            let p = candidate(a, i);
            assert!(p >= EPHEMERAL_FIRST);
            assert!(seen.insert(p));
        }
        assert_eq!(seen.len() as u32, EPHEMERAL_COUNT);
        assert_ne!(
            offset(
                (3, 4),
                l,
                SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 80)
            ),
            a
        );
    }
}
