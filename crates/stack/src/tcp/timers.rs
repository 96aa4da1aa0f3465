//! Per-connection timers as data (RFC 9293 §3.8, RFC 6298 §5, RFC 1122 §4.2.3): an enum naming
//! each timer and a table of deadlines. The connection's next wake-up is the earliest entry.

use crate::time::Instant;

/// The timers of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// When to retransmit the oldest unacknowledged segment, SYN or FIN (RFC 6298 §5).
    Rto,
    /// When to send an ACK that was delayed (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2).
    DelayedAck,
    /// When to probe a zero send window (RFC 9293 §3.8.6.1).
    Persist,
    /// When to send the next keep-alive probe (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).
    KeepAlive,
    /// When TIME-WAIT (2*MSL) ends and the connection is deleted (RFC 9293 §3.4.2).
    TimeWait,
    /// When an orphaned FIN-WAIT-2 connection is given up (bounds memory, like Linux
    /// `tcp_fin_timeout`; RFC 9293 leaves FIN-WAIT-2 unbounded).
    FinWait2,
}

impl Timer {
    /// All timers, in table order.
    pub const ALL: [Timer; 6] = [
        Timer::Rto,
        Timer::DelayedAck,
        Timer::Persist,
        Timer::KeepAlive,
        Timer::TimeWait,
        Timer::FinWait2,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Short name for traces.
    pub fn name(self) -> &'static str {
        match self {
            Timer::Rto => "rto",
            Timer::DelayedAck => "delayed-ack",
            Timer::Persist => "persist",
            Timer::KeepAlive => "keep-alive",
            Timer::TimeWait => "time-wait",
            Timer::FinWait2 => "fin-wait-2",
        }
    }

    /// The RFC section defining this timer.
    pub fn rfc(self) -> &'static str {
        match self {
            Timer::Rto => "RFC 6298 §5",
            Timer::DelayedAck => "RFC 9293 §3.8.6.3",
            Timer::Persist => "RFC 9293 §3.8.6.1",
            Timer::KeepAlive => "RFC 9293 §3.8.4",
            Timer::TimeWait => "RFC 9293 §3.4.2",
            Timer::FinWait2 => "RFC 9293 §3.10.7.4",
        }
    }
}

/// A deadline per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 6],
}

impl TimerTable {
    /// Arm (or re-arm) `t` for `at`.
    pub fn set(&mut self, t: Timer, at: Instant) {
        self.deadlines[t.index()] = Some(at);
    }

    /// Disarm `t`.
    pub fn stop(&mut self, t: Timer) {
        self.deadlines[t.index()] = None;
    }

    /// Whether `t` is armed.
    pub fn is_set(&self, t: Timer) -> bool {
        self.deadlines[t.index()].is_some()
    }

    /// Disarm everything.
    pub fn clear(&mut self) {
        self.deadlines = [None; 6];
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarm and return the first timer that expired at or before `now`.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        for t in Timer::ALL {
            if let Some(at) = self.deadlines[t.index()] {
                if at <= now {
                    self.deadlines[t.index()] = None;
                    return Some(t);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_and_expiry() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Rto, Instant::from_millis(300));
        t.set(Timer::DelayedAck, Instant::from_millis(40));
        assert_eq!(t.next(), Some(Instant::from_millis(40)));
        assert_eq!(t.take_expired(Instant::from_millis(39)), None);
        assert_eq!(
            t.take_expired(Instant::from_millis(40)),
            Some(Timer::DelayedAck)
        );
        assert_eq!(t.next(), Some(Instant::from_millis(300)));
        t.stop(Timer::Rto);
        assert_eq!(t.next(), None);
    }
}
