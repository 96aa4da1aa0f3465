//! TCP (RFC 9293), as seen by the rest of the stack: demultiplexing by 4-tuple, listeners, the
//! ready set and the timer heap. The protocol rules live in the sibling modules:
//!
//! | file | role | RFC |
//! |---|---|---|
//! | `api.rs` | user calls: OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS | RFC 9293 §3.9.1 |
//! | `listen.rs` | LISTEN, SYN queue, accept queue | RFC 9293 §3.10.1, §3.10.7.2 |
//! | `conn.rs` | TCB, per-connection calls, timer expiry | RFC 9293 §3.3.1, §3.10.1-§3.10.6, §3.10.8 |
//! | `input.rs` | SEGMENT ARRIVES | RFC 9293 §3.10.7.3-4, RFC 5961, RFC 3042 |
//! | `output.rs` | what to send, header emission | RFC 9293 §3.7, §3.8.6, §3.10.4-5 |
//! | `send.rs` / `recv.rs` | buffers, Nagle, SWS, reassembly | RFC 9293 §3.7.4, §3.8.6.2 |
//! | `sack.rs` | SACK scoreboard, hole selection | RFC 2018, RFC 6675 |
//! | `rtt.rs` | RTO | RFC 6298 |
//! | `congestion/` | the `CongestionControl` trait, initial window | RFC 5681 §3.1, RFC 6928 |
//! | `congestion/recovery.rs` | fast retransmit / fast recovery, shared | RFC 5681 §3.2, RFC 6582 |
//! | `congestion/newreno.rs` | NewReno | RFC 5681 §3.1 |
//! | `congestion/cubic.rs` | CUBIC (default) | RFC 9438 |
//! | `congestion/hystart.rs` | HyStart++ slow start for CUBIC | RFC 9406 |
//! | `syncookie.rs` | stateless SYN,ACK when the SYN queue is full | RFC 4987 §3.6 |
//! | `timewait.rs` | compact, bounded TIME-WAIT entries; SYN reopening; RST ignored | RFC 9293 §3.4.2, RFC 6191, RFC 1337 |
//! | `timestamps.rs` | TSval clock, TS.Recent, PAWS, RTTM | RFC 7323 §3-§5 |
//! | `pmtu.rs` | path MTU from ICMP, black-hole detection | RFC 1191, RFC 5927, RFC 4821 |
//! | `ports.rs` | ephemeral port selection per destination | RFC 6056 §3.3.3 |
//! | `seq.rs`, `isn.rs`, `options.rs`, `timers.rs` | arithmetic, ISN, options, timers | RFC 9293 §3.4, RFC 6528, RFC 6691, RFC 7323 |
//! | `event.rs`, `info.rs`, `hash.rs` | trace events, config/statistics, table hashers | |
//!
//! Not implemented (see the project notes): urgent data (§3.8.5, URG is ignored), ECN,
//! RACK/TLP, the PLPMTUD upward search.
//!
//! CONTRACT with the facade (`stack.rs`); the facade only calls these entry points:
//! - `Tcp::new(&TcpConfig, seed, mss)`
//! - `Tcp::process(now, ctx, src_ip, dst_ip, segment)`: `segment` is the TCP header + payload of
//!   an IPv4 datagram addressed to us; the facade has already verified the IP header and the TCP
//!   checksum (and counted failures). Segments for no connection/listener get the RFC 9293
//!   §3.10.7.1 RST answer, queued internally.
//! - `Tcp::icmp_error(now, ctx, err)`: an ICMP error quoting one of our segments (RFC 1122
//!   §4.2.3.9: hard vs soft).
//! - `Tcp::poll_transmit(now, ctx, out) -> Option<TcpTransmit>`: write the next segment (TCP header
//!   with checksum computed over the IPv4 pseudo-header + payload) at the start of `out`, whose
//!   length is at most the MTU minus the IPv4 header; return its addresses and length.
//! - `Tcp::poll_timeout()` / `Tcp::handle_timeout(now, ctx)`.
//! - Socket calls: listen/accept/connect/send/recv/shutdown/close/abort/info..., delegated from
//!   `Stack::tcp_*`. `connect` is given the local IP the facade chose by routing.
//!
//! Cost per segment: one hash lookup by 4-tuple; `poll_transmit` pops connections from a ready
//! set; timers live in a binary heap with lazy invalidation, so `poll_timeout` is O(1).

mod api;
mod congestion;
mod conn;
pub mod event;
mod hash;
mod info;
mod input;
mod isn;
mod listen;
mod options;
mod output;
mod pmtu;
mod ports;
mod recv;
mod rtt;
mod sack;
mod send;
pub mod seq;
mod syncookie;
mod timers;
mod timestamps;
mod timewait;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, TcpPacket, TcpRepr};

use crate::ctx::Ctx;
use crate::error::TcpError;
use crate::event::EventKind;
use crate::time::Instant;

pub use congestion::{CongestionAlgorithm, UnknownCongestionAlgorithm};
use conn::{Conn, Env};
use event::EventBuf;
pub use event::{CongestionReason, RetransmitReason, TcpEvent};
use hash::{IdBuild, KeyedSip};
pub use info::{TcpConfig, TcpCounters, TcpInfo};
use input::Segment;
use isn::IsnGenerator;
use listen::Listener;
use seq::Seq;
pub use syncookie::SynCookies;
use syncookie::{CookieKey, PendingSynAck};
pub use timers::Timer;
use timewait::{TimeWaitEntry, TimeWaitTable, TwAction};

/// Handle of one TCP connection inside a [`crate::Stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle(pub u32);

/// Handle of one listening socket inside a [`crate::Stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerHandle(pub u32);

/// The eleven states of RFC 9293 §3.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

/// What `poll_transmit` wrote: the segment's addresses and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpTransmit {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub len: usize,
}

/// An ICMP error quoting a TCP segment we sent (RFC 1122 §4.2.3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpIcmpError {
    /// Source of the quoted datagram (one of ours).
    pub local: SocketAddrV4,
    /// Destination of the quoted datagram.
    pub remote: SocketAddrV4,
    /// Sequence number from the quoted TCP header.
    pub seq: u32,
    /// Hard errors (protocol/port unreachable, RFC 1122 §4.2.3.9) abort connections in SYN-SENT
    /// and SYN-RECEIVED; soft errors are only remembered.
    pub hard: bool,
    /// "Fragmentation needed" (RFC 1191): the next-hop MTU it reported (0: none given).
    pub frag_mtu: Option<u16>,
    /// The error, for reporting.
    pub error: TcpError,
}

/// A segment sent without a connection: a RST answering a segment that matched no
/// connection (RFC 9293 §3.10.7.1), or an ACK from a TIME-WAIT entry (§3.10.7.4).
#[derive(Debug, Clone, Copy)]
struct PendingRst {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: Seq,
    ack: Option<Seq>,
    /// `Some((window, timestamp))`: an ACK, not a RST.
    ack_only: Option<(u16, Option<(u32, u32)>)>,
}

/// All TCP state of one stack: listeners, connections by 4-tuple, timers.
#[derive(Debug)]
pub struct Tcp {
    config: TcpConfig,
    mss: u16,
    isn: IsnGenerator,
    conns: HashMap<ConnHandle, Conn, IdBuild>,
    by_tuple: HashMap<(SocketAddrV4, SocketAddrV4), ConnHandle, KeyedSip>,
    listeners: HashMap<ListenerHandle, Listener, IdBuild>,
    listen_by_port: HashMap<u16, ListenerHandle, IdBuild>,
    next_conn: u32,
    next_listener: u32,
    /// RFC 6056 §3.3.3 "next_ephemeral": advances with every port tried.
    next_port: u32,
    /// Connections that may have something to send.
    ready: VecDeque<ConnHandle>,
    /// (deadline, connection), earliest first; entries are checked against `Conn::scheduled`.
    heap: BinaryHeap<Reverse<(Instant, ConnHandle)>>,
    rsts: VecDeque<PendingRst>,
    /// Connections in TIME-WAIT, reduced to what TIME-WAIT needs (`timewait.rs`).
    timewait: TimeWaitTable,
    /// RFC 6056 §3.3.3: the secret of the per-destination port offset.
    port_key: (u64, u64),
    /// Path MTUs learned per destination (RFC 1191 §6.3).
    pmtu: pmtu::PmtuCache,
    /// Secret for SYN cookies (RFC 4987 §3.6), derived from the seed.
    cookie_key: CookieKey,
    /// Cookie SYN,ACKs to send (bounded by `max_pending_syncookies`).
    synacks: VecDeque<PendingSynAck>,
    counters: TcpCounters,
    events: EventBuf,
    last_now: Instant,
    /// Fixed ISN for tests (sequence wrap-around); `None` in normal operation (RFC 6528).
    isn_override: Option<u32>,
}

impl Tcp {
    /// `mss` is the MSS we announce (RFC 9293 §3.7.1: MTU minus 40 for IPv4).
    pub(crate) fn new(config: &TcpConfig, seed: u64, mss: u16) -> Self {
        Tcp {
            config: config.clone(),
            mss,
            isn: IsnGenerator::new(seed),
            conns: HashMap::default(),
            by_tuple: HashMap::with_hasher(KeyedSip::new(seed)),
            listeners: HashMap::default(),
            listen_by_port: HashMap::default(),
            next_conn: 0,
            next_listener: 0,
            next_port: 0,
            ready: VecDeque::new(),
            heap: BinaryHeap::new(),
            rsts: VecDeque::new(),
            pmtu: pmtu::PmtuCache::new(1024),
            timewait: TimeWaitTable::new(
                config.max_timewait,
                KeyedSip::new(seed ^ 0x7477_6169_7421),
            ),
            port_key: (
                seed.rotate_left(17) ^ 0x706f_7274_7321_6b30,
                seed.rotate_left(41) ^ 0x706f_7274_7321_6b31,
            ),
            cookie_key: CookieKey::new(seed),
            synacks: VecDeque::new(),
            counters: TcpCounters::default(),
            events: EventBuf::default(),
            last_now: Instant::ZERO,
            isn_override: None,
        }
    }

    /// Start of every call that has a context.
    fn begin(&mut self, now: Instant, ctx: &Ctx<'_>) {
        self.last_now = self.last_now.max(now);
        self.events.enabled = ctx.events.enabled();
    }

    /// End of every call that has a context: flush events and counters.
    fn end(&mut self, ctx: &mut Ctx<'_>) {
        for (t, e) in self.events.buf.drain(..) {
            ctx.events.emit(t, || EventKind::Tcp(e));
        }
        ctx.stats.tcp = self.counters.clone();
    }

    /// TCP-wide counters (also copied into [`crate::Stats`] at every stack call).
    pub fn counters(&self) -> &TcpCounters {
        &self.counters
    }

    /// Handle one segment addressed to us (IP header and TCP checksum already verified).
    pub(crate) fn process(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        segment: &[u8],
    ) {
        self.begin(now, ctx);
        self.process_inner(now, src, dst, segment);
        self.end(ctx);
    }

    fn process_inner(&mut self, now: Instant, src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) {
        self.counters.segments_in += 1;
        let Ok(pkt) = TcpPacket::new_checked(segment) else {
            self.counters.drop_malformed += 1;
            return;
        };
        let caps = ChecksumCapabilities::ignored();
        let Ok(repr) = TcpRepr::parse(&pkt, &IpAddress::Ipv4(src), &IpAddress::Ipv4(dst), &caps)
        else {
            self.counters.drop_malformed += 1;
            self.reset_closed_port_syn_fin(now, src, dst, &pkt);
            return;
        };
        let seg = Segment::from_repr(&repr);
        let local = SocketAddrV4::new(dst, repr.dst_port);
        let remote = SocketAddrV4::new(src, repr.src_port);
        if let Some(&h) = self.by_tuple.get(&(local, remote)) {
            let Some(c) = self.conns.get_mut(&h) else {
                return;
            };
            c.accept_room = c
                .listener
                .and_then(|l| self.listeners.get(&l))
                .is_none_or(|l| l.accept.len() < l.backlog);
            let mut env = Env {
                now,
                cfg: &self.config,
                counters: &mut self.counters,
                events: &mut self.events,
            };
            c.on_segment(&mut env, &seg);
            self.mark_ready(h);
            self.after(h);
            return;
        }
        if self.timewait.contains(&(local, remote))
            && self.on_timewait_segment(now, local, remote, &seg)
        {
            return;
        }
        if let Some(&l) = self.listen_by_port.get(&repr.dst_port) {
            let ip = self.listeners.get(&l).map(|x| *x.local.ip());
            if ip.is_some_and(|ip| ip.is_unspecified() || ip == dst) {
                self.on_listen_segment(now, l, local, remote, &seg);
                return;
            }
        }
        // RFC 9293 §3.10.7.1: CLOSED. Never answer a RST.
        if seg.rst {
            return;
        }
        match seg.ack {
            Some(ack) => self.queue_rst(now, local, remote, ack, None),
            None => self.queue_rst(now, local, remote, Seq(0), Some(seg.seq + seg.len())),
        }
    }

    /// smoltcp's parser refuses SYN+FIN (no `TcpControl` holds both), but RFC 9293
    /// §3.10.7.1 still owes a closed port's answer: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>,
    /// SEG.LEN counting both SYN and FIN, as Linux sends. Ports with a connection or a listener
    /// drop it (Linux discards SYN+FIN in LISTEN too).
    fn reset_closed_port_syn_fin(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        pkt: &TcpPacket<&[u8]>,
    ) {
        if !(pkt.syn() && pkt.fin()) || pkt.rst() || pkt.ack() || pkt.src_port() == 0 {
            return;
        }
        let local = SocketAddrV4::new(dst, pkt.dst_port());
        let remote = SocketAddrV4::new(src, pkt.src_port());
        if self.by_tuple.contains_key(&(local, remote))
            || self.timewait.contains(&(local, remote))
            || self.listen_by_port.contains_key(&local.port())
        {
            return;
        }
        let len = pkt.payload().len() as u32 + 2;
        let seq = Seq::from_wire(pkt.seq_number());
        self.queue_rst(now, local, remote, Seq(0), Some(seq + len));
    }

    /// Queue a RST for a segment without connection (bounded).
    fn queue_rst(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: Seq,
        ack: Option<Seq>,
    ) {
        if self.rsts.len() >= self.config.max_pending_rsts {
            self.counters.drop_rst_queue_full += 1;
            return;
        }
        self.events
            .emit(now, || TcpEvent::ResetSent { local, remote });
        self.rsts.push_back(PendingRst {
            local,
            remote,
            seq,
            ack,
            ack_only: None,
        });
    }

    /// A segment for a 4-tuple in TIME-WAIT (`timewait.rs`). Returns false when the entry was
    /// deleted and the segment must go on to the listener (a new incarnation's SYN).
    fn on_timewait_segment(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) -> bool {
        let key = (local, remote);
        let Some(e) = self.timewait.get(&key).copied() else {
            return false;
        };
        let listening = self.listen_by_port.contains_key(&local.port());
        match timewait::decide(&e, seg, now, listening) {
            TwAction::Drop => {}
            TwAction::IgnoreRst => self.counters.timewait_rst_ignored += 1,
            TwAction::Reopen => {
                self.counters.timewait_reopened += 1;
                self.timewait.remove(&key);
                return false;
            }
            a @ (TwAction::Ack | TwAction::AckRestart) => {
                if a == TwAction::AckRestart {
                    self.timewait.restart(&key, now + self.config.msl * 2);
                }
                if let Some(x) = self.timewait.get_mut(&key) {
                    x.last_ack = Some(now);
                }
                if self.rsts.len() >= self.config.max_pending_rsts {
                    self.counters.drop_rst_queue_full += 1;
                    return true;
                }
                self.counters.timewait_acks += 1;
                let ts = e
                    .ts_recent
                    .map(|recent| (timestamps::ts_clock(now).wrapping_add(e.ts_offset), recent));
                self.rsts.push_back(PendingRst {
                    local,
                    remote,
                    seq: e.snd_nxt,
                    ack: Some(e.rcv_nxt),
                    ack_only: Some((e.window, ts)),
                });
            }
        }
        true
    }

    /// ICMP destination unreachable quoting one of our segments (RFC 1122 §4.2.3.9).
    pub(crate) fn icmp_error(&mut self, now: Instant, ctx: &mut Ctx<'_>, err: TcpIcmpError) {
        self.begin(now, ctx);
        if let Some(&h) = self.by_tuple.get(&(err.local, err.remote)) {
            if let Some(c) = self.conns.get_mut(&h) {
                // RFC 5927 §4.1: only believe errors quoting a sequence number in flight.
                let seq = Seq(err.seq);
                if !(c.snd_una <= seq && seq < c.snd_max.max_seq(c.snd_una + 1)) {
                    self.counters.drop_icmp_out_of_window += 1;
                } else if let Some(reported) = err.frag_mtu {
                    let mut env = Env {
                        now,
                        cfg: &self.config,
                        counters: &mut self.counters,
                        events: &mut self.events,
                    };
                    match c.on_frag_needed(&mut env, reported) {
                        Some(mtu) => self.pmtu.set(*err.remote.ip(), mtu, now),
                        None => self.counters.drop_icmp_bad_mtu += 1,
                    }
                    self.mark_ready(h);
                } else if err.hard && matches!(c.state, TcpState::SynSent | TcpState::SynReceived) {
                    self.counters.icmp_hard_errors += 1;
                    let mut env = Env {
                        now,
                        cfg: &self.config,
                        counters: &mut self.counters,
                        events: &mut self.events,
                    };
                    c.abort_with(&mut env, err.error);
                } else {
                    self.counters.icmp_soft_errors += 1;
                    c.soft_error = Some(err.error);
                }
                self.after(h);
            }
        }
        self.end(ctx);
    }

    /// Write the next segment to send at the start of `out`.
    pub(crate) fn poll_transmit(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        out: &mut [u8],
    ) -> Option<TcpTransmit> {
        self.begin(now, ctx);
        let r = self.poll_transmit_inner(now, out);
        self.end(ctx);
        r
    }

    fn poll_transmit_inner(&mut self, now: Instant, out: &mut [u8]) -> Option<TcpTransmit> {
        while let Some(r) = self.rsts.pop_front() {
            if let Some((window, ts)) = r.ack_only {
                let ack = r.ack.unwrap_or(Seq(0));
                if let Some(len) = output::emit_ack(out, r.local, r.remote, r.seq, ack, window, ts)
                {
                    self.counters.segments_out += 1;
                    return Some(TcpTransmit {
                        src: *r.local.ip(),
                        dst: *r.remote.ip(),
                        len,
                    });
                }
                continue;
            }
            if let Some(len) = output::emit_rst(out, r.local, r.remote, r.seq, r.ack) {
                self.counters.resets_sent += 1;
                self.counters.segments_out += 1;
                return Some(TcpTransmit {
                    src: *r.local.ip(),
                    dst: *r.remote.ip(),
                    len,
                });
            }
        }
        if let Some(t) = self.poll_synack(out) {
            return Some(t);
        }
        while let Some(h) = self.ready.pop_front() {
            let Some(c) = self.conns.get_mut(&h) else {
                continue;
            };
            c.queued = false;
            let mut env = Env {
                now,
                cfg: &self.config,
                counters: &mut self.counters,
                events: &mut self.events,
            };
            let res = c.poll_segment(&mut env, out);
            let (src, dst) = (*c.local.ip(), *c.remote.ip());
            if let Some(len) = res {
                // It may have more: keep it in the set, behind the others (round robin).
                c.queued = true;
                self.ready.push_back(h);
                self.after(h);
                return Some(TcpTransmit { src, dst, len });
            }
            self.after(h);
        }
        None
    }

    /// The earliest timer deadline (possibly a stale one: waking early is harmless).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let conns = self.heap.peek().map(|Reverse((t, _))| *t);
        match (conns, self.timewait.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run every connection timer due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        self.begin(now, ctx);
        let events = &mut self.events;
        self.timewait.expire(now, |e| {
            let conn = e.conn;
            events.emit(now, || TcpEvent::StateChange {
                conn,
                from: TcpState::TimeWait,
                to: TcpState::Closed,
            });
        });
        while let Some(&Reverse((t, h))) = self.heap.peek() {
            if t > now {
                break;
            }
            self.heap.pop();
            let Some(c) = self.conns.get_mut(&h) else {
                continue;
            };
            if c.scheduled != Some(t) {
                continue; // superseded entry
            }
            c.scheduled = None;
            let mut env = Env {
                now,
                cfg: &self.config,
                counters: &mut self.counters,
                events: &mut self.events,
            };
            while let Some(timer) = c.timers.take_expired(now) {
                c.on_timer(&mut env, timer);
            }
            self.mark_ready(h);
            self.after(h);
        }
        self.end(ctx);
    }

    /// Replace connection `h`, which just entered TIME-WAIT, by a compact entry
    /// (`timewait.rs`). Anything it still had to send (the ACK of the peer's FIN) goes out
    /// from the entry. An application still holding the handle keeps a detached shell that
    /// reports TIME-WAIT until the entry ends.
    fn enter_timewait(&mut self, h: ConnHandle) {
        let now = self.last_now;
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        let key = (c.local, c.remote);
        let window = (c.rcv_nxt.dist_to(c.rcv_adv) >> c.rcv_shift).min(u32::from(u16::MAX)) as u16;
        let e = TimeWaitEntry {
            snd_nxt: c.snd_max,
            rcv_nxt: c.rcv_nxt,
            window,
            ts_recent: c.ts.map(|t| t.recent),
            ts_offset: c.ts.map_or(0, |t| t.offset),
            expires: now + self.config.msl * 2,
            conn: h,
            owned: !c.orphan,
            last_ack: None,
        };
        let owed_ack = c.ack_now;
        c.detached = true;
        c.timers.clear();
        c.sendbuf.clear();
        c.ack_now = false;
        if c.orphan {
            self.conns.remove(&h);
        }
        if self.by_tuple.get(&key) == Some(&h) {
            self.by_tuple.remove(&key);
        }
        self.counters.timewait_entered += 1;
        self.counters.drop_timewait_full += self.timewait.insert(key, e);
        if owed_ack && self.rsts.len() < self.config.max_pending_rsts {
            self.counters.timewait_acks += 1;
            let ts = e
                .ts_recent
                .map(|recent| (timestamps::ts_clock(now).wrapping_add(e.ts_offset), recent));
            self.rsts.push_back(PendingRst {
                local: key.0,
                remote: key.1,
                seq: e.snd_nxt,
                ack: Some(e.rcv_nxt),
                ack_only: Some((e.window, ts)),
            });
        }
    }

    /// Connections in TIME-WAIT (compact entries).
    pub fn timewait_count(&self) -> usize {
        self.timewait.len()
    }

    /// Whether `h` is a detached handle whose 4-tuple is still in TIME-WAIT.
    fn in_timewait(&self, h: ConnHandle, c: &Conn) -> bool {
        self.timewait
            .get(&(c.local, c.remote))
            .is_some_and(|e| e.owned && e.conn == h)
    }

    /// Put `h` in the ready set.
    fn mark_ready(&mut self, h: ConnHandle) {
        if let Some(c) = self.conns.get_mut(&h) {
            if !c.queued {
                c.queued = true;
                self.ready.push_back(h);
            }
        }
    }

    /// Bookkeeping after anything touched connection `h`: accept queue, deletion, timer heap.
    fn after(&mut self, h: ConnHandle) {
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        if c.detached {
            // Its TIME-WAIT lives in the table; only the application's handle is left.
            if c.orphan {
                self.conns.remove(&h);
            }
            return;
        }
        if c.state == TcpState::TimeWait {
            self.enter_timewait(h);
            return;
        }
        if let Some(l) = c.listener {
            let synchronized = !matches!(
                c.state,
                TcpState::SynReceived | TcpState::Closed | TcpState::Listen
            );
            if synchronized && !c.in_accept_queue {
                if let Some(lst) = self.listeners.get_mut(&l) {
                    lst.syn_count = lst.syn_count.saturating_sub(1);
                    lst.accept.push_back(h);
                    c.in_accept_queue = true;
                }
            }
        }
        if c.state == TcpState::Closed {
            if self.by_tuple.get(&(c.local, c.remote)) == Some(&h) {
                self.by_tuple.remove(&(c.local, c.remote));
            }
            if let Some(l) = c.listener {
                if let Some(lst) = self.listeners.get_mut(&l) {
                    if c.in_accept_queue {
                        lst.accept.retain(|x| *x != h);
                    } else {
                        lst.syn_count = lst.syn_count.saturating_sub(1);
                    }
                }
            }
            if c.orphan || c.listener.is_some() {
                self.conns.remove(&h);
            } else {
                c.timers.clear();
            }
            return;
        }
        if let Some(next) = c.timers.next() {
            if c.scheduled.is_none_or(|s| next < s) {
                c.scheduled = Some(next);
                self.heap.push(Reverse((next, h)));
            }
        }
    }
}
