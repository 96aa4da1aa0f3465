//! Retransmission timeout (RFC 6298): SRTT/RTTVAR smoothing, Karn's algorithm, exponential
//! backoff, and configured minimum/maximum.

use crate::time::Duration;

/// Clock granularity G of RFC 6298 §2: our clock is in nanoseconds, use 1 ms as a floor for the
/// variance term so a perfectly steady path still gets some slack.
const GRANULARITY: Duration = Duration::from_millis(1);

/// The RTT estimator and RTO of one connection (RFC 6298).
#[derive(Debug, Clone)]
pub(crate) struct RttEstimator {
    srtt: Option<Duration>,
    /// The last measurement (for congestion control: RFC 9438 §4.2, RFC 9406).
    latest: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    backoff: u32,
    min: Duration,
    max: Duration,
}

impl RttEstimator {
    /// RFC 6298 (2.1): before any measurement RTO is the initial value (1 s by default).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        RttEstimator {
            srtt: None,
            latest: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            backoff: 0,
            min,
            max,
        }
    }

    /// Feed one RTT measurement. Callers apply Karn's algorithm (RFC 6298 §3): never sample a
    /// retransmitted segment.
    pub fn sample(&mut self, rtt: Duration) {
        self.latest = Some(rtt);
        match self.srtt {
            // (2.2) first measurement: SRTT = R, RTTVAR = R/2.
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            // (2.3) RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT = 7/8 SRTT + 1/8 R'.
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar * 3 / 4 + delta / 4;
                self.srtt = Some(srtt * 7 / 8 + rtt / 8);
            }
        }
        // RTO = SRTT + max(G, 4*RTTVAR), then (2.4) min and (2.5) max.
        let srtt = self.srtt.unwrap_or(rtt);
        self.rto = (srtt + GRANULARITY.max(self.rttvar * 4)).clamp(self.min, self.max);
        // A valid sample ends the backoff (RFC 6298 §5 note after (5.7), Karn).
        self.backoff = 0;
    }

    /// RFC 6298 (5.5): double the RTO on each expiry (kept as a shift, capped by the maximum).
    pub fn on_timeout(&mut self) {
        if self.backoff < 16 {
            self.backoff += 1;
        }
    }

    /// The RTO to arm now, including backoff.
    pub fn rto(&self) -> Duration {
        let scaled = self.rto.saturating_mul(1u32 << self.backoff.min(16));
        scaled.min(self.max)
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The most recent measurement, once measured.
    pub fn latest(&self) -> Option<Duration> {
        self.latest
    }

    /// RTT variance, once measured.
    pub fn rttvar(&self) -> Option<Duration> {
        self.srtt.map(|_| self.rttvar)
    }

    /// Current number of backoffs.
    #[cfg(test)]
    pub fn backoff(&self) -> u32 {
        self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// RFC 6298 (2.1): initial RTO before any sample.
    #[test]
    fn rfc6298_2_1_initial_rto() {
        let r = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(r.rto(), ms(1000));
        assert_eq!(r.srtt(), None);
    }

    /// RFC 6298 (2.2) and (2.3): first and subsequent measurements.
    #[test]
    fn rfc6298_2_2_and_2_3_smoothing() {
        let mut r = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        r.sample(ms(100));
        assert_eq!(r.srtt(), Some(ms(100)));
        assert_eq!(r.rttvar(), Some(ms(50)));
        assert_eq!(r.rto(), ms(300)); // 100 + 4*50
        r.sample(ms(200));
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(r.rttvar(), Some(Duration::from_micros(62_500)));
        assert_eq!(r.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(r.rto(), Duration::from_micros(112_500 + 250_000));
    }

    /// RFC 6298 (2.4)/(2.5): clamped to the configured minimum and maximum.
    #[test]
    fn rfc6298_2_4_min_and_2_5_max() {
        let mut r = RttEstimator::new(ms(1000), ms(200), ms(2000));
        r.sample(ms(1));
        assert_eq!(r.rto(), ms(200));
        r.on_timeout();
        r.on_timeout();
        r.on_timeout();
        r.on_timeout();
        assert_eq!(r.rto(), ms(2000), "backoff capped by max");
    }

    /// RFC 6298 (5.5): exponential backoff; a new valid sample (Karn) clears it.
    #[test]
    fn rfc6298_5_5_backoff_and_karn_reset() {
        let mut r = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        r.on_timeout();
        assert_eq!(r.rto(), ms(2000));
        r.on_timeout();
        assert_eq!(r.rto(), ms(4000));
        assert_eq!(r.backoff(), 2);
        r.sample(ms(100));
        assert_eq!(r.backoff(), 0);
        assert_eq!(r.rto(), ms(300));
    }
}
