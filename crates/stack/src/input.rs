//! The receive path of the [`Stack`] facade: Ethernet demux, IPv4 validation and reassembly,
//! then delivery to ICMP, UDP or TCP. Each layer's rules live in its own module; this file
//! only moves packets between them and answers with ICMP errors where RFC 1122 asks.

use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::wire::{Icmpv4Message, IpProtocol, TcpPacket};

use crate::ctx::Ctx;
use crate::error::TcpError;
use crate::ethernet::{self, Demux};
use crate::event::{Direction, DropReason, EventKind};
use crate::icmp::{ErrorContext, IcmpErrorKind, IcmpSource, QuotedError, Received};
use crate::ipv4::reassembly::{Key, Outcome, Piece};
use crate::stack::Stack;
use crate::tcp::TcpIcmpError;
use crate::time::Instant;
use crate::udp::Delivery;

/// What the transports need to know about a received datagram besides its payload.
#[derive(Debug, Clone, Copy)]
struct Meta {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: IpProtocol,
    ttl: u8,
    broadcast: bool,
}

impl Stack {
    /// Handle one received Ethernet frame. Bad input is dropped and counted, never a panic.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.record_frame(now, Direction::Rx, frame);
        match ethernet::demux(frame, self.config.mac, &mut self.stats.ethernet) {
            Err(reason) => self.events.drop_packet(now, reason),
            Ok(Demux::Arp(bytes)) => {
                let mut ctx = Ctx {
                    events: &mut self.events,
                    stats: &mut self.stats,
                };
                if let Err(reason) = self.arp.process(now, &mut ctx, bytes) {
                    ctx.events.drop_packet(now, reason);
                }
            }
            Ok(Demux::Ipv4 { payload, broadcast }) => self.handle_ipv4(now, payload, broadcast),
        }
    }

    fn handle_ipv4(&mut self, now: Instant, bytes: &[u8], frame_broadcast: bool) {
        let input = match self
            .ip
            .parse_input(bytes, frame_broadcast, &mut self.stats.ipv4)
        {
            Ok(i) => i,
            Err(reason) => return self.events.drop_packet(now, reason),
        };
        let meta = Meta {
            src: input.src,
            dst: input.dst,
            proto: input.proto,
            ttl: input.ttl,
            broadcast: input.broadcast,
        };
        if !input.is_fragment() {
            // The quote for ICMP errors: as much of the datagram as fits in a 576-byte error
            // (RFC 1812 §4.3.2.3; RFC 792's minimum is the header plus 8 bytes), as Linux.
            let quote_len = (input.header.len() + input.payload.len()).min(crate::icmp::MAX_QUOTE);
            return self.deliver(now, &meta, &bytes[..quote_len], input.payload);
        }
        self.stats.ipv4.fragments_in += 1;
        let key = Key {
            src: input.src,
            dst: input.dst,
            proto: input.proto.into(),
            ident: input.ident,
        };
        let outcome = self.ip.reassembly.insert(
            &mut self.pool,
            now,
            key,
            Piece {
                header: input.header,
                offset: input.frag_offset,
                more: input.more_frags,
                data: input.payload,
            },
        );
        match outcome {
            Outcome::Incomplete => {}
            Outcome::Duplicate => self.stats.ipv4.reassembly_duplicate += 1,
            Outcome::Dropped(reason) => {
                let c = &mut self.stats.ipv4;
                match reason {
                    DropReason::ReassemblyMemFull => c.reassembly_mem_full += 1,
                    DropReason::ReassemblyTooMany => c.reassembly_too_many += 1,
                    DropReason::ReassemblyTooBig => c.reassembly_too_big += 1,
                    DropReason::ReassemblyOverlap => c.reassembly_overlap += 1,
                    DropReason::ReassemblyTooManyHoles => c.reassembly_too_many_holes += 1,
                    _ => c.reassembly_inconsistent += 1,
                }
                self.events.drop_packet(now, reason);
            }
            Outcome::Complete(done) => {
                self.stats.ipv4.reassembled += 1;
                let (src, ident, len) = (done.key.src, done.key.ident, done.payload.len());
                self.events
                    .emit(now, || EventKind::Reassembled { src, ident, len });
                self.deliver(now, &meta, done.quote.as_bytes(), &done.payload);
                self.pool.give(done.payload);
            }
        }
    }

    /// Hand a whole datagram's payload to its protocol.
    fn deliver(&mut self, now: Instant, meta: &Meta, quote: &[u8], payload: &[u8]) {
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        match meta.proto {
            IpProtocol::Icmp => {
                match self.icmp.process(
                    now,
                    &mut ctx,
                    &mut self.pool,
                    &IcmpSource {
                        src: meta.src,
                        ttl: meta.ttl,
                        broadcast: meta.broadcast,
                    },
                    payload,
                ) {
                    Ok(Received::Done) => {}
                    Ok(Received::Error(err)) => self.icmp_error(now, err),
                    Err(reason) => ctx.events.drop_packet(now, reason),
                }
            }
            IpProtocol::Udp => {
                match self
                    .udp
                    .process(&mut ctx, &mut self.pool, meta.src, meta.dst, payload)
                {
                    Ok(Delivery::Delivered) => {}
                    Ok(Delivery::NoSocket) => {
                        // RFC 1122 §4.1.3.1: SHOULD send port unreachable.
                        ctx.events.drop_packet(now, DropReason::UdpNoSocket);
                        let about = error_context(meta, quote, payload);
                        self.icmp.send_error(
                            now,
                            &mut ctx,
                            &mut self.pool,
                            Icmpv4Message::DstUnreachable,
                            3,
                            &about,
                        );
                    }
                    Err(reason) => ctx.events.drop_packet(now, reason),
                }
            }
            IpProtocol::Tcp => {
                let Ok(segment) = TcpPacket::new_checked(payload) else {
                    ctx.stats.tcp_input.truncated += 1;
                    return ctx.events.drop_packet(now, DropReason::TcpTruncated);
                };
                // RFC 9293 §3.1: the checksum covers the pseudo-header and the whole segment.
                if !crate::ipv4::checksum::verify_transport(
                    meta.src,
                    meta.dst,
                    IpProtocol::Tcp,
                    segment.into_inner(),
                ) {
                    ctx.stats.tcp_input.bad_checksum += 1;
                    return ctx.events.drop_packet(now, DropReason::TcpBadChecksum);
                }
                // RFC 9293 §3.9.1 / RFC 1122 §4.2.3.10: segments to a broadcast are not TCP's.
                if meta.broadcast {
                    ctx.stats.ipv4.not_for_us += 1;
                    return ctx.events.drop_packet(now, DropReason::IpNotForUs);
                }
                ctx.stats.tcp_input.segments_in += 1;
                self.tcp.process(now, &mut ctx, meta.src, meta.dst, payload);
            }
            _ => {
                // RFC 1122 §3.2.2.1: protocol unreachable for a transport we do not have.
                ctx.stats.ipv4.unknown_protocol += 1;
                ctx.events.drop_packet(now, DropReason::IpUnknownProtocol);
                let about = error_context(meta, quote, payload);
                self.icmp.send_error(
                    now,
                    &mut ctx,
                    &mut self.pool,
                    Icmpv4Message::DstUnreachable,
                    2,
                    &about,
                );
            }
        }
    }

    /// Route an ICMP error about one of our datagrams to its transport.
    fn icmp_error(&mut self, now: Instant, err: QuotedError) {
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        let (sport, dport) = err.ports();
        match err.proto {
            IpProtocol::Tcp => {
                // RFC 1122 §4.2.3.9: port/protocol unreachable are hard errors.
                let error = match err.kind {
                    IcmpErrorKind::PortUnreachable | IcmpErrorKind::ProtocolUnreachable => {
                        TcpError::ConnectionRefused
                    }
                    _ => TcpError::HostUnreachable,
                };
                let e = TcpIcmpError {
                    local: SocketAddrV4::new(err.src, sport),
                    remote: SocketAddrV4::new(err.dst, dport),
                    seq: err.tcp_seq(),
                    hard: err.kind.is_hard(),
                    frag_mtu: match err.kind {
                        IcmpErrorKind::FragmentationNeeded { mtu } => Some(mtu),
                        _ => None,
                    },
                    error,
                };
                self.tcp.icmp_error(now, &mut ctx, e);
            }
            IpProtocol::Udp => self.udp.set_error(&mut ctx, sport, err.kind),
            _ => ctx.stats.icmp.errors_unmatched += 1,
        }
    }
}

fn error_context<'a>(meta: &Meta, quote: &'a [u8], payload: &'a [u8]) -> ErrorContext<'a> {
    ErrorContext {
        src: meta.src,
        broadcast: meta.broadcast,
        later_fragment: false,
        proto: meta.proto,
        quote,
        payload,
    }
}
