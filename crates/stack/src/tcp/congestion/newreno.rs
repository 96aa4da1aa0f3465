//! NewReno: RFC 5681 slow start, congestion avoidance, fast retransmit and fast recovery, with
//! the RFC 6582 modification for partial acknowledgments.

use super::{
    halve_flight, initial_window, slow_start_increase, AckSample, CongestionControl, Recovery,
    RecoveryAck,
};
use crate::tcp::seq::Seq;

/// NewReno state (RFC 5681 §3, RFC 6582 §3.2).
#[derive(Debug, Clone)]
pub(crate) struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Fast retransmit / fast recovery (RFC 5681 §3.2, RFC 6582 §3.2).
    recovery: Recovery,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 5681 §3.1 byte
    /// counting variant of eq. 3).
    ca_acked: u32,
}

impl NewReno {
    /// RFC 5681 §3.1: cwnd starts at IW (RFC 6928), ssthresh "arbitrarily high".
    pub fn new(mss: u32) -> Self {
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            recovery: Recovery::default(),
            ca_acked: 0,
        }
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        super::CongestionAlgorithm::NewReno.name()
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn in_recovery(&self) -> bool {
        self.recovery.active()
    }

    fn on_ack(&mut self, s: &AckSample) -> bool {
        match self.recovery.on_ack(s, &mut self.cwnd, self.ssthresh) {
            RecoveryAck::Partial => return true,
            RecoveryAck::Full => {
                self.ca_acked = 0;
                return false;
            }
            RecoveryAck::Outside => {}
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 eq. 2: slow start, cwnd += min(N, SMSS).
            self.cwnd = self
                .cwnd
                .saturating_add(slow_start_increase(s.bytes_acked, s.mss));
        } else {
            // Congestion avoidance: one SMSS per cwnd of acknowledged data.
            self.ca_acked = self.ca_acked.saturating_add(s.bytes_acked);
            if self.ca_acked >= self.cwnd {
                self.ca_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(s.mss);
            }
        }
        false
    }

    fn on_dup_ack(&mut self, s: &AckSample, dupacks: u32) -> bool {
        if !self.recovery.on_dup_ack(s, dupacks, &mut self.cwnd) {
            return false;
        }
        // RFC 5681 §3.2 step 2: ssthresh per eq. 4, then recovery starts.
        self.ssthresh = halve_flight(s.flight, s.mss);
        self.recovery.enter(s, self.ssthresh, &mut self.cwnd);
        true
    }

    fn on_idle_restart(&mut self, mss: u32) {
        self.cwnd = self.cwnd.min(initial_window(mss));
        self.ca_acked = 0;
    }

    fn on_rto(&mut self, flight: u32, snd_max: Seq, mss: u32) {
        // RFC 5681 §3.1 eq. 4 and "LW": ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS.
        self.ssthresh = halve_flight(flight, mss);
        self.cwnd = mss;
        self.ca_acked = 0;
        self.recovery.on_rto(snd_max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn s(ack: u32, acked: u32, flight: u32, snd_max: u32) -> AckSample {
        AckSample {
            ack: Seq(ack),
            bytes_acked: acked,
            flight,
            snd_max: Seq(snd_max),
            mss: MSS,
            now: crate::time::Instant::ZERO,
            rtt: None,
        }
    }

    /// RFC 5681 §3.1: slow start grows by min(N, SMSS) per ACK; IW per RFC 6928.
    #[test]
    fn rfc5681_3_1_slow_start() {
        let mut c = NewReno::new(MSS);
        assert_eq!(c.cwnd(), 10_000);
        c.on_ack(&s(2000, 2000, 10_000, 10_000));
        assert_eq!(c.cwnd(), 11_000, "N capped at SMSS");
    }

    /// RFC 5681 §3.1: congestion avoidance adds about one SMSS per RTT.
    #[test]
    fn rfc5681_3_1_congestion_avoidance() {
        let mut c = NewReno::new(MSS);
        c.on_rto(10_000, Seq(10_000), MSS); // ssthresh 5000, cwnd 1000
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 5000));
        for i in 0..4 {
            c.on_ack(&s(i * 1000, 1000, 1000, 10_000));
        }
        assert_eq!(c.cwnd(), 5000);
        for i in 0..4 {
            c.on_ack(&s(5000 + i * 1000, 1000, 5000, 10_000));
        }
        assert_eq!(c.cwnd(), 5000, "less than a window acked: no growth");
        c.on_ack(&s(9000, 1000, 5000, 10_000));
        assert_eq!(c.cwnd(), 6000);
    }

    /// RFC 5681 §3.2 + RFC 6582 §3.2: third dup ACK enters recovery, partial ACK retransmits,
    /// full ACK deflates and leaves.
    #[test]
    fn rfc6582_3_2_newreno_recovery() {
        let mut c = NewReno::new(MSS);
        c.cwnd = 10_000;
        let flight = 10_000;
        assert!(!c.on_dup_ack(&s(0, 0, flight, 10_000), 1));
        assert!(!c.on_dup_ack(&s(0, 0, flight, 10_000), 2));
        assert!(
            c.on_dup_ack(&s(0, 0, flight, 10_000), 3),
            "fast retransmit on third"
        );
        assert!(c.in_recovery());
        assert_eq!(c.ssthresh(), 5000);
        assert_eq!(c.cwnd(), 8000, "ssthresh + 3*SMSS");
        c.on_dup_ack(&s(0, 0, flight, 10_000), 4);
        assert_eq!(c.cwnd(), 9000, "inflate per extra dup ACK");
        // Partial ACK: 2000 acked, recover = 10000 not reached.
        assert!(
            c.on_ack(&s(2000, 2000, flight, 10_000)),
            "partial ACK retransmits"
        );
        assert!(c.in_recovery());
        assert_eq!(c.cwnd(), 8000, "deflate by 2000, add back one SMSS");
        // Full ACK.
        assert!(!c.on_ack(&s(10_000, 8000, 8000, 10_000)));
        assert!(!c.in_recovery());
        assert_eq!(c.cwnd(), 5000, "deflated to ssthresh");
    }

    /// RFC 6582 §3.2 step 2: dup ACKs not covering "recover" after an RTO don't re-enter.
    #[test]
    fn rfc6582_3_2_no_second_reduction_after_rto() {
        let mut c = NewReno::new(MSS);
        c.on_rto(8000, Seq(8000), MSS);
        let ss = c.ssthresh();
        assert!(!c.on_dup_ack(&s(3000, 0, 5000, 8000), 3));
        assert_eq!(c.ssthresh(), ss);
        assert!(c.on_dup_ack(&s(9000, 0, 5000, 12_000), 3));
    }
}
