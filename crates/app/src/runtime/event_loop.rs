//! The event loop proper: sleep in `ppoll(2)`, then receive, run timers and transmit, in the
//! stack's call order, and wake the callers whose interest became ready.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, MutexGuard};
use std::time::Duration as StdDuration;

use tcplab_link::{Batch, Link, LinkError, MAX_FRAME};
use tcplab_stack::Instant;

use super::{Core, Shared};
use crate::sys;
use crate::trace::Tracer;

/// Receive batches handled per loop iteration before transmitting and checking timers again,
/// so a flood on the link cannot starve timers or socket callers.
const MAX_BATCHES_PER_ITERATION: usize = 8;

/// Longest sleep when the link has no descriptor to wait on (it is then polled).
const FDLESS_LINK_POLL: StdDuration = StdDuration::from_millis(1);

/// Frames taken from the stack under the lock and sent after releasing it, so socket callers
/// can use the stack while the loop is in `send(2)`.
const TX_BATCH: usize = 32;

/// The event loop's own state (only the loop thread touches the link).
struct EventLoop<'a> {
    shared: &'a Shared,
    link: Box<dyn Link>,
    rx: Batch,
    tx: Batch,
    tracer: Option<Tracer>,
    ready: Vec<Arc<Condvar>>,
}

/// The event loop; runs until [`Handle::stop`] or a fatal link error, and returns the link's
/// counters.
pub(super) fn event_loop(
    shared: &Shared,
    link: Box<dyn Link>,
    batch_frames: usize,
    tracer: Option<Tracer>,
) -> Vec<(&'static str, u64)> {
    let mut el = EventLoop {
        shared,
        link,
        rx: Batch::new(batch_frames, MAX_FRAME),
        tx: Batch::new(TX_BATCH, MAX_FRAME),
        tracer,
        ready: Vec::new(),
    };
    if el.tracer.is_some() {
        el.lock().stack.set_events(true);
    }
    let waker_fd: RawFd = shared.waker.as_raw_fd();
    let link_fd = el.link.raw_fd();
    let fds: Vec<RawFd> = std::iter::once(waker_fd).chain(link_fd).collect();
    loop {
        // Sleep until the link is readable, a caller woke us, or the next deadline.
        let timeout = {
            let mut core = el.lock();
            if core.stopped.is_some() {
                break;
            }
            let now = core.now();
            let deadline = match (core.stack.poll_timeout(), el.link.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let t = deadline.map(|d| {
                StdDuration::from_nanos(d.saturating_duration_since(now).as_nanos() as u64)
            });
            if core.pending {
                // A caller changed the stack while we were busy: run again at once.
                core.pending = false;
                Some(StdDuration::ZERO)
            } else {
                core.loop_asleep = true;
                match (t, link_fd) {
                    (t, Some(_)) => t,
                    (Some(t), None) => Some(t.min(FDLESS_LINK_POLL)),
                    (None, None) => Some(FDLESS_LINK_POLL),
                }
            }
        };
        if let Err(e) = sys::wait_readable(&fds, timeout) {
            log::error!("{}: poll failed: {e}", shared.name);
            stop_with(shared, format!("poll failed: {e}"));
            break;
        }
        shared.waker.drain();
        shared.iterations.fetch_add(1, Ordering::Relaxed);
        if !el.iteration() {
            break;
        }
    }
    el.link.counters()
}

type Guard<'a> = MutexGuard<'a, Core>;

impl<'a> EventLoop<'a> {
    fn lock(&self) -> Guard<'a> {
        self.shared.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One wake-up's work; returns false when the loop must end.
    fn iteration(&mut self) -> bool {
        let mut core = self.lock();
        if core.stopped.is_some() {
            return false;
        }
        // This iteration transmits whatever callers queued so far.
        core.loop_asleep = false;
        core.pending = false;
        let (mut core, r) = self.process(core);
        if let Some(t) = self.tracer.as_mut() {
            while let Some(ev) = core.stack.poll_event() {
                t.event(&ev);
            }
        }
        if let Err(e) = &r {
            let name = self.link.name();
            if matches!(e, LinkError::Closed) {
                log::info!("{}: link {name} closed", self.shared.name);
            } else {
                // Callers report it (their calls fail with this reason): keep stderr to the
                // one `tcplab: error:` line.
                log::debug!("{}: link {name} failed: {e}", self.shared.name);
            }
            core.stopped = Some(format!("link {name} failed: {e}"));
        }
        core.ready_waiters(&mut self.ready);
        drop(core);
        self.ready.drain(..).for_each(|cv| cv.notify_all());
        r.is_ok()
    }

    /// Link timers, received frames, stack timers, and transmission, in the stack's call order.
    fn process(&mut self, mut core: Guard<'a>) -> (Guard<'a>, Result<(), LinkError>) {
        let now = core.now();
        if self.link.poll_timeout().is_some_and(|d| d <= now) {
            // Wrappers (impairment) release delayed frames here, for `recv` below.
            if let Err(e) = self.link.handle_timeout(now) {
                return (core, Err(e));
            }
        }
        for _ in 0..MAX_BATCHES_PER_ITERATION {
            let now = core.now();
            let n = match self.link.recv(now, &mut self.rx) {
                Ok(n) => n,
                Err(e) => return (core, Err(e)),
            };
            for frame in self.rx.iter() {
                core.stack.handle_frame(now, frame);
            }
            // Answer (ACKs) before reading more, and let readers at the data meanwhile.
            let (c, r) = self.transmit(core);
            core = c;
            if r.is_err() || n < self.rx.capacity() {
                if r.is_err() {
                    return (core, r);
                }
                break;
            }
        }
        let now = core.now();
        if core.stack.poll_timeout().is_some_and(|d| d <= now) {
            core.stack.handle_timeout(now);
        }
        self.transmit(core)
    }

    /// Send everything the stack has to send, in batches taken under the lock and sent
    /// without it, so socket callers can use the stack while the loop is in `send(2)`.
    fn transmit(&mut self, mut core: Guard<'a>) -> (Guard<'a>, Result<(), LinkError>) {
        loop {
            // Re-read the clock after (re-)locking: callers may have used a later time.
            let now = core.now();
            self.tx.clear();
            while let Some(buf) = self.tx.next_buf() {
                match core.stack.poll_transmit(now, buf) {
                    Some(len) => self.tx.commit(len),
                    None => break,
                }
            }
            if self.tx.is_empty() {
                return (core, Ok(()));
            }
            let more = self.tx.is_full();
            core.ready_waiters(&mut self.ready);
            drop(core);
            self.ready.drain(..).for_each(|cv| cv.notify_all());
            let r = send_all(&mut *self.link, now, &self.tx);
            core = self.lock();
            if r.is_err() || !more {
                return (core, r);
            }
        }
    }
}

/// Send a batch of frames. A link error that is not transient ends the loop.
fn send_all(link: &mut dyn Link, now: Instant, frames: &Batch) -> Result<(), LinkError> {
    for frame in frames.iter() {
        match link.send(now, frame) {
            Ok(()) => {}
            Err(LinkError::Io { op, source }) if is_transient(&source) => {
                // The kernel's queue is full or the device is briefly down: the frame is lost,
                // as on a NIC; TCP retransmits.
                log::debug!("{}: send dropped: {op}: {source}", link.name());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) || matches!(
        e.raw_os_error(),
        Some(libc::ENOBUFS) | Some(libc::ENETDOWN) | Some(libc::EIO)
    )
}

fn stop_with(shared: &Shared, why: String) {
    let mut core = shared.core.lock().unwrap_or_else(|p| p.into_inner());
    core.stopped.get_or_insert(why);
    for w in &core.waiters {
        w.cv.notify_all();
    }
}
