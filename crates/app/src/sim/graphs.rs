//! Graphs per flow (time-sequence, cwnd, RTT, goodput): the data segments and ACKs come from
//! the link's capture ([`crate::graph::flows_from_reader`]), the congestion window and the
//! RTT estimator from the stack events the engine recorded (`stack_events = true`).
//!
//! One connection per flow is drawn: the flow's first, in the direction that carried the
//! most data (the bulk sender; the server of a request/response flow whose responses are
//! larger). Short-connection flows say which of their connections is shown.

use std::path::Path;

use tcplab_sim::report::{ConnTrace, FlowTraces};
use tcplab_sim::RunOutput;

use crate::error::AppError;
use crate::graph::{self, CwndPt, FlowTrace, RttPt};

/// What `index.html` says when no graph was drawn.
pub const NOTE_NONE: &str = "No graphs: no flow carried data on a captured link.";

/// The graph files drawn for one flow.
#[derive(Debug, Clone)]
pub struct FlowGraphs {
    /// The flow's label.
    pub label: String,
    /// File names in the output directory.
    pub files: Vec<String>,
    /// Which connection the graphs show, or why there are none.
    pub note: Option<String>,
}

/// Virtual time of the first frame of a pcap written by `tcplab_link::pcap` (nanosecond
/// little-endian format): the graphs' time origin. `None` for an empty capture.
fn first_frame_time(pcap: &[u8]) -> Option<f64> {
    let rec = pcap.get(24..32)?;
    let sec = u32::from_le_bytes(rec[0..4].try_into().ok()?);
    let frac = u32::from_le_bytes(rec[4..8].try_into().ok()?);
    let nanos = pcap.get(0..4) == Some(&0xa1b2_3c4du32.to_le_bytes()[..]);
    Some(sec as f64 + frac as f64 * if nanos { 1e-9 } else { 1e-6 })
}

/// The end that sent the most data on the flow's first connection.
fn data_sender(t: &FlowTraces) -> Option<&ConnTrace> {
    let client = t.ends.first()?;
    let server = t
        .ends
        .iter()
        .find(|e| e.local == client.remote && e.remote == client.local);
    match server {
        Some(s) if s.bytes_written > client.bytes_written => Some(s),
        _ => Some(client),
    }
}

/// Draw the graphs of every flow into `dir`.
pub fn render(output: &RunOutput, dir: &Path) -> Result<Vec<FlowGraphs>, AppError> {
    let mut parsed: Vec<Option<(Vec<FlowTrace>, f64)>> = vec![None; output.pcaps.len()];
    let mut out = Vec::new();
    for t in &output.traces {
        let mut g = FlowGraphs {
            label: t.label.clone(),
            files: Vec::new(),
            note: None,
        };
        let (Some(sender), Some(pcap)) = (data_sender(t), output.pcaps.get(t.link)) else {
            g.note = Some("no connection or capture".into());
            out.push(g);
            continue;
        };
        if parsed[t.link].is_none() {
            let flows = graph::flows_from_reader(&pcap.bytes[..], Path::new(&pcap.name), None)?;
            parsed[t.link] = Some((flows, first_frame_time(&pcap.bytes).unwrap_or(0.0)));
        }
        let Some((flows, t0)) = parsed[t.link].as_ref() else {
            continue;
        };
        let Some(found) = flows
            .iter()
            .find(|f| f.src == sender.local && f.dst == sender.remote)
        else {
            g.note = Some(format!(
                "{} -> {} carried no data in {}",
                sender.local, sender.remote, pcap.name
            ));
            out.push(g);
            continue;
        };
        let mut flow = found.clone();
        flow.label = format!("{}: {} -> {}", t.label, sender.local, sender.remote);
        flow.cwnd = sender
            .cwnd
            .iter()
            .map(|c| CwndPt {
                t: c.t - t0,
                cwnd: c.cwnd,
                // The stack keeps an unset ssthresh as u32::MAX ("arbitrarily high", RFC 5681
                // §3.1): no line rather than one at 4 GB that flattens the cwnd curve.
                ssthresh: (c.ssthresh != u32::MAX).then_some(c.ssthresh),
            })
            .collect();
        flow.rtt = sender
            .rtt
            .iter()
            .map(|r| RttPt {
                t: r.t - t0,
                sample_ms: r.sample_ms,
                srtt_ms: Some(r.srtt_ms),
                rto_ms: Some(r.rto_ms),
            })
            .collect();
        flow.stack_events = true;
        let client = &t.ends[0];
        let connections = t.ends.iter().filter(|e| e.remote == client.remote).count();
        if connections > 1 {
            g.note = Some(format!(
                "The first of its {connections} connections: {} -> {}.",
                sender.local, sender.remote
            ));
        }
        let prefix = format!("{}-", t.label);
        for p in graph::render(&flow, dir, &prefix)? {
            if let Some(name) = p.file_name() {
                g.files.push(name.to_string_lossy().to_string());
            }
        }
        out.push(g);
    }
    Ok(out)
}
