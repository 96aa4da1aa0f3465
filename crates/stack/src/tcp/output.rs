//! Segment output for a connection: what to send next and how it looks on the wire.
//!
//! - SYN and SYN,ACK with MSS (RFC 9293 §3.7.1, RFC 6691) and window scale (RFC 7323 §2);
//! - data within min(SND.WND, cwnd) (RFC 9293 §3.8.6, RFC 5681 §3), held back by Nagle
//!   (§3.7.4) and sender SWS avoidance (§3.8.6.2.1); FIN after the last byte (§3.10.4);
//! - retransmission of the first unacknowledged segment (RFC 5681 §3.2, RFC 6582 §3.2) and
//!   go-back-N after a timeout (RFC 6298 §5.4: SND.NXT was moved back to SND.UNA);
//! - pure ACKs, delayed or immediate (§3.8.6.3), zero-window probes (§3.8.6.1) and keep-alives
//!   (§3.8.4) as <SEQ=SND.UNA-1> segments that the peer must answer;
//! - RST for ABORT (§3.10.5) and for unacceptable ACKs in SYN-SENT/SYN-RECEIVED (§3.10.7.3/4).
//!
//! Headers are emitted with `smoltcp::wire::TcpRepr`; the payload is copied straight from the
//! send ring into the output buffer (no allocation, one copy, one checksum pass).

use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, IpProtocol, TcpControl, TcpPacket, TcpRepr, TcpTimestampRepr};

use super::conn::{Conn, Env};
use super::event::CongestionReason;
use super::send::{SendBuffer, SendDecision};
use super::seq::Seq;
use super::timers::Timer;
use super::timestamps::ts_clock as timestamps_clock;
use super::TcpState;
use crate::ipv4::checksum::transport_checksum;

/// One segment to emit.
struct Out {
    control: TcpControl,
    seq: Seq,
    ack: Option<Seq>,
    syn_options: bool,
    /// (offset from the send buffer start, length)
    data: (usize, usize),
}

/// Length of the options of `repr` as [`emit`] lays them out (a multiple of 4).
fn options_len(repr: &TcpRepr<'_>) -> usize {
    let sack = repr.sack_ranges.iter().flatten().count();
    if repr.control == TcpControl::Syn {
        // Linux's SYN layouts: "mss, sackOK, TS, nop, wscale" (20 bytes) with timestamps,
        // "mss, nop, nop, sackOK, nop, wscale" (12) without.
        4 + if repr.timestamp.is_some() {
            12
        } else {
            4 * repr.sack_permitted as usize
        } + 4 * repr.window_scale.is_some() as usize
    } else {
        // "nop, nop, TS" then "nop, nop, sack" (RFC 7323 appendix A layout).
        12 * repr.timestamp.is_some() as usize + if sack > 0 { 4 + 8 * sack } else { 0 }
    }
}

/// Write the options of `repr` into `buf` (exactly `options_len` bytes), 32-bit aligned as
/// Linux and RFC 7323 Appendix A lay them out, with `smoltcp::wire::TcpOption` emitting each.
fn write_options(repr: &TcpRepr<'_>, mut buf: &mut [u8]) {
    use smoltcp::wire::TcpOption as O;
    let ts = repr.timestamp.map(|t| O::TimeStamp {
        tsval: t.tsval,
        tsecr: t.tsecr,
    });
    if repr.control == TcpControl::Syn {
        if let Some(m) = repr.max_seg_size {
            buf = O::MaxSegmentSize(m).emit(buf);
        }
        match ts {
            Some(ts) => {
                if repr.sack_permitted {
                    buf = O::SackPermitted.emit(buf);
                } else {
                    buf = O::NoOperation.emit(buf);
                    buf = O::NoOperation.emit(buf);
                }
                buf = ts.emit(buf);
            }
            None if repr.sack_permitted => {
                buf = O::NoOperation.emit(buf);
                buf = O::NoOperation.emit(buf);
                buf = O::SackPermitted.emit(buf);
            }
            None => {}
        }
        if let Some(w) = repr.window_scale {
            buf = O::NoOperation.emit(buf);
            O::WindowScale(w).emit(buf);
        }
        return;
    }
    if let Some(ts) = ts {
        buf = O::NoOperation.emit(buf);
        buf = O::NoOperation.emit(buf);
        buf = ts.emit(buf);
    }
    if repr.sack_ranges.iter().any(Option::is_some) {
        buf = O::NoOperation.emit(buf);
        buf = O::NoOperation.emit(buf);
        O::SackRange(repr.sack_ranges).emit(buf);
    }
}

/// Write a header for `repr` plus `len` bytes copied from `buf` at `offset` into `out`.
/// Returns the segment length, or `None` if `out` is too small for the header.
///
/// The fixed header is emitted by `smoltcp::wire::TcpRepr`; the options are laid out here in
/// Linux's order and alignment (`write_options`), which smoltcp's own emitter does not do
/// (it packs them unaligned, SACK before the timestamp).
pub(crate) fn emit(
    out: &mut [u8],
    repr: &TcpRepr<'_>,
    local: Ipv4Addr,
    remote: Ipv4Addr,
    data: Option<(&SendBuffer, usize, usize)>,
) -> Option<usize> {
    let olen = options_len(repr);
    let hlen = 20 + olen;
    let len = data.map_or(0, |d| d.2);
    if out.len() < hlen + len || hlen > 60 {
        return None;
    }
    if let Some((buf, offset, len)) = data {
        buf.copy_out(offset, &mut out[hlen..hlen + len]);
    }
    let bare = TcpRepr {
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
        ..*repr
    };
    let mut pkt = TcpPacket::new_unchecked(&mut out[..hlen + len]);
    // The header with a zero checksum field, then the checksum over pseudo-header, header and
    // data (RFC 9293 §3.1) with the stack's vectorized RFC 1071 sum (`ipv4::checksum`),
    // which gives the same value as smoltcp's but is the hot spot of bulk sending.
    bare.emit(
        &mut pkt,
        &IpAddress::Ipv4(local),
        &IpAddress::Ipv4(remote),
        &ChecksumCapabilities::ignored(),
    );
    pkt.set_header_len(hlen as u8);
    write_options(repr, pkt.options_mut());
    let sum = transport_checksum(local, remote, IpProtocol::Tcp, pkt.into_inner());
    TcpPacket::new_unchecked(&mut out[..hlen + len]).set_checksum(sum);
    Some(hlen + len)
}

/// A bare ACK sent without a connection (from a TIME-WAIT entry, RFC 9293 §3.10.7.4):
/// `<SEQ=seq><ACK=ack><CTL=ACK>` with `window` and, if the connection used them, timestamps.
pub(crate) fn emit_ack(
    out: &mut [u8],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: Seq,
    ack: Seq,
    window: u16,
    ts: Option<(u32, u32)>,
) -> Option<usize> {
    let repr = TcpRepr {
        src_port: local.port(),
        dst_port: remote.port(),
        control: TcpControl::None,
        seq_number: seq.to_wire(),
        ack_number: Some(ack.to_wire()),
        window_len: window,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: ts.map(|(v, e)| TcpTimestampRepr::new(v, e)),
        payload: &[],
    };
    emit(out, &repr, *local.ip(), *remote.ip(), None)
}

/// A bare RST (RFC 9293 §3.10.7.1): `<SEQ=seq><ACK=ack><CTL=RST(,ACK)>`.
pub(crate) fn emit_rst(
    out: &mut [u8],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: Seq,
    ack: Option<Seq>,
) -> Option<usize> {
    let repr = TcpRepr {
        src_port: local.port(),
        dst_port: remote.port(),
        control: TcpControl::Rst,
        seq_number: seq.to_wire(),
        ack_number: ack.map(Seq::to_wire),
        window_len: 0,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    emit(out, &repr, *local.ip(), *remote.ip(), None)
}

impl Conn {
    /// Write the next segment this connection wants to send into `out`, if any.
    pub fn poll_segment(&mut self, env: &mut Env<'_>, out: &mut [u8]) -> Option<usize> {
        // `out` is at most MTU - 20 bytes; data segments carry a 20-byte header, 32 with
        // timestamps.
        let room = out
            .len()
            .saturating_sub(20 + 12 * self.ts.is_some() as usize) as u32;
        if let Some(seq) = self.rst_reply.take() {
            env.counters.resets_sent += 1;
            return emit_rst(out, self.local, self.remote, seq, None);
        }
        if self.rst_pending {
            self.rst_pending = false;
            env.counters.resets_sent += 1;
            let n = emit_rst(
                out,
                self.local,
                self.remote,
                self.snd_nxt,
                Some(self.rcv_nxt),
            );
            self.set_state(env, TcpState::Closed);
            return n;
        }
        let o = match self.state {
            TcpState::Closed | TcpState::Listen => return None,
            TcpState::SynSent => {
                if self.snd_nxt != self.iss {
                    return None;
                }
                Out {
                    control: TcpControl::Syn,
                    seq: self.iss,
                    ack: None,
                    syn_options: true,
                    data: (0, 0),
                }
            }
            TcpState::SynReceived => {
                if self.snd_nxt != self.iss && !self.ack_now {
                    return None;
                }
                Out {
                    control: TcpControl::Syn,
                    seq: self.iss,
                    ack: Some(self.rcv_nxt),
                    syn_options: true,
                    data: (0, 0),
                }
            }
            _ => match self.next_synchronized(env, room.min(self.mss)) {
                Some(o) => o,
                None => {
                    self.update_persist(env);
                    return None;
                }
            },
        };
        let n = self.write_out(env, out, o);
        self.update_persist(env);
        n
    }

    /// Decide the next segment in a synchronized state.
    fn next_synchronized(&mut self, env: &mut Env<'_>, mss: u32) -> Option<Out> {
        let ack = Some(self.rcv_nxt);
        let buf_seq = self.buf_seq();
        let buf_len = self.sendbuf.len() as u32;
        let fin_state = matches!(
            self.state,
            TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        );
        // Fast retransmit, partial ACK or SACK hole: resend without touching SND.NXT.
        if let Some((seq, max_len, reason)) = self.rexmit.take() {
            if self.snd_una <= seq && seq < self.snd_max {
                let offset = buf_seq.dist_to(seq) as usize;
                let len = (buf_len as usize)
                    .saturating_sub(offset)
                    .min(mss.min(max_len) as usize)
                    .min(seq.dist_to(self.snd_max) as usize);
                let end = seq + len as u32;
                let fin = self.fin_seq == Some(end) && fin_state;
                if len > 0 || fin {
                    if seq == self.snd_una {
                        self.una_rexmit = Some((seq, self.snd_max));
                    }
                    self.retransmit_event(env, reason, seq, len as u32);
                    self.info.retransmits += 1;
                    self.info.bytes_retransmitted += len as u64;
                    env.counters.retransmitted_segments += 1;
                    let control = if fin {
                        TcpControl::Fin
                    } else {
                        TcpControl::None
                    };
                    return Some(Out {
                        control,
                        seq,
                        ack,
                        syn_options: false,
                        data: (offset, len),
                    });
                }
            }
        }
        // New data (or go-back-N resend) from SND.NXT.
        let offset = buf_seq.dist_to(self.snd_nxt).min(buf_len);
        let avail = buf_len - offset;
        let in_flight = self.snd_una.dist_to(self.snd_nxt);
        if in_flight == 0 && self.snd_una == self.snd_max && buf_len > offset {
            // RFC 5681 §4.1: after an idle period longer than the RTO, restart from RW.
            if let Some(last) = self.last_send {
                if env.now.saturating_duration_since(last) > self.rtt.rto() {
                    let before = (self.cc.cwnd(), self.cc.ssthresh());
                    self.cc.on_idle_restart(self.mss);
                    self.note_cc(env, before, CongestionReason::Idle);
                }
            }
        }
        let wnd = self
            .snd_wnd
            .min(self.cc.cwnd().saturating_add(self.limited_transmit));
        let usable = wnd.saturating_sub(in_flight);
        let len = avail.min(usable).min(mss);
        let is_resend = self.snd_nxt < self.snd_max;
        let fin_here = fin_state
            && self.fin_queued
            && offset + len == buf_len
            && self.fin_seq.is_none_or(|f| self.snd_nxt + len == f);
        let decision = SendDecision {
            len,
            unsent: avail,
            in_flight,
            mss,
            max_snd_wnd: self.max_snd_wnd,
            nodelay: self.nodelay || fin_here,
        };
        if (len > 0 && (is_resend || self.sws_override || decision.allows())) || fin_here {
            self.sws_override = false;
            let seq = self.snd_nxt;
            if is_resend {
                // Go-back-N after a timeout (RFC 6298 §5.4): these bytes were sent before.
                self.info.bytes_retransmitted += len as u64;
                self.info.retransmits += 1;
                env.counters.retransmitted_segments += 1;
            }
            let control = if fin_here {
                TcpControl::Fin
            } else if len == avail && len > 0 {
                TcpControl::Psh
            } else {
                TcpControl::None
            };
            return Some(Out {
                control,
                seq,
                ack,
                syn_options: false,
                data: (offset as usize, len as usize),
            });
        }
        if self.probe_pending || self.keepalive_pending {
            // <SEQ=SND.UNA-1><CTL=ACK>: an old sequence number forces an ACK carrying the
            // current window (RFC 9293 §3.8.4, §3.8.6.1).
            self.probe_pending = false;
            self.keepalive_pending = false;
            return Some(Out {
                control: TcpControl::None,
                seq: self.snd_una - 1,
                ack,
                syn_options: false,
                data: (0, 0),
            });
        }
        // ACKs owed for earlier points of a batch of in-order data (`stretch_acks`), oldest
        // first; the last one is the current RCV.NXT and goes out as the ACK below.
        while let Some(x) = self.stretch_acks.pop_front() {
            if x < self.rcv_nxt {
                return Some(Out {
                    control: TcpControl::None,
                    seq: self.snd_nxt,
                    ack: Some(x),
                    syn_options: false,
                    data: (0, 0),
                });
            }
        }
        if self.window_update && !self.ack_now {
            self.window_update = false;
            // Only if the ACK would differ from the last one on the wire.
            if self.last_ack_sent != self.rcv_nxt
                || self.peek_window_field() != self.last_window_field
            {
                self.ack_now = true;
            }
        }
        if self.ack_now {
            return Some(Out {
                control: TcpControl::None,
                seq: self.snd_nxt,
                ack,
                syn_options: false,
                data: (0, 0),
            });
        }
        None
    }

    /// The window field `window_field` would send now, without announcing it.
    fn peek_window_field(&self) -> u16 {
        let offered = self.rcv_nxt.dist_to(self.rcv_adv);
        let w = self.recvbuf.window_to_offer(offered, self.mss);
        (w >> self.rcv_shift).min(u16::MAX as u32) as u16
    }

    /// The window field to send and the right edge it announces (RFC 9293 §3.8.6.2.2,
    /// RFC 7323 §2.3: scaled except in SYNs; the right edge never moves left).
    fn window_field(&mut self, syn: bool) -> u16 {
        if syn {
            let w = (self.recvbuf.free() as u32).min(u16::MAX as u32);
            if self.state == TcpState::SynReceived {
                self.rcv_adv = self.rcv_adv.max_seq(self.rcv_nxt + w);
            }
            return w as u16;
        }
        let offered = self.rcv_nxt.dist_to(self.rcv_adv);
        let w = self.recvbuf.window_to_offer(offered, self.mss);
        // Round down to the scale unit: rounding up would offer space we do not have. The
        // right edge may then appear to move left by less than one unit (RFC 7323 §2.4); we
        // keep accepting up to the old edge (RCV.ADV only grows).
        let field = (w >> self.rcv_shift).min(u16::MAX as u32);
        self.rcv_adv = self
            .rcv_adv
            .max_seq(self.rcv_nxt + (field << self.rcv_shift));
        field as u16
    }

    /// The timestamps option for a segment (RFC 7323 §3.2): on our SYN when configured (TSecr
    /// 0), on every other segment once negotiated.
    fn timestamp_option(
        &self,
        now: crate::time::Instant,
        offer: bool,
        control: TcpControl,
        syn_options: bool,
    ) -> Option<TcpTimestampRepr> {
        let (tsval, tsecr) = match self.ts {
            Some(ts) => ts.option(now),
            None if offer
                && syn_options
                && control == TcpControl::Syn
                && self.state == TcpState::SynSent =>
            {
                (timestamps_clock(now).wrapping_add(self.ts_offset), 0)
            }
            None => return None,
        };
        Some(TcpTimestampRepr::new(tsval, tsecr))
    }

    /// Emit `o` and update the send state.
    fn write_out(&mut self, env: &mut Env<'_>, out: &mut [u8], o: Out) -> Option<usize> {
        let syn = o.control == TcpControl::Syn;
        let window_len = match o.ack {
            // An owed ACK for an earlier point of a batch: the same right edge as announced,
            // seen from that ACK number (the edge never moves left, RFC 9293 §3.8.6.2.2).
            Some(x) if !syn && x != self.rcv_nxt => {
                (x.dist_to(self.rcv_adv) >> self.rcv_shift).min(u16::MAX as u32) as u16
            }
            _ => self.window_field(syn),
        };
        self.last_window_field = window_len;
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            control: o.control,
            seq_number: o.seq.to_wire(),
            ack_number: o.ack.map(Seq::to_wire),
            window_len,
            window_scale: if o.syn_options {
                self.wscale_offered
            } else {
                None
            },
            max_seg_size: if o.syn_options {
                Some(self.our_mss)
            } else {
                None
            },
            // RFC 2018 §2: offer SACK in our SYN; in a SYN,ACK only if the peer offered it.
            sack_permitted: o.syn_options
                && match self.state {
                    TcpState::SynSent => env.cfg.sack,
                    _ => self.sack_ok,
                },
            // RFC 2018 §4: report out-of-order blocks on ACKs without data.
            sack_ranges: if self.sack_ok && o.ack.is_some() && o.data.1 == 0 && !o.syn_options {
                self.recvbuf.sack_blocks()
            } else {
                [None; 3]
            },
            timestamp: None,
            payload: &[],
        };
        let repr = TcpRepr {
            timestamp: self.timestamp_option(env.now, env.cfg.timestamps, o.control, o.syn_options),
            ..repr
        };
        let data = (o.data.1 > 0).then_some((&self.sendbuf, o.data.0, o.data.1));
        let n = emit(out, &repr, *self.local.ip(), *self.remote.ip(), data)?;
        env.counters.segments_out += 1;
        // Any segment carries our latest ACK: the delayed ACK is satisfied.
        if let Some(ack) = o.ack {
            self.last_ack_sent = ack;
            if ack != self.rcv_nxt {
                // An owed earlier ACK: the current one is still to come.
                return Some(n);
            }
            self.stretch_acks.clear();
            self.window_update = false;
            // Each out-of-order arrival is owed its own duplicate ACK (RFC 5681 §4.2), so the
            // sender can count three of them even when segments arrive in a batch.
            let pure = o.data.1 == 0 && o.control == TcpControl::None;
            self.dup_acks_owed = if pure {
                self.dup_acks_owed.saturating_sub(1)
            } else {
                0
            };
            self.ack_now = self.dup_acks_owed > 0;
            self.segs_since_ack = 0;
            self.timers.stop(Timer::DelayedAck);
        }
        let seg_len = o.data.1 as u32 + syn as u32 + (o.control == TcpControl::Fin) as u32;
        if seg_len == 0 {
            return Some(n);
        }
        self.info.bytes_sent += o.data.1 as u64;
        if o.data.1 > 0 {
            self.last_send = Some(env.now);
        }
        let end = o.seq + seg_len;
        if o.control == TcpControl::Fin {
            self.fin_seq = Some(end - 1);
        }
        if o.seq == self.snd_nxt {
            self.snd_nxt = end;
        }
        if end > self.snd_max {
            // New sequence space: time it if nothing is being timed (RFC 6298 §3, Karn).
            if self.rtt_probe.is_none() && o.seq >= self.snd_max {
                self.rtt_probe = Some((end, env.now));
            }
            self.snd_max = end;
        }
        self.update_rto_timer(env, false);
        Some(n)
    }
}
