//! The subcommands, one file each, plus what they share: stopping on a signal and printing
//! counters on exit.

pub mod connect;
pub mod get;
pub mod serve;

use std::sync::mpsc;
use std::time::Duration;

use tcplab_stack::Stats;

use crate::error::AppError;

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

/// Print counters on stdout, one `name value` per line, under a title; zero values are skipped.
pub fn print_counters(title: &str, groups: &[(&str, Vec<(String, u64)>)]) {
    println!("--- {title} ---");
    for (group, counters) in groups {
        for (name, value) in counters.iter().filter(|(_, v)| *v != 0) {
            println!("{group}.{name} {value}");
        }
    }
}

/// The stack's counters as `(name, value)` pairs.
pub fn stack_counters(stats: &Stats) -> Vec<(String, u64)> {
    let t = &stats.tcp;
    vec![
        ("tcp.segments_in".to_string(), t.segments_in),
        ("tcp.segments_out".to_string(), t.segments_out),
        ("tcp.resets_sent".to_string(), t.resets_sent),
    ]
}

/// The link's counters as `(name, value)` pairs.
pub fn link_counters(counters: &[(&'static str, u64)]) -> Vec<(String, u64)> {
    counters.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}
