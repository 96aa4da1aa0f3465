//! A bounded, thread-safe frame queue with a pollable readiness descriptor.
//!
//! Used by the in-memory pair ([`crate::memory`]: each end's inbox). The descriptor is readable
//! exactly while frames are queued (or the queue is closed), so a runtime sleeps in `poll(2)`
//! on it. Frame buffers are recycled through a free list, so steady-state traffic does not
//! allocate.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, MutexGuard};

use crate::sys::EventFd;
use crate::Batch;

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Queued for the consumer.
    Queued,
    /// Dropped: the queue was full (counted in `dropped_full`).
    Full,
    /// Dropped: the consumer is gone.
    Closed,
}

#[derive(Debug)]
struct State {
    frames: VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    capacity: usize,
    closed: bool,
    dropped_full: u64,
}

/// The result of [`FrameQueue::pop_into`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Popped {
    /// Frames moved into the batch.
    pub(crate) frames: usize,
    /// Of those, frames longer than the batch's buffers (delivered truncated).
    pub(crate) truncated: usize,
    /// The queue is closed and now empty: nothing will ever arrive again.
    pub(crate) closed: bool,
}

/// A bounded FIFO of frames plus an eventfd that is readable while it is non-empty.
#[derive(Debug)]
pub(crate) struct FrameQueue {
    state: Mutex<State>,
    ready: EventFd,
}

impl FrameQueue {
    /// A queue holding at most `capacity` frames (at least 1).
    pub(crate) fn new(capacity: usize) -> io::Result<Self> {
        let capacity = capacity.max(1);
        Ok(FrameQueue {
            state: Mutex::new(State {
                frames: VecDeque::with_capacity(capacity),
                free: Vec::new(),
                capacity,
                closed: false,
                dropped_full: 0,
            }),
            ready: EventFd::new()?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue inconsistent (every
        // mutation is a single push/pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append a copy of `frame`, dropping it when full or closed.
    pub(crate) fn push(&self, frame: &[u8]) -> Push {
        let mut st = self.lock();
        if st.closed {
            return Push::Closed;
        }
        if st.frames.len() >= st.capacity {
            st.dropped_full += 1;
            return Push::Full;
        }
        let mut buf = st.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        let was_empty = st.frames.is_empty();
        st.frames.push_back(buf);
        // Signal under the lock so "readable" and "non-empty" change together.
        if was_empty {
            self.ready.signal();
        }
        Push::Queued
    }

    /// Move queued frames into `batch` (not cleared here) until it is full or the queue is
    /// empty.
    pub(crate) fn pop_into(&self, batch: &mut Batch) -> Popped {
        let mut st = self.lock();
        let mut out = Popped::default();
        while !batch.is_full() {
            let Some(buf) = st.frames.pop_front() else {
                break;
            };
            batch.push(&buf);
            if batch.frame(batch.len() - 1).len() < buf.len() {
                out.truncated += 1;
            }
            out.frames += 1;
            // Keep at most `capacity` spare buffers around.
            if st.free.len() < st.capacity {
                st.free.push(buf);
            }
        }
        let empty = st.frames.is_empty();
        if empty && !st.closed {
            self.ready.drain();
        }
        out.closed = empty && st.closed;
        out
    }

    /// Mark the queue closed: further pushes fail, and the descriptor stays readable so a
    /// consumer sleeping in `poll(2)` wakes up and learns about it.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        self.ready.signal();
    }

    /// Frames currently queued.
    pub(crate) fn len(&self) -> usize {
        self.lock().frames.len()
    }
}

impl AsRawFd for FrameQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.ready.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::wait_readable;

    #[test]
    fn bounded_fifo_with_readiness() {
        let q = FrameQueue::new(2).unwrap();
        assert!(!wait_readable(q.as_raw_fd(), 0).unwrap());
        assert_eq!(q.push(b"one"), Push::Queued);
        assert!(wait_readable(q.as_raw_fd(), 0).unwrap());
        assert_eq!(q.push(b"two"), Push::Queued);
        assert_eq!(q.push(b"three"), Push::Full);
        assert_eq!(q.lock().dropped_full, 1);

        // A one-frame batch leaves a frame queued: still readable.
        let mut small = Batch::new(1, 16);
        assert_eq!(
            q.pop_into(&mut small),
            Popped {
                frames: 1,
                truncated: 0,
                closed: false
            }
        );
        assert_eq!(small.frame(0), b"one");
        assert!(wait_readable(q.as_raw_fd(), 0).unwrap());

        let mut batch = Batch::new(8, 2);
        assert_eq!(
            q.pop_into(&mut batch),
            Popped {
                frames: 1,
                truncated: 1,
                closed: false
            }
        );
        assert_eq!(batch.frame(0), b"tw");
        assert!(!wait_readable(q.as_raw_fd(), 0).unwrap());
        assert_eq!(q.len(), 0);

        q.close();
        assert!(wait_readable(q.as_raw_fd(), 0).unwrap());
        assert_eq!(q.push(b"late"), Push::Closed);
        batch.clear();
        assert_eq!(
            q.pop_into(&mut batch),
            Popped {
                frames: 0,
                truncated: 0,
                closed: true
            }
        );
    }
}
