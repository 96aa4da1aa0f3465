//! Segment arrival for a connection (RFC 9293 §3.10.7.3 SYN-SENT and §3.10.7.4 all other
//! states), in the RFC's order: sequence check, RST, SYN, ACK, text, FIN. RST and SYN in
//! synchronized states follow RFC 5961 (§3.2, §4.2: challenge ACKs; §5.2: ACK range check).
//! Acknowledgment processing drives RFC 6298 (RTT), RFC 5681/6582 (congestion, fast
//! retransmit) and RFC 9293 §3.8.6 (window management, persist).

use smoltcp::wire::{TcpControl, TcpRepr};

use super::congestion::AckSample;
use super::conn::{Conn, Env};
use super::event::{CongestionReason, RetransmitReason, TcpEvent};
use super::options;
use super::seq::Seq;
use super::timers::Timer;
use super::timestamps::Timestamps;
use super::TcpState;
use crate::error::TcpError;

/// Bound on duplicate ACKs queued for out-of-order arrivals processed in one batch.
const MAX_DUP_ACKS_OWED: u8 = 16;
/// Bound on ACK numbers owed for in-order data of one batch (`Conn::stretch_acks`).
const MAX_STRETCH_ACKS: usize = 16;

/// The fields of an arriving segment that processing needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    pub seq: Seq,
    pub ack: Option<Seq>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub window: u16,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub sack: [Option<(u32, u32)>; 3],
    /// RFC 7323 timestamps option: TSval and TSecr.
    pub tsval: Option<u32>,
    pub tsecr: Option<u32>,
    pub payload: &'a [u8],
}

impl<'a> Segment<'a> {
    /// From a parsed header.
    pub fn from_repr(r: &TcpRepr<'a>) -> Self {
        Segment {
            seq: Seq::from_wire(r.seq_number),
            ack: r.ack_number.map(Seq::from_wire),
            syn: r.control == TcpControl::Syn,
            fin: r.control == TcpControl::Fin,
            rst: r.control == TcpControl::Rst,
            window: r.window_len,
            mss: r.max_seg_size,
            wscale: r.window_scale,
            sack_permitted: r.sack_permitted,
            sack: r.sack_ranges,
            tsval: r.timestamp.map(|t| t.tsval),
            tsecr: r.timestamp.map(|t| t.tsecr),
            payload: r.payload,
        }
    }

    /// SEG.LEN: payload plus SYN and FIN (RFC 9293 §3.4).
    pub fn len(&self) -> u32 {
        self.payload.len() as u32 + self.syn as u32 + self.fin as u32
    }
}

/// RFC 9293 §3.10.7.4, the acceptability table ("first, check sequence number").
pub(crate) fn acceptable(rcv_nxt: Seq, rcv_wnd: u32, seq: Seq, seg_len: u32) -> bool {
    match (seg_len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_range(rcv_nxt, rcv_nxt + rcv_wnd),
        (_, 0) => false,
        (_, _) => {
            seq.in_range(rcv_nxt, rcv_nxt + rcv_wnd)
                || (seq + seg_len - 1).in_range(rcv_nxt, rcv_nxt + rcv_wnd)
        }
    }
}

impl Conn {
    /// Process one arriving segment.
    pub fn on_segment(&mut self, env: &mut Env<'_>, seg: &Segment<'_>) {
        match self.state {
            TcpState::Closed | TcpState::Listen => {}
            TcpState::SynSent => self.on_segment_syn_sent(env, seg),
            _ => self.on_segment_synchronized(env, seg),
        }
        if self.keepalive.is_some()
            && matches!(self.state, TcpState::Established | TcpState::CloseWait)
        {
            self.timers.set(
                Timer::KeepAlive,
                env.now + self.keepalive.unwrap_or_default(),
            );
        }
    }

    /// Take the options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2).
    pub(super) fn take_syn_options(&mut self, env: &Env<'_>, seg: &Segment<'_>) {
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.last_ack_sent = self.rcv_nxt;
        // Our SYN announced an unscaled window (RFC 7323 §2.2).
        self.rcv_adv = self.rcv_nxt + (self.recvbuf.free() as u32).min(u16::MAX as u32);
        self.mss = options::effective_send_mss(seg.mss, self.our_mss, env.cfg.min_mss) as u32;
        // A path MTU learned by earlier connections to this host bounds it too (RFC 1191).
        self.mss = self
            .mss
            .min(u32::from(self.pmtu.saturating_sub(40)).max(u32::from(env.cfg.min_mss)));
        let (snd, rcv) = options::negotiate_window_scale(self.wscale_offered, seg.wscale);
        self.snd_shift = snd;
        self.rcv_shift = rcv;
        if seg.wscale.is_none() {
            // Our SYN-ACK must not carry the option if the peer's SYN did not (RFC 7323 §1.3).
            if self.state != TcpState::SynSent {
                self.wscale_offered = None;
            }
        }
        // RFC 7323 §3.2: timestamps only if both SYNs carried the option (ours does when
        // configured; a SYN,ACK answers only a SYN that had it).
        self.ts = match seg.tsval {
            Some(val) if env.cfg.timestamps => Some(Timestamps::new(self.ts_offset, val, env.now)),
            _ => None,
        };
        if self.ts.is_some() {
            // RFC 6691 §2 / RFC 7323 §3.2: the MSS counts data only; every segment now carries
            // 12 bytes of timestamp option, so data per segment shrinks by as much (Linux's
            // mss_cache does the same: 1460 -> 1448).
            self.mss = self
                .mss
                .saturating_sub(12)
                .max(u32::from(env.cfg.min_mss).min(self.mss));
        }
        self.cc = super::congestion::build(env.cfg.congestion, self.mss);
        // RFC 2018 §2: SACK is used only if both SYNs carried SACK-permitted.
        self.sack_ok = env.cfg.sack && seg.sack_permitted;
    }

    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    fn on_segment_syn_sent(&mut self, env: &mut Env<'_>, seg: &Segment<'_>) {
        // First, the ACK bit.
        let mut ack_ok = false;
        if let Some(ack) = seg.ack {
            if ack <= self.iss || ack > self.snd_max {
                if !seg.rst {
                    self.rst_reply = Some(ack);
                }
                env.counters.drop_bad_ack += 1;
                return;
            }
            ack_ok = true;
        }
        // Second, the RST bit: only an acceptable ACK makes it believable.
        if seg.rst {
            if ack_ok {
                env.counters.resets_received += 1;
                self.abort_with(env, TcpError::ConnectionRefused);
            }
            return;
        }
        // Fourth, the SYN bit.
        if !seg.syn {
            return;
        }
        self.take_syn_options(env, seg);
        if let Some(ack) = seg.ack {
            self.snd_una = ack;
            if self.snd_nxt < self.snd_una {
                self.snd_nxt = self.snd_una;
            }
        }
        // The window in a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = seg.window as u32;
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack.unwrap_or(self.iss);
        self.ack_now = true;
        if self.syn_acked() {
            // Our SYN is acknowledged: ESTABLISHED.
            if let Some((end, sent)) = self.rtt_probe.take() {
                if self.snd_una >= end {
                    self.rtt_sample(env, env.now - sent);
                }
            }
            self.retransmits = 0;
            self.update_rto_timer(env, true);
            self.set_state(env, TcpState::Established);
            if self.fin_queued {
                self.set_state(env, TcpState::FinWait1);
            }
            // "If there are other controls or text in the segment, continue processing at the
            // sixth step": data or FIN riding on the SYN-ACK.
            let rest = Segment {
                syn: false,
                seq: seg.seq + 1,
                ..*seg
            };
            self.process_text_and_fin(env, &rest);
        } else {
            // Simultaneous open (RFC 9293 §3.5 figure 8): SYN-RECEIVED, send SYN,ACK.
            self.snd_nxt = self.iss;
            self.set_state(env, TcpState::SynReceived);
        }
    }

    /// RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states.
    fn on_segment_synchronized(&mut self, env: &mut Env<'_>, seg: &Segment<'_>) {
        let rcv_wnd = self.rcv_nxt.dist_to(self.rcv_adv);
        let mut seg = *seg;
        if self.state == TcpState::SynReceived && seg.syn && !seg.rst && seg.seq == self.irs {
            // The peer's SYN again. In a simultaneous open (RFC 9293 §3.5 figure 8) it is the
            // peer's SYN,ACK acknowledging our SYN: take the ACK and go on without the SYN.
            // Otherwise it is a retransmitted SYN: repeat our SYN,ACK.
            match seg.ack {
                Some(ack) if self.snd_una < ack && ack <= self.snd_max => {
                    seg.syn = false;
                    seg.seq += 1;
                }
                _ => {
                    self.ack_now = true;
                    return;
                }
            }
        }
        // RFC 7323 §5.3 R1 (PAWS), before the sequence number check: an old timestamp marks
        // an old duplicate, whatever its sequence number says.
        if let (Some(ts), Some(val)) = (self.ts, seg.tsval) {
            if !seg.rst && ts.paws_rejects(val, env.now) {
                env.counters.drop_paws += 1;
                self.ack_now = true;
                return;
            }
        }
        // First, check the sequence number.
        if !acceptable(self.rcv_nxt, rcv_wnd, seg.seq, seg.len()) {
            // A zero window still lets valid ACKs and RSTs through (RFC 9293 §3.10.7.4:
            // "special allowance should be made to accept valid ACKs, URGs, and RSTs").
            if rcv_wnd == 0 && seg.seq == self.rcv_nxt && !seg.syn {
                env.counters.drop_out_of_window += u64::from(!seg.payload.is_empty());
                seg.payload = &[];
                seg.fin = false;
                self.ack_now = true;
            } else {
                env.counters.drop_out_of_window += 1;
                if !seg.rst {
                    self.ack_now = true; // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
                }
                if self.state == TcpState::TimeWait && seg.fin {
                    // A retransmitted FIN: restart 2*MSL (RFC 9293 §3.10.7.4, eighth step).
                    self.timers.set(Timer::TimeWait, env.now + env.cfg.msl * 2);
                }
                return;
            }
        }
        // RFC 7323 §4.3 (2): an acceptable segment starting at or before Last.ACK.sent
        // updates TS.Recent.
        if let (Some(ts), Some(val)) = (self.ts.as_mut(), seg.tsval) {
            ts.update_recent(val, seg.seq <= self.last_ack_sent, env.now);
        }
        // Second, the RST bit (RFC 5961 §3.2: exact match resets, otherwise challenge).
        if seg.rst {
            if seg.seq != self.rcv_nxt {
                self.challenge_ack(env);
                return;
            }
            env.counters.resets_received += 1;
            match self.state {
                TcpState::SynReceived if self.listener.is_some() => {
                    // Passive open: back to LISTEN, i.e. drop this embryonic connection.
                    self.set_state(env, TcpState::Closed);
                }
                TcpState::SynReceived => self.abort_with(env, TcpError::ConnectionRefused),
                TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::CloseWait => self.abort_with(env, TcpError::ConnectionReset),
                _ => self.set_state(env, TcpState::Closed),
            }
            return;
        }
        // Fourth, the SYN bit (RFC 5961 §4.2: challenge ACK in any synchronized state).
        if seg.syn {
            self.challenge_ack(env);
            return;
        }
        // Fifth, the ACK field.
        let Some(ack) = seg.ack else {
            env.counters.drop_no_ack += 1;
            return;
        };
        if self.state == TcpState::SynReceived {
            if !(self.snd_una < ack && ack <= self.snd_max) {
                self.rst_reply = Some(ack); // <SEQ=SEG.ACK><CTL=RST>
                env.counters.drop_bad_ack += 1;
                return;
            }
            if self.listener.is_some() && !self.accept_room {
                // Accept queue full: ignore the ACK, the peer will retransmit (as Linux does
                // with tcp_abort_on_overflow off).
                env.counters.drop_accept_queue_full += 1;
                return;
            }
            self.snd_wnd = (seg.window as u32) << self.snd_shift;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
            self.set_state(env, TcpState::Established);
            if self.fin_queued {
                self.set_state(env, TcpState::FinWait1);
            }
        }
        if !self.process_ack(env, &seg, ack) {
            return;
        }
        // Sixth/seventh: text and FIN.
        self.process_text_and_fin(env, &seg);
    }

    /// RFC 5961 §3.2/§4.2: answer with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    fn challenge_ack(&mut self, env: &mut Env<'_>) {
        // RFC 5961 §7: limit challenge ACKs (per connection, per second) so they cannot be used
        // to amplify or to probe the connection at line rate.
        if env.now.saturating_duration_since(self.challenge_window)
            >= crate::time::Duration::from_secs(1)
        {
            self.challenge_window = env.now;
            self.challenge_count = 0;
        }
        if self.challenge_count >= env.cfg.challenge_ack_limit {
            env.counters.drop_challenge_ack_limit += 1;
            return;
        }
        self.challenge_count += 1;
        env.counters.challenge_acks += 1;
        self.ack_now = true;
        let conn = self.id;
        env.events.emit(env.now, || TcpEvent::ChallengeAck { conn });
    }

    /// The ACK step for ESTABLISHED and later states. Returns false when the segment must be
    /// dropped (or the connection ended).
    fn process_ack(&mut self, env: &mut Env<'_>, seg: &Segment<'_>, ack: Seq) -> bool {
        if ack > self.snd_max {
            // Acknowledges something not yet sent: ACK and drop.
            env.counters.drop_bad_ack += 1;
            self.ack_now = true;
            return false;
        }
        // RFC 5961 §5.2: too old to be plausible.
        if ack < self.snd_una - self.max_snd_wnd.max(1) {
            env.counters.drop_bad_ack += 1;
            self.ack_now = true;
            return false;
        }
        let flight = self.flight();
        let wnd = (seg.window as u32) << self.snd_shift;
        let mut new_sacked = false;
        if self.sack_ok {
            for (l, r) in seg.sack.iter().flatten() {
                new_sacked |= self
                    .scoreboard
                    .add(Seq(*l), Seq(*r), self.snd_una, self.snd_max);
            }
        }
        if ack > self.snd_una {
            self.ts_rtt_sample(env, seg.tsecr);
            self.on_new_ack(env, ack, flight);
        } else if ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.fin
            && (wnd == self.snd_wnd || new_sacked)
            && self.snd_max != self.snd_una
        {
            // A duplicate ACK in the sense of RFC 5681 §2, or with SACK, an ACK reporting
            // new SACKed data (RFC 6675 §2 "DupAck"; receivers such as Linux change the
            // window while holding out-of-order data).
            self.dupacks += 1;
            env.counters.dup_acks += 1;
            let s = AckSample {
                ack,
                bytes_acked: 0,
                flight,
                snd_max: self.snd_max,
                mss: self.mss,
                now: env.now,
                rtt: self.rtt.latest(),
            };
            let before = (self.cc.cwnd(), self.cc.ssthresh());
            if self.dupacks <= 2 && !self.cc.in_recovery() {
                // RFC 3042 (Limited Transmit): the first two duplicate ACKs may each release
                // one new segment beyond cwnd, so a small window can still collect three.
                self.limited_transmit = self.dupacks * self.mss;
            }
            if self.cc.on_dup_ack(&s, self.dupacks) {
                self.limited_transmit = 0;
                env.counters.fast_retransmits += 1;
                self.rtt_probe = None;
                self.rexmit_next = self.snd_una;
                self.schedule_rexmit(self.snd_una, RetransmitReason::FastRetransmit);
                self.note_cc(env, before, CongestionReason::FastRecovery);
            } else if self.retransmission_lost() {
                // Lost retransmission (the idea of RFC 8985 RACK, applied to SND.UNA only):
                // data sent after our retransmission is SACKed while SND.UNA is still
                // missing, so send it again instead of waiting for the RTO.
                env.counters.sack_retransmits += 1;
                self.una_rexmit = None;
                self.schedule_rexmit(self.snd_una, RetransmitReason::SackHole);
                self.note_cc(env, before, CongestionReason::Recovery);
            } else {
                if self.cc.in_recovery() && self.sack_ok && self.rexmit.is_none() {
                    // RFC 6675 §5: each further ACK may release the next hole below SACKed
                    // data, so several losses in one window are repaired in one round trip.
                    if let Some((hole, _)) = self
                        .scoreboard
                        .next_hole(self.rexmit_next.max_seq(self.snd_una), self.mss)
                    {
                        env.counters.sack_retransmits += 1;
                        self.schedule_rexmit(hole, RetransmitReason::SackHole);
                    }
                }
                self.note_cc(env, before, CongestionReason::Recovery);
            }
        }
        // Any acceptable ACK proves the peer is alive (RFC 9293 §3.8.6.1 MUST-26): while it
        // holds its window closed, retransmissions into it are probes and must not count
        // towards giving up.
        self.probes = 0;
        if wnd == 0 {
            self.retransmits = 0;
        }
        // Window update (RFC 9293 §3.10.7.4: SND.WL1/SND.WL2 guard against old segments).
        if self.snd_wl1 < seg.seq || (self.snd_wl1 == seg.seq && self.snd_wl2 <= ack) {
            let opened = self.snd_wnd == 0 && wnd > 0;
            self.snd_wnd = wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
            if opened {
                // Window reopened: stop probing, send at once.
                self.timers.stop(Timer::Persist);
                self.persist_shift = 0;
            }
        }
        self.update_persist(env);
        let fin_acked = self.fin_seq.is_some_and(|f| self.snd_una > f);
        match self.state {
            TcpState::FinWait1 if fin_acked => {
                self.set_state(env, TcpState::FinWait2);
                if self.orphan {
                    self.timers
                        .set(Timer::FinWait2, env.now + env.cfg.fin_wait2_timeout);
                }
            }
            TcpState::Closing if fin_acked => self.set_state(env, TcpState::TimeWait),
            TcpState::LastAck if fin_acked => {
                self.set_state(env, TcpState::Closed);
                return false;
            }
            _ => {}
        }
        true
    }

    /// SND.UNA < SEG.ACK =< SND.MAX: new data acknowledged.
    fn on_new_ack(&mut self, env: &mut Env<'_>, ack: Seq, flight: u32) {
        let acked = self.snd_una.dist_to(ack);
        // Bytes of the send buffer covered (SYN and FIN occupy sequence space, not buffer).
        let buf_start = self.buf_seq();
        let data_acked = (buf_start.dist_to(ack) as usize).min(self.sendbuf.len());
        self.sendbuf.ack(data_acked);
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        self.info.bytes_acked += data_acked as u64;
        self.retransmits = 0;
        self.dupacks = 0;
        self.limited_transmit = 0;
        // RTT sample (RFC 6298 §3, Karn: the probe was cleared on any retransmission).
        if let Some((end, sent)) = self.rtt_probe {
            if ack >= end {
                self.rtt_probe = None;
                self.rtt_sample(env, env.now - sent);
            }
        }
        let s = AckSample {
            ack,
            bytes_acked: acked,
            flight,
            snd_max: self.snd_max,
            mss: self.mss,
            now: env.now,
            rtt: self.rtt.latest(),
        };
        let before = (self.cc.cwnd(), self.cc.ssthresh());
        let was_recovering = self.cc.in_recovery();
        self.scoreboard.ack(ack);
        if self.cc.on_ack(&s) && self.snd_una != self.snd_max {
            self.rtt_probe = None;
            // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment, unless SACK
            // recovery already did and can move on to the next hole.
            let from = if self.sack_ok {
                self.rexmit_next.max_seq(self.snd_una)
            } else {
                self.snd_una
            };
            let next = match self.scoreboard.next_hole(from, self.mss) {
                Some((hole, _)) => hole,
                None if from == self.snd_una => from,
                None => self.snd_una,
            };
            self.schedule_rexmit(next, RetransmitReason::PartialAck);
        }
        let reason = if was_recovering {
            CongestionReason::Recovery
        } else {
            CongestionReason::Ack
        };
        // A HyStart++ phase change is recorded even if this ACK left cwnd as it was ((0, 0) is
        // never a window).
        match self.cc.take_event() {
            Some(event) => self.note_cc(env, (0, 0), event),
            None => self.note_cc(env, before, reason),
        }
        // RFC 6298 (5.2)/(5.3).
        self.update_rto_timer(env, true);
    }

    /// Whether the last retransmission of SND.UNA is presumed lost: at least three segments'
    /// worth of data sent after it have been SACKed (the DupThresh of RFC 6675 §2).
    fn retransmission_lost(&self) -> bool {
        let Some((seq, mark)) = self.una_rexmit else {
            return false;
        };
        self.sack_ok
            && seq == self.snd_una
            && self.rexmit.is_none()
            && self
                .scoreboard
                .highest()
                .is_some_and(|h| h >= mark + 3 * self.mss)
    }

    /// Ask output to retransmit from `seq` (up to an MSS, stopping at SACKed data).
    pub(super) fn schedule_rexmit(&mut self, seq: Seq, reason: RetransmitReason) {
        let len = self
            .scoreboard
            .next_hole(seq, self.mss)
            .filter(|h| h.0 == seq)
            .map_or(self.mss, |h| h.1);
        self.rexmit = Some((seq, len, reason));
        self.rexmit_next = self.rexmit_next.max_seq(seq + len);
    }

    /// RFC 7323 §4.1 RTTM: with timestamps, an ACK of new data measures the RTT from its
    /// TSecr, retransmitted data included. One sample per round trip (the gains of RFC 6298
    /// assume that rate); the sequence-timed probe is then not needed.
    fn ts_rtt_sample(&mut self, env: &mut Env<'_>, tsecr: Option<u32>) {
        let (Some(ts), Some(tsecr)) = (self.ts, tsecr) else {
            return;
        };
        if tsecr == 0 || env.now < self.ts_next_sample {
            return;
        }
        if let Some(rtt) = ts.rtt(tsecr, env.now) {
            self.rtt_probe = None;
            self.rtt_sample(env, rtt);
            self.ts_next_sample = env.now + self.rtt.srtt().unwrap_or(rtt);
        }
    }

    pub(super) fn rtt_sample(&mut self, env: &mut Env<'_>, rtt: crate::time::Duration) {
        self.rtt.sample(rtt);
        let conn = self.id;
        let srtt = self.rtt.srtt().unwrap_or(rtt);
        let rto = self.rtt.rto();
        env.events.emit(env.now, || TcpEvent::RttSample {
            conn,
            rtt,
            srtt,
            rto,
        });
    }

    /// Sixth to eighth steps: segment text and FIN (RFC 9293 §3.10.7.4).
    fn process_text_and_fin(&mut self, env: &mut Env<'_>, seg: &Segment<'_>) {
        if !seg.payload.is_empty() {
            match self.state {
                TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                    self.accept_text(env, seg)
                }
                // The peer already sent FIN: text is bogus; ignore it.
                _ => env.counters.drop_after_fin += 1,
            }
        }
        if seg.fin && self.peer_fin.is_none() && !matches!(self.state, TcpState::Closed) {
            let fin = seg.seq + seg.payload.len() as u32;
            if fin >= self.rcv_nxt {
                self.peer_fin = Some(fin);
            }
        }
        if let Some(fin) = self.peer_fin {
            if fin == self.rcv_nxt && !self.fin_rcvd {
                self.on_fin(env);
            } else if self.state == TcpState::TimeWait && seg.fin {
                self.ack_now = true;
                self.timers.set(Timer::TimeWait, env.now + env.cfg.msl * 2);
            }
        }
    }

    /// Deliver text to the receive buffer (RFC 9293 §3.10.7.4 seventh step).
    fn accept_text(&mut self, env: &mut Env<'_>, seg: &Segment<'_>) {
        let mut seq = seg.seq;
        let mut data = seg.payload;
        if seq < self.rcv_nxt {
            let skip = (seq.dist_to(self.rcv_nxt) as usize).min(data.len());
            data = &data[skip..];
            seq = self.rcv_nxt;
        }
        if data.is_empty() {
            self.ack_now = true;
            return;
        }
        let rcv_nxt = self.rcv_nxt;
        if self.orphan {
            // Nobody will read: acknowledge and discard so the window never closes on us.
            if seq == rcv_nxt {
                self.rcv_nxt += data.len() as u32;
                self.rcv_adv = self.rcv_adv.max_seq(self.rcv_nxt);
            }
            self.ack_now = true;
            return;
        }
        let r = self.recvbuf.insert(rcv_nxt, seq, data);
        self.info.bytes_received += r.advanced as u64;
        if r.dropped > 0 {
            env.counters.drop_recv_buffer_full += 1;
        }
        self.rcv_nxt += r.advanced;
        if self.rcv_adv < self.rcv_nxt {
            self.rcv_adv = self.rcv_nxt;
        }
        if r.out_of_order {
            // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (dup ACK).
            self.info.segs_out_of_order += 1;
            env.counters.segs_out_of_order += 1;
            self.ack_now = true;
            self.dup_acks_owed = self.dup_acks_owed.saturating_add(1).min(MAX_DUP_ACKS_OWED);
        } else if r.filled_gap || r.dropped > 0 {
            self.ack_now = true; // RFC 5681 §4.2: filling a gap is ACKed at once.
            self.dup_acks_owed = 0;
        } else {
            self.dup_acks_owed = 0;
            // Delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2 SHOULD-21/MUST-40): ACK at
            // least every second full-sized segment, otherwise within the timer.
            self.segs_since_ack += 1;
            if self.segs_since_ack >= 2 {
                // Owe an ACK for exactly this point, in case more segments of the same batch
                // arrive before output runs (`stretch_acks`); the newest ACK number is sent
                // anyway, so only the earlier ones are kept, a bounded number of them.
                if self.stretch_acks.len() >= MAX_STRETCH_ACKS {
                    self.stretch_acks.pop_front();
                }
                self.stretch_acks.push_back(self.rcv_nxt);
                self.segs_since_ack = 0;
                self.ack_now = true;
            } else if !self.timers.is_set(Timer::DelayedAck) {
                self.timers
                    .set(Timer::DelayedAck, env.now + env.cfg.delayed_ack);
            }
        }
    }

    /// Eighth step: the FIN bit (RFC 9293 §3.10.7.4).
    fn on_fin(&mut self, env: &mut Env<'_>) {
        self.fin_rcvd = true;
        self.rcv_nxt += 1;
        if self.rcv_adv < self.rcv_nxt {
            self.rcv_adv = self.rcv_nxt;
        }
        self.ack_now = true;
        let fin_acked = self.fin_seq.is_some_and(|f| self.snd_una > f);
        match self.state {
            TcpState::SynReceived | TcpState::Established => {
                self.set_state(env, TcpState::CloseWait)
            }
            TcpState::FinWait1 if fin_acked => self.set_state(env, TcpState::TimeWait),
            TcpState::FinWait1 => self.set_state(env, TcpState::Closing),
            TcpState::FinWait2 => self.set_state(env, TcpState::TimeWait),
            TcpState::TimeWait => self.timers.set(Timer::TimeWait, env.now + env.cfg.msl * 2),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9293 §3.10.7.4: the four rows of the segment acceptability table.
    #[test]
    fn rfc9293_3_10_7_4_acceptability_table() {
        let n = Seq(1000);
        // len 0, wnd 0: only RCV.NXT.
        assert!(acceptable(n, 0, n, 0));
        assert!(!acceptable(n, 0, n + 1, 0));
        // len 0, wnd > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
        assert!(acceptable(n, 10, n + 9, 0));
        assert!(!acceptable(n, 10, n + 10, 0));
        assert!(!acceptable(n, 10, n - 1, 0));
        // len > 0, wnd 0: never.
        assert!(!acceptable(n, 0, n, 5));
        // len > 0, wnd > 0: beginning or end in the window.
        assert!(acceptable(n, 10, n - 3, 5), "end inside");
        assert!(acceptable(n, 10, n + 9, 5), "start inside");
        assert!(!acceptable(n, 10, n - 5, 5), "entirely old");
        assert!(!acceptable(n, 10, n + 10, 5), "entirely beyond");
    }

    /// RFC 9293 §3.10.7.4 across the 2^32 wrap.
    #[test]
    fn rfc9293_3_10_7_4_acceptability_wraps() {
        let n = Seq(u32::MAX - 2);
        assert!(acceptable(n, 10, Seq(3), 1));
        assert!(!acceptable(n, 10, Seq(8), 1));
    }
}
