//! A deterministic simulation harness: several tcplab stacks joined by in-memory links, with
//! optional seeded impairment, frame capture, and a virtual clock.
//!
//! ```
//! use tcplab_tests::{World, Impairment};
//! use tcplab_stack::Ipv4Addr;
//!
//! let mut w = World::new(7);
//! let a = w.add_host_at(1);                       // 198.18.0.1/24
//! let b = w.add_host_at(2);                       // 198.18.0.2/24
//! w.connect(a, b, Impairment::none());
//! let now = w.now();
//! w.stack(a).ping(now, Ipv4Addr::new(198, 18, 0, 2), 1, 1, 56).unwrap();
//! let mut replies = 0;
//! assert!(w.run_until(|w| { replies += w.stack(a).poll_ping().is_some() as u32; replies > 0 },
//!                     tcplab_stack::Duration::from_secs(5)));
//! ```
//!
//! # API at a glance
//! - set-up: [`World::new`]`(seed)`, [`World::two_hosts`]`(seed, impair)`,
//!   [`World::add_host`]`(config)` / [`World::add_host_at`]`(n)`, [`World::connect`]`(a, b,
//!   impair)`, [`Impairment::spec`]`("loss=1%,delay=5ms")`;
//! - driving: [`World::step`], [`World::settle`], [`World::run_until`]`(pred, limit)`,
//!   [`World::run_for`]`(d)`, [`World::drive_bounded`]`(n)`;
//! - access: [`World::stack`]`(id)` for application calls, [`World::stack_ref`],
//!   [`World::now`], [`World::link_counters`];
//! - capture: [`World::capture`], [`World::pcap`].
//!
//! Application calls made between steps (e.g. `tcp_send`, `udp_send_to`, `ping`) take
//! [`World::now`]; their frames leave on the next step.
//!
//! # Time
//! The clock starts at zero and only moves in [`World::step`]: first everything due *now* is
//! done until nothing moves (frames delivered and answered, timers run), then the clock jumps
//! to the earliest deadline of any stack ([`Stack::poll_timeout`]) or link
//! ([`Link::poll_timeout`], e.g. a delayed frame in an impairment). Nothing reads a real
//! clock, and every random choice comes from seeds derived from [`World::new`]'s seed, so a
//! run is a pure function of its seed and its script.
//!
//! # Topology
//! Each host has one interface (a [`Stack`] has one). [`World::connect`] joins two hosts with
//! a [`tcplab_link::memory::pair`], each end optionally wrapped in a seeded
//! [`tcplab_link::impair::Impair`] applied to the frames that end sends.
//!
//! # Capture
//! [`World::capture`] records every frame a host's stack emits with its virtual timestamp;
//! [`World::captured`] returns them, [`World::capture_digest`] a stable hash for comparing
//! runs. [`World::pcap`] (before [`World::connect`]) taps the host's link with
//! [`tcplab_link::pcap::Pcap`] under the impairment, so the capture shows what went on the
//! wire; [`World::pcap_bytes`] / [`World::write_pcap`] return or save the file.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tcplab_link::impair::{Impair, ImpairConfig};
use tcplab_link::memory::{self, MemoryLink};
use tcplab_link::pcap::{Pcap, PcapSink};
use tcplab_link::{Batch, Link, MAX_FRAME};
use tcplab_stack::{Config, Duration, EthernetAddress, Instant, Ipv4Addr, Stack};

/// Identifies a host in a [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub usize);

/// Impairment for one connection; applied to the frames each end sends, with a distinct seed
/// per end derived from the world's seed.
#[derive(Debug, Clone, Default)]
pub struct Impairment {
    /// `None`: a perfect cable.
    pub config: Option<ImpairConfig>,
}

impl Impairment {
    /// No impairment: frames arrive instantly and intact.
    pub fn none() -> Self {
        Impairment { config: None }
    }

    /// Impairment from parameters (their `seed` is replaced per end).
    pub fn with(config: ImpairConfig) -> Self {
        Impairment {
            config: Some(config),
        }
    }

    /// Impairment from a spec string such as `loss=1%,delay=5ms,jitter=1ms`.
    ///
    /// # Panics
    /// If the spec does not parse (tests want to know).
    pub fn spec(spec: &str) -> Self {
        let config: ImpairConfig = spec
            .parse()
            .unwrap_or_else(|e| panic!("bad impairment spec {spec:?}: {e}"));
        Impairment {
            config: Some(config),
        }
    }
}

/// One frame sent by a captured host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Captured {
    /// Virtual time at which the stack emitted it.
    pub time: Instant,
    /// The Ethernet frame.
    pub frame: Vec<u8>,
}

/// An in-memory pcap file shared between the [`World`] and the link's pcap tap.
#[derive(Debug, Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Host {
    stack: Stack,
    link: Option<Box<dyn Link>>,
    capture: Option<Vec<Captured>>,
    pcap: Option<SharedBuf>,
}

/// A simulated network of stacks; see the crate documentation.
pub struct World {
    seed: u64,
    now: Instant,
    hosts: Vec<Host>,
    batch: Batch,
    buf: Vec<u8>,
    links: u64,
    /// Steps taken (each delivers everything due at one instant, then advances the clock).
    pub steps: u64,
}

/// Upper bound on rounds of frame exchange at one instant before the harness gives up
/// (a livelock between stacks is a bug worth a panic).
const MAX_ROUNDS_PER_INSTANT: usize = 100_000;

impl World {
    /// An empty world whose randomness all derives from `seed`.
    pub fn new(seed: u64) -> World {
        World {
            seed,
            now: Instant::ZERO,
            hosts: Vec::new(),
            batch: Batch::new(64, MAX_FRAME),
            buf: vec![0u8; MAX_FRAME],
            links: 0,
            steps: 0,
        }
    }

    /// The usual two-host set-up: hosts 198.18.0.1 and 198.18.0.2 joined by one link.
    pub fn two_hosts(seed: u64, impair: Impairment) -> (World, HostId, HostId) {
        let mut w = World::new(seed);
        let a = w.add_host_at(1);
        let b = w.add_host_at(2);
        w.connect(a, b, impair);
        (w, a, b)
    }

    /// The world's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A default configuration for host number `n` (1..=254): MAC 02:00:00:00:00:n, address
    /// 198.18.0.n/24, stack seed derived from the world seed and `n`.
    pub fn host_config(&self, n: u8) -> Config {
        let mut c = Config::new(
            EthernetAddress([2, 0, 0, 0, 0, n]),
            Ipv4Addr::new(198, 18, 0, n),
            24,
        );
        c.seed = mix(self.seed, n as u64);
        c
    }

    /// Add a host with `config`.
    ///
    /// # Panics
    /// If the configuration is invalid.
    pub fn add_host(&mut self, config: Config) -> HostId {
        let stack = Stack::new(config).expect("valid stack configuration");
        self.hosts.push(Host {
            stack,
            link: None,
            capture: None,
            pcap: None,
        });
        HostId(self.hosts.len() - 1)
    }

    /// Add a host with [`World::host_config`]`(n)`.
    pub fn add_host_at(&mut self, n: u8) -> HostId {
        let c = self.host_config(n);
        self.add_host(c)
    }

    /// Join `a` and `b` with an in-memory link, impaired as given on both ends.
    ///
    /// # Panics
    /// If either host is already connected (a stack has one interface), or on an invalid
    /// impairment.
    pub fn connect(&mut self, a: HostId, b: HostId, impair: Impairment) {
        assert!(
            self.hosts[a.0].link.is_none() && self.hosts[b.0].link.is_none(),
            "host already connected"
        );
        let (la, lb) = memory::pair(memory::DEFAULT_CAPACITY);
        self.links += 1;
        let link_seed = mix(self.seed, 1000 + self.links);
        let la = wrap(la, &impair, mix(link_seed, 1), self.hosts[a.0].pcap.clone());
        let lb = wrap(lb, &impair, mix(link_seed, 2), self.hosts[b.0].pcap.clone());
        self.hosts[a.0].link = Some(la);
        self.hosts[b.0].link = Some(lb);
    }

    /// Start recording the frames `host` sends.
    pub fn capture(&mut self, host: HostId) {
        self.hosts[host.0].capture.get_or_insert_with(Vec::new);
    }

    /// Tap `host`'s link with a pcap capture (nanosecond timestamps of the virtual clock,
    /// Ethernet link type): every frame it sends, as it leaves the impairment, and every
    /// frame it receives. Call before [`World::connect`].
    ///
    /// # Panics
    /// If `host` is already connected.
    pub fn pcap(&mut self, host: HostId) {
        let h = &mut self.hosts[host.0];
        assert!(
            h.link.is_none(),
            "World::pcap must be called before World::connect"
        );
        h.pcap.get_or_insert_with(SharedBuf::default);
    }

    /// The pcap file recorded so far for `host` (empty without [`World::pcap`]).
    pub fn pcap_bytes(&self, host: HostId) -> Vec<u8> {
        self.hosts[host.0]
            .pcap
            .as_ref()
            .map(SharedBuf::bytes)
            .unwrap_or_default()
    }

    /// Save the pcap file recorded for `host` to `path`.
    pub fn write_pcap(&self, host: HostId, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.pcap_bytes(host))
    }

    /// Frames recorded for `host` (empty unless [`World::capture`] was called).
    pub fn captured(&self, host: HostId) -> &[Captured] {
        self.hosts[host.0].capture.as_deref().unwrap_or(&[])
    }

    /// A hash of every captured frame and timestamp of every host: equal for byte-identical
    /// runs.
    pub fn capture_digest(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for host in &self.hosts {
            host.capture.hash(&mut h);
        }
        h.finish()
    }

    /// The stack of `host`, for application calls and inspection.
    pub fn stack(&mut self, host: HostId) -> &mut Stack {
        &mut self.hosts[host.0].stack
    }

    /// The stack of `host`, read-only.
    pub fn stack_ref(&self, host: HostId) -> &Stack {
        &self.hosts[host.0].stack
    }

    /// Named counters of `host`'s link (impairment and memory link), e.g. `("impair.lost", 3)`.
    pub fn link_counters(&self, host: HostId) -> Vec<(&'static str, u64)> {
        self.hosts[host.0]
            .link
            .as_ref()
            .map(|l| l.counters())
            .unwrap_or_default()
    }

    /// Earliest deadline of any stack or link.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.hosts
            .iter()
            .flat_map(|h| {
                [
                    h.stack.poll_timeout(),
                    h.link.as_ref().and_then(|l| l.poll_timeout()),
                ]
            })
            .flatten()
            .min()
    }

    /// Do everything due at the current instant until nothing moves. Returns whether any
    /// frame moved.
    pub fn settle(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        for round in 0.. {
            assert!(
                round < MAX_ROUNDS_PER_INSTANT,
                "stacks never went quiet at {now:?}"
            );
            let mut moved = false;
            // Links first: release delayed frames due now into their peers' inboxes, so the
            // receive pass below sees every frame due at this instant.
            for h in &mut self.hosts {
                if let Some(link) = h.link.as_mut() {
                    link.handle_timeout(now).expect("link timeout");
                }
            }
            for h in &mut self.hosts {
                if let Some(link) = h.link.as_mut() {
                    loop {
                        let n = link.recv(now, &mut self.batch).expect("link recv");
                        if n == 0 {
                            break;
                        }
                        moved = true;
                        for frame in self.batch.iter() {
                            h.stack.handle_frame(now, frame);
                        }
                    }
                }
            }
            for h in &mut self.hosts {
                if h.stack.poll_timeout().is_some_and(|t| t <= now) {
                    h.stack.handle_timeout(now);
                }
                while let Some(n) = h.stack.poll_transmit(now, &mut self.buf) {
                    moved = true;
                    let frame = &self.buf[..n];
                    if let Some(cap) = h.capture.as_mut() {
                        cap.push(Captured {
                            time: now,
                            frame: frame.to_vec(),
                        });
                    }
                    if let Some(link) = h.link.as_mut() {
                        link.send(now, frame).expect("link send");
                    }
                }
            }
            if !moved {
                break;
            }
            any = true;
        }
        any
    }

    /// Settle the current instant, then move the clock to the next deadline. Returns `false`
    /// when nothing is left to do (no deadline anywhere): the world is quiet.
    pub fn step(&mut self) -> bool {
        self.steps += 1;
        self.settle();
        match self.next_deadline() {
            None => false,
            Some(t) => {
                // A deadline that is already due but produced nothing would spin: nudge.
                self.now = if t > self.now {
                    t
                } else {
                    self.now + Duration::from_nanos(1)
                };
                true
            }
        }
    }

    /// Step until `pred` holds (checked before each step) or the clock passes `limit` from
    /// now; returns whether `pred` held.
    pub fn run_until(&mut self, mut pred: impl FnMut(&mut World) -> bool, limit: Duration) -> bool {
        let end = self.now + limit;
        loop {
            self.settle();
            if pred(self) {
                return true;
            }
            if self.now > end || !self.step() {
                return pred(self);
            }
        }
    }

    /// Advance the clock by `d`, doing everything due on the way.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.settle();
            match self.next_deadline() {
                Some(t) if t <= end => {
                    self.now = if t > self.now {
                        t
                    } else {
                        self.now + Duration::from_nanos(1)
                    }
                }
                _ => {
                    self.now = end;
                    self.settle();
                    return;
                }
            }
        }
    }

    /// At most `n` steps; returns how many were taken before the world went quiet.
    pub fn drive_bounded(&mut self, n: usize) -> usize {
        for i in 0..n {
            if !self.step() {
                return i + 1;
            }
        }
        n
    }
}

/// `Impair(Pcap(link))`: the tap sits under the impairment so it records the wire.
fn wrap(
    link: MemoryLink,
    impair: &Impairment,
    seed: u64,
    pcap: Option<SharedBuf>,
) -> Box<dyn Link> {
    let inner: Box<dyn Link> = match pcap {
        Some(buf) => Box::new(Pcap::new(
            link,
            PcapSink::new(buf).expect("pcap header to memory"),
        )),
        None => Box::new(link),
    };
    match &impair.config {
        None => inner,
        Some(c) => {
            let mut c = c.clone();
            c.seed = seed;
            Box::new(Impair::new(inner, c).expect("valid impairment"))
        }
    }
}

/// SplitMix64 of `a` and `b`: well-spread, deterministic seeds.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
