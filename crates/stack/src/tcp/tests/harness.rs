//! Two `Tcp` instances exchanging segments through `poll_transmit`/`process`, with a virtual
//! clock that jumps to the next delivery or timer deadline, and seeded impairment.

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::ctx::Ctx;
use crate::event::{EventKind, EventSink};
use crate::stats::Stats;
use crate::tcp::{Tcp, TcpConfig, TcpEvent};
use crate::time::{Duration, Instant};

pub const A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const MTU: usize = 1500;

/// One endpoint.
pub struct Host {
    pub tcp: Tcp,
    pub events: EventSink,
    pub stats: Stats,
}

impl Host {
    pub fn new(_ip: Ipv4Addr, cfg: &TcpConfig, seed: u64) -> Host {
        let mut events = EventSink::new(1 << 20);
        events.set_enabled(true);
        Host {
            tcp: Tcp::new(cfg, seed, (MTU - 40) as u16),
            events,
            stats: Stats::default(),
        }
    }

    pub fn ctx(&mut self) -> (&mut Tcp, Ctx<'_>) {
        (
            &mut self.tcp,
            Ctx {
                events: &mut self.events,
                stats: &mut self.stats,
            },
        )
    }

    /// Take all recorded TCP events.
    pub fn take_events(&mut self) -> Vec<TcpEvent> {
        let mut v = Vec::new();
        while let Some(e) = self.events.pop() {
            #[allow(irrefutable_let_patterns)]
            if let EventKind::Tcp(t) = e.kind {
                v.push(t);
            }
        }
        v
    }
}

/// Impairment applied to every segment, decided by a seeded generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impair {
    /// Probability of loss, percent.
    pub loss: f64,
    /// Probability of duplication, percent.
    pub dup: f64,
    /// Probability of extra delay (reordering), percent.
    pub reorder: f64,
}

/// A segment on the wire.
#[derive(Debug, Clone)]
pub struct Wire {
    pub at: Instant,
    pub to_b: bool,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub data: Vec<u8>,
}

/// What to do with a segment: a test hook sees every segment before impairment.
pub type Filter = Box<dyn FnMut(bool, &[u8]) -> bool>;

pub struct Pair {
    pub a: Host,
    pub b: Host,
    pub now: Instant,
    pub latency: Duration,
    pub impair: Impair,
    pub wire: Vec<Wire>,
    rng: u64,
    /// Return false to drop (arguments: towards b, TCP segment).
    pub filter: Option<Filter>,
    pub delivered: u64,
    /// Serialization time of one segment (a rate-limited link, so ACKs are clocked).
    pub spacing: Duration,
    link_free: [Instant; 2],
}

impl Pair {
    pub fn new(cfg: &TcpConfig, seed: u64) -> Pair {
        Pair::with_configs(cfg, cfg, seed)
    }

    pub fn with_configs(cfg_a: &TcpConfig, cfg_b: &TcpConfig, seed: u64) -> Pair {
        Pair {
            a: Host::new(A_IP, cfg_a, seed ^ 0xa),
            b: Host::new(B_IP, cfg_b, seed ^ 0xb),
            now: Instant::from_secs(1),
            latency: Duration::from_millis(10),
            impair: Impair::default(),
            wire: Vec::new(),
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            filter: None,
            delivered: 0,
            spacing: Duration::from_micros(20),
            link_free: [Instant::ZERO; 2],
        }
    }

    fn rand(&mut self) -> f64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }

    /// Collect everything both hosts want to send and put it on the wire.
    pub fn flush(&mut self) {
        let mut buf = vec![0u8; MTU - 20];
        for to_b in [true, false] {
            loop {
                let now = self.now;
                let host = if to_b { &mut self.a } else { &mut self.b };
                let (tcp, mut ctx) = host.ctx();
                let Some(t) = tcp.poll_transmit(now, &mut ctx, &mut buf) else {
                    break;
                };
                let data = buf[..t.len].to_vec();
                if let Some(f) = self.filter.as_mut() {
                    if !f(to_b, &data) {
                        continue;
                    }
                }
                if self.rand() < self.impair.loss {
                    continue;
                }
                let dir = to_b as usize;
                self.link_free[dir] = self.link_free[dir].max(self.now) + self.spacing;
                let mut at = self.link_free[dir] + self.latency;
                if self.rand() < self.impair.reorder {
                    at += self.latency / 2 + Duration::from_micros((self.rand() * 100.0) as u64);
                }
                if self.rand() < self.impair.dup {
                    self.wire.push(Wire {
                        at: at + Duration::from_micros(50),
                        to_b,
                        src: t.src,
                        dst: t.dst,
                        data: data.clone(),
                    });
                }
                self.wire.push(Wire {
                    at,
                    to_b,
                    src: t.src,
                    dst: t.dst,
                    data,
                });
            }
        }
    }

    /// One step: flush, then jump to the next delivery or deadline and run it. Returns false
    /// when nothing is pending anywhere.
    pub fn step(&mut self) -> bool {
        self.flush();
        let next_wire = self.wire.iter().map(|w| w.at).min();
        let next_a = self.a.tcp.poll_timeout();
        let next_b = self.b.tcp.poll_timeout();
        let Some(next) = [next_wire, next_a, next_b].into_iter().flatten().min() else {
            return false;
        };
        if next > self.now {
            self.now = next;
        }
        let now = self.now;
        let mut due: Vec<Wire> = Vec::new();
        let mut i = 0;
        while i < self.wire.len() {
            if self.wire[i].at <= now {
                due.push(self.wire.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|w| w.at);
        for w in due {
            self.delivered += 1;
            let host = if w.to_b { &mut self.b } else { &mut self.a };
            let (tcp, mut ctx) = host.ctx();
            tcp.process(now, &mut ctx, w.src, w.dst, &w.data);
        }
        for host in [&mut self.a, &mut self.b] {
            if host.tcp.poll_timeout().is_some_and(|t| t <= now) {
                let (tcp, mut ctx) = host.ctx();
                tcp.handle_timeout(now, &mut ctx);
            }
        }
        true
    }

    /// Step until `done` returns true or `limit` of virtual time passes; returns `done`'s value.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.now > end || !self.step() {
                return done(self);
            }
        }
    }

    /// Step until quiet (no segments, no timers) or `limit` passes.
    pub fn drive(&mut self, limit: Duration) {
        let end = self.now + limit;
        while self.now <= end && self.step() {}
    }
}

/// A deterministic payload of `n` bytes for `seed`.
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

use crate::error::TcpError;
use crate::tcp::{ConnHandle, ListenerHandle};

/// An application doing one transfer: `b` connects to `a:port`, writes `data`, shuts down its
/// sending side; `a` accepts, reads to EOF (when `read_enabled`), then closes.
pub struct Flow {
    pub listener: Option<ListenerHandle>,
    pub port: u16,
    pub client: Option<ConnHandle>,
    pub server: Option<ConnHandle>,
    pub data: Vec<u8>,
    pub sent: usize,
    pub received: Vec<u8>,
    pub eof: bool,
    pub client_shut: bool,
    pub server_closed: bool,
    pub read_enabled: bool,
    pub client_error: Option<TcpError>,
    pub server_error: Option<TcpError>,
}

impl Flow {
    /// Listener on `a:port` (if `listen`), connection from `b`.
    pub fn start(p: &mut Pair, data: Vec<u8>, port: u16, listen: bool) -> Flow {
        let listener = listen.then(|| {
            p.a.tcp
                .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), 0)
                .unwrap()
        });
        let mut f = Flow {
            listener,
            port,
            client: None,
            server: None,
            data,
            sent: 0,
            received: Vec::new(),
            eof: false,
            client_shut: false,
            server_closed: false,
            read_enabled: true,
            client_error: None,
            server_error: None,
        };
        f.connect(p);
        f
    }

    pub fn connect(&mut self, p: &mut Pair) {
        let now = p.now;
        let (tcp, mut ctx) = p.b.ctx();
        self.client = Some(
            tcp.connect(now, &mut ctx, B_IP, SocketAddrV4::new(A_IP, self.port))
                .unwrap(),
        );
    }

    /// Run the application side once.
    pub fn poll(&mut self, p: &mut Pair, accept_from: Option<ListenerHandle>) {
        let now = p.now;
        if self.server.is_none() {
            if let Some(l) = accept_from.or(self.listener) {
                if let Ok(c) = p.a.tcp.accept(l) {
                    self.server = Some(c);
                }
            }
        }
        if let Some(c) = self.client {
            while self.sent < self.data.len() {
                match p.b.tcp.send(now, c, &self.data[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => {
                        self.client_error = Some(e);
                        break;
                    }
                }
            }
            if self.sent == self.data.len() && !self.client_shut && self.client_error.is_none() {
                match p.b.tcp.shutdown_write(now, c) {
                    Ok(()) => self.client_shut = true,
                    Err(TcpError::WouldBlock) => {}
                    Err(e) => self.client_error = Some(e),
                }
            }
            if self.client_error.is_none() {
                let mut tmp = [0u8; 64];
                match p.b.tcp.recv(now, c, &mut tmp) {
                    Err(TcpError::WouldBlock) | Ok(_) => {}
                    Err(e) => self.client_error = Some(e),
                }
            }
        }
        if let Some(s) = self.server {
            let mut buf = [0u8; 8192];
            while self.read_enabled && !self.eof && self.server_error.is_none() {
                match p.a.tcp.recv(now, s, &mut buf) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.received.extend_from_slice(&buf[..n]),
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => self.server_error = Some(e),
                }
            }
            if self.eof && !self.server_closed {
                p.a.tcp.close(now, s);
                self.server_closed = true;
            }
        }
    }
}

/// Run one transfer of `data` to completion (EOF at the server) within `limit`.
pub fn transfer(p: &mut Pair, data: Vec<u8>, limit: Duration) -> Flow {
    let mut f = Flow::start(p, data, 80, true);
    p.run_until(limit, |p| {
        f.poll(p, None);
        f.eof || f.client_error.is_some() || f.server_error.is_some()
    });
    f
}
