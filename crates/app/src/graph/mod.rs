//! Graphs of TCP connections: a data model for one direction of one connection
//! ([`FlowTrace`]), a streaming reader that fills it from a pcap file ([`flows_from_pcap`]),
//! and SVG rendering in the style of tcptrace ([`render`]).
//!
//! Two producers fill [`FlowTrace`]: [`flows_from_pcap`] (what a capture shows: segments,
//! ACKs, windows, SACK blocks, RTT by matching ACKs to segments) and `tcplab sim` (the same
//! plus the stack's own congestion window and RTT estimator, `stack_events = true`).
//! [`render`] draws four graphs per flow: time-sequence, cwnd, RTT and goodput. A graph whose
//! data is missing is still written, and its title says why.
//!
//! Bounds: at most [`MAX_POINTS`] points are kept per series of a flow; beyond that the series
//! is thinned deterministically (every other point dropped, retransmissions kept while they
//! fit) and [`FlowTrace::notes`] says so. Output is a pure function of the input: identical
//! input gives byte-identical SVG files.

mod pcap;
mod render;
mod trace;

use std::fmt;
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::str::FromStr;

pub use pcap::{flows_from_pcap, flows_from_reader};
pub use render::{file_prefix, render, GRAPH_NAMES};

/// The most points kept per series (data segments, ACKs, cwnd, RTT) of one flow. Beyond it
/// the series is thinned: every other point is dropped (retransmitted segments are kept as
/// long as they fit), and later points are sampled at the new, doubled stride.
pub const MAX_POINTS: usize = 200_000;

/// One direction of one TCP connection: data from `src` to `dst`, ACKs back.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowTrace {
    /// A human-readable name, e.g. "198.18.0.1:49152 -> 198.18.0.2:80".
    pub label: String,
    /// The sender of the data.
    pub src: SocketAddrV4,
    /// The receiver of the data (the sender of the ACKs).
    pub dst: SocketAddrV4,
    /// Data segments `src` -> `dst`, as captured, in capture order.
    pub segments: Vec<DataSeg>,
    /// ACKs `dst` -> `src`, in capture order.
    pub acks: Vec<AckPt>,
    /// The sender's congestion window over time; empty when unknown (a plain pcap).
    pub cwnd: Vec<CwndPt>,
    /// RTT samples: from a pcap by matching ACKs to segments (Karn's rule: retransmitted
    /// segments give no sample), or from the stack's events.
    pub rtt: Vec<RttPt>,
    /// True when `cwnd` and `rtt` came from the stack's own events (`tcplab sim`).
    pub stack_events: bool,
    /// Remarks shown under every graph of this flow, one line each, e.g. that the handshake
    /// was not captured (so the window may be unscaled) or that a series was thinned.
    pub notes: Vec<String>,
}

/// One data segment from the sender, as seen on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DataSeg {
    /// Seconds since the first frame of the capture.
    pub t: f64,
    /// Relative sequence number of the first byte: 0 is the first byte after the ISN,
    /// unwrapped across 2^32.
    pub seq: u64,
    /// Payload bytes.
    pub len: u32,
    /// True when the range is at or below the highest sequence number already sent.
    pub retransmit: bool,
}

/// One ACK from the receiver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AckPt {
    /// Seconds since the first frame of the capture.
    pub t: f64,
    /// Relative acknowledgment number (same origin as [`DataSeg::seq`]), unwrapped.
    pub ack: u64,
    /// Right edge of the receive window: `ack` + the scaled window.
    pub win_edge: u64,
    /// SACK blocks `[left, right)`, relative and unwrapped.
    pub sack: Vec<(u64, u64)>,
}

/// The sender's congestion window at one time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CwndPt {
    /// Seconds since the first frame of the capture (or the start of the simulation).
    pub t: f64,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes; `None` while infinite or unset.
    pub ssthresh: Option<u32>,
}

/// One RTT measurement and the estimator's state after it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RttPt {
    /// Seconds since the first frame of the capture (or the start of the simulation).
    pub t: f64,
    /// The sample, milliseconds.
    pub sample_ms: f64,
    /// Smoothed RTT after the sample (RFC 6298 §2), milliseconds, when known.
    pub srtt_ms: Option<f64>,
    /// Retransmission timeout after the sample, milliseconds, when known.
    pub rto_ms: Option<f64>,
}

/// Select one connection, both directions: `A.B.C.D:P-E.F.G.H:Q` (order does not matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnFilter {
    /// One end.
    pub a: SocketAddrV4,
    /// The other end.
    pub b: SocketAddrV4,
}

impl ConnFilter {
    /// True when a segment from `src` to `dst` belongs to the selected connection, in
    /// either direction.
    pub fn matches(&self, src: SocketAddrV4, dst: SocketAddrV4) -> bool {
        (src == self.a && dst == self.b) || (src == self.b && dst == self.a)
    }
}

impl FromStr for ConnFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<ConnFilter, String> {
        let bad = || format!("expected A.B.C.D:PORT-E.F.G.H:PORT, got '{s}'");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let a = a.trim().parse().map_err(|_| bad())?;
        let b = b.trim().parse().map_err(|_| bad())?;
        Ok(ConnFilter { a, b })
    }
}

impl fmt::Display for ConnFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.a, self.b)
    }
}

impl Default for FlowTrace {
    /// An empty trace between two unspecified addresses.
    fn default() -> FlowTrace {
        let any = SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0);
        FlowTrace {
            label: String::new(),
            src: any,
            dst: any,
            segments: Vec::new(),
            acks: Vec::new(),
            cwnd: Vec::new(),
            rtt: Vec::new(),
            stack_events: false,
            notes: Vec::new(),
        }
    }
}

impl FlowTrace {
    /// An empty trace of the direction `src` -> `dst`, labelled "src -> dst".
    pub fn new(src: SocketAddrV4, dst: SocketAddrV4) -> FlowTrace {
        FlowTrace {
            label: format!("{src} -> {dst}"),
            src,
            dst,
            ..FlowTrace::default()
        }
    }

    /// How many captured data segments are retransmissions ([`DataSeg::retransmit`]).
    pub fn retransmits(&self) -> usize {
        self.segments.iter().filter(|s| s.retransmit).count()
    }

    /// For each segment flagged [`DataSeg::retransmit`]: does it carry bytes that an earlier
    /// segment of this trace already carried? `true` is a retransmission the capture saw
    /// twice; `false` fills a hole: a segment reordered on the way, or a retransmission of
    /// one lost before the capture point (a capture taken at the receiver). Unflagged
    /// segments are `false`. Memory grows with the number of holes, not of segments.
    pub fn seen_before(&self) -> Vec<bool> {
        // Disjoint, merged ranges of bytes seen so far: start -> end.
        let mut seen: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        let mut out = Vec::with_capacity(self.segments.len());
        for s in &self.segments {
            let (start, end) = (s.seq, s.seq.saturating_add(u64::from(s.len)));
            let overlaps = seen
                .range(..end)
                .next_back()
                .is_some_and(|(_, &e)| e > start);
            out.push(s.retransmit && overlaps);
            if end > start {
                let mut lo = start;
                let mut hi = end;
                // Merge with every range that touches [lo, hi).
                let touching: Vec<(u64, u64)> = seen
                    .range(..=hi)
                    .rev()
                    .take_while(|(_, &e)| e >= lo)
                    .map(|(&a, &b)| (a, b))
                    .collect();
                for (a, b) in touching {
                    seen.remove(&a);
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
                seen.insert(lo, hi);
            }
        }
        out
    }
}

/// Why reading a capture or writing a graph failed. Every message is one line and names the
/// file; capture errors also name the byte offset where the reader stopped.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Opening, reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with a pcap magic number.
    #[error("{path}: not a pcap file (unknown magic number {magic:#010x} at byte 0)")]
    NotPcap {
        /// The file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        magic: u32,
    },
    /// The file is pcapng, which we do not read.
    #[error(
        "{path}: pcapng is not supported, convert it with `tshark -F pcap -r {path} -w out.pcap`"
    )]
    Pcapng {
        /// The file.
        path: PathBuf,
    },
    /// The file ends inside the file header or a packet record.
    #[error("{path}: truncated {what} at byte {offset}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// "file header" or "packet record".
        what: &'static str,
        /// Where the incomplete header or record starts.
        offset: u64,
    },
    /// A header or record that cannot be right, e.g. a packet record longer than the
    /// reader's buffer.
    #[error("{path}: corrupt {what} at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// "file header" or "packet record".
        what: &'static str,
        /// Where the bad header or record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The capture's link type is not one we decode.
    #[error("{path}: link type {linktype} is not supported (Ethernet, Linux cooked SLL/SLL2 and raw IPv4 are)")]
    LinkType {
        /// The file.
        path: PathBuf,
        /// The link type, as pcap-file names it.
        linktype: String,
    },
    /// Drawing a graph failed.
    #[error("{path}: cannot draw the graph: {reason}")]
    Render {
        /// The SVG file.
        path: PathBuf,
        /// What plotters said.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(seq: u64, len: u32, retransmit: bool) -> DataSeg {
        DataSeg {
            t: 0.0,
            seq,
            len,
            retransmit,
        }
    }

    #[test]
    fn seen_before_tells_resent_bytes_from_hole_fills() {
        let f = FlowTrace {
            segments: vec![
                seg(0, 100, false),
                seg(200, 100, false), // [100, 200) is a hole
                seg(100, 100, true),  // fills it: reordered or lost upstream
                seg(0, 100, true),    // re-sent bytes the capture saw
                seg(150, 100, true),  // overlaps the merged [0, 300)
                seg(400, 10, false),
                seg(350, 10, true), // another hole
            ],
            ..FlowTrace::default()
        };
        assert_eq!(
            f.seen_before(),
            [false, false, false, true, true, false, false]
        );
        assert_eq!(f.retransmits(), 4);
    }

    #[test]
    fn conn_filter_parses_and_matches_both_directions() {
        let c: ConnFilter = "198.18.0.1:49152-198.18.0.2:80".parse().expect("parse");
        assert!(c.matches(c.a, c.b) && c.matches(c.b, c.a));
        assert!(!c.matches(c.a, c.a));
        assert_eq!(c.to_string(), "198.18.0.1:49152-198.18.0.2:80");
        for bad in [
            "",
            "198.18.0.1:1",
            "198.18.0.1-198.18.0.2",
            "a:1-b:2",
            "1.2.3.4:1-",
        ] {
            assert!(bad.parse::<ConnFilter>().is_err(), "{bad}");
        }
    }
}
