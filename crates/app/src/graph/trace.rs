//! From TCP segments seen on the wire to [`FlowTrace`]s: relative and unwrapped sequence
//! numbers, retransmission detection, window scaling, SACK blocks and RTT samples by ACK
//! matching (RFC 6298 §3, Karn's algorithm), with every series bounded by [`MAX_POINTS`].
//!
//! Input is one parsed segment at a time ([`Segment`]), so the pcap reader stays a thin loop
//! and this logic is tested without files.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

use super::{AckPt, DataSeg, FlowTrace, RttPt, MAX_POINTS};

/// Unacknowledged segments kept per flow for RTT matching; the oldest are forgotten beyond.
const MAX_PENDING: usize = 65_536;

/// The TCP fields the graphs need from one captured segment.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// Seconds since the first frame of the capture.
    pub t: f64,
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver.
    pub dst: SocketAddrV4,
    /// SEG.SEQ.
    pub seq: u32,
    /// SEG.ACK when the ACK bit is set.
    pub ack: Option<u32>,
    /// SYN bit.
    pub syn: bool,
    /// SEG.WND as sent (unscaled).
    pub window: u16,
    /// The window scale option, if present (only meaningful on a SYN).
    pub wscale: Option<u8>,
    /// SACK blocks (absolute sequence numbers).
    pub sack: Vec<(u32, u32)>,
    /// Payload length in bytes (from the IP total length, so snap-length truncation does not
    /// matter).
    pub payload_len: u32,
}

impl Default for Segment {
    fn default() -> Segment {
        let any = SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0);
        Segment {
            t: 0.0,
            src: any,
            dst: any,
            seq: 0,
            ack: None,
            syn: false,
            window: 0,
            wscale: None,
            sack: Vec::new(),
            payload_len: 0,
        }
    }
}

/// Keeps a series under [`MAX_POINTS`] by thinning it deterministically.
#[derive(Debug, Default)]
struct Thin {
    /// Keep one point in `stride`.
    stride: u64,
    /// Points offered so far.
    seen: u64,
    /// Points still to skip before the next one kept.
    skip: u64,
}

impl Thin {
    /// Append `item` unless thinning skips it; `important` items (retransmissions) are
    /// always appended and survive thinning while they are at most half of the series.
    fn push<T>(&mut self, v: &mut Vec<T>, item: T, important: bool, is_important: fn(&T) -> bool) {
        self.stride = self.stride.max(1);
        self.seen += 1;
        if !important {
            if self.skip > 0 {
                self.skip -= 1;
                return;
            }
            self.skip = self.stride - 1;
        }
        v.push(item);
        if v.len() >= MAX_POINTS {
            self.stride = self.stride.saturating_mul(2);
            let mut i = 0usize;
            v.retain(|x| {
                i += 1;
                i % 2 == 1 || is_important(x)
            });
            if v.len() > MAX_POINTS * 3 / 4 {
                let mut i = 0usize;
                v.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
            }
        }
    }

    fn note(&self, what: &str) -> Option<String> {
        (self.stride > 1).then(|| {
            format!(
                "{what}: {} seen, thinned to at most {MAX_POINTS} points (about 1 in {})",
                self.seen, self.stride
            )
        })
    }
}

/// Extend a 32-bit sequence number to 64 bits next to `reference` (RFC 9293 §3.4: the
/// nearest value modulo 2^32). The first value is placed at 2^32 so that values slightly
/// before it stay positive.
fn unwrap(reference: Option<u64>, v: u32) -> u64 {
    match reference {
        None => (1u64 << 32) + u64::from(v),
        Some(r) => {
            let diff = v.wrapping_sub(r as u32) as i32;
            r.wrapping_add_signed(i64::from(diff))
        }
    }
}

/// One direction of one connection while the capture is read.
#[derive(Debug, Default)]
struct Dir {
    trace: FlowTrace,
    /// This side's SYN was captured.
    syn_seen: bool,
    /// Window scale this side announced in its SYN (RFC 7323 §2.2).
    wscale: Option<u8>,
    /// Unwrapped ISN from the SYN.
    isn: Option<u64>,
    /// Unwrapped sequence number of relative 0.
    base: Option<u64>,
    /// Last unwrapped sequence or acknowledgment number, the reference for unwrapping.
    reference: Option<u64>,
    /// Highest relative sequence number sent so far (end of data).
    high: Option<u64>,
    /// Highest relative ACK so far.
    high_ack: Option<u64>,
    /// Sent, not yet acknowledged, never retransmitted: (start, end, time).
    pending: VecDeque<(u64, u64, f64)>,
    /// Time of the last retransmission (an ACK for data sent before it is ambiguous).
    last_retransmit: Option<f64>,
    /// RFC 6298 estimator state, milliseconds.
    srtt: Option<f64>,
    rttvar: f64,
    thin_segs: Thin,
    thin_acks: Thin,
    thin_rtt: Thin,
}

impl Dir {
    fn new(src: SocketAddrV4, dst: SocketAddrV4, generation: u32) -> Dir {
        let mut trace = FlowTrace::new(src, dst);
        if generation > 1 {
            trace.label = format!("{} (connection #{generation})", trace.label);
        }
        Dir {
            trace,
            ..Dir::default()
        }
    }

    /// Relative position of `v` (a sequence or acknowledgment number of this direction);
    /// `None` before relative 0.
    fn relative(&mut self, v: u32) -> Option<u64> {
        let ext = unwrap(self.reference, v);
        self.reference = Some(ext);
        let base = *self.base.get_or_insert(ext);
        ext.checked_sub(base)
    }

    fn data(&mut self, t: f64, seq: u32, len: u32) {
        let Some(start) = self.relative(seq) else {
            return;
        };
        let end = start.saturating_add(u64::from(len));
        let retransmit = self.high.is_some_and(|h| start < h);
        self.high = Some(self.high.map_or(end, |h| h.max(end)));
        if retransmit {
            // Karn: an ACK for a retransmitted range gives no sample. `pending` holds
            // disjoint ranges in increasing order, so the overlapping ones are contiguous.
            let lo = self.pending.partition_point(|&(_, e, _)| e <= start);
            let hi = self.pending.partition_point(|&(s, _, _)| s < end);
            if lo < hi {
                self.pending.drain(lo..hi);
            }
            self.last_retransmit = Some(t);
        } else {
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back((start, end, t));
        }
        let seg = DataSeg {
            t,
            seq: start,
            len,
            retransmit,
        };
        self.thin_segs
            .push(&mut self.trace.segments, seg, retransmit, |s| s.retransmit);
    }

    fn ack(&mut self, t: f64, ack: u32, window: u64, sack: &[(u32, u32)]) {
        let Some(rel) = self.relative(ack) else {
            return;
        };
        let sack = sack
            .iter()
            .filter_map(|&(l, r)| {
                let base = self.base?;
                let l = unwrap(self.reference, l).checked_sub(base)?;
                let r = unwrap(self.reference, r).checked_sub(base)?;
                (l < r).then_some((l, r))
            })
            .collect();
        let point = AckPt {
            t,
            ack: rel,
            win_edge: rel.saturating_add(window),
            sack,
        };
        self.thin_acks
            .push(&mut self.trace.acks, point, false, |_| false);
        if self.high_ack.is_some_and(|h| rel <= h) {
            return;
        }
        self.high_ack = Some(rel);
        let mut newest = None;
        while let Some(&(_, end, sent)) = self.pending.front() {
            if end > rel {
                break;
            }
            newest = Some(sent);
            self.pending.pop_front();
        }
        let Some(sent) = newest else { return };
        // Sent before a retransmission and acknowledged after it: the ACK may have waited
        // for the retransmission (Karn). A negative time is a capture clock stepping back.
        if self.last_retransmit.is_some_and(|r| r >= sent) || t < sent {
            return;
        }
        self.rtt_sample(t, (t - sent) * 1000.0);
    }

    /// RFC 6298 §2.2/§2.3 with alpha = 1/8, beta = 1/4. The RTO is left out: a capture does
    /// not show the sender's clock granularity or minimum RTO.
    fn rtt_sample(&mut self, t: f64, r: f64) {
        let srtt = match self.srtt {
            None => {
                self.rttvar = r / 2.0;
                r
            }
            Some(s) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (s - r).abs();
                0.875 * s + 0.125 * r
            }
        };
        self.srtt = Some(srtt);
        let point = RttPt {
            t,
            sample_ms: r,
            srtt_ms: Some(srtt),
            rto_ms: None,
        };
        self.thin_rtt
            .push(&mut self.trace.rtt, point, false, |_| false);
    }
}

/// Builds the [`FlowTrace`]s of a capture, one [`Segment`] at a time.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Every direction ever seen, in order of first appearance.
    dirs: Vec<Dir>,
    /// The current direction for each (src, dst).
    index: BTreeMap<(SocketAddrV4, SocketAddrV4), usize>,
    /// How many connections each (src, dst) has had (port reuse makes more than one).
    generations: BTreeMap<(SocketAddrV4, SocketAddrV4), u32>,
}

impl Tracker {
    fn dir(&mut self, src: SocketAddrV4, dst: SocketAddrV4) -> usize {
        if let Some(&i) = self.index.get(&(src, dst)) {
            return i;
        }
        self.new_dir(src, dst)
    }

    fn new_dir(&mut self, src: SocketAddrV4, dst: SocketAddrV4) -> usize {
        let g = self.generations.entry((src, dst)).or_insert(0);
        *g += 1;
        self.dirs.push(Dir::new(src, dst, *g));
        let i = self.dirs.len() - 1;
        self.index.insert((src, dst), i);
        i
    }

    /// Take one segment.
    pub(crate) fn handle(&mut self, s: &Segment) {
        if s.syn {
            self.syn(s);
        }
        let fwd = self.dir(s.src, s.dst);
        let mut seq = s.seq;
        if s.syn {
            seq = seq.wrapping_add(1);
        }
        if s.payload_len > 0 {
            self.dirs[fwd].data(s.t, seq, s.payload_len);
        } else {
            // Keep the unwrapping reference moving with pure ACKs too.
            let d = &mut self.dirs[fwd];
            if d.base.is_some() {
                d.reference = Some(unwrap(d.reference, seq));
            }
        }
        if let Some(ack) = s.ack {
            let back = self.dir(s.dst, s.src);
            // RFC 7323 §2.2: the window of a SYN is never scaled; scaling applies only when
            // both sides sent the option.
            let shift = match (self.dirs[fwd].wscale, self.dirs[back].wscale) {
                (Some(w), Some(_)) if !s.syn => w.min(14),
                _ => 0,
            };
            let window = u64::from(s.window) << shift;
            self.dirs[back].ack(s.t, ack, window, &s.sack);
        }
    }

    /// A SYN starts a connection: a new ISN on a known (src, dst) is a new connection (the
    /// port was reused), which starts new traces for both directions.
    fn syn(&mut self, s: &Segment) {
        let key = (s.src, s.dst);
        if let Some(&i) = self.index.get(&key) {
            let d = &self.dirs[i];
            let retransmitted_syn = d.isn.is_some_and(|isn| isn as u32 == s.seq);
            let first_sight = d.isn.is_none() && d.high.is_none();
            if !retransmitted_syn && !first_sight {
                self.new_dir(s.src, s.dst);
                if s.ack.is_none() {
                    self.new_dir(s.dst, s.src);
                }
            }
        }
        let i = self.dir(s.src, s.dst);
        let d = &mut self.dirs[i];
        d.syn_seen = true;
        d.wscale = s.wscale;
        let isn = unwrap(d.reference, s.seq);
        d.isn = Some(isn);
        d.reference = Some(isn);
        d.base = Some(isn + 1);
    }

    /// The traces of every direction that carried data, in order of first appearance.
    pub(crate) fn finish(self) -> Vec<FlowTrace> {
        let syn_seen: BTreeMap<(SocketAddrV4, SocketAddrV4), bool> = self
            .dirs
            .iter()
            .map(|d| ((d.trace.src, d.trace.dst), d.syn_seen))
            .collect();
        let mut out = Vec::new();
        for d in self.dirs {
            if d.trace.segments.is_empty() {
                continue;
            }
            let mut trace = d.trace;
            let peer_syn = syn_seen
                .get(&(trace.dst, trace.src))
                .copied()
                .unwrap_or(false);
            if !d.syn_seen || !peer_syn {
                trace.notes.push(
                    "handshake not captured: sequence numbers are relative to the first \
                     segment seen and the receive window may be unscaled"
                        .to_string(),
                );
            }
            trace.notes.extend(d.thin_segs.note("data segments"));
            trace.notes.extend(d.thin_acks.note("ACKs"));
            trace.notes.extend(d.thin_rtt.note("RTT samples"));
            out.push(trace);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(198, 18, 0, 1), 49152);
    const B: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(198, 18, 0, 2), 80);

    fn seg(t: f64, src: SocketAddrV4, seq: u32, ack: Option<u32>, len: u32) -> Segment {
        let dst = if src == A { B } else { A };
        Segment {
            t,
            src,
            dst,
            seq,
            ack,
            window: 1000,
            payload_len: len,
            ..Segment::default()
        }
    }

    fn handshake(tr: &mut Tracker, isn_a: u32, isn_b: u32) {
        let mut syn = seg(0.0, A, isn_a, None, 0);
        syn.syn = true;
        syn.wscale = Some(7);
        tr.handle(&syn);
        let mut syn_ack = seg(0.01, B, isn_b, Some(isn_a.wrapping_add(1)), 0);
        syn_ack.syn = true;
        syn_ack.wscale = Some(2);
        tr.handle(&syn_ack);
        tr.handle(&seg(
            0.02,
            A,
            isn_a.wrapping_add(1),
            Some(isn_b.wrapping_add(1)),
            0,
        ));
    }

    #[test]
    fn unwrap_crosses_2_pow_32() {
        let r = unwrap(None, u32::MAX - 10);
        let next = unwrap(Some(r), 5);
        assert_eq!(next - r, 16);
        assert_eq!(unwrap(Some(next), u32::MAX - 10), r);
    }

    #[test]
    fn relative_sequence_numbers_wrap_and_retransmissions_are_flagged() {
        let mut tr = Tracker::default();
        let isn = u32::MAX - 1000;
        handshake(&mut tr, isn, 7);
        let s = isn.wrapping_add(1);
        tr.handle(&seg(0.1, A, s, Some(8), 1000));
        tr.handle(&seg(0.1, A, s.wrapping_add(1000), Some(8), 1000)); // crosses 2^32
        tr.handle(&seg(0.2, B, 8, Some(s.wrapping_add(1000)), 0));
        tr.handle(&seg(0.5, A, s.wrapping_add(1000), Some(8), 1000)); // retransmission
        tr.handle(&seg(0.6, B, 8, Some(s.wrapping_add(2000)), 0));
        let flows = tr.finish();
        assert_eq!(flows.len(), 1, "only A -> B carries data");
        let f = &flows[0];
        assert_eq!((f.src, f.dst), (A, B));
        let seqs: Vec<(u64, bool)> = f.segments.iter().map(|s| (s.seq, s.retransmit)).collect();
        assert_eq!(seqs, [(0, false), (1000, false), (1000, true)]);
        assert_eq!(f.retransmits(), 1);
        // B's windows are scaled by B's shift (2) once both SYNs carried the option.
        let last = f.acks.last().expect("acks");
        assert_eq!((last.ack, last.win_edge), (2000, 2000 + (1000 << 2)));
        // One RTT sample: the first ACK; the second acknowledges a retransmission (Karn).
        assert_eq!(f.rtt.len(), 1);
        assert!((f.rtt[0].sample_ms - 100.0).abs() < 1e-6);
        assert!(f.notes.is_empty(), "{:?}", f.notes);
    }

    #[test]
    fn without_handshake_the_trace_says_the_window_may_be_unscaled() {
        let mut tr = Tracker::default();
        tr.handle(&seg(0.0, A, 5000, Some(1), 100));
        tr.handle(&seg(0.1, B, 1, Some(5100), 0));
        let flows = tr.finish();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].segments[0].seq, 0);
        assert_eq!(flows[0].acks[0].ack, 100);
        assert!(flows[0].notes[0].contains("may be unscaled"));
    }

    #[test]
    fn sack_blocks_are_relative() {
        let mut tr = Tracker::default();
        handshake(&mut tr, 1000, 9000);
        tr.handle(&seg(0.1, A, 1001, Some(9001), 100));
        let mut ack = seg(0.2, B, 9001, Some(1001), 0);
        ack.sack = vec![(1101, 1201)];
        tr.handle(&ack);
        let flows = tr.finish();
        assert_eq!(
            flows[0].acks.last().map(|a| a.sack.clone()),
            Some(vec![(100, 200)])
        );
    }

    #[test]
    fn a_new_isn_on_the_same_ports_is_a_new_connection() {
        let mut tr = Tracker::default();
        handshake(&mut tr, 1000, 9000);
        tr.handle(&seg(0.1, A, 1001, Some(9001), 100));
        handshake(&mut tr, 50_000, 70_000);
        tr.handle(&seg(0.3, A, 50_001, Some(70_001), 100));
        let flows = tr.finish();
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[1].segments[0].seq, 0);
        assert!(!flows[1].segments[0].retransmit);
        assert!(flows[1].label.contains("#2"));
    }

    #[test]
    fn thinning_keeps_series_bounded_and_retransmissions() {
        let mut th = Thin::default();
        let mut v = Vec::new();
        for i in 0..(3 * MAX_POINTS as u64) {
            th.push(&mut v, i, i % 1000 == 0, |x| x % 1000 == 0);
        }
        assert!(v.len() < MAX_POINTS);
        assert!(v.contains(&(3 * MAX_POINTS as u64 - 1000)));
        assert!(th.note("x").is_some());
    }
}
