//! The smoltcp 0.14 baseline for `scripts/bench.sh`: smoltcp's own `Interface` and
//! `tcp::Socket` over smoltcp's own TAP device (`phy::TunTapInterface`), serving one bulk TCP
//! connection at a time, as RFC 864 chargen (we send) or RFC 863 discard (we receive).
//!
//! Configuration (see benches/README.md): CUBIC congestion control (feature
//! `socket-tcp-cubic`, smoltcp's default controller when enabled), send and receive buffers of
//! the same size as tcplab's defaults (`TcpConfig::send_buffer`/`recv_buffer`, 256 KiB), all
//! other socket settings at smoltcp's defaults (Nagle on, delayed ACK 10 ms, window scaling
//! derived from the buffer size). The event loop sleeps in `select` on the TAP fd until the
//! interface's next deadline, like smoltcp's own `benchmark` example.

use std::os::fd::AsRawFd;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use clap::{Parser, ValueEnum};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{wait as phy_wait, Medium, TunTapInterface};
use smoltcp::socket::tcp::{self, CongestionControl, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Mode {
    /// RFC 864: send an endless stream to each client.
    Chargen,
    /// RFC 863: read and drop everything; close after the client's FIN.
    Discard,
}

#[derive(Parser, Debug)]
#[command(about = "smoltcp 0.14 bulk TCP server over its own TAP device (benchmark baseline)")]
struct Args {
    mode: Mode,
    /// TAP device to attach to (created by the caller inside a namespace).
    #[arg(long)]
    tap: String,
    /// Our address and prefix, e.g. 198.18.10.2/24.
    #[arg(long)]
    addr: String,
    #[arg(long, default_value_t = 5001)]
    port: u16,
    /// Send and receive buffer size per socket, bytes (tcplab's default: 256 KiB).
    #[arg(long, default_value_t = 256 * 1024)]
    buffer: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600)]
    duration: u64,
}

fn parse_cidr(s: &str) -> Result<(Ipv4Address, u8), String> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| format!("bad address {s:?}: expected A.B.C.D/P"))?;
    let addr: Ipv4Address = a.parse().map_err(|_| format!("bad address {a:?}"))?;
    let prefix: u8 = p.parse().map_err(|_| format!("bad prefix {p:?}"))?;
    Ok((addr, prefix))
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tl-smoltcp-tap: error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let (addr, prefix) = parse_cidr(&args.addr)?;
    let mut device = TunTapInterface::new(&args.tap, Medium::Ethernet)
        .map_err(|e| format!("open TAP {}: {e}", args.tap))?;
    let fd = device.as_raw_fd();
    let o = addr.octets();
    let mac = EthernetAddress([0x02, 0x53, o[0], o[1], o[2], o[3]]);
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = 1;
    let mut iface = Interface::new(config, &mut device, Instant::now());
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(addr.into(), prefix))
            .expect("one address fits");
    });

    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; args.buffer]),
        tcp::SocketBuffer::new(vec![0; args.buffer]),
    );
    socket.set_congestion_control(CongestionControl::Cubic);
    let mut sockets = SocketSet::new(vec![]);
    let h = sockets.add(socket);

    let pattern: Vec<u8> = (0..64 * 1024).map(|i| b' ' + (i % 95) as u8).collect();
    let mut offset = 0usize;
    let stop = StdInstant::now() + StdDuration::from_secs(args.duration);
    let mut announced = false;
    let mut bytes = 0u64;
    let mut conns = 0u64;
    let mut was_open = false;

    while StdInstant::now() < stop {
        let now = Instant::now();
        iface.poll(now, &mut device, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(h);
        if !s.is_open() {
            if was_open {
                conns += 1;
            }
            s.listen(args.port).map_err(|e| format!("listen: {e}"))?;
            s.set_congestion_control(CongestionControl::Cubic);
            if !announced {
                println!("ready");
                announced = true;
            }
        }
        was_open = s.is_open() && s.state() != State::Listen;
        match args.mode {
            Mode::Chargen => {
                if s.state() == State::Established {
                    while s.can_send() {
                        let n = s
                            .send(|buf| {
                                let mut n = 0;
                                while n < buf.len() {
                                    let k = (buf.len() - n).min(pattern.len() - offset);
                                    buf[n..n + k].copy_from_slice(&pattern[offset..offset + k]);
                                    n += k;
                                    offset = (offset + k) % pattern.len();
                                }
                                (n, n)
                            })
                            .unwrap_or(0);
                        bytes += n as u64;
                        if n == 0 {
                            break;
                        }
                    }
                }
                // The client closed (FIN, RFC 864: it ends the stream): close our side.
                if s.state() == State::CloseWait {
                    s.abort();
                }
            }
            Mode::Discard => {
                while s.can_recv() {
                    let n = s.recv(|buf| (buf.len(), buf.len())).unwrap_or(0);
                    bytes += n as u64;
                    if n == 0 {
                        break;
                    }
                }
                if s.state() == State::CloseWait && !s.can_recv() {
                    s.close();
                }
            }
        }
        let now = Instant::now();
        let delay = match iface.poll_delay(now, &sockets) {
            Some(d) if d == Duration::ZERO => continue,
            Some(d) => Some(d.min(Duration::from_millis(100))),
            None => Some(Duration::from_millis(100)),
        };
        phy_wait(fd, delay).map_err(|e| format!("wait: {e}"))?;
    }
    eprintln!("tl-smoltcp-tap: {conns} connections, {bytes} bytes");
    Ok(())
}
