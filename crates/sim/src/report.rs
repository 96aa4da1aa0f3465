//! What a scenario run reports: plain data, serialized as `summary.json` with a fixed key
//! order (struct field order, `BTreeMap`s), virtual times only, floats rounded to 6 decimals,
//! so the same scenario and seed give byte-identical files.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use serde::Serialize;

/// The whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// The seed used.
    pub seed: u64,
    /// The scenario's `duration` (upper bound of virtual time), seconds.
    pub duration_limit_s: f64,
    /// Virtual time when the run ended, seconds.
    pub end_time_s: f64,
    /// Whether every flow completed.
    pub all_completed: bool,
    /// One entry per flow, in file order.
    pub flows: Vec<FlowResult>,
    /// One entry per link, in file order.
    pub links: Vec<LinkResult>,
}

/// What one flow did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowResult {
    /// Label.
    pub label: String,
    /// `bulk`, `request_response` or `short_connections`.
    pub kind: String,
    /// Client host.
    pub from: String,
    /// Server host.
    pub to: String,
    /// Server port.
    pub port: u16,
    /// Whether all its bytes, transactions or connections completed (and verified).
    pub completed: bool,
    /// The first error a connection of the flow ended with, if any.
    pub error: Option<String>,
    /// Virtual start time, seconds.
    pub start_s: f64,
    /// Seconds from start until the last application byte was read (`None`: never).
    pub completion_time_s: Option<f64>,
    /// Application bytes read by the receiving applications (both directions).
    pub bytes: u64,
    /// `bytes * 8 / completion_time`, Mbit/s.
    pub goodput_mbps: Option<f64>,
    /// Every byte read matched the deterministic pattern it was written with.
    pub verified: bool,
    /// Transactions (request_response), connections (short_connections) or 1 (bulk) done.
    pub transactions: u64,
    /// Connections opened.
    pub connections: u64,
    /// Retransmitted segments of all its connections, both ends (stack `Retransmit` events).
    pub retransmitted_segments: u64,
    /// Bytes in those segments.
    pub retransmitted_bytes: u64,
    /// Of them, fast retransmits (third duplicate ACK).
    pub fast_retransmits: u64,
    /// Retransmission timer expirations (`TimerFired { Rto }` events).
    pub rto_count: u64,
    /// Spurious retransmissions: `None` (printed `n/a`) because the stack does not detect
    /// them (no DSACK / Eifel detection yet).
    pub spurious_retransmissions: Option<u64>,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Largest congestion window of any of its connections, bytes.
    pub max_cwnd: u32,
    /// Smallest RTT sample, milliseconds.
    pub min_rtt_ms: Option<f64>,
    /// Largest smoothed RTT, milliseconds.
    pub max_srtt_ms: Option<f64>,
}

/// What one link did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LinkResult {
    /// `a-b`.
    pub name: String,
    /// Impairment of `a` -> `b` as an `--impair` spec (empty: none).
    pub a_to_b: String,
    /// Impairment of `b` -> `a`.
    pub b_to_a: String,
    /// The pcap file name in the output directory.
    pub pcap: String,
    /// Non-zero counters of both ends' links, `a.` / `b.` prefixed (e.g. `a.impair.lost`).
    pub counters: BTreeMap<String, u64>,
}

/// A point of a connection's congestion window, from `Congestion` events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CwndSample {
    /// Virtual time, seconds.
    pub t: f64,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes.
    pub ssthresh: u32,
}

/// A point of a connection's RTT, from `RttSample` events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttSample {
    /// Virtual time, seconds.
    pub t: f64,
    /// The measurement, ms.
    pub sample_ms: f64,
    /// Smoothed RTT after it, ms.
    pub srtt_ms: f64,
    /// RTO after it, ms.
    pub rto_ms: f64,
}

/// One endpoint's recorded stack events, for the graphs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnTrace {
    /// This end's address.
    pub local: SocketAddrV4,
    /// The peer's address.
    pub remote: SocketAddrV4,
    /// Application bytes this end wrote (the data sender is the end that wrote most).
    pub bytes_written: u64,
    /// cwnd changes.
    pub cwnd: Vec<CwndSample>,
    /// RTT measurements.
    pub rtt: Vec<RttSample>,
}

/// The recorded traces of one flow's connection ends.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowTraces {
    /// The flow's label.
    pub label: String,
    /// Index of the link it runs on.
    pub link: usize,
    /// Every connection end of the flow, client and server, in the order they opened.
    pub ends: Vec<ConnTrace>,
}

/// Round to 6 decimals, so JSON floats stay short and stable.
pub fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
