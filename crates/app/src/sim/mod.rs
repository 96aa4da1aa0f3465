//! `tcplab sim`: run a scenario file ([`tcplab_sim::Scenario`]) with the scenario engine
//! ([`tcplab_sim::run`]) and write what it found into one directory:
//!
//! | file | what |
//! |---|---|
//! | `summary.txt` | one screen: per flow goodput, completion time, retransmissions, RTOs, max cwnd (also printed) |
//! | `summary.json` | every metric, stable key order, virtual times only |
//! | `link-<a>-<b>.pcap` | each link, captured at host `a` (open with `tshark -r`) |
//! | `<flow>-{tseq,cwnd,rtt,goodput}.svg` | graphs per flow, when the `graph` module is built in |
//! | `index.html` | the scenario's comment block, the summary table and the graphs; no JavaScript |
//!
//! Everything is a pure function of the scenario and the seed: the same inputs give
//! byte-identical files. `--seeds A..B` runs each seed into `seed-N/` and writes the medians
//! per flow metric ([`sweep`]).

mod graphs;
mod output;
pub mod sweep;

use std::path::{Path, PathBuf};

use tcplab_sim::report::Summary;
use tcplab_sim::Scenario;

use crate::cli::SimArgs;
use crate::error::AppError;

pub use output::{summary_text, write_outputs};

/// Run `tcplab sim` with its parsed arguments.
pub fn run(args: &SimArgs) -> Result<i32, AppError> {
    let scenario = Scenario::load(&args.scenario)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("sim-out").join(&scenario.name));
    if let Some(range) = args.seeds {
        let text = sweep::run(&scenario, range.first..=range.last, &out)?;
        print!("{text}");
        println!("wrote {}", out.display());
        return Ok(0);
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let summary = run_one(&scenario, seed, &out)?;
    print!("{}", summary_text(&summary));
    println!("wrote {}", out.display());
    Ok(0)
}

/// Run `scenario` with `seed` and write every output file into `dir` (created if needed).
pub fn run_one(scenario: &Scenario, seed: u64, dir: &Path) -> Result<Summary, AppError> {
    let output = tcplab_sim::run(scenario, seed)?;
    write_outputs(scenario, &output, dir)?;
    Ok(output.summary)
}
