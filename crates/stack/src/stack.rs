//! The [`Stack`] facade: owns every layer and dispatches between them. Nothing protocol-specific
//! lives here; each layer's rules are in its own module.

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::arp::{Arp, ArpEntry};
use crate::config::Config;
use crate::ctx::Ctx;
use crate::error::{StackError, TcpError, UdpError};
use crate::event::{Direction, Event, EventKind, EventSink};
use crate::icmp::{Icmp, IcmpErrorKind, PingEvent};
use crate::ipv4::{Ipv4, Route};
use crate::pool::BufPool;
use crate::stats::Stats;
use crate::tcp::{ConnHandle, ListenerHandle, Tcp, TcpInfo, TcpState};
use crate::time::{Duration, Instant};
use crate::udp::{Udp, UdpHandle};

/// Bytes held in the stack's bounded queues and buffers (TCP buffers excluded: they are
/// bounded per connection by `TcpConfig`). Every field has a cap in [`Config`]; see
/// [`MemoryUsage::caps`]. Idle recycled buffers are not counted: at most
/// [`Config::buffer_pool`] of them, each at most 64 KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Datagrams waiting for ARP resolution.
    pub arp_pending: usize,
    /// Incomplete datagrams in reassembly.
    pub reassembly: usize,
    /// The datagram being fragmented on output.
    pub fragmenting: usize,
    /// ICMP messages waiting to be sent.
    pub icmp_queued: usize,
    /// UDP datagrams waiting in receive queues.
    pub udp_rx: usize,
    /// UDP datagrams waiting to be sent.
    pub udp_tx: usize,
}

impl MemoryUsage {
    /// Sum of all fields.
    pub fn total(&self) -> usize {
        self.arp_pending
            + self.reassembly
            + self.fragmenting
            + self.icmp_queued
            + self.udp_rx
            + self.udp_tx
    }

    /// The most each field may hold under `config` (UDP receive: per socket times sockets).
    pub fn caps(config: &Config) -> MemoryUsage {
        MemoryUsage {
            arp_pending: config.arp.max_pending_bytes,
            reassembly: config.ipv4.reassembly_max_bytes,
            fragmenting: 65535,
            icmp_queued: config.icmp.max_queued_bytes,
            udp_rx: config
                .udp
                .rx_max_bytes
                .saturating_mul(config.udp.max_sockets),
            udp_tx: config.udp.tx_max_bytes,
        }
    }

    /// Whether every field is within the corresponding field of `caps`.
    pub fn within(&self, caps: &MemoryUsage) -> bool {
        self.arp_pending <= caps.arp_pending
            && self.reassembly <= caps.reassembly
            && self.fragmenting <= caps.fragmenting
            && self.icmp_queued <= caps.icmp_queued
            && self.udp_rx <= caps.udp_rx
            && self.udp_tx <= caps.udp_tx
    }
}

/// A complete host: Ethernet, ARP, IPv4, ICMP, UDP and TCP on one interface.
///
/// See the crate documentation for the call order. Methods are grouped as: `handle_*` (input,
/// in `input.rs`), `poll_*` (output, in `output.rs`), application calls (`ping`, `udp_*`,
/// `tcp_*`), and getters.
#[derive(Debug)]
pub struct Stack {
    pub(crate) config: Config,
    pub(crate) events: EventSink,
    pub(crate) stats: Stats,
    pub(crate) arp: Arp,
    pub(crate) ip: Ipv4,
    pub(crate) icmp: Icmp,
    pub(crate) udp: Udp,
    pub(crate) tcp: Tcp,
    pub(crate) pool: BufPool,
}

impl Stack {
    /// Create a stack; fails if the configuration is inconsistent.
    pub fn new(config: Config) -> Result<Stack, StackError> {
        if config.mtu < 576 || config.mtu > 65535 {
            return Err(StackError::Config(format!(
                "MTU {} outside 576..=65535",
                config.mtu
            )));
        }
        if config.prefix_len > 32 {
            return Err(StackError::Config(format!(
                "prefix length {} > 32",
                config.prefix_len
            )));
        }
        if !config.mac.is_unicast() {
            return Err(StackError::Config(format!(
                "MAC {} is not unicast",
                config.mac
            )));
        }
        if config.addr.is_unspecified() || config.addr.is_broadcast() || config.addr.is_multicast()
        {
            return Err(StackError::Config(format!(
                "address {} is not a host address",
                config.addr
            )));
        }
        let mss = (config.mtu - 40) as u16;
        Ok(Stack {
            events: EventSink::new(config.event_capacity),
            stats: Stats::default(),
            arp: Arp::new(&config.arp, config.mac, config.addr),
            ip: Ipv4::new(
                config.addr,
                config.prefix_len,
                config.gateway,
                &config.ipv4,
                config.seed,
            ),
            icmp: Icmp::new(&config.icmp, config.addr),
            udp: Udp::new(&config.udp, config.addr, config.seed),
            tcp: Tcp::new(&config.tcp, config.seed, mss),
            pool: BufPool::new(config.buffer_pool),
            config,
        })
    }

    /// The configuration this stack was created with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// All counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Turn event recording on or off (off by default: zero cost).
    pub fn set_events(&mut self, on: bool) {
        self.events.set_enabled(on);
    }

    /// Take the oldest recorded event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Events lost because nobody drained [`Stack::poll_event`] fast enough.
    pub fn events_overflowed(&self) -> u64 {
        self.events.overflowed
    }

    /// Bytes held in bounded queues; each field stays within [`MemoryUsage::caps`].
    pub fn memory_usage(&self) -> MemoryUsage {
        MemoryUsage {
            arp_pending: self.arp.pending_bytes(),
            reassembly: self.ip.reassembly.bytes(),
            fragmenting: self.ip.fragmenter.bytes(),
            icmp_queued: self.icmp.queued_bytes(),
            udp_rx: self.udp.rx_bytes(),
            udp_tx: self.udp.tx_bytes(),
        }
    }

    /// The ARP cache.
    pub fn arp_entries(&self) -> Vec<ArpEntry> {
        self.arp.entries().collect()
    }

    /// The routing table, longest prefix first.
    pub fn routes(&self) -> &[Route] {
        self.ip.routes.routes()
    }

    /// Add or replace a route (RFC 1122 §3.3.1).
    pub fn add_route(&mut self, route: Route) {
        self.ip.routes.add(route);
    }

    /// The earliest instant at which [`Stack::handle_timeout`] has work to do: ARP retries and
    /// aging, reassembly timeouts, TCP timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.arp.poll_timeout(),
            self.ip.reassembly.poll_timeout(),
            self.tcp.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn record_frame(&mut self, now: Instant, dir: Direction, frame: &[u8]) {
        if self.events.enabled() {
            let (layer, summary) = crate::summary::summarize(frame);
            self.events.emit(now, || EventKind::Frame {
                dir,
                layer,
                len: frame.len(),
                summary,
            });
        }
    }

    // ---- ICMP echo (ping) ------------------------------------------------------------------

    /// Send an ICMP echo request (RFC 792) with `payload_len` data bytes to `dst`; the result
    /// comes from [`Stack::poll_ping`] after the reply (or an error) arrives.
    pub fn ping(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload_len: usize,
    ) -> Result<(), StackError> {
        if payload_len > 65535 - 20 - 8 {
            return Err(StackError::TooLong(payload_len));
        }
        if self.ip.routes.lookup(dst).is_none() {
            self.stats.ipv4.no_route += 1;
            return Err(StackError::NoRoute(dst));
        }
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        if self.icmp.ping(
            now,
            &mut ctx,
            &mut self.pool,
            dst,
            (ident, seq),
            payload_len,
        ) {
            Ok(())
        } else {
            Err(StackError::QueueFull)
        }
    }

    /// The next ping result (reply with RTT, or error), if any.
    pub fn poll_ping(&mut self) -> Option<PingEvent> {
        self.icmp.poll_ping()
    }

    // ---- UDP -------------------------------------------------------------------------------

    /// Bind a UDP socket (RFC 768) to `local`; port 0 picks an ephemeral port.
    pub fn udp_bind(&mut self, local: SocketAddrV4) -> Result<UdpHandle, UdpError> {
        self.udp.bind(local)
    }

    /// The address a socket is bound to.
    pub fn udp_local_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, UdpError> {
        self.udp.local_addr(h)
    }

    /// Queue one datagram to `dst`; it leaves with the next `poll_transmit` calls.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        payload: &[u8],
        dst: SocketAddrV4,
    ) -> Result<(), UdpError> {
        let _ = now;
        if self.ip.routes.lookup(*dst.ip()).is_none() {
            self.stats.ipv4.no_route += 1;
            return Err(UdpError::NoRoute(*dst.ip()));
        }
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        self.udp.send_to(&mut ctx, &mut self.pool, h, payload, dst)
    }

    /// Take the oldest received datagram: `Ok(None)` when none is queued; `Truncated` (and the
    /// datagram is consumed) when `buf` is too small.
    pub fn udp_recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<Option<(usize, SocketAddrV4)>, UdpError> {
        self.udp.recv_from(&mut self.pool, h, buf)
    }

    /// Whether a datagram is queued on the socket.
    pub fn udp_can_recv(&self, h: UdpHandle) -> bool {
        self.udp.can_recv(h)
    }

    /// The pending error reported by ICMP about a datagram this socket sent (RFC 1122
    /// §4.1.3.3), cleared by reading it (like `SO_ERROR`).
    pub fn udp_take_error(&mut self, h: UdpHandle) -> Option<IcmpErrorKind> {
        self.udp.take_error(h)
    }

    /// Close the socket; queued received datagrams are discarded.
    pub fn udp_close(&mut self, h: UdpHandle) {
        self.udp.close(&mut self.pool, h)
    }

    // ---- TCP -------------------------------------------------------------------------------

    /// Open a listening socket (passive open, RFC 9293 §3.10.1) with an accept queue of
    /// `backlog` connections (0 means the configured default).
    pub fn tcp_listen(
        &mut self,
        local: SocketAddrV4,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        if !local.ip().is_unspecified() && *local.ip() != self.config.addr {
            return Err(TcpError::AddrNotAvailable);
        }
        self.tcp.listen(local, backlog)
    }

    /// Take one established connection from the accept queue, or `WouldBlock`.
    pub fn tcp_accept(&mut self, l: ListenerHandle) -> Result<ConnHandle, TcpError> {
        self.tcp.accept(l)
    }

    /// Close a listener; connections still in its queues are reset.
    pub fn tcp_close_listener(&mut self, l: ListenerHandle) {
        self.tcp.close_listener(l)
    }

    /// Active open (RFC 9293 §3.10.1): sends a SYN to `remote` from our address.
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<ConnHandle, TcpError> {
        let local_ip = self.config.addr;
        let mut ctx = Ctx {
            events: &mut self.events,
            stats: &mut self.stats,
        };
        self.tcp.connect(now, &mut ctx, local_ip, remote)
    }

    /// Queue bytes for sending; returns how many were accepted (0 < n <= len) or `WouldBlock`.
    pub fn tcp_send(
        &mut self,
        now: Instant,
        c: ConnHandle,
        data: &[u8],
    ) -> Result<usize, TcpError> {
        self.tcp.send(now, c, data)
    }

    /// Read received bytes; `Ok(0)` means the peer closed (FIN), `WouldBlock` means no data yet.
    pub fn tcp_recv(
        &mut self,
        now: Instant,
        c: ConnHandle,
        buf: &mut [u8],
    ) -> Result<usize, TcpError> {
        self.tcp.recv(now, c, buf)
    }

    /// Half-close: send FIN after queued data (RFC 9293 §3.10.4).
    pub fn tcp_shutdown_write(&mut self, now: Instant, c: ConnHandle) -> Result<(), TcpError> {
        self.tcp.shutdown_write(now, c)
    }

    /// Close the connection and release the handle; the stack finishes the close on its own.
    pub fn tcp_close(&mut self, now: Instant, c: ConnHandle) {
        self.tcp.close(now, c)
    }

    /// Abort the connection with RST (RFC 9293 §3.10.5) and release the handle.
    pub fn tcp_abort(&mut self, now: Instant, c: ConnHandle) {
        self.tcp.abort(now, c)
    }

    /// Turn Nagle's algorithm off (`true`) or on.
    pub fn tcp_set_nodelay(&mut self, c: ConnHandle, nodelay: bool) -> Result<(), TcpError> {
        self.tcp.set_nodelay(c, nodelay)
    }

    /// Enable keep-alives after `idle` without traffic, or disable them.
    pub fn tcp_set_keepalive(
        &mut self,
        c: ConnHandle,
        idle: Option<Duration>,
    ) -> Result<(), TcpError> {
        self.tcp.set_keepalive(c, idle)
    }

    /// The connection's state, or `None` if the handle is unknown.
    pub fn tcp_state(&self, c: ConnHandle) -> Option<TcpState> {
        self.tcp.state(c)
    }

    /// Per-connection statistics.
    pub fn tcp_info(&self, c: ConnHandle) -> Option<TcpInfo> {
        self.tcp.info(c)
    }

    /// Connections whose FIN is not yet acknowledged; see [`Tcp::closing_count`].
    pub fn tcp_closing_count(&self) -> usize {
        self.tcp.closing_count()
    }

    /// Whether `tcp_recv` would return without `WouldBlock` (data, EOF or an error).
    pub fn tcp_can_recv(&self, c: ConnHandle) -> bool {
        self.tcp.can_recv(c)
    }

    /// Whether `tcp_send` would accept at least one byte (or return an error).
    pub fn tcp_can_send(&self, c: ConnHandle) -> bool {
        self.tcp.can_send(c)
    }

    /// Our IPv4 address.
    pub fn ipv4_addr(&self) -> Ipv4Addr {
        self.config.addr
    }
}
