//! An in-memory pair of links: two stacks in one process, no root, no kernel.
//!
//! [`pair`] returns two ends; a frame sent on one end is queued (copied) in the other end's
//! bounded inbox, like a cable with a NIC receive ring on each side. A full inbox drops the
//! frame and counts it, as a NIC does. Dropping an end closes the pair: the other end's
//! `send` fails with [`LinkError::Closed`], and its `recv` returns the frames still queued,
//! then [`LinkError::Closed`].
//!
//! Both uses work:
//! - single-threaded simulation: call `send` on one end, then `recv` on the other (frames are
//!   delivered immediately; add [`crate::impair::Impair`] for latency);
//! - across threads: each end is `Send`, and [`Link::raw_fd`] is an eventfd that is readable
//!   while that end has frames queued (or the peer is gone), so a runtime thread can sleep in
//!   `poll(2)` on it.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use crate::queue::{FrameQueue, Push};
use crate::{Batch, Instant, Link, LinkError, MAX_FRAME};

/// Default inbox size, in frames, used by drivers that do not choose one.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Per-end counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Frames queued to the peer.
    pub tx_frames: u64,
    /// Bytes queued to the peer.
    pub tx_bytes: u64,
    /// Frames dropped on send because the peer's inbox was full.
    pub tx_dropped_full: u64,
    /// Frames received.
    pub rx_frames: u64,
    /// Bytes received (after truncation to the batch's buffer size).
    pub rx_bytes: u64,
    /// Received frames longer than the batch's buffers, delivered truncated.
    pub rx_truncated: u64,
}

/// One end of an in-memory pair; see the module documentation.
#[derive(Debug)]
pub struct MemoryLink {
    name: String,
    inbox: Arc<FrameQueue>,
    outbox: Arc<FrameQueue>,
    stats: MemoryStats,
}

/// Create a connected pair of links named `memory-a` and `memory-b`, each with an inbox of
/// `capacity_frames` frames (at least 1).
///
/// # Panics
/// Only if the OS refuses to create an eventfd (out of descriptors); use [`try_pair`] to get
/// the error instead.
pub fn pair(capacity_frames: usize) -> (MemoryLink, MemoryLink) {
    try_pair(capacity_frames).expect("eventfd for the in-memory link")
}

/// Like [`pair`], reporting eventfd creation failures as [`LinkError::Io`].
pub fn try_pair(capacity_frames: usize) -> Result<(MemoryLink, MemoryLink), LinkError> {
    let new_queue = || {
        FrameQueue::new(capacity_frames)
            .map(Arc::new)
            .map_err(|source| LinkError::Io {
                op: "create eventfd for memory link".into(),
                source,
            })
    };
    let a_in = new_queue()?;
    let b_in = new_queue()?;
    let a = MemoryLink {
        name: "memory-a".into(),
        inbox: a_in.clone(),
        outbox: b_in.clone(),
        stats: MemoryStats::default(),
    };
    let b = MemoryLink {
        name: "memory-b".into(),
        inbox: b_in,
        outbox: a_in,
        stats: MemoryStats::default(),
    };
    Ok((a, b))
}

impl MemoryLink {
    /// This end's counters.
    pub fn stats(&self) -> MemoryStats {
        self.stats
    }

    /// Rename this end (shown by [`Link::name`]), e.g. after the stack it serves.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Frames waiting in this end's inbox.
    pub fn queued(&self) -> usize {
        self.inbox.len()
    }
}

impl Drop for MemoryLink {
    fn drop(&mut self) {
        // Both directions end: the peer can no longer send to us, and the peer's inbox is
        // marked closed (and made readable) so a peer sleeping in poll(2) wakes up.
        self.inbox.close();
        self.outbox.close();
    }
}

impl Link for MemoryLink {
    fn send(&mut self, _now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() > MAX_FRAME {
            return Err(LinkError::FrameTooLong(frame.len()));
        }
        match self.outbox.push(frame) {
            Push::Queued => {
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += frame.len() as u64;
                Ok(())
            }
            Push::Full => {
                self.stats.tx_dropped_full += 1;
                log::trace!(
                    "{}: peer inbox full, frame of {} bytes dropped",
                    self.name,
                    frame.len()
                );
                Ok(())
            }
            Push::Closed => Err(LinkError::Closed),
        }
    }

    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        let popped = self.inbox.pop_into(batch);
        for frame in batch.iter() {
            self.stats.rx_bytes += frame.len() as u64;
        }
        self.stats.rx_frames += popped.frames as u64;
        self.stats.rx_truncated += popped.truncated as u64;
        if popped.frames == 0 && popped.closed {
            return Err(LinkError::Closed);
        }
        Ok(popped.frames)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.inbox.as_raw_fd())
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("memory.tx_frames", self.stats.tx_frames),
            ("memory.tx_bytes", self.stats.tx_bytes),
            ("memory.tx_dropped_full", self.stats.tx_dropped_full),
            ("memory.rx_frames", self.stats.rx_frames),
            ("memory.rx_bytes", self.stats.rx_bytes),
            ("memory.rx_truncated", self.stats.rx_truncated),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::wait_readable;

    const T0: Instant = Instant::ZERO;

    #[test]
    fn frames_cross_in_order() {
        let (mut a, mut b) = pair(16);
        let mut batch = Batch::new(8, 2048);
        a.send(T0, b"hello").unwrap();
        a.send(T0, b"world").unwrap();
        b.send(T0, b"back").unwrap();
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 2);
        assert_eq!(
            batch.iter().collect::<Vec<_>>(),
            vec![&b"hello"[..], &b"world"[..]]
        );
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 0);
        assert!(batch.is_empty());
        assert_eq!(a.recv(T0, &mut batch).unwrap(), 1);
        assert_eq!(batch.frame(0), b"back");
        assert_eq!(a.stats().tx_frames, 2);
        assert_eq!(a.stats().tx_bytes, 10);
        assert_eq!(b.stats().rx_frames, 2);
        assert_eq!(a.name(), "memory-a");
        assert_eq!(b.name(), "memory-b");
    }

    #[test]
    fn full_inbox_drops_and_counts() {
        let (mut a, mut b) = pair(3);
        for i in 0..10u8 {
            a.send(T0, &[i; 60]).unwrap();
        }
        assert_eq!(a.stats().tx_frames, 3);
        assert_eq!(a.stats().tx_dropped_full, 7);
        let mut batch = Batch::new(16, 2048);
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 3);
        // The oldest frames survive (tail drop).
        assert_eq!(batch.frame(0)[0], 0);
        assert_eq!(batch.frame(2)[0], 2);
        // Room again after draining.
        a.send(T0, &[42; 60]).unwrap();
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 1);
    }

    #[test]
    fn batch_limits_one_recv() {
        let (mut a, mut b) = pair(16);
        for i in 0..5u8 {
            a.send(T0, &[i]).unwrap();
        }
        let mut batch = Batch::new(2, 64);
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 2);
        assert!(
            wait_readable(b.raw_fd().unwrap(), 0).unwrap(),
            "frames left: still readable"
        );
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 2);
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 1);
        assert_eq!(batch.frame(0), &[4]);
        assert!(!wait_readable(b.raw_fd().unwrap(), 0).unwrap());
    }

    #[test]
    fn oversized_frame_is_an_error() {
        let (mut a, _b) = pair(4);
        let big = vec![0u8; MAX_FRAME + 1];
        assert!(matches!(a.send(T0, &big), Err(LinkError::FrameTooLong(n)) if n == MAX_FRAME + 1));
    }

    #[test]
    fn dropping_an_end_closes_the_pair() {
        let (mut a, mut b) = pair(4);
        a.send(T0, b"last words").unwrap();
        drop(a);
        assert!(matches!(b.send(T0, b"anyone?"), Err(LinkError::Closed)));
        let mut batch = Batch::new(4, 64);
        // Queued frames are still delivered, then the closure is reported.
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 1);
        assert!(
            wait_readable(b.raw_fd().unwrap(), 0).unwrap(),
            "closure wakes poll"
        );
        assert!(matches!(b.recv(T0, &mut batch), Err(LinkError::Closed)));
    }

    #[test]
    fn readiness_fd_follows_the_queue() {
        let (mut a, mut b) = pair(4);
        let fd = b.raw_fd().unwrap();
        assert!(!wait_readable(fd, 0).unwrap());
        a.send(T0, b"x").unwrap();
        assert!(wait_readable(fd, 0).unwrap());
        let mut batch = Batch::new(4, 64);
        b.recv(T0, &mut batch).unwrap();
        assert!(!wait_readable(fd, 0).unwrap());
    }

    #[test]
    fn works_across_threads_with_poll() {
        const N: u32 = 2000;
        const WINDOW: u32 = 64;
        let (mut a, mut b) = pair(WINDOW as usize);
        let receiver = std::thread::spawn(move || {
            let mut batch = Batch::new(16, 64);
            let mut got = Vec::new();
            // Acknowledge the running count after every receive, until the sender goes away.
            loop {
                assert!(
                    wait_readable(b.raw_fd().unwrap(), 5000).unwrap(),
                    "receiver starved"
                );
                match b.recv(T0, &mut batch) {
                    Ok(_) => {
                        for f in batch.iter() {
                            got.push(u32::from_be_bytes(f.try_into().unwrap()));
                        }
                        // The sender may already be gone after the last frame.
                        let _ = b.send(T0, &(got.len() as u32).to_be_bytes());
                    }
                    Err(LinkError::Closed) => return got,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let mut batch = Batch::new(16, 64);
        let (mut sent, mut acked) = (0u32, 0u32);
        while sent < N {
            // Flow control: never more than the inbox holds in flight, so nothing drops.
            while sent - acked >= WINDOW {
                assert!(
                    wait_readable(a.raw_fd().unwrap(), 5000).unwrap(),
                    "sender starved"
                );
                a.recv(T0, &mut batch).unwrap();
                for f in batch.iter() {
                    acked = acked.max(u32::from_be_bytes(f.try_into().unwrap()));
                }
            }
            a.send(T0, &sent.to_be_bytes()).unwrap();
            sent += 1;
        }
        assert_eq!(a.stats().tx_dropped_full, 0);
        drop(a);
        let got = receiver.join().unwrap();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
    }

    #[test]
    fn short_batch_buffers_truncate_and_count() {
        let (mut a, mut b) = pair(4);
        a.send(T0, &[7u8; 100]).unwrap();
        let mut batch = Batch::new(4, 10);
        assert_eq!(b.recv(T0, &mut batch).unwrap(), 1);
        assert_eq!(batch.frame(0).len(), 10);
        assert_eq!(b.stats().rx_truncated, 1);
    }
}
