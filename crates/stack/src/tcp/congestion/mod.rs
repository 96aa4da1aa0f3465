//! Congestion control (RFC 5681) behind a trait: NewReno (RFC 5681, RFC 6582) and CUBIC
//! (RFC 9438) with HyStart++ slow start (RFC 9406).
//!
//! | file | role | RFC |
//! |---|---|---|
//! | `mod.rs` | the trait, the algorithm enum, initial window | RFC 5681 §3.1, RFC 6928 |
//! | `recovery.rs` | fast retransmit / fast recovery shared by both algorithms | RFC 5681 §3.2, RFC 6582 §3.2 |
//! | `newreno.rs` | slow start, congestion avoidance, halving | RFC 5681 §3.1 |
//! | `cubic.rs` | window growth W_cubic(t), Reno-friendly region, beta = 0.7 | RFC 9438 |
//! | `hystart.rs` | delay-based slow-start exit, Conservative Slow Start | RFC 9406 |
//!
//! The connection reports ACK arrivals, duplicate ACKs (as defined in RFC 5681 §2) and
//! retransmission timeouts; the algorithm owns cwnd and ssthresh, and through [`Recovery`] the
//! fast-recovery state, and tells the connection when to retransmit.

mod cubic;
mod hystart;
mod newreno;
mod recovery;

use core::fmt;
use core::str::FromStr;

pub(crate) use cubic::Cubic;
pub(crate) use newreno::NewReno;
pub(crate) use recovery::{Recovery, RecoveryAck};

use super::event::CongestionReason;
use super::seq::Seq;
use crate::time::{Duration, Instant};

/// The congestion-control algorithms a connection can use (`TcpConfig::congestion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 slow start and congestion avoidance with RFC 6582 fast recovery.
    NewReno,
    /// RFC 9438 CUBIC with RFC 9406 HyStart++ slow start (the default, as in Linux).
    #[default]
    Cubic,
}

impl CongestionAlgorithm {
    /// Every algorithm, in the order they are listed to users.
    pub const ALL: [CongestionAlgorithm; 2] =
        [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic];

    /// Names accepted by [`FromStr`] (`reno` is an alias of `newreno`).
    pub const NAMES: &'static str = "newreno, reno, cubic";

    /// The canonical name, as shown in `TcpInfo::congestion` and accepted by `--cc`.
    pub const fn name(self) -> &'static str {
        match self {
            CongestionAlgorithm::NewReno => "newreno",
            CongestionAlgorithm::Cubic => "cubic",
        }
    }
}

impl fmt::Display for CongestionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A congestion-control name that names no algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown congestion control '{name}' (valid: {})",
    CongestionAlgorithm::NAMES
)]
pub struct UnknownCongestionAlgorithm {
    /// The name that was given.
    pub name: String,
}

impl FromStr for CongestionAlgorithm {
    type Err = UnknownCongestionAlgorithm;

    /// `newreno` (alias `reno`) or `cubic`, ASCII case-insensitive; anything else is an error,
    /// never a silent fallback.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "newreno" | "reno" => Ok(CongestionAlgorithm::NewReno),
            "cubic" => Ok(CongestionAlgorithm::Cubic),
            _ => Err(UnknownCongestionAlgorithm { name: s.into() }),
        }
    }
}

/// What the connection knows when an ACK arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckSample {
    /// The cumulative acknowledgment carried by the segment.
    pub ack: Seq,
    /// Bytes newly acknowledged (0 for a duplicate ACK).
    pub bytes_acked: u32,
    /// Bytes in flight before this ACK (SND.MAX - SND.UNA).
    pub flight: u32,
    /// Highest sequence number sent so far (RFC 6582 "recover" is set from it; RFC 9406 rounds
    /// end when an ACK covers it).
    pub snd_max: Seq,
    /// Sender MSS (SMSS).
    pub mss: u32,
    /// When the ACK arrived (RFC 9438 §4.2: W_cubic is a function of time).
    pub now: Instant,
    /// The latest RTT measurement (RFC 6298), if any (RFC 9438 §4.2 target at t + RTT,
    /// RFC 9406 per-round minimum).
    pub rtt: Option<Duration>,
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
    /// A change of phase the last `on_ack` made that the trace should name (HyStart++), taken
    /// once. `None` for ordinary growth.
    fn take_event(&mut self) -> Option<CongestionReason> {
        None
    }
}

/// Build the configured algorithm for a connection whose SMSS is `mss`.
pub(crate) fn build(algorithm: CongestionAlgorithm, mss: u32) -> Box<dyn CongestionControl> {
    match algorithm {
        CongestionAlgorithm::NewReno => Box::new(NewReno::new(mss)),
        CongestionAlgorithm::Cubic => Box::new(Cubic::new(mss)),
    }
}

/// RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
pub(crate) fn halve_flight(flight: u32, mss: u32) -> u32 {
    (flight / 2).max(mss.saturating_mul(2))
}

/// RFC 6928 §2: IW = min(10*SMSS, max(2*SMSS, 14600 bytes)).
pub(crate) fn initial_window(mss: u32) -> u32 {
    mss.saturating_mul(10)
        .min(mss.saturating_mul(2).max(14_600))
}

/// RFC 5681 §3.1 eq. 2 (slow start): cwnd grows by min(N, SMSS) for N bytes acknowledged.
pub(crate) fn slow_start_increase(bytes_acked: u32, mss: u32) -> u32 {
    bytes_acked.min(mss)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6928 §2: ten segments for the usual MSS, never below two segments, and 14600
    /// bytes caps it for large MSS.
    #[test]
    fn rfc6928_initial_window() {
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(1000), 10_000, "10*MSS below 1460");
        assert_eq!(initial_window(536), 5360);
        assert_eq!(initial_window(4000), 14_600, "capped at 14600 bytes");
        assert_eq!(initial_window(9000), 18_000, "never below 2*MSS");
        assert_eq!(initial_window(u32::MAX), u32::MAX, "no overflow");
        for alg in CongestionAlgorithm::ALL {
            assert_eq!(build(alg, 1460).cwnd(), 14_600, "{alg}");
        }
    }

    #[test]
    fn algorithm_names_round_trip_and_unknown_names_are_errors() {
        for alg in CongestionAlgorithm::ALL {
            assert_eq!(alg.name().parse::<CongestionAlgorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.name());
            assert_eq!(build(alg, 1000).name(), alg.name());
        }
        assert_eq!("reno".parse(), Ok(CongestionAlgorithm::NewReno));
        assert_eq!("CUBIC".parse(), Ok(CongestionAlgorithm::Cubic));
        assert_eq!(CongestionAlgorithm::default(), CongestionAlgorithm::Cubic);
        let e = "bbr".parse::<CongestionAlgorithm>().unwrap_err();
        assert_eq!(e.name, "bbr");
        assert_eq!(
            e.to_string(),
            "unknown congestion control 'bbr' (valid: newreno, reno, cubic)"
        );
    }
}
