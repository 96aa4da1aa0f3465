//! `tcplab ping DEST`: ICMP echo (RFC 792) from our stack, printed like iputils ping.

use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tcplab_stack::icmp::PingEvent;

use crate::cli::PingArgs;
use crate::cmd::stop_signal;
use crate::error::AppError;
use crate::net::ping;
use crate::setup;

/// How often a wait for replies checks for Ctrl-C.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Round-trip statistics in milliseconds, as iputils prints them.
#[derive(Debug, Default, Clone)]
pub struct RttStats {
    rtts_ms: Vec<f64>,
}

impl RttStats {
    /// Add one round-trip time.
    pub fn add(&mut self, rtt: Duration) {
        self.rtts_ms.push(rtt.as_secs_f64() * 1000.0);
    }

    /// `rtt min/avg/max/mdev = ...` or `None` without replies. mdev is the standard deviation
    /// (`sqrt(E[x²] - E[x]²)`), as iputils computes it.
    pub fn summary(&self) -> Option<String> {
        if self.rtts_ms.is_empty() {
            return None;
        }
        let n = self.rtts_ms.len() as f64;
        let min = self.rtts_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.rtts_ms.iter().copied().fold(0.0, f64::max);
        let avg = self.rtts_ms.iter().sum::<f64>() / n;
        let sq = self.rtts_ms.iter().map(|x| x * x).sum::<f64>() / n;
        let mdev = (sq - avg * avg).max(0.0).sqrt();
        Some(format!(
            "rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms"
        ))
    }
}

/// iputils' `time=` format: three significant decimals below 1 ms, fewer above.
pub fn format_rtt(rtt: Duration) -> String {
    let us = rtt.as_micros();
    if us >= 100_000 {
        format!("{}", us / 1000)
    } else if us >= 10_000 {
        format!("{}.{}", us / 1000, (us % 1000) / 100)
    } else if us >= 1000 {
        format!("{}.{:02}", us / 1000, (us % 1000) / 10)
    } else {
        format!("{}.{:03}", us / 1000, us % 1000)
    }
}

/// The statistics line: `4 packets transmitted, 4 received, 0% packet loss, time 3004ms`.
pub fn totals_line(sent: u32, received: u32, errors: u32, elapsed: Duration) -> String {
    let loss = if sent == 0 {
        0.0
    } else {
        f64::from(sent - received.min(sent)) * 100.0 / f64::from(sent)
    };
    let errors = if errors > 0 {
        format!(", +{errors} errors")
    } else {
        String::new()
    };
    format!(
        "{sent} packets transmitted, {received} received{errors}, {}% packet loss, time {}ms",
        format_g(loss),
        elapsed.as_millis()
    )
}

/// C's `%g` for a percentage: integers without decimals, otherwise up to 6 significant digits.
fn format_g(v: f64) -> String {
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let decimals = (5 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Run `tcplab ping`.
pub fn run(args: PingArgs) -> Result<i32, AppError> {
    let rt = setup::start(&args.link, "ping")?;
    let dst: Ipv4Addr = args.dest;
    let size = usize::from(args.size);
    let interval = Duration::from_secs_f64(args.interval);
    let wait_last = Duration::from_secs_f64(args.timeout);
    let ident = (std::process::id() & 0xffff) as u16;
    println!("PING {dst} ({dst}) {size}({}) bytes of data.", size + 28);
    let _ = std::io::stdout().flush();

    let (mut sent, mut received, mut errors) = (0u32, 0u32, 0u32);
    let mut rtts = RttStats::default();
    // Ctrl-C ends early with the statistics, as iputils does.
    let stop = stop_signal(None)?;
    let start = Instant::now();
    let mut last_send = start;
    'sending: for i in 0..args.count {
        let seq = (i + 1) as u16;
        last_send = Instant::now();
        ping::send(&rt, dst, ident, seq, size).map_err(|e| AppError::io("ping: sendmsg", e))?;
        sent += 1;
        let is_last = i + 1 == args.count;
        let until = last_send + if is_last { wait_last } else { interval };
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || (is_last && received + errors >= sent) {
                break;
            }
            if stop.try_recv().is_ok() {
                break 'sending;
            }
            let Some(ev) = ping::next_result(&rt, ident, left.min(STOP_CHECK))
                .map_err(|e| AppError::io("ping", e))?
            else {
                continue;
            };
            match ev {
                PingEvent::Reply {
                    from,
                    seq,
                    ttl,
                    bytes,
                    rtt,
                    ..
                } => {
                    received += 1;
                    rtts.add(rtt);
                    println!(
                        "{bytes} bytes from {from}: icmp_seq={seq} ttl={ttl} time={} ms",
                        format_rtt(rtt)
                    );
                }
                PingEvent::Error {
                    from, seq, kind, ..
                } => {
                    errors += 1;
                    println!("From {from} icmp_seq={seq} {kind}");
                }
            }
            let _ = std::io::stdout().flush();
        }
    }
    // iputils reports the time from the first to the last transmission.
    let elapsed = last_send.duration_since(start);
    println!();
    println!("--- {dst} ping statistics ---");
    println!("{}", totals_line(sent, received, errors, elapsed));
    if let Some(line) = rtts.summary() {
        println!("{line}");
    }
    drop(rt);
    Ok(if received > 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_format_matches_iputils() {
        assert_eq!(format_rtt(Duration::from_micros(412)), "0.412");
        assert_eq!(format_rtt(Duration::from_micros(1234)), "1.23");
        assert_eq!(format_rtt(Duration::from_micros(12_345)), "12.3");
        assert_eq!(format_rtt(Duration::from_micros(123_456)), "123");
    }

    #[test]
    fn totals_and_rtt_summary() {
        let d = Duration::from_millis(3004);
        assert_eq!(
            totals_line(4, 4, 0, d),
            "4 packets transmitted, 4 received, 0% packet loss, time 3004ms"
        );
        assert_eq!(
            totals_line(3, 2, 0, d),
            "3 packets transmitted, 2 received, 33.3333% packet loss, time 3004ms"
        );
        assert_eq!(
            totals_line(4, 0, 4, d),
            "4 packets transmitted, 0 received, +4 errors, 100% packet loss, time 3004ms"
        );
        let mut s = RttStats::default();
        assert_eq!(s.summary(), None);
        for us in [300, 500, 400, 400] {
            s.add(Duration::from_micros(us));
        }
        assert_eq!(
            s.summary().unwrap(),
            "rtt min/avg/max/mdev = 0.300/0.400/0.500/0.071 ms"
        );
    }
}
