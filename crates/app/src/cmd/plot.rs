//! `tcplab plot FILE.pcap [--conn A:P-B:P] -o DIR`: four SVG graphs per direction of each
//! TCP connection that carried data, and an `index.html` that shows them (see
//! [`crate::graph`]). Prints one line per file written.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::PlotArgs;
use crate::error::AppError;
use crate::graph::{self, FlowTrace};

/// Run `tcplab plot`.
pub fn run(args: PlotArgs) -> Result<i32, AppError> {
    let flows = graph::flows_from_pcap(&args.file, args.conn.as_ref())?;
    if flows.is_empty() {
        let what = match &args.conn {
            Some(c) => format!("no TCP data of connection {c}"),
            None => "no TCP data".to_string(),
        };
        return Err(AppError::Failed(format!(
            "{}: {what} (TCP over IPv4 only)",
            args.file.display()
        )));
    }
    for path in write_graphs(&flows, &args.out, &args.file)? {
        println!("{}", path.display());
    }
    Ok(0)
}

/// Render every flow into `dir` and write `index.html`; returns the files written (the
/// index last).
pub fn write_graphs(
    flows: &[FlowTrace],
    dir: &Path,
    source: &Path,
) -> Result<Vec<PathBuf>, AppError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::io(format!("create {}", dir.display()), e))?;
    let mut used = BTreeSet::new();
    let mut written = Vec::new();
    let mut sections = Vec::new();
    for flow in flows {
        let prefix = unique_prefix(&mut used, flow);
        let files = graph::render(flow, dir, &prefix)?;
        sections.push((flow, files.clone()));
        written.extend(files);
    }
    let index = dir.join("index.html");
    std::fs::write(&index, index_html(source, &sections))
        .map_err(|e| AppError::io(format!("write {}", index.display()), e))?;
    written.push(index);
    Ok(written)
}

/// The flow's file prefix, with `conn2.`, `conn3.`, ... when the same ports were reused.
fn unique_prefix(used: &mut BTreeSet<String>, flow: &FlowTrace) -> String {
    let base = graph::file_prefix(flow);
    let mut prefix = base.clone();
    let mut n = 1;
    while !used.insert(prefix.clone()) {
        n += 1;
        prefix = format!("{base}conn{n}.");
    }
    prefix
}

/// A plain HTML page (no JavaScript) with every graph.
fn index_html(source: &Path, sections: &[(&FlowTrace, Vec<PathBuf>)]) -> String {
    let title = format!("tcplab plot: {}", source.display());
    let mut html = String::new();
    let _ = writeln!(
        html,
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n<body>\n<h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    for (flow, files) in sections {
        let _ = writeln!(html, "<h2>{}</h2>", escape(&flow.label));
        let _ = writeln!(
            html,
            "<p>{} data segments, {} retransmitted, {} ACKs</p>",
            flow.segments.len(),
            flow.retransmits(),
            flow.acks.len()
        );
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = writeln!(
                html,
                "<p><img src=\"{}\" alt=\"{}\"></p>",
                escape(&name),
                escape(&name)
            );
        }
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// Escape text for HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("a -> b & <c>"), "a -&gt; b &amp; &lt;c&gt;");
    }

    #[test]
    fn reused_ports_get_distinct_prefixes() {
        let f = FlowTrace::new(
            "198.18.0.1:49152".parse().expect("addr"),
            "198.18.0.2:80".parse().expect("addr"),
        );
        let mut used = BTreeSet::new();
        assert_eq!(
            unique_prefix(&mut used, &f),
            "198.18.0.1_49152-198.18.0.2_80."
        );
        assert_eq!(
            unique_prefix(&mut used, &f),
            "198.18.0.1_49152-198.18.0.2_80.conn2."
        );
    }
}
