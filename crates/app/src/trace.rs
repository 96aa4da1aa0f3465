//! `--trace`: one line per stack event, with a timestamp relative to the runtime's epoch, the
//! runtime's name, the event, and the RFC section behind it when there is one.
//!
//! ```text
//!     0.000412 A  tcp: conn 0 SynSent -> Established   [RFC 9293 §3.3.2]
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex};

use tcplab_stack::Event;

/// Where trace lines go: stderr, or a shared buffer (the demo collects both stacks' lines).
#[derive(Debug, Clone)]
pub enum Sink {
    /// Standard error.
    Stderr,
    /// An in-memory list of lines.
    Buffer(Arc<Mutex<Vec<String>>>),
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
            Sink::Buffer(b) => b.lock().unwrap_or_else(|p| p.into_inner()).push(line),
        }
    }
}

/// One trace line for `ev` seen by the runtime called `name`.
pub fn render(name: &str, ev: &Event) -> String {
    let t = ev.time.as_nanos();
    let what = format!("{:?}", ev.kind);
    match ev.kind.rfc() {
        Some(rfc) => format!(
            "{:>5}.{:06} {name:<2} {what}   [{rfc}]",
            t / 1_000_000_000,
            (t % 1_000_000_000) / 1000
        ),
        None => format!(
            "{:>5}.{:06} {name:<2} {what}",
            t / 1_000_000_000,
            (t % 1_000_000_000) / 1000
        ),
    }
}
