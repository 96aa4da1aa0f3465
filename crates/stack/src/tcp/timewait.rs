//! TIME-WAIT that scales (RFC 9293 §3.4.2, §3.10.7.4; RFC 1337; RFC 6191).
//!
//! A connection that reaches TIME-WAIT has nothing left to send or receive: it only has to
//! remember its 4-tuple and sequence numbers for 2*MSL, so that old duplicates of its segments
//! cannot be taken for a new incarnation, and so that a retransmitted FIN is acknowledged
//! again. Keeping the whole connection for that long is what made a server closing one
//! connection per request refuse new ones under load: here the connection is replaced by a
//! compact [`TimeWaitEntry`] (about 70 bytes), outside `max_connections`, in a table with its
//! own bound (`TcpConfig::max_timewait`). When the table is full the oldest entry is dropped
//! early and counted, as Linux does with `tcp_max_tw_buckets`.
//!
//! What a segment for an entry gets ([`decide`]):
//! - a RST is ignored (RFC 1337 §3, "TIME-WAIT assassination" fix 1);
//! - a SYN without ACK for a listening port reopens the 4-tuple when its sequence number is
//!   above the old RCV.NXT, or, when timestamps were in use, its timestamp is newer than the
//!   last one seen (RFC 9293 §3.10.7.4 note, RFC 1122 §4.2.2.13, RFC 6191 §2);
//! - a retransmitted FIN is acknowledged and restarts the 2*MSL timer (RFC 9293 §3.10.7.4,
//!   eighth step);
//! - anything else unacceptable is answered with an ACK (RFC 9293 §3.10.7.4, first step), at
//!   most one per `TW_ACK_INTERVAL` per entry so a peer cannot make us reflect a flood
//!   (Linux rate-limits these the same way, `tcp_invalid_ratelimit`); an acceptable segment
//!   without text (a late ACK) is dropped silently.

use std::collections::{HashMap, VecDeque};

use core::net::SocketAddrV4;

use super::hash::KeyedSip;
use super::input::Segment;
use super::seq::Seq;
use super::ConnHandle;
use crate::time::{Duration, Instant};

/// Least time between two ACKs an entry sends for unacceptable segments (Linux
/// `tcp_invalid_ratelimit` is 500 ms too).
pub(crate) const TW_ACK_INTERVAL: Duration = Duration::from_millis(500);

/// What remains of a connection in TIME-WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWaitEntry {
    /// Our next sequence number (our FIN was acknowledged: SND.NXT = SND.UNA).
    pub snd_nxt: Seq,
    /// The peer's next sequence number (its FIN was received).
    pub rcv_nxt: Seq,
    /// The window field last announced (already scaled), repeated in our ACKs.
    pub window: u16,
    /// RFC 7323: the last timestamp received from the peer (TS.Recent), when timestamps were
    /// in use on the connection.
    pub ts_recent: Option<u32>,
    /// RFC 7323 §5.4: the connection's TSval offset, so ACKs from TIME-WAIT keep the clock.
    pub ts_offset: u32,
    /// When the entry ends (2*MSL after the last FIN).
    pub expires: Instant,
    /// The connection's handle (for traces), and whether the application still holds it (it
    /// then reports TIME-WAIT until the entry ends).
    pub conn: ConnHandle,
    pub owned: bool,
    /// When this entry last sent an ACK (rate limit).
    pub last_ack: Option<Instant>,
}

/// What to do with a segment that matched a TIME-WAIT entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TwAction {
    /// Nothing: a late acceptable segment, or an ACK already sent recently.
    Drop,
    /// A RST: ignored (RFC 1337).
    IgnoreRst,
    /// Send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    Ack,
    /// A retransmitted FIN: ACK it and restart 2*MSL.
    AckRestart,
    /// A new SYN may start a new incarnation: delete the entry, hand the SYN to the listener.
    Reopen,
}

/// The rules of this module's doc comment, as a pure function of the entry and the segment.
/// `listening`: a listener exists for the local port. `ts_ok` is whether the segment's
/// timestamp (if any) is newer than `ts_recent` (RFC 7323 §5.3 R1 comparison, mod 2^32).
pub(crate) fn decide(
    e: &TimeWaitEntry,
    seg: &Segment<'_>,
    now: Instant,
    listening: bool,
) -> TwAction {
    if seg.rst {
        return TwAction::IgnoreRst;
    }
    if seg.syn && seg.ack.is_none() {
        let newer_ts = match (e.ts_recent, seg.tsval) {
            (Some(recent), Some(val)) => (val.wrapping_sub(recent) as i32) > 0,
            _ => false,
        };
        // RFC 6191 §2: with timestamps, the timestamp decides; without, the sequence number.
        let acceptable = if e.ts_recent.is_some() && seg.tsval.is_some() {
            newer_ts
        } else {
            seg.seq > e.rcv_nxt
        };
        if listening && acceptable {
            return TwAction::Reopen;
        }
        // RFC 5961 §4.2 / RFC 9293 §3.10.7.4 fourth step: a SYN in a synchronized state is
        // answered with an ACK, which tells a peer that lost its state to reset us.
        return rate_limited(e, now, TwAction::Ack);
    }
    // The peer's FIN occupied RCV.NXT - 1: a segment carrying it again is a retransmission.
    if seg.fin && seg.seq + seg.payload.len() as u32 + 1 == e.rcv_nxt {
        return TwAction::AckRestart;
    }
    if seg.payload.is_empty() && !seg.fin && seg.seq == e.rcv_nxt {
        // An acceptable bare ACK (e.g. a late duplicate): nothing to say.
        return TwAction::Drop;
    }
    rate_limited(e, now, TwAction::Ack)
}

fn rate_limited(e: &TimeWaitEntry, now: Instant, a: TwAction) -> TwAction {
    match e.last_ack {
        Some(t) if now.saturating_duration_since(t) < TW_ACK_INTERVAL => TwAction::Drop,
        _ => a,
    }
}

/// 4-tuple key: (local, remote).
pub(crate) type TwKey = (SocketAddrV4, SocketAddrV4);

/// All TIME-WAIT entries, bounded, with their expiry order.
#[derive(Debug)]
pub(crate) struct TimeWaitTable {
    map: HashMap<TwKey, TimeWaitEntry, KeyedSip>,
    /// (expiry, key) in the order entries were (re)started; since every entry lives exactly
    /// 2*MSL from its start this is also expiry order. An element whose expiry no longer
    /// matches the entry's is stale (the entry was restarted or removed) and is skipped.
    order: VecDeque<(Instant, TwKey)>,
    max: usize,
}

impl TimeWaitTable {
    /// An empty table holding at most `max` entries.
    pub fn new(max: usize, hasher: KeyedSip) -> Self {
        TimeWaitTable {
            map: HashMap::with_hasher(hasher),
            order: VecDeque::new(),
            max,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The entry for `key`.
    pub fn get(&self, key: &TwKey) -> Option<&TimeWaitEntry> {
        self.map.get(key)
    }

    /// The entry for `key`, mutable (its expiry must be changed with [`Self::restart`]).
    pub fn get_mut(&mut self, key: &TwKey) -> Option<&mut TimeWaitEntry> {
        self.map.get_mut(key)
    }

    /// Whether `key` is in TIME-WAIT.
    pub fn contains(&self, key: &TwKey) -> bool {
        self.map.contains_key(key)
    }

    /// Add an entry. Returns how many entries were dropped early to make room (0 or 1).
    pub fn insert(&mut self, key: TwKey, e: TimeWaitEntry) -> u64 {
        let mut evicted = 0;
        if !self.map.contains_key(&key) && self.map.len() >= self.max {
            if self.max == 0 {
                return 1;
            }
            // Drop the oldest live entry (Linux: tcp_max_tw_buckets, "TCP: time wait bucket
            // table overflow").
            while let Some((t, k)) = self.order.pop_front() {
                if self.map.get(&k).is_some_and(|x| x.expires == t) {
                    self.map.remove(&k);
                    evicted = 1;
                    break;
                }
            }
        }
        self.order.push_back((e.expires, key));
        self.map.insert(key, e);
        self.compact();
        evicted
    }

    /// Restart the entry's 2*MSL at `expires` (a retransmitted FIN).
    pub fn restart(&mut self, key: &TwKey, expires: Instant) {
        if let Some(e) = self.map.get_mut(key) {
            e.expires = expires;
            self.order.push_back((expires, *key));
            self.compact();
        }
    }

    /// Delete the entry (a new incarnation took the 4-tuple).
    pub fn remove(&mut self, key: &TwKey) -> Option<TimeWaitEntry> {
        self.map.remove(key)
    }

    /// The earliest expiry (possibly of a stale element: waking early is harmless).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.order.front().map(|x| x.0)
    }

    /// Delete every entry whose 2*MSL ended by `now`, calling `ended` for each.
    pub fn expire(&mut self, now: Instant, mut ended: impl FnMut(&TimeWaitEntry)) {
        while let Some(&(t, k)) = self.order.front() {
            if t > now {
                break;
            }
            self.order.pop_front();
            if self.map.get(&k).is_some_and(|x| x.expires == t) {
                if let Some(e) = self.map.remove(&k) {
                    ended(&e);
                }
            }
        }
    }

    /// Keep the order queue bounded: restarts leave stale elements behind; when they
    /// outnumber the live entries, drop them (amortised O(1) per operation).
    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(t, k)| map.get(k).is_some_and(|x| x.expires == *t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn key(port: u16) -> TwKey {
        (
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80),
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), port),
        )
    }

    fn entry(expires_ms: u64) -> TimeWaitEntry {
        TimeWaitEntry {
            snd_nxt: Seq(1000),
            rcv_nxt: Seq(5000),
            window: 1000,
            ts_recent: None,
            ts_offset: 0,
            expires: Instant::from_millis(expires_ms),
            conn: ConnHandle(1),
            owned: false,
            last_ack: None,
        }
    }

    fn seg(seq: u32, syn: bool, ack: Option<u32>, fin: bool, rst: bool) -> Segment<'static> {
        Segment {
            seq: Seq(seq),
            ack: ack.map(Seq),
            syn,
            fin,
            rst,
            window: 100,
            mss: None,
            wscale: None,
            sack_permitted: false,
            sack: [None; 3],
            tsval: None,
            tsecr: None,
            payload: &[],
        }
    }

    /// RFC 9293 §3.10.7.4 note / RFC 6191: a SYN above the old RCV.NXT reopens, a lower one
    /// does not; RFC 1337: RST ignored; retransmitted FIN re-acknowledged.
    #[test]
    fn rfc9293_3_10_7_4_time_wait_decisions() {
        let e = entry(60_000);
        let now = Instant::from_millis(1000);
        let rows = [
            (seg(6000, true, None, false, false), true, TwAction::Reopen),
            (seg(6000, true, None, false, false), false, TwAction::Ack),
            (seg(4000, true, None, false, false), true, TwAction::Ack),
            (
                seg(5000, false, Some(1000), false, true),
                true,
                TwAction::IgnoreRst,
            ),
            (
                seg(4999, false, Some(1000), true, false),
                true,
                TwAction::AckRestart,
            ),
            (
                seg(5000, false, Some(1000), false, false),
                true,
                TwAction::Drop,
            ),
            (
                seg(9000, false, Some(1000), false, false),
                true,
                TwAction::Ack,
            ),
        ];
        for (i, (s, listening, want)) in rows.iter().enumerate() {
            assert_eq!(decide(&e, s, now, *listening), *want, "row {i}");
        }
    }

    /// RFC 6191 §2: with timestamps, a newer timestamp reopens even with a lower sequence
    /// number, and an older one does not even with a higher sequence number.
    #[test]
    fn rfc6191_2_timestamps_decide_reopening() {
        let mut e = entry(60_000);
        e.ts_recent = Some(u32::MAX - 5); // across the wrap
        let now = Instant::from_millis(1000);
        let mut s = seg(10, true, None, false, false);
        s.tsval = Some(3);
        assert_eq!(decide(&e, &s, now, true), TwAction::Reopen);
        let mut s = seg(90_000, true, None, false, false);
        s.tsval = Some(u32::MAX - 100);
        assert_eq!(decide(&e, &s, now, true), TwAction::Ack);
    }

    /// Unacceptable segments get at most one ACK per interval.
    #[test]
    fn time_wait_acks_are_rate_limited() {
        let mut e = entry(60_000);
        let now = Instant::from_millis(1000);
        e.last_ack = Some(now);
        let s = seg(9000, false, Some(1000), false, false);
        assert_eq!(
            decide(&e, &s, now + Duration::from_millis(100), true),
            TwAction::Drop
        );
        assert_eq!(decide(&e, &s, now + TW_ACK_INTERVAL, true), TwAction::Ack);
    }

    /// The table is bounded: when full the oldest entry goes; restarts reorder; expiry is in
    /// order; stale queue elements do not accumulate.
    #[test]
    fn table_bounded_oldest_evicted_and_expiry_in_order() {
        let mut t = TimeWaitTable::new(3, KeyedSip::new(1));
        assert_eq!(t.insert(key(1), entry(100)), 0);
        assert_eq!(t.insert(key(2), entry(200)), 0);
        assert_eq!(t.insert(key(3), entry(300)), 0);
        t.restart(&key(1), Instant::from_millis(400));
        assert_eq!(t.insert(key(4), entry(500)), 1, "full: one evicted");
        assert!(!t.contains(&key(2)), "the oldest live entry went");
        assert!(t.contains(&key(1)), "restarted, so no longer the oldest");
        let mut n = 0;
        t.expire(Instant::from_millis(350), |_| n += 1); // key 3
        assert_eq!((n, t.len()), (1, 2));
        t.expire(Instant::from_millis(10_000), |_| n += 1);
        assert_eq!((n, t.len()), (3, 0));
        for i in 0..10_000u32 {
            t.insert(key(7), entry(1000));
            t.restart(&key(7), Instant::from_millis(1000 + u64::from(i)));
        }
        assert!(
            t.order.len() <= 2 * t.len() + 65,
            "stale elements compacted"
        );
    }
}
