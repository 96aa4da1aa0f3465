//! The scenario engine: builds a [`World`] from a [`Scenario`], runs its flows over the
//! stacks' TCP calls on the virtual clock, and reports per-flow metrics, the link captures
//! and the stack events the graphs need.
//!
//! The loop: settle the world at the current instant; let every flow's applications act
//! (connect, accept, send, receive, close) and settle again until they stop acting; then jump
//! the clock to the earliest of the world's deadlines and the flows' own (start times,
//! receive pauses). It ends when every flow is done (plus a short linger so the closing FINs
//! are captured), at the scenario's `duration`, or when nothing is left to happen. No threads,
//! no real time: a run is a pure function of the scenario and the seed.

mod flow;

use std::collections::HashMap;

use tcplab_stack::tcp::{RetransmitReason, TcpEvent, Timer};
use tcplab_stack::{Config, ConnHandle, Duration, EthernetAddress, EventKind, Instant};

use crate::report::{
    r6, ConnTrace, CwndSample, FlowResult, FlowTraces, LinkResult, RttSample, Summary,
};
use crate::scenario::Scenario;
use crate::{mix, HostId, LinkId, LinkOptions, World};
use flow::FlowRun;

/// Most clock steps one run may take (a runaway guard: the shipped scenarios take well under
/// a million).
pub const MAX_STEPS: u64 = 50_000_000;
/// Most rounds of application calls at one instant.
const MAX_APP_ROUNDS: usize = 10_000;
/// After the last flow is done, how long the run goes on for the connections to finish
/// closing (FIN exchanges), at most.
const LINGER: Duration = Duration::from_secs(10);

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The stack rejected a host's configuration.
    #[error("host \"{host}\": {message}")]
    Host {
        /// The host's name.
        host: String,
        /// Why.
        message: String,
    },
    /// A link could not be built.
    #[error("link[{index}]: {message}")]
    Link {
        /// Its index.
        index: usize,
        /// Why.
        message: String,
    },
    /// A flow's server could not listen.
    #[error("flow \"{flow}\": cannot listen: {message}")]
    Listen {
        /// The flow's label.
        flow: String,
        /// Why.
        message: String,
    },
    /// The run needed more than [`MAX_STEPS`] clock steps.
    #[error("the run took more than {MAX_STEPS} clock steps (reached virtual time {at_s} s); shorten the scenario")]
    TooManySteps {
        /// Virtual time reached, seconds.
        at_s: f64,
    },
}

/// A capture file of one link.
#[derive(Debug, Clone)]
pub struct PcapFile {
    /// File name, `link-<a>-<b>.pcap`.
    pub name: String,
    /// The pcap bytes.
    pub bytes: Vec<u8>,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Metrics (serialized as `summary.json`).
    pub summary: Summary,
    /// One capture per link, in link order.
    pub pcaps: Vec<PcapFile>,
    /// Per flow, the stack events of its connection ends (for cwnd and RTT graphs).
    pub traces: Vec<FlowTraces>,
}

fn secs(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e9
}

fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Run `scenario` with `seed` (the scenario's own seed unless overridden by the caller).
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunOutput, RunError> {
    let mut w = World::new(seed);
    let mut hosts = Vec::new();
    for (i, h) in scenario.hosts.iter().enumerate() {
        let n = i as u8 + 1;
        let mut c = Config::new(EthernetAddress([2, 0, 0, 0, 1, n]), h.addr, h.prefix);
        c.seed = mix(seed, n as u64);
        c.tcp = h.tcp.clone();
        let id = w.try_add_host(c).map_err(|e| RunError::Host {
            host: h.name.clone(),
            message: e.to_string(),
        })?;
        w.record_events(id);
        hosts.push(id);
    }
    let mut links: Vec<LinkId> = Vec::new();
    for (i, l) in scenario.links.iter().enumerate() {
        let opts = LinkOptions {
            a_to_b: l.a_to_b.clone(),
            b_to_a: l.b_to_a.clone(),
            pcap: true,
            seed_key: l.seed_key,
        };
        let id = w
            .connect_link(hosts[l.a], hosts[l.b], opts)
            .map_err(|message| RunError::Link { index: i, message })?;
        links.push(id);
    }
    let mut flows = Vec::new();
    for f in &scenario.flows {
        let run = FlowRun::new(&mut w, f.clone(), hosts[f.from], hosts[f.to]).map_err(|e| {
            RunError::Listen {
                flow: f.label.clone(),
                message: e.to_string(),
            }
        })?;
        flows.push(run);
    }

    let end = Instant::ZERO + scenario.duration;
    let mut linger_until: Option<Instant> = None;
    loop {
        w.settle();
        for _ in 0..MAX_APP_ROUNDS {
            let mut acted = false;
            for f in &mut flows {
                acted |= f.poll(&mut w);
            }
            if !acted {
                break;
            }
            w.settle();
        }
        let now = w.now();
        if flows.iter().all(FlowRun::done) {
            let until = *linger_until.get_or_insert((now + LINGER).min(end));
            let closing: usize = hosts
                .iter()
                .map(|h| w.stack_ref(*h).tcp_closing_count())
                .sum();
            if closing == 0 || now >= until {
                break;
            }
        }
        if w.steps > MAX_STEPS {
            return Err(RunError::TooManySteps {
                at_s: r6(secs(now)),
            });
        }
        let next = flows
            .iter()
            .filter_map(|f| f.next_deadline(now))
            .chain(w.next_deadline())
            .chain(linger_until)
            .min();
        match next {
            None => break,
            Some(_) if now >= end => break,
            Some(t) => {
                let t = if t > now {
                    t
                } else {
                    now + Duration::from_nanos(1)
                };
                w.advance_to(t.min(end));
                w.steps += 1;
            }
        }
    }
    for f in &mut flows {
        f.record_unfinished();
    }
    Ok(report(scenario, seed, &w, &hosts, &links, &flows))
}

/// Which flow end a stack event belongs to.
fn event_conn(e: &TcpEvent) -> Option<ConnHandle> {
    Some(match e {
        TcpEvent::StateChange { conn, .. }
        | TcpEvent::Retransmit { conn, .. }
        | TcpEvent::TimerFired { conn, .. }
        | TcpEvent::Congestion { conn, .. }
        | TcpEvent::RttSample { conn, .. }
        | TcpEvent::Aborted { conn, .. }
        | TcpEvent::ChallengeAck { conn }
        | TcpEvent::WindowProbe { conn }
        | TcpEvent::KeepAliveProbe { conn }
        | TcpEvent::SynCookieValid { conn, .. } => *conn,
        _ => return None,
    })
}

#[derive(Default)]
struct Tally {
    retx_segs: u64,
    retx_bytes: u64,
    fast: u64,
    rto: u64,
    probes: u64,
    max_cwnd: u32,
    min_rtt: Option<Duration>,
    max_srtt: Option<Duration>,
}

fn report(
    s: &Scenario,
    seed: u64,
    w: &World,
    hosts: &[HostId],
    links: &[LinkId],
    flows: &[FlowRun],
) -> RunOutput {
    // (host, handle) -> (flow, end)
    let mut owner: HashMap<(HostId, ConnHandle), (usize, usize)> = HashMap::new();
    for (fi, f) in flows.iter().enumerate() {
        for (ei, e) in f.ends.iter().enumerate() {
            owner.insert((e.host, e.handle), (fi, ei));
        }
    }
    let mut tallies: Vec<Tally> = flows.iter().map(|_| Tally::default()).collect();
    let mut traces: Vec<FlowTraces> = flows
        .iter()
        .map(|f| FlowTraces {
            label: f.spec.label.clone(),
            link: s
                .links
                .iter()
                .position(|l| {
                    (l.a == f.spec.from && l.b == f.spec.to)
                        || (l.a == f.spec.to && l.b == f.spec.from)
                })
                .unwrap_or(0),
            ends: f
                .ends
                .iter()
                .map(|e| ConnTrace {
                    local: e.local,
                    remote: e.remote,
                    bytes_written: e.written,
                    cwnd: Vec::new(),
                    rtt: Vec::new(),
                })
                .collect(),
        })
        .collect();
    for h in hosts {
        for ev in w.events(*h) {
            let EventKind::Tcp(te) = &ev.kind else {
                continue;
            };
            let Some(conn) = event_conn(te) else { continue };
            let Some(&(fi, ei)) = owner.get(&(*h, conn)) else {
                continue;
            };
            let t = &mut tallies[fi];
            let tr = &mut traces[fi].ends[ei];
            match te {
                TcpEvent::Retransmit { len, reason, .. } => {
                    t.retx_segs += 1;
                    t.retx_bytes += *len as u64;
                    if *reason == RetransmitReason::FastRetransmit {
                        t.fast += 1;
                    }
                }
                TcpEvent::TimerFired {
                    timer: Timer::Rto, ..
                } => t.rto += 1,
                TcpEvent::WindowProbe { .. } => t.probes += 1,
                TcpEvent::Congestion { cwnd, ssthresh, .. } => {
                    t.max_cwnd = t.max_cwnd.max(*cwnd);
                    tr.cwnd.push(CwndSample {
                        t: secs(ev.time),
                        cwnd: *cwnd,
                        ssthresh: *ssthresh,
                    });
                }
                TcpEvent::RttSample { rtt, srtt, rto, .. } => {
                    t.min_rtt = Some(t.min_rtt.map_or(*rtt, |m| m.min(*rtt)));
                    t.max_srtt = Some(t.max_srtt.map_or(*srtt, |m| m.max(*srtt)));
                    tr.rtt.push(RttSample {
                        t: secs(ev.time),
                        sample_ms: ms(*rtt),
                        srtt_ms: ms(*srtt),
                        rto_ms: ms(*rto),
                    });
                }
                _ => {}
            }
        }
    }
    let flow_results: Vec<FlowResult> = flows
        .iter()
        .zip(&tallies)
        .map(|(f, t)| {
            let start = Instant::ZERO + f.spec.start;
            let completed = f.first_error.is_none() && f.verified && f.transactions == f.expected();
            let completion = f
                .last_read
                .filter(|_| completed)
                .map(|t| t.saturating_duration_since(start));
            FlowResult {
                label: f.spec.label.clone(),
                kind: f.spec.kind.name().to_string(),
                from: s.hosts[f.spec.from].name.clone(),
                to: s.hosts[f.spec.to].name.clone(),
                port: f.spec.port,
                completed,
                error: f.first_error.clone(),
                start_s: r6(secs(start)),
                completion_time_s: completion.map(|d| r6(d.as_secs_f64())),
                bytes: f.bytes_read,
                goodput_mbps: completion
                    .filter(|d| !d.is_zero())
                    .map(|d| r6(f.bytes_read as f64 * 8.0 / d.as_secs_f64() / 1e6)),
                verified: f.verified,
                transactions: f.transactions,
                connections: f.ends.iter().filter(|e| e.host == f.ends[0].host).count() as u64,
                retransmitted_segments: t.retx_segs,
                retransmitted_bytes: t.retx_bytes,
                fast_retransmits: t.fast,
                rto_count: t.rto,
                spurious_retransmissions: None,
                window_probes: t.probes,
                max_cwnd: t.max_cwnd,
                min_rtt_ms: t.min_rtt.map(|d| r6(ms(d))),
                max_srtt_ms: t.max_srtt.map(|d| r6(ms(d))),
            }
        })
        .collect();
    let mut pcaps = Vec::new();
    let mut link_results = Vec::new();
    for (i, l) in s.links.iter().enumerate() {
        let (a, b) = (&s.hosts[l.a].name, &s.hosts[l.b].name);
        let name = format!("link-{a}-{b}.pcap");
        let mut counters = std::collections::BTreeMap::new();
        for (end, h) in [("a", hosts[l.a]), ("b", hosts[l.b])] {
            for (k, v) in w.link_counters(h) {
                if v != 0 {
                    *counters.entry(format!("{end}.{k}")).or_insert(0) += v;
                }
            }
        }
        let spec = |c: &Option<tcplab_link::impair::ImpairConfig>| {
            c.as_ref().map_or(String::new(), |c| {
                let mut c = c.clone();
                c.seed = 1;
                c.to_string()
            })
        };
        link_results.push(LinkResult {
            name: format!("{a}-{b}"),
            a_to_b: spec(&l.a_to_b),
            b_to_a: spec(&l.b_to_a),
            pcap: name.clone(),
            counters,
        });
        pcaps.push(PcapFile {
            name,
            bytes: w.link_pcap_bytes(links[i]),
        });
    }
    let all_completed = flow_results.iter().all(|f| f.completed);
    RunOutput {
        summary: Summary {
            scenario: s.name.clone(),
            seed,
            duration_limit_s: r6(s.duration.as_secs_f64()),
            end_time_s: r6(secs(w.now())),
            all_completed,
            flows: flow_results,
            links: link_results,
        },
        pcaps,
        traces,
    }
}
