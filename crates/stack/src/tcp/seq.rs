//! Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 serial-number style).
//!
//! Two sequence numbers compare by the sign of their 32-bit difference, so every comparison
//! survives the wrap from 2^32 - 1 to 0 as long as the two numbers are less than 2^31 apart,
//! which the window limits guarantee.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

use smoltcp::wire::TcpSeqNumber;

/// A TCP sequence number (RFC 9293 §3.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Conversion from the wire type.
    pub fn from_wire(s: TcpSeqNumber) -> Seq {
        Seq(s.0 as u32)
    }

    /// Conversion to the wire type.
    pub fn to_wire(self) -> TcpSeqNumber {
        TcpSeqNumber(self.0 as i32)
    }

    /// Signed distance `self - other` (RFC 9293 §3.4: arithmetic modulo 2^32).
    pub fn diff(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `other - self` when `other` is at or after `self`, else 0.
    pub fn dist_to(self, other: Seq) -> u32 {
        let d = other.diff(self);
        if d > 0 {
            d as u32
        } else {
            0
        }
    }

    /// The later of two sequence numbers.
    pub fn max_seq(self, other: Seq) -> Seq {
        if self > other {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    pub fn min_seq(self, other: Seq) -> Seq {
        if self < other {
            self
        } else {
            other
        }
    }

    /// `lo <= self < hi` modulo 2^32 (RFC 9293 §3.4 "=<" tests).
    pub fn in_range(self, lo: Seq, hi: Seq) -> bool {
        lo <= self && self < hi
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<u32> for Seq {
    type Output = Seq;
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for Seq {
    fn add_assign(&mut self, n: u32) {
        self.0 = self.0.wrapping_add(n);
    }
}

impl Sub<u32> for Seq {
    type Output = Seq;
    fn sub(self, n: u32) -> Seq {
        Seq(self.0.wrapping_sub(n))
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9293 §3.4: comparisons are modulo 2^32 and survive the wrap.
    #[test]
    fn rfc9293_3_4_compare_across_wrap() {
        let a = Seq(u32::MAX - 10);
        let b = a + 20;
        assert_eq!(b.0, 9);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b.diff(a), 20);
        assert_eq!(a.diff(b), -20);
        assert_eq!(a.dist_to(b), 20);
        assert_eq!(b.dist_to(a), 0);
        assert!(Seq(u32::MAX).in_range(a, b));
        assert!(Seq(0).in_range(a, b));
        assert!(!b.in_range(a, b));
        assert_eq!(a.max_seq(b), b);
        assert_eq!(a.min_seq(b), a);
        assert_eq!(b - 20, a);
    }

    #[test]
    fn wire_round_trip() {
        let s = Seq(0xfffffff0);
        assert_eq!(Seq::from_wire(s.to_wire()), s);
    }
}
