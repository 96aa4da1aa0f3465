//! Impairment parameters: the [`ImpairConfig`] struct and its command-line syntax.
//!
//! A spec is a comma-separated list of `key=value` pairs, e.g.
//! `loss=1%,delay=20ms,jitter=5ms,rate=100mbit`. The empty string means "no impairment".
//! Every key, its unit and its default:
//!
//! | key            | value                                  | default | effect |
//! |----------------|----------------------------------------|---------|--------|
//! | `loss`         | percent (`1%` or `1`), 0..=100         | 0       | drop each frame independently with this probability |
//! | `ge_p`         | percent                                | 0       | Gilbert-Elliott burst loss: chance per frame to go from the good to the bad state (0 disables the model) |
//! | `ge_r`         | percent, > 0 when `ge_p` is set        | 25%     | chance per frame to go back from bad to good (mean burst length 1/r) |
//! | `ge_bad_loss`  | percent                                | 100%    | loss probability in the bad state |
//! | `ge_good_loss` | percent                                | 0       | loss probability in the good state |
//! | `delay`        | duration (`20ms`, `1.5ms`, `300us`, `1s`, `0`) | 0 | fixed one-way delay added to every frame |
//! | `jitter`       | duration                               | 0       | uniform extra delay in `[-jitter, +jitter]` (never below zero); like netem, it can reorder frames |
//! | `reorder`      | percent                                | 0       | chance that a frame is held back by `reorder_delay` more, so later frames overtake it |
//! | `reorder_delay`| duration                               | 10ms    | the extra delay of reordered frames |
//! | `dup`          | percent                                | 0       | chance that a frame is sent twice |
//! | `corrupt`      | percent                                | 0       | chance that one random bit of a frame is flipped |
//! | `rate`         | bits/s: `100mbit`, `1.5gbit`, `64kbit`, `9600bit`, `0` = unlimited | 0 | bottleneck rate: frames leave one after another, each taking `len * 8 / rate` |
//! | `queue`        | frames, >= 1                           | 1000    | bottleneck queue size; frames arriving at a full queue are tail-dropped |
//! | `limit`        | frames, >= 1                           | 10000   | most frames held in the delay line at once; more are dropped |
//! | `dir`          | `tx`, `rx` or `both`                   | `tx`    | which direction is impaired: frames we send, frames we receive, or both (each direction gets its own state and random stream) |
//! | `seed`         | unsigned integer                       | 1       | random seed (the app sets it from `--seed`; a `seed` key overrides) |
//!
//! Keys and units are case-insensitive. Unknown keys, repeated keys and bad values are rejected
//! with [`LinkError::BadSpec`] naming the key.
//!
//! Order applied to each frame: loss, burst loss, duplication, corruption (per copy), rate
//! limiter queue, then delay + jitter + reordering.

use std::fmt;
use std::str::FromStr;

use crate::{Duration, LinkError};

/// Which frames the impairment applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Frames sent on the link (egress), the default.
    #[default]
    Tx,
    /// Frames received from the link (ingress).
    Rx,
    /// Both directions, each with its own state.
    Both,
}

impl Direction {
    /// Whether frames we send are impaired.
    pub fn tx(self) -> bool {
        matches!(self, Direction::Tx | Direction::Both)
    }

    /// Whether frames we receive are impaired.
    pub fn rx(self) -> bool {
        matches!(self, Direction::Rx | Direction::Both)
    }
}

/// Impairment parameters; see the module documentation for the meaning of each field and
/// its spec key (the field names are the keys). Percentages are in `0.0..=100.0`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpairConfig {
    /// Random seed: same seed and same inputs give the same output.
    pub seed: u64,
    /// Which direction is impaired.
    pub dir: Direction,
    /// Independent loss, percent.
    pub loss: f64,
    /// Gilbert-Elliott good -> bad transition chance per frame, percent (0 disables).
    pub ge_p: f64,
    /// Gilbert-Elliott bad -> good transition chance per frame, percent.
    pub ge_r: f64,
    /// Loss probability in the bad state, percent.
    pub ge_bad_loss: f64,
    /// Loss probability in the good state, percent.
    pub ge_good_loss: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Uniform jitter around `delay`.
    pub jitter: Duration,
    /// Chance that a frame is held back by `reorder_delay`, percent.
    pub reorder: f64,
    /// Extra delay of reordered frames.
    pub reorder_delay: Duration,
    /// Duplication chance, percent.
    pub dup: f64,
    /// Single-bit corruption chance, percent.
    pub corrupt: f64,
    /// Bottleneck rate in bits per second; 0 means unlimited.
    pub rate: u64,
    /// Bottleneck queue size in frames (tail drop beyond it).
    pub queue: usize,
    /// Most frames held in the delay line at once.
    pub limit: usize,
}

impl Default for ImpairConfig {
    fn default() -> Self {
        ImpairConfig {
            seed: 1,
            dir: Direction::Tx,
            loss: 0.0,
            ge_p: 0.0,
            ge_r: 25.0,
            ge_bad_loss: 100.0,
            ge_good_loss: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            dup: 0.0,
            corrupt: 0.0,
            rate: 0,
            queue: 1000,
            limit: 10_000,
        }
    }
}

impl ImpairConfig {
    /// Parse a spec (see the module documentation) whose seed defaults to `seed` (the app's
    /// `--seed`) unless the spec has its own `seed=` key.
    pub fn parse_with_seed(spec: &str, seed: u64) -> Result<Self, LinkError> {
        let mut cfg: ImpairConfig = spec.parse()?;
        let has_seed_key = spec
            .split(',')
            .filter_map(|item| item.split_once('='))
            .any(|(k, _)| k.trim().eq_ignore_ascii_case("seed"));
        if !has_seed_key {
            cfg.seed = seed;
        }
        Ok(cfg)
    }

    /// Whether any impairment is configured (otherwise the wrapper passes frames through).
    pub fn is_active(&self) -> bool {
        self.loss > 0.0
            || self.ge_p > 0.0
            || !self.delay.is_zero()
            || !self.jitter.is_zero()
            || self.reorder > 0.0
            || self.dup > 0.0
            || self.corrupt > 0.0
            || self.rate > 0
    }

    /// Check the cross-field rules that parsing enforces, for configs built in code.
    pub fn validate(&self) -> Result<(), LinkError> {
        for (key, v) in [
            ("loss", self.loss),
            ("ge_p", self.ge_p),
            ("ge_r", self.ge_r),
            ("ge_bad_loss", self.ge_bad_loss),
            ("ge_good_loss", self.ge_good_loss),
            ("reorder", self.reorder),
            ("dup", self.dup),
            ("corrupt", self.corrupt),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(bad(key, &v.to_string(), "a percentage from 0 to 100"));
            }
        }
        if self.ge_p > 0.0 && self.ge_r <= 0.0 {
            return Err(LinkError::BadSpec(
                "ge_r must be above 0 when ge_p is set (otherwise the bad state never ends)".into(),
            ));
        }
        if self.queue == 0 {
            return Err(bad("queue", "0", "at least 1 frame"));
        }
        if self.limit == 0 {
            return Err(bad("limit", "0", "at least 1 frame"));
        }
        Ok(())
    }
}

fn bad(key: &str, value: &str, expected: &str) -> LinkError {
    LinkError::BadSpec(format!("{key}={value}: expected {expected}"))
}

/// The spec keys, in documentation order.
const KEYS: &[&str] = &[
    "loss",
    "ge_p",
    "ge_r",
    "ge_bad_loss",
    "ge_good_loss",
    "delay",
    "jitter",
    "reorder",
    "reorder_delay",
    "dup",
    "corrupt",
    "rate",
    "queue",
    "limit",
    "dir",
    "seed",
];

/// The largest delay-like value accepted (an hour), so time arithmetic cannot overflow.
const MAX_DURATION: Duration = Duration::from_secs(3600);

fn parse_percent(key: &str, v: &str) -> Result<f64, LinkError> {
    let num = v.strip_suffix('%').unwrap_or(v).trim();
    match num.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=100.0).contains(&x) => Ok(x),
        _ => Err(bad(
            key,
            v,
            "a percentage from 0 to 100, like `1%` or `0.5`",
        )),
    }
}

fn split_unit(v: &str) -> (&str, String) {
    let idx = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    (&v[..idx], v[idx..].trim().to_ascii_lowercase())
}

fn parse_duration(key: &str, v: &str) -> Result<Duration, LinkError> {
    let err = || {
        bad(
            key,
            v,
            "a duration like `20ms`, `1.5ms`, `300us`, `2s` or `0`",
        )
    };
    let (num, unit) = split_unit(v);
    let x: f64 = num.parse().map_err(|_| err())?;
    let scale = match unit.as_str() {
        "" if x == 0.0 => 1.0,
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return Err(err()),
    };
    let nanos = (x * scale).round();
    if !nanos.is_finite() || nanos > MAX_DURATION.as_nanos() as f64 {
        return Err(bad(key, v, "a duration of at most 3600s"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

fn parse_rate(key: &str, v: &str) -> Result<u64, LinkError> {
    let err = || {
        bad(
            key,
            v,
            "a rate like `100mbit`, `1.5gbit`, `64kbit`, `9600bit` or `0`",
        )
    };
    let (num, unit) = split_unit(v);
    let x: f64 = num.parse().map_err(|_| err())?;
    let scale = match unit.as_str() {
        "" if x == 0.0 => 1.0,
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => return Err(err()),
    };
    let bits = (x * scale).round();
    if !bits.is_finite() || bits > 1e12 {
        return Err(bad(key, v, "a rate of at most 1000gbit"));
    }
    if x > 0.0 && bits < 1.0 {
        return Err(bad(key, v, "a rate of at least 1bit"));
    }
    Ok(bits as u64)
}

fn parse_count(key: &str, v: &str) -> Result<usize, LinkError> {
    match v.parse::<usize>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
        _ => Err(bad(key, v, "a frame count from 1 to 10000000")),
    }
}

impl FromStr for ImpairConfig {
    type Err = LinkError;

    fn from_str(spec: &str) -> Result<Self, LinkError> {
        let mut cfg = ImpairConfig::default();
        let mut seen: Vec<String> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(LinkError::BadSpec(format!("`{item}`: expected key=value")));
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            if !KEYS.contains(&key.as_str()) {
                return Err(LinkError::BadSpec(format!(
                    "unknown key `{key}` (known keys: {})",
                    KEYS.join(", ")
                )));
            }
            if seen.contains(&key) {
                return Err(LinkError::BadSpec(format!("key `{key}` given twice")));
            }
            let k = key.as_str();
            match k {
                "loss" => cfg.loss = parse_percent(k, value)?,
                "ge_p" => cfg.ge_p = parse_percent(k, value)?,
                "ge_r" => cfg.ge_r = parse_percent(k, value)?,
                "ge_bad_loss" => cfg.ge_bad_loss = parse_percent(k, value)?,
                "ge_good_loss" => cfg.ge_good_loss = parse_percent(k, value)?,
                "delay" => cfg.delay = parse_duration(k, value)?,
                "jitter" => cfg.jitter = parse_duration(k, value)?,
                "reorder" => cfg.reorder = parse_percent(k, value)?,
                "reorder_delay" => cfg.reorder_delay = parse_duration(k, value)?,
                "dup" => cfg.dup = parse_percent(k, value)?,
                "corrupt" => cfg.corrupt = parse_percent(k, value)?,
                "rate" => cfg.rate = parse_rate(k, value)?,
                "queue" => cfg.queue = parse_count(k, value)?,
                "limit" => cfg.limit = parse_count(k, value)?,
                "dir" => {
                    cfg.dir = match value.to_ascii_lowercase().as_str() {
                        "tx" => Direction::Tx,
                        "rx" => Direction::Rx,
                        "both" => Direction::Both,
                        _ => return Err(bad(k, value, "`tx`, `rx` or `both`")),
                    }
                }
                "seed" => {
                    cfg.seed = value
                        .parse()
                        .map_err(|_| bad(k, value, "an unsigned integer"))?
                }
                _ => unreachable!("key checked against KEYS above"),
            }
            seen.push(key);
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0".into()
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}us", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

fn fmt_rate(bits: u64) -> String {
    if bits.is_multiple_of(1_000_000_000) {
        format!("{}gbit", bits / 1_000_000_000)
    } else if bits.is_multiple_of(1_000_000) {
        format!("{}mbit", bits / 1_000_000)
    } else if bits.is_multiple_of(1_000) {
        format!("{}kbit", bits / 1_000)
    } else {
        format!("{bits}bit")
    }
}

/// The canonical spec: every field that differs from the default, in key order (the seed
/// is included when not 1). Parsing it gives back an equal config.
impl fmt::Display for ImpairConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = ImpairConfig::default();
        let mut parts: Vec<String> = Vec::new();
        let mut pct = |key: &str, v: f64, def: f64| {
            if v != def {
                parts.push(format!("{key}={v}%"));
            }
        };
        pct("loss", self.loss, d.loss);
        pct("ge_p", self.ge_p, d.ge_p);
        pct("ge_r", self.ge_r, d.ge_r);
        pct("ge_bad_loss", self.ge_bad_loss, d.ge_bad_loss);
        pct("ge_good_loss", self.ge_good_loss, d.ge_good_loss);
        let dur = |parts: &mut Vec<String>, key: &str, v: Duration, def: Duration| {
            if v != def {
                parts.push(format!("{key}={}", fmt_duration(v)));
            }
        };
        dur(&mut parts, "delay", self.delay, d.delay);
        dur(&mut parts, "jitter", self.jitter, d.jitter);
        if self.reorder != d.reorder {
            parts.push(format!("reorder={}%", self.reorder));
        }
        dur(
            &mut parts,
            "reorder_delay",
            self.reorder_delay,
            d.reorder_delay,
        );
        if self.dup != d.dup {
            parts.push(format!("dup={}%", self.dup));
        }
        if self.corrupt != d.corrupt {
            parts.push(format!("corrupt={}%", self.corrupt));
        }
        if self.rate != d.rate {
            parts.push(format!("rate={}", fmt_rate(self.rate)));
        }
        if self.queue != d.queue {
            parts.push(format!("queue={}", self.queue));
        }
        if self.limit != d.limit {
            parts.push(format!("limit={}", self.limit));
        }
        match self.dir {
            Direction::Tx => {}
            Direction::Rx => parts.push("dir=rx".into()),
            Direction::Both => parts.push("dir=both".into()),
        }
        if self.seed != d.seed {
            parts.push(format!("seed={}", self.seed));
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImpairConfig {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match s.parse::<ImpairConfig>() {
            Ok(c) => panic!("{s} parsed as {c:?}"),
            Err(LinkError::BadSpec(msg)) => msg,
            Err(e) => panic!("{s}: wrong error {e}"),
        }
    }

    #[test]
    fn the_cli_example_parses() {
        let c = parse("loss=1%,delay=20ms,jitter=5ms,rate=100mbit");
        assert_eq!(c.loss, 1.0);
        assert_eq!(c.delay, Duration::from_millis(20));
        assert_eq!(c.jitter, Duration::from_millis(5));
        assert_eq!(c.rate, 100_000_000);
        assert_eq!(c.dir, Direction::Tx);
        assert!(c.is_active());
    }

    #[test]
    fn every_key_parses() {
        let c = parse(
            " LOSS=0.5, ge_p=1%,ge_r=30%,ge_bad_loss=90,ge_good_loss=1%,delay=1.5ms,jitter=300us,\
             reorder=5%,reorder_delay=2ms,dup=2%,corrupt=0.1%,rate=1.5gbit,queue=50,limit=500,\
             dir=both,seed=42",
        );
        assert_eq!(c.loss, 0.5);
        assert_eq!(
            (c.ge_p, c.ge_r, c.ge_bad_loss, c.ge_good_loss),
            (1.0, 30.0, 90.0, 1.0)
        );
        assert_eq!(c.delay, Duration::from_micros(1500));
        assert_eq!(c.jitter, Duration::from_micros(300));
        assert_eq!(
            (c.reorder, c.reorder_delay),
            (5.0, Duration::from_millis(2))
        );
        assert_eq!((c.dup, c.corrupt), (2.0, 0.1));
        assert_eq!(c.rate, 1_500_000_000);
        assert_eq!((c.queue, c.limit), (50, 500));
        assert_eq!(c.dir, Direction::Both);
        assert_eq!(c.seed, 42);
    }

    #[test]
    fn empty_spec_is_no_impairment() {
        let c = parse("");
        assert_eq!(c, ImpairConfig::default());
        assert!(!c.is_active());
        assert_eq!(c.to_string(), "");
        assert_eq!(parse(" , ,"), ImpairConfig::default());
    }

    #[test]
    fn units() {
        assert_eq!(parse("delay=0").delay, Duration::ZERO);
        assert_eq!(parse("delay=7ns").delay, Duration::from_nanos(7));
        assert_eq!(parse("delay=2s").delay, Duration::from_secs(2));
        assert_eq!(parse("delay=3MS").delay, Duration::from_millis(3));
        assert_eq!(parse("rate=64kbit").rate, 64_000);
        assert_eq!(parse("rate=9600bit").rate, 9600);
        assert_eq!(parse("rate=10Gbit").rate, 10_000_000_000);
        assert_eq!(parse("rate=0").rate, 0);
        assert_eq!(parse("dir=RX").dir, Direction::Rx);
    }

    #[test]
    fn bad_specs_name_the_problem() {
        assert!(err("bogus=1").contains("unknown key `bogus`"));
        assert!(err("loss=abc").contains("loss=abc"));
        assert!(err("loss=101%").contains("loss=101%"));
        assert!(err("loss=-1").contains("loss=-1"));
        assert!(err("loss=NaN").contains("loss"));
        assert!(err("delay=20").contains("delay=20"), "a unit is required");
        assert!(err("delay=20parsecs").contains("delay"));
        assert!(err("delay=5000s").contains("at most 3600s"));
        assert!(err("jitter=-1ms").contains("jitter"));
        assert!(err("rate=100mbps").contains("rate=100mbps"));
        assert!(err("rate=fast").contains("rate"));
        assert!(err("queue=0").contains("queue"));
        assert!(err("limit=many").contains("limit"));
        assert!(err("dir=up").contains("dir=up"));
        assert!(err("seed=-3").contains("seed"));
        assert!(err("loss").contains("key=value"));
        assert!(err("loss=1%,loss=2%").contains("twice"));
        assert!(err("ge_p=1%,ge_r=0").contains("ge_r"));
    }

    #[test]
    fn seed_from_the_command_line_unless_given() {
        assert_eq!(ImpairConfig::parse_with_seed("loss=1%", 9).unwrap().seed, 9);
        assert_eq!(
            ImpairConfig::parse_with_seed("loss=1%, Seed=4", 9)
                .unwrap()
                .seed,
            4
        );
        assert!(ImpairConfig::parse_with_seed("loss=x", 9).is_err());
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            "loss=1%,delay=20ms,jitter=5ms,rate=100mbit",
            "ge_p=0.7%,ge_r=12.5%,ge_bad_loss=80%,reorder=3%,reorder_delay=1500us,dup=1%,corrupt=0.01%",
            "delay=7ns,rate=1234bit,queue=3,limit=9,dir=both,seed=99",
            "dir=rx,rate=1500kbit",
        ] {
            let c = parse(spec);
            let again = parse(&c.to_string());
            assert_eq!(c, again, "{spec} -> {c}");
        }
        assert_eq!(
            parse("loss=1%,delay=20ms").to_string(),
            "loss=1%,delay=20ms"
        );
    }
}
