//! The runtime: one event-loop thread that owns a [`Link`] and drives a [`Stack`].
//!
//! The loop sleeps in `ppoll(2)` on the link's descriptor and on a waker eventfd, with the
//! timeout set to the earliest of the stack's and the link's deadlines, so an idle runtime costs
//! nothing. Each wake-up it: drains the link in batches into [`Stack::handle_frame`], runs due
//! timers, sends everything [`Stack::poll_transmit`] produces, renders events for `--trace`, and
//! wakes socket callers blocked on the condition variable (the stack's call order, see
//! `tcplab_stack`'s crate docs).
//!
//! Socket calls (`crate::net`) do not round-trip through a command channel: they lock the
//! stack, make their call with a `now` read under the same lock (so time never goes backwards
//! between callers), and wake the loop through the eventfd so it transmits what the call
//! produced. Only the loop thread touches the link. This halves the context switches per
//! `read`/`write` compared with a request/reply channel, and a blocked caller simply waits on
//! the condition variable until the loop has handled input.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use tcplab_link::{Batch, Link, LinkError, MAX_FRAME};
use tcplab_stack::icmp::PingEvent;
use tcplab_stack::{ConnHandle, Instant, ListenerHandle, Stack, Stats, TcpState, UdpHandle};

use crate::sys::{self, EventFd};
use crate::trace::{Sink, Tracer};

/// Receive batches handled per loop iteration before transmitting and checking timers again,
/// so a flood on the link cannot starve timers or socket callers.
const MAX_BATCHES_PER_ITERATION: usize = 8;

/// Longest sleep when the link has no descriptor to wait on (it is then polled).
const FDLESS_LINK_POLL: StdDuration = StdDuration::from_millis(1);

/// How a runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Name shown in traces and thread names ("A", "B", "tap0").
    pub name: String,
    /// Where to print stack events, one line each with a relative timestamp (`None`: off).
    pub trace: Option<Sink>,
    /// Time zero for the stack's clock; runtimes that share an epoch print comparable times.
    pub epoch: StdInstant,
    /// Frames per receive batch.
    pub batch_frames: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            name: "tcplab".into(),
            trace: None,
            epoch: StdInstant::now(),
            batch_frames: 32,
        }
    }
}

/// State shared by the loop thread and socket callers, behind one mutex.
#[derive(Debug)]
pub struct Core {
    /// The protocol stack.
    pub stack: Stack,
    epoch: StdInstant,
    last_now: Instant,
    /// Why the loop stopped (link failure or shutdown); blocked calls then fail with it.
    stopped: Option<String>,
    /// Callers blocked in [`Handle::wait`], each with what it waits for.
    waiters: Vec<Waiter>,
    next_waiter: u64,
    /// `tcp.established` when waiters were last checked (see [`Interest::TcpAccept`]).
    established_seen: u64,
    /// Ping results taken from the stack for another identifier than the caller's, kept for
    /// their owner (bounded by `net::ping`).
    pub ping_stash: VecDeque<PingEvent>,
}

/// What a blocked caller waits for, so the loop wakes only callers that can make progress
/// (one thread per connection would otherwise all wake on every packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Wake after every loop iteration.
    Any,
    /// Data, end of stream or an error to read on a connection.
    TcpRecv(ConnHandle),
    /// Room in a connection's send buffer, or an error.
    TcpSend(ConnHandle),
    /// A connection may be waiting in a listener's accept queue. The stack has no query for
    /// that, so these waiters wake whenever a connection reached ESTABLISHED.
    TcpAccept(ListenerHandle),
    /// An active open finished (or failed).
    TcpOpen(ConnHandle),
    /// A datagram queued on a UDP socket.
    UdpRecv(UdpHandle),
}

/// One blocked caller.
#[derive(Debug)]
struct Waiter {
    id: u64,
    interest: Interest,
    cv: Arc<Condvar>,
}

impl Core {
    /// Collect the condition variables of waiters that can make progress now.
    fn ready_waiters(&mut self, out: &mut Vec<Arc<Condvar>>) {
        out.clear();
        if self.waiters.is_empty() {
            return;
        }
        let stopped = self.stopped.is_some();
        let established = self.stack.stats().tcp.established;
        let new_connections = established != self.established_seen;
        self.established_seen = established;
        let stack = &self.stack;
        for w in &self.waiters {
            let ready = stopped
                || match w.interest {
                    Interest::Any => true,
                    Interest::TcpRecv(c) => stack.tcp_can_recv(c) || stack.tcp_state(c).is_none(),
                    Interest::TcpSend(c) => stack.tcp_can_send(c) || stack.tcp_state(c).is_none(),
                    Interest::TcpAccept(_) => new_connections,
                    Interest::TcpOpen(c) => !matches!(
                        stack.tcp_state(c),
                        Some(TcpState::SynSent | TcpState::SynReceived)
                    ),
                    Interest::UdpRecv(h) => stack.udp_can_recv(h),
                };
            if ready {
                out.push(w.cv.clone());
            }
        }
    }

    /// The current time on the stack's clock, never earlier than a previous call's.
    pub fn now(&mut self) -> Instant {
        let n = Instant::from_nanos(self.epoch.elapsed().as_nanos().min(u64::MAX as u128) as u64);
        if n > self.last_now {
            self.last_now = n;
        }
        self.last_now
    }
}

#[derive(Debug)]
struct Shared {
    core: Mutex<Core>,
    waker: EventFd,
    iterations: AtomicU64,
    name: String,
}

/// A cheap, cloneable, `Send` handle to a running runtime, given to sockets and server threads.
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// Owner of the event-loop thread; dropping it stops the loop and joins the thread.
/// Dereferences to [`Handle`], so `TcpListener::bind(&rt, ...)` works.
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    thread: Option<JoinHandle<Vec<(&'static str, u64)>>>,
}

impl Runtime {
    /// Start a runtime driving `stack` over `link` on a new thread.
    pub fn start(stack: Stack, link: Box<dyn Link>, opts: RuntimeOptions) -> io::Result<Runtime> {
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                stack,
                epoch: opts.epoch,
                last_now: Instant::ZERO,
                stopped: None,
                waiters: Vec::new(),
                next_waiter: 0,
                established_seen: 0,
                ping_stash: VecDeque::new(),
            }),
            waker: EventFd::new()?,
            iterations: AtomicU64::new(0),
            name: opts.name.clone(),
        });
        let tracer = opts.trace.clone().map(|sink| Tracer::new(&opts.name, sink));
        let loop_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tcplab-loop-{}", opts.name))
            .spawn(move || event_loop(&loop_shared, link, opts.batch_frames, tracer))?;
        Ok(Runtime {
            handle: Handle { shared },
            thread: Some(thread),
        })
    }

    /// A cloneable handle for sockets and threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Stop the loop, join its thread, and return the link's counters.
    pub fn shutdown(mut self) -> Vec<(&'static str, u64)> {
        self.handle.stop("runtime stopped");
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl std::ops::Deref for Runtime {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.handle.stop("runtime stopped");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Handle {
    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock leaves the stack in an unknown state; the poison is
        // ignored here because every caller re-checks `stopped` and the stack never panics on
        // input by design.
        self.shared.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The runtime's name (as in traces).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Stop the loop: blocked and future calls fail with `reason`.
    pub fn stop(&self, reason: &str) {
        let mut core = self.lock();
        if core.stopped.is_none() {
            core.stopped = Some(reason.to_string());
        }
        for w in &core.waiters {
            w.cv.notify_all();
        }
        drop(core);
        self.shared.waker.wake();
    }

    /// Why the loop stopped, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.lock().stopped.clone()
    }

    /// Run `f` on the stack now, then wake the loop to transmit whatever `f` produced.
    pub fn with<T>(&self, f: impl FnOnce(&mut Stack, Instant) -> T) -> io::Result<T> {
        let mut core = self.lock();
        if let Some(why) = &core.stopped {
            return Err(io::Error::other(why.clone()));
        }
        let now = core.now();
        let v = f(&mut core.stack, now);
        drop(core);
        self.shared.waker.wake();
        Ok(v)
    }

    /// Read-only access to the core (no wake-up).
    pub fn inspect<T>(&self, f: impl FnOnce(&mut Core) -> T) -> T {
        f(&mut self.lock())
    }

    /// Block until `f` returns `Some`, re-trying each time the loop finds `interest` ready.
    /// `f` must only change the stack when it returns `Some`. Fails with `TimedOut` after
    /// `timeout`, or with the stop reason if the runtime stops.
    pub fn wait<T>(
        &self,
        timeout: Option<StdDuration>,
        interest: Interest,
        mut f: impl FnMut(&mut Core, Instant) -> Option<T>,
    ) -> io::Result<T> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let mut core = self.lock();
        let mut slot: Option<(u64, Arc<Condvar>)> = None;
        let result = loop {
            if let Some(why) = &core.stopped {
                break Err(io::Error::other(why.clone()));
            }
            let now = core.now();
            if let Some(v) = f(&mut core, now) {
                break Ok(v);
            }
            let (_, cv) = slot.get_or_insert_with(|| {
                let id = core.next_waiter;
                core.next_waiter += 1;
                let cv = Arc::new(Condvar::new());
                core.waiters.push(Waiter {
                    id,
                    interest,
                    cv: cv.clone(),
                });
                (id, cv)
            });
            let cv = cv.clone();
            core = match deadline {
                None => cv.wait(core).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(StdInstant::now());
                    if left.is_zero() {
                        break Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "operation timed out",
                        ));
                    }
                    cv.wait_timeout(core, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        };
        if let Some((id, _)) = slot {
            core.waiters.retain(|w| w.id != id);
        }
        drop(core);
        if result.is_ok() {
            self.shared.waker.wake();
        }
        result
    }

    /// A copy of the stack's counters.
    pub fn stats(&self) -> Stats {
        self.lock().stack.stats().clone()
    }

    /// How many times the loop has woken up (for tests that check it does not spin).
    pub fn loop_iterations(&self) -> u64 {
        self.shared.iterations.load(Ordering::Relaxed)
    }
}

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
fn event_loop(
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
            match (t, link_fd) {
                (t, Some(_)) => t,
                (Some(t), None) => Some(t.min(FDLESS_LINK_POLL)),
                (None, None) => Some(FDLESS_LINK_POLL),
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
        let core = self.lock();
        if core.stopped.is_some() {
            return false;
        }
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
                log::error!("{}: link {name} failed: {e}", self.shared.name);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tcplab_link::LinkError;
    use tcplab_stack::{Config, EthernetAddress};

    /// A link that never receives anything, with a descriptor that never becomes readable.
    struct Silent(EventFd);

    impl Link for Silent {
        fn send(&mut self, _: Instant, _: &[u8]) -> Result<(), LinkError> {
            Ok(())
        }
        fn recv(&mut self, _: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
            batch.clear();
            Ok(0)
        }
        fn raw_fd(&self) -> Option<RawFd> {
            Some(self.0.as_raw_fd())
        }
        fn name(&self) -> String {
            "silent".into()
        }
    }

    fn runtime() -> Runtime {
        let mac = EthernetAddress([2, 0, 198, 18, 0, 9]);
        let stack = Stack::new(Config::new(mac, "198.18.0.9".parse().unwrap(), 24)).unwrap();
        Runtime::start(
            stack,
            Box::new(Silent(EventFd::new().unwrap())),
            RuntimeOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn idle_runtime_sleeps() {
        let rt = runtime();
        std::thread::sleep(StdDuration::from_millis(300));
        // The stack may have a few startup timers (gratuitous ARP); a spinning loop would
        // count hundreds of thousands of iterations.
        assert!(
            rt.loop_iterations() < 20,
            "{} iterations while idle",
            rt.loop_iterations()
        );
    }

    #[test]
    fn wait_times_out_and_stop_wakes_waiters() {
        let rt = runtime();
        let start = StdInstant::now();
        let r: io::Result<()> =
            rt.wait(Some(StdDuration::from_millis(50)), Interest::Any, |_, _| {
                None
            });
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= StdDuration::from_millis(49));

        let h = rt.handle();
        let waiter = std::thread::spawn(move || h.wait(None, Interest::Any, |_, _| None::<()>));
        std::thread::sleep(StdDuration::from_millis(50));
        let link_counters = rt.shutdown();
        assert!(link_counters.is_empty());
        let err = waiter.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
    }

    #[test]
    fn now_never_goes_backwards_across_threads() {
        let rt = runtime();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let h = rt.handle();
                std::thread::spawn(move || {
                    let mut last = Instant::ZERO;
                    for _ in 0..1000 {
                        let now = h.inspect(|c| c.now());
                        assert!(now >= last);
                        last = now;
                    }
                })
            })
            .collect();
        for t in handles {
            t.join().unwrap();
        }
    }
}
