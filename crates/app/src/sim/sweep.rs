//! `--seeds A..B`: the same scenario under many seeds, each run into `DIR/seed-N/`, and the
//! median of every flow metric over the seeds in `DIR/sweep.txt` and `DIR/sweep.json`.

use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::path::Path;

use serde::Serialize;
use tcplab_sim::report::{r6, Summary};
use tcplab_sim::Scenario;

use crate::error::AppError;

/// Medians of one flow over the seeds (`None` when no seed produced the metric).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowMedians {
    /// The flow's label.
    pub label: String,
    /// Seeds run.
    pub runs: u64,
    /// Seeds in which the flow completed.
    pub completed: u64,
    /// Median completion time over the seeds where it completed, seconds.
    pub completion_time_s: Option<f64>,
    /// Median goodput over the seeds where it completed, Mbit/s.
    pub goodput_mbps: Option<f64>,
    /// Median retransmitted segments.
    pub retransmitted_segments: Option<f64>,
    /// Median retransmitted bytes.
    pub retransmitted_bytes: Option<f64>,
    /// Median fast retransmits.
    pub fast_retransmits: Option<f64>,
    /// Median RTO expirations.
    pub rto_count: Option<f64>,
    /// Median largest cwnd, bytes.
    pub max_cwnd: Option<f64>,
    /// Spurious retransmissions are not measured (`null`, printed `n/a`).
    pub spurious_retransmissions: Option<f64>,
}

/// `sweep.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sweep {
    /// Scenario name.
    pub scenario: String,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// Per flow, in file order.
    pub flows: Vec<FlowMedians>,
}

/// The median of `xs` (mean of the middle two for an even count); `None` when empty.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(r6(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }))
}

/// Medians of the runs' summaries, flow by flow.
pub fn medians(scenario: &str, seeds: Vec<u64>, runs: &[Summary]) -> Sweep {
    let nflows = runs.first().map_or(0, |r| r.flows.len());
    let flows = (0..nflows)
        .map(|i| {
            let fs: Vec<_> = runs.iter().map(|r| &r.flows[i]).collect();
            let done: Vec<_> = fs.iter().filter(|f| f.completed).collect();
            let all = |g: &dyn Fn(&tcplab_sim::report::FlowResult) -> f64| {
                median(fs.iter().map(|f| g(f)).collect())
            };
            FlowMedians {
                label: fs[0].label.clone(),
                runs: fs.len() as u64,
                completed: done.len() as u64,
                completion_time_s: median(
                    done.iter().filter_map(|f| f.completion_time_s).collect(),
                ),
                goodput_mbps: median(done.iter().filter_map(|f| f.goodput_mbps).collect()),
                retransmitted_segments: all(&|f| f.retransmitted_segments as f64),
                retransmitted_bytes: all(&|f| f.retransmitted_bytes as f64),
                fast_retransmits: all(&|f| f.fast_retransmits as f64),
                rto_count: all(&|f| f.rto_count as f64),
                max_cwnd: all(&|f| f.max_cwnd as f64),
                spurious_retransmissions: None,
            }
        })
        .collect();
    Sweep {
        scenario: scenario.to_string(),
        seeds,
        flows,
    }
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

/// The sweep as one screen of text.
pub fn sweep_text(s: &Sweep) -> String {
    let mut t = String::new();
    let (first, last) = (
        s.seeds.first().copied().unwrap_or(0),
        s.seeds.last().copied().unwrap_or(0),
    );
    let _ = writeln!(
        t,
        "scenario {}  seeds {first}..{last} ({} runs): medians per flow",
        s.scenario,
        s.seeds.len()
    );
    let _ = writeln!(
        t,
        "{:<18} {:>6} {:>9} {:>10} {:>9} {:>10} {:>8} {:>5} {:>4} {:>9}",
        "flow",
        "done",
        "time s",
        "Mbit/s",
        "retx seg",
        "retx bytes",
        "spurious",
        "RTOs",
        "FR",
        "max cwnd"
    );
    for f in &s.flows {
        let _ = writeln!(
            t,
            "{:<18} {:>6} {:>9} {:>10} {:>9} {:>10} {:>8} {:>5} {:>4} {:>9}",
            f.label,
            format!("{}/{}", f.completed, f.runs),
            opt(f.completion_time_s, 3),
            opt(f.goodput_mbps, 3),
            opt(f.retransmitted_segments, 1),
            opt(f.retransmitted_bytes, 0),
            "n/a",
            opt(f.rto_count, 1),
            opt(f.fast_retransmits, 1),
            opt(f.max_cwnd, 0),
        );
    }
    t
}

/// Run every seed of `seeds` into `dir/seed-N/`, write `sweep.json` and `sweep.txt` into
/// `dir`, and return the text.
pub fn run(
    scenario: &Scenario,
    seeds: RangeInclusive<u64>,
    dir: &Path,
) -> Result<String, AppError> {
    let mut runs = Vec::new();
    let mut list = Vec::new();
    for seed in seeds {
        runs.push(super::run_one(
            scenario,
            seed,
            &dir.join(format!("seed-{seed}")),
        )?);
        list.push(seed);
    }
    let sweep = medians(&scenario.name, list, &runs);
    let json = serde_json::to_string_pretty(&sweep)
        .map_err(|e| AppError::Failed(format!("sweep.json: {e}")))?;
    let text = sweep_text(&sweep);
    for (name, body) in [
        ("sweep.json", format!("{json}\n")),
        ("sweep.txt", text.clone()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body)
            .map_err(|e| AppError::io(format!("write {}", path.display()), e))?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
