//! A seeded impairment wrapper for any link: loss, Gilbert-Elliott burst loss, delay, jitter,
//! reordering, duplication, bit corruption and a rate limit with a bounded queue.
//!
//! Like Linux netem, but deterministic: decisions come from a [`crate::rng::Rng`] seeded by
//! [`ImpairConfig::seed`] and all timing from the `now` passed in, so the same seed and the
//! same calls give the same frames at the same instants, also on a virtual clock. Each
//! direction ([`Direction`]) has its own random stream and state.
//!
//! Delayed frames wait in a time-ordered queue. They are released on a later call whose `now`
//! has reached their due time: egress frames go to the inner link during `send`, `recv` or
//! [`Link::handle_timeout`]; ingress frames come out of `recv`. [`Link::poll_timeout`] reports
//! the earliest due frame, and drivers call `handle_timeout` (then `recv`) when it is reached.
//! Egress frames are handed to the inner link with their due time as `now`, so a
//! [`crate::pcap::Pcap`] inside the impairment records when each frame left it.
//!
//! The parameters and the spec syntax (`loss=1%,delay=20ms,...`) are documented in
//! [`config`].

pub mod config;
mod path;
#[cfg(test)]
mod tests;

use std::os::fd::RawFd;

pub use config::{Direction, ImpairConfig};

use crate::rng::Rng;
use crate::{Batch, Instant, Link, LinkError, MAX_FRAME};
use path::Path;

/// How many times one `recv` call reads the inner link before returning, so a flood on the
/// inner link cannot keep one call busy forever.
const MAX_INNER_RECVS: usize = 8;

/// Counters for one direction; every dropped frame is counted under its reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImpairStats {
    /// Frames offered to the impairment.
    pub frames_in: u64,
    /// Frames that left it (to the inner link or to the caller), duplicates included.
    pub frames_out: u64,
    /// Dropped by independent loss (`loss`).
    pub lost: u64,
    /// Dropped by Gilbert-Elliott burst loss (`ge_*`).
    pub burst_lost: u64,
    /// Frames sent twice (`dup`).
    pub duplicated: u64,
    /// Frames with one bit flipped (`corrupt`).
    pub corrupted: u64,
    /// Frames held back by `reorder_delay`.
    pub reordered: u64,
    /// Frames given a non-zero delay (`delay`, `jitter`, `reorder`).
    pub delayed: u64,
    /// Frames that had to wait for the bottleneck (`rate`).
    pub rate_delayed: u64,
    /// Dropped because the bottleneck queue was full (`queue`).
    pub queue_dropped: u64,
    /// Dropped because the delay line was full (`limit`).
    pub limit_dropped: u64,
}

impl ImpairStats {
    fn add(&self, o: &ImpairStats) -> ImpairStats {
        ImpairStats {
            frames_in: self.frames_in + o.frames_in,
            frames_out: self.frames_out + o.frames_out,
            lost: self.lost + o.lost,
            burst_lost: self.burst_lost + o.burst_lost,
            duplicated: self.duplicated + o.duplicated,
            corrupted: self.corrupted + o.corrupted,
            reordered: self.reordered + o.reordered,
            delayed: self.delayed + o.delayed,
            rate_delayed: self.rate_delayed + o.rate_delayed,
            queue_dropped: self.queue_dropped + o.queue_dropped,
            limit_dropped: self.limit_dropped + o.limit_dropped,
        }
    }
}

/// An impaired link; see the module documentation.
#[derive(Debug)]
pub struct Impair<L> {
    inner: L,
    config: ImpairConfig,
    active: bool,
    tx: Path,
    rx: Path,
    /// Receive buffers for frames read from the inner link on the impaired ingress path,
    /// shaped like the caller's batch on first use.
    scratch: Option<Batch>,
}

impl<L: Link> Impair<L> {
    /// Wrap `inner` with the impairments of `config` (checked with
    /// [`ImpairConfig::validate`]).
    pub fn new(inner: L, config: ImpairConfig) -> Result<Self, LinkError> {
        config.validate()?;
        let base = Rng::new(config.seed);
        Ok(Impair {
            inner,
            active: config.is_active(),
            tx: Path::new(base.fork(1)),
            rx: Path::new(base.fork(2)),
            config,
            scratch: None,
        })
    }

    /// The parameters in use.
    pub fn config(&self) -> &ImpairConfig {
        &self.config
    }

    /// Counters of both directions added up.
    pub fn stats(&self) -> ImpairStats {
        self.tx.stats.add(&self.rx.stats)
    }

    /// Counters of the egress direction.
    pub fn tx_stats(&self) -> ImpairStats {
        self.tx.stats
    }

    /// Counters of the ingress direction.
    pub fn rx_stats(&self) -> ImpairStats {
        self.rx.stats
    }

    /// Frames waiting in the delay lines (both directions).
    pub fn held(&self) -> usize {
        self.tx.held() + self.rx.held()
    }

    /// The wrapped link.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The wrapped link, mutably.
    pub fn inner_mut(&mut self) -> &mut L {
        &mut self.inner
    }

    /// Unwrap, discarding frames still in the delay lines.
    pub fn into_inner(self) -> L {
        self.inner
    }

    fn impairs_tx(&self) -> bool {
        self.active && self.config.dir.tx()
    }

    fn impairs_rx(&self) -> bool {
        self.active && self.config.dir.rx()
    }

    /// Hand every egress frame due at `now` to the inner link, stamped with its due time.
    fn release_tx(&mut self, now: Instant) -> Result<(), LinkError> {
        while let Some(held) = self.tx.pop_due(now) {
            let res = self.inner.send(held.due, &held.frame);
            self.tx.recycle(held.frame);
            res?;
        }
        Ok(())
    }

    /// Move ingress frames due at `now` into `batch` until it is full.
    fn deliver_rx(&mut self, now: Instant, batch: &mut Batch) {
        while !batch.is_full() {
            let Some(held) = self.rx.pop_due(now) else {
                break;
            };
            batch.push(&held.frame);
            self.rx.recycle(held.frame);
        }
    }
}

impl<L: Link> Link for Impair<L> {
    fn send(&mut self, now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        if !self.impairs_tx() {
            return self.inner.send(now, frame);
        }
        if frame.len() > MAX_FRAME {
            return Err(LinkError::FrameTooLong(frame.len()));
        }
        self.tx.admit(&self.config, now, frame);
        self.release_tx(now)
    }

    fn recv(&mut self, now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        self.release_tx(now)?;
        if !self.impairs_rx() {
            return self.inner.recv(now, batch);
        }
        self.deliver_rx(now, batch);
        if batch.is_full() {
            return Ok(batch.len());
        }
        let scratch = self
            .scratch
            .get_or_insert_with(|| Batch::new(batch.capacity(), batch.buf_size()));
        let mut error = None;
        for _ in 0..MAX_INNER_RECVS {
            match self.inner.recv(now, scratch) {
                Ok(n) => {
                    for frame in scratch.iter() {
                        self.rx.admit(&self.config, now, frame);
                    }
                    if n < scratch.capacity() {
                        break;
                    }
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        self.deliver_rx(now, batch);
        match error {
            // Report the inner link's error once nothing else is ready to deliver.
            Some(e) if batch.is_empty() => Err(e),
            _ => Ok(batch.len()),
        }
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.inner.poll_timeout(),
            self.tx.next_due(),
            self.rx.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), LinkError> {
        self.release_tx(now)?;
        self.inner.handle_timeout(now)
    }

    fn name(&self) -> String {
        format!("impair({})", self.inner.name())
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        if self.config.dir.tx() {
            let s = &self.tx.stats;
            out.extend([
                ("impair.tx.frames_in", s.frames_in),
                ("impair.tx.frames_out", s.frames_out),
                ("impair.tx.lost", s.lost),
                ("impair.tx.burst_lost", s.burst_lost),
                ("impair.tx.duplicated", s.duplicated),
                ("impair.tx.corrupted", s.corrupted),
                ("impair.tx.reordered", s.reordered),
                ("impair.tx.delayed", s.delayed),
                ("impair.tx.rate_delayed", s.rate_delayed),
                ("impair.tx.queue_dropped", s.queue_dropped),
                ("impair.tx.limit_dropped", s.limit_dropped),
            ]);
        }
        if self.config.dir.rx() {
            let s = &self.rx.stats;
            out.extend([
                ("impair.rx.frames_in", s.frames_in),
                ("impair.rx.frames_out", s.frames_out),
                ("impair.rx.lost", s.lost),
                ("impair.rx.burst_lost", s.burst_lost),
                ("impair.rx.duplicated", s.duplicated),
                ("impair.rx.corrupted", s.corrupted),
                ("impair.rx.reordered", s.reordered),
                ("impair.rx.delayed", s.delayed),
                ("impair.rx.rate_delayed", s.rate_delayed),
                ("impair.rx.queue_dropped", s.queue_dropped),
                ("impair.rx.limit_dropped", s.limit_dropped),
            ]);
        }
        out.extend(self.inner.counters());
        out
    }
}
