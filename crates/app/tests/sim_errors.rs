//! Malformed scenario files: exactly one error, naming the file, the line and the field.

use tcplab_sim::Scenario;

const GOOD: &str = r#"# a comment
seed = 3
duration = "5s"

[[host]]
name = "a"
addr = "198.18.0.1/24"

[[host]]
name = "b"
addr = "198.18.0.2/24"

[[link]]
a = "a"
b = "b"
delay = "10ms"

[[flow]]
kind = "bulk"
from = "a"
to = "b"
bytes = "100KB"
"#;

#[track_caller]
fn err(src: &str) -> String {
    match Scenario::parse("s.toml", "s", src) {
        Ok(s) => panic!("parsed: {s:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "one line: {msg}");
            msg
        }
    }
}

#[test]
fn the_good_one_parses_with_its_comment_and_defaults() {
    let s = Scenario::parse("s.toml", "s", GOOD).unwrap();
    assert_eq!(
        (s.name.as_str(), s.seed, s.comment.as_str()),
        ("s", 3, "a comment")
    );
    assert_eq!(s.flows[0].port, 5001);
    assert_eq!(s.flows[0].label, "a-b-5001");
    assert!(s.links[0].a_to_b.is_some());
}

#[test]
fn unknown_key_names_field_and_line() {
    let m = err(&GOOD.replace("delay = \"10ms\"", "delay = \"10ms\"\nlatency = \"5ms\""));
    assert!(
        m.starts_with("s.toml:17: link.latency: unknown field `latency`"),
        "{m}"
    );
    let m = err(&GOOD.replace("seed = 3", "seed = 3\nsede = 4"));
    assert!(m.starts_with("s.toml:3: sede: unknown field"), "{m}");
}

#[test]
fn bad_values_name_field_and_line() {
    let m = err(&GOOD.replace("delay = \"10ms\"", "delay = \"10 parsecs\""));
    assert!(
        m.starts_with("s.toml:16: link[0].delay: `10 parsecs`: expected a duration"),
        "{m}"
    );
    let m = err(&GOOD.replace("bytes = \"100KB\"", "bytes = \"lots\""));
    assert!(m.starts_with("s.toml:22: flow[0].bytes:"), "{m}");
    let m = err(&GOOD.replace("delay = \"10ms\"", "loss = \"150%\""));
    assert!(m.starts_with("s.toml:16: link[0].loss:"), "{m}");
    let m = err(&GOOD.replace(
        "addr = \"198.18.0.2/24\"",
        "addr = \"198.18.0.2/24\"\n[host.tcp]\nsack = \"yes\"",
    ));
    assert!(
        m.starts_with("s.toml:13: host.tcp.sack: invalid type"),
        "{m}"
    );
    let m = err(&GOOD.replace("seed = 3", "seed = 3 4"));
    assert!(m.starts_with("s.toml:2: seed:"), "{m}");
}

#[test]
fn unknown_hosts_are_named() {
    let m = err(&GOOD.replace("b = \"b\"", "b = \"c\""));
    assert_eq!(m, "s.toml:15: link[0].b: unknown host \"c\" (hosts: a, b)");
    let m = err(&GOOD.replace("from = \"a\"", "from = \"z\""));
    assert!(
        m.starts_with("s.toml:20: flow[0].from: unknown host \"z\""),
        "{m}"
    );
}

#[test]
fn settings_not_in_this_build_say_so() {
    let tcp = |kv: &str| {
        GOOD.replace(
            "addr = \"198.18.0.1/24\"",
            &format!("addr = \"198.18.0.1/24\"\n[host.tcp]\n{kv}"),
        )
    };
    assert!(err(&tcp("cc = \"bbr\"")).starts_with("s.toml:9: host[0].tcp.cc: "));
    assert!(err(&tcp("cc = \"bbr\"")).contains("valid: newreno, reno, cubic"));
    assert!(Scenario::parse("s.toml", "s", &tcp("cc = \"cubic\"\ntimestamps = true")).is_ok());
    assert!(err(&tcp("ecn = true")).contains("host[0].tcp.ecn: ecn = true is not supported yet"));
    assert!(Scenario::parse("s.toml", "s", &tcp("cc = \"newreno\"\ntimestamps = false")).is_ok());
}

#[test]
fn bounds_are_enforced_and_stated() {
    assert!(
        err(&GOOD.replace("duration = \"5s\"", "duration = \"5000s\"")).contains("at most 3600s")
    );
    assert!(err(&GOOD.replace("bytes = \"100KB\"", "bytes = \"2GiB\""))
        .contains("at most 1073741824 bytes"));
    let m = err(&GOOD.replace("bytes = \"100KB\"", "bytes = \"1KB\"\ncount = 5"));
    assert!(
        m.contains("flow[0].count: not used by kind \"bulk\""),
        "{m}"
    );
    let rr = GOOD
        .replace("kind = \"bulk\"", "kind = \"request_response\"")
        .replace("bytes = \"100KB\"", "count = 1000000");
    assert!(err(&rr).contains("1000000: expected 1 to 100000"));
}

#[test]
fn topology_errors() {
    let m = err(&GOOD.replace("addr = \"198.18.0.2/24\"", "addr = \"198.19.0.2/24\""));
    assert!(m.contains("not in one subnet"), "{m}");
    let extra = format!("{GOOD}\n[[link]]\na = \"a\"\nb = \"b\"\n");
    assert!(err(&extra).contains("already on link[0]"));
}
