//! Congestion control (RFC 5681) behind a trait, so other algorithms (CUBIC, RFC 9438) can be
//! added without touching the state machine.
//!
//! The connection reports ACK arrivals, duplicate ACKs (as defined in RFC 5681 §2) and
//! retransmission timeouts; the algorithm owns cwnd, ssthresh and the fast-recovery state and
//! tells the connection when to retransmit.

mod newreno;

pub(crate) use newreno::NewReno;

use super::seq::Seq;

/// What the connection knows when an ACK arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckSample {
    /// The cumulative acknowledgment carried by the segment.
    pub ack: Seq,
    /// Bytes newly acknowledged (0 for a duplicate ACK).
    pub bytes_acked: u32,
    /// Bytes in flight before this ACK (SND.MAX - SND.UNA).
    pub flight: u32,
    /// Highest sequence number sent so far (RFC 6582 "recover" is set from it).
    pub snd_max: Seq,
    /// Sender MSS (SMSS).
    pub mss: u32,
}

/// A congestion-control algorithm (RFC 5681 §3).
pub(crate) trait CongestionControl: core::fmt::Debug + Send {
    /// The algorithm's name, as in the configuration.
    fn name(&self) -> &'static str;
    /// Congestion window in bytes.
    fn cwnd(&self) -> u32;
    /// Slow-start threshold in bytes.
    fn ssthresh(&self) -> u32;
    /// Whether fast recovery is in progress.
    fn in_recovery(&self) -> bool;
    /// New data was acknowledged. Returns `true` when the first unacknowledged segment must be
    /// retransmitted now (a partial ACK during recovery, RFC 6582 §3.2 step 5).
    fn on_ack(&mut self, s: &AckSample) -> bool;
    /// The `dupacks`-th consecutive duplicate ACK arrived. Returns `true` when the first
    /// unacknowledged segment must be fast-retransmitted (RFC 5681 §3.2 step 2).
    fn on_dup_ack(&mut self, s: &AckSample, dupacks: u32) -> bool;
    /// The retransmission timer expired (RFC 5681 §3.1 eq. 4, loss window of one segment).
    fn on_rto(&mut self, flight: u32, snd_max: Seq, mss: u32);
    /// Sending resumes after an idle period longer than the RTO (RFC 5681 §4.1): cwnd is
    /// reduced to the restart window RW = min(IW, cwnd).
    fn on_idle_restart(&mut self, mss: u32);
}

/// Build the algorithm named in the configuration (unknown names fall back to NewReno).
pub(crate) fn build(name: &str, mss: u32) -> Box<dyn CongestionControl> {
    // Only NewReno exists so far; CUBIC (RFC 9438) will match on "cubic" here.
    let _ = name;
    Box::new(NewReno::new(mss))
}

/// RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
pub(crate) fn halve_flight(flight: u32, mss: u32) -> u32 {
    (flight / 2).max(2 * mss)
}

/// RFC 5681 §3.1 (RFC 3390): IW = min(4*SMSS, max(2*SMSS, 4380 bytes)).
pub(crate) fn initial_window(mss: u32) -> u32 {
    (4 * mss).min((2 * mss).max(4380))
}
