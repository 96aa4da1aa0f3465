//! A deterministic simulation harness: several tcplab stacks joined by in-memory links, with
//! optional seeded impairment, frame capture, and a virtual clock.
//!
//! ```
//! use tcplab_sim::{World, Impairment};
//! use tcplab_stack::Ipv4Addr;
//!
//! let mut w = World::new(7);
//! let a = w.add_host_at(1);                       // 198.18.0.1/24
//! let b = w.add_host_at(2);                       // 198.18.0.2/24
//! w.connect(a, b, Impairment::none());
//! let now = w.now();
//! w.stack(a).ping(now, Ipv4Addr::new(198, 18, 0, 2), 1, 1, 56).unwrap();
//! let mut replies = 0;
//! assert!(w.run_until(|w| { replies += w.stack(a).poll_ping().is_some() as u32; replies > 0 },
//!                     tcplab_stack::Duration::from_secs(5)));
//! ```
//!
//! # API at a glance
//! - set-up: [`World::new`]`(seed)`, [`World::two_hosts`]`(seed, impair)`,
//!   [`World::add_host`]`(config)` / [`World::add_host_at`]`(n)`, [`World::connect`]`(a, b,
//!   impair)`, [`Impairment::spec`]`("loss=1%,delay=5ms")`;
//! - driving: [`World::step`], [`World::settle`], [`World::run_until`]`(pred, limit)`,
//!   [`World::run_for`]`(d)`, [`World::drive_bounded`]`(n)`;
//! - access: [`World::stack`]`(id)` for application calls, [`World::stack_ref`],
//!   [`World::now`], [`World::link_counters`];
//! - capture: [`World::capture`], [`World::pcap`].
//!
//! Application calls made between steps (e.g. `tcp_send`, `udp_send_to`, `ping`) take
//! [`World::now`]; their frames leave on the next step.
//!
//! # Time
//! The clock starts at zero and only moves in [`World::step`]: first everything due *now* is
//! done until nothing moves (frames delivered and answered, timers run), then the clock jumps
//! to the earliest deadline of any stack ([`tcplab_stack::Stack::poll_timeout`]) or link
//! ([`tcplab_link::Link::poll_timeout`], e.g. a delayed frame in an impairment). Nothing reads a real
//! clock, and every random choice comes from seeds derived from [`World::new`]'s seed, so a
//! run is a pure function of its seed and its script.
//!
//! # Topology
//! Each host has one interface (a [`tcplab_stack::Stack`] has one). [`World::connect`] joins two hosts with
//! a [`tcplab_link::memory::pair`], each end optionally wrapped in a seeded
//! [`tcplab_link::impair::Impair`] applied to the frames that end sends.
//!
//! [`World::connect_link`] does the same with a separate impairment per direction and an
//! optional pcap at `a`'s end ([`LinkOptions`]), and reports errors instead of panicking.
//! Several pairs can live in one world; a host with more than one link, routers and
//! switches are not supported.
//!
//! # Events
//! [`World::record_events`] keeps a host's TCP events ([`tcplab_stack::tcp::TcpEvent`]:
//! congestion window, RTT samples, retransmissions, timers) with their virtual times.
//!
//! # Scenarios
//! [`Scenario`] reads a TOML scenario file (hosts, links, flows; `docs/experiments.md`), and
//! [`run`] drives its flows on a [`World`] and returns the metrics ([`report::Summary`]), the
//! link captures and the traces for graphs. `tcplab sim` is its command line.
//!
//! # Capture
//! [`World::capture`] records every frame a host's stack emits with its virtual timestamp;
//! [`World::captured`] returns them, [`World::capture_digest`] a stable hash for comparing
//! runs. [`World::pcap`] (before [`World::connect`]) taps the host's link with
//! [`tcplab_link::pcap::Pcap`] under the impairment, so the capture shows what went on the
//! wire; [`World::pcap_bytes`] / [`World::write_pcap`] return or save the file.
#![warn(missing_docs)]

mod world;
pub use world::*;

pub mod engine;
pub mod report;
pub mod scenario;

pub use engine::{run, RunError, RunOutput};
pub use scenario::{Scenario, ScenarioError};
