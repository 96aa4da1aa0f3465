//! The [`World`]: stacks, in-memory links and the virtual clock (see the crate documentation).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tcplab_link::impair::{Impair, ImpairConfig};
use tcplab_link::memory::{self, MemoryLink};
use tcplab_link::pcap::{Pcap, PcapSink};
use tcplab_link::{Batch, Link, MAX_FRAME};
use tcplab_stack::{Config, Duration, EthernetAddress, Event, EventKind, Instant, Ipv4Addr, Stack};

/// Identifies a link made by [`World::connect_link`] (or [`World::connect`]) in a [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub usize);

/// How [`World::connect_link`] builds a link: an impairment per direction and an optional
/// capture.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    /// Impairment of the frames `a` sends (`a` -> `b`); its seed is replaced.
    pub a_to_b: Option<ImpairConfig>,
    /// Impairment of the frames `b` sends (`b` -> `a`); its seed is replaced.
    pub b_to_a: Option<ImpairConfig>,
    /// Record a pcap at `a`'s end of the link, like tcpdump on `a`: every frame `a`'s stack
    /// sends, at the instant it sends it and before the `a` -> `b` impairment (so frames the
    /// link then loses are in it), and every frame `a` receives, when it arrives.
    pub pcap: bool,
    /// Derive the impairment seeds from this key and the world's seed instead of from the
    /// link's number: links with the same key make the same random decisions for the same
    /// frame sequence (to compare two set-ups under the same losses).
    pub seed_key: Option<u64>,
}

/// Most TCP events [`World::record_events`] keeps per host; later ones are counted in
/// [`World::events_dropped`] (bounds memory on long runs).
pub const MAX_RECORDED_EVENTS: usize = 4_000_000;

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
    events: Option<Vec<Event>>,
    events_dropped: u64,
}

struct LinkRecord {
    a: HostId,
    b: HostId,
    pcap: Option<SharedBuf>,
}

/// A simulated network of stacks; see the crate documentation.
pub struct World {
    seed: u64,
    now: Instant,
    hosts: Vec<Host>,
    batch: Batch,
    buf: Vec<u8>,
    links: Vec<LinkRecord>,
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
            links: Vec::new(),
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
        self.try_add_host(config)
            .expect("valid stack configuration")
    }

    /// Add a host with `config`, or say why the stack rejected it.
    pub fn try_add_host(&mut self, config: Config) -> Result<HostId, tcplab_stack::StackError> {
        let stack = Stack::new(config)?;
        self.hosts.push(Host {
            stack,
            link: None,
            capture: None,
            pcap: None,
            events: None,
            events_dropped: 0,
        });
        Ok(HostId(self.hosts.len() - 1))
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
    pub fn connect(&mut self, a: HostId, b: HostId, impair: Impairment) -> LinkId {
        assert!(
            self.hosts[a.0].link.is_none() && self.hosts[b.0].link.is_none(),
            "host already connected"
        );
        let (la, lb) = memory::pair(memory::DEFAULT_CAPACITY);
        let link_seed = mix(self.seed, 1000 + self.links.len() as u64 + 1);
        let la = wrap(la, &impair, mix(link_seed, 1), self.hosts[a.0].pcap.clone());
        let lb = wrap(lb, &impair, mix(link_seed, 2), self.hosts[b.0].pcap.clone());
        self.hosts[a.0].link = Some(la);
        self.hosts[b.0].link = Some(lb);
        self.links.push(LinkRecord { a, b, pcap: None });
        LinkId(self.links.len() - 1)
    }

    /// Join `a` and `b` with an in-memory link, each direction impaired as `opts` says, with
    /// an optional capture at `a`'s end ([`LinkOptions::pcap`], read with
    /// [`World::link_pcap_bytes`]). Seeds of the impairments derive from the world's seed and
    /// the link's number, as in [`World::connect`].
    ///
    /// # Errors
    /// Either host is already connected (a stack has one interface: a host is on at most one
    /// link), `a == b`, or an impairment is invalid.
    pub fn connect_link(
        &mut self,
        a: HostId,
        b: HostId,
        opts: LinkOptions,
    ) -> Result<LinkId, String> {
        if a == b {
            return Err("a link joins two different hosts".into());
        }
        for h in [a, b] {
            if self.hosts.get(h.0).is_none_or(|x| x.link.is_some()) {
                return Err(format!(
                    "host {} is unknown or already on a link (a host has one interface)",
                    h.0
                ));
            }
        }
        let (la, lb) = memory::pair(memory::DEFAULT_CAPACITY);
        let link_seed = match opts.seed_key {
            Some(k) => mix(mix(self.seed, 0x5eed), k),
            None => mix(self.seed, 1000 + self.links.len() as u64 + 1),
        };
        let pcap = opts.pcap.then(SharedBuf::default);
        let la = wrap_outside(la, opts.a_to_b.as_ref(), mix(link_seed, 1), pcap.clone())?;
        let lb = wrap_outside(lb, opts.b_to_a.as_ref(), mix(link_seed, 2), None)?;
        self.hosts[a.0].link = Some(la);
        self.hosts[b.0].link = Some(lb);
        self.links.push(LinkRecord { a, b, pcap });
        Ok(LinkId(self.links.len() - 1))
    }

    /// The two hosts a link joins, `(a, b)`.
    pub fn link_ends(&self, link: LinkId) -> (HostId, HostId) {
        let l = &self.links[link.0];
        (l.a, l.b)
    }

    /// The pcap file recorded so far at `a`'s end of `link` (empty without
    /// [`LinkOptions::pcap`]).
    pub fn link_pcap_bytes(&self, link: LinkId) -> Vec<u8> {
        self.links[link.0]
            .pcap
            .as_ref()
            .map(SharedBuf::bytes)
            .unwrap_or_default()
    }

    /// Start recording `host`'s TCP events ([`EventKind::Tcp`]: state changes,
    /// retransmissions, timers, congestion window, RTT samples) with their virtual time; the
    /// harness drains the stack's event queue after every exchange so it never overflows.
    /// At most [`MAX_RECORDED_EVENTS`] are kept.
    pub fn record_events(&mut self, host: HostId) {
        let h = &mut self.hosts[host.0];
        h.stack.set_events(true);
        h.events.get_or_insert_with(Vec::new);
    }

    /// The TCP events recorded for `host` so far (empty without [`World::record_events`]).
    pub fn events(&self, host: HostId) -> &[Event] {
        self.hosts[host.0].events.as_deref().unwrap_or(&[])
    }

    /// TCP events of `host` not kept because [`MAX_RECORDED_EVENTS`] was reached, plus those
    /// the stack's own queue dropped.
    pub fn events_dropped(&self, host: HostId) -> u64 {
        let h = &self.hosts[host.0];
        h.events_dropped + h.stack.events_overflowed()
    }

    /// Move the clock forward to `t` without doing anything due on the way (callers step to
    /// the earliest of [`World::next_deadline`] and their own deadlines). Never moves it back.
    pub fn advance_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
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
                if let Some(events) = h.events.as_mut() {
                    while let Some(e) = h.stack.poll_event() {
                        if !matches!(e.kind, EventKind::Tcp(_)) {
                            continue;
                        }
                        if events.len() < MAX_RECORDED_EVENTS {
                            events.push(e);
                        } else {
                            h.events_dropped += 1;
                        }
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

/// `Pcap(Impair(link))`: the tap sits outside the impairment, so it records what the host
/// sent (lost frames included) and what it received, like tcpdump on the host.
fn wrap_outside(
    link: MemoryLink,
    impair: Option<&ImpairConfig>,
    seed: u64,
    pcap: Option<SharedBuf>,
) -> Result<Box<dyn Link>, String> {
    let inner: Box<dyn Link> = match impair {
        None => Box::new(link),
        Some(c) => {
            let mut c = c.clone();
            c.seed = seed;
            Box::new(Impair::new(link, c).map_err(|e| e.to_string())?)
        }
    };
    Ok(match pcap {
        Some(buf) => Box::new(Pcap::new(
            inner,
            PcapSink::new(buf).map_err(|e| e.to_string())?,
        )),
        None => inner,
    })
}

/// SplitMix64 of `a` and `b`: well-spread, deterministic seeds.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
