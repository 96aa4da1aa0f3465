//! The transmit and timer paths of the [`Stack`] facade.
//!
//! `poll_transmit` emits one frame per call in this priority: ARP (announcements, replies,
//! requests), the next fragment of a datagram being fragmented, ICMP messages, datagrams whose
//! next hop just resolved, UDP datagrams, then TCP segments. Every IPv4 datagram goes through
//! routing (RFC 1122 §3.3.1) and ARP resolution; an unresolved next hop parks a copy in ARP's
//! bounded pending queue (RFC 1122 §2.3.2.2).

use smoltcp::wire::{EthernetAddress, EthernetProtocol, Icmpv4Message, Ipv4Packet};

use crate::ctx::Ctx;
use crate::ethernet;
use crate::event::{Direction, DropReason, EventKind};
use crate::icmp::{ErrorContext, IcmpErrorKind};
use crate::ipv4::{self, fragment, Header, NextHop, Origin, OutDatagram};
use crate::stack::Stack;
use crate::tcp::TcpTransmit;
use crate::time::Instant;

const IP_START: usize = ethernet::HEADER_LEN;
const L4_START: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;

impl Stack {
    /// Write the next frame to send into `buf` (at least 14 + MTU bytes) and return its length.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let n = self.next_frame(now, buf)?;
        self.stats.ethernet.frames_out += 1;
        self.record_frame(now, Direction::Tx, &buf[..n]);
        Some(n)
    }

    fn next_frame(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let mtu = self
            .config
            .mtu
            .min(buf.len().saturating_sub(ethernet::HEADER_LEN));
        if mtu < ipv4::HEADER_LEN + 8 {
            return None;
        }
        loop {
            let mut ctx = Ctx {
                events: &mut self.events,
                stats: &mut self.stats,
            };
            if let Some(n) = self.arp.poll_transmit(&mut ctx, buf) {
                return Some(n);
            }
            if let Some(n) = self.next_fragment(buf, mtu) {
                return Some(n);
            }
            let queued = self
                .icmp
                .pop_out()
                .or_else(|| self.arp.pop_released())
                .or_else(|| self.udp.pop_out());
            if let Some(d) = queued {
                match self.send_datagram(now, d, buf, mtu) {
                    Some(n) => return Some(n),
                    None => continue,
                }
            }
            let mut ctx = Ctx {
                events: &mut self.events,
                stats: &mut self.stats,
            };
            if let Some(t) =
                self.tcp
                    .poll_transmit(now, &mut ctx, &mut buf[L4_START..IP_START + mtu])
            {
                match self.send_tcp(now, t, buf) {
                    Some(n) => return Some(n),
                    None => continue,
                }
            }
            if self.arp.has_output() {
                continue;
            }
            return None;
        }
    }

    /// The link address for `dst`: `Err(None)` without a route, `Err(Some(hop))` while the
    /// next hop is unresolved.
    fn resolve(
        &mut self,
        now: Instant,
        dst: core::net::Ipv4Addr,
    ) -> Result<EthernetAddress, Option<core::net::Ipv4Addr>> {
        match self.ip.routes.lookup(dst) {
            None => Err(None),
            Some(NextHop::Broadcast) => Ok(EthernetAddress::BROADCAST),
            Some(NextHop::Unicast(hop)) => self.arp.lookup(now, hop).ok_or(Some(hop)),
        }
    }

    fn no_route(&mut self, now: Instant, d: &OutDatagram) {
        self.stats.ipv4.no_route += 1;
        self.events.drop_packet(now, DropReason::IpNoRoute);
        self.origin_failed(d.origin, IcmpErrorKind::NetUnreachable);
    }

    /// Tell the producer of a datagram that it could not be delivered.
    fn origin_failed(&mut self, origin: Origin, kind: IcmpErrorKind) {
        match origin {
            Origin::Udp(h) => self.udp.set_error_handle(h, kind),
            Origin::Ping { ident, seq } => self.icmp.ping_unreachable(ident, seq),
            Origin::Icmp | Origin::Tcp => {}
        }
    }

    fn park(&mut self, now: Instant, hop: core::net::Ipv4Addr, d: OutDatagram) {
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        if let Err((reason, d)) = self.arp.enqueue(now, &mut ctx, hop, d) {
            ctx.events.drop_packet(now, reason);
            if let Origin::Udp(h) = d.origin {
                self.udp.set_error_handle(h, IcmpErrorKind::HostUnreachable);
            }
            self.pool.give(d.payload);
        }
    }

    /// Send (or fragment, or park) one datagram from a queue.
    fn send_datagram(
        &mut self,
        now: Instant,
        d: OutDatagram,
        buf: &mut [u8],
        mtu: usize,
    ) -> Option<usize> {
        let mac = match self.resolve(now, d.dst) {
            Ok(mac) => mac,
            Err(None) => {
                self.no_route(now, &d);
                self.pool.give(d.payload);
                return None;
            }
            Err(Some(hop)) => {
                self.park(now, hop, d);
                return None;
            }
        };
        let len = d.payload.len();
        if ipv4::HEADER_LEN + len <= mtu {
            let ident = self.ip.next_ident();
            self.write_headers(buf, mac, &d, len, ident, false, 0);
            buf[L4_START..L4_START + len].copy_from_slice(&d.payload);
            self.stats.ipv4.packets_out += 1;
            self.count_sent(&d);
            self.pool.give(d.payload);
            return Some(L4_START + len);
        }
        if d.dont_frag || ipv4::HEADER_LEN + len > 65535 {
            self.stats.ipv4.too_long += 1;
            self.events.drop_packet(now, DropReason::IpTooLong);
            self.pool.give(d.payload);
            return None;
        }
        // RFC 791 §3.2: split into fragments of a multiple of 8 bytes each.
        let ident = self.ip.next_ident();
        let (dst, fragments) = (d.dst, fragment::fragment_count(len, mtu));
        self.events.emit(now, || EventKind::Fragmented {
            dst,
            ident,
            len,
            fragments,
        });
        self.stats.ipv4.fragmented += 1;
        self.count_sent(&d);
        self.ip.fragmenter.start(d, mac, ident);
        self.next_fragment(buf, mtu)
    }

    fn count_sent(&mut self, d: &OutDatagram) {
        if let Origin::Udp(_) = d.origin {
            self.stats.udp.datagrams_out += 1;
        }
    }

    fn next_fragment(&mut self, buf: &mut [u8], mtu: usize) -> Option<usize> {
        let (our_mac, ttl) = (self.config.mac, self.ip.ttl);
        let n = self.ip.fragmenter.next(mtu, &mut self.pool, |f| {
            ethernet::emit_header(buf, our_mac, f.dst_mac, EthernetProtocol::Ipv4);
            let h = Header {
                src: f.dgram.src,
                dst: f.dgram.dst,
                proto: f.dgram.proto,
                payload_len: f.data.len(),
                ttl,
                ident: f.ident,
                dont_frag: false,
                more_frags: f.more,
                frag_offset: f.offset,
            };
            ipv4::emit_header(&mut buf[IP_START..], &h);
            buf[L4_START..L4_START + f.data.len()].copy_from_slice(f.data);
            L4_START + f.data.len()
        })?;
        self.stats.ipv4.packets_out += 1;
        self.stats.ipv4.fragments_out += 1;
        Some(n)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_headers(
        &self,
        buf: &mut [u8],
        mac: EthernetAddress,
        d: &OutDatagram,
        len: usize,
        ident: u16,
        more: bool,
        offset: usize,
    ) {
        ethernet::emit_header(buf, self.config.mac, mac, EthernetProtocol::Ipv4);
        let h = Header {
            src: d.src,
            dst: d.dst,
            proto: d.proto,
            payload_len: len,
            ttl: self.ip.ttl,
            ident,
            dont_frag: d.dont_frag,
            more_frags: more,
            frag_offset: offset,
        };
        ipv4::emit_header(&mut buf[IP_START..], &h);
    }

    /// Wrap a segment TCP wrote at `buf[34..]` in IPv4 and Ethernet, or park a copy.
    fn send_tcp(&mut self, now: Instant, t: TcpTransmit, buf: &mut [u8]) -> Option<usize> {
        let d = OutDatagram {
            src: t.src,
            dst: t.dst,
            proto: smoltcp::wire::IpProtocol::Tcp,
            // RFC 1191: TCP segments carry DF; we never fragment them (MSS fits the MTU).
            dont_frag: true,
            origin: Origin::Tcp,
            payload: Vec::new(),
        };
        match self.resolve(now, t.dst) {
            Ok(mac) => {
                let ident = self.ip.next_ident();
                self.write_headers(buf, mac, &d, t.len, ident, false, 0);
                self.stats.ipv4.packets_out += 1;
                Some(L4_START + t.len)
            }
            Err(None) => {
                self.no_route(now, &d);
                None
            }
            Err(Some(hop)) => {
                let d = OutDatagram {
                    payload: self.pool.copy_of(&buf[L4_START..L4_START + t.len]),
                    ..d
                };
                self.park(now, hop, d);
                None
            }
        }
    }

    /// Run every timer that is due at `now`: ARP retries and aging, reassembly timeouts
    /// (RFC 1122 §3.3.2, with ICMP time exceeded when fragment zero had arrived), TCP timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        let mut failed: Vec<Origin> = Vec::new();
        let pool = &mut self.pool;
        self.arp.handle_timeout(now, &mut ctx, |_, d| {
            if !matches!(d.origin, Origin::Icmp | Origin::Tcp) {
                failed.push(d.origin);
            }
            pool.give(d.payload);
        });
        let mut expired = Vec::new();
        self.ip
            .reassembly
            .expire(now, &mut self.pool, |e| expired.push(e));
        for e in expired {
            ctx.stats.ipv4.reassembly_timeout += 1;
            let (src, ident, had_first) = (e.key.src, e.key.ident, e.first.is_some());
            ctx.events.emit(now, || EventKind::ReassemblyTimeout {
                src,
                ident,
                had_first,
            });
            ctx.events.drop_packet(now, DropReason::ReassemblyTimeout);
            // RFC 792 / RFC 1122 §3.3.2: time exceeded (code 1) only if fragment zero arrived.
            if let Some(first) = e.first {
                let quote = first.as_bytes();
                let hl = (Ipv4Packet::new_unchecked(quote).header_len() as usize).min(quote.len());
                let about = ErrorContext {
                    src,
                    broadcast: self.ip.is_broadcast(e.key.dst),
                    later_fragment: false,
                    proto: e.key.proto.into(),
                    quote,
                    payload: &quote[hl..],
                };
                self.icmp.send_error(
                    now,
                    &mut ctx,
                    &mut self.pool,
                    Icmpv4Message::TimeExceeded,
                    1,
                    &about,
                );
            }
        }
        self.tcp.handle_timeout(now, &mut ctx);
        for origin in failed {
            self.origin_failed(origin, IcmpErrorKind::HostUnreachable);
        }
    }
}
