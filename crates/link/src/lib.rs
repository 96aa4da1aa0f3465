//! Frame links for tcplab: where Ethernet frames come from and go to.
//!
//! A [`Link`] sends one frame at a time and receives frames in batches into caller-owned
//! buffers, without blocking. Links that wrap a file descriptor expose it so the runtime can
//! sleep in `poll(2)`; links with internal timing (impairment delays, rate limits) expose
//! [`Link::poll_timeout`] so the runtime (or a simulation's virtual clock) wakes them in time.
//!
//! Time uses the stack's [`Instant`] (nanoseconds from the caller's epoch), so the same link code
//! runs on the monotonic clock and on a virtual clock. Links never read a clock themselves
//! (OS-backed links may ignore `now`).
//!
//! # Driving a link
//! A driver (the runtime's event loop, or a simulation) repeats:
//! 1. `send` every frame the stack produced;
//! 2. `recv` until it returns 0, handing each frame to the stack;
//! 3. when the clock reaches [`Link::poll_timeout`], call [`Link::handle_timeout`] (wrappers
//!    such as [`impair::Impair`] release delayed frames there), then go back to 2;
//! 4. sleep until [`Link::raw_fd`] is readable or the earliest of the stack's and the link's
//!    `poll_timeout`.
//!
//! `now` must never go backwards between calls on the same link.
//!
//! # Modules
//! - [`memory`]: an in-memory pair (two stacks in one process);
//! - [`tap`]: a Linux TAP device via `tun-tap`;
//! - [`packet`]: AF_PACKET on an existing interface via `pnet_datalink`;
//! - [`impair`]: a seeded impairment wrapper (loss, burst loss, delay, jitter, reordering,
//!   duplication, corruption, rate limit) for any link, configured by [`impair::ImpairConfig`];
//! - [`pcap`]: a wrapper writing every frame of any link to a pcap file, and [`pcap::PcapSink`].
#![warn(missing_docs, unreachable_pub)]

use std::os::fd::RawFd;

pub mod impair;
pub mod memory;
pub mod packet;
pub mod pcap;
mod queue;
pub mod rng;
mod sys;
pub mod tap;
#[cfg(test)]
mod testutil;

pub use sys::wait_readable;

pub use tcplab_stack::time::{Duration, Instant};

/// Largest frame any link accepts: 14-byte Ethernet header + 65535-byte MTU + slack.
pub const MAX_FRAME: usize = 65536 + 64;

/// Errors from links, each saying why.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The OS refused an operation (open, ioctl, send, recv).
    #[error("{op}: {source}")]
    Io {
        /// What we were doing, e.g. "open TAP device tap0".
        op: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Opening a device needs CAP_NET_ADMIN / CAP_NET_RAW.
    #[error("{0}: permission denied (run as root or grant CAP_NET_ADMIN/CAP_NET_RAW)")]
    PermissionDenied(String),
    /// No such interface.
    #[error("no such interface: {0}")]
    NoSuchInterface(String),
    /// A frame longer than the link accepts.
    #[error("frame of {0} bytes is too long for this link")]
    FrameTooLong(usize),
    /// The other end of an in-memory link is gone.
    #[error("link peer closed")]
    Closed,
    /// A bad impairment specification (e.g. `loss=abc`).
    #[error("bad impairment spec: {0}")]
    BadSpec(String),
}

/// A batch of receive buffers owned by the caller and reused across calls (no per-frame
/// allocation on the hot path).
#[derive(Debug)]
pub struct Batch {
    bufs: Vec<Box<[u8]>>,
    lens: Vec<usize>,
    count: usize,
}

impl Batch {
    /// `frames` buffers of `frame_size` bytes each.
    pub fn new(frames: usize, frame_size: usize) -> Self {
        Batch {
            bufs: (0..frames.max(1))
                .map(|_| vec![0u8; frame_size].into_boxed_slice())
                .collect(),
            lens: vec![0; frames.max(1)],
            count: 0,
        }
    }

    /// Number of buffers.
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Size of each buffer in bytes (longer frames are truncated to it).
    pub fn buf_size(&self) -> usize {
        self.bufs[0].len()
    }

    /// Number of frames received by the last `recv`.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the last `recv` returned no frames.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th received frame.
    pub fn frame(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    /// Iterate over the received frames.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.count).map(move |i| self.frame(i))
    }

    /// Forget received frames (called by links at the start of `recv`).
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// The next free buffer, for a link to fill; commit it with [`Batch::commit`].
    /// `None` when the batch is full.
    pub fn next_buf(&mut self) -> Option<&mut [u8]> {
        let i = self.count;
        self.bufs.get_mut(i).map(|b| &mut b[..])
    }

    /// Mark the buffer returned by `next_buf` as holding a frame of `len` bytes.
    pub fn commit(&mut self, len: usize) {
        self.lens[self.count] = len;
        self.count += 1;
    }

    /// Copy `frame` into the next free buffer; returns false (dropping it) if the batch is
    /// full, truncating to the buffer size.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        match self.next_buf() {
            Some(buf) => {
                let n = frame.len().min(buf.len());
                buf[..n].copy_from_slice(&frame[..n]);
                self.commit(n);
                true
            }
            None => false,
        }
    }

    /// Whether every buffer holds a frame.
    pub fn is_full(&self) -> bool {
        self.count == self.bufs.len()
    }
}

/// A source and sink of Ethernet frames.
pub trait Link: Send {
    /// Send one frame. A link that cannot take it right now may drop it (like a NIC whose
    /// queue is full) and count the drop; errors are for broken links.
    fn send(&mut self, now: Instant, frame: &[u8]) -> Result<(), LinkError>;

    /// Send `frames.frame(from..)` in order, as [`Link::send`] one by one would; a link may
    /// hand several to the OS at once (the TAP link merges TCP segments, see [`tap`]). On an
    /// error, returns the index of the frame it concerns; frames before it were handled.
    fn send_batch(
        &mut self,
        now: Instant,
        frames: &Batch,
        from: usize,
    ) -> Result<(), (usize, LinkError)> {
        for i in from..frames.len() {
            self.send(now, frames.frame(i)).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Receive frames that are ready at `now` into `batch` (cleared first) without blocking;
    /// returns the number received (0 when none is ready).
    fn recv(&mut self, now: Instant, batch: &mut Batch) -> Result<usize, LinkError>;

    /// A file descriptor that becomes readable when frames may be ready, if the link has one.
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// The earliest instant at which the link has internal work due (a delayed frame to
    /// deliver or release), if any.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Do the internal work due at `now` (release delayed frames). Drivers call it when the
    /// clock reaches [`Link::poll_timeout`]; calling it early or often is harmless. Links
    /// without internal timing need not implement it.
    fn handle_timeout(&mut self, now: Instant) -> Result<(), LinkError> {
        let _ = now;
        Ok(())
    }

    /// A short human-readable name ("tap0", "memory-a", "impair(tap0)").
    fn name(&self) -> String;

    /// Named counters (every drop reason included) for printing on exit, e.g.
    /// `("impair.lost", 12)`. Wrappers list their own, then their inner link's.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn send(&mut self, now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        (**self).send(now, frame)
    }
    fn send_batch(
        &mut self,
        now: Instant,
        frames: &Batch,
        from: usize,
    ) -> Result<(), (usize, LinkError)> {
        (**self).send_batch(now, frames, from)
    }
    fn recv(&mut self, now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        (**self).recv(now, batch)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        (**self).raw_fd()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), LinkError> {
        (**self).handle_timeout(now)
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn counters(&self) -> Vec<(&'static str, u64)> {
        (**self).counters()
    }
}
