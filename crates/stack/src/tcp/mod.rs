//! TCP (RFC 9293), as seen by the rest of the stack.
//!
//! CONTRACT with the facade (`stack.rs`); the TCP module owns everything below this line, the
//! facade only calls these entry points:
//! - `Tcp::new(&TcpConfig, seed, mss)`
//! - `Tcp::process(now, ctx, src_ip, dst_ip, segment)`: `segment` is the TCP header + payload of
//!   an IPv4 datagram addressed to us; the facade has already verified the IP header and the TCP
//!   checksum (and counted failures). Segments for no connection/listener get the RFC 9293
//!   §3.10.7.1 RST answer, queued internally.
//! - `Tcp::icmp_error(now, ctx, err)`: an ICMP error quoting one of our segments (RFC 1122
//!   §4.2.3.9: hard vs soft).
//! - `Tcp::poll_transmit(now, ctx, out) -> Option<TcpTransmit>`: write the next segment (TCP header
//!   with checksum computed over the IPv4 pseudo-header + payload) at the start of `out`, whose
//!   length is at most the MTU minus the IPv4 header; return its addresses and length.
//! - `Tcp::poll_timeout()` / `Tcp::handle_timeout(now, ctx)`.
//! - Socket calls: listen/accept/connect/send/recv/shutdown/close/abort/info..., delegated from
//!   `Stack::tcp_*`. `connect` is given the local IP the facade chose by routing.

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::ctx::Ctx;
use crate::error::TcpError;
use crate::time::{Duration, Instant};

/// Handle of one TCP connection inside a [`crate::Stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle(pub u32);

/// Handle of one listening socket inside a [`crate::Stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerHandle(pub u32);

/// The eleven states of RFC 9293 §3.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

/// TCP settings; every bound has a default.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Send buffer per connection, bytes.
    pub send_buffer: usize,
    /// Receive buffer per connection, bytes (also bounds out-of-order data).
    pub recv_buffer: usize,
    /// Minimum RTO (RFC 6298 (2.4) says 1 s; Linux uses 200 ms).
    pub rto_min: Duration,
    /// Maximum RTO (RFC 6298 (2.5): at least 60 s).
    pub rto_max: Duration,
    /// Initial RTO (RFC 6298 (2.1): 1 s).
    pub rto_initial: Duration,
    /// Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Delayed-ACK timeout (RFC 9293 §3.8.6.3: < 0.5 s; RFC 1122 says <= 200 ms is typical).
    pub delayed_ack: Duration,
    /// Retransmissions of one segment before the connection is aborted (RFC 1122 §4.2.3.5 R2).
    pub max_retransmits: u32,
    /// SYN retransmissions before connect fails.
    pub max_syn_retransmits: u32,
    /// Maximum number of connections (all states).
    pub max_connections: usize,
    /// Default accept-queue limit when `listen` is given 0.
    pub default_backlog: usize,
    /// Nagle's algorithm on by default (RFC 9293 §3.7.4).
    pub nagle: bool,
    /// Keep-alive idle time; `None` disables keep-alives (RFC 9293 §3.8.4).
    pub keepalive: Option<Duration>,
    /// Window scale shift we offer (RFC 7323 §2), 0..=14.
    pub window_scale: u8,
    /// Congestion control algorithm name ("newreno").
    pub congestion: String,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            rto_initial: Duration::from_secs(1),
            msl: Duration::from_secs(30),
            delayed_ack: Duration::from_millis(40),
            max_retransmits: 15,
            max_syn_retransmits: 6,
            max_connections: 4096,
            default_backlog: 128,
            nagle: true,
            keepalive: None,
            window_scale: 7,
            congestion: "newreno".into(),
        }
    }
}

/// Per-connection statistics as plain data (like Linux `tcp_info`).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct TcpInfo {
    pub state: Option<TcpState>,
    pub local: Option<SocketAddrV4>,
    pub remote: Option<SocketAddrV4>,
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub rto: Duration,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub mss: u16,
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_retransmitted: u64,
    pub bytes_received: u64,
    pub segs_out_of_order: u64,
    pub retransmits: u64,
}

/// TCP-wide counters (drops by reason, segments in/out, resets...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TcpCounters {
    pub segments_in: u64,
    pub segments_out: u64,
    pub resets_sent: u64,
}

/// A TCP event for the trace (see [`crate::event`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TcpEvent {
    /// A connection changed state (RFC 9293 §3.3.2).
    StateChange {
        /// The connection.
        conn: ConnHandle,
        /// Old state.
        from: TcpState,
        /// New state.
        to: TcpState,
    },
}

impl TcpEvent {
    /// The RFC section behind this event.
    pub fn rfc(&self) -> Option<&'static str> {
        match self {
            TcpEvent::StateChange { .. } => Some("RFC 9293 §3.3.2"),
        }
    }
}

/// What `poll_transmit` wrote: the segment's addresses and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpTransmit {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub len: usize,
}

/// An ICMP error quoting a TCP segment we sent (RFC 1122 §4.2.3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpIcmpError {
    /// Source of the quoted datagram (one of ours).
    pub local: SocketAddrV4,
    /// Destination of the quoted datagram.
    pub remote: SocketAddrV4,
    /// Sequence number from the quoted TCP header.
    pub seq: u32,
    /// Hard errors (protocol/port unreachable, RFC 1122 §4.2.3.9) abort connections in SYN-SENT
    /// and SYN-RECEIVED; soft errors are only remembered.
    pub hard: bool,
    /// The error, for reporting.
    pub error: TcpError,
}

/// All TCP state of one stack: listeners, connections by 4-tuple, timers.
#[derive(Debug)]
pub struct Tcp {
    config: TcpConfig,
    _seed: u64,
}

#[allow(missing_docs, unused_variables)]
impl Tcp {
    /// `mss` is the MSS we announce (RFC 9293 §3.7.1: MTU minus 40 for IPv4).
    pub(crate) fn new(config: &TcpConfig, seed: u64, mss: u16) -> Self {
        let _ = mss;
        Tcp { config: config.clone(), _seed: seed }
    }
    pub(crate) fn process(&mut self, now: Instant, ctx: &mut Ctx<'_>, src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) {}
    pub(crate) fn icmp_error(&mut self, now: Instant, ctx: &mut Ctx<'_>, err: TcpIcmpError) {}
    pub(crate) fn poll_transmit(&mut self, now: Instant, ctx: &mut Ctx<'_>, out: &mut [u8]) -> Option<TcpTransmit> {
        None
    }
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    pub(crate) fn handle_timeout(&mut self, now: Instant, ctx: &mut Ctx<'_>) {}

    pub fn listen(&mut self, local: SocketAddrV4, backlog: usize) -> Result<ListenerHandle, TcpError> {
        Err(TcpError::InvalidState)
    }
    pub fn accept(&mut self, l: ListenerHandle) -> Result<ConnHandle, TcpError> {
        Err(TcpError::WouldBlock)
    }
    pub fn close_listener(&mut self, l: ListenerHandle) {}
    pub(crate) fn connect(&mut self, now: Instant, ctx: &mut Ctx<'_>, local_ip: Ipv4Addr, remote: SocketAddrV4) -> Result<ConnHandle, TcpError> {
        Err(TcpError::InvalidState)
    }
    pub fn send(&mut self, now: Instant, c: ConnHandle, data: &[u8]) -> Result<usize, TcpError> {
        Err(TcpError::InvalidHandle)
    }
    pub fn recv(&mut self, now: Instant, c: ConnHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        Err(TcpError::InvalidHandle)
    }
    pub fn shutdown_write(&mut self, now: Instant, c: ConnHandle) -> Result<(), TcpError> {
        Err(TcpError::InvalidHandle)
    }
    pub fn close(&mut self, now: Instant, c: ConnHandle) {}
    pub fn abort(&mut self, now: Instant, c: ConnHandle) {}
    pub fn set_nodelay(&mut self, c: ConnHandle, nodelay: bool) -> Result<(), TcpError> {
        Err(TcpError::InvalidHandle)
    }
    pub fn set_keepalive(&mut self, c: ConnHandle, idle: Option<Duration>) -> Result<(), TcpError> {
        Err(TcpError::InvalidHandle)
    }
    pub fn state(&self, c: ConnHandle) -> Option<TcpState> {
        None
    }
    pub fn info(&self, c: ConnHandle) -> Option<TcpInfo> {
        None
    }
    pub fn can_recv(&self, c: ConnHandle) -> bool {
        false
    }
    pub fn can_send(&self, c: ConnHandle) -> bool {
        false
    }
}
