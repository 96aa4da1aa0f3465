//! UDP (RFC 768) with the host rules of RFC 1122 §4.1.3.
//!
//! Sockets are bound to a local port (0 picks an ephemeral one, RFC 6335 §6). Received
//! datagrams wait in a per-socket queue bounded by count and bytes; datagrams to send wait in
//! one queue bounded the same way. Checksums are always sent, and verified when present (a
//! zero checksum means none was computed, RFC 768). A datagram for a port with no socket is
//! answered with ICMP port unreachable by the facade (RFC 1122 §4.1.3.1). ICMP errors quoting
//! a datagram a socket sent are kept as the socket's pending error (RFC 1122 §4.1.3.3), read
//! with [`crate::Stack::udp_take_error`].

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::{BTreeMap, VecDeque};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, IpProtocol, UdpPacket, UdpRepr};

use crate::config::UdpConfig;
use crate::ctx::Ctx;
use crate::error::UdpError;
use crate::event::DropReason;
use crate::icmp::IcmpErrorKind;
use crate::ipv4::{Origin, OutDatagram};
use crate::pool::BufPool;

/// Handle of one bound UDP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UdpHandle(pub u32);

/// Largest UDP payload in one IPv4 datagram: 65535 - 20 (IP) - 8 (UDP).
pub const MAX_PAYLOAD: usize = 65507;

#[derive(Debug)]
struct Socket {
    local: SocketAddrV4,
    rx: VecDeque<(SocketAddrV4, Vec<u8>)>,
    rx_bytes: usize,
    error: Option<IcmpErrorKind>,
}

/// What happened to a received datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Queued on a socket.
    Delivered,
    /// No socket: the facade answers with port unreachable.
    NoSocket,
}

/// UDP state of one stack.
#[derive(Debug)]
pub(crate) struct Udp {
    cfg: UdpConfig,
    addr: Ipv4Addr,
    sockets: BTreeMap<u32, Socket>,
    ports: BTreeMap<u16, u32>,
    next_handle: u32,
    next_ephemeral: u16,
    tx: VecDeque<OutDatagram>,
    tx_bytes: usize,
    rx_total: usize,
}

impl Udp {
    pub fn new(cfg: &UdpConfig, addr: Ipv4Addr, seed: u64) -> Self {
        let first = cfg.ephemeral_first.min(cfg.ephemeral_last);
        let span = (cfg.ephemeral_last.max(first) - first) as u64 + 1;
        Udp {
            cfg: cfg.clone(),
            addr,
            sockets: BTreeMap::new(),
            ports: BTreeMap::new(),
            next_handle: 1,
            next_ephemeral: first
                + ((seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % span) as u16,
            tx: VecDeque::new(),
            tx_bytes: 0,
            rx_total: 0,
        }
    }

    /// Bytes waiting in receive queues (all sockets).
    pub fn rx_bytes(&self) -> usize {
        self.rx_total
    }

    /// Bytes waiting to be sent.
    pub fn tx_bytes(&self) -> usize {
        self.tx_bytes
    }

    pub fn bind(&mut self, local: SocketAddrV4) -> Result<UdpHandle, UdpError> {
        if !local.ip().is_unspecified() && *local.ip() != self.addr {
            return Err(UdpError::AddrNotAvailable);
        }
        if self.sockets.len() >= self.cfg.max_sockets {
            return Err(UdpError::NoPorts);
        }
        let port = match local.port() {
            0 => self.ephemeral()?,
            p if self.ports.contains_key(&p) => return Err(UdpError::AddrInUse),
            p => p,
        };
        let h = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        self.ports.insert(port, h);
        self.sockets.insert(
            h,
            Socket {
                local: SocketAddrV4::new(*local.ip(), port),
                rx: VecDeque::new(),
                rx_bytes: 0,
                error: None,
            },
        );
        Ok(UdpHandle(h))
    }

    fn ephemeral(&mut self) -> Result<u16, UdpError> {
        let (first, last) = (self.cfg.ephemeral_first, self.cfg.ephemeral_last);
        if first == 0 || last < first {
            return Err(UdpError::NoPorts);
        }
        let span = (last - first) as u32 + 1;
        for _ in 0..span {
            let p = self.next_ephemeral;
            self.next_ephemeral = if p >= last || p < first { first } else { p + 1 };
            if (first..=last).contains(&p) && !self.ports.contains_key(&p) {
                return Ok(p);
            }
        }
        Err(UdpError::NoPorts)
    }

    pub fn local_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, UdpError> {
        self.sockets
            .get(&h.0)
            .map(|s| s.local)
            .ok_or(UdpError::InvalidHandle)
    }

    pub fn close(&mut self, pool: &mut BufPool, h: UdpHandle) {
        if let Some(s) = self.sockets.remove(&h.0) {
            self.ports.remove(&s.local.port());
            self.rx_total -= s.rx_bytes;
            for (_, data) in s.rx {
                pool.give(data);
            }
        }
    }

    /// Build the datagram (header, payload, checksum) and queue it.
    pub fn send_to(
        &mut self,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        h: UdpHandle,
        payload: &[u8],
        dst: SocketAddrV4,
    ) -> Result<(), UdpError> {
        let sock = self.sockets.get(&h.0).ok_or(UdpError::InvalidHandle)?;
        if payload.len() > MAX_PAYLOAD {
            return Err(UdpError::TooLong(payload.len()));
        }
        let len = 8 + payload.len();
        if self.tx.len() >= self.cfg.tx_max_datagrams || self.tx_bytes + len > self.cfg.tx_max_bytes
        {
            ctx.stats.udp.tx_queue_full += 1;
            return Err(UdpError::QueueFull);
        }
        let repr = UdpRepr {
            src_port: sock.local.port(),
            dst_port: dst.port(),
        };
        let mut buf = pool.take(len);
        let (src, dst_ip) = (IpAddress::Ipv4(self.addr), IpAddress::Ipv4(*dst.ip()));
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut buf[..]),
            &src,
            &dst_ip,
            payload.len(),
            |p| p.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        );
        self.tx_bytes += len;
        self.tx.push_back(OutDatagram {
            src: self.addr,
            dst: *dst.ip(),
            proto: IpProtocol::Udp,
            dont_frag: false,
            origin: Origin::Udp(h),
            payload: buf,
        });
        Ok(())
    }

    /// The next datagram to send.
    pub fn pop_out(&mut self) -> Option<OutDatagram> {
        let d = self.tx.pop_front()?;
        self.tx_bytes -= d.payload.len();
        Some(d)
    }

    pub fn recv_from(
        &mut self,
        pool: &mut BufPool,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<Option<(usize, SocketAddrV4)>, UdpError> {
        let sock = self.sockets.get_mut(&h.0).ok_or(UdpError::InvalidHandle)?;
        let Some((from, data)) = sock.rx.pop_front() else {
            return Ok(None);
        };
        sock.rx_bytes -= data.len();
        self.rx_total -= data.len();
        let n = data.len();
        let copy = n.min(buf.len());
        buf[..copy].copy_from_slice(&data[..copy]);
        pool.give(data);
        if copy < n {
            return Err(UdpError::Truncated(n));
        }
        Ok(Some((n, from)))
    }

    pub fn can_recv(&self, h: UdpHandle) -> bool {
        self.sockets.get(&h.0).is_some_and(|s| !s.rx.is_empty())
    }

    pub fn take_error(&mut self, h: UdpHandle) -> Option<IcmpErrorKind> {
        self.sockets.get_mut(&h.0).and_then(|s| s.error.take())
    }

    /// Record an error on the socket bound to `port` (RFC 1122 §4.1.3.3).
    pub fn set_error(&mut self, ctx: &mut Ctx<'_>, port: u16, kind: IcmpErrorKind) {
        if let Some(s) = self.ports.get(&port).and_then(|h| self.sockets.get_mut(h)) {
            ctx.stats.udp.icmp_errors += 1;
            s.error = Some(kind);
        }
    }

    /// Record an error on the socket `h` (e.g. ARP gave up on its destination).
    pub fn set_error_handle(&mut self, h: UdpHandle, kind: IcmpErrorKind) {
        if let Some(s) = self.sockets.get_mut(&h.0) {
            s.error = Some(kind);
        }
    }

    /// Handle one received datagram (RFC 768); `bytes` is the IP payload.
    pub fn process(
        &mut self,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        bytes: &[u8],
    ) -> Result<Delivery, DropReason> {
        ctx.stats.udp.datagrams_in += 1;
        let Ok(packet) = UdpPacket::new_checked(bytes) else {
            ctx.stats.udp.truncated += 1;
            return Err(DropReason::UdpTruncated);
        };
        let (s, d) = (IpAddress::Ipv4(src), IpAddress::Ipv4(dst));
        // RFC 768: a zero checksum means the sender computed none (verify_checksum accepts it).
        if !packet.verify_checksum(&s, &d) {
            ctx.stats.udp.bad_checksum += 1;
            return Err(DropReason::UdpBadChecksum);
        }
        let Ok(repr) = UdpRepr::parse(&packet, &s, &d, &ChecksumCapabilities::ignored()) else {
            ctx.stats.udp.bad_port += 1;
            return Err(DropReason::UdpBadPort);
        };
        let Some(sock) = self
            .ports
            .get(&repr.dst_port)
            .and_then(|h| self.sockets.get_mut(h))
        else {
            ctx.stats.udp.no_socket += 1;
            return Ok(Delivery::NoSocket);
        };
        let payload = packet.payload();
        if sock.rx.len() >= self.cfg.rx_max_datagrams
            || sock.rx_bytes + payload.len() > self.cfg.rx_max_bytes
        {
            ctx.stats.udp.rx_queue_full += 1;
            return Err(DropReason::UdpRxQueueFull);
        }
        sock.rx_bytes += payload.len();
        self.rx_total += payload.len();
        sock.rx
            .push_back((SocketAddrV4::new(src, repr.src_port), pool.copy_of(payload)));
        Ok(Delivery::Delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventSink;
    use crate::pool::BufPool;
    use crate::stats::Stats;

    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    fn datagram(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 8 + payload.len()];
        UdpRepr { src_port, dst_port }.emit(
            &mut UdpPacket::new_unchecked(&mut b[..]),
            &IpAddress::Ipv4(PEER),
            &IpAddress::Ipv4(US),
            payload.len(),
            |p| p.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        );
        b
    }

    #[test]
    fn bind_rules_and_ephemeral_ports() {
        let mut pool = BufPool::new(4);
        let mut u = Udp::new(&UdpConfig::default(), US, 3);
        let a = u.bind(SocketAddrV4::new(US, 7)).unwrap();
        assert_eq!(u.bind(SocketAddrV4::new(US, 7)), Err(UdpError::AddrInUse));
        assert_eq!(
            u.bind(SocketAddrV4::new(PEER, 8)),
            Err(UdpError::AddrNotAvailable)
        );
        let e = u.bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        assert!(u.local_addr(e).unwrap().port() >= 49152);
        u.close(&mut pool, a);
        assert!(u.bind(SocketAddrV4::new(US, 7)).is_ok());
    }

    #[test]
    fn rfc768_checksum_and_zero_checksum() {
        let (mut ev, mut st) = (EventSink::new(4), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let mut pool = BufPool::new(4);
        let mut u = Udp::new(&UdpConfig::default(), US, 0);
        let h = u.bind(SocketAddrV4::new(US, 9)).unwrap();
        let mut d = datagram(1000, 9, b"hello");
        assert_eq!(
            u.process(&mut ctx, &mut pool, PEER, US, &d),
            Ok(Delivery::Delivered)
        );
        d[8] ^= 1;
        assert_eq!(
            u.process(&mut ctx, &mut pool, PEER, US, &d),
            Err(DropReason::UdpBadChecksum)
        );
        d[6] = 0;
        d[7] = 0; // RFC 768: zero = no checksum computed.
        assert_eq!(
            u.process(&mut ctx, &mut pool, PEER, US, &d),
            Ok(Delivery::Delivered)
        );
        assert_eq!(
            u.process(&mut ctx, &mut pool, PEER, US, &datagram(1, 10, b"x")),
            Ok(Delivery::NoSocket)
        );
        assert_eq!(
            u.process(&mut ctx, &mut pool, PEER, US, &d[..5]),
            Err(DropReason::UdpTruncated)
        );
        let mut buf = [0u8; 16];
        assert_eq!(
            u.recv_from(&mut pool, h, &mut buf),
            Ok(Some((5, SocketAddrV4::new(PEER, 1000))))
        );
        assert_eq!(&buf[..5], b"hello");
        assert!(u.can_recv(h));
        let mut small = [0u8; 2];
        assert_eq!(
            u.recv_from(&mut pool, h, &mut small),
            Err(UdpError::Truncated(5))
        );
        assert_eq!(u.recv_from(&mut pool, h, &mut buf), Ok(None));
        assert_eq!(ctx.stats.udp.bad_checksum, 1);
        assert_eq!(u.rx_bytes(), 0);
    }

    #[test]
    fn receive_and_send_queues_are_bounded() {
        let (mut ev, mut st) = (EventSink::new(4), Stats::default());
        let mut ctx = Ctx {
            events: &mut ev,
            stats: &mut st,
        };
        let cfg = UdpConfig {
            rx_max_datagrams: 2,
            tx_max_datagrams: 1,
            ..Default::default()
        };
        let mut pool = BufPool::new(4);
        let mut u = Udp::new(&cfg, US, 0);
        let h = u.bind(SocketAddrV4::new(US, 9)).unwrap();
        let d = datagram(1000, 9, b"x");
        assert!(u.process(&mut ctx, &mut pool, PEER, US, &d).is_ok());
        assert!(u.process(&mut ctx, &mut pool, PEER, US, &d).is_ok());
        assert_eq!(
            u.process(&mut ctx, &mut pool, PEER, US, &d),
            Err(DropReason::UdpRxQueueFull)
        );
        let to = SocketAddrV4::new(PEER, 5);
        assert!(u.send_to(&mut ctx, &mut pool, h, b"a", to).is_ok());
        assert_eq!(
            u.send_to(&mut ctx, &mut pool, h, b"b", to),
            Err(UdpError::QueueFull)
        );
        assert_eq!(
            u.send_to(&mut ctx, &mut pool, h, &vec![0; 70000], to),
            Err(UdpError::TooLong(70000))
        );
        let out = u.pop_out().unwrap();
        // The checksum we computed verifies.
        let p = UdpPacket::new_checked(&out.payload[..]).unwrap();
        assert!(p.verify_checksum(&IpAddress::Ipv4(US), &IpAddress::Ipv4(PEER)));
        assert_eq!(
            (ctx.stats.udp.rx_queue_full, ctx.stats.udp.tx_queue_full),
            (1, 1)
        );
    }
}
