//! Network namespaces, TAP devices and veth pairs for interop tests, deleted on `Drop`.
//!
//! Every namespace is named `tl-<pid>-<counter>`, so tests in one process (running in parallel
//! threads) and concurrent test processes never collide. Devices live only inside namespaces
//! this module created: veth pairs are created *inside* the first namespace with their peer end
//! placed directly in the second one, so nothing is ever added to the root namespace.
//! Addresses come only from 198.18.0.0/15 (RFC 2544 benchmarking range).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::Duration;

use super::{run_timeout, Output, Proc};

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static REAP: Once = Once::new();

/// Deletes namespaces named `tl-<pid>-*` whose process no longer exists: leftovers of a test
/// process killed by SIGKILL (where no `Drop` could run). Only our own naming pattern is touched.
fn reap_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let mut parts = name.split('-');
        if parts.next() != Some("tl") {
            continue;
        }
        let Some(Ok(pid)) = parts.next().map(str::parse::<u32>) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// A network namespace owned by a test; deleted (with every process left inside) on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `tl-<pid>-<n>` with loopback up and IPv6 off (no router solicitations or MLD
    /// reports to confuse packet counts on the links we add).
    pub fn new() -> Netns {
        REAP.call_once(reap_stale);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("tl-{}-{}", std::process::id(), n);
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS ARGS...`, panicking with the command's stderr on failure.
    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        sh(&v);
    }

    /// A `Command` that runs `argv` inside the namespace.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Runs `argv` inside the namespace, killed after `timeout`.
    pub fn run(&self, argv: &[&str], timeout: Duration) -> Output {
        run_timeout(self.command(argv), None, timeout)
    }

    /// Runs `argv` inside the namespace, feeding `stdin`, killed after `timeout`.
    pub fn run_stdin(&self, argv: &[&str], stdin: Vec<u8>, timeout: Duration) -> Output {
        run_timeout(self.command(argv), Some(stdin), timeout)
    }

    /// Runs `argv` inside the namespace and panics unless it succeeds within 10 s.
    pub fn exec_ok(&self, argv: &[&str]) -> Output {
        let out = self.run(argv, Duration::from_secs(10));
        assert!(
            out.success(),
            "{argv:?} in {} failed: {}",
            self.name,
            out.describe()
        );
        out
    }

    /// Spawns `argv` inside the namespace as a guarded child (killed on drop).
    pub fn spawn(&self, argv: &[&str]) -> Proc {
        Proc::spawn(self.command(argv), None)
    }

    /// Spawns `argv` inside the namespace with a stdin pipe kept open until
    /// [`Proc::close_stdin`] (or drop).
    pub fn spawn_stdin(&self, argv: &[&str]) -> Proc {
        Proc::spawn(self.command(argv), Some(()))
    }

    /// Creates TAP device `dev` in this namespace (persistent, like `ip tuntap add`), gives the
    /// kernel side `kernel_cidr` (e.g. "198.18.1.1/24") and brings it up. The carrier comes up
    /// when a process (tcplab, smoltcp) attaches to it.
    pub fn add_tap(&self, dev: &str, kernel_cidr: &str) {
        self.ip(&["tuntap", "add", "dev", dev, "mode", "tap"]);
        self.ip(&["addr", "add", kernel_cidr, "dev", dev]);
        self.ip(&["link", "set", dev, "up"]);
    }

    /// Whether interface `dev` exists in this namespace.
    pub fn has_link(&self, dev: &str) -> bool {
        Command::new("ip")
            .args(["-n", &self.name, "link", "show", "dev", dev])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Processes still inside (a child that escaped its guard) would keep the namespace's
        // devices alive: end them by pid first. They can only be ours: the namespace is.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: kill(2) with a pid read from our own namespace; no memory involved.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A veth pair between two namespaces (or both ends in one), created inside `a` with its peer
/// moved straight into `b`. With `kernel_cidr`, the `b` end gets that address; both ends are up
/// and the `b` end has transmit checksum offload and segmentation offload turned off, so a
/// process reading the `a` end with AF_PACKET sees complete, MTU-sized frames (veth otherwise
/// hands over CHECKSUM_PARTIAL packets and 64 KB GSO super-segments).
pub fn veth(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str, kernel_cidr: Option<&str>) {
    a.ip(&[
        "link",
        "add",
        a_dev,
        "type",
        "veth",
        "peer",
        "name",
        b_dev,
        "netns",
        b.name(),
    ]);
    if let Some(cidr) = kernel_cidr {
        b.ip(&["addr", "add", cidr, "dev", b_dev]);
    }
    a.ip(&["link", "set", a_dev, "up"]);
    b.ip(&["link", "set", b_dev, "up"]);
    for (ns, dev) in [(a, a_dev), (b, b_dev)] {
        if super::have_tool("ethtool") {
            ns.exec_ok(&[
                "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
            ]);
        }
    }
}

/// Runs an `ip` command (`ip netns add` or `ip -n NS ...`), panicking on failure.
fn sh(argv: &[&str]) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn ip");
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}
