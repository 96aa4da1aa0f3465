//! TCP through the whole stack (Ethernet, ARP, IPv4 with checksum verification, TCP): two
//! stacks over a simulated wire with a virtual clock, serialization delay, latency, and seeded
//! loss, duplication, reordering and bit corruption.
//!
//! Small by default; `TCPLAB_SEEDS=200 TCPLAB_SIM_BYTES=10000000` selects the full run (use
//! `--release`).

use tcplab_stack::{
    Config, ConnHandle, Duration, EthernetAddress, Instant, Ipv4Addr, ListenerHandle, SocketAddrV4,
    Stack, TcpError, TcpState,
};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn config(last: u8, addr: Ipv4Addr, seed: u64) -> Config {
    let mut c = Config::new(EthernetAddress([2, 0, 0, 0, 0, last]), addr, 24);
    c.seed = seed.wrapping_mul(31).wrapping_add(last as u64);
    c
}

/// Seeded impairment, in percent.
#[derive(Clone, Copy, Default, Debug)]
struct Impair {
    loss: f64,
    dup: f64,
    reorder: f64,
    corrupt: f64,
}

struct Frame {
    at: Instant,
    to_b: bool,
    bytes: Vec<u8>,
}

struct World {
    a: Stack,
    b: Stack,
    now: Instant,
    wire: Vec<Frame>,
    impair: Impair,
    latency: Duration,
    spacing: Duration,
    link_free: [Instant; 2],
    rng: u64,
    buf: Vec<u8>,
}

impl World {
    fn new(seed: u64, a: Config, b: Config) -> World {
        World {
            a: Stack::new(a).unwrap(),
            b: Stack::new(b).unwrap(),
            now: Instant::from_secs(1),
            wire: Vec::new(),
            impair: Impair::default(),
            latency: Duration::from_millis(5),
            spacing: Duration::from_micros(12),
            link_free: [Instant::ZERO; 2],
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            buf: vec![0u8; 14 + 1500],
        }
    }

    fn pair(seed: u64) -> World {
        World::new(seed, config(1, A, seed), config(2, B, seed))
    }

    fn rand(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }

    fn flush(&mut self) {
        for to_b in [true, false] {
            loop {
                let now = self.now;
                let s = if to_b { &mut self.a } else { &mut self.b };
                let Some(n) = s.poll_transmit(now, &mut self.buf) else {
                    break;
                };
                let mut bytes = self.buf[..n].to_vec();
                if self.rand() < self.impair.loss {
                    continue;
                }
                if self.rand() < self.impair.corrupt {
                    let bit = (self.rand() * 1e6) as usize % (bytes.len() * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                let d = to_b as usize;
                self.link_free[d] = self.link_free[d].max(now) + self.spacing;
                let mut at = self.link_free[d] + self.latency;
                if self.rand() < self.impair.reorder {
                    at += self.latency / 2;
                }
                if self.rand() < self.impair.dup {
                    self.wire.push(Frame {
                        at: at + self.spacing,
                        to_b,
                        bytes: bytes.clone(),
                    });
                }
                self.wire.push(Frame { at, to_b, bytes });
            }
        }
    }

    /// Deliver what is due, run timers, jump to the next event. False when all is quiet.
    fn step(&mut self) -> bool {
        self.flush();
        let next = self
            .wire
            .iter()
            .map(|f| f.at)
            .chain(self.a.poll_timeout())
            .chain(self.b.poll_timeout())
            .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        let now = self.now;
        let mut due: Vec<Frame> = Vec::new();
        let mut i = 0;
        while i < self.wire.len() {
            if self.wire[i].at <= now {
                due.push(self.wire.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|f| f.at);
        for f in due {
            if f.to_b {
                self.b.handle_frame(now, &f.bytes);
            } else {
                self.a.handle_frame(now, &f.bytes);
            }
        }
        if self.a.poll_timeout().is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if self.b.poll_timeout().is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
        true
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut World) -> bool) -> bool {
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
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
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

/// One application flow: `b` connects to `a:port`, sends `data`, half-closes; `a` reads to EOF
/// and closes.
struct Flow {
    client: ConnHandle,
    server: Option<ConnHandle>,
    data: Vec<u8>,
    sent: usize,
    got: Vec<u8>,
    eof: bool,
    shut: bool,
    reading: bool,
    error: Option<TcpError>,
}

impl Flow {
    fn start(w: &mut World, port: u16, data: Vec<u8>) -> Flow {
        let client = w.b.tcp_connect(w.now, SocketAddrV4::new(A, port)).unwrap();
        Flow {
            client,
            server: None,
            data,
            sent: 0,
            got: Vec::new(),
            eof: false,
            shut: false,
            reading: true,
            error: None,
        }
    }

    fn poll(&mut self, w: &mut World, l: Option<ListenerHandle>) {
        let now = w.now;
        if let (None, Some(l)) = (self.server, l) {
            self.server = w.a.tcp_accept(l).ok();
        }
        while self.sent < self.data.len() && self.error.is_none() {
            match w.b.tcp_send(now, self.client, &self.data[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(TcpError::WouldBlock) => break,
                Err(e) => self.error = Some(e),
            }
        }
        if self.sent == self.data.len() && !self.shut && self.error.is_none() {
            if let Err(e) = w.b.tcp_shutdown_write(now, self.client) {
                self.error = Some(e);
            }
            self.shut = true;
        }
        if let Some(s) = self.server {
            let mut buf = [0u8; 16384];
            while self.reading && !self.eof {
                match w.a.tcp_recv(now, s, &mut buf) {
                    Ok(0) => {
                        self.eof = true;
                        w.a.tcp_close(now, s);
                    }
                    Ok(n) => self.got.extend_from_slice(&buf[..n]),
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => {
                        self.error = Some(e);
                        break;
                    }
                }
            }
        }
    }
}

fn transfer(w: &mut World, data: Vec<u8>, limit: Duration) -> Flow {
    let l =
        w.a.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 0)
            .unwrap();
    let mut f = Flow::start(w, 80, data);
    w.run_until(limit, |w| {
        f.poll(w, Some(l));
        f.eof || f.error.is_some()
    });
    f
}

/// Bulk transfers through the full stack are byte-exact under loss up to 10%, duplication,
/// reordering and bit corruption (caught by the IPv4/TCP checksums), across seeds.
#[test]
fn full_stack_bulk_byte_exact_under_impairment() {
    let seeds = env("TCPLAB_SEEDS", 4);
    let bytes = env("TCPLAB_SIM_BYTES", 300_000) as usize;
    for seed in 0..seeds {
        let mut w = World::pair(seed);
        let loss = [0.0, 1.0, 5.0, 10.0][seed as usize % 4];
        w.impair = Impair {
            loss,
            dup: 1.0,
            reorder: 2.0,
            corrupt: 1.0,
        };
        let data = pattern(bytes, seed);
        let f = transfer(&mut w, data.clone(), Duration::from_secs(3600));
        assert!(
            f.eof,
            "seed {seed} loss {loss}%: finished ({:?}, got {} of {})",
            f.error,
            f.got.len(),
            bytes
        );
        assert!(f.got == data, "seed {seed}: byte-exact");
        // The client side finishes its close too.
        w.run_until(Duration::from_secs(300), |w| {
            matches!(
                w.b.tcp_state(f.client),
                Some(TcpState::TimeWait | TcpState::Closed)
            )
        });
        assert!(
            matches!(
                w.b.tcp_state(f.client),
                Some(TcpState::TimeWait | TcpState::Closed)
            ),
            "seed {seed}"
        );
        if w.impair.corrupt > 0.0 && bytes >= 100_000 {
            let s = w.a.stats();
            assert!(
                s.tcp_input != Default::default() || s.ipv4 != Default::default(),
                "corruption was seen and counted somewhere"
            );
        }
    }
}

/// A receive window of zero that reopens: the server stops reading until its buffer is full,
/// the client probes, then reading resumes and everything arrives.
#[test]
fn full_stack_zero_window_reopens() {
    let mut ca = config(1, A, 9);
    ca.tcp.recv_buffer = 8 * 1024;
    let mut w = World::new(9, ca, config(2, B, 9));
    let l =
        w.a.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 0)
            .unwrap();
    let data = pattern(100_000, 9);
    let mut f = Flow::start(&mut w, 80, data.clone());
    f.reading = false;
    w.run_until(Duration::from_secs(30), |w| {
        f.poll(w, Some(l));
        w.b.tcp_info(f.client)
            .is_some_and(|i| i.snd_wnd == 0 && i.bytes_acked > 0)
    });
    assert_eq!(w.b.tcp_info(f.client).unwrap().snd_wnd, 0, "window closed");
    w.run_until(Duration::from_secs(10), |w| {
        f.poll(w, Some(l));
        false
    });
    assert_eq!(w.b.tcp_state(f.client), Some(TcpState::FinWait1));
    f.reading = true;
    w.run_until(Duration::from_secs(120), |w| {
        f.poll(w, Some(l));
        f.eof
    });
    assert!(f.got == data);
}

/// Many connections through one listener in parallel, each byte-exact.
#[test]
fn full_stack_many_parallel_connections() {
    let n = env("TCPLAB_SIM_CONNS", 50) as usize;
    let mut w = World::pair(3);
    w.impair = Impair {
        loss: 1.0,
        dup: 0.5,
        reorder: 1.0,
        corrupt: 0.5,
    };
    let l =
        w.a.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 256)
            .unwrap();
    let mut flows: Vec<Flow> = (0..n)
        .map(|i| Flow::start(&mut w, 80, pattern(10_000 + i * 37, i as u64)))
        .collect();
    let mut servers = std::collections::HashMap::new();
    w.run_until(Duration::from_secs(300), |w| {
        while let Ok(s) = w.a.tcp_accept(l) {
            servers.insert(w.a.tcp_info(s).unwrap().remote.unwrap().port(), s);
        }
        for f in flows.iter_mut() {
            if f.server.is_none() {
                let port = w.b.tcp_info(f.client).unwrap().local.unwrap().port();
                f.server = servers.get(&port).copied();
            }
            f.poll(w, None);
        }
        flows.iter().all(|f| f.eof)
    });
    for (i, f) in flows.iter().enumerate() {
        assert!(
            f.eof && f.got == f.data,
            "flow {i}: {:?}, {} of {}",
            f.error,
            f.got.len(),
            f.data.len()
        );
    }
}

/// RFC 9293 §3.10.7.1 through the stack: connecting to a port nobody listens on is refused
/// within one round trip (after ARP).
#[test]
fn full_stack_connect_to_closed_port_is_refused_quickly() {
    let mut w = World::pair(4);
    let c = w.b.tcp_connect(w.now, SocketAddrV4::new(A, 9)).unwrap();
    let start = w.now;
    let mut err = None;
    w.run_until(Duration::from_secs(10), |w| {
        err =
            w.b.tcp_recv(w.now, c, &mut [0u8; 1])
                .err()
                .filter(|e| *e != TcpError::WouldBlock);
        err.is_some()
    });
    assert_eq!(err, Some(TcpError::ConnectionRefused));
    assert!(
        w.now - start < Duration::from_millis(100),
        "{:?}",
        w.now - start
    );
}
