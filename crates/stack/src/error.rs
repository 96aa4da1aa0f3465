//! Typed errors returned by the stack's API. Each variant says why.

use thiserror::Error;

/// Errors from stack-level calls (configuration, ICMP echo, routing).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StackError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No route (connected or default gateway) reaches the destination (RFC 1122 §3.3.1).
    #[error("no route to host {0}")]
    NoRoute(core::net::Ipv4Addr),
    /// The payload is larger than an IPv4 datagram can carry.
    #[error("message too long ({0} bytes)")]
    TooLong(usize),
    /// A bounded queue is full; retry later.
    #[error("queue full")]
    QueueFull,
}

/// Errors from UDP socket calls.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UdpError {
    /// The local address/port is already bound.
    #[error("address in use")]
    AddrInUse,
    /// The address is not one of ours.
    #[error("address not available")]
    AddrNotAvailable,
    /// The handle does not name an open socket.
    #[error("invalid socket handle")]
    InvalidHandle,
    /// No ephemeral port is free.
    #[error("no free ephemeral port")]
    NoPorts,
    /// The send queue is full; retry after `poll_transmit` drained it.
    #[error("send queue full")]
    QueueFull,
    /// The datagram exceeds 65507 bytes of payload.
    #[error("datagram too long ({0} bytes)")]
    TooLong(usize),
    /// No route reaches the destination.
    #[error("no route to host {0}")]
    NoRoute(core::net::Ipv4Addr),
    /// The buffer given to `recv_from` is smaller than the datagram; the datagram was dropped.
    #[error("buffer too small: datagram of {0} bytes truncated")]
    Truncated(usize),
}

/// Errors from TCP calls; the app maps them to the `std::io::ErrorKind` std uses.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// The local address/port is already in use.
    #[error("address in use")]
    AddrInUse,
    /// The address is not one of ours.
    #[error("address not available")]
    AddrNotAvailable,
    /// The handle does not name an open connection or listener.
    #[error("invalid handle")]
    InvalidHandle,
    /// No ephemeral port is free.
    #[error("no free ephemeral port")]
    NoPorts,
    /// Too many connections (configured bound reached).
    #[error("too many connections")]
    TooManyConnections,
    /// No route reaches the destination.
    #[error("no route to host {0}")]
    NoRoute(core::net::Ipv4Addr),
    /// The call would block (no data yet, send buffer full, no pending connection).
    #[error("operation would block")]
    WouldBlock,
    /// The peer answered our SYN with RST (RFC 9293 §3.10.7.3).
    #[error("connection refused")]
    ConnectionRefused,
    /// The peer reset the connection (RFC 9293 §3.10.7.4).
    #[error("connection reset by peer")]
    ConnectionReset,
    /// Retransmissions or keep-alives exhausted (RFC 1122 §4.2.3.5), or a hard ICMP error.
    #[error("connection timed out")]
    TimedOut,
    /// An ICMP destination-unreachable ended the connection (RFC 1122 §4.2.3.9).
    #[error("host unreachable")]
    HostUnreachable,
    /// Sending after our side was shut down, or after the connection closed.
    #[error("broken pipe")]
    BrokenPipe,
    /// The connection is not yet established (or already gone) for this operation.
    #[error("not connected")]
    NotConnected,
    /// The call is not valid in the connection's current state.
    #[error("invalid state for this operation")]
    InvalidState,
}
