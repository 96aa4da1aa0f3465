//! `--trace`: one line per stack event, with a timestamp relative to the runtime's epoch, the
//! runtime's name, the event, and the RFC section behind it when there is one.
//!
//! ```text
//!    0.000412 A  arp: request for 198.18.0.2 (attempt 1) [RFC 826]
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex};

use tcplab_stack::{Event, EventKind, Instant};

/// Where trace lines go: stderr, or a shared buffer (the demo collects both stacks' lines).
#[derive(Debug, Clone)]
pub enum Sink {
    /// Standard error.
    Stderr,
    /// An in-memory list of `(event time, line)`, for callers that merge several runtimes'
    /// traces in time order.
    Buffer(Arc<Mutex<Vec<(Instant, String)>>>),
}

/// Renders events of one runtime.
#[derive(Debug)]
pub struct Tracer {
    name: String,
    sink: Sink,
}

impl Tracer {
    /// A tracer appending to `sink`.
    pub fn new(name: &str, sink: Sink) -> Tracer {
        Tracer {
            name: name.to_string(),
            sink,
        }
    }

    /// Record one event.
    pub fn event(&mut self, ev: &Event) {
        let line = render(&self.name, ev);
        match &self.sink {
            Sink::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Sink::Buffer(b) => b
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((ev.time, line)),
        }
    }
}

/// One trace line for `ev` seen by the runtime called `name`: seconds since the runtime's
/// epoch, the runtime, then the event as the stack renders it (layer, what, RFC section).
pub fn render(name: &str, ev: &Event) -> String {
    let t = ev.time.as_nanos();
    let (secs, micros) = (t / 1_000_000_000, (t % 1_000_000_000) / 1000);
    match &ev.kind {
        // TCP events have a compact Display of their own (`tcp#3 SynSent -> Established`).
        EventKind::Tcp(e) => match ev.kind.rfc() {
            Some(rfc) => format!("{secs:>4}.{micros:06} {name:<2} {e} [{rfc}]"),
            None => format!("{secs:>4}.{micros:06} {name:<2} {e}"),
        },
        kind => format!("{secs:>4}.{micros:06} {name:<2} {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_time_name_and_rfc() {
        let ev = Event {
            time: Instant::from_nanos(1_234_567_890),
            kind: EventKind::ArpRequest {
                target: "198.18.0.2".parse().unwrap(),
                attempt: 1,
            },
        };
        let line = render("A", &ev);
        assert!(
            line.starts_with("   1.234567 A  arp: request for 198.18.0.2"),
            "{line}"
        );
        assert!(line.ends_with("[RFC 826]"), "{line}");
    }
}
