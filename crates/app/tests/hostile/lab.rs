//! Shared pieces of the hostile suites (`hostile_*.rs`): finding the attack tools, running the
//! scapy peer (`hostile/peer.py`), sampling tcplab's memory from `/proc`, and reading the
//! counters tcplab prints on exit. Included with `#[path]` next to `mod common`.

#![allow(dead_code)] // each hostile suite uses a subset

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::{self, Netns, Output, Proc};

/// Debian's python, which has `python3-scapy` (a pyenv `python3` earlier on PATH does not).
pub const PYTHON: &str = "/usr/bin/python3";

/// Where a tool lives: on PATH, or in /usr/sbin (hping3), which a non-login PATH may lack.
pub fn tool(name: &str) -> Option<String> {
    if common::have_tool(name) {
        return Some(name.to_string());
    }
    ["/usr/sbin", "/sbin", "/usr/bin"]
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

/// Whether Debian's python3 can import scapy.
pub fn have_scapy() -> bool {
    std::process::Command::new(PYTHON)
        .args(["-c", "import scapy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Returns from the test with `SKIPPED (needs TOOL): <test>` when a tool is missing; a tool
/// named "scapy" means Debian's python3-scapy.
#[macro_export]
macro_rules! require_attack_tools {
    ($($tool:expr),+ $(,)?) => {
        for t in [$($tool),+] {
            let ok = if t == "scapy" { $crate::lab::have_scapy() } else { $crate::lab::tool(t).is_some() };
            if !ok {
                $crate::common::notice(&format!(
                    "SKIPPED ({t} missing; run scripts/setup.sh): {}",
                    $crate::test_name!()
                ));
                return;
            }
        }
    };
}

/// Path of the scapy peer script.
pub fn peer_script() -> String {
    format!("{}/tests/hostile/peer.py", env!("CARGO_MANIFEST_DIR"))
}

/// What one scapy scenario reported.
pub struct PeerResult {
    pub out: Output,
    /// The JSON object of the `RESULT {...}` line (empty if none).
    pub result: String,
}

impl PeerResult {
    /// The raw JSON text of `key`'s value (numbers, booleans, lists), or `None`.
    pub fn field(&self, key: &str) -> Option<String> {
        let pat = format!("\"{key}\": ");
        let start = self.result.find(&pat)? + pat.len();
        let rest = &self.result[start..];
        let mut depth = 0i32;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ => {}
                }
                depth < 0 || (depth == 0 && (c == ',' || c == '}'))
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let v = &rest[..end];
        Some(if v.starts_with('[') && !v.ends_with(']') {
            format!("{v}]")
        } else {
            v.to_string()
        })
    }

    /// A numeric field (panics with the whole output when absent).
    pub fn num(&self, key: &str) -> f64 {
        self.field(key)
            .and_then(|v| v.trim_matches('"').parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no numeric {key:?} in peer result:\n{}",
                    self.out.describe()
                )
            })
    }

    /// A boolean field.
    pub fn flag(&self, key: &str) -> bool {
        self.field(key).as_deref() == Some("true")
    }
}

/// Runs `peer.py SCENARIO --target TARGET ARGS...` in `ns`; panics unless it passes its own
/// checks (exit 0) and prints a RESULT line.
pub fn peer(
    ns: &Netns,
    scenario: &str,
    target: &str,
    args: &[&str],
    timeout: Duration,
) -> PeerResult {
    let script = peer_script();
    let mut argv = vec![PYTHON, script.as_str(), scenario, "--target", target];
    argv.extend_from_slice(args);
    let out = ns.run(&argv, timeout);
    let result = out
        .out()
        .lines()
        .find_map(|l| l.strip_prefix("RESULT ").map(String::from))
        .unwrap_or_default();
    assert!(
        out.success() && !result.is_empty(),
        "scapy scenario {scenario} failed:\n{}",
        out.describe()
    );
    common::notice(&format!("  peer {scenario}: {result}"));
    PeerResult { out, result }
}

/// Samples a process's resident memory (VmRSS) every 20 ms in a thread; [`RssWatch::stop`]
/// returns the largest value seen, in KiB (VmHWM of the process is also consulted).
pub struct RssWatch {
    pid: u32,
    max: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// `field` (e.g. "VmRSS") of `/proc/PID/status`, in KiB.
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

impl RssWatch {
    pub fn start(p: &Proc) -> RssWatch {
        let pid = p.pid();
        let max = Arc::new(AtomicU64::new(proc_kib(pid, "VmRSS").unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (max.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match proc_kib(pid, "VmRSS") {
                    Some(v) => {
                        m.fetch_max(v, Ordering::Relaxed);
                    }
                    None => return,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssWatch {
            pid,
            max,
            stop,
            thread: Some(thread),
        }
    }

    /// Peak resident memory so far, KiB.
    pub fn peak(&self) -> u64 {
        let hwm = proc_kib(self.pid, "VmHWM").unwrap_or(0);
        self.max.load(Ordering::Relaxed).max(hwm)
    }

    /// Asserts the peak stayed under `limit_mib` MiB; returns it (KiB).
    pub fn assert_below(&self, limit_mib: u64, what: &str) -> u64 {
        let peak = self.peak();
        common::notice(&format!("  {what}: peak RSS {} KiB", peak));
        assert!(
            peak < limit_mib * 1024,
            "{what}: tcplab peak RSS {peak} KiB >= {limit_mib} MiB"
        );
        peak
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Peak-memory budget for tcplab under attack, MiB: every queue is capped by the stack's
/// configuration (a few MiB in all for one connection plus reassembly, SYN backlog and ARP
/// queues); the rest is the binary and thread stacks. Growth past this means a missing bound.
pub const RSS_LIMIT_MIB: u64 = 64;

/// The value of counter `name` (e.g. "stack.tcp.challenge_acks") in what tcplab printed on
/// exit; counters that stayed 0 are not printed, so missing means 0.
pub fn counter(out: &Output, name: &str) -> u64 {
    out.out()
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(name)).then(|| it.next()?.parse().ok())?
        })
        .unwrap_or(0)
}

/// Stops tcplab with SIGTERM and returns its output (counters), asserting it neither crashed
/// nor hung: the strongest "never panics" check there is from outside.
pub fn stop_clean(p: &mut Proc, what: &str) -> Output {
    let out = p.terminate(Duration::from_secs(10));
    assert!(
        !out.timed_out && out.success(),
        "{what}: tcplab did not stop cleanly:\n{}",
        out.describe()
    );
    assert!(
        !out.err().contains("panicked"),
        "{what}: tcplab panicked:\n{}",
        out.describe()
    );
    out
}

/// Serves `len` pseudo-random bytes as /blob.bin and checks a curl download of it is
/// byte-exact: the service survived the attack.
pub fn assert_download(ns: &Netns, dir: &common::TempDir, ip: &str, what: &str) {
    let data = std::fs::read(dir.join("blob.bin")).expect("blob");
    let dst = dir.join("after.out");
    let url = format!("http://{ip}/blob.bin");
    let out = ns.run(
        &[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "60",
            "-o",
            dst.to_str().unwrap(),
            &url,
        ],
        Duration::from_secs(70),
    );
    assert!(
        out.success(),
        "{what}: curl after the attack failed:\n{}",
        out.describe()
    );
    let got = std::fs::read(&dst).unwrap_or_default();
    assert_eq!(
        common::sha256_hex(&got),
        common::sha256_hex(&data),
        "{what}: download after the attack differs ({} of {} bytes)",
        got.len(),
        data.len()
    );
}

/// A temp dir holding /blob.bin of `len` pseudo-random bytes.
pub fn blob(len: usize, seed: u64) -> common::TempDir {
    let dir = common::TempDir::new();
    std::fs::write(dir.join("blob.bin"), common::pattern(len, seed)).expect("write blob");
    dir
}

/// `tcplab serve http` on tap0 as 198.18.`net`.2, port 80, serving `dir`.
pub fn serve_http(ns: &Netns, net: u8, dir: &common::TempDir) -> Proc {
    let addr = format!("198.18.{net}.2/24");
    common::tcplab_ready(
        ns,
        &[
            "serve",
            "http",
            "--tap",
            "tap0",
            "--addr",
            &addr,
            "--port",
            "80",
            "--root",
            dir.path(),
        ],
    )
}
