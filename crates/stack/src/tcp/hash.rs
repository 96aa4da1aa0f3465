//! Hashers for the connection tables, chosen for determinism and cost.
//!
//! - The 4-tuple table is keyed by values a remote peer controls, so it uses SipHash-1-3 keyed
//!   from the stack's seed (no hash flooding; same seed, same iteration order).
//! - Handle tables are keyed by our own counters: a multiplicative hash is enough.
//!
//! std's `RandomState` would make iteration order (and so the order of segments emitted by
//! e.g. closing a listener) differ between runs with the same seed.

use core::hash::{BuildHasher, BuildHasherDefault, Hasher};

use siphasher::sip::SipHasher13;

/// SipHash-1-3 with a fixed secret key.
#[derive(Debug, Clone)]
pub(crate) struct KeyedSip {
    k0: u64,
    k1: u64,
}

impl KeyedSip {
    /// Keys derived from the stack seed (distinct from the ISN key).
    pub fn new(seed: u64) -> Self {
        KeyedSip {
            k0: seed ^ 0x7363_6b65_7973_6970,
            k1: seed.rotate_left(29) ^ 0x0123_4567_89ab_cdef,
        }
    }
}

impl BuildHasher for KeyedSip {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// Multiplicative hash for small integer handles.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Builder for [`IdHasher`].
pub(crate) type IdBuild = BuildHasherDefault<IdHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        let b = KeyedSip::new(7);
        let h = |x: u32| b.hash_one(x);
        assert_eq!(h(1), KeyedSip::new(7).hash_one(1u32));
        assert_ne!(h(1), h(2));
        let mut a = IdHasher::default();
        a.write_u32(1);
        let mut c = IdHasher::default();
        c.write_u32(2);
        assert_ne!(a.finish(), c.finish());
    }
}
