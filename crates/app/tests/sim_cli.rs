//! `tcplab sim` end to end through the built binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../scenarios/{name}.toml"))
}

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn tcplab(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tcplab"))
        .args(args)
        .output()
        .expect("run tcplab")
}

#[test]
fn runs_a_scenario_and_writes_every_file() {
    let out = out_dir("hello");
    let o = tcplab(&[
        "sim".as_ref(),
        scenario("handshake_and_close").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("hello") && stdout.contains("yes"),
        "{stdout}"
    );
    for f in [
        "summary.json",
        "summary.txt",
        "index.html",
        "link-a-b.pcap",
        "hello-tseq.svg",
        "hello-cwnd.svg",
        "hello-rtt.svg",
        "hello-goodput.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<img src=\"hello-tseq.svg\"") && html.contains("What to look at"));
    assert!(!html.contains("<script"));
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(
        !json.contains(out.to_str().unwrap()),
        "no absolute paths in summary.json"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn seed_override_and_sweep() {
    let out = out_dir("seed");
    let o = tcplab(&[
        "sim".as_ref(),
        scenario("tail_loss_rto").as_os_str(),
        "--seed".as_ref(),
        "5".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success());
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(json.contains("\"seed\": 5"), "{json}");
    let sweep = out_dir("sweep");
    let o = tcplab(&[
        "sim".as_ref(),
        scenario("tail_loss_rto").as_os_str(),
        "--seeds".as_ref(),
        "1..3".as_ref(),
        "-o".as_ref(),
        sweep.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(
        stdout.contains("3 runs") && stdout.contains("rpc"),
        "{stdout}"
    );
    for d in ["seed-1", "seed-2", "seed-3"] {
        assert!(sweep.join(d).join("summary.json").is_file());
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sweep.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(s["seeds"], serde_json::json!([1, 2, 3]));
    assert_eq!(s["flows"][0]["runs"], 3);
    assert!(sweep.join("sweep.txt").is_file());
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&sweep);
}

#[test]
fn a_malformed_scenario_is_one_line_with_exit_2() {
    let dir = out_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(scenario("handshake_and_close"))
        .unwrap()
        .replace("count = 1", "count = 1\nbogus = 2");
    std::fs::write(&bad, text).unwrap();
    let o = tcplab(&[
        "sim".as_ref(),
        bad.as_os_str(),
        "-o".as_ref(),
        dir.join("out").as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("bad.toml:") && stderr.contains("flow.bogus: unknown field `bogus`"),
        "{stderr}"
    );
    let o = tcplab(&[
        "sim".as_ref(),
        scenario("handshake_and_close").as_os_str(),
        "--seeds".as_ref(),
        "5..1".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
