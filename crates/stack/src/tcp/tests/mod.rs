//! Tests that drive whole connections: a segment-level two-endpoint harness (`harness.rs`)
//! with a virtual clock and seeded loss/reordering/duplication, and scripted single-endpoint
//! tests built from hand-made segments (`script.rs`).

mod harness;
mod script;

mod acks;
mod api;
mod flow;
mod handshake;
mod hostile;
mod pmtu;
mod reliability;
mod sack;
mod states;
mod syncookie;
mod timestamps;
mod timewait;
