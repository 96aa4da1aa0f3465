//! Whole-stack simulation tests for tcplab. The harness itself ([`World`] and friends) lives in
//! the `tcplab-sim` crate (`crates/sim`), shared with `tcplab sim`; it is re-exported here so
//! the tests keep writing `use tcplab_tests::{World, ...}`.

pub use tcplab_sim::*;
