//! Golden tests of the shipped scenarios (`scenarios/*.toml`): for its own seed, each
//! scenario's `summary.json` and the SHA-256 of each of its pcaps equal what is stored in
//! `tests/golden/<name>.json`; and two runs give byte-identical output directories.
//!
//! When TCP behaviour changes on purpose, re-bless (rewrites every golden file, then review
//! the diff with `git diff crates/app/tests/golden`):
//!
//! ```sh
//! TCPLAB_BLESS=1 cargo test -p tcplab --test sim_golden
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tcplab_sim::Scenario;

const BLESS: &str = "TCPLAB_BLESS=1 cargo test -p tcplab --test sim_golden";

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sim-golden-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn scenario_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Every file of `dir` (not recursive) with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("output dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&p).expect("read output"))
        })
        .collect()
}

/// What is compared with the golden file: the summary and a hash per pcap.
fn observed(dir: &Path) -> Value {
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let pcaps: BTreeMap<String, String> = files(dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".pcap"))
        .map(|(n, b)| (n, format!("{:x}", Sha256::digest(&b))))
        .collect();
    json!({ "summary": summary, "pcap_sha256": pcaps })
}

#[test]
fn shipped_scenarios_match_their_golden_files() {
    let bless = std::env::var_os("TCPLAB_BLESS").is_some();
    let mut failures = Vec::new();
    let list = scenario_files();
    assert!(
        list.len() >= 8,
        "expected the 8 teaching scenarios, found {list:?}"
    );
    for path in list {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let dir = scratch(&scenario.name);
        tcplab::sim::run_one(&scenario, scenario.seed, &dir)
            .unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
        let got = observed(&dir);
        let summary = &got["summary"];
        assert_eq!(
            summary["all_completed"], true,
            "{}: a flow did not complete: {summary:#}",
            scenario.name
        );
        let golden = golden_dir().join(format!("{}.json", scenario.name));
        if bless {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&golden, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let want: Option<Value> = std::fs::read(&golden)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        match want {
            None => failures.push(format!(
                "{}: no golden file {}",
                scenario.name,
                golden.display()
            )),
            Some(w) if w != got => failures.push(format!(
                "{}: output differs from {}\n--- expected\n{}\n--- got\n{}",
                scenario.name,
                golden.display(),
                serde_json::to_string_pretty(&w).unwrap(),
                serde_json::to_string_pretty(&got).unwrap()
            )),
            Some(_) => {}
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf TCP behaviour changed on purpose, re-bless with:\n  {BLESS}\nand review `git diff crates/app/tests/golden`.",
        failures.join("\n\n")
    );
}

#[test]
fn two_runs_give_byte_identical_files() {
    for name in ["loss_fast_retransmit", "nagle_delayed_ack"] {
        let scenario = Scenario::load(&scenarios_dir().join(format!("{name}.toml"))).unwrap();
        let (d1, d2) = (scratch(&format!("{name}-1")), scratch(&format!("{name}-2")));
        tcplab::sim::run_one(&scenario, scenario.seed, &d1).unwrap();
        tcplab::sim::run_one(&scenario, scenario.seed, &d2).unwrap();
        let (f1, f2) = (files(&d1), files(&d2));
        assert!(f1.contains_key("index.html") && f1.contains_key("summary.txt"));
        assert!(
            f1.keys().any(|k| k.ends_with("tseq.svg")),
            "{name}: graphs drawn: {:?}",
            f1.keys()
        );
        assert_eq!(f1.keys().collect::<Vec<_>>(), f2.keys().collect::<Vec<_>>());
        for (k, v) in &f1 {
            assert!(v == &f2[k], "{name}: {k} differs between two runs");
        }
        let _ = std::fs::remove_dir_all(&d1);
        let _ = std::fs::remove_dir_all(&d2);
    }
}

#[test]
fn another_seed_gives_other_losses() {
    let scenario = Scenario::load(&scenarios_dir().join("tail_loss_rto.toml")).unwrap();
    let a = tcplab_sim::run(&scenario, 1).unwrap();
    let b = tcplab_sim::run(&scenario, 2).unwrap();
    assert_ne!(a.pcaps[0].bytes, b.pcaps[0].bytes);
    assert_eq!(b.summary.seed, 2);
}
