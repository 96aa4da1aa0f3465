//! The per-call context the facade lends to each layer: where to record events and counters.

use crate::event::EventSink;
use crate::stats::Stats;

/// Borrowed mutable state shared by all layers during one call into the stack.
pub(crate) struct Ctx<'a> {
    /// Events (no-op unless enabled).
    pub events: &'a mut EventSink,
    /// Counters.
    pub stats: &'a mut Stats,
}
