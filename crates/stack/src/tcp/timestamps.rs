//! TCP timestamps (RFC 7323 §3-§5): the TSval clock, TS.Recent and PAWS.
//!
//! - The clock ticks every millisecond (RFC 7323 §5.4 allows 1 ms to 1 s; Linux uses 1 ms)
//!   and each connection adds its own secret offset (§5.4, `IsnGenerator::ts_offset`).
//! - TS.Recent is the TSval to echo. It is updated only from a segment that is acceptable and
//!   that starts at or before the last ACK we sent (§4.3 (2), "SEG.SEQ =< Last.ACK.sent"),
//!   so a delayed ACK echoes the earliest unacknowledged segment's time, and only forward.
//! - PAWS (§5.3 R1): a non-RST segment whose TSval is older than TS.Recent is an old
//!   duplicate: it is dropped and answered with an ACK. After 24 days of silence TS.Recent is
//!   no longer valid (§5.5: the peer's clock may have wrapped) and the segment is accepted.
//! - RTTM (§4.1): an ACK that acknowledges new data echoes in TSecr the TSval of the segment
//!   that caused it, so `now - TSecr` is an RTT sample even for retransmitted data (no Karn
//!   ambiguity).

use crate::time::{Duration, Instant};

/// RFC 7323 §5.5: TS.Recent older than this is invalid (24 days, below 2^31 ms).
pub(crate) const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// The TSval clock: milliseconds, wrapping (RFC 7323 §5.4).
pub(crate) fn ts_clock(now: Instant) -> u32 {
    now.as_millis() as u32
}

/// `a` is older than `b` in the 2^32 timestamp space (RFC 7323 §5.3: "SEG.TSval < TS.Recent",
/// compared as signed 32-bit differences).
pub(crate) fn ts_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// The timestamp state of a connection that negotiated the option (both SYNs carried it,
/// RFC 7323 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamps {
    /// Added to the clock in every TSval we send (RFC 7323 §5.4).
    pub offset: u32,
    /// TS.Recent: the peer's TSval we echo.
    pub recent: u32,
    /// When TS.Recent was last updated (for the 24-day rule).
    pub recent_at: Instant,
}

impl Timestamps {
    /// Negotiated from the peer's SYN (or SYN,ACK) carrying `tsval`.
    pub fn new(offset: u32, tsval: u32, now: Instant) -> Self {
        Timestamps {
            offset,
            recent: tsval,
            recent_at: now,
        }
    }

    /// Our TSval at `now`.
    pub fn tsval(&self, now: Instant) -> u32 {
        ts_clock(now).wrapping_add(self.offset)
    }

    /// The option to put on a segment sent at `now`: (TSval, TSecr).
    pub fn option(&self, now: Instant) -> (u32, u32) {
        (self.tsval(now), self.recent)
    }

    /// RFC 7323 §5.3 R1: whether a non-RST segment with `tsval` fails PAWS at `now`.
    pub fn paws_rejects(&self, tsval: u32, now: Instant) -> bool {
        ts_before(tsval, self.recent) && now.saturating_duration_since(self.recent_at) <= PAWS_IDLE
    }

    /// RFC 7323 §4.3 (2) / §5.3 R3: take `tsval` as TS.Recent if the segment starts at or
    /// before Last.ACK.sent (`covers_last_ack`) and the value does not go backwards (or the
    /// old one expired).
    pub fn update_recent(&mut self, tsval: u32, covers_last_ack: bool, now: Instant) {
        let expired = now.saturating_duration_since(self.recent_at) > PAWS_IDLE;
        if covers_last_ack && (!ts_before(tsval, self.recent) || expired) {
            self.recent = tsval;
            self.recent_at = now;
        }
    }

    /// RFC 7323 §4.1 RTTM: the RTT measured by an echoed TSecr, if plausible (not from the
    /// future, under about 24 days).
    pub fn rtt(&self, tsecr: u32, now: Instant) -> Option<Duration> {
        let d = self.tsval(now).wrapping_sub(tsecr);
        (d < 1 << 31).then(|| Duration::from_millis(u64::from(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7323 §5.3 R1: an older TSval is rejected; equal or newer passes; across the wrap.
    #[test]
    fn rfc7323_5_3_paws_rejects_old_timestamp() {
        let now = Instant::from_secs(10);
        let t = Timestamps::new(0, u32::MAX - 10, now);
        assert!(t.paws_rejects(u32::MAX - 11, now));
        assert!(!t.paws_rejects(u32::MAX - 10, now), "equal is fine");
        assert!(!t.paws_rejects(5, now), "newer across the wrap");
    }

    /// RFC 7323 §5.5: after 24 days idle TS.Recent is invalid and PAWS lets the segment in.
    #[test]
    fn rfc7323_5_5_paws_24_day_idle_rule() {
        let t = Timestamps::new(0, 1_000_000, Instant::from_secs(1));
        let later = Instant::from_secs(1) + PAWS_IDLE + Duration::from_secs(1);
        assert!(t.paws_rejects(5, Instant::from_secs(2)));
        assert!(!t.paws_rejects(5, later));
        let mut t = t;
        t.update_recent(5, true, later);
        assert_eq!(t.recent, 5, "an expired TS.Recent may go backwards");
    }

    /// RFC 7323 §4.3: TS.Recent moves forward only, and only from segments at or before
    /// Last.ACK.sent.
    #[test]
    fn rfc7323_4_3_ts_recent_update_rules() {
        let now = Instant::from_secs(1);
        let mut t = Timestamps::new(0, 100, now);
        t.update_recent(150, false, now);
        assert_eq!(t.recent, 100, "segment beyond Last.ACK.sent: no update");
        t.update_recent(150, true, now);
        assert_eq!(t.recent, 150);
        t.update_recent(120, true, now);
        assert_eq!(t.recent, 150, "never backwards");
    }

    /// RFC 7323 §4.1: RTT from the echoed TSval, with the connection's offset.
    #[test]
    fn rfc7323_4_1_rttm_from_tsecr() {
        let t = Timestamps::new(7_000_000, 0, Instant::ZERO);
        let sent = t.tsval(Instant::from_millis(1000));
        assert_eq!(
            t.rtt(sent, Instant::from_millis(1042)),
            Some(Duration::from_millis(42))
        );
        assert_eq!(
            t.rtt(sent.wrapping_add(5), Instant::from_millis(1000)),
            None,
            "future"
        );
    }
}
