//! `tcplab host`: our stack as a host on the link. The stack itself answers ARP (RFC 826) and
//! echo requests (RFC 792); a thread serves UDP echo (RFC 862). Runs until Ctrl-C/SIGTERM or
//! `--duration`, then prints counters.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::HostArgs;
use crate::cmd::{link_counters, print_counters, stack_counters, stop_signal, wait_for_stop};
use crate::error::AppError;
use crate::net::UdpSocket;
use crate::setup;

/// Run `tcplab host`.
pub fn run(args: HostArgs) -> Result<i32, AppError> {
    let stop = stop_signal(args.duration)?;
    let rt = setup::start(&args.link, "host")?;
    let port = args.udp_echo;
    let sock = UdpSocket::bind(&rt, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .map_err(|e| AppError::io(format!("bind UDP port {port}"), e))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| AppError::io("set timeout", e))?;
    println!("ready");
    let _ = io::stdout().flush();

    let stopping = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let echo = {
        let (stopping, echoed) = (stopping.clone(), echoed.clone());
        std::thread::spawn(move || udp_echo(&sock, &stopping, &echoed))
    };
    let outcome = wait_for_stop(&stop, &rt);
    log::info!("host: stopping ({outcome:?})");
    stopping.store(true, Ordering::Relaxed);
    let _ = echo.join();
    let stats = rt.stats();
    let link = rt.shutdown();
    print_counters(
        "tcplab host counters",
        &[
            (
                "host",
                vec![("udp_echoed".to_string(), echoed.load(Ordering::Relaxed))],
            ),
            ("stack", stack_counters(&stats)),
            ("link", link_counters(&link)),
        ],
    );
    outcome.map(|_| 0)
}

/// RFC 862 over UDP: send each datagram back to its source.
pub fn udp_echo(sock: &UdpSocket, stopping: &AtomicBool, echoed: &AtomicU64) {
    let mut buf = vec![0u8; 65536];
    while !stopping.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match sock.send_to(&buf[..n], from) {
                Ok(_) => {
                    echoed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => log::debug!("udp echo to {from}: {e}"),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => log::debug!("udp echo: {e}"),
            Err(e) => {
                log::debug!("udp echo stops: {e}");
                return;
            }
        }
    }
}
