//! CUBIC (RFC 9438): after a congestion event the window follows
//! W_cubic(t) = C*(t-K)^3 + W_max, concave below W_max (fast, then slowing as it nears the
//! last saturation point) and convex above it (probing for more), never slower than Reno
//! would be (the Reno-friendly region, §4.3). Slow start uses HyStart++ (RFC 9406); fast
//! retransmit and fast recovery are the shared RFC 6582 rules of [`Recovery`].
//!
//! Arithmetic is integer: windows in bytes, time in microseconds, C = 4/10, beta = 7/10, so
//! runs are bit-for-bit reproducible and a hostile ACK cannot overflow anything (every step
//! saturates).

use super::hystart::HyStart;
use super::{
    initial_window, slow_start_increase, AckSample, CongestionAlgorithm, CongestionControl,
    Recovery, RecoveryAck,
};
use crate::tcp::event::CongestionReason;
use crate::tcp::seq::Seq;
use crate::time::Instant;

/// RFC 9438 §5.1: beta_cubic = 0.7 (numerator / denominator).
const BETA: (u64, u64) = (7, 10);
/// RFC 9438 §4.7: fast convergence keeps W_max = cwnd * (1 + beta_cubic) / 2 = 0.85 cwnd.
const FAST_CONVERGENCE: (u64, u64) = (17, 20);
/// RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic) = 0.9 / 1.7 = 9/17.
const ALPHA: (u64, u64) = (9, 17);
/// RFC 9438 §5.1: C = 0.4 segments / s^3. With t in microseconds and windows in bytes,
/// C*(t/1e6)^3 segments = t^3 * SMSS * 2 / 5e18 bytes.
const C_NUM: i128 = 2;
/// Denominator of C in microsecond units (see [`C_NUM`]).
const C_DEN: i128 = 5_000_000_000_000_000_000;
/// |t - K| is clamped to this (about 2.4 hours), far beyond any useful window.
const MAX_DT_US: i128 = 1 << 33;

/// One congestion-avoidance stage ("epoch", RFC 9438 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Epoch {
    /// When the stage began (t = 0).
    start: Instant,
    /// K in microseconds: when W_cubic reaches W_max again (RFC 9438 §4.2 eq. 2).
    k_us: u64,
    /// The W_max the curve is anchored at, bytes.
    w_max: u32,
    /// W_est of the Reno-friendly region, bytes (RFC 9438 §4.3).
    w_est: u32,
    /// Remainder of the W_est increase (bytes * ALPHA.1 * cwnd units).
    est_rem: u64,
    /// Remainder of the cubic increase (bytes * cwnd units).
    cubic_rem: u64,
}

/// CUBIC state (RFC 9438 §4).
#[derive(Debug, Clone)]
pub(crate) struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    /// Fast retransmit / fast recovery (RFC 5681 §3.2, RFC 6582 §3.2).
    recovery: Recovery,
    /// Initial slow start (RFC 9406).
    hystart: HyStart,
    /// W_max: the window at the last congestion event, after fast convergence (bytes; 0
    /// before the first one).
    w_max: u32,
    /// cwnd_prior: the window before the last reduction (RFC 9438 §4.3: alpha_cubic becomes 1
    /// once W_est reaches it).
    cwnd_prior: u32,
    /// The current congestion-avoidance stage; `None` until the next ACK starts one.
    epoch: Option<Epoch>,
    /// RFC 9438 §4.8: the first stage after a timeout uses K = 0 and W_max = cwnd at its start.
    after_timeout: bool,
    /// HyStart++ phase change made by the last ACK, for the trace.
    event: Option<CongestionReason>,
}

/// `x * num / den` without overflow, saturating at `u32::MAX`.
fn scale(x: u32, (num, den): (u64, u64)) -> u32 {
    let v = u64::from(x).saturating_mul(num) / den.max(1);
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Integer cube root: the largest `r` with `r^3 <= n`.
fn icbrt(n: u128) -> u64 {
    let (mut lo, mut hi) = (0u64, 1u64 << 43);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let m = u128::from(mid);
        match m.checked_mul(m).and_then(|m2| m2.checked_mul(m)) {
            Some(cube) if cube <= n => lo = mid,
            _ => hi = mid - 1,
        }
    }
    lo
}

/// RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C) seconds, windows in segments;
/// here in microseconds from a byte difference.
fn k_micros(w_max: u32, cwnd_epoch: u32, mss: u32) -> u64 {
    let diff = u128::from(w_max.saturating_sub(cwnd_epoch));
    // (diff / mss) / 0.4 * 1e18 = diff * 5e18 / (2 * mss)
    icbrt(diff * C_DEN as u128 / (C_NUM as u128 * u128::from(mss.max(1))))
}

/// RFC 9438 §4.2 eq. 1: W_cubic(t) = C*(t-K)^3 + W_max, in bytes, `t` in microseconds.
fn w_cubic(w_max: u32, k_us: u64, t_us: u64, mss: u32) -> u32 {
    let dt = (i128::from(t_us) - i128::from(k_us)).clamp(-MAX_DT_US, MAX_DT_US);
    let delta = dt
        .saturating_mul(dt)
        .saturating_mul(dt)
        .saturating_mul(C_NUM * i128::from(mss))
        / C_DEN;
    let w = i128::from(w_max).saturating_add(delta);
    u32::try_from(w.max(0)).unwrap_or(u32::MAX)
}

impl Cubic {
    /// RFC 9438 §4.10 / RFC 5681 §3.1: cwnd starts at IW (RFC 6928), ssthresh arbitrarily
    /// high, slow start with HyStart++.
    pub fn new(mss: u32) -> Self {
        Cubic {
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            recovery: Recovery::default(),
            hystart: HyStart::new(),
            w_max: 0,
            cwnd_prior: 0,
            epoch: None,
            after_timeout: false,
            event: None,
        }
    }

    /// A new congestion-avoidance stage starts at `now` with cwnd_epoch = cwnd.
    fn start_epoch(&mut self, now: Instant, mss: u32) -> Epoch {
        if self.after_timeout {
            // RFC 9438 §4.8: after a timeout, K = 0 and W_max = cwnd at the stage's start.
            self.after_timeout = false;
            self.w_max = self.cwnd;
        }
        // Below W_max the curve climbs back to it in K (concave region); at or above it (no
        // congestion event yet, or after §4.8) it starts at its inflection point (convex).
        let (w_max, k_us) = if self.w_max > self.cwnd {
            (self.w_max, k_micros(self.w_max, self.cwnd, mss))
        } else {
            (self.cwnd, 0)
        };
        Epoch {
            start: now,
            k_us,
            w_max,
            w_est: self.cwnd,
            est_rem: 0,
            cubic_rem: 0,
        }
    }

    /// RFC 9438 §4.2-§4.5: one ACK in congestion avoidance.
    fn congestion_avoidance(&mut self, s: &AckSample) {
        let mss = s.mss.max(1);
        let mut e = match self.epoch {
            Some(e) => e,
            None => self.start_epoch(s.now, mss),
        };
        let cwnd = self.cwnd.max(1);
        let acked = u64::from(s.bytes_acked);
        // §4.3: W_est += alpha_cubic * segments_acked / cwnd, with alpha_cubic = 1 once W_est
        // has reached cwnd_prior.
        let (num, den) = if e.w_est >= self.cwnd_prior {
            (1, 1)
        } else {
            ALPHA
        };
        let rem = e
            .est_rem
            .saturating_add(num * u64::from(mss) * acked.min(u64::from(u32::MAX)));
        let per = den * u64::from(cwnd);
        e.w_est = e
            .w_est
            .saturating_add(u32::try_from(rem / per).unwrap_or(u32::MAX));
        e.est_rem = rem % per;

        let t = s.now.saturating_duration_since(e.start);
        let t_us = u64::try_from(t.as_micros()).unwrap_or(u64::MAX);
        if w_cubic(e.w_max, e.k_us, t_us, mss) < e.w_est {
            // §4.3 Reno-friendly region: cwnd = W_est.
            self.cwnd = self.cwnd.max(e.w_est);
        } else {
            // §4.4 concave (cwnd < W_max) and §4.5 convex (cwnd >= W_max) regions: aim at
            // W_cubic one RTT ahead, clamped to [cwnd, 1.5*cwnd] (§4.2), and close the gap
            // over one window of ACKs: cwnd += (target - cwnd) / cwnd per segment acked.
            let rtt_us = s
                .rtt
                .map_or(0, |r| u64::try_from(r.as_micros()).unwrap_or(u64::MAX));
            let target = w_cubic(e.w_max, e.k_us, t_us.saturating_add(rtt_us), mss)
                .clamp(cwnd, scale(cwnd, (3, 2)));
            let rem = e
                .cubic_rem
                .saturating_add(u64::from(target - cwnd).saturating_mul(acked));
            let grow = rem / u64::from(cwnd);
            e.cubic_rem = rem % u64::from(cwnd);
            self.cwnd = self
                .cwnd
                .saturating_add(u32::try_from(grow).unwrap_or(u32::MAX));
        }
        self.epoch = Some(e);
    }

    /// RFC 9438 §4.6 and §4.7: a congestion event while the window was `cwnd`.
    fn reduce(&mut self, cwnd: u32, mss: u32) {
        // §4.7 fast convergence: a flow whose W_max shrinks releases bandwidth sooner.
        self.w_max = if cwnd < self.w_max {
            scale(cwnd, FAST_CONVERGENCE)
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        // §4.6: ssthresh = cwnd * beta_cubic, at least 2*SMSS ("cwnd = max(ssthresh, 2)").
        self.ssthresh = scale(cwnd, BETA).max(mss.saturating_mul(2));
        self.epoch = None;
        self.hystart.on_congestion();
    }

    /// Test access: the current epoch's K and the W_max it is anchored at.
    #[cfg(test)]
    fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        CongestionAlgorithm::Cubic.name()
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
            // Congestion avoidance starts a new epoch with the next ACK.
            RecoveryAck::Full => return false,
            RecoveryAck::Outside => {}
        }
        if s.flight.saturating_mul(2) < self.cwnd {
            // RFC 9438 §5.8: the window is not being used (application- or receiver-limited),
            // so an ACK is no evidence that the path takes more: do not grow.
            return false;
        }
        if self.cwnd < self.ssthresh {
            if self.hystart.active() {
                let g = self.hystart.on_ack(s);
                self.cwnd = self.cwnd.saturating_add(g.increase);
                if g.event == Some(CongestionReason::HystartExit) {
                    // RFC 9406 §4.2: "enter congestion avoidance by setting the ssthresh to
                    // the current cwnd".
                    self.ssthresh = self.cwnd;
                }
                self.event = g.event.or(self.event);
            } else {
                // Slow start after a timeout: RFC 5681 §3.1 eq. 2.
                self.cwnd = self
                    .cwnd
                    .saturating_add(slow_start_increase(s.bytes_acked, s.mss));
            }
        } else {
            self.congestion_avoidance(s);
        }
        false
    }

    fn on_dup_ack(&mut self, s: &AckSample, dupacks: u32) -> bool {
        if !self.recovery.on_dup_ack(s, dupacks, &mut self.cwnd) {
            return false;
        }
        self.reduce(self.cwnd, s.mss);
        self.recovery.enter(s, self.ssthresh, &mut self.cwnd);
        true
    }

    fn on_rto(&mut self, flight: u32, snd_max: Seq, mss: u32) {
        // RFC 9438 §4.8: cwnd as Reno (one segment), ssthresh with beta_cubic as in §4.6.
        // The §4.6 pseudo-code's flight_size is used here, not cwnd: on a backed-off timeout
        // cwnd is already one segment and would collapse ssthresh to 2*SMSS.
        self.cwnd_prior = flight;
        self.ssthresh = scale(flight, BETA).max(mss.saturating_mul(2));
        self.cwnd = mss;
        self.epoch = None;
        self.after_timeout = true;
        self.hystart.on_congestion();
        self.recovery.on_rto(snd_max);
    }

    fn on_idle_restart(&mut self, mss: u32) {
        // RFC 5681 §4.1 restart window, and RFC 9438 §5.8: the idle time is not part of the
        // epoch (W_cubic would otherwise jump by C*idle^3), so the next ACK starts a new one.
        self.cwnd = self.cwnd.min(initial_window(mss));
        self.epoch = None;
    }

    fn take_event(&mut self) -> Option<CongestionReason> {
        self.event.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    const MSS: u32 = 1000;
    const RTT: Duration = Duration::from_millis(100);

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn s(ack: u32, acked: u32, flight: u32, now: Instant) -> AckSample {
        AckSample {
            ack: Seq(ack),
            bytes_acked: acked,
            flight,
            snd_max: Seq(ack.wrapping_add(flight)),
            mss: MSS,
            now,
            rtt: Some(RTT),
        }
    }

    /// A CUBIC flow in congestion avoidance whose window was `w` segments at a loss, fully
    /// recovered at time 0 (cwnd = ssthresh = 0.7 w).
    fn after_loss(w: u32) -> Cubic {
        let mut c = Cubic::new(MSS);
        c.cwnd = w * MSS;
        let flight = w * MSS;
        for d in 1..=3 {
            c.on_dup_ack(&s(0, 0, flight, at(0)), d);
        }
        assert!(c.in_recovery());
        assert!(!c.on_ack(&s(flight, flight, flight, at(0))), "full ACK");
        assert!(!c.in_recovery());
        c
    }

    /// Feed `rounds` round trips of one-segment ACKs (a full window each), starting at
    /// `start_ms`; returns cwnd after each round.
    fn run(c: &mut Cubic, start_ms: u64, rounds: u64, rtt_ms: u64) -> Vec<u32> {
        let mut out = Vec::new();
        let mut seq = 1_000_000u32;
        for r in 0..rounds {
            let segs = c.cwnd() / MSS;
            for i in 0..segs {
                let now = at(start_ms + r * rtt_ms + u64::from(i) * rtt_ms / u64::from(segs));
                let mut a = s(seq, MSS, c.cwnd(), now);
                a.rtt = Some(Duration::from_millis(rtt_ms));
                c.on_ack(&a);
                seq = seq.wrapping_add(MSS);
            }
            out.push(c.cwnd());
        }
        out
    }

    /// RFC 9438 §4.2: after a loss at W_max, K = cbrt(W_max * (1 - beta) / C) and
    /// W_cubic(K) == W_max; W_cubic(0) == cwnd_epoch.
    #[test]
    fn rfc9438_4_2_window_after_loss_matches_formula() {
        let mut c = after_loss(100);
        assert_eq!(c.cwnd(), 70 * MSS);
        run(&mut c, 0, 1, 100);
        let e = c.epoch().expect("epoch started");
        assert_eq!(e.w_max, 100 * MSS);
        let k = (100.0f64 * 0.3 / 0.4).cbrt(); // 4.217 s
        assert!(
            (e.k_us as f64 / 1e6 - k).abs() < 1e-6,
            "K {} vs {k}",
            e.k_us
        );
        assert_eq!(w_cubic(e.w_max, e.k_us, e.k_us, MSS), 100 * MSS);
        let w0 = w_cubic(e.w_max, e.k_us, 0, MSS);
        assert!(
            (70 * MSS).abs_diff(w0) <= 1,
            "W_cubic(0) = cwnd_epoch, got {w0}"
        );
        // Concave below K, convex above, symmetric around W_max.
        let below = w_cubic(e.w_max, e.k_us, e.k_us - 1_000_000, MSS);
        let above = w_cubic(e.w_max, e.k_us, e.k_us + 1_000_000, MSS);
        assert_eq!(
            below,
            100 * MSS - 400,
            "C * 1^3 segments = 0.4 * 1000 bytes"
        );
        assert_eq!(above, 100 * MSS + 400);
    }

    /// RFC 9438 §4.4/§4.5: cwnd approaches W_max quickly, plateaus near it around K, then
    /// probes beyond it; never more than 1.5x per RTT (§4.2 target clamp).
    #[test]
    fn rfc9438_4_4_concave_then_convex() {
        let mut c = after_loss(1000);
        let w = run(&mut c, 0, 200, 100);
        let k_rounds = (1000.0f64 * 0.3 / 0.4).cbrt() * 10.0; // K = 9.09 s = 91 RTTs
        let at_k = w[k_rounds as usize] / MSS;
        assert!((990..=1010).contains(&at_k), "plateau at W_max: {at_k}");
        let early = w[10] - w[0];
        let near = w[80] - w[70];
        assert!(early > 3 * near, "concave: {early} vs {near}");
        assert!(w[199] > 1100 * MSS, "convex beyond W_max: {}", w[199]);
        for pair in w.windows(2) {
            assert!(pair[1] <= pair[0] * 3 / 2 + MSS, "{pair:?}");
        }
    }

    /// RFC 9438 §4.3: on a short RTT, Reno would grow faster than the cubic curve; cwnd then
    /// follows W_est (alpha_cubic = 9/17 per RTT, then 1 once W_est reaches cwnd_prior).
    #[test]
    fn rfc9438_4_3_reno_friendly_region() {
        let mut c = after_loss(100);
        let w = run(&mut c, 0, 100, 1);
        // 100 RTTs in 100 ms: the cubic curve has barely moved from 70 segments.
        let e = c.epoch().unwrap();
        let cubic_now = w_cubic(e.w_max, e.k_us, 100_000, MSS);
        assert!(cubic_now < 73 * MSS, "{cubic_now}");
        // W_est: 30 segments at 9/17 per RTT take about 57 RTTs, then 1 per RTT.
        let segs = c.cwnd() / MSS;
        assert!((140..=146).contains(&segs), "Reno-like growth: {segs}");
        assert_eq!(c.cwnd(), e.w_est);
        let at_50 = w[49] / MSS;
        assert!((95..=97).contains(&at_50), "alpha 9/17 per RTT: {at_50}");
    }

    /// RFC 9438 §4.6: ssthresh = 0.7 cwnd (at least 2 SMSS); during recovery cwnd follows
    /// the RFC 6582 rules shared with NewReno (partial ACK retransmits, full ACK deflates).
    #[test]
    fn rfc9438_4_6_multiplicative_decrease() {
        let mut c = Cubic::new(MSS);
        c.cwnd = 20 * MSS;
        let flight = 20 * MSS;
        assert!(!c.on_dup_ack(&s(0, 0, flight, at(0)), 2));
        assert!(c.on_dup_ack(&s(0, 0, flight, at(0)), 3), "fast retransmit");
        assert_eq!(c.ssthresh(), 14 * MSS);
        assert_eq!(c.cwnd(), 17 * MSS, "ssthresh + 3*SMSS");
        c.on_dup_ack(&s(0, 0, flight, at(0)), 4);
        assert_eq!(c.cwnd(), 18 * MSS, "inflate");
        let mut partial = s(2 * MSS, 2 * MSS, flight, at(1));
        partial.snd_max = Seq(flight);
        assert!(c.on_ack(&partial), "partial ACK retransmits");
        assert_eq!(c.cwnd(), 17 * MSS, "deflate by 2, add back 1");
        let mut full = s(flight, 18 * MSS, 18 * MSS, at(2));
        full.snd_max = Seq(flight);
        assert!(!c.on_ack(&full));
        assert!(!c.in_recovery());
        assert_eq!(c.cwnd(), 14 * MSS, "cwnd = ssthresh");
        // A tiny window still keeps 2*SMSS.
        let mut c = Cubic::new(MSS);
        c.cwnd = 2 * MSS;
        for d in 1..=3 {
            c.on_dup_ack(&s(0, 0, 2 * MSS, at(0)), d);
        }
        assert_eq!(c.ssthresh(), 2 * MSS);
    }

    /// RFC 9438 §4.7: a loss below the previous W_max remembers only (1 + beta)/2 of the
    /// window, to release bandwidth to newer flows.
    #[test]
    fn rfc9438_4_7_fast_convergence() {
        let mut c = after_loss(100);
        assert_eq!(c.w_max, 100 * MSS);
        c.cwnd = 80 * MSS;
        let mut d = s(0, 0, 80 * MSS, at(10));
        d.ack = Seq(100 * MSS);
        d.snd_max = Seq(180 * MSS);
        for n in 1..=3 {
            c.on_dup_ack(&d, n);
        }
        assert!(c.in_recovery());
        assert_eq!(c.w_max, 68 * MSS, "80 * 0.85");
        assert_eq!(c.ssthresh(), 56 * MSS, "80 * 0.7");
        // A loss above the old W_max keeps the whole window.
        let mut c = after_loss(100);
        c.cwnd = 120 * MSS;
        for n in 1..=3 {
            c.on_dup_ack(&d, n);
        }
        assert_eq!(c.w_max, 120 * MSS);
    }

    /// RFC 9438 §4.8: a timeout sets cwnd = 1 SMSS and ssthresh with beta_cubic; the next
    /// congestion-avoidance stage has K = 0 and W_max = cwnd at its start.
    #[test]
    fn rfc9438_4_8_timeout() {
        let mut c = after_loss(100);
        c.on_rto(50 * MSS, Seq(500 * MSS), MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 35 * MSS));
        assert!(!c.in_recovery());
        // Slow start (standard, HyStart++ is over) back to ssthresh.
        let mut seq = 0;
        while c.cwnd() < c.ssthresh() {
            seq += MSS;
            c.on_ack(&s(seq, MSS, c.cwnd(), at(1000)));
        }
        c.on_ack(&s(seq + MSS, MSS, c.cwnd(), at(1100)));
        let e = c.epoch().unwrap();
        assert_eq!((e.k_us, e.w_max), (0, 35 * MSS));
    }

    /// RFC 9438 §5.8: after an idle restart the epoch starts again, so W_cubic does not jump
    /// by C * idle^3; an application-limited flow does not grow cwnd.
    #[test]
    fn rfc9438_5_8_idle_and_application_limited() {
        // A window below IW, so that the restart window leaves it in congestion avoidance.
        let mut c = after_loss(12);
        run(&mut c, 0, 10, 100);
        let before = c.epoch().unwrap().start;
        c.on_idle_restart(MSS);
        assert!(
            c.cwnd() <= initial_window(MSS),
            "RFC 5681 §4.1 restart window"
        );
        assert!(c.epoch().is_none());
        let w = c.cwnd();
        c.on_ack(&s(5000, MSS, w, at(100_000)));
        let e = c.epoch().unwrap();
        assert_ne!(e.start, before);
        assert_eq!(e.start, at(100_000));
        // Without the reset, t = 100 s would put the target at 1.5 cwnd: +MSS/2 per ACK.
        assert!(
            c.cwnd() - w < MSS / 10,
            "no jump after 100 s idle: {w} -> {}",
            c.cwnd()
        );
        // Application-limited: a quarter of the window in flight.
        let w = c.cwnd();
        c.on_ack(&s(6000, MSS, w / 4, at(100_100)));
        assert_eq!(c.cwnd(), w);
    }

    /// RFC 9406 through CUBIC: slow start ends in CSS then congestion avoidance with
    /// ssthresh = cwnd when the RTT grows; the trace names each step.
    #[test]
    fn rfc9406_hystart_in_cubic_sets_ssthresh() {
        let mut c = Cubic::new(MSS);
        let mut seq = 0u32;
        let mut events = Vec::new();
        let mut rtt = 50;
        for _round in 0..20 {
            let end = seq.wrapping_add(c.cwnd());
            let n = c.cwnd() / MSS;
            for _ in 0..n {
                let mut a = s(seq, MSS, c.cwnd(), at(0));
                a.snd_max = Seq(end);
                a.rtt = Some(Duration::from_millis(rtt));
                c.on_ack(&a);
                events.extend(c.take_event());
                seq = seq.wrapping_add(MSS);
            }
            rtt += 10;
        }
        assert_eq!(
            events,
            [CongestionReason::HystartCss, CongestionReason::HystartExit]
        );
        assert!(c.ssthresh() < u32::MAX && c.ssthresh() <= c.cwnd());
    }

    /// Hostile or extreme inputs: no overflow, no panic.
    #[test]
    fn extreme_inputs_saturate() {
        assert_eq!(icbrt(u128::MAX), 6_981_463_658_331);
        assert_eq!(icbrt(26), 2);
        assert_eq!(icbrt(27), 3);
        assert_eq!(w_cubic(u32::MAX, 0, u64::MAX, u32::MAX), u32::MAX);
        assert_eq!(w_cubic(10, u64::MAX, 0, u32::MAX), 0);
        let _ = k_micros(u32::MAX, 0, 1);
        let mut c = Cubic::new(MSS);
        c.ssthresh = 0;
        c.cwnd = u32::MAX;
        c.on_ack(&s(1, u32::MAX, u32::MAX, Instant::from_nanos(u64::MAX)));
        c.on_ack(&s(2, u32::MAX, u32::MAX, Instant::ZERO));
        assert_eq!(c.cwnd(), u32::MAX);
        let mut z = Cubic::new(0);
        z.on_ack(&AckSample {
            mss: 0,
            ..s(1, 1, 1, Instant::ZERO)
        });
        z.on_rto(0, Seq(0), 0);
    }
}
