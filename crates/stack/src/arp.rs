//! ARP (RFC 826) with the host requirements of RFC 1122 §2.3.2.
//!
//! - An aging cache (RFC 1122 §2.3.2.1: entries MUST time out), bounded in size.
//! - The RFC 826 packet reception algorithm: if the sender is already cached, its entry is
//!   updated ("merge"); if the packet targets our address, the sender is added and a request is
//!   answered with a reply. Packets about other hosts teach us nothing else.
//! - Resolution: a request is broadcast and retransmitted with exponential backoff (RFC 1122
//!   §2.3.2.1 asks to limit the rate of requests per destination); after the configured number
//!   of requests the destination is given up and the packets waiting for it are dropped.
//! - Packets waiting for resolution (RFC 1122 §2.3.2.2 "SHOULD save at least one") are kept in a
//!   bounded queue: per destination, total packets and total bytes.
//! - A gratuitous ARP announcing our address when the stack starts (RFC 5227 §3).
//!
//! Maps are ordered (`BTreeMap`) so that runs are deterministic for a given seed.

use core::net::Ipv4Addr;
use std::collections::{BTreeMap, VecDeque};

use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetProtocol};

use crate::config::ArpConfig;
use crate::ctx::Ctx;
use crate::ethernet;
use crate::event::{ArpCacheChange, DropReason, EventKind};
use crate::ipv4::OutDatagram;
use crate::time::Instant;

/// Bytes of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// Upper bound on ARP packets waiting to be sent (requests and replies).
const MAX_OUT: usize = 64;

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    mac: EthernetAddress,
    expires: Instant,
    /// A unicast refresh request was sent for this entry (RFC 1122 §2.3.2.1 unicast poll).
    refreshing: bool,
}

#[derive(Debug)]
struct Resolving {
    /// Requests sent so far.
    requests: u32,
    /// When to retransmit the request (or give up).
    next: Instant,
    queue: VecDeque<OutDatagram>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutArp {
    Request(Ipv4Addr),
    Reply { mac: EthernetAddress, ip: Ipv4Addr },
    Refresh { mac: EthernetAddress, ip: Ipv4Addr },
    Announce,
}

/// A cache entry as seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpEntry {
    /// Protocol address.
    pub ip: Ipv4Addr,
    /// Hardware address.
    pub mac: EthernetAddress,
    /// When the entry expires.
    pub expires: Instant,
}

/// ARP state of one stack.
#[derive(Debug)]
pub(crate) struct Arp {
    cfg: ArpConfig,
    mac: EthernetAddress,
    ip: Ipv4Addr,
    cache: BTreeMap<Ipv4Addr, CacheEntry>,
    resolving: BTreeMap<Ipv4Addr, Resolving>,
    released: VecDeque<OutDatagram>,
    pending_packets: usize,
    pending_bytes: usize,
    out: VecDeque<OutArp>,
    started: bool,
}

impl Arp {
    pub fn new(cfg: &ArpConfig, mac: EthernetAddress, ip: Ipv4Addr) -> Self {
        Arp {
            cfg: cfg.clone(),
            mac,
            ip,
            cache: BTreeMap::new(),
            resolving: BTreeMap::new(),
            released: VecDeque::new(),
            pending_packets: 0,
            pending_bytes: 0,
            out: VecDeque::new(),
            started: false,
        }
    }

    /// Bytes of packets waiting for resolution (or released and not yet sent).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Packets waiting for resolution (or released and not yet sent).
    #[cfg(test)]
    pub fn pending_packets(&self) -> usize {
        self.pending_packets
    }

    /// The cache, for inspection.
    pub fn entries(&self) -> impl Iterator<Item = ArpEntry> + '_ {
        self.cache.iter().map(|(&ip, e)| ArpEntry {
            ip,
            mac: e.mac,
            expires: e.expires,
        })
    }

    /// The hardware address of `ip` if the cache holds a live entry. An entry used close to
    /// its expiry is refreshed with a unicast request (RFC 1122 §2.3.2.1 "unicast poll").
    pub fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Option<EthernetAddress> {
        let e = self.cache.get_mut(&ip).filter(|e| e.expires > now)?;
        if !e.refreshing && e.expires - now <= self.cfg.refresh_before && self.out.len() < MAX_OUT {
            e.refreshing = true;
            self.out.push_back(OutArp::Refresh { mac: e.mac, ip });
        }
        Some(e.mac)
    }

    /// Queue `dgram` until `next_hop` resolves, sending a request if none is outstanding.
    pub fn enqueue(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        next_hop: Ipv4Addr,
        dgram: OutDatagram,
    ) -> Result<(), (DropReason, OutDatagram)> {
        let len = dgram.payload.len();
        if self.pending_packets >= self.cfg.max_pending_total
            || self.pending_bytes + len > self.cfg.max_pending_bytes
        {
            ctx.stats.arp.pending_dropped_full += 1;
            return Err((DropReason::ArpPendingFull, dgram));
        }
        if !self.resolving.contains_key(&next_hop) {
            if self.resolving.len() >= self.cfg.max_resolving || self.cfg.max_requests == 0 {
                ctx.stats.arp.pending_dropped_full += 1;
                return Err((DropReason::ArpPendingFull, dgram));
            }
            self.resolving.insert(
                next_hop,
                Resolving {
                    requests: 0,
                    next: now,
                    queue: VecDeque::new(),
                },
            );
            self.send_request(now, ctx, next_hop);
        }
        let Some(r) = self.resolving.get_mut(&next_hop) else {
            return Err((DropReason::ArpPendingFull, dgram));
        };
        if r.queue.len() >= self.cfg.max_pending_per_dest {
            ctx.stats.arp.pending_dropped_full += 1;
            return Err((DropReason::ArpPendingFull, dgram));
        }
        r.queue.push_back(dgram);
        self.pending_packets += 1;
        self.pending_bytes += len;
        Ok(())
    }

    fn send_request(&mut self, now: Instant, ctx: &mut Ctx<'_>, target: Ipv4Addr) {
        let Some(r) = self.resolving.get_mut(&target) else {
            return;
        };
        r.requests += 1;
        // RFC 1122 §2.3.2.1: limit the rate of requests to one destination; back off
        // exponentially up to `retry_max`.
        let shift = (r.requests - 1).min(16);
        let delay = self
            .cfg
            .retry_initial
            .saturating_mul(1 << shift)
            .min(self.cfg.retry_max);
        r.next = now + delay;
        let attempt = r.requests;
        if self.out.len() < MAX_OUT && !self.out.contains(&OutArp::Request(target)) {
            self.out.push_back(OutArp::Request(target));
        }
        ctx.events
            .emit(now, || EventKind::ArpRequest { target, attempt });
    }

    /// The next datagram whose next hop resolved, to be routed again and sent.
    pub fn pop_released(&mut self) -> Option<OutDatagram> {
        let d = self.released.pop_front()?;
        self.pending_packets -= 1;
        self.pending_bytes -= d.payload.len();
        Some(d)
    }

    /// Whether released datagrams wait to be sent.
    #[cfg(test)]
    pub fn has_released(&self) -> bool {
        !self.released.is_empty()
    }

    /// Handle one received ARP packet (RFC 826 "Packet Reception").
    pub fn process(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        bytes: &[u8],
    ) -> Result<(), DropReason> {
        ctx.stats.arp.packets_in += 1;
        let parsed = ArpPacket::new_checked(bytes)
            .ok()
            .and_then(|p| ArpRepr::parse(&p).ok());
        let Some(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_protocol_addr: tpa,
            ..
        }) = parsed
        else {
            ctx.stats.arp.malformed += 1;
            return Err(DropReason::ArpMalformed);
        };
        if !matches!(operation, ArpOperation::Request | ArpOperation::Reply)
            || !sha.is_unicast()
            || spa.is_broadcast()
            || spa.is_multicast()
        {
            ctx.stats.arp.malformed += 1;
            return Err(DropReason::ArpMalformed);
        }
        if operation == ArpOperation::Reply {
            ctx.stats.arp.replies_in += 1;
        }
        if spa == self.ip {
            // Someone else claims our address (RFC 5227 §2.4): never learn it.
            ctx.stats.arp.conflicts += 1;
            return Ok(());
        }
        // RFC 826: "If the pair <protocol type, sender protocol address> is already in my
        // translation table, update the sender hardware address field ... Merge_flag := true".
        let mut merged = false;
        if !spa.is_unspecified() {
            if let Some(e) = self.cache.get_mut(&spa) {
                let changed = e.mac != sha;
                e.mac = sha;
                e.expires = now + self.cfg.cache_ttl;
                e.refreshing = false;
                merged = true;
                if changed {
                    ctx.events.emit(now, || EventKind::ArpCache {
                        change: ArpCacheChange::Updated,
                        ip: spa,
                        mac: sha,
                    });
                }
            }
        }
        if tpa != self.ip {
            if !merged {
                ctx.stats.arp.not_for_us += 1;
            }
            self.resolved(spa);
            return Ok(());
        }
        // "Am I the target protocol address? ... If Merge_flag is false, add the triplet".
        // RFC 826 adds it for replies too; like Linux (`arp_accept=0`) we add it from a
        // request, or from a reply we are waiting for, so an unsolicited reply cannot plant
        // an entry (cache poisoning); it still updates an entry we have (above).
        if !merged && !spa.is_unspecified() {
            if operation == ArpOperation::Request || self.resolving.contains_key(&spa) {
                self.insert(now, ctx, spa, sha);
            } else {
                ctx.stats.arp.unsolicited_ignored += 1;
            }
        }
        if operation == ArpOperation::Request {
            if self.out.len() < MAX_OUT {
                self.out.push_back(OutArp::Reply { mac: sha, ip: spa });
            } else {
                ctx.stats.arp.out_dropped_full += 1;
            }
        }
        self.resolved(spa);
        Ok(())
    }

    fn insert(&mut self, now: Instant, ctx: &mut Ctx<'_>, ip: Ipv4Addr, mac: EthernetAddress) {
        if self.cache.len() >= self.cfg.max_entries {
            let victim = self
                .cache
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(&ip, e)| (ip, e.mac));
            if let Some((vip, vmac)) = victim {
                self.cache.remove(&vip);
                ctx.stats.arp.entries_evicted += 1;
                ctx.events.emit(now, || EventKind::ArpCache {
                    change: ArpCacheChange::Evicted,
                    ip: vip,
                    mac: vmac,
                });
            }
        }
        if self.cfg.max_entries == 0 {
            return;
        }
        self.cache.insert(
            ip,
            CacheEntry {
                mac,
                expires: now + self.cfg.cache_ttl,
                refreshing: false,
            },
        );
        ctx.events.emit(now, || EventKind::ArpCache {
            change: ArpCacheChange::Added,
            ip,
            mac,
        });
    }

    /// `ip` is now in the cache: release the packets waiting for it.
    fn resolved(&mut self, ip: Ipv4Addr) {
        if !self.cache.contains_key(&ip) {
            return;
        }
        if let Some(r) = self.resolving.remove(&ip) {
            self.released.extend(r.queue);
        }
    }

    /// Write the next ARP frame (announcement, reply, request) into `buf`.
    pub fn poll_transmit(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> Option<usize> {
        if !self.started {
            self.started = true;
            if self.cfg.gratuitous_on_start {
                self.out.push_front(OutArp::Announce);
            }
        }
        let out = self.out.pop_front()?;
        let (op, dst_mac, tha, tpa) = match out {
            // RFC 5227 §3: an announcement is a request with sender and target set to our
            // address, broadcast.
            OutArp::Announce => (
                ArpOperation::Request,
                EthernetAddress::BROADCAST,
                EthernetAddress([0; 6]),
                self.ip,
            ),
            OutArp::Request(t) => (
                ArpOperation::Request,
                EthernetAddress::BROADCAST,
                EthernetAddress([0; 6]),
                t,
            ),
            OutArp::Reply { mac, ip } => (ArpOperation::Reply, mac, mac, ip),
            OutArp::Refresh { mac, ip } => {
                (ArpOperation::Request, mac, EthernetAddress([0; 6]), ip)
            }
        };
        let repr = ArpRepr::EthernetIpv4 {
            operation: op,
            source_hardware_addr: self.mac,
            source_protocol_addr: self.ip,
            target_hardware_addr: tha,
            target_protocol_addr: tpa,
        };
        let len = ethernet::HEADER_LEN + PACKET_LEN;
        if buf.len() < len {
            return None;
        }
        ethernet::emit_header(buf, self.mac, dst_mac, EthernetProtocol::Arp);
        let mut packet = ArpPacket::new_unchecked(&mut buf[ethernet::HEADER_LEN..len]);
        repr.emit(&mut packet);
        match out {
            OutArp::Reply { .. } => ctx.stats.arp.replies_sent += 1,
            _ => ctx.stats.arp.requests_sent += 1,
        }
        Some(len)
    }

    /// Whether a frame is waiting in `poll_transmit`.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || !self.started
    }

    /// Earliest retry, give-up or expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.resolving.values().map(|r| r.next).min();
        let expiry = self.cache.values().map(|e| e.expires).min();
        match (retry, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Age the cache and retransmit or abandon requests. Datagrams dropped because their
    /// destination never answered are given to `on_drop` (to notify their origin).
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        mut on_drop: impl FnMut(&mut Ctx<'_>, OutDatagram),
    ) {
        let expired: Vec<(Ipv4Addr, EthernetAddress)> = self
            .cache
            .iter()
            .filter(|(_, e)| e.expires <= now)
            .map(|(&ip, e)| (ip, e.mac))
            .collect();
        for (ip, mac) in expired {
            self.cache.remove(&ip);
            ctx.stats.arp.entries_expired += 1;
            ctx.events.emit(now, || EventKind::ArpCache {
                change: ArpCacheChange::Expired,
                ip,
                mac,
            });
        }
        let due: Vec<Ipv4Addr> = self
            .resolving
            .iter()
            .filter(|(_, r)| r.next <= now)
            .map(|(&ip, _)| ip)
            .collect();
        for target in due {
            let requests = self.resolving.get(&target).map_or(0, |r| r.requests);
            if requests < self.cfg.max_requests {
                self.send_request(now, ctx, target);
                continue;
            }
            let Some(r) = self.resolving.remove(&target) else {
                continue;
            };
            ctx.stats.arp.resolution_failed += 1;
            let dropped = r.queue.len();
            ctx.events
                .emit(now, || EventKind::ArpGaveUp { target, dropped });
            for d in r.queue {
                self.pending_packets -= 1;
                self.pending_bytes -= d.payload.len();
                ctx.stats.arp.pending_dropped_unresolved += 1;
                ctx.events.drop_packet(now, DropReason::ArpUnresolved);
                on_drop(ctx, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventSink;
    use crate::ipv4::Origin;
    use crate::stats::Stats;
    use crate::time::Duration;
    use smoltcp::wire::IpProtocol;

    const US_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    fn packet(op: ArpOperation, sha: EthernetAddress, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
        let repr = ArpRepr::EthernetIpv4 {
            operation: op,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: tpa,
        };
        let mut b = vec![0u8; PACKET_LEN];
        repr.emit(&mut ArpPacket::new_unchecked(&mut b[..]));
        b
    }

    fn dgram(len: usize) -> OutDatagram {
        OutDatagram {
            src: US,
            dst: PEER,
            proto: IpProtocol::Udp,
            dont_frag: false,
            origin: Origin::Icmp,
            payload: vec![0; len],
        }
    }

    /// The peer asks for our address at time zero: we learn it (RFC 826) and answer.
    fn learn_peer(arp: &mut Arp, ctx: &mut Ctx<'_>) {
        arp.process(
            Instant::ZERO,
            ctx,
            &packet(ArpOperation::Request, PEER_MAC, PEER, US),
        )
        .unwrap();
        while arp.poll_transmit(ctx, &mut [0u8; 64]).is_some() {}
    }

    fn sent(arp: &mut Arp, ctx: &mut Ctx<'_>) -> Vec<ArpRepr> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        while let Some(n) = arp.poll_transmit(ctx, &mut buf) {
            let p = ArpPacket::new_checked(&buf[14..n]).unwrap();
            out.push(ArpRepr::parse(&p).unwrap());
        }
        out
    }

    #[test]
    fn rfc826_reply_to_request_for_us_and_learn_sender() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let mut arp = Arp::new(
            &ArpConfig {
                gratuitous_on_start: false,
                ..Default::default()
            },
            US_MAC,
            US,
        );
        let t = Instant::ZERO;
        arp.process(
            t,
            &mut ctx,
            &packet(ArpOperation::Request, PEER_MAC, PEER, US),
        )
        .unwrap();
        assert_eq!(arp.lookup(t, PEER), Some(PEER_MAC));
        let out = sent(&mut arp, &mut ctx);
        assert_eq!(out.len(), 1);
        assert!(matches!(
            out[0],
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                target_protocol_addr: PEER,
                target_hardware_addr: PEER_MAC,
                ..
            }
        ));
        // A request for someone else teaches nothing (RFC 826 merge rule).
        let other = Ipv4Addr::new(198, 18, 0, 7);
        arp.process(
            t,
            &mut ctx,
            &packet(
                ArpOperation::Request,
                EthernetAddress([2, 0, 0, 0, 0, 7]),
                other,
                PEER,
            ),
        )
        .unwrap();
        assert_eq!(arp.lookup(t, other), None);
        assert_eq!(ctx.stats.arp.not_for_us, 1);
        // ... but updates an entry we already have.
        let new_mac = EthernetAddress([2, 0, 0, 0, 0, 0x11]);
        arp.process(
            t,
            &mut ctx,
            &packet(ArpOperation::Request, new_mac, PEER, other),
        )
        .unwrap();
        assert_eq!(arp.lookup(t, PEER), Some(new_mac));
    }

    #[test]
    fn request_flood_is_bounded_and_every_unsent_reply_counted() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let cfg = ArpConfig {
            gratuitous_on_start: false,
            ..Default::default()
        };
        let mut arp = Arp::new(&cfg, US_MAC, US);
        let flood = MAX_OUT + 10;
        for _ in 0..flood {
            arp.process(
                Instant::ZERO,
                &mut ctx,
                &packet(ArpOperation::Request, PEER_MAC, PEER, US),
            )
            .unwrap();
        }
        assert_eq!(sent(&mut arp, &mut ctx).len(), MAX_OUT);
        assert_eq!(ctx.stats.arp.out_dropped_full, 10);
    }

    #[test]
    fn rfc1122_2_3_2_1_entries_age_out() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let cfg = ArpConfig::default();
        let mut arp = Arp::new(&cfg, US_MAC, US);
        learn_peer(&mut arp, &mut ctx);
        assert_eq!(arp.poll_timeout(), Some(Instant::ZERO + cfg.cache_ttl));
        arp.handle_timeout(Instant::ZERO + cfg.cache_ttl, &mut ctx, |_, _| {});
        assert_eq!(arp.lookup(Instant::ZERO + cfg.cache_ttl, PEER), None);
        assert_eq!(ctx.stats.arp.entries_expired, 1);
    }

    #[test]
    fn rfc1122_2_3_2_1_unicast_poll_refreshes_entries_in_use() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let cfg = ArpConfig {
            gratuitous_on_start: false,
            ..Default::default()
        };
        let mut arp = Arp::new(&cfg, US_MAC, US);
        let reply = packet(ArpOperation::Reply, PEER_MAC, PEER, US);
        learn_peer(&mut arp, &mut ctx);
        // Early use: no refresh.
        assert_eq!(arp.lookup(Instant::from_secs(1), PEER), Some(PEER_MAC));
        assert!(sent(&mut arp, &mut ctx).is_empty());
        // Close to expiry: one unicast request; the entry keeps serving meanwhile.
        let late = Instant::ZERO + cfg.cache_ttl - cfg.refresh_before;
        assert_eq!(arp.lookup(late, PEER), Some(PEER_MAC));
        assert_eq!(arp.lookup(late, PEER), Some(PEER_MAC));
        let mut buf = [0u8; 64];
        assert!(arp.poll_transmit(&mut ctx, &mut buf).is_some());
        assert_eq!(&buf[..6], PEER_MAC.as_bytes(), "refresh goes unicast");
        assert!(
            arp.poll_transmit(&mut ctx, &mut buf).is_none(),
            "one refresh, not one per use"
        );
        // The answer extends the entry.
        arp.process(late, &mut ctx, &reply).unwrap();
        assert_eq!(arp.poll_timeout(), Some(late + cfg.cache_ttl));
    }

    #[test]
    fn gratuitous_announcement_on_start() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let mut arp = Arp::new(&ArpConfig::default(), US_MAC, US);
        let out = sent(&mut arp, &mut ctx);
        assert!(matches!(
            out[..],
            [ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_protocol_addr: US,
                target_protocol_addr: US,
                ..
            }]
        ));
    }

    #[test]
    fn rfc1122_2_3_2_2_pending_queue_bounded_retries_back_off_then_give_up() {
        let (mut ev, mut st) = (EventSink::new(64), Stats::default());
        ev.set_enabled(true);
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let cfg = ArpConfig {
            gratuitous_on_start: false,
            max_pending_per_dest: 2,
            max_requests: 3,
            ..Default::default()
        };
        let mut arp = Arp::new(&cfg, US_MAC, US);
        let t0 = Instant::ZERO;
        assert!(arp.enqueue(t0, &mut ctx, PEER, dgram(100)).is_ok());
        assert!(arp.enqueue(t0, &mut ctx, PEER, dgram(100)).is_ok());
        assert!(arp.enqueue(t0, &mut ctx, PEER, dgram(100)).is_err());
        assert_eq!((arp.pending_packets(), arp.pending_bytes()), (2, 200));
        assert_eq!(sent(&mut arp, &mut ctx).len(), 1);
        // Retries at +1 s and then +2 s (doubling), give-up after the third request.
        let t1 = t0 + cfg.retry_initial;
        assert_eq!(arp.poll_timeout(), Some(t1));
        arp.handle_timeout(t1, &mut ctx, |_, _| {});
        assert_eq!(sent(&mut arp, &mut ctx).len(), 1);
        let t2 = t1 + cfg.retry_initial * 2;
        assert_eq!(arp.poll_timeout(), Some(t2));
        arp.handle_timeout(t2, &mut ctx, |_, _| {});
        assert_eq!(sent(&mut arp, &mut ctx).len(), 1);
        let t3 = arp.poll_timeout().unwrap();
        assert_eq!(t3, t2 + Duration::from_secs(4));
        let mut dropped = 0;
        arp.handle_timeout(t3, &mut ctx, |_, _| dropped += 1);
        assert_eq!(dropped, 2);
        assert_eq!((arp.pending_packets(), arp.pending_bytes()), (0, 0));
        assert_eq!(ctx.stats.arp.resolution_failed, 1);
        assert_eq!(ctx.stats.arp.requests_sent, 3);
        assert_eq!(arp.poll_timeout(), None);
    }

    /// Like Linux (`arp_accept=0`): an unsolicited reply does not create an entry (no cache
    /// poisoning); a reply we asked for does; a reply about a known host updates it.
    #[test]
    fn unsolicited_reply_creates_no_entry() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let mut arp = Arp::new(&ArpConfig::default(), US_MAC, US);
        let reply = packet(ArpOperation::Reply, PEER_MAC, PEER, US);
        arp.process(Instant::ZERO, &mut ctx, &reply).unwrap();
        assert_eq!(arp.lookup(Instant::ZERO, PEER), None);
        assert_eq!(ctx.stats.arp.unsolicited_ignored, 1);
        arp.enqueue(Instant::ZERO, &mut ctx, PEER, dgram(10))
            .unwrap();
        arp.process(Instant::ZERO, &mut ctx, &reply).unwrap();
        assert_eq!(arp.lookup(Instant::ZERO, PEER), Some(PEER_MAC));
        let other = EthernetAddress([2, 0, 0, 0, 0, 0x99]);
        arp.process(
            Instant::ZERO,
            &mut ctx,
            &packet(ArpOperation::Reply, other, PEER, US),
        )
        .unwrap();
        assert_eq!(
            arp.lookup(Instant::ZERO, PEER),
            Some(other),
            "known entry updated"
        );
    }

    #[test]
    fn reply_releases_pending_packets() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let mut arp = Arp::new(&ArpConfig::default(), US_MAC, US);
        arp.enqueue(Instant::ZERO, &mut ctx, PEER, dgram(10))
            .unwrap();
        arp.process(
            Instant::ZERO,
            &mut ctx,
            &packet(ArpOperation::Reply, PEER_MAC, PEER, US),
        )
        .unwrap();
        assert!(arp.has_released());
        assert_eq!(arp.pop_released().unwrap().payload.len(), 10);
        assert_eq!(arp.pending_bytes(), 0);
    }

    #[test]
    fn garbage_is_counted_not_learned() {
        let (mut ev, mut st) = (EventSink::new(16), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let mut arp = Arp::new(&ArpConfig::default(), US_MAC, US);
        assert_eq!(
            arp.process(Instant::ZERO, &mut ctx, &[1, 2, 3]),
            Err(DropReason::ArpMalformed)
        );
        let bcast_sender = packet(ArpOperation::Request, EthernetAddress::BROADCAST, PEER, US);
        assert_eq!(
            arp.process(Instant::ZERO, &mut ctx, &bcast_sender),
            Err(DropReason::ArpMalformed)
        );
        assert_eq!(ctx.stats.arp.malformed, 2);
        assert_eq!(arp.entries().count(), 0);
    }
}
