//! The runtime: one event-loop thread that owns a [`Link`] and drives a [`Stack`].
//!
//! The loop sleeps in `ppoll(2)` on the link's descriptor and on a waker eventfd, with the
//! timeout set to the earliest of the stack's and the link's deadlines, so an idle runtime costs
//! nothing. Each wake-up it: runs the link's timers, drains the link in batches into
//! [`Stack::handle_frame`], runs the stack's due timers, sends everything
//! [`Stack::poll_transmit`] produces, renders events for `--trace`, and wakes the blocked
//! callers whose [`Interest`] became ready (the stack's call order, see `tcplab_stack`'s crate
//! docs).
//!
//! Socket calls (`crate::net`) do not round-trip through a command channel: they lock the
//! stack, make their call with a `now` read under the same lock (so time never goes backwards
//! between callers), and leave the transmission to the loop, waking it through the eventfd
//! only if it sleeps. Only the loop thread touches the link, and it sends frames without
//! holding the lock. Compared with a request/reply channel this saves two context switches per
//! `read`/`write`; a blocked caller waits on its own condition variable until the loop finds
//! its interest ready.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use tcplab_link::Link;
use tcplab_stack::icmp::PingEvent;
use tcplab_stack::{ConnHandle, Instant, ListenerHandle, Stack, Stats, TcpState, UdpHandle};

use crate::sys::EventFd;

mod event_loop;

use crate::trace::{Sink, Tracer};
use event_loop::event_loop;

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
    /// The loop is (about to be) asleep in `ppoll`: a caller with new work must wake it.
    loop_asleep: bool,
    /// A caller left work while the loop was awake: the loop runs again before sleeping.
    pending: bool,
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
    /// Record that a caller changed the stack; returns whether the caller must wake the loop.
    /// A loop that is awake will see `pending` before it sleeps, which saves an eventfd write
    /// and a futile wake-up per `read`/`write` during bulk transfers.
    fn note_work(&mut self) -> bool {
        if self.loop_asleep {
            self.loop_asleep = false;
            true
        } else {
            self.pending = true;
            false
        }
    }

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
                loop_asleep: false,
                pending: false,
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

    /// Stop the loop, join its thread, and return the link's counters. Closes the application
    /// already made are given up to [`LINGER`] to reach the peer first.
    pub fn shutdown(mut self) -> Vec<(&'static str, u64)> {
        self.handle.linger(LINGER);
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
        if self.thread.is_some() {
            self.handle.linger(LINGER);
        }
        self.handle.stop("runtime stopped");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long a stopping runtime keeps running so that FINs of closed connections are sent and
/// acknowledged: the userspace equivalent of the kernel finishing a close after the process
/// exits (RFC 9293 §3.10.4). Without it, `tcplab get` could exit with its FIN still queued and
/// leave the peer in FIN-WAIT-2.
pub const LINGER: StdDuration = StdDuration::from_secs(1);

impl Handle {
    /// Wait (at most `max`) until no connection has an unacknowledged FIN, or the loop stopped.
    pub fn linger(&self, max: StdDuration) {
        let deadline = std::time::Instant::now() + max;
        while std::time::Instant::now() < deadline {
            let busy =
                self.inspect(|core| core.stopped.is_none() && core.stack.tcp_closing_count() > 0);
            if !busy {
                return;
            }
            std::thread::sleep(StdDuration::from_millis(2));
        }
    }

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
        let wake = core.note_work();
        drop(core);
        if wake {
            self.shared.waker.wake();
        }
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
        let wake = result.is_ok() && core.note_work();
        drop(core);
        if wake {
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

#[cfg(test)]
mod tests;
