//! Counters: every drop has a named reason and a counter, per layer.

/// All counters of one stack. Plain data: copy it, diff it, print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// TCP counters (kept by the TCP layer).
    pub tcp: crate::tcp::TcpCounters,
}
