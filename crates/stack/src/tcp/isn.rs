//! Initial sequence numbers (RFC 6528 §3, RFC 9293 §3.4.1).
//!
//! ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a timer ticking
//! every 4 microseconds and F is SipHash-2-4 keyed with a secret derived from the stack's seed.
//! Same seed and same clock give the same ISNs, which keeps simulations deterministic.

use core::net::SocketAddrV4;

use siphasher::sip::SipHasher24;

use super::seq::Seq;
use crate::time::Instant;

/// Generates RFC 6528 initial sequence numbers.
#[derive(Debug, Clone)]
pub(crate) struct IsnGenerator {
    hasher: SipHasher24,
}

impl IsnGenerator {
    /// A generator whose secret key is derived from `seed` (RFC 6528 §3: the key must not be
    /// guessable by an attacker; the seed is the stack's secret).
    pub fn new(seed: u64) -> Self {
        // Spread the seed over both key halves (splitmix64 steps) so seeds 0 and 1 give
        // unrelated keys.
        let k0 = splitmix(seed);
        let k1 = splitmix(k0 ^ 0x9e37_79b9_7f4a_7c15);
        IsnGenerator {
            hasher: SipHasher24::new_with_keys(k0, k1),
        }
    }

    /// The ISN for a connection between `local` and `remote` at `now` (RFC 6528 §3).
    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> Seq {
        let mut bytes = [0u8; 12];
        bytes[0..4].copy_from_slice(&local.ip().octets());
        bytes[4..6].copy_from_slice(&local.port().to_be_bytes());
        bytes[6..10].copy_from_slice(&remote.ip().octets());
        bytes[10..12].copy_from_slice(&remote.port().to_be_bytes());
        let f = self.hasher.hash(&bytes) as u32;
        // M: a 4 µs clock (RFC 9293 §3.4.1 / RFC 6528 §3).
        let m = (now.as_nanos() / 4_000) as u32;
        Seq(m.wrapping_add(f))
    }

    /// RFC 7323 §5.4: a per-connection offset for TSval, so the timestamp clock reveals
    /// neither uptime nor anything shared between connections. Same key, another input.
    pub fn ts_offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let mut bytes = [0u8; 13];
        bytes[0..4].copy_from_slice(&local.ip().octets());
        bytes[4..6].copy_from_slice(&local.port().to_be_bytes());
        bytes[6..10].copy_from_slice(&remote.ip().octets());
        bytes[10..12].copy_from_slice(&remote.port().to_be_bytes());
        bytes[12] = b'T';
        self.hasher.hash(&bytes) as u32
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn a(p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), p)
    }

    /// RFC 6528 §3: the ISN depends on the 4-tuple and the secret, and advances with the clock.
    #[test]
    fn rfc6528_3_keyed_by_tuple_secret_and_clock() {
        let g = IsnGenerator::new(1);
        let t = Instant::from_secs(1);
        let x = g.isn(t, a(1000), a(80));
        assert_eq!(x, g.isn(t, a(1000), a(80)), "deterministic");
        assert_ne!(x, g.isn(t, a(1001), a(80)), "tuple changes ISN");
        assert_ne!(
            x,
            IsnGenerator::new(2).isn(t, a(1000), a(80)),
            "secret changes ISN"
        );
        let later = g.isn(t + crate::time::Duration::from_micros(400), a(1000), a(80));
        assert_eq!(later.diff(x), 100, "M ticks every 4 µs");
    }
}
