//! Whole-stack TCP simulations (issue #3, "Deterministic simulation"): two tcplab stacks over
//! the in-memory link with the seeded impairment layer (loss up to 10%, reordering,
//! duplication, corruption, delay, jitter) and a virtual clock.
//!
//! Small by default so CI stays fast; the full run is
//! `TCPLAB_SEEDS=200 TCPLAB_SIM_BYTES=10000000 cargo test --release -p tcplab-tests --test tcp_sim`.

use std::collections::HashMap;

use tcplab_stack::{
    ConnHandle, Duration, Ipv4Addr, ListenerHandle, SocketAddrV4, TcpError, TcpState,
};
use tcplab_tests::{HostId, Impairment, World};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
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

/// One application flow: the client on `b` connects to `a:port`, writes `data` and
/// half-closes; the server on `a` reads to end of stream, then closes.
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
    fn start(w: &mut World, b: HostId, port: u16, data: Vec<u8>) -> Flow {
        let now = w.now();
        let client = w
            .stack(b)
            .tcp_connect(now, SocketAddrV4::new(A, port))
            .unwrap();
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

    fn poll(&mut self, w: &mut World, a: HostId, b: HostId, l: Option<ListenerHandle>) {
        let now = w.now();
        if let (None, Some(l)) = (self.server, l) {
            self.server = w.stack(a).tcp_accept(l).ok();
        }
        while self.sent < self.data.len() && self.error.is_none() {
            match w
                .stack(b)
                .tcp_send(now, self.client, &self.data[self.sent..])
            {
                Ok(n) => self.sent += n,
                Err(TcpError::WouldBlock) => break,
                Err(e) => self.error = Some(e),
            }
        }
        if self.sent == self.data.len() && !self.shut && self.error.is_none() {
            if let Err(e) = w.stack(b).tcp_shutdown_write(now, self.client) {
                self.error = Some(e);
            }
            self.shut = true;
        }
        if let Some(s) = self.server {
            let mut buf = [0u8; 16384];
            while self.reading && !self.eof {
                match w.stack(a).tcp_recv(now, s, &mut buf) {
                    Ok(0) => {
                        self.eof = true;
                        w.stack(a).tcp_close(now, s);
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

fn listen(w: &mut World, a: HostId, backlog: usize) -> ListenerHandle {
    w.stack(a)
        .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), backlog)
        .unwrap()
}

/// The impairment for seed `seed`: loss cycles through 0, 1, 5 and 10%, always with delay,
/// jitter, reordering, duplication and corruption.
fn impairment(seed: u64) -> (String, Impairment) {
    let loss = [0, 1, 5, 10][seed as usize % 4];
    let spec = format!("loss={loss}%,delay=2ms,jitter=1ms,reorder=3%,dup=2%,corrupt=1%");
    let imp = Impairment::spec(&spec);
    (spec, imp)
}

/// Bulk transfers are byte-exact across seeds with loss up to 10%, reordering, duplication
/// and corruption, and both ends finish the close handshake.
#[test]
fn tcp_bulk_byte_exact_across_seeds() {
    let seeds = env("TCPLAB_SEEDS", 4);
    let bytes = env("TCPLAB_SIM_BYTES", 500_000) as usize;
    for seed in 0..seeds {
        let (spec, imp) = impairment(seed);
        let (mut w, a, b) = World::two_hosts(seed, imp);
        let l = listen(&mut w, a, 0);
        let data = pattern(bytes, seed);
        let mut f = Flow::start(&mut w, b, 80, data.clone());
        let ok = w.run_until(
            |w| {
                f.poll(w, a, b, Some(l));
                f.eof || f.error.is_some()
            },
            Duration::from_secs(3600),
        );
        assert!(
            ok && f.eof,
            "seed {seed} ({spec}): {:?}, got {} of {bytes}",
            f.error,
            f.got.len()
        );
        assert!(f.got == data, "seed {seed} ({spec}): byte-exact");
        let c = f.client;
        w.run_until(
            |w| {
                matches!(
                    w.stack(b).tcp_state(c),
                    Some(TcpState::TimeWait | TcpState::Closed)
                )
            },
            Duration::from_secs(600),
        );
        assert!(
            matches!(
                w.stack(b).tcp_state(c),
                Some(TcpState::TimeWait | TcpState::Closed)
            ),
            "seed {seed}: client finished its close, in {:?}",
            w.stack(b).tcp_state(c)
        );
    }
}

/// A zero receive window that reopens: the server stops reading, the client's window closes
/// and it probes; reading resumes and the transfer completes byte-exact.
#[test]
fn tcp_zero_window_reopens() {
    let mut w = World::new(11);
    let mut ca = w.host_config(1);
    ca.tcp.recv_buffer = 8 * 1024;
    let a = w.add_host(ca);
    let b = w.add_host_at(2);
    w.connect(a, b, Impairment::spec("delay=1ms"));
    let l = listen(&mut w, a, 0);
    let data = pattern(200_000, 11);
    let mut f = Flow::start(&mut w, b, 80, data.clone());
    f.reading = false;
    let closed = w.run_until(
        |w| {
            f.poll(w, a, b, Some(l));
            w.stack(b)
                .tcp_info(f.client)
                .is_some_and(|i| i.snd_wnd == 0 && i.bytes_acked > 0)
        },
        Duration::from_secs(30),
    );
    assert!(closed, "the window closed");
    w.run_for(Duration::from_secs(10));
    assert_eq!(w.stack(b).tcp_info(f.client).unwrap().snd_wnd, 0);
    assert!(f.error.is_none());
    f.reading = true;
    w.run_until(
        |w| {
            f.poll(w, a, b, Some(l));
            f.eof
        },
        Duration::from_secs(120),
    );
    assert!(f.got == data, "byte-exact after the window reopened");
}

/// Many parallel connections through one listener under mild impairment, each byte-exact.
#[test]
fn tcp_many_parallel_connections_through_one_listener() {
    let n = env("TCPLAB_SIM_CONNS", 60) as usize;
    let (mut w, a, b) = World::two_hosts(
        12,
        Impairment::spec("loss=1%,delay=1ms,jitter=500us,reorder=2%,dup=1%"),
    );
    let l = listen(&mut w, a, 256);
    let mut flows: Vec<Flow> = (0..n)
        .map(|i| Flow::start(&mut w, b, 80, pattern(20_000 + i * 101, i as u64)))
        .collect();
    let mut servers = HashMap::new();
    w.run_until(
        |w| {
            while let Ok(s) = w.stack(a).tcp_accept(l) {
                servers.insert(w.stack(a).tcp_info(s).unwrap().remote.unwrap().port(), s);
            }
            for f in flows.iter_mut() {
                if f.server.is_none() {
                    let port = w.stack(b).tcp_info(f.client).unwrap().local.unwrap().port();
                    f.server = servers.get(&port).copied();
                }
                f.poll(w, a, b, None);
            }
            flows.iter().all(|f| f.eof)
        },
        Duration::from_secs(600),
    );
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

/// Data both ways at once (an echo server) under impairment, then a graceful close.
#[test]
fn tcp_echo_both_directions() {
    let (mut w, a, b) =
        World::two_hosts(13, Impairment::spec("loss=3%,delay=2ms,reorder=3%,dup=1%"));
    let l = listen(&mut w, a, 0);
    let now = w.now();
    let c = w
        .stack(b)
        .tcp_connect(now, SocketAddrV4::new(A, 80))
        .unwrap();
    let data = pattern(300_000, 13);
    let (mut sent, mut echoed, mut back) = (0usize, Vec::<u8>::new(), Vec::<u8>::new());
    let mut s = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 8192];
    w.run_until(
        |w| {
            let now = w.now();
            if s.is_none() {
                s = w.stack(a).tcp_accept(l).ok();
            }
            if sent < data.len() {
                sent += w.stack(b).tcp_send(now, c, &data[sent..]).unwrap_or(0);
            }
            if let Some(s) = s {
                while let Ok(n) = w.stack(a).tcp_recv(now, s, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buf[..n]);
                }
                let n = w.stack(a).tcp_send(now, s, &pending).unwrap_or(0);
                echoed.extend(pending.drain(..n));
            }
            while let Ok(n) = w.stack(b).tcp_recv(now, c, &mut buf) {
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&buf[..n]);
            }
            back.len() == data.len()
        },
        Duration::from_secs(300),
    );
    assert!(
        back == data,
        "echoed byte-exact ({} of {})",
        back.len(),
        data.len()
    );
    let now = w.now();
    w.stack(b).tcp_close(now, c);
    let s = s.unwrap();
    w.run_until(
        |w| {
            let now = w.now();
            w.stack(a).tcp_recv(now, s, &mut [0u8; 1]) == Ok(0)
        },
        Duration::from_secs(30),
    );
    let now = w.now();
    w.stack(a).tcp_close(now, s);
    w.run_for(Duration::from_secs(120));
    assert_eq!(w.stack(a).tcp_state(s), None, "server connection released");
}

/// Same seed, same TCP run: byte-identical captures.
#[test]
fn tcp_same_seed_identical_capture() {
    let run = |seed: u64| {
        let (mut w, a, b) = World::two_hosts(
            seed,
            Impairment::spec("loss=5%,delay=1ms,jitter=1ms,reorder=5%,dup=2%"),
        );
        w.capture(a);
        w.capture(b);
        let l = listen(&mut w, a, 0);
        let mut f = Flow::start(&mut w, b, 80, pattern(100_000, 1));
        w.run_until(
            |w| {
                f.poll(w, a, b, Some(l));
                f.eof
            },
            Duration::from_secs(300),
        );
        assert!(f.eof);
        w.capture_digest()
    };
    assert_eq!(run(21), run(21));
    assert_ne!(run(21), run(22));
}
