//! The kernel side of a bulk TCP benchmark, run inside the benchmark's namespace with
//! `ip netns exec`: connects to the stack under test and either reads (`recv`) or writes
//! (`send`) a fixed number of bytes, then prints one line `bytes=N secs=S gbps=G`.
//!
//! Timing starts once the connection is established and ends when the last byte was read
//! (`recv`), or when the peer has closed after our half-close (`send`: every byte was
//! delivered to, and consumed by, the application on the other side).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// Read BYTES from the server (the stack under test sends: e.g. chargen).
    Recv,
    /// Write BYTES to the server, half-close, wait for its close (e.g. discard).
    Send,
}

#[derive(Parser, Debug)]
#[command(about = "kernel-side bulk TCP peer for scripts/bench.sh")]
struct Args {
    mode: Mode,
    /// Server address, e.g. 198.18.10.2:5001.
    addr: SocketAddr,
    /// Bytes to transfer.
    bytes: u64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 10)]
    connect_timeout: u64,
}

fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() < deadline => {
                eprintln!("tl-bench-peer: connect: {e}; retrying");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
}

fn run(args: &Args) -> std::io::Result<(u64, Duration)> {
    let mut s = connect(args.addr, Duration::from_secs(args.connect_timeout))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = vec![0u8; 256 * 1024];
    let start = Instant::now();
    let mut done = 0u64;
    match args.mode {
        Mode::Recv => {
            while done < args.bytes {
                let want = buf.len().min((args.bytes - done) as usize);
                let n = s.read(&mut buf[..want])?;
                if n == 0 {
                    break;
                }
                done += n as u64;
            }
        }
        Mode::Send => {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            while done < args.bytes {
                let n = buf.len().min((args.bytes - done) as usize);
                s.write_all(&buf[..n])?;
                done += n as u64;
            }
            s.shutdown(Shutdown::Write)?;
            // Wait for the server's FIN: it has read everything.
            while s.read(&mut buf)? > 0 {}
        }
    }
    Ok((done, start.elapsed()))
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok((bytes, t)) if bytes == args.bytes => {
            let secs = t.as_secs_f64();
            println!(
                "bytes={bytes} secs={secs:.4} gbps={:.4}",
                bytes as f64 * 8.0 / secs / 1e9
            );
        }
        Ok((bytes, _)) => {
            eprintln!(
                "tl-bench-peer: error: connection ended after {bytes} of {} bytes",
                args.bytes
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("tl-bench-peer: error: {e}");
            std::process::exit(1);
        }
    }
}
