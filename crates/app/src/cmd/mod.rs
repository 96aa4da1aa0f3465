//! The subcommands, one file each, plus what they share: stopping on a signal and printing
//! counters on exit.

pub mod connect;
pub mod demo;
pub mod get;
pub mod host;
pub mod ping;
pub mod plot;
pub mod serve;
pub mod sim;

use std::sync::mpsc;
use std::time::Duration;

use tcplab_stack::Stats;

use crate::error::AppError;
use crate::runtime::Handle;

/// A channel that receives a message on SIGINT/SIGTERM/SIGHUP, or after `duration` seconds.
pub fn stop_signal(duration: Option<f64>) -> Result<mpsc::Receiver<&'static str>, AppError> {
    let (tx, rx) = mpsc::channel();
    let on_signal = tx.clone();
    ctrlc::set_handler(move || {
        let _ = on_signal.send("signal");
    })
    .map_err(|e| AppError::Failed(format!("cannot install the signal handler: {e}")))?;
    if let Some(secs) = duration {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(secs));
            let _ = tx.send("duration elapsed");
        });
    }
    Ok(rx)
}

/// Wait for a stop request (signal or duration), or for the runtime to stop by itself (its
/// link failed), which is an error.
pub fn wait_for_stop(
    stop: &mpsc::Receiver<&'static str>,
    rt: &Handle,
) -> Result<&'static str, AppError> {
    loop {
        match stop.recv_timeout(Duration::from_millis(200)) {
            Ok(why) => return Ok(why),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok("stop channel closed"),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(why) = rt.stopped() {
                    return Err(AppError::Failed(why));
                }
            }
        }
    }
}

/// Print counters on stdout, one `name value` per line, under a title; zero values are skipped.
pub fn print_counters(title: &str, groups: &[(&str, Vec<(String, u64)>)]) {
    println!("--- {title} ---");
    for (group, counters) in groups {
        for (name, value) in counters.iter().filter(|(_, v)| *v != 0) {
            println!("{group}.{name} {value}");
        }
    }
}

/// The stack's counters as `(name, value)` pairs: every foundation layer's, then TCP's.
pub fn stack_counters(stats: &Stats) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = stats.iter().collect();
    v.extend(stats.tcp.iter().map(|(n, c)| (format!("tcp.{n}"), c)));
    v
}

/// The link's counters as `(name, value)` pairs.
pub fn link_counters(counters: &[(&'static str, u64)]) -> Vec<(String, u64)> {
    counters.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}
