//! Fast retransmit and fast recovery (RFC 5681 §3.2) with the NewReno modification for partial
//! acknowledgments (RFC 6582 §3.2), shared by every algorithm.
//!
//! The algorithm only decides the new ssthresh when a loss is detected (RFC 5681 §3.1 eq. 4
//! for NewReno, RFC 9438 §4.6 for CUBIC); when recovery starts and ends, and how cwnd is
//! inflated and deflated meanwhile, is decided here, so both algorithms retransmit alike.

use super::AckSample;
use crate::tcp::seq::Seq;

/// The fast-recovery state of one connection (RFC 6582 §3.2).
#[derive(Debug, Clone, Default)]
pub(crate) struct Recovery {
    /// RFC 6582 "recover": the highest sequence number sent when recovery (or the last
    /// timeout) started; `None` until then (step 1 initialises it to the ISN).
    recover: Option<Seq>,
    active: bool,
}

/// What a new cumulative ACK means for recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecoveryAck {
    /// Not in recovery: the algorithm grows cwnd as usual.
    Outside,
    /// A partial ACK (RFC 6582 §3.2 step 5): cwnd was deflated, retransmit the first
    /// unacknowledged segment.
    Partial,
    /// A full ACK (RFC 6582 §3.2 step 3): recovery is over and cwnd = ssthresh.
    Full,
}

impl Recovery {
    /// Whether fast recovery is in progress.
    pub fn active(&self) -> bool {
        self.active
    }

    /// New data was acknowledged.
    pub fn on_ack(&mut self, s: &AckSample, cwnd: &mut u32, ssthresh: u32) -> RecoveryAck {
        if !self.active {
            return RecoveryAck::Outside;
        }
        if self.recover.is_none_or(|r| s.ack >= r) {
            // RFC 6582 §3.2 step 3 (full acknowledgment), second option: cwnd = ssthresh.
            // (The first option, min(ssthresh, FlightSize + SMSS), collapses the window
            // to a couple of segments when the full ACK drains the flight, so the next loss
            // cannot produce three duplicate ACKs and costs a timeout.)
            *cwnd = ssthresh;
            self.active = false;
            return RecoveryAck::Full;
        }
        // Step 3 (partial acknowledgment): deflate by the amount acked and add back one SMSS
        // if that was at least SMSS.
        *cwnd = cwnd.saturating_sub(s.bytes_acked);
        if s.bytes_acked >= s.mss {
            *cwnd = cwnd.saturating_add(s.mss);
        }
        *cwnd = (*cwnd).max(s.mss);
        RecoveryAck::Partial
    }

    /// The `dupacks`-th duplicate ACK arrived. Inflates cwnd during recovery (RFC 5681 §3.2
    /// step 4). Returns `true` when this is a new loss event: the caller sets ssthresh and
    /// then calls [`Recovery::enter`].
    pub fn on_dup_ack(&mut self, s: &AckSample, dupacks: u32, cwnd: &mut u32) -> bool {
        if self.active {
            *cwnd = cwnd.saturating_add(s.mss);
            return false;
        }
        if dupacks != 3 {
            return false;
        }
        // RFC 6582 §3.2 step 2: enter recovery only if the ACK covers "recover" (avoids
        // multiple window reductions for one loss event after an RTO).
        !self.recover.is_some_and(|r| s.ack < r)
    }

    /// Start recovery (RFC 5681 §3.2 steps 2-3): recover = highest sent,
    /// cwnd = ssthresh + 3*SMSS.
    pub fn enter(&mut self, s: &AckSample, ssthresh: u32, cwnd: &mut u32) {
        self.recover = Some(s.snd_max);
        self.active = true;
        *cwnd = ssthresh.saturating_add(s.mss.saturating_mul(3));
    }

    /// RFC 6582 §3.2 step 4: after a timeout, recover = highest sent, leave recovery.
    pub fn on_rto(&mut self, snd_max: Seq) {
        self.active = false;
        self.recover = Some(snd_max);
    }
}
