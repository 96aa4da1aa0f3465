//! One connection's transmission control block (RFC 9293 §3.3.1) and the user calls on it
//! (RFC 9293 §3.10.1-§3.10.6: OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS), plus timer expiry
//! (RFC 9293 §3.10.8, RFC 6298 §5, §3.8.6.1 persist, §3.8.4 keep-alive).
//!
//! Segment arrival lives in `input.rs`, segment output in `output.rs`.

use core::net::SocketAddrV4;

use super::congestion::{self, CongestionControl};
use super::event::{CongestionReason, EventBuf, RetransmitReason, TcpEvent};
use super::recv::RecvBuffer;
use super::rtt::RttEstimator;
use super::sack::Scoreboard;
use super::send::SendBuffer;
use super::seq::Seq;
use super::timers::{Timer, TimerTable};
use super::timestamps::Timestamps;
use super::{ConnHandle, ListenerHandle, TcpConfig, TcpCounters, TcpInfo, TcpState};
use crate::error::TcpError;
use crate::time::{Duration, Instant};

/// What every connection method needs from the TCP layer: time, configuration, counters and
/// the event buffer.
pub(crate) struct Env<'a> {
    /// The current time.
    pub now: Instant,
    /// TCP configuration.
    pub cfg: &'a TcpConfig,
    /// TCP-wide counters.
    pub counters: &'a mut TcpCounters,
    /// Trace events.
    pub events: &'a mut EventBuf,
}

/// A transmission control block (RFC 9293 §3.3.1).
#[derive(Debug)]
pub(crate) struct Conn {
    pub id: ConnHandle,
    pub state: TcpState,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// The listener that created this connection, until `accept` hands it out.
    pub listener: Option<ListenerHandle>,
    /// In the listener's accept queue (ESTABLISHED, not yet accepted).
    pub in_accept_queue: bool,
    /// Set by the TCP layer before input: whether the listener's accept queue has room.
    pub accept_room: bool,
    /// The application released its handle (closed); the stack finishes the close alone.
    pub orphan: bool,
    /// Terminal error reported to the application.
    pub error: Option<TcpError>,
    /// Last soft ICMP error, reported if the connection times out (RFC 1122 §4.2.3.9).
    pub soft_error: Option<TcpError>,
    /// Queued in the TCP layer's ready set.
    pub queued: bool,
    /// Earliest deadline this connection has in the TCP layer's timer heap.
    pub scheduled: Option<Instant>,
    /// The connection went to TIME-WAIT and lives on as a compact entry (`timewait.rs`);
    /// this block is only the application's handle.
    pub detached: bool,

    // Send sequence variables (RFC 9293 §3.3.1).
    pub(super) iss: Seq,
    pub(super) snd_una: Seq,
    pub(super) snd_nxt: Seq,
    /// Highest sequence number sent (SND.NXT moves back on a timeout; this does not).
    pub(super) snd_max: Seq,
    pub(super) snd_wnd: u32,
    pub(super) snd_wl1: Seq,
    pub(super) snd_wl2: Seq,
    pub(super) max_snd_wnd: u32,
    pub(super) snd_shift: u8,
    /// Window scale we offered in our SYN (RFC 7323 §2.2).
    pub(super) wscale_offered: Option<u8>,
    pub(super) mss: u32,
    pub(super) our_mss: u16,
    /// Path MTU estimate (RFC 1191): the link MTU, or less once learned.
    pub(super) pmtu: u16,
    pub(super) sendbuf: SendBuffer,
    /// The application asked for a FIN (shutdown or close).
    pub(super) fin_queued: bool,
    /// Sequence number of our FIN once sent.
    pub(super) fin_seq: Option<Seq>,

    // Receive sequence variables.
    pub(super) irs: Seq,
    pub(super) rcv_nxt: Seq,
    /// Right edge of the window we announced last (RCV.NXT + RCV.WND at that time).
    pub(super) rcv_adv: Seq,
    pub(super) rcv_shift: u8,
    pub(super) recvbuf: RecvBuffer,
    /// Sequence number of the peer's FIN, once seen (possibly out of order).
    pub(super) peer_fin: Option<Seq>,
    pub(super) fin_rcvd: bool,

    // Timestamps (RFC 7323).
    /// Our TSval offset (RFC 7323 §5.4), set when the block is created.
    pub(super) ts_offset: u32,
    /// Negotiated timestamp state; `None` when either SYN lacked the option.
    pub(super) ts: Option<Timestamps>,
    /// Last.ACK.sent (RFC 7323 §4.3): the ACK number of our latest segment.
    pub(super) last_ack_sent: Seq,
    /// Next time an RTT sample may be taken from TSecr (one per round trip, RFC 7323 §4.1
    /// with RFC 6298's one-sample-per-RTT gains).
    pub(super) ts_next_sample: Instant,

    // Output requests.
    pub(super) ack_now: bool,
    /// ACK numbers owed for in-order data received in one batch: one ACK per two full-sized
    /// segments (RFC 1122 §4.2.3.2, RFC 5681 §4.2) even when the link hands us many segments
    /// before we can send; each carries the RCV.NXT it had then, so none is a duplicate.
    pub(super) stretch_acks: std::collections::VecDeque<Seq>,
    /// The application read data and the window we could offer grew: send a window update
    /// if, and only if, the window on the wire changes (RFC 9293 §3.8.6.2.2; an identical
    /// pure ACK would count as a duplicate ACK at the sender, RFC 5681 §4.2).
    pub(super) window_update: bool,
    /// The window field of our latest segment (after scaling and the 65,535 cap).
    pub(super) last_window_field: u16,
    /// Duplicate ACKs still owed for out-of-order segments (RFC 5681 §4.2: one per segment).
    pub(super) dup_acks_owed: u8,
    pub(super) segs_since_ack: u32,
    pub(super) rst_pending: bool,
    pub(super) rst_reply: Option<Seq>,
    /// A retransmission to send next: start, maximum length, why.
    pub(super) rexmit: Option<(Seq, u32, RetransmitReason)>,
    /// Selective acknowledgments in use (RFC 2018: both SYNs carried SACK-permitted).
    pub(super) sack_ok: bool,
    /// SACKed ranges reported by the peer.
    pub(super) scoreboard: Scoreboard,
    /// Everything below this was already retransmitted in the current recovery episode.
    pub(super) rexmit_next: Seq,
    /// The last retransmission of SND.UNA and SND.MAX when it left: if the peer SACKs data
    /// sent well after it while still missing it, it was lost too.
    pub(super) una_rexmit: Option<(Seq, Seq)>,
    pub(super) probe_pending: bool,
    /// The persist timer fired with a small non-zero window: send despite SWS avoidance.
    pub(super) sws_override: bool,
    /// Start of the current one-second challenge-ACK window (RFC 5961 §7).
    pub(super) challenge_window: Instant,
    /// Challenge ACKs sent in it.
    pub(super) challenge_count: u32,
    /// Exponential backoff of zero-window probes (RFC 9293 §3.8.6.1 SHOULD-29).
    pub(super) persist_shift: u32,
    pub(super) keepalive_pending: bool,

    // Reliability and congestion.
    pub(super) retransmits: u32,
    pub(super) probes: u32,
    pub(super) rtt: RttEstimator,
    pub(super) rtt_probe: Option<(Seq, Instant)>,
    /// When data was last sent (RFC 5681 §4.1 restart after idle).
    pub(super) last_send: Option<Instant>,
    pub(super) cc: Box<dyn CongestionControl>,
    pub(super) dupacks: u32,
    /// Extra window granted by RFC 3042 Limited Transmit (bytes).
    pub(super) limited_transmit: u32,
    pub(super) timers: TimerTable,
    pub(super) nodelay: bool,
    pub(super) keepalive: Option<Duration>,

    // Statistics.
    pub(super) info: TcpInfo,
}

impl Conn {
    /// A new block for an active open (RFC 9293 §3.10.1, state SYN-SENT) or a passive one
    /// (§3.10.7.2, created in SYN-RECEIVED by the listener).
    pub fn new(
        cfg: &TcpConfig,
        id: ConnHandle,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: Seq,
        our_mss: u16,
        state: TcpState,
    ) -> Conn {
        let wscale = cfg.window_scale.min(super::options::MAX_WINDOW_SCALE);
        Conn {
            id,
            state,
            local,
            remote,
            listener: None,
            in_accept_queue: false,
            accept_room: true,
            orphan: false,
            error: None,
            soft_error: None,
            queued: false,
            scheduled: None,
            detached: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: Seq(0),
            max_snd_wnd: 0,
            snd_shift: 0,
            wscale_offered: Some(wscale),
            mss: super::options::DEFAULT_MSS.min(our_mss) as u32,
            our_mss,
            pmtu: our_mss.saturating_add(40),
            sendbuf: SendBuffer::new(cfg.send_buffer),
            fin_queued: false,
            fin_seq: None,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_adv: Seq(0),
            rcv_shift: 0,
            recvbuf: RecvBuffer::new(cfg.recv_buffer, cfg.max_ooo_blocks),
            ts_offset: 0,
            ts: None,
            last_ack_sent: Seq(0),
            ts_next_sample: Instant::ZERO,
            peer_fin: None,
            fin_rcvd: false,
            ack_now: false,
            stretch_acks: std::collections::VecDeque::new(),
            window_update: false,
            last_window_field: 0,
            dup_acks_owed: 0,
            segs_since_ack: 0,
            rst_pending: false,
            rst_reply: None,
            rexmit: None,
            sack_ok: false,
            scoreboard: Scoreboard::new(cfg.max_sack_blocks),
            rexmit_next: iss,
            una_rexmit: None,
            probe_pending: false,
            sws_override: false,
            persist_shift: 0,
            challenge_window: Instant::ZERO,
            challenge_count: 0,
            keepalive_pending: false,
            retransmits: 0,
            probes: 0,
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            rtt_probe: None,
            last_send: None,
            cc: congestion::build(cfg.congestion, super::options::DEFAULT_MSS as u32),
            dupacks: 0,
            limited_transmit: 0,
            timers: TimerTable::default(),
            nodelay: !cfg.nagle,
            keepalive: cfg.keepalive,
            info: TcpInfo::default(),
        }
    }

    /// Move to `to`, recording the transition (RFC 9293 §3.3.2).
    pub(super) fn set_state(&mut self, env: &mut Env<'_>, to: TcpState) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        let conn = self.id;
        env.events
            .emit(env.now, || TcpEvent::StateChange { conn, from, to });
        match to {
            TcpState::Established => env.counters.established += 1,
            TcpState::TimeWait => {
                // RFC 9293 §3.4.2: linger 2*MSL, keeping nothing but the sequence state.
                self.timers.clear();
                self.timers.set(Timer::TimeWait, env.now + env.cfg.msl * 2);
                self.sendbuf.clear();
            }
            TcpState::Closed => {
                self.timers.clear();
                self.sendbuf.clear();
                self.ack_now = false;
                self.rexmit = None;
                self.probe_pending = false;
                self.keepalive_pending = false;
            }
            _ => {}
        }
    }

    /// End the connection with `error` (reset, refused, timeout): RFC 9293 §3.10.7.4 "enter
    /// CLOSED, delete the TCB"; the handle stays valid so the application sees the error.
    pub(super) fn abort_with(&mut self, env: &mut Env<'_>, error: TcpError) {
        self.error = Some(error);
        let conn = self.id;
        env.events
            .emit(env.now, || TcpEvent::Aborted { conn, error });
        self.recvbuf.clear();
        self.set_state(env, TcpState::Closed);
    }

    /// Whether our SYN has been acknowledged (SND.UNA > ISS).
    pub(super) fn syn_acked(&self) -> bool {
        self.snd_una != self.iss
    }

    /// Sequence number of the first byte in the send buffer.
    pub(super) fn buf_seq(&self) -> Seq {
        if self.syn_acked() {
            self.snd_una
        } else {
            self.iss + 1
        }
    }

    /// Bytes queued but never sent.
    pub(super) fn unsent(&self) -> u32 {
        let sent = self.buf_seq().dist_to(self.snd_max) as usize;
        self.sendbuf.len().saturating_sub(sent) as u32
    }

    /// Bytes in flight (sent and unacknowledged, counting SYN/FIN).
    pub(super) fn flight(&self) -> u32 {
        self.snd_una.dist_to(self.snd_max)
    }

    /// Record a cwnd/ssthresh change if the algorithm made one.
    pub(super) fn note_cc(
        &mut self,
        env: &mut Env<'_>,
        before: (u32, u32),
        reason: CongestionReason,
    ) {
        let after = (self.cc.cwnd(), self.cc.ssthresh());
        if after != before {
            let conn = self.id;
            env.events.emit(env.now, || TcpEvent::Congestion {
                conn,
                cwnd: after.0,
                ssthresh: after.1,
                reason,
            });
        }
    }

    // ---- user calls (RFC 9293 §3.10.2 - §3.10.6) -----------------------------------------

    /// SEND (RFC 9293 §3.10.2).
    pub fn send(&mut self, data: &[u8]) -> Result<usize, TcpError> {
        if let Some(e) = self.error {
            // The error that ended the connection (reset, refused, timed out, unreachable).
            return Err(e);
        }
        if self.fin_queued {
            return Err(TcpError::BrokenPipe);
        }
        match self.state {
            TcpState::SynSent
            | TcpState::SynReceived
            | TcpState::Established
            | TcpState::CloseWait => {}
            _ => return Err(TcpError::BrokenPipe),
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.sendbuf.write(data) {
            0 => Err(TcpError::WouldBlock),
            n => Ok(n),
        }
    }

    /// RECEIVE (RFC 9293 §3.10.3): data, `Ok(0)` at end of stream, or an error.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TcpError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let offered_before = self.rcv_nxt.dist_to(self.rcv_adv);
        let n = self.recvbuf.read(buf);
        if n > 0 {
            // Window update when the window we could offer at least doubled and grew by an MSS
            // (receiver SWS avoidance, RFC 9293 §3.8.6.2.2; same rule as Linux).
            let now_offer = self.recvbuf.window_to_offer(offered_before, self.mss);
            if self.state_can_receive()
                && now_offer >= offered_before.saturating_mul(2)
                && now_offer - offered_before >= self.mss.min(self.recvbuf.capacity() as u32 / 2)
            {
                self.window_update = true;
            }
            return Ok(n);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.fin_rcvd {
            return Ok(0);
        }
        match self.state {
            TcpState::Closed => Err(TcpError::NotConnected),
            _ => Err(TcpError::WouldBlock),
        }
    }

    /// Whether the peer may still send us data (so window updates matter).
    pub(super) fn state_can_receive(&self) -> bool {
        matches!(
            self.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }

    /// CLOSE for the sending direction (RFC 9293 §3.10.4): queue a FIN after the data.
    pub fn shutdown_write(&mut self, env: &mut Env<'_>) -> Result<(), TcpError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.fin_queued {
            return Ok(());
        }
        match self.state {
            TcpState::SynSent | TcpState::SynReceived => self.fin_queued = true,
            TcpState::Established => {
                self.fin_queued = true;
                self.set_state(env, TcpState::FinWait1);
            }
            TcpState::CloseWait => {
                self.fin_queued = true;
                self.set_state(env, TcpState::LastAck);
            }
            _ => return Err(TcpError::NotConnected),
        }
        Ok(())
    }

    /// CLOSE (RFC 9293 §3.10.4) by the application: release the handle. Unread data means
    /// the application lost bytes, so the peer is told with a RST (RFC 1122 §4.2.2.13).
    pub fn close(&mut self, env: &mut Env<'_>) {
        self.orphan = true;
        match self.state {
            TcpState::SynSent => self.set_state(env, TcpState::Closed),
            _ if self.recvbuf.readable() > 0 && self.state != TcpState::Closed => self.abort(env),
            TcpState::Established | TcpState::CloseWait | TcpState::SynReceived => {
                let _ = self.shutdown_write(env);
            }
            TcpState::FinWait2 => self
                .timers
                .set(Timer::FinWait2, env.now + env.cfg.fin_wait2_timeout),
            _ => {}
        }
    }

    /// ABORT (RFC 9293 §3.10.5): send RST in synchronized states, then CLOSED.
    pub fn abort(&mut self, env: &mut Env<'_>) {
        match self.state {
            TcpState::SynReceived
            | TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait => self.rst_pending = true,
            _ => self.set_state(env, TcpState::Closed),
        }
        self.recvbuf.clear();
        self.sendbuf.clear();
    }

    /// Whether `recv` would not block.
    pub fn can_recv(&self) -> bool {
        self.recvbuf.readable() > 0
            || self.fin_rcvd
            || self.error.is_some()
            || self.state == TcpState::Closed
    }

    /// Whether `send` would not block.
    pub fn can_send(&self) -> bool {
        match self.state {
            TcpState::Established | TcpState::CloseWait => {
                self.sendbuf.free() > 0 || self.fin_queued
            }
            TcpState::SynSent | TcpState::SynReceived => false,
            _ => true,
        }
    }

    /// STATUS (RFC 9293 §3.10.6): statistics as plain data.
    pub fn info(&self) -> TcpInfo {
        let mut i = self.info.clone();
        i.state = Some(self.state);
        i.local = Some(self.local);
        i.remote = Some(self.remote);
        i.srtt = self.rtt.srtt();
        i.rttvar = self.rtt.rttvar();
        i.rto = self.rtt.rto();
        i.cwnd = self.cc.cwnd();
        i.ssthresh = self.cc.ssthresh();
        i.snd_wnd = self.snd_wnd;
        i.rcv_wnd = self.rcv_nxt.dist_to(self.rcv_adv);
        i.mss = self.mss as u16;
        i.ooo_bytes = self.recvbuf.ooo_bytes() as u64;
        i.congestion = self.cc.name();
        i.sack = self.sack_ok;
        i.timestamps = self.ts.is_some();
        i.pmtu = self.pmtu;
        i.snd_wscale = self.snd_shift;
        i.rcv_wscale = self.rcv_shift;
        i
    }

    // ---- timers (RFC 9293 §3.10.8) -------------------------------------------------------

    /// Handle the expiry of `t`.
    pub fn on_timer(&mut self, env: &mut Env<'_>, t: Timer) {
        let conn = self.id;
        env.events
            .emit(env.now, || TcpEvent::TimerFired { conn, timer: t });
        match t {
            Timer::Rto => self.on_rto(env),
            Timer::DelayedAck => self.ack_now = true,
            Timer::Persist => {
                // RFC 9293 §3.8.6.1: probe the zero window, backing off exponentially; MUST-26:
                // the connection is only abandoned if probes go unanswered (`probes` is reset on
                // every acknowledgment).
                if self.unsent() == 0 {
                    return;
                }
                if self.snd_wnd > 0 {
                    // RFC 9293 §3.8.6.2.1 (4): the override timeout: send what the small
                    // window allows rather than wait for a full segment forever.
                    self.sws_override = true;
                    return;
                }
                self.probes += 1;
                if self.probes > env.cfg.max_retransmits {
                    let e = self.soft_error.unwrap_or(TcpError::TimedOut);
                    env.counters.timeouts += 1;
                    self.abort_with(env, e);
                    return;
                }
                self.probe_pending = true;
                env.events.emit(env.now, || TcpEvent::WindowProbe { conn });
                // Backoff survives the peer's answers (they reset `probes`, not this).
                self.persist_shift = (self.persist_shift + 1).min(16);
                let backoff = self
                    .rtt
                    .rto()
                    .saturating_mul(1 << self.persist_shift)
                    .min(env.cfg.rto_max);
                self.timers.set(Timer::Persist, env.now + backoff);
            }
            Timer::KeepAlive => {
                let Some(idle) = self.keepalive else { return };
                if !matches!(self.state, TcpState::Established | TcpState::CloseWait) {
                    return;
                }
                self.probes += 1;
                if self.probes > env.cfg.keepalive_probes {
                    env.counters.timeouts += 1;
                    self.abort_with(env, TcpError::TimedOut);
                    return;
                }
                self.keepalive_pending = true;
                env.events
                    .emit(env.now, || TcpEvent::KeepAliveProbe { conn });
                let _ = idle;
                self.timers
                    .set(Timer::KeepAlive, env.now + env.cfg.keepalive_interval);
            }
            Timer::TimeWait => self.set_state(env, TcpState::Closed),
            Timer::FinWait2 => {
                if self.state == TcpState::FinWait2 {
                    self.set_state(env, TcpState::Closed);
                }
            }
        }
    }

    /// RFC 6298 §5.4-§5.7 and RFC 1122 §4.2.3.5: retransmit the earliest unacknowledged
    /// segment (go back to SND.UNA), back off, and give up after the configured count.
    fn on_rto(&mut self, env: &mut Env<'_>) {
        if self.snd_una == self.snd_max {
            return;
        }
        self.retransmits += 1;
        let limit = match self.state {
            TcpState::SynSent | TcpState::SynReceived => env.cfg.max_syn_retransmits,
            _ => env.cfg.max_retransmits,
        };
        if self.retransmits > limit {
            env.counters.timeouts += 1;
            let e = self.soft_error.unwrap_or(TcpError::TimedOut);
            self.abort_with(env, e);
            return;
        }
        env.counters.rto_expirations += 1;
        self.blackhole_check(env);
        self.rtt.on_timeout();
        if self.syn_acked() {
            let before = (self.cc.cwnd(), self.cc.ssthresh());
            self.cc.on_rto(self.flight(), self.snd_max, self.mss);
            self.note_cc(env, before, CongestionReason::Timeout);
        }
        self.snd_nxt = self.snd_una;
        self.rtt_probe = None; // Karn: never time a retransmission.
        self.dupacks = 0;
        self.rexmit = None;
        // RFC 2018 §8: after a timeout, SACK information is not trusted.
        self.scoreboard.clear();
        self.rexmit_next = self.snd_una;
        if self.snd_wnd == 0 && self.syn_acked() {
            // The receiver shrank its window to zero with data in flight (RFC 1122
            // §4.2.2.16 lets it). Go-back-N would send nothing, and the persist timer only
            // runs with nothing in flight: resend the head segment regardless of the window,
            // as Linux does, so that it doubles as the zero-window probe (RFC 9293 §3.8.6.1)
            // and a lost window update cannot stall the connection until it times out.
            self.rexmit = Some((self.snd_una, self.mss, RetransmitReason::Timeout));
        } else {
            let len = self.flight().min(self.mss);
            self.retransmit_event(env, RetransmitReason::Timeout, self.snd_una, len);
        }
        // (5.6): restart the timer with the backed-off value.
        self.timers.set(Timer::Rto, env.now + self.rtt.rto());
    }

    /// Bytes of options on every data segment (the timestamps option, RFC 7323 §3.2).
    fn option_overhead(&self) -> u32 {
        12 * self.ts.is_some() as u32
    }

    /// RFC 1191 §6.3: an ICMP "fragmentation needed" (already matched to data in flight,
    /// RFC 5927 §4.1) reporting `reported`. Returns the new path MTU, or `None` if ignored.
    pub(super) fn on_frag_needed(&mut self, env: &mut Env<'_>, reported: u16) -> Option<u16> {
        let mtu = super::pmtu::lowered(self.pmtu, reported)?;
        env.counters.pmtu_lowered += 1;
        self.set_path_mtu(env, mtu, false);
        Some(mtu)
    }

    /// Take `mtu` as the path MTU: shrink the MSS and send everything in flight again in
    /// segments that fit, without a congestion response (the drop was not congestion).
    fn set_path_mtu(&mut self, env: &mut Env<'_>, mtu: u16, blackhole: bool) {
        self.pmtu = mtu;
        let mss = (u32::from(mtu).saturating_sub(40)
            - self.option_overhead().min(u32::from(mtu) / 2))
        .max(u32::from(env.cfg.min_mss));
        if mss >= self.mss {
            return;
        }
        self.mss = mss;
        let conn = self.id;
        env.events.emit(env.now, || TcpEvent::PathMtu {
            conn,
            mtu,
            mss,
            blackhole,
        });
        if self.syn_acked() && self.snd_una != self.snd_max {
            self.snd_nxt = self.snd_una;
            self.rtt_probe = None;
            self.rexmit = None;
            self.rexmit_next = self.snd_una;
            let len = self.flight().min(self.mss);
            self.retransmit_event(env, RetransmitReason::PathMtu, self.snd_una, len);
        }
    }

    /// RFC 4821 §10.1 (as Linux's `tcp_mtu_probing`): the same data timed out
    /// `blackhole_rtos` times in a row on an established connection: perhaps the path drops
    /// our full-sized segments and the ICMP that would say so. Halve the MSS (down to 536).
    fn blackhole_check(&mut self, env: &mut Env<'_>) {
        let n = env.cfg.blackhole_rtos;
        if n == 0
            || self.retransmits != n
            || !matches!(self.state, TcpState::Established | TcpState::CloseWait)
            || self.mss <= super::pmtu::BLACKHOLE_MIN_MSS
        {
            return;
        }
        env.counters.pmtu_blackhole += 1;
        let mss = (self.mss / 2).max(super::pmtu::BLACKHOLE_MIN_MSS);
        let mtu = (mss + 40 + self.option_overhead()).min(u32::from(u16::MAX)) as u16;
        self.pmtu = self.pmtu.min(mtu);
        let conn = self.id;
        self.mss = mss;
        env.events.emit(env.now, || TcpEvent::PathMtu {
            conn,
            mtu,
            mss,
            blackhole: true,
        });
    }

    /// Trace a retransmission starting at SND.UNA.
    pub(super) fn retransmit_event(
        &mut self,
        env: &mut Env<'_>,
        reason: RetransmitReason,
        seq: Seq,
        len: u32,
    ) {
        let conn = self.id;
        let seq = seq.0;
        env.events.emit(env.now, || TcpEvent::Retransmit {
            conn,
            seq,
            len,
            reason,
        });
    }

    /// Arm or stop the persist timer (RFC 9293 §3.8.6.1): armed while the peer offers a zero
    /// window, we have data to send and nothing is in flight to provoke an ACK.
    pub(super) fn update_persist(&mut self, env: &Env<'_>) {
        // Also armed while sender SWS avoidance holds data back in a window too small for a
        // full segment: the RFC 9293 §3.8.6.2.1 override timeout.
        let unsent = self.unsent();
        let needed = self.syn_acked()
            && unsent > 0
            && self.snd_wnd < unsent.min(self.mss)
            && self.snd_una == self.snd_max
            && !matches!(self.state, TcpState::Closed | TcpState::TimeWait);
        if !needed {
            self.timers.stop(Timer::Persist);
        } else if !self.timers.is_set(Timer::Persist) {
            self.timers.set(Timer::Persist, env.now + self.rtt.rto());
        }
    }

    /// Update the RTO timer after sending or acknowledging (RFC 6298 §5.1-§5.3).
    pub(super) fn update_rto_timer(&mut self, env: &Env<'_>, restart: bool) {
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Rto); // (5.2) everything acknowledged
        } else if restart || !self.timers.is_set(Timer::Rto) {
            self.timers.set(Timer::Rto, env.now + self.rtt.rto()); // (5.1) / (5.3)
        }
    }
}
