//! The [`Stack`] facade: owns every layer and dispatches between them. Nothing protocol-specific
//! lives here; each layer's rules are in its own module.

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::config::Config;
use crate::ctx::Ctx;
use crate::error::{StackError, TcpError};
use crate::event::{Event, EventSink};
use crate::stats::Stats;
use crate::tcp::{ConnHandle, ListenerHandle, Tcp, TcpInfo, TcpState};
use crate::time::{Duration, Instant};

/// A complete host: Ethernet, ARP, IPv4, ICMP, UDP and TCP on one interface.
///
/// See the crate documentation for the call order. Methods are grouped as: `handle_*` (input),
/// `poll_*` (output), application calls (`ping`, `udp_*`, `tcp_*`), and getters.
#[derive(Debug)]
pub struct Stack {
    config: Config,
    events: EventSink,
    stats: Stats,
    tcp: Tcp,
}

impl Stack {
    /// Create a stack; fails if the configuration is inconsistent.
    pub fn new(config: Config) -> Result<Stack, StackError> {
        if config.mtu < 576 || config.mtu > 65535 {
            return Err(StackError::Config(format!("MTU {} outside 576..=65535", config.mtu)));
        }
        let mss = (config.mtu - 40) as u16;
        Ok(Stack {
            events: EventSink::new(config.event_capacity),
            stats: Stats::default(),
            tcp: Tcp::new(&config.tcp, config.seed, mss),
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

    /// Handle one received Ethernet frame.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let _ = (now, frame);
    }

    /// Write the next frame to send into `buf` (at least MTU + 14 bytes) and return its length.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let _ = (now, buf);
        None
    }

    /// The earliest instant at which [`Stack::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.tcp.poll_timeout()
    }

    /// Run every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut ctx = Ctx { events: &mut self.events, stats: &mut self.stats };
        self.tcp.handle_timeout(now, &mut ctx);
    }

    // ---- TCP -------------------------------------------------------------------------------

    /// Open a listening socket (passive open, RFC 9293 §3.10.1) with an accept queue of
    /// `backlog` connections (0 means the configured default).
    pub fn tcp_listen(&mut self, local: SocketAddrV4, backlog: usize) -> Result<ListenerHandle, TcpError> {
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
    pub fn tcp_connect(&mut self, now: Instant, remote: SocketAddrV4) -> Result<ConnHandle, TcpError> {
        let local_ip = self.config.addr;
        let mut ctx = Ctx { events: &mut self.events, stats: &mut self.stats };
        self.tcp.connect(now, &mut ctx, local_ip, remote)
    }

    /// Queue bytes for sending; returns how many were accepted (0 < n <= len) or `WouldBlock`.
    pub fn tcp_send(&mut self, now: Instant, c: ConnHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.tcp.send(now, c, data)
    }

    /// Read received bytes; `Ok(0)` means the peer closed (FIN), `WouldBlock` means no data yet.
    pub fn tcp_recv(&mut self, now: Instant, c: ConnHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
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
    pub fn tcp_set_keepalive(&mut self, c: ConnHandle, idle: Option<Duration>) -> Result<(), TcpError> {
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
