//! Tests of the interop harness itself: namespaces, TAP devices and veth pairs exist while
//! their guards live and are gone after drop, also when the test panics; child processes are
//! killed on drop and waits are bounded. These need root but not a working `tcplab`.

mod common;

use std::time::{Duration, Instant};

use common::{pattern, tap_lab, veth_lab, Netns, Proc};

fn ns_exists(name: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn namespace_tap_and_veth_are_created_and_deleted() {
    require_root!();
    let (tap_ns, a_name, b_name);
    {
        let ns = tap_lab(1);
        tap_ns = ns.name().to_string();
        assert!(tap_ns.starts_with(&format!("tl-{}-", std::process::id())));
        assert!(ns_exists(&tap_ns));
        assert!(ns.has_link("tap0"));
        let addr = ns
            .exec_ok(&["ip", "-4", "addr", "show", "dev", "tap0"])
            .out();
        assert!(addr.contains("198.18.1.1/24"), "{addr}");

        let (a, b) = veth_lab(2);
        a_name = a.name().to_string();
        b_name = b.name().to_string();
        assert!(a.has_link("veth0") && !a.has_link("veth1"));
        assert!(b.has_link("veth1") && !b.has_link("veth0"));
        // The kernel end is reachable from itself (address configured, link up).
        let ping = b.run(
            &["ping", "-c", "1", "-W", "2", "198.18.2.1"],
            Duration::from_secs(5),
        );
        assert!(ping.success(), "{}", ping.describe());
    }
    for n in [&tap_ns, &a_name, &b_name] {
        assert!(!ns_exists(n), "namespace {n} left behind");
    }
}

#[test]
fn namespace_is_deleted_when_the_test_panics() {
    require_root!();
    let name = std::sync::Mutex::new(String::new());
    let r = std::panic::catch_unwind(|| {
        let ns = Netns::new();
        ns.add_tap("tap0", "198.18.3.1/24");
        *name.lock().unwrap() = ns.name().to_string();
        // A child left running inside must not keep anything alive either.
        let _p = ns.spawn(&["sleep", "30"]);
        panic!("deliberate");
    });
    assert!(r.is_err());
    let name = name.into_inner().unwrap();
    assert!(!name.is_empty());
    assert!(!ns_exists(&name), "namespace {name} survived a panic");
}

#[test]
fn waits_are_bounded_and_children_are_killed() {
    let start = Instant::now();
    let out = common::run_timeout(
        {
            let mut c = std::process::Command::new("sleep");
            c.arg("30");
            c
        },
        None,
        Duration::from_millis(300),
    );
    assert!(out.timed_out && !out.success());
    assert!(start.elapsed() < Duration::from_secs(5));

    // Output and stdin round trip through `cat`, with binary data larger than a pipe buffer.
    let data = pattern(300_000, 9);
    let out = common::run_timeout(
        std::process::Command::new("cat"),
        Some(data.clone()),
        Duration::from_secs(10),
    );
    assert!(out.success(), "{}", out.describe());
    assert_eq!(out.stdout, data);

    let mut p = Proc::spawn(
        {
            let mut c = std::process::Command::new("sh");
            c.args(["-c", "echo starting; sleep 0.1; echo ready; sleep 30"]);
            c
        },
        None,
    );
    assert_eq!(p.wait_line("ready", Duration::from_secs(5)), "ready");
    let pid = p.pid();
    drop(p);
    // Killed and reaped: the pid no longer names a process (not even a zombie).
    // SAFETY: signal 0 only checks for existence.
    assert_ne!(
        unsafe { libc::kill(pid as i32, 0) },
        0,
        "child {pid} still exists after drop"
    );
}

#[test]
fn wait_line_panics_in_time_when_the_line_never_comes() {
    let start = Instant::now();
    let r = std::panic::catch_unwind(|| {
        let mut p = Proc::spawn(std::process::Command::new("true"), None);
        p.wait_line("ready", Duration::from_secs(5));
    });
    assert!(r.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "exit of the child should end the wait early"
    );
}
