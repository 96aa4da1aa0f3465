//! HyStart++ (RFC 9406): leave slow start when the round-trip time starts to grow, before the
//! queue overflows, through Conservative Slow Start (CSS) so that a jittery RTT cannot end
//! slow start for good.
//!
//! Used for the initial slow start only (RFC 9406 §4.2: "An implementation SHOULD use
//! HyStart++ only for the initial slow start"); any loss or timeout ends it.
//!
//! RTT samples: without RFC 7323 timestamps the connection times one segment per round trip,
//! so `AckSample::rtt` is the latest measurement, repeated on the ACKs between two
//! measurements. Every ACK that carries it counts towards `N_RTT_SAMPLE` (so the check can run
//! at all), but only a new measurement (a value different from the last one seen) enters the
//! round's minimum: a value carried over from the previous round would otherwise hide the
//! increase for a round, and slow start doubles the queue in that round. A round without a new
//! measurement keeps `lastRoundMinRTT` instead of resetting it to infinity. With per-ACK
//! samples these rules are RFC 9406 §4.2.

use super::AckSample;
use crate::tcp::event::CongestionReason;
use crate::tcp::seq::Seq;
use crate::time::Duration;

/// RFC 9406 §4.3: lower bound of the RTT increase that ends slow start.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3: upper bound of the RTT increase that ends slow start.
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3: RttThresh = lastRoundMinRTT / MIN_RTT_DIVISOR, clamped.
const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: RTT samples per round before the delay check.
const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: CSS grows cwnd this many times slower than slow start.
const CSS_GROWTH_DIVISOR: u32 = 4;
/// RFC 9406 §4.3: rounds of CSS before congestion avoidance.
const CSS_ROUNDS: u32 = 5;
/// RFC 9406 §4.3: "L = 8 if non-paced": at most L*SMSS of growth per ACK (RFC 3465 ABC).
const NON_PACED_L: u32 = 8;

/// Where HyStart++ is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Standard slow start with the delay check.
    SlowStart,
    /// Conservative Slow Start, entered when the round's minimum RTT was `baseline`.
    Css { baseline: Duration, rounds: u32 },
    /// Over: congestion avoidance, or a loss ended the initial slow start.
    Off,
}

/// HyStart++ state (RFC 9406 §4.2).
#[derive(Debug, Clone)]
pub(crate) struct HyStart {
    phase: Phase,
    /// The round ends when an ACK covers this (SND.NXT when the round started).
    window_end: Option<Seq>,
    /// `lastRoundMinRTT`; `None` is infinity.
    last_round_min: Option<Duration>,
    /// `currentRoundMinRTT`; `None` is infinity.
    round_min: Option<Duration>,
    /// `rttSampleCount`.
    samples: u32,
    /// The last RTT value seen, to tell a new measurement from a repeated one.
    last_sample: Option<Duration>,
}

/// What one ACK in slow start does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Growth {
    /// Bytes to add to cwnd.
    pub increase: u32,
    /// A phase change, for the trace. After [`CongestionReason::HystartExit`] the caller sets
    /// ssthresh = cwnd (RFC 9406 §4.2: "enter congestion avoidance").
    pub event: Option<CongestionReason>,
}

impl HyStart {
    /// At connection start: slow start with the delay check, no round yet.
    pub fn new() -> Self {
        HyStart {
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min: None,
            round_min: None,
            samples: 0,
            last_sample: None,
        }
    }

    /// Whether HyStart++ still governs slow start.
    pub fn active(&self) -> bool {
        self.phase != Phase::Off
    }

    /// Whether Conservative Slow Start is in progress.
    pub fn in_css(&self) -> bool {
        matches!(self.phase, Phase::Css { .. })
    }

    /// A loss or timeout: HyStart++ is over for this connection (RFC 9406 §4.2, "If loss or
    /// ECN-marking is observed at any time during standard slow start or CSS").
    pub fn on_congestion(&mut self) {
        self.phase = Phase::Off;
    }

    /// RFC 9406 §4.2: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
    /// MAX_RTT_THRESH)).
    fn rtt_thresh(last_round_min: Duration) -> Duration {
        (last_round_min / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH)
    }

    /// One ACK of new data while cwnd < ssthresh and HyStart++ is active.
    pub fn on_ack(&mut self, s: &AckSample) -> Growth {
        let mut event = None;
        // A round ends when an ACK covers the SND.NXT recorded at its start.
        if self.window_end.is_none_or(|end| s.ack >= end) {
            let ended = self.window_end.is_some();
            self.window_end = Some(s.snd_max);
            if self.round_min.is_some() {
                self.last_round_min = self.round_min;
            }
            self.round_min = None;
            self.samples = 0;
            if let (true, Phase::Css { baseline, rounds }) = (ended, self.phase) {
                let rounds = rounds.saturating_add(1);
                self.phase = Phase::Css { baseline, rounds };
                if rounds >= CSS_ROUNDS {
                    // CSS_ROUNDS rounds of CSS without the RTT dropping back: the increase was
                    // real; congestion avoidance from here.
                    self.phase = Phase::Off;
                    return Growth {
                        increase: 0,
                        event: Some(CongestionReason::HystartExit),
                    };
                }
            }
        }
        let n = s.bytes_acked.min(s.mss.saturating_mul(NON_PACED_L));
        let increase = if self.in_css() {
            n / CSS_GROWTH_DIVISOR
        } else {
            n
        };
        if let Some(rtt) = s.rtt {
            if self.last_sample != Some(rtt) {
                self.last_sample = Some(rtt);
                self.round_min = Some(self.round_min.map_or(rtt, |m| m.min(rtt)));
            }
            self.samples = self.samples.saturating_add(1);
        }
        if self.samples >= N_RTT_SAMPLE {
            match (self.phase, self.round_min, self.last_round_min) {
                (Phase::SlowStart, Some(cur), Some(last))
                    if cur >= last.saturating_add(Self::rtt_thresh(last)) =>
                {
                    self.phase = Phase::Css {
                        baseline: cur,
                        rounds: 0,
                    };
                    event = Some(CongestionReason::HystartCss);
                }
                (Phase::Css { baseline, .. }, Some(cur), _) if cur < baseline => {
                    // The RTT went back down: the exit was spurious (jitter), slow start again.
                    self.phase = Phase::SlowStart;
                    event = Some(CongestionReason::HystartResume);
                }
                _ => {}
            }
        }
        Growth { increase, event }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    const MSS: u32 = 1000;

    fn ack(ack: u32, snd_max: u32, rtt_ms: u64) -> AckSample {
        AckSample {
            ack: Seq(ack),
            bytes_acked: MSS,
            flight: 0,
            snd_max: Seq(snd_max),
            mss: MSS,
            now: Instant::ZERO,
            rtt: Some(Duration::from_millis(rtt_ms)),
        }
    }

    /// One round of `n` ACKs of one segment each: the first covers the previous round's end
    /// (`*seq`), and SND.NXT is the last segment's end.
    fn round(h: &mut HyStart, seq: &mut u32, n: u32, rtt_ms: u64) -> Vec<Growth> {
        let start = *seq;
        *seq += n * MSS;
        (0..n)
            .map(|i| h.on_ack(&ack(start + i * MSS, *seq, rtt_ms)))
            .collect()
    }

    /// RFC 9406 §4.2: full growth in slow start, the delay check after N_RTT_SAMPLE samples,
    /// CSS at a quarter of the growth once the round's minimum RTT rose by RttThresh, and
    /// congestion avoidance after CSS_ROUNDS rounds of CSS.
    #[test]
    fn rfc9406_hystart_exits_on_rtt_increase() {
        let mut h = HyStart::new();
        let mut seq = 0;
        for rtt in [100, 100, 110] {
            for g in round(&mut h, &mut seq, 16, rtt) {
                assert_eq!((g.increase, g.event), (MSS, None), "rtt {rtt}");
            }
        }
        assert!(!h.in_css(), "+10 ms < RttThresh = 100/8 = 12.5 ms");
        // 126 >= 110 + 110/8: CSS on the round's 8th sample.
        let gs = round(&mut h, &mut seq, 16, 126);
        assert_eq!(gs[6].event, None);
        assert_eq!(gs[7].event, Some(CongestionReason::HystartCss));
        assert!(h.in_css());
        assert_eq!(gs[8].increase, MSS / CSS_GROWTH_DIVISOR, "CSS growth");
        let mut exits = Vec::new();
        for r in 0..CSS_ROUNDS {
            for (i, g) in round(&mut h, &mut seq, 16, 126).iter().enumerate() {
                if g.event == Some(CongestionReason::HystartExit) {
                    exits.push((r, i));
                }
            }
        }
        assert_eq!(
            exits,
            [(CSS_ROUNDS - 1, 0)],
            "at the end of the 5th CSS round"
        );
        assert!(!h.active());
    }

    /// RFC 9406 §4.2: in CSS, a round whose minimum RTT drops below the baseline goes back to
    /// slow start (the increase was jitter).
    #[test]
    fn rfc9406_css_back_to_slow_start_when_rtt_drops() {
        let mut h = HyStart::new();
        let mut seq = 0;
        round(&mut h, &mut seq, 10, 20);
        let gs = round(&mut h, &mut seq, 10, 25);
        assert!(
            gs.iter()
                .any(|g| g.event == Some(CongestionReason::HystartCss)),
            "RttThresh clamped up to 4 ms for a 20 ms path"
        );
        let gs = round(&mut h, &mut seq, 10, 21);
        assert_eq!(gs[7].event, Some(CongestionReason::HystartResume));
        assert!(h.active() && !h.in_css());
        assert_eq!(gs[8].increase, MSS);
    }

    /// RFC 9406 §4.2: growth per ACK is capped at L*SMSS; a loss ends HyStart++.
    #[test]
    fn rfc9406_growth_limit_and_loss() {
        let mut h = HyStart::new();
        let mut s = ack(0, 100 * MSS, 50);
        s.bytes_acked = 20 * MSS;
        assert_eq!(h.on_ack(&s).increase, NON_PACED_L * MSS);
        h.on_congestion();
        assert!(!h.active());
        assert_eq!(
            HyStart::rtt_thresh(Duration::from_millis(400)),
            MAX_RTT_THRESH
        );
        assert_eq!(
            HyStart::rtt_thresh(Duration::from_millis(80)),
            Duration::from_millis(10)
        );
    }
}
