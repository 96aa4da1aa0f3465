//! Shared harness for the `tcplab` binary's integration tests.
//!
//! - [`netns`]: uniquely named network namespaces, TAP devices and veth pairs, deleted on drop
//!   (also when a test panics: unwinding runs `Drop`).
//! - [`Proc`]: a child process with captured output that is killed on drop, with bounded waits
//!   for a line ("ready") or for its exit. Nothing here waits without a timeout.
//! - [`require_root!`] / [`require_tools!`]: skip a test with one clear line when it cannot run.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod netns;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use netns::{veth, Netns};

/// Path of the `tcplab` binary Cargo built for these tests.
pub const TCPLAB: &str = env!("CARGO_BIN_EXE_tcplab");

/// Writes one line to the real stderr, bypassing libtest's output capture, so skip notices
/// show up in `cargo test` output even for tests that pass.
pub fn notice(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Whether we run with euid 0 (namespaces, TAP and AF_PACKET need CAP_NET_ADMIN/CAP_NET_RAW).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `tool` is found on PATH.
pub fn have_tool(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// The calling function's path, e.g. `interop_basic::kernel_pings_host_over_tap`.
#[macro_export]
macro_rules! test_name {
    () => {{
        fn f() {}
        let n = std::any::type_name_of_val(&f);
        n.strip_suffix("::f").unwrap_or(n)
    }};
}

/// Returns from the test (counted as passed by libtest) with
/// `SKIPPED (needs root): <test>` on stderr when not running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            $crate::common::notice(&format!("SKIPPED (needs root): {}", $crate::test_name!()));
            return;
        }
    };
}

/// Returns from the test with `SKIPPED (needs TOOL): <test>` when a tool is missing
/// (`scripts/setup.sh` installs them all).
#[macro_export]
macro_rules! require_tools {
    ($($tool:expr),+ $(,)?) => {
        for tool in [$($tool),+] {
            if !$crate::common::have_tool(tool) {
                $crate::common::notice(&format!(
                    "SKIPPED (needs {tool}; run scripts/setup.sh): {}",
                    $crate::test_name!()
                ));
                return;
            }
        }
    };
}

/// Reads an integer size from the environment (e.g. `TL_HTTP_MB`), or `default`.
pub fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a finished (or killed) process left behind.
#[derive(Debug)]
pub struct Output {
    /// Exit status; `None` only if it could not be collected at all.
    pub status: Option<ExitStatus>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// Whether the process had to be killed because its time was up.
    pub timed_out: bool,
}

impl Output {
    /// Exited by itself with status 0.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.map(|s| s.success()).unwrap_or(false)
    }

    /// The exit code, if it exited (not killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// stdout as (lossy) text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as (lossy) text.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The non-empty lines of stderr.
    pub fn err_lines(&self) -> Vec<String> {
        self.err()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    }

    /// A short description for assertion messages (status, end of stdout and stderr).
    pub fn describe(&self) -> String {
        let tail = |b: &[u8]| {
            let s = String::from_utf8_lossy(&b[b.len().saturating_sub(2000)..]).into_owned();
            s
        };
        format!(
            "status={:?} timed_out={}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.status,
            self.timed_out,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

#[derive(Default)]
struct Captured {
    out: Vec<u8>,
    err: Vec<u8>,
    open: u8,
}

type Shared = Arc<(Mutex<Captured>, Condvar)>;

/// A child process whose stdout/stderr are captured by reader threads. Killed (SIGKILL) and
/// reaped on drop, so a failing test never leaves it running.
pub struct Proc {
    child: Child,
    reaped: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    feeder: Option<JoinHandle<Option<ChildStdin>>>,
    shared: Shared,
    what: String,
}

impl Proc {
    /// Spawns `cmd` with piped stdout/stderr; stdin is a pipe with `Some(())`, else null.
    pub fn spawn(mut cmd: Command, stdin: Option<()>) -> Proc {
        let what = format!("{cmd:?}");
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let shared: Shared = Arc::new((
            Mutex::new(Captured {
                open: 2,
                ..Default::default()
            }),
            Condvar::new(),
        ));
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        spawn_reader(out, shared.clone(), false);
        spawn_reader(err, shared.clone(), true);
        Proc {
            stdin: child.stdin.take(),
            child,
            reaped: None,
            feeder: None,
            shared,
            what,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `data` to stdin from a helper thread (so a child that is slow to read cannot
    /// block the test); stdin stays open until [`Proc::close_stdin`].
    pub fn feed_stdin(&mut self, data: Vec<u8>) {
        self.join_feeder();
        if let Some(mut stdin) = self.stdin.take() {
            self.feeder = Some(std::thread::spawn(move || {
                // A child that exits early makes this fail with EPIPE: that's its business.
                stdin.write_all(&data).ok().map(|_| stdin)
            }));
        }
    }

    fn join_feeder(&mut self) {
        if let Some(h) = self.feeder.take() {
            self.stdin = h.join().ok().flatten();
        }
    }

    /// Closes stdin (EOF for the child) once pending data is written.
    pub fn close_stdin(&mut self) {
        self.join_feeder();
        self.stdin = None;
    }

    /// stdout captured so far.
    pub fn stdout_now(&self) -> Vec<u8> {
        self.shared.0.lock().unwrap().out.clone()
    }

    /// Waits until stdout has a line containing `needle`; returns that line, or panics with
    /// everything captured so far after `timeout` or if the process exits first.
    pub fn wait_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.shared;
        let mut g = lock.lock().unwrap();
        loop {
            if let Some(l) = String::from_utf8_lossy(&g.out)
                .lines()
                .find(|l| l.contains(needle))
            {
                return l.to_string();
            }
            let now = Instant::now();
            if now >= deadline || g.open == 0 {
                let msg = format!(
                    "no line with {needle:?} from {} within {timeout:?} (exited: {})\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    g.open == 0,
                    String::from_utf8_lossy(&g.out),
                    String::from_utf8_lossy(&g.err)
                );
                drop(g);
                panic!("{msg}");
            }
            g = cv
                .wait_timeout(g, (deadline - now).min(Duration::from_millis(100)))
                .unwrap()
                .0;
        }
    }

    /// Waits up to `timeout` for stdout to hold at least `n` bytes; returns whether it does.
    pub fn wait_stdout_len(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.shared;
        let mut g = lock.lock().unwrap();
        while g.out.len() < n {
            let now = Instant::now();
            if now >= deadline || g.open == 0 {
                return g.out.len() >= n;
            }
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
        true
    }

    /// Waits up to `timeout` for the process to exit by itself, killing it otherwise.
    pub fn wait(&mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        while self.reaped.is_none() {
            match self.child.try_wait() {
                Ok(Some(s)) => self.reaped = Some(s),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    timed_out = true;
                    let _ = self.child.kill();
                    self.reaped = self.child.wait().ok();
                    break;
                }
                Err(_) => break,
            }
        }
        self.close_stdin();
        self.collect(timed_out)
    }

    /// Sends SIGTERM (graceful stop: tcplab prints its counters) and waits up to `timeout`.
    pub fn terminate(&mut self, timeout: Duration) -> Output {
        if self.reaped.is_none() {
            // SAFETY: kill(2) on our own child's pid, which is not reaped yet so not reused.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        }
        self.wait(timeout)
    }

    /// Output after exit: waits (bounded) for the reader threads to see EOF. A grandchild
    /// holding the pipes open cannot make this hang.
    fn collect(&mut self, timed_out: bool) -> Output {
        let deadline = Instant::now() + Duration::from_secs(2);
        let (lock, cv) = &*self.shared;
        let mut g = lock.lock().unwrap();
        while g.open > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
        Output {
            status: self.reaped,
            stdout: g.out.clone(),
            stderr: g.err.clone(),
            timed_out,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        if self.reaped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn_reader(mut r: impl Read + Send + 'static, shared: Shared, is_err: bool) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).unwrap_or(0);
            let (lock, cv) = &*shared;
            let mut g = lock.lock().unwrap();
            if n == 0 {
                g.open -= 1;
                cv.notify_all();
                return;
            }
            if is_err { &mut g.err } else { &mut g.out }.extend_from_slice(&buf[..n]);
            cv.notify_all();
        }
    });
}

/// Runs `cmd` to completion (optionally feeding `stdin` and then EOF), killed after `timeout`.
pub fn run_timeout(cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Output {
    let mut p = Proc::spawn(cmd, stdin.as_ref().map(|_| ()));
    if let Some(data) = stdin {
        p.feed_stdin(data);
        p.close_stdin();
    }
    p.wait(timeout)
}

/// A temporary directory under the system temp dir, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates `<tmp>/tl-<pid>-<n>`, readable by everyone (for tests that drop privileges).
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "tl-{}-d{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// Path of `name` inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    /// The directory, as text for command lines.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` deterministic pseudo-random bytes (xorshift64*, seeded): incompressible test payloads
/// whose corruption or reordering a checksum catches.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A namespace with TAP device `tap0` whose kernel side is 198.18.`net`.1/24; tcplab takes
/// 198.18.`net`.2/24 on it. Namespaces are separate, so every test may use the same `net`.
pub fn tap_lab(net: u8) -> Netns {
    let ns = Netns::new();
    ns.add_tap("tap0", &format!("198.18.{net}.1/24"));
    ns
}

/// Two namespaces joined by a veth pair: `a` holds `veth0` for tcplab (AF_PACKET, no kernel
/// address), `b` holds `veth1` with the kernel at 198.18.`net`.1/24.
pub fn veth_lab(net: u8) -> (Netns, Netns) {
    let a = Netns::new();
    let b = Netns::new();
    veth(
        &a,
        "veth0",
        &b,
        "veth1",
        Some(&format!("198.18.{net}.1/24")),
    );
    (a, b)
}

/// Starts `tcplab ARGS...` inside `ns` and waits (bounded) for its "ready" line.
pub fn tcplab_ready(ns: &Netns, args: &[&str]) -> Proc {
    let mut argv = vec![TCPLAB];
    argv.extend_from_slice(args);
    let mut p = ns.spawn(&argv);
    p.wait_line("ready", Duration::from_secs(15));
    p
}

/// Runs `tcplab ARGS...` inside `ns` to completion, killed after `timeout`.
pub fn tcplab_run(ns: &Netns, args: &[&str], timeout: Duration) -> Output {
    let mut argv = vec![TCPLAB];
    argv.extend_from_slice(args);
    ns.run(&argv, timeout)
}
