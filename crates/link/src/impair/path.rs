//! One impaired direction: the random decisions, the bottleneck queue and the delay line.
//!
//! A frame admitted at `now` goes through, in order: independent loss, Gilbert-Elliott burst
//! loss, duplication, then per copy: single-bit corruption, the rate limiter (a FIFO
//! bottleneck of `queue` frames serving `rate` bits/s; a frame leaves when its last bit has
//! been serialized), and the delay line (delay + jitter + reorder hold-back). Frames wait in a
//! time-ordered heap until their due time; ties leave in admission order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::{ImpairConfig, ImpairStats};
use crate::rng::Rng;
use crate::{Duration, Instant};

/// Spare frame buffers kept for reuse, so steady traffic does not allocate.
const MAX_FREE_BUFFERS: usize = 256;

/// A frame waiting in the delay line.
#[derive(Debug)]
pub(crate) struct Held {
    /// When the frame leaves the impairment.
    pub(crate) due: Instant,
    seq: u64,
    /// The (possibly corrupted) frame.
    pub(crate) frame: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest due frame first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// The state of one direction.
#[derive(Debug)]
pub(crate) struct Path {
    rng: Rng,
    /// Gilbert-Elliott: whether the channel is in the bad state.
    bad: bool,
    /// When the bottleneck finishes serializing the last frame it accepted.
    busy_until: Instant,
    /// Departure times of the frames in the bottleneck (queued or being serialized).
    in_bottleneck: VecDeque<Instant>,
    held: BinaryHeap<Held>,
    seq: u64,
    free: Vec<Vec<u8>>,
    pub(crate) stats: ImpairStats,
}

fn prob(percent: f64) -> f64 {
    percent / 100.0
}

impl Path {
    pub(crate) fn new(rng: Rng) -> Self {
        Path {
            rng,
            bad: false,
            busy_until: Instant::ZERO,
            in_bottleneck: VecDeque::new(),
            held: BinaryHeap::new(),
            seq: 0,
            free: Vec::new(),
            stats: ImpairStats::default(),
        }
    }

    /// Apply the impairments to `frame` arriving at `now`; whatever survives waits in the
    /// delay line (possibly due right away).
    pub(crate) fn admit(&mut self, cfg: &ImpairConfig, now: Instant, frame: &[u8]) {
        self.stats.frames_in += 1;
        if cfg.loss > 0.0 && self.rng.chance(prob(cfg.loss)) {
            self.stats.lost += 1;
            return;
        }
        if cfg.ge_p > 0.0 {
            // Gilbert-Elliott two-state Markov channel: move first, then lose with the
            // probability of the state we are in. Mean burst (bad sojourn) length is 1/r.
            self.bad = if self.bad {
                !self.rng.chance(prob(cfg.ge_r))
            } else {
                self.rng.chance(prob(cfg.ge_p))
            };
            let p = if self.bad {
                cfg.ge_bad_loss
            } else {
                cfg.ge_good_loss
            };
            if p > 0.0 && self.rng.chance(prob(p)) {
                self.stats.burst_lost += 1;
                return;
            }
        }
        let copies = if cfg.dup > 0.0 && self.rng.chance(prob(cfg.dup)) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.enqueue(cfg, now, frame);
        }
    }

    fn enqueue(&mut self, cfg: &ImpairConfig, now: Instant, frame: &[u8]) {
        if self.held.len() >= cfg.limit {
            self.stats.limit_dropped += 1;
            return;
        }
        let mut due = now;
        if cfg.rate > 0 {
            while self.in_bottleneck.front().is_some_and(|&t| t <= now) {
                self.in_bottleneck.pop_front();
            }
            if self.in_bottleneck.len() >= cfg.queue {
                self.stats.queue_dropped += 1;
                return;
            }
            let bits = frame.len() as u128 * 8;
            let nanos = (bits * 1_000_000_000).div_ceil(cfg.rate as u128);
            let start = self.busy_until.max(now);
            self.busy_until = start + Duration::from_nanos(nanos.min(u64::MAX as u128) as u64);
            self.in_bottleneck.push_back(self.busy_until);
            due = self.busy_until;
            if due > now {
                self.stats.rate_delayed += 1;
            }
        }
        let mut extra = cfg.delay;
        if !cfg.jitter.is_zero() {
            let j = cfg.jitter.as_nanos() as u64;
            let offset = self.rng.below(2 * j + 1);
            // delay + offset - jitter, never below zero.
            extra = (cfg.delay + Duration::from_nanos(offset)).saturating_sub(cfg.jitter);
        }
        if cfg.reorder > 0.0 && self.rng.chance(prob(cfg.reorder)) {
            extra += cfg.reorder_delay;
            self.stats.reordered += 1;
        }
        if !extra.is_zero() {
            self.stats.delayed += 1;
        }
        due += extra;

        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        if cfg.corrupt > 0.0 && !buf.is_empty() && self.rng.chance(prob(cfg.corrupt)) {
            let bit = self.rng.below(buf.len() as u64 * 8) as usize;
            buf[bit / 8] ^= 1 << (bit % 8);
            self.stats.corrupted += 1;
        }
        self.held.push(Held {
            due,
            seq: self.seq,
            frame: buf,
        });
        self.seq += 1;
    }

    /// The earliest frame due at or before `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Held> {
        if self.held.peek()?.due > now {
            return None;
        }
        let held = self.held.pop();
        if held.is_some() {
            self.stats.frames_out += 1;
        }
        held
    }

    /// Give a released frame's buffer back for reuse.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.free.len() < MAX_FREE_BUFFERS {
            self.free.push(buf);
        }
    }

    /// When the next frame is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.held.peek().map(|h| h.due)
    }

    /// Frames waiting in the delay line.
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }
}
