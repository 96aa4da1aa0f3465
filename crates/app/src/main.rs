//! The `tcplab` binary (to be written).
fn main() {}
