//! The `tcplab` application: the runtime that drives `tcplab_stack` over a `tcplab_link`, a
//! blocking socket API shaped like `std::net`, and the subcommands of the `tcplab` binary.
//!
//! - [`runtime`]: one event-loop thread per stack (link fd + waker + timer deadline);
//! - [`net`]: `TcpListener`, `TcpStream`, `UdpSocket` over a [`runtime::Handle`];
//! - [`cmd`]: `demo`, `ping`, `host`, `serve`, `connect`, `get`, `plot`, `sim`;
//! - [`graph`]: SVG graphs of TCP connections from a pcap (`tcplab plot`) or a simulation;
//! - [`sim`]: `tcplab sim`'s outputs (summary, graphs, index.html, seed sweeps);
//! - [`http`]: the HTTP/1.1 parser and writer `serve http` and `get` share;
//! - [`setup`]: command-line options to a running runtime.
#![warn(missing_docs)]

pub mod cli;
pub mod cmd;
pub mod error;
pub mod graph;
pub mod http;
pub mod net;
pub mod runtime;
pub mod setup;
pub mod sim;
pub mod sys;
pub mod trace;

#[cfg(test)]
mod e2e_tests;
