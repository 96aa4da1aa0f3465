//! ICMPv4 (RFC 792) with the host rules of RFC 1122 §3.2.2 and the rate limit of RFC 1812
//! §4.3.2.8.
//!
//! - Echo (RFC 792, RFC 1122 §3.2.2.6): every echo request addressed to us is answered with a
//!   reply carrying the same identifier, sequence number and data, byte for byte (large,
//!   fragmented requests included: the reply is fragmented on the way out).
//! - Ping: [`crate::Stack::ping`] sends echo requests and [`crate::Stack::poll_ping`] returns
//!   replies with their round-trip time, and errors that quote our requests.
//! - Errors we send: destination unreachable (protocol, port) and time exceeded (fragment
//!   reassembly, code 1). RFC 1122 §3.2.2 forbids sending them about ICMP errors, broadcasts,
//!   non-initial fragments and datagrams whose source is not a single host; the remaining ones
//!   pass through a token bucket (RFC 1812 §4.3.2.8 "rate limiting").
//! - Errors we receive are decoded from the quoted header here; the facade hands them to TCP
//!   (RFC 1122 §4.2.3.9) or to the UDP socket (RFC 1122 §4.1.3.3).

use core::net::Ipv4Addr;
use std::collections::VecDeque;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    Icmpv4Message, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket,
};

use crate::config::IcmpConfig;
use crate::ctx::Ctx;
use crate::event::{DropReason, EventKind, IcmpKind};
use crate::ipv4::{Origin, OutDatagram};
use crate::pool::BufPool;
use crate::time::{Duration, Instant};

/// What an ICMP error (or a local failure) says about a datagram we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpErrorKind {
    /// Destination unreachable, code 0.
    NetUnreachable,
    /// Destination unreachable, code 1; also reported when ARP resolution gives up.
    HostUnreachable,
    /// Destination unreachable, code 2.
    ProtocolUnreachable,
    /// Destination unreachable, code 3.
    PortUnreachable,
    /// Destination unreachable, code 4 (RFC 1191), with the next-hop MTU if given.
    FragmentationNeeded {
        /// Next-hop MTU (0 if the router did not say).
        mtu: u16,
    },
    /// Another destination-unreachable code (RFC 1122 §3.2.2.1).
    OtherUnreachable(u8),
    /// Time exceeded in transit (code 0).
    TtlExceeded,
    /// Time exceeded during fragment reassembly (code 1).
    ReassemblyTimeExceeded,
}

impl IcmpErrorKind {
    /// RFC 1122 §4.2.3.9: protocol and port unreachable are hard errors (and fragmentation
    /// needed is handled by path MTU discovery); the others are soft.
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            IcmpErrorKind::ProtocolUnreachable | IcmpErrorKind::PortUnreachable
        )
    }

    fn from_unreachable(code: u8, mtu: u16) -> Self {
        match code {
            0 => IcmpErrorKind::NetUnreachable,
            1 => IcmpErrorKind::HostUnreachable,
            2 => IcmpErrorKind::ProtocolUnreachable,
            3 => IcmpErrorKind::PortUnreachable,
            4 => IcmpErrorKind::FragmentationNeeded { mtu },
            c => IcmpErrorKind::OtherUnreachable(c),
        }
    }
}

impl core::fmt::Display for IcmpErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IcmpErrorKind::NetUnreachable => f.write_str("Destination Net Unreachable"),
            IcmpErrorKind::HostUnreachable => f.write_str("Destination Host Unreachable"),
            IcmpErrorKind::ProtocolUnreachable => f.write_str("Destination Protocol Unreachable"),
            IcmpErrorKind::PortUnreachable => f.write_str("Destination Port Unreachable"),
            IcmpErrorKind::FragmentationNeeded { mtu } => write!(f, "Frag needed (mtu = {mtu})"),
            IcmpErrorKind::OtherUnreachable(c) => write!(f, "Destination Unreachable (code {c})"),
            IcmpErrorKind::TtlExceeded => f.write_str("Time to live exceeded"),
            IcmpErrorKind::ReassemblyTimeExceeded => f.write_str("Frag reassembly time exceeded"),
        }
    }
}

/// The result of one echo request sent with [`crate::Stack::ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingEvent {
    /// The echo reply arrived.
    Reply {
        /// Who answered.
        from: Ipv4Addr,
        /// Identifier of the request.
        ident: u16,
        /// Sequence number of the request.
        seq: u16,
        /// TTL of the reply's IP header.
        ttl: u8,
        /// ICMP message length (8-byte header + data), as `ping` prints it.
        bytes: usize,
        /// Time from `ping()` to the reply's arrival.
        rtt: Duration,
    },
    /// An ICMP error quoting the request arrived, or the next hop never answered ARP (then
    /// `from` is our own address and `kind` is `HostUnreachable`, as Linux reports it).
    Error {
        /// Who reported it.
        from: Ipv4Addr,
        /// Identifier of the request.
        ident: u16,
        /// Sequence number of the request.
        seq: u16,
        /// What went wrong.
        kind: IcmpErrorKind,
    },
}

/// An ICMP error received about a datagram we sent, decoded from its quote (RFC 792).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuotedError {
    /// Who sent the error.
    pub from: Ipv4Addr,
    pub kind: IcmpErrorKind,
    /// Protocol of the quoted datagram.
    pub proto: IpProtocol,
    /// Source of the quoted datagram (should be us).
    pub src: Ipv4Addr,
    /// Destination of the quoted datagram.
    pub dst: Ipv4Addr,
    /// First 8 bytes of the quoted transport header.
    pub head: [u8; 8],
}

impl QuotedError {
    /// Ports of a quoted UDP or TCP header (both start with source and destination port).
    pub fn ports(&self) -> (u16, u16) {
        let u = UdpPacket::new_unchecked(&self.head[..]);
        (u.src_port(), u.dst_port())
    }

    /// Sequence number of a quoted TCP header.
    pub fn tcp_seq(&self) -> u32 {
        TcpPacket::new_unchecked(&self.head[..]).seq_number().0 as u32
    }
}

/// Where a received ICMP message came from, as its IP header says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IcmpSource {
    pub src: Ipv4Addr,
    pub ttl: u8,
    /// Addressed to a broadcast (IP or link level).
    pub broadcast: bool,
}

/// What the facade must do after ICMP processed a message.
#[derive(Debug)]
pub(crate) enum Received {
    /// Nothing more (echo answered, ping reply recorded, message ignored).
    Done,
    /// An error about one of our datagrams to hand to its transport.
    Error(QuotedError),
}

/// Facts about a received datagram that decide whether an ICMP error may be sent about it
/// (RFC 1122 §3.2.2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorContext<'a> {
    pub src: Ipv4Addr,
    /// Datagram or frame was a broadcast.
    pub broadcast: bool,
    /// A fragment other than the first.
    pub later_fragment: bool,
    pub proto: IpProtocol,
    /// The original IP header followed by (at least) the first 8 bytes of its payload.
    pub quote: &'a [u8],
    /// The start of the original payload (to recognise ICMP errors).
    pub payload: &'a [u8],
}

/// ICMP state of one stack.
#[derive(Debug)]
pub(crate) struct Icmp {
    cfg: IcmpConfig,
    addr: Ipv4Addr,
    /// Token bucket in nanotokens (one token = 1e9), for integer determinism.
    tokens: u128,
    refilled: Instant,
    out: VecDeque<OutDatagram>,
    out_bytes: usize,
    pings: VecDeque<(Ipv4Addr, u16, u16, Instant)>,
    ping_events: VecDeque<PingEvent>,
}

const NANO: u128 = 1_000_000_000;

impl Icmp {
    pub fn new(cfg: &IcmpConfig, addr: Ipv4Addr) -> Self {
        Icmp {
            cfg: cfg.clone(),
            addr,
            tokens: cfg.error_burst as u128 * NANO,
            refilled: Instant::ZERO,
            out: VecDeque::new(),
            out_bytes: 0,
            pings: VecDeque::new(),
            ping_events: VecDeque::new(),
        }
    }

    /// Bytes of messages waiting to be sent.
    pub fn queued_bytes(&self) -> usize {
        self.out_bytes
    }

    /// The next message to send.
    pub fn pop_out(&mut self) -> Option<OutDatagram> {
        let d = self.out.pop_front()?;
        self.out_bytes -= d.payload.len();
        Some(d)
    }

    /// The next ping result.
    pub fn poll_ping(&mut self) -> Option<PingEvent> {
        self.ping_events.pop_front()
    }

    fn push_ping_event(&mut self, ev: PingEvent) {
        if self.ping_events.len() >= self.cfg.max_ping_events {
            self.ping_events.pop_front();
        }
        if self.cfg.max_ping_events > 0 {
            self.ping_events.push_back(ev);
        }
    }

    fn queue(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        dst: Ipv4Addr,
        payload: Vec<u8>,
        origin: Origin,
    ) -> bool {
        if self.out.len() >= self.cfg.max_queued
            || self.out_bytes + payload.len() > self.cfg.max_queued_bytes
        {
            ctx.stats.icmp.queue_full += 1;
            ctx.events.drop_packet(now, DropReason::IcmpQueueFull);
            return false;
        }
        ctx.stats.icmp.packets_out += 1;
        ctx.events.emit(now, || EventKind::IcmpSent {
            to: dst,
            kind: kind_of(&payload),
        });
        self.out_bytes += payload.len();
        self.out.push_back(OutDatagram {
            src: self.addr,
            dst,
            proto: IpProtocol::Icmp,
            dont_frag: false,
            origin,
            payload,
        });
        true
    }

    /// Send an echo request (the `ping` API). `payload_len` data bytes follow the header.
    pub fn ping(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        dst: Ipv4Addr,
        (ident, seq): (u16, u16),
        payload_len: usize,
    ) -> bool {
        let mut msg = pool.take(8 + payload_len);
        {
            let mut p = Icmpv4Packet::new_unchecked(&mut msg[..]);
            p.set_msg_type(Icmpv4Message::EchoRequest);
            p.set_msg_code(0);
            p.set_echo_ident(ident);
            p.set_echo_seq_no(seq);
            for (i, b) in p.data_mut().iter_mut().enumerate() {
                *b = i as u8;
            }
            p.fill_checksum();
        }
        if !self.queue(now, ctx, dst, msg, Origin::Ping { ident, seq }) {
            return false;
        }
        ctx.stats.icmp.echo_requests_sent += 1;
        if self.pings.len() >= self.cfg.max_outstanding_pings {
            self.pings.pop_front();
        }
        if self.cfg.max_outstanding_pings > 0 {
            self.pings.push_back((dst, ident, seq, now));
        }
        true
    }

    /// A ping could not be sent because its next hop never resolved.
    pub fn ping_unreachable(&mut self, ident: u16, seq: u16) {
        if let Some(i) = self.pings.iter().position(|p| p.1 == ident && p.2 == seq) {
            self.pings.remove(i);
        }
        self.push_ping_event(PingEvent::Error {
            from: self.addr,
            ident,
            seq,
            kind: IcmpErrorKind::HostUnreachable,
        });
    }

    /// Handle one received ICMP message (`from` describes its IP header).
    pub fn process(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        from: &IcmpSource,
        bytes: &[u8],
    ) -> Result<Received, DropReason> {
        let &IcmpSource {
            src,
            ttl,
            broadcast,
        } = from;
        ctx.stats.icmp.packets_in += 1;
        let Ok(packet) = Icmpv4Packet::new_checked(bytes) else {
            ctx.stats.icmp.malformed += 1;
            return Err(DropReason::IcmpMalformed);
        };
        if !packet.verify_checksum() {
            ctx.stats.icmp.bad_checksum += 1;
            return Err(DropReason::IcmpBadChecksum);
        }
        ctx.events.emit(now, || EventKind::IcmpReceived {
            from: src,
            kind: kind_of(bytes),
        });
        match packet.msg_type() {
            Icmpv4Message::EchoRequest | Icmpv4Message::EchoReply => {
                let Ok(repr) = Icmpv4Repr::parse(&packet, &ChecksumCapabilities::ignored()) else {
                    ctx.stats.icmp.malformed += 1;
                    return Err(DropReason::IcmpMalformed);
                };
                match repr {
                    Icmpv4Repr::EchoRequest {
                        ident,
                        seq_no,
                        data,
                    } => {
                        // RFC 1122 §3.2.2.6: echo requests to a broadcast MAY be ignored.
                        if broadcast && !self.cfg.reply_to_broadcast_echo {
                            ctx.stats.icmp.echo_broadcast_ignored += 1;
                            return Ok(Received::Done);
                        }
                        let reply = Icmpv4Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        };
                        let mut msg = pool.take(reply.buffer_len());
                        reply.emit(
                            &mut Icmpv4Packet::new_unchecked(&mut msg[..]),
                            &ChecksumCapabilities::default(),
                        );
                        if self.queue(now, ctx, src, msg, Origin::Icmp) {
                            ctx.stats.icmp.echo_replies_sent += 1;
                        }
                    }
                    Icmpv4Repr::EchoReply {
                        ident,
                        seq_no,
                        data,
                    } => {
                        let found = self
                            .pings
                            .iter()
                            .position(|p| p.0 == src && p.1 == ident && p.2 == seq_no)
                            .or_else(|| {
                                self.pings.iter().position(|p| {
                                    p.1 == ident && p.2 == seq_no && broadcast_ping(p.0)
                                })
                            });
                        match found.and_then(|i| self.pings.remove(i)) {
                            Some((_, _, _, sent)) => {
                                ctx.stats.icmp.echo_replies_in += 1;
                                self.push_ping_event(PingEvent::Reply {
                                    from: src,
                                    ident,
                                    seq: seq_no,
                                    ttl,
                                    bytes: 8 + data.len(),
                                    rtt: now - sent,
                                });
                            }
                            None => ctx.stats.icmp.echo_replies_unmatched += 1,
                        }
                    }
                    _ => {}
                }
                Ok(Received::Done)
            }
            Icmpv4Message::DstUnreachable | Icmpv4Message::TimeExceeded => {
                ctx.stats.icmp.errors_in += 1;
                let code = packet.msg_code();
                let kind = if packet.msg_type() == Icmpv4Message::DstUnreachable {
                    // RFC 1191: the next-hop MTU sits in the low half of the unused word.
                    IcmpErrorKind::from_unreachable(code, packet.echo_seq_no())
                } else if code == 0 {
                    IcmpErrorKind::TtlExceeded
                } else {
                    IcmpErrorKind::ReassemblyTimeExceeded
                };
                let quoted = packet.data();
                let ip = Ipv4Packet::new_unchecked(quoted);
                // The quote is an IP header and at least 8 bytes of its payload (RFC 792); its
                // total length describes the original datagram, not the quote.
                if quoted.len() < 20
                    || ip.version() != 4
                    || (ip.header_len() as usize) < 20
                    || quoted.len() < ip.header_len() as usize + 8
                {
                    ctx.stats.icmp.malformed += 1;
                    return Err(DropReason::IcmpMalformed);
                }
                let hl = ip.header_len() as usize;
                let mut head = [0u8; 8];
                head.copy_from_slice(&quoted[hl..hl + 8]);
                let err = QuotedError {
                    from: src,
                    kind,
                    proto: ip.next_header(),
                    src: ip.src_addr(),
                    dst: ip.dst_addr(),
                    head,
                };
                if err.src != self.addr {
                    ctx.stats.icmp.errors_unmatched += 1;
                    return Ok(Received::Done);
                }
                if err.proto == IpProtocol::Icmp {
                    let echo = Icmpv4Packet::new_unchecked(&head[..]);
                    if echo.msg_type() == Icmpv4Message::EchoRequest {
                        let (ident, seq) = (echo.echo_ident(), echo.echo_seq_no());
                        if let Some(i) = self.pings.iter().position(|p| p.1 == ident && p.2 == seq)
                        {
                            self.pings.remove(i);
                            self.push_ping_event(PingEvent::Error {
                                from: src,
                                ident,
                                seq,
                                kind,
                            });
                            return Ok(Received::Done);
                        }
                    }
                    ctx.stats.icmp.errors_unmatched += 1;
                    return Ok(Received::Done);
                }
                Ok(Received::Error(err))
            }
            _ => {
                ctx.stats.icmp.unhandled_type += 1;
                Ok(Received::Done)
            }
        }
    }

    /// RFC 1812 §4.3.2.8: a token bucket refilled at `error_rate_per_sec`, `error_burst` deep.
    fn take_token(&mut self, now: Instant) -> bool {
        let elapsed = (now - self.refilled).as_nanos();
        self.refilled = now;
        let cap = self.cfg.error_burst as u128 * NANO;
        self.tokens =
            (self.tokens + elapsed.saturating_mul(self.cfg.error_rate_per_sec as u128)).min(cap);
        if self.tokens >= NANO {
            self.tokens -= NANO;
            true
        } else {
            false
        }
    }

    /// Send an error of ICMP `msg_type`/`code` about a received datagram, unless RFC 1122
    /// §3.2.2 forbids it or the rate limit says no.
    pub fn send_error(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        msg_type: Icmpv4Message,
        code: u8,
        about: &ErrorContext<'_>,
    ) -> bool {
        // RFC 1122 §3.2.2: never about an ICMP error, a broadcast/multicast, a non-initial
        // fragment, or a datagram whose source is not a single host.
        let src = about.src;
        // "a zero address, a loopback address, a broadcast address, a multicast address, or a
        // Class E address" (RFC 1122 §3.2.2).
        let class_e = src.octets()[0] >= 240;
        let bad_src = src.is_unspecified()
            || src.is_broadcast()
            || src.is_multicast()
            || src.is_loopback()
            || class_e;
        let about_error = about.proto == IpProtocol::Icmp
            && about.payload.first().is_some_and(|&t| {
                !matches!(
                    Icmpv4Message::from(t),
                    Icmpv4Message::EchoRequest
                        | Icmpv4Message::EchoReply
                        | Icmpv4Message::Timestamp
                        | Icmpv4Message::TimestampReply
                        | Icmpv4Message::RouterAdvert
                        | Icmpv4Message::RouterSolicit
                )
            });
        if about.broadcast || about.later_fragment || bad_src || about_error {
            ctx.stats.icmp.error_suppressed += 1;
            ctx.events.drop_packet(now, DropReason::IcmpSuppressed);
            return false;
        }
        if !self.take_token(now) {
            ctx.stats.icmp.rate_limited += 1;
            ctx.events.drop_packet(now, DropReason::IcmpRateLimited);
            return false;
        }
        let quote = &about.quote[..about.quote.len().min(MAX_QUOTE)];
        let mut msg = pool.take(8 + quote.len());
        {
            let mut p = Icmpv4Packet::new_unchecked(&mut msg[..]);
            p.set_msg_type(msg_type);
            p.set_msg_code(code);
            p.data_mut().copy_from_slice(quote);
            p.fill_checksum();
        }
        let sent = self.queue(now, ctx, src, msg, Origin::Icmp);
        if sent {
            match msg_type {
                Icmpv4Message::TimeExceeded => ctx.stats.icmp.time_exceeded_sent += 1,
                _ => ctx.stats.icmp.unreachable_sent += 1,
            }
        }
        sent
    }
}

/// Most bytes of the offending datagram an error quotes: the error then fits in 576 bytes
/// (IP header 20 + ICMP header 8 + 548), as RFC 1812 §4.3.2.3 asks and Linux does.
pub(crate) const MAX_QUOTE: usize = 576 - 20 - 8;

fn broadcast_ping(dst: Ipv4Addr) -> bool {
    dst.is_broadcast()
}

/// Describe an ICMP message for events.
pub(crate) fn kind_of(bytes: &[u8]) -> IcmpKind {
    let Ok(p) = Icmpv4Packet::new_checked(bytes) else {
        return IcmpKind::Other {
            msg_type: bytes.first().copied().unwrap_or(0),
            code: 0,
        };
    };
    let len = bytes.len();
    match p.msg_type() {
        Icmpv4Message::EchoRequest => IcmpKind::EchoRequest {
            ident: p.echo_ident(),
            seq: p.echo_seq_no(),
            len,
        },
        Icmpv4Message::EchoReply => IcmpKind::EchoReply {
            ident: p.echo_ident(),
            seq: p.echo_seq_no(),
            len,
        },
        Icmpv4Message::DstUnreachable => IcmpKind::DstUnreachable { code: p.msg_code() },
        Icmpv4Message::TimeExceeded => IcmpKind::TimeExceeded { code: p.msg_code() },
        t => IcmpKind::Other {
            msg_type: t.into(),
            code: p.msg_code(),
        },
    }
}
