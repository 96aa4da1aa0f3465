//! The files of one run: pcaps, `summary.json`, `summary.txt`, graphs and `index.html`.

use std::fmt::Write as _;
use std::path::Path;

use tcplab_sim::report::{FlowResult, Summary};
use tcplab_sim::{RunOutput, Scenario};

use super::graphs;
use crate::error::AppError;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AppError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| AppError::io(format!("write {}", path.display()), e))
}

/// Write every output file of `output` into `dir` (created if needed).
pub fn write_outputs(scenario: &Scenario, output: &RunOutput, dir: &Path) -> Result<(), AppError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::io(format!("create {}", dir.display()), e))?;
    for p in &output.pcaps {
        write(dir, &p.name, &p.bytes)?;
    }
    let json = serde_json::to_string_pretty(&output.summary)
        .map_err(|e| AppError::Failed(format!("summary.json: {e}")))?;
    write(dir, "summary.json", format!("{json}\n").as_bytes())?;
    let text = summary_text(&output.summary);
    write(dir, "summary.txt", text.as_bytes())?;
    let graphs = graphs::render(output, dir)?;
    write(
        dir,
        "index.html",
        index_html(scenario, &output.summary, &text, &graphs).as_bytes(),
    )?;
    Ok(())
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

/// One screen of text: a table of the flows, then the links.
pub fn summary_text(s: &Summary) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "scenario {}  seed {}  virtual time {:.3} s (limit {} s)",
        s.scenario, s.seed, s.end_time_s, s.duration_limit_s
    );
    let _ = writeln!(
        t,
        "{:<18} {:<17} {:<4} {:>9} {:>10} {:>14} {:>8} {:>4} {:>3} {:>9}",
        "flow",
        "kind",
        "done",
        "time s",
        "Mbit/s",
        "retx seg/bytes",
        "spurious",
        "RTOs",
        "FR",
        "max cwnd"
    );
    for f in &s.flows {
        let _ = writeln!(
            t,
            "{:<18} {:<17} {:<4} {:>9} {:>10} {:>14} {:>8} {:>4} {:>3} {:>9}",
            f.label,
            f.kind,
            if f.completed { "yes" } else { "NO" },
            opt(f.completion_time_s, 3),
            opt(f.goodput_mbps, 3),
            format!("{}/{}", f.retransmitted_segments, f.retransmitted_bytes),
            f.spurious_retransmissions
                .map_or("n/a".into(), |n| n.to_string()),
            f.rto_count,
            f.fast_retransmits,
            f.max_cwnd,
        );
    }
    for f in &s.flows {
        if f.window_probes > 0 {
            let _ = writeln!(t, "{}: {} zero-window probes", f.label, f.window_probes);
        }
        if let Some(e) = &f.error {
            let _ = writeln!(t, "{}: {e}", f.label);
        } else if !f.completed {
            let _ = writeln!(t, "{}: {}", f.label, incomplete(f));
        }
    }
    for l in &s.links {
        let spec = |x: &str| {
            if x.is_empty() {
                "-".to_string()
            } else {
                x.to_string()
            }
        };
        let _ = writeln!(
            t,
            "link {}: a->b {}  b->a {}",
            l.name,
            spec(&l.a_to_b),
            spec(&l.b_to_a)
        );
        let counters: Vec<String> = l
            .counters
            .iter()
            .filter(|(k, _)| {
                k.contains("impair.") && !k.ends_with("frames_in") && !k.ends_with("frames_out")
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !counters.is_empty() {
            let _ = writeln!(t, "  {}", counters.join(" "));
        }
    }
    t
}

fn incomplete(f: &FlowResult) -> String {
    if !f.verified {
        "data did not match the pattern written".into()
    } else {
        format!(
            "did not complete within the duration ({} of its transactions done, {} bytes read)",
            f.transactions, f.bytes
        )
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn index_html(
    scenario: &Scenario,
    s: &Summary,
    text: &str,
    graphs: &[graphs::FlowGraphs],
) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>tcplab sim: {name}</title>\n<style>\nbody {{ font-family: sans-serif; max-width: 72em; margin: 1em auto; }}\ntable {{ border-collapse: collapse; }}\ntd, th {{ border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: right; }}\ntd:first-child, th:first-child {{ text-align: left; }}\npre {{ background: #f4f4f4; padding: 0.5em; }}\nimg {{ max-width: 100%; }}\n</style>\n</head>\n<body>\n<h1>{name} (seed {seed})</h1>",
        name = esc(&s.scenario),
        seed = s.seed
    );
    if !scenario.comment.is_empty() {
        let _ = writeln!(
            h,
            "<h2>What to look at</h2>\n<pre>{}</pre>",
            esc(&scenario.comment)
        );
    }
    let _ = writeln!(h, "<h2>Flows</h2>\n<table>\n<tr><th>flow</th><th>kind</th><th>from</th><th>to</th><th>done</th><th>time (s)</th><th>goodput (Mbit/s)</th><th>retransmitted segments</th><th>retransmitted bytes</th><th>spurious</th><th>RTOs</th><th>fast retransmits</th><th>max cwnd</th><th>min RTT (ms)</th></tr>");
    for f in &s.flows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.label),
            f.kind,
            esc(&f.from),
            esc(&f.to),
            if f.completed { "yes" } else { "no" },
            opt(f.completion_time_s, 3),
            opt(f.goodput_mbps, 3),
            f.retransmitted_segments,
            f.retransmitted_bytes,
            f.spurious_retransmissions.map_or("n/a".into(), |n| n.to_string()),
            f.rto_count,
            f.fast_retransmits,
            f.max_cwnd,
            opt(f.min_rtt_ms, 3),
        );
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(h, "<h2>Links</h2>\n<ul>");
    for l in &s.links {
        let _ = writeln!(
            h,
            "<li>{}: a&rarr;b <code>{}</code>, b&rarr;a <code>{}</code>; capture <a href=\"{}\">{}</a></li>",
            esc(&l.name),
            esc(if l.a_to_b.is_empty() { "-" } else { &l.a_to_b }),
            esc(if l.b_to_a.is_empty() { "-" } else { &l.b_to_a }),
            esc(&l.pcap),
            esc(&l.pcap)
        );
    }
    let _ = writeln!(h, "</ul>");
    let _ = writeln!(h, "<h2>Graphs</h2>");
    if graphs.iter().all(|g| g.files.is_empty()) {
        let _ = writeln!(h, "<p>{}</p>", esc(graphs::NOTE_NONE));
    }
    for g in graphs {
        if g.files.is_empty() {
            continue;
        }
        let _ = writeln!(h, "<h3>{}</h3>", esc(&g.label));
        if let Some(n) = &g.note {
            let _ = writeln!(h, "<p>{}</p>", esc(n));
        }
        for f in &g.files {
            let _ = writeln!(h, "<img src=\"{0}\" alt=\"{0}\">", esc(f));
        }
    }
    let _ = writeln!(
        h,
        "<h2>Summary</h2>\n<pre>{}</pre>\n<p>Also: <a href=\"summary.json\">summary.json</a>, <a href=\"summary.txt\">summary.txt</a>.</p>\n</body>\n</html>",
        esc(text)
    );
    h
}
