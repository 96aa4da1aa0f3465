//! tcplab's sans-IO TCP/IP stack.
//!
//! Frames and the current time go in; frames, timer deadlines and events come out. The stack
//! never reads a clock, never sleeps, never owns a file descriptor, and is deterministic for a
//! given [`Config::seed`].
//!
//! # Call order
//! A driver (the `tcplab` runtime, or a simulation) repeats:
//! 1. [`Stack::handle_frame`] for every frame the link delivered;
//! 2. [`Stack::handle_timeout`] when the clock has passed [`Stack::poll_timeout`];
//! 3. application calls (`udp_*`, `tcp_*`, `ping`) in any order;
//! 4. [`Stack::poll_transmit`] until it returns `None`, sending each frame on the link;
//! 5. [`Stack::poll_event`] until `None` if events were enabled with [`Stack::set_events`],
//!    and [`Stack::poll_ping`] for ping results;
//! 6. sleep until the link is readable or [`Stack::poll_timeout`] is reached.
//!
//! `now` must never go backwards between calls.
//!
//! # Layers
//! One module per layer: [`ethernet`] -> [`arp`] | [`ipv4`] -> [`icmp`] | [`udp`] | [`tcp`].
//! The facade (`stack.rs`, with its receive path in `input.rs` and its transmit and timer
//! paths in `output.rs`) only moves packets between them.
//!
//! # Bounds
//! Every queue is bounded by a [`Config`] field and every drop increments a named counter in
//! [`Stats`]; [`Stack::memory_usage`] reports what the bounded queues hold, and
//! [`MemoryUsage::caps`] what they may hold.
#![warn(missing_docs)]

pub mod arp;
pub mod config;
pub mod error;
pub mod ethernet;
pub mod event;
pub mod icmp;
pub mod ipv4;
#[macro_use]
pub mod stats;
pub mod tcp;
pub mod time;
pub mod udp;

mod ctx;
mod input;
mod output;
mod pool;
mod stack;
mod summary;

pub use config::Config;
pub use error::{StackError, TcpError, UdpError};
pub use event::{Event, EventKind};
pub use icmp::{IcmpErrorKind, PingEvent};
pub use ipv4::{NextHop, Route};
pub use stack::{MemoryUsage, Stack};
pub use stats::Stats;
pub use tcp::{
    CongestionAlgorithm, ConnHandle, ListenerHandle, TcpInfo, TcpState, UnknownCongestionAlgorithm,
};
pub use time::{Duration, Instant};
pub use udp::UdpHandle;

/// Re-exported address types used throughout the public API.
pub use core::net::{Ipv4Addr, SocketAddrV4};
/// Ethernet MAC address (from `smoltcp::wire`).
pub use smoltcp::wire::EthernetAddress;
