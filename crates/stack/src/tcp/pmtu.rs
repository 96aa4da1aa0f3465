//! Path MTU discovery: RFC 1191 ("fragmentation needed" lowers the path MTU), checked as
//! RFC 5927 asks, and RFC 4821 §10.1-style black-hole detection for paths that drop the
//! ICMP messages.
//!
//! - Every TCP segment carries DF (`output.rs` of the facade). A router that cannot forward it
//!   answers "fragmentation needed" with its next-hop MTU (RFC 1191 §4); an old router sends
//!   0 and the next plateau of RFC 1191 §7 below the current estimate is used (§5).
//! - An ICMP message is believed only when it quotes a sequence number in flight (RFC 5927
//!   §4.1, checked by the caller), never raises the estimate (RFC 1191 §6.3), and never
//!   lowers it below [`MIN_PMTU`] (RFC 5927 §7.2: a forged tiny MTU must not make us shred
//!   the stream; Linux's `min_pmtu` is the same 552).
//! - The lowered MSS applies at once: everything in flight is sent again in smaller
//!   segments, without a congestion response (the loss was not congestion; Linux's
//!   `tcp_simple_retransmit`).
//! - Learned values are cached per destination for new connections and expire after 10
//!   minutes (RFC 1191 §6.3), bounded in number.
//! - Black holes: when the same data times out `blackhole_rtos` times in a row on an
//!   established connection, the MSS is halved (not below 536, RFC 9293 §3.7.1's default),
//!   as Linux does with `tcp_mtu_probing`; the PLPMTUD upward search is not implemented.

use std::collections::HashMap;

use core::net::Ipv4Addr;

use super::hash::IdBuild;
use crate::time::{Duration, Instant};

/// Smallest path MTU we accept from an ICMP message (Linux `min_pmtu`).
pub(crate) const MIN_PMTU: u16 = 552;
/// How long a learned path MTU is kept for new connections (RFC 1191 §6.3: 10 minutes).
pub(crate) const PMTU_AGE: Duration = Duration::from_secs(600);
/// MSS floor of black-hole reductions (RFC 9293 §3.7.1 default send MSS).
pub(crate) const BLACKHOLE_MIN_MSS: u32 = 536;

/// RFC 1191 §7 table of MTU plateaus.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The next plateau strictly below `mtu` (RFC 1191 §5, for routers that report 0).
pub(crate) fn plateau_below(mtu: u16) -> u16 {
    PLATEAUS.iter().copied().find(|&p| p < mtu).unwrap_or(68)
}

/// What an ICMP "fragmentation needed" carrying `reported` does to a path MTU of `current`:
/// the new path MTU, or `None` when it must be ignored (RFC 1191 §6.3: not an increase;
/// RFC 5927 §7.2: not below the floor; below 68 it is invalid, RFC 791).
pub(crate) fn lowered(current: u16, reported: u16) -> Option<u16> {
    let mtu = match reported {
        0 => plateau_below(current),
        1..=67 => return None,
        m => m,
    };
    let mtu = mtu.max(MIN_PMTU);
    (mtu < current).then_some(mtu)
}

/// Path MTUs learned per destination, for new connections (bounded; expired entries and,
/// when full, the oldest one make room).
#[derive(Debug, Default)]
pub(crate) struct PmtuCache {
    map: HashMap<Ipv4Addr, (u16, Instant), IdBuild>,
    max: usize,
}

impl PmtuCache {
    /// A cache of at most `max` destinations.
    pub fn new(max: usize) -> Self {
        PmtuCache {
            map: HashMap::default(),
            max,
        }
    }

    /// The path MTU learned for `dst`, if still fresh at `now`.
    pub fn get(&self, dst: Ipv4Addr, now: Instant) -> Option<u16> {
        self.map
            .get(&dst)
            .filter(|(_, at)| now.saturating_duration_since(*at) < PMTU_AGE)
            .map(|(m, _)| *m)
    }

    /// Remember `mtu` for `dst`.
    pub fn set(&mut self, dst: Ipv4Addr, mtu: u16, now: Instant) {
        if self.max == 0 {
            return;
        }
        if !self.map.contains_key(&dst) && self.map.len() >= self.max {
            self.map
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < PMTU_AGE);
            if self.map.len() >= self.max {
                if let Some(oldest) = self.map.iter().min_by_key(|(_, (_, at))| *at).map(|x| *x.0) {
                    self.map.remove(&oldest);
                }
            }
        }
        self.map.insert(dst, (mtu, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1191 §6.3 / §5 / RFC 5927 §7.2: only decreases, 0 means the next plateau, tiny
    /// values are floored, nonsense ignored.
    #[test]
    fn rfc1191_6_3_lowered_rules() {
        assert_eq!(lowered(1500, 1280), Some(1280));
        assert_eq!(lowered(1500, 1500), None, "not a decrease");
        assert_eq!(lowered(1280, 1400), None, "never raised by ICMP");
        assert_eq!(lowered(1500, 0), Some(1492), "RFC 1191 §5 plateau");
        assert_eq!(lowered(1492, 0), Some(1006));
        assert_eq!(lowered(1500, 300), Some(MIN_PMTU), "floored");
        assert_eq!(lowered(1500, 40), None, "below 68: invalid");
        assert_eq!(lowered(MIN_PMTU, 300), None);
    }

    /// RFC 1191 §6.3: cached values age out after 10 minutes; the cache is bounded.
    #[test]
    fn rfc1191_6_3_cache_ages_and_is_bounded() {
        let mut c = PmtuCache::new(2);
        let t = Instant::from_secs(1);
        let ip = |n| Ipv4Addr::new(198, 18, 0, n);
        c.set(ip(1), 1280, t);
        assert_eq!(c.get(ip(1), t + Duration::from_secs(599)), Some(1280));
        assert_eq!(c.get(ip(1), t + PMTU_AGE), None);
        c.set(ip(2), 1400, t + Duration::from_secs(1));
        c.set(ip(3), 1400, t + Duration::from_secs(2));
        assert_eq!(c.get(ip(1), t), None, "oldest evicted");
        assert_eq!(c.map.len(), 2);
    }
}
