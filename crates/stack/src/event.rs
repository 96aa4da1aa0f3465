//! Typed events: plain data describing what the stack did and why.
//!
//! Recording is off by default and then costs one branch: layers call [`EventSink::emit`] with a
//! closure that is only run when recording is on. The visibility tooling (`--trace`, pcap
//! annotations, plots) renders these; nothing in the stack depends on them.

use std::collections::VecDeque;

use crate::time::Instant;

/// One recorded event: when, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `now` of the call during which it happened.
    pub time: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened. Each variant documents the RFC section that mandates the behaviour, and
/// [`EventKind::rfc`] returns it for rendering.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A TCP event (state change, retransmission, timer, congestion decision).
    Tcp(crate::tcp::TcpEvent),
}

impl EventKind {
    /// The RFC section that mandates this behaviour, if one does.
    pub fn rfc(&self) -> Option<&'static str> {
        match self {
            EventKind::Tcp(e) => e.rfc(),
        }
    }
}

/// A bounded queue of events, disabled by default.
#[derive(Debug)]
pub struct EventSink {
    enabled: bool,
    queue: VecDeque<Event>,
    capacity: usize,
    /// Events dropped because the queue was full (the reader fell behind).
    pub overflowed: u64,
}

impl EventSink {
    /// A disabled sink that will hold at most `capacity` undelivered events once enabled.
    pub fn new(capacity: usize) -> Self {
        EventSink { enabled: false, queue: VecDeque::new(), capacity, overflowed: 0 }
    }

    /// Turn recording on or off; turning it off discards queued events.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.queue.clear();
        }
    }

    /// Whether recording is on.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Record an event built by `make`, which runs only when recording is on.
    #[inline]
    pub fn emit(&mut self, now: Instant, make: impl FnOnce() -> EventKind) {
        if self.enabled {
            self.push(Event { time: now, kind: make() });
        }
    }

    fn push(&mut self, ev: Event) {
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.overflowed += 1;
        }
        self.queue.push_back(ev);
    }

    /// Take the oldest recorded event.
    pub fn pop(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }
}
