//! Typed events: plain data describing what the stack did and why.
//!
//! Recording is off by default and then costs one branch: layers call [`EventSink::emit`] with a
//! closure that is only run when recording is on. The visibility tooling (`--trace`, pcap
//! annotations, plots) renders these; nothing in the stack depends on them.
//!
//! Every variant can name the RFC section behind it ([`EventKind::rfc`]) and renders on one
//! line with `Display`, e.g. `rx arp: who-has 198.18.0.1 tell 198.18.0.2 [RFC 826]`.

use core::fmt;
use core::net::Ipv4Addr;
use std::collections::VecDeque;

use smoltcp::wire::EthernetAddress;

use crate::time::Instant;

/// One recorded event: when, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `now` of the call during which it happened.
    pub time: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// A protocol layer, for events and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Layer {
    Ethernet,
    Arp,
    Ipv4,
    Icmp,
    Udp,
    Tcp,
}

impl Layer {
    /// Lower-case name ("arp").
    pub fn name(self) -> &'static str {
        match self {
            Layer::Ethernet => "eth",
            Layer::Arp => "arp",
            Layer::Ipv4 => "ipv4",
            Layer::Icmp => "icmp",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
        }
    }

    /// The RFC defining the layer's packet format.
    pub fn rfc(self) -> &'static str {
        match self {
            Layer::Ethernet => "RFC 894",
            Layer::Arp => "RFC 826",
            Layer::Ipv4 => "RFC 791",
            Layer::Icmp => "RFC 792",
            Layer::Udp => "RFC 768",
            Layer::Tcp => "RFC 9293",
        }
    }
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the link.
    Rx,
    /// Sent to the link.
    Tx,
}

/// Why a packet was dropped. Each reason has a counter of the same meaning in [`crate::Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum DropReason {
    EthTruncated,
    EthNotForUs,
    EthUnknownType,
    ArpMalformed,
    ArpPendingFull,
    ArpUnresolved,
    IpTruncated,
    IpBadVersion,
    IpBadChecksum,
    IpBadSource,
    IpNotForUs,
    IpNoRoute,
    IpUnknownProtocol,
    IpTooLong,
    ReassemblyMemFull,
    ReassemblyTooMany,
    ReassemblyTooBig,
    ReassemblyOverlap,
    ReassemblyInconsistent,
    ReassemblyTooManyHoles,
    ReassemblyTimeout,
    IcmpBadChecksum,
    IcmpMalformed,
    IcmpRateLimited,
    IcmpSuppressed,
    IcmpQueueFull,
    UdpTruncated,
    UdpBadChecksum,
    UdpBadPort,
    UdpNoSocket,
    UdpRxQueueFull,
    TcpTruncated,
    TcpBadChecksum,
}

impl DropReason {
    /// Short snake-case name.
    pub fn name(self) -> &'static str {
        use DropReason::*;
        match self {
            EthTruncated => "truncated",
            EthNotForUs => "not for us",
            EthUnknownType => "unknown ethertype",
            ArpMalformed => "malformed",
            ArpPendingFull => "resolution queue full",
            ArpUnresolved => "destination unresolved",
            IpTruncated => "truncated or bad length",
            IpBadVersion => "bad version",
            IpBadChecksum => "bad header checksum",
            IpBadSource => "bad source address",
            IpNotForUs => "not for us",
            IpNoRoute => "no route",
            IpUnknownProtocol => "unknown protocol",
            IpTooLong => "too long",
            ReassemblyMemFull => "reassembly memory full",
            ReassemblyTooMany => "too many incomplete datagrams",
            ReassemblyTooBig => "reassembled datagram too big",
            ReassemblyOverlap => "overlapping fragment",
            ReassemblyInconsistent => "inconsistent fragment lengths",
            ReassemblyTooManyHoles => "too many holes",
            ReassemblyTimeout => "reassembly timeout",
            IcmpBadChecksum => "bad checksum",
            IcmpMalformed => "malformed",
            IcmpRateLimited => "error rate limited",
            IcmpSuppressed => "error suppressed",
            IcmpQueueFull => "output queue full",
            UdpTruncated => "truncated or bad length",
            UdpBadChecksum => "bad checksum",
            UdpBadPort => "destination port 0",
            UdpNoSocket => "no socket on port",
            UdpRxQueueFull => "receive queue full",
            TcpTruncated => "truncated",
            TcpBadChecksum => "bad checksum",
        }
    }

    /// The layer that dropped the packet.
    pub fn layer(self) -> Layer {
        use DropReason::*;
        match self {
            EthTruncated | EthNotForUs | EthUnknownType => Layer::Ethernet,
            ArpMalformed | ArpPendingFull | ArpUnresolved => Layer::Arp,
            IcmpBadChecksum | IcmpMalformed | IcmpRateLimited | IcmpSuppressed | IcmpQueueFull => {
                Layer::Icmp
            }
            UdpTruncated | UdpBadChecksum | UdpBadPort | UdpNoSocket | UdpRxQueueFull => Layer::Udp,
            TcpTruncated | TcpBadChecksum => Layer::Tcp,
            _ => Layer::Ipv4,
        }
    }

    /// The RFC section behind the drop.
    pub fn rfc(self) -> &'static str {
        use DropReason::*;
        match self {
            EthTruncated | EthNotForUs | EthUnknownType => "RFC 894",
            ArpMalformed => "RFC 826",
            ArpPendingFull | ArpUnresolved => "RFC 1122 §2.3.2.2",
            IpTruncated | IpBadVersion | IpBadChecksum => "RFC 791 §3.1",
            IpBadSource => "RFC 1122 §3.2.1.3",
            IpNotForUs => "RFC 1122 §3.3.4.2",
            IpNoRoute => "RFC 1122 §3.3.1",
            IpUnknownProtocol => "RFC 1122 §3.2.2.1",
            IpTooLong => "RFC 791 §3.1",
            ReassemblyMemFull | ReassemblyTooMany | ReassemblyTooBig | ReassemblyTooManyHoles => {
                "RFC 815"
            }
            ReassemblyOverlap | ReassemblyInconsistent => "RFC 791 §3.2",
            ReassemblyTimeout => "RFC 1122 §3.3.2",
            IcmpBadChecksum | IcmpMalformed | IcmpQueueFull => "RFC 792",
            IcmpRateLimited => "RFC 1812 §4.3.2.8",
            IcmpSuppressed => "RFC 1122 §3.2.2",
            UdpTruncated | UdpBadPort => "RFC 768",
            UdpBadChecksum => "RFC 1122 §4.1.3.4",
            UdpNoSocket => "RFC 1122 §4.1.3.1",
            UdpRxQueueFull => "RFC 768",
            TcpTruncated | TcpBadChecksum => "RFC 9293 §3.1",
        }
    }
}

/// How an ARP cache entry changed (RFC 826 "merge" rule, RFC 1122 §2.3.2.1 aging).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ArpCacheChange {
    Added,
    Updated,
    Expired,
    Evicted,
}

/// An ICMP message, as events describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum IcmpKind {
    EchoRequest { ident: u16, seq: u16, len: usize },
    EchoReply { ident: u16, seq: u16, len: usize },
    DstUnreachable { code: u8 },
    TimeExceeded { code: u8 },
    Other { msg_type: u8, code: u8 },
}

impl fmt::Display for IcmpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IcmpKind::EchoRequest { ident, seq, len } => {
                write!(f, "echo request id={ident} seq={seq} len={len}")
            }
            IcmpKind::EchoReply { ident, seq, len } => {
                write!(f, "echo reply id={ident} seq={seq} len={len}")
            }
            IcmpKind::DstUnreachable { code } => {
                let what = match code {
                    0 => "net",
                    1 => "host",
                    2 => "protocol",
                    3 => "port",
                    4 => "fragmentation needed",
                    _ => "other",
                };
                write!(f, "destination unreachable ({what}, code {code})")
            }
            IcmpKind::TimeExceeded { code: 0 } => f.write_str("time exceeded in transit"),
            IcmpKind::TimeExceeded { code } => {
                write!(f, "time exceeded in reassembly (code {code})")
            }
            IcmpKind::Other { msg_type, code } => write!(f, "type {msg_type} code {code}"),
        }
    }
}

/// What happened. Each variant documents the RFC section that mandates the behaviour, and
/// [`EventKind::rfc`] returns it for rendering.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A frame was received or sent; `summary` describes its topmost parsed layer
    /// ("arp: who-has 198.18.0.1 tell 198.18.0.2").
    Frame {
        /// Received or sent.
        dir: Direction,
        /// The topmost layer that could be parsed.
        layer: Layer,
        /// Total frame length in bytes.
        len: usize,
        /// One-line description.
        summary: String,
    },
    /// A packet was dropped.
    Drop {
        /// Why.
        reason: DropReason,
    },
    /// An ARP cache entry changed (RFC 826 merge rule; RFC 1122 §2.3.2.1 aging).
    ArpCache {
        /// Added, updated, expired or evicted.
        change: ArpCacheChange,
        /// Protocol address.
        ip: Ipv4Addr,
        /// Hardware address.
        mac: EthernetAddress,
    },
    /// An ARP request was sent (RFC 826; retries per RFC 1122 §2.3.2.1).
    ArpRequest {
        /// Address being resolved (our own for a gratuitous announcement).
        target: Ipv4Addr,
        /// 1 for the first request.
        attempt: u32,
    },
    /// Resolution of an address was abandoned; waiting packets were dropped (RFC 1122
    /// §2.3.2.2).
    ArpGaveUp {
        /// Address that never answered.
        target: Ipv4Addr,
        /// Packets dropped with it.
        dropped: usize,
    },
    /// An ICMP message was sent (RFC 792).
    IcmpSent {
        /// Destination.
        to: Ipv4Addr,
        /// Message.
        kind: IcmpKind,
    },
    /// An ICMP message was received (RFC 792).
    IcmpReceived {
        /// Source.
        from: Ipv4Addr,
        /// Message.
        kind: IcmpKind,
    },
    /// An outgoing datagram was split into fragments (RFC 791 §3.2).
    Fragmented {
        /// Destination.
        dst: Ipv4Addr,
        /// Identification shared by the fragments.
        ident: u16,
        /// Payload length of the whole datagram.
        len: usize,
        /// Number of fragments.
        fragments: usize,
    },
    /// An incoming datagram was reassembled from fragments (RFC 815).
    Reassembled {
        /// Source.
        src: Ipv4Addr,
        /// Identification.
        ident: u16,
        /// Payload length.
        len: usize,
    },
    /// An incomplete datagram timed out (RFC 1122 §3.3.2).
    ReassemblyTimeout {
        /// Source.
        src: Ipv4Addr,
        /// Identification.
        ident: u16,
        /// Whether fragment zero had arrived (then ICMP time exceeded is sent, RFC 792).
        had_first: bool,
    },
    /// A TCP event (state change, retransmission, timer, congestion decision).
    Tcp(crate::tcp::TcpEvent),
}

impl EventKind {
    /// The RFC section that mandates this behaviour, if one does.
    pub fn rfc(&self) -> Option<&'static str> {
        Some(match self {
            EventKind::Frame { layer, .. } => layer.rfc(),
            EventKind::Drop { reason } => reason.rfc(),
            EventKind::ArpCache {
                change: ArpCacheChange::Expired,
                ..
            } => "RFC 1122 §2.3.2.1",
            EventKind::ArpCache { .. } => "RFC 826",
            EventKind::ArpRequest { attempt: 1, .. } => "RFC 826",
            EventKind::ArpRequest { .. } => "RFC 1122 §2.3.2.1",
            EventKind::ArpGaveUp { .. } => "RFC 1122 §2.3.2.2",
            EventKind::IcmpSent {
                kind: IcmpKind::EchoReply { .. },
                ..
            } => "RFC 1122 §3.2.2.6",
            EventKind::IcmpSent {
                kind: IcmpKind::TimeExceeded { .. },
                ..
            } => "RFC 792",
            EventKind::IcmpSent {
                kind: IcmpKind::DstUnreachable { .. },
                ..
            } => "RFC 1122 §3.2.2.1",
            EventKind::IcmpSent { .. } | EventKind::IcmpReceived { .. } => "RFC 792",
            EventKind::Fragmented { .. } => "RFC 791 §3.2",
            EventKind::Reassembled { .. } => "RFC 815",
            EventKind::ReassemblyTimeout { .. } => "RFC 1122 §3.3.2",
            EventKind::Tcp(e) => return e.rfc(),
        })
    }

    /// The layer the event belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            EventKind::Frame { layer, .. } => *layer,
            EventKind::Drop { reason } => reason.layer(),
            EventKind::ArpCache { .. } | EventKind::ArpRequest { .. } => Layer::Arp,
            EventKind::ArpGaveUp { .. } => Layer::Arp,
            EventKind::IcmpSent { .. } | EventKind::IcmpReceived { .. } => Layer::Icmp,
            EventKind::Fragmented { .. } | EventKind::Reassembled { .. } => Layer::Ipv4,
            EventKind::ReassemblyTimeout { .. } => Layer::Ipv4,
            EventKind::Tcp(_) => Layer::Tcp,
        }
    }
}

impl fmt::Display for EventKind {
    /// One line: `[rx|tx ]layer: what [RFC x §y]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Frame {
                dir, summary, len, ..
            } => {
                let d = if *dir == Direction::Rx { "rx" } else { "tx" };
                write!(f, "{d} {summary} ({len} bytes)")?;
            }
            EventKind::Drop { reason } => {
                write!(f, "{}: drop: {}", reason.layer().name(), reason.name())?
            }
            EventKind::ArpCache { change, ip, mac } => {
                let c = match change {
                    ArpCacheChange::Added => "added",
                    ArpCacheChange::Updated => "updated",
                    ArpCacheChange::Expired => "expired",
                    ArpCacheChange::Evicted => "evicted",
                };
                write!(f, "arp: cache {c} {ip} is-at {mac}")?
            }
            EventKind::ArpRequest { target, attempt } => {
                write!(f, "arp: request for {target} (attempt {attempt})")?
            }
            EventKind::ArpGaveUp { target, dropped } => {
                write!(f, "arp: gave up on {target}, dropped {dropped} packets")?
            }
            EventKind::IcmpSent { to, kind } => write!(f, "icmp: sent {kind} to {to}")?,
            EventKind::IcmpReceived { from, kind } => {
                write!(f, "icmp: received {kind} from {from}")?
            }
            EventKind::Fragmented {
                dst,
                ident,
                len,
                fragments,
            } => write!(
                f,
                "ipv4: fragmented {len} bytes to {dst} into {fragments} fragments (id {ident})"
            )?,
            EventKind::Reassembled { src, ident, len } => {
                write!(f, "ipv4: reassembled {len} bytes from {src} (id {ident})")?
            }
            EventKind::ReassemblyTimeout {
                src,
                ident,
                had_first,
            } => write!(
                f,
                "ipv4: reassembly of id {ident} from {src} timed out{}",
                if *had_first {
                    " (time exceeded sent)"
                } else {
                    ""
                }
            )?,
            EventKind::Tcp(e) => write!(f, "tcp: {e:?}")?,
        }
        if let Some(rfc) = self.rfc() {
            write!(f, " [{rfc}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.time, self.kind)
    }
}

/// A bounded queue of events, disabled by default.
#[derive(Debug)]
pub struct EventSink {
    enabled: bool,
    queue: VecDeque<Event>,
    capacity: usize,
    /// Events dropped because the queue was full (the reader fell behind).
    pub overflowed: u64,
}

impl EventSink {
    /// A disabled sink that will hold at most `capacity` undelivered events once enabled.
    pub fn new(capacity: usize) -> Self {
        EventSink {
            enabled: false,
            queue: VecDeque::new(),
            capacity,
            overflowed: 0,
        }
    }

    /// Turn recording on or off; turning it off discards queued events.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.queue.clear();
        }
    }

    /// Whether recording is on.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Record an event built by `make`, which runs only when recording is on.
    #[inline]
    pub fn emit(&mut self, now: Instant, make: impl FnOnce() -> EventKind) {
        if self.enabled {
            self.push(Event {
                time: now,
                kind: make(),
            });
        }
    }

    /// Record a drop.
    #[inline]
    pub fn drop_packet(&mut self, now: Instant, reason: DropReason) {
        self.emit(now, || EventKind::Drop { reason });
    }

    fn push(&mut self, ev: Event) {
        if self.capacity == 0 {
            self.overflowed += 1;
            return;
        }
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.overflowed += 1;
        }
        self.queue.push_back(ev);
    }

    /// Take the oldest recorded event.
    pub fn pop(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_cites_rfc() {
        let e = EventKind::Frame {
            dir: Direction::Rx,
            layer: Layer::Arp,
            len: 42,
            summary: "arp: who-has 198.18.0.1 tell 198.18.0.2".into(),
        };
        assert_eq!(
            e.to_string(),
            "rx arp: who-has 198.18.0.1 tell 198.18.0.2 (42 bytes) [RFC 826]"
        );
        let d = EventKind::Drop {
            reason: DropReason::IcmpRateLimited,
        };
        assert_eq!(
            d.to_string(),
            "icmp: drop: error rate limited [RFC 1812 §4.3.2.8]"
        );
    }

    #[test]
    fn disabled_sink_records_nothing() {
        let mut s = EventSink::new(4);
        s.emit(Instant::ZERO, || panic!("must not run when disabled"));
        s.set_enabled(true);
        for _ in 0..6 {
            s.drop_packet(Instant::ZERO, DropReason::IpNoRoute);
        }
        assert_eq!(s.len(), 4);
        assert_eq!(s.overflowed, 2);
    }
}
