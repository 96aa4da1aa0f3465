//! Scenario files: a TOML description of hosts, links and traffic that [`crate::engine`]
//! runs on a [`crate::World`]. The format, every key, its unit and default are documented in
//! `docs/experiments.md` ("How to write a scenario").
//!
//! [`Scenario::parse`] turns the text into a checked [`Scenario`] or exactly one
//! [`ScenarioError`] naming the file, the line and the field. Every amount of time, data and
//! work is bounded (see the `MAX_*` constants), so no scenario can run forever or exhaust
//! memory.

mod file;
mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

use tcplab_link::impair::ImpairConfig;
use tcplab_stack::tcp::TcpConfig;
use tcplab_stack::Duration;
use toml::Spanned;

use file::{DirFile, FlowFile, HostFile, LinkFile, Scalar, ScenarioFile, Val};

/// Longest virtual time a scenario may ask for (`duration`).
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Most bytes one flow may move (all transactions and connections together), and all flows
/// of a scenario together.
pub const MAX_BYTES: u64 = 1 << 30;
/// Largest request or response of one transaction.
pub const MAX_MESSAGE: u64 = 64 << 20;
/// Largest send or receive buffer of a host.
pub const MAX_BUFFER: u64 = 64 << 20;
/// Most transactions or connections of one flow (`count`).
pub const MAX_COUNT: u64 = 100_000;
/// Most connections of one flow open at once (`concurrency`).
pub const MAX_CONCURRENCY: u64 = 1_000;
/// Most hosts, links and flows in one scenario.
pub const MAX_HOSTS: usize = 64;
/// Most flows in one scenario.
pub const MAX_FLOWS: usize = 64;
/// Bytes of a full-size Ethernet frame (1500-byte MTU + 14-byte header): a `queue` given in
/// bytes is this many bytes per frame.
pub const FRAME_BYTES: u64 = 1514;

/// A scenario that failed to load: exactly one problem, with where it is.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A syntax error, an unknown key, a bad value or an inconsistency.
    #[error("{}", invalid(.file, *.line, .field, .message))]
    Invalid {
        /// The file name as given.
        file: String,
        /// 1-based line of the offending key or table, when known.
        line: Option<usize>,
        /// The field, e.g. `link[0].loss` or `host.tcp.cc`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file name as given.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn invalid(file: &str, line: Option<usize>, field: &str, message: &str) -> String {
    match line {
        Some(l) => format!("{file}:{l}: {field}: {message}"),
        None => format!("{file}: {field}: {message}"),
    }
}

/// One host: a stack with one interface.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Its name in the scenario.
    pub name: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// Prefix length of its network.
    pub prefix: u8,
    /// Its TCP settings (defaults of the stack, then the scenario's `[host.tcp]`).
    pub tcp: TcpConfig,
}

/// One link between two hosts, impaired per direction.
#[derive(Debug, Clone)]
pub struct LinkSpec {
    /// Index of host `a` in [`Scenario::hosts`].
    pub a: usize,
    /// Index of host `b`.
    pub b: usize,
    /// Impairment of `a` -> `b` (`None`: a perfect cable that way).
    pub a_to_b: Option<ImpairConfig>,
    /// Impairment of `b` -> `a`.
    pub b_to_a: Option<ImpairConfig>,
    /// `seed = N`: links with the same N draw the same random decisions.
    pub seed_key: Option<u64>,
}

/// What a flow does.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowKind {
    /// The client sends `bytes` of a deterministic pattern, the server reads and checks them.
    Bulk {
        /// Bytes to send.
        bytes: u64,
        /// Largest single `tcp_send` call.
        write_size: u64,
    },
    /// `count` transactions on one connection: a request of `request` bytes (written in
    /// `request_writes` calls), then a response of `response` bytes.
    RequestResponse {
        /// Request size.
        request: u64,
        /// Response size.
        response: u64,
        /// Transactions.
        count: u64,
        /// Writes per request (2 or more shows Nagle meeting delayed ACKs).
        request_writes: u64,
    },
    /// `count` connections, at most `concurrency` at once, each one request and one response,
    /// then closed by the client.
    ShortConnections {
        /// Request size.
        request: u64,
        /// Response size.
        response: u64,
        /// Connections.
        count: u64,
        /// Connections open at once.
        concurrency: u64,
    },
}

impl FlowKind {
    /// The kind's name in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            FlowKind::Bulk { .. } => "bulk",
            FlowKind::RequestResponse { .. } => "request_response",
            FlowKind::ShortConnections { .. } => "short_connections",
        }
    }

    /// Application bytes the flow moves in both directions together.
    pub fn total_bytes(&self) -> u64 {
        match *self {
            FlowKind::Bulk { bytes, .. } => bytes,
            FlowKind::RequestResponse {
                request,
                response,
                count,
                ..
            }
            | FlowKind::ShortConnections {
                request,
                response,
                count,
                ..
            } => (request + response).saturating_mul(count),
        }
    }
}

/// One flow of traffic from a client host to a server host.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    /// Its label in outputs (unique).
    pub label: String,
    /// What it does.
    pub kind: FlowKind,
    /// Client host index (connects, and sends the bulk data).
    pub from: usize,
    /// Server host index (listens).
    pub to: usize,
    /// Server port.
    pub port: u16,
    /// Virtual time at which the client connects.
    pub start: Duration,
    /// Disable Nagle's algorithm on both ends.
    pub nodelay: bool,
    /// The receiving application stops reading for `.1` once it has read `.0` bytes (zero
    /// window and persist timer).
    pub recv_pause: Option<(u64, Duration)>,
}

/// A checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (`name = ...`, else the file's stem).
    pub name: String,
    /// The comment block at the top of the file, `#` removed: what to look at.
    pub comment: String,
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Upper bound of virtual time.
    pub duration: Duration,
    /// Hosts, in file order.
    pub hosts: Vec<HostSpec>,
    /// Links, in file order.
    pub links: Vec<LinkSpec>,
    /// Flows, in file order.
    pub flows: Vec<FlowSpec>,
}

/// Collects the context for errors: the file name and its text.
struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let at = span.start.min(self.src.len());
        self.src[..at].matches('\n').count() + 1
    }

    fn err(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_string(),
            line: Some(self.line(span)),
            field: field.into(),
            message: msg.into(),
        }
    }

    fn at<T>(
        &self,
        v: &Spanned<T>,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) -> ScenarioError {
        self.err(v.span(), field, msg)
    }

    /// Where a TOML error points: the `table.key` of its line.
    fn field_at(&self, offset: usize) -> String {
        let at = offset.min(self.src.len());
        let line_start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
        let line = self.src[line_start..].lines().next().unwrap_or("");
        let header = self.src[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        let t = line.trim();
        let key = if t.starts_with('[') {
            return t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else {
            t.split_once('=').map(|(k, _)| k.trim().to_string())
        };
        match (header, key) {
            (Some(h), Some(k)) => format!("{h}.{k}"),
            (None, Some(k)) => k,
            (Some(h), None) => h,
            (None, None) => "scenario".into(),
        }
    }
}

/// The leading comment block: lines starting with `#` (and blank lines between them) before
/// the first key or table.
fn comment_block(src: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in src.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            out.push(c.strip_prefix(' ').unwrap_or(c));
        } else if t.is_empty() {
            out.push("");
        } else {
            break;
        }
    }
    out.join("\n").trim().to_string()
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !s.starts_with('.')
}

impl Scenario {
    /// Read and check the scenario in `path`.
    pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "scenario".into());
        Scenario::parse(&file, &stem, &src)
    }

    /// Check the scenario text `src` of file `file`; `default_name` names it when the file
    /// has no `name` key.
    pub fn parse(file: &str, default_name: &str, src: &str) -> Result<Scenario, ScenarioError> {
        let cx = Ctx { file, src };
        let raw: ScenarioFile = toml::from_str(src).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let field = cx.field_at(span.start);
            let line = e.span().map(|s| cx.line(s));
            ScenarioError::Invalid {
                file: file.to_string(),
                line,
                field,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        cx.check(raw, default_name, comment_block(src))
    }
}

fn text<'v>(v: &'v Val) -> std::borrow::Cow<'v, str> {
    match v.get_ref() {
        Scalar::Str(s) => std::borrow::Cow::Borrowed(s.trim()),
        other => std::borrow::Cow::Owned(other.text()),
    }
}

impl Ctx<'_> {
    fn duration(&self, v: &Val, field: &str) -> Result<Duration, ScenarioError> {
        units::duration(&text(v)).map_err(|m| self.at(v, field, m))
    }

    fn bytes(&self, v: &Val, field: &str, max: u64) -> Result<u64, ScenarioError> {
        if let Scalar::Float(_) = v.get_ref() {
            return Err(self.at(
                v,
                field,
                "expected a whole number of bytes or a size string",
            ));
        }
        units::bytes(&text(v), max).map_err(|m| self.at(v, field, m))
    }

    fn count(
        &self,
        v: &Spanned<i64>,
        field: &str,
        min: u64,
        max: u64,
    ) -> Result<u64, ScenarioError> {
        let n = *v.get_ref();
        if n < min as i64 || n > max as i64 {
            return Err(self.at(v, field, format!("{n}: expected {min} to {max}")));
        }
        Ok(n as u64)
    }

    fn check(
        &self,
        raw: ScenarioFile,
        default_name: &str,
        comment: String,
    ) -> Result<Scenario, ScenarioError> {
        let name = match &raw.name {
            Some(n) if !valid_name(n.get_ref()) => {
                return Err(self.at(n, "name", "use 1 to 40 letters, digits, `-`, `_` or `.`"))
            }
            Some(n) => n.get_ref().clone(),
            None if valid_name(default_name) => default_name.to_string(),
            None => "scenario".to_string(),
        };
        let seed = raw.seed.as_ref().map_or(1, |s| *s.get_ref());
        let duration = match &raw.duration {
            Some(d) => {
                let x = self.duration(d, "duration")?;
                if x.is_zero() {
                    return Err(self.at(d, "duration", "must be above 0"));
                }
                x
            }
            None => Duration::from_secs(60),
        };
        let whole = 0..self.src.len();
        if raw.host.len() < 2 || raw.host.len() > MAX_HOSTS {
            return Err(self.err(
                whole,
                "host",
                format!("a scenario needs 2 to {MAX_HOSTS} [[host]] tables"),
            ));
        }
        let hosts = raw
            .host
            .iter()
            .enumerate()
            .map(|(i, h)| self.host(i, h))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, h) in raw.host.iter().enumerate() {
            if let Some(j) = hosts[..i].iter().position(|x| x.name == hosts[i].name) {
                return Err(self.at(
                    &h.get_ref().name,
                    format!("host[{i}].name"),
                    format!("\"{}\" is also host[{j}]'s name", hosts[i].name),
                ));
            }
            if let Some(j) = hosts[..i].iter().position(|x| x.addr == hosts[i].addr) {
                return Err(self.at(
                    &h.get_ref().addr,
                    format!("host[{i}].addr"),
                    format!("{} is also host[{j}]'s address", hosts[i].addr),
                ));
            }
        }
        if raw.link.is_empty() {
            return Err(self.err(
                whole.clone(),
                "link",
                "a scenario needs at least one [[link]]",
            ));
        }
        let mut links = Vec::new();
        for (i, l) in raw.link.iter().enumerate() {
            links.push(self.link(i, l, &hosts, &links)?);
        }
        if raw.flow.is_empty() || raw.flow.len() > MAX_FLOWS {
            return Err(self.err(
                whole.clone(),
                "flow",
                format!("a scenario needs 1 to {MAX_FLOWS} [[flow]] tables"),
            ));
        }
        let mut flows: Vec<FlowSpec> = Vec::new();
        let mut total: u64 = 0;
        for (i, f) in raw.flow.iter().enumerate() {
            let flow = self.flow(i, f, &hosts, &links, &flows)?;
            total = total.saturating_add(flow.kind.total_bytes());
            if total > MAX_BYTES {
                return Err(self.at(
                    f,
                    format!("flow[{i}]"),
                    format!("all flows together move more than {MAX_BYTES} bytes"),
                ));
            }
            flows.push(flow);
        }
        Ok(Scenario {
            name,
            comment,
            seed,
            duration,
            hosts,
            links,
            flows,
        })
    }

    fn host(&self, i: usize, h: &Spanned<HostFile>) -> Result<HostSpec, ScenarioError> {
        let f = |k: &str| format!("host[{i}].{k}");
        let hf = h.get_ref();
        let name = hf.name.get_ref().clone();
        if !valid_name(&name) || name.len() > 32 {
            return Err(self.at(
                &hf.name,
                f("name"),
                "use 1 to 32 letters, digits, `-`, `_` or `.`",
            ));
        }
        let (addr, prefix) =
            parse_cidr(hf.addr.get_ref()).map_err(|m| self.at(&hf.addr, f("addr"), m))?;
        let t = &hf.tcp;
        let mut tcp = TcpConfig::default();
        if let Some(cc) = &t.cc {
            tcp.congestion = cc
                .get_ref()
                .trim()
                .parse()
                .map_err(|e| self.at(cc, f("tcp.cc"), format!("{e}")))?;
        }
        if let Some(s) = &t.sack {
            tcp.sack = *s.get_ref();
        }
        if let Some(v) = &t.timestamps {
            tcp.timestamps = *v.get_ref();
        }
        if let Some(v) = &t.ecn {
            let key = "ecn";
            {
                if *v.get_ref() {
                    return Err(self.at(
                        v,
                        f(&format!("tcp.{key}")),
                        format!("{key} = true is not supported yet (only false)"),
                    ));
                }
            }
        }
        if let Some(v) = &t.send_buffer {
            tcp.send_buffer = self.bytes(v, &f("tcp.send_buffer"), MAX_BUFFER)?.max(1) as usize;
        }
        if let Some(v) = &t.recv_buffer {
            tcp.recv_buffer = self.bytes(v, &f("tcp.recv_buffer"), MAX_BUFFER)?.max(1) as usize;
        }
        if let Some(v) = &t.nagle {
            tcp.nagle = *v.get_ref();
        }
        if let Some(v) = &t.delayed_ack {
            let d = self.duration(v, &f("tcp.delayed_ack"))?;
            if d > Duration::from_millis(500) {
                return Err(self.at(v, f("tcp.delayed_ack"), "at most 500ms (RFC 9293 §3.8.6.3)"));
            }
            tcp.delayed_ack = d;
        }
        if let Some(v) = &t.rto_min {
            tcp.rto_min = self.duration(v, &f("tcp.rto_min"))?;
        }
        if let Some(v) = &t.rto_initial {
            tcp.rto_initial = self.duration(v, &f("tcp.rto_initial"))?;
        }
        if tcp.rto_min.is_zero()
            || tcp.rto_min > tcp.rto_max
            || tcp.rto_initial < tcp.rto_min
            || tcp.rto_initial > tcp.rto_max
        {
            let at = t
                .rto_min
                .as_ref()
                .or(t.rto_initial.as_ref())
                .map_or(h.span(), |v| v.span());
            return Err(self.err(
                at,
                f("tcp"),
                format!(
                    "need 0 < rto_min <= rto_initial <= {}s",
                    tcp.rto_max.as_secs()
                ),
            ));
        }
        if let Some(v) = &t.window_scale {
            tcp.window_scale = self.count(v, &f("tcp.window_scale"), 0, 14)? as u8;
        }
        Ok(HostSpec {
            name,
            addr,
            prefix,
            tcp,
        })
    }

    fn host_index(
        &self,
        hosts: &[HostSpec],
        v: &Spanned<String>,
        field: String,
    ) -> Result<usize, ScenarioError> {
        hosts
            .iter()
            .position(|h| &h.name == v.get_ref())
            .ok_or_else(|| {
                let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                self.at(
                    v,
                    field,
                    format!(
                        "unknown host \"{}\" (hosts: {})",
                        v.get_ref(),
                        names.join(", ")
                    ),
                )
            })
    }

    fn link(
        &self,
        i: usize,
        l: &Spanned<LinkFile>,
        hosts: &[HostSpec],
        links: &[LinkSpec],
    ) -> Result<LinkSpec, ScenarioError> {
        let f = |k: &str| format!("link[{i}].{k}");
        let lf = l.get_ref();
        let a = self.host_index(hosts, &lf.a, f("a"))?;
        let b = self.host_index(hosts, &lf.b, f("b"))?;
        if a == b {
            return Err(self.at(&lf.b, f("b"), "a link joins two different hosts"));
        }
        for (end, idx) in [(&lf.a, a), (&lf.b, b)] {
            if let Some(j) = links.iter().position(|x| x.a == idx || x.b == idx) {
                return Err(self.at(end, f(if idx == a { "a" } else { "b" }), format!(
                    "host \"{}\" is already on link[{j}]: a host has one interface, so it is on at most one link",
                    hosts[idx].name
                )));
            }
        }
        let (ha, hb) = (&hosts[a], &hosts[b]);
        let prefix = ha.prefix.min(hb.prefix);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        if u32::from(ha.addr) & mask != u32::from(hb.addr) & mask {
            return Err(self.at(
                l,
                format!("link[{i}]"),
                format!(
                    "{} ({}) and {} ({}) are not in one subnet (there is no router)",
                    ha.name, ha.addr, hb.name, hb.addr
                ),
            ));
        }
        let base = self.impair_items(&lf.impair_keys(), &f(""))?;
        let dir = |d: &Option<Spanned<DirFile>>,
                   name: &str|
         -> Result<Option<ImpairConfig>, ScenarioError> {
            let mut items = base.clone();
            if let Some(d) = d {
                items.extend(
                    self.impair_items(&d.get_ref().impair_keys(), &f(&format!("{name}.")))?,
                );
            }
            self.impair_config(&items, l.span(), &format!("link[{i}]"))
        };
        Ok(LinkSpec {
            a,
            b,
            a_to_b: dir(&lf.a_to_b, "a_to_b")?,
            b_to_a: dir(&lf.b_to_a, "b_to_a")?,
            seed_key: lf.seed.as_ref().map(|s| *s.get_ref()),
        })
    }

    /// Scenario link keys as impairment spec items (`key -> value`), each checked alone.
    fn impair_items(
        &self,
        keys: &[(&'static str, &Val)],
        prefix: &str,
    ) -> Result<BTreeMap<&'static str, String>, ScenarioError> {
        let mut out = BTreeMap::new();
        for (key, v) in keys {
            let field = format!("{prefix}{key}");
            let value = text(v).to_string();
            let (spec_key, spec_value) = match *key {
                "burst_loss" => ("ge_p", value),
                "burst_len" => {
                    let n: f64 = value.parse().map_err(|_| {
                        self.at(
                            v,
                            &field,
                            format!("`{value}`: expected a mean burst length in frames, >= 1"),
                        )
                    })?;
                    if !(1.0..=1e6).contains(&n) {
                        return Err(self.at(
                            v,
                            &field,
                            format!(
                                "`{value}`: expected a mean burst length in frames, 1 to 1000000"
                            ),
                        ));
                    }
                    ("ge_r", format!("{}%", 100.0 / n))
                }
                "duplicate" => ("dup", value),
                "queue" => {
                    let frames = match v.get_ref() {
                        Scalar::Int(n) => *n,
                        _ => {
                            let b = self.bytes(v, &field, FRAME_BYTES * 10_000_000)?;
                            b.div_ceil(FRAME_BYTES).max(1) as i64
                        }
                    };
                    ("queue", frames.to_string())
                }
                k => (k, value),
            };
            units::impair_item(spec_key, &spec_value).map_err(|m| self.at(v, &field, m))?;
            out.insert(spec_key, spec_value);
        }
        Ok(out)
    }

    fn impair_config(
        &self,
        items: &BTreeMap<&'static str, String>,
        span: Range<usize>,
        field: &str,
    ) -> Result<Option<ImpairConfig>, ScenarioError> {
        let spec: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let c: ImpairConfig = spec
            .join(",")
            .parse()
            .map_err(|e: tcplab_link::LinkError| self.err(span, field, e.to_string()))?;
        Ok(c.is_active().then_some(c))
    }

    fn flow(
        &self,
        i: usize,
        fl: &Spanned<FlowFile>,
        hosts: &[HostSpec],
        links: &[LinkSpec],
        flows: &[FlowSpec],
    ) -> Result<FlowSpec, ScenarioError> {
        let f = |k: &str| format!("flow[{i}].{k}");
        let ff = fl.get_ref();
        let from = self.host_index(hosts, &ff.from, f("from"))?;
        let to = self.host_index(hosts, &ff.to, f("to"))?;
        if !links
            .iter()
            .any(|l| (l.a == from && l.b == to) || (l.a == to && l.b == from))
        {
            return Err(self.at(
                &ff.to,
                f("to"),
                format!(
                "no [[link]] joins \"{}\" and \"{}\" (flows run between the two ends of one link)",
                hosts[from].name, hosts[to].name
            ),
            ));
        }
        let port = match &ff.port {
            Some(p) => self.count(p, &f("port"), 1, 65535)? as u16,
            None => 5001 + i as u16,
        };
        if let Some(j) = flows.iter().position(|x| x.to == to && x.port == port) {
            let at = ff.port.as_ref().map_or(fl.span(), |p| p.span());
            return Err(self.err(
                at,
                f("port"),
                format!("flow[{j}] already listens on {}:{port}", hosts[to].name),
            ));
        }
        let kind_name = ff.kind.get_ref().as_str();
        // Keys each kind uses; any other kind-specific key is an error.
        let used: &[&str] = match kind_name {
            "bulk" => &["bytes", "write_size"],
            "request_response" => &["request", "response", "count", "request_writes"],
            "short_connections" => &["request", "response", "count", "concurrency"],
            other => {
                return Err(self.at(
                    &ff.kind,
                    f("kind"),
                    format!(
                    "unknown kind \"{other}\" (kinds: bulk, request_response, short_connections)"
                ),
                ))
            }
        };
        let specific: [(&str, Option<Range<usize>>); 7] = [
            ("bytes", ff.bytes.as_ref().map(|v| v.span())),
            ("write_size", ff.write_size.as_ref().map(|v| v.span())),
            ("request", ff.request.as_ref().map(|v| v.span())),
            ("response", ff.response.as_ref().map(|v| v.span())),
            ("count", ff.count.as_ref().map(|v| v.span())),
            (
                "request_writes",
                ff.request_writes.as_ref().map(|v| v.span()),
            ),
            ("concurrency", ff.concurrency.as_ref().map(|v| v.span())),
        ];
        for (key, span) in specific {
            if let Some(span) = span {
                if !used.contains(&key) {
                    return Err(self.err(
                        span,
                        f(key),
                        format!(
                            "not used by kind \"{kind_name}\" (it uses: {})",
                            used.join(", ")
                        ),
                    ));
                }
            }
        }
        let msg = |v: &Option<Val>, key: &str, default: u64| -> Result<u64, ScenarioError> {
            v.as_ref()
                .map_or(Ok(default), |v| self.bytes(v, &f(key), MAX_MESSAGE))
        };
        let count = |v: &Option<Spanned<i64>>,
                     key: &str,
                     default: u64,
                     max: u64|
         -> Result<u64, ScenarioError> {
            v.as_ref()
                .map_or(Ok(default), |v| self.count(v, &f(key), 1, max))
        };
        let kind = match kind_name {
            "bulk" => {
                let bytes = match &ff.bytes {
                    Some(v) => self.bytes(v, &f("bytes"), MAX_BYTES)?,
                    None => {
                        return Err(self.at(
                            fl,
                            format!("flow[{i}]"),
                            "kind \"bulk\" needs `bytes`",
                        ))
                    }
                };
                let write_size = match &ff.write_size {
                    Some(v) => self.bytes(v, &f("write_size"), MAX_MESSAGE)?,
                    None => 64 * 1024,
                };
                if write_size == 0 {
                    return Err(self.at(fl, f("write_size"), "must be at least 1 byte"));
                }
                FlowKind::Bulk { bytes, write_size }
            }
            "request_response" => FlowKind::RequestResponse {
                request: msg(&ff.request, "request", 100)?,
                response: msg(&ff.response, "response", 1000)?,
                count: count(&ff.count, "count", 10, MAX_COUNT)?,
                request_writes: count(&ff.request_writes, "request_writes", 1, 1000)?,
            },
            _ => {
                let c = count(&ff.count, "count", 10, MAX_COUNT)?;
                let conc = count(&ff.concurrency, "concurrency", 1, MAX_CONCURRENCY)?;
                FlowKind::ShortConnections {
                    request: msg(&ff.request, "request", 100)?,
                    response: msg(&ff.response, "response", 1000)?,
                    count: c,
                    concurrency: conc.min(c),
                }
            }
        };
        if let FlowKind::RequestResponse {
            request, response, ..
        }
        | FlowKind::ShortConnections {
            request, response, ..
        } = kind
        {
            if request == 0 || response == 0 {
                return Err(self.at(
                    fl,
                    format!("flow[{i}]"),
                    "request and response must be at least 1 byte",
                ));
            }
        }
        if kind.total_bytes() > MAX_BYTES {
            return Err(self.at(
                fl,
                format!("flow[{i}]"),
                format!("moves more than {MAX_BYTES} bytes"),
            ));
        }
        if let FlowKind::RequestResponse {
            request,
            request_writes,
            ..
        } = kind
        {
            if request_writes > request.max(1) {
                return Err(self.at(fl, f("request_writes"), "more writes than request bytes"));
            }
        }
        let start = ff
            .start
            .as_ref()
            .map_or(Ok(Duration::ZERO), |v| self.duration(v, &f("start")))?;
        let recv_pause = match (&ff.recv_pause, &ff.recv_pause_after) {
            (Some(p), after) => {
                let d = self.duration(p, &f("recv_pause"))?;
                let after = after
                    .as_ref()
                    .map_or(Ok(0), |v| self.bytes(v, &f("recv_pause_after"), MAX_BYTES))?;
                Some((after, d))
            }
            (None, Some(v)) => return Err(self.at(v, f("recv_pause_after"), "needs `recv_pause`")),
            (None, None) => None,
        };
        let label = match &ff.label {
            Some(l) if !valid_name(l.get_ref()) => {
                return Err(self.at(
                    l,
                    f("label"),
                    "use 1 to 40 letters, digits, `-`, `_` or `.`",
                ))
            }
            Some(l) => l.get_ref().clone(),
            None => format!("{}-{}-{}", hosts[from].name, hosts[to].name, port),
        };
        if let Some(j) = flows.iter().position(|x| x.label == label) {
            let at = ff.label.as_ref().map_or(fl.span(), |l| l.span());
            return Err(self.err(
                at,
                f("label"),
                format!("\"{label}\" is also flow[{j}]'s label"),
            ));
        }
        Ok(FlowSpec {
            label,
            kind,
            from,
            to,
            port,
            start,
            nodelay: ff.nodelay.as_ref().is_some_and(|v| *v.get_ref()),
            recv_pause,
        })
    }
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected A.B.C.D/P, like \"198.18.0.1/24\""))?;
    let addr: Ipv4Addr = a
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: bad IPv4 address"))?;
    let prefix: u8 = p
        .trim()
        .parse()
        .ok()
        .filter(|p| (1..=30).contains(p))
        .ok_or_else(|| format!("`{s}`: prefix length must be 1 to 30"))?;
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.is_loopback() {
        return Err(format!("`{s}`: {addr} cannot be a host address"));
    }
    Ok((addr, prefix))
}

impl fmt::Display for FlowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label, self.kind.name())
    }
}
