//! SVG graphs of one [`FlowTrace`] with plotters' SVG backend: time-sequence (tcptrace
//! style), congestion window, RTT and goodput.
//!
//! Text is written as SVG `<text>` elements; plotters estimates their size without a font
//! file (no font feature), and the viewer renders them with its own sans-serif font. Nothing
//! depends on the clock or on hash order, so equal input gives byte-identical files.

use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FlowTrace, GraphError};

/// The graphs [`render`] writes, in order: `{prefix}{name}.svg`.
pub const GRAPH_NAMES: [&str; 4] = ["tseq", "cwnd", "rtt", "goodput"];

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 700;
const NOTE_LINE: u32 = 18;

const DATA: RGBColor = RGBColor(0x1f, 0x4e, 0xc8);
const RETRANSMIT: RGBColor = RGBColor(0xd6, 0x1f, 0x1f);
const ACK: RGBColor = RGBColor(0x1a, 0x8a, 0x2e);
const WINDOW: RGBColor = RGBColor(0xd8, 0x9a, 0x00);
const SACK: RGBColor = RGBColor(0x9a, 0x2d, 0xc8);
const HOLE: RGBColor = RGBColor(0xe0, 0x6c, 0x00);
const SSTHRESH: RGBColor = RGBColor(0x80, 0x80, 0x80);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The file name prefix of a flow's graphs, e.g. `198.18.0.1_49152-198.18.0.2_80.`.
pub fn file_prefix(flow: &FlowTrace) -> String {
    format!(
        "{}_{}-{}_{}.",
        flow.src.ip(),
        flow.src.port(),
        flow.dst.ip(),
        flow.dst.port()
    )
}

/// Write the four graphs of `flow` into `dir`: `{prefix}tseq.svg`, `{prefix}cwnd.svg`,
/// `{prefix}rtt.svg` and `{prefix}goodput.svg` (see [`GRAPH_NAMES`]); returns their paths in
/// that order. A graph whose data is missing (cwnd from a plain capture) is still written
/// and its title says why.
pub fn render(flow: &FlowTrace, dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, GraphError> {
    let drawers: [fn(&FlowTrace, &Area) -> Drawn; 4] = [tseq, cwnd, rtt, goodput];
    let mut written = Vec::new();
    for (name, draw) in GRAPH_NAMES.iter().zip(drawers) {
        let path = dir.join(format!("{prefix}{name}.svg"));
        let mut notes = graph_notes(flow, name);
        notes.extend(flow.notes.iter().cloned());
        let svg = svg(&notes, |area| draw(flow, area)).map_err(|e| GraphError::Render {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, svg).map_err(|source| GraphError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Draw into an SVG string: the graph above, `notes` one per line below.
fn svg(
    notes: &[String],
    draw: impl FnOnce(&Area) -> Drawn,
) -> Result<String, DrawingAreaErrorKind<std::io::Error>> {
    let notes_h = NOTE_LINE * notes.len() as u32 + if notes.is_empty() { 0 } else { 8 };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT + notes_h)).into_drawing_area();
        root.fill(&WHITE)?;
        let (graph, below) = root.split_vertically(HEIGHT);
        draw(&graph)?;
        let style = ("sans-serif", 14).into_font().color(&BLACK);
        for (i, note) in notes.iter().enumerate() {
            below.draw_text(note, &style, (20, (NOTE_LINE * i as u32) as i32))?;
        }
        root.present()?;
    }
    Ok(out)
}

/// Per-graph remarks on where the data came from.
fn graph_notes(flow: &FlowTrace, name: &str) -> Vec<String> {
    match name {
        "tseq" => {
            let seen = flow.seen_before();
            let resent = seen.iter().filter(|&&b| b).count();
            let retransmits = flow.retransmits();
            let mut notes = vec![format!(
                "{} data segments; {retransmits} below the highest sequence already sent: \
                 {resent} re-sent bytes this capture had seen, {} filled a hole",
                flow.segments.len(),
                retransmits - resent
            )];
            if retransmits > resent {
                notes.push(
                    "out of order (hole fill): reordered on the way, or a retransmission of a \
                     segment lost before the capture point (a capture taken at the receiver)"
                        .to_string(),
                );
            }
            notes
        }
        "rtt" if !flow.stack_events && !flow.rtt.is_empty() => vec![
            "RTT from the capture: time from a segment to the first ACK covering it; \
             retransmitted segments give no sample (Karn); srtt computed per RFC 6298; \
             no RTO (it depends on the sender's timer); meaningful when captured at the sender"
                .to_string(),
        ],
        "goodput" => vec![format!(
            "goodput = bytes newly acknowledged per interval; {}",
            average_goodput(flow)
        )],
        _ => Vec::new(),
    }
}

/// A graph that says why it has no data.
fn unavailable(area: &Area, flow: &FlowTrace, why: &str) -> Drawn {
    let area = area.titled(why, ("sans-serif", 20))?;
    area.draw_text(
        &flow.label,
        &("sans-serif", 16).into_font().color(&BLACK),
        (20, 20),
    )?;
    Ok(())
}

/// `(min, max)` of finite values with `lo`/`hi` fallbacks, never empty.
fn span(values: impl Iterator<Item = f64>, lo: f64, hi: f64) -> (f64, f64) {
    let (mut a, mut b) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        a = a.min(v);
        b = b.max(v);
    }
    if a > b {
        return (lo, hi);
    }
    // plotters needs a range it can divide into ticks.
    if b - a <= a.abs().max(1.0) * 1e-9 {
        return (a, a + 1.0);
    }
    (a, b)
}

fn time_span(flow: &FlowTrace) -> (f64, f64) {
    let t = flow
        .segments
        .iter()
        .map(|s| s.t)
        .chain(flow.acks.iter().map(|a| a.t))
        .chain(flow.cwnd.iter().map(|c| c.t))
        .chain(flow.rtt.iter().map(|r| r.t));
    span(t, 0.0, 1.0)
}

/// A step line through `(t, v)` points: each value holds until the next time.
fn steps(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (t, v) in points.filter(|(t, v)| t.is_finite() && v.is_finite()) {
        if let Some(&(_, prev)) = out.last() {
            out.push((t, prev));
        }
        out.push((t, v));
    }
    out
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
}

fn fmt_int(v: &f64) -> String {
    format!("{v:.0}")
}

fn fmt_secs(v: &f64) -> String {
    format!("{v:.3}")
}

/// Time-sequence graph: segments as vertical bars, retransmissions in red, the ACK line,
/// the right edge of the receive window, SACK blocks.
fn tseq(flow: &FlowTrace, area: &Area) -> Drawn {
    let (t0, t1) = time_span(flow);
    let seqs = flow
        .segments
        .iter()
        .flat_map(|s| [s.seq as f64, s.seq.saturating_add(u64::from(s.len)) as f64])
        .chain(
            flow.acks
                .iter()
                .flat_map(|a| [a.ack as f64, a.win_edge as f64]),
        );
    let (y0, y1) = span(seqs, 0.0, 1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: time-sequence", flow.label), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(100)
        .build_cartesian_2d(t0..t1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("relative sequence number (bytes)")
        .x_label_formatter(&fmt_secs)
        .y_label_formatter(&fmt_int)
        .draw()?;
    let bar = |s: &super::DataSeg| {
        let top = s.seq.saturating_add(u64::from(s.len)) as f64;
        vec![(s.t, s.seq as f64), (s.t, top)]
    };
    chart
        .draw_series(LineSeries::new(
            steps(flow.acks.iter().map(|a| (a.t, a.ack as f64))),
            ACK.stroke_width(1),
        ))?
        .label("ACK")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ACK.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            steps(flow.acks.iter().map(|a| (a.t, a.win_edge as f64))),
            WINDOW.stroke_width(1),
        ))?
        .label("window")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], WINDOW.stroke_width(2)));
    // Data over the ACK and window lines, as tcptrace draws it.
    chart
        .draw_series(
            flow.segments
                .iter()
                .filter(|s| !s.retransmit)
                .map(|s| PathElement::new(bar(s), DATA.stroke_width(1))),
        )?
        .label("data")
        .legend(|(x, y)| PathElement::new(vec![(x, y - 6), (x, y + 6)], DATA.stroke_width(2)));
    chart
        .draw_series(flow.acks.iter().flat_map(|a| {
            a.sack.iter().map(move |&(l, r)| {
                PathElement::new(vec![(a.t, l as f64), (a.t, r as f64)], SACK.stroke_width(3))
            })
        }))?
        .label("SACK")
        .legend(|(x, y)| PathElement::new(vec![(x, y - 6), (x, y + 6)], SACK.stroke_width(3)));
    // Retransmissions last, so that the ACK line does not hide them; a mark at the bottom
    // of each, since a bar is only a few pixels long at the scale of a whole transfer.
    // Segments below the highest sequence whose bytes the capture had not seen before are
    // told apart: they fill a hole (reordering, or a loss before the capture point).
    let seen = flow.seen_before();
    let resent = || {
        flow.segments
            .iter()
            .zip(&seen)
            .filter(|(s, &b)| s.retransmit && b)
    };
    let holes = || {
        flow.segments
            .iter()
            .zip(&seen)
            .filter(|(s, &b)| s.retransmit && !b)
    };
    chart
        .draw_series(resent().map(|(s, _)| PathElement::new(bar(s), RETRANSMIT.stroke_width(2))))?
        .label("retransmission")
        .legend(|(x, y)| Cross::new((x + 10, y), 4, RETRANSMIT.stroke_width(2)));
    chart.draw_series(
        resent().map(|(s, _)| Cross::new((s.t, s.seq as f64), 4, RETRANSMIT.stroke_width(2))),
    )?;
    if holes().next().is_some() {
        chart
            .draw_series(holes().map(|(s, _)| PathElement::new(bar(s), HOLE.stroke_width(2))))?
            .label("out of order (hole fill)")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 4, HOLE.filled()));
        chart.draw_series(
            holes().map(|(s, _)| TriangleMarker::new((s.t, s.seq as f64), 4, HOLE.filled())),
        )?;
    }
    legend(&mut chart)
}

/// Congestion window and slow-start threshold over time.
fn cwnd(flow: &FlowTrace, area: &Area) -> Drawn {
    if flow.cwnd.is_empty() {
        let why = if flow.stack_events {
            "cwnd: no congestion window events for this flow"
        } else {
            "cwnd: not available from a packet capture (needs stack events; use tcplab sim)"
        };
        return unavailable(area, flow, why);
    }
    let (t0, t1) = time_span(flow);
    let values = flow
        .cwnd
        .iter()
        .flat_map(|c| [Some(f64::from(c.cwnd)), c.ssthresh.map(f64::from)])
        .flatten()
        .chain([0.0]);
    let (y0, y1) = span(values, 0.0, 1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: congestion window", flow.label),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(100)
        .build_cartesian_2d(t0..t1, y0..y1 * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("bytes")
        .x_label_formatter(&fmt_secs)
        .y_label_formatter(&fmt_int)
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            steps(flow.cwnd.iter().map(|c| (c.t, f64::from(c.cwnd)))),
            DATA.stroke_width(2),
        ))?
        .label("cwnd")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(2)));
    // ssthresh as runs of set values; no line where it is infinite.
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for c in &flow.cwnd {
        match c.ssthresh {
            Some(s) => {
                if !open {
                    runs.push(Vec::new());
                    open = true;
                }
                if let Some(run) = runs.last_mut() {
                    run.push((c.t, f64::from(s)));
                }
            }
            None => open = false,
        }
    }
    for (i, run) in runs.into_iter().enumerate() {
        let drawn = chart.draw_series(LineSeries::new(
            steps(run.into_iter()),
            SSTHRESH.stroke_width(2),
        ))?;
        if i == 0 {
            drawn.label("ssthresh").legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], SSTHRESH.stroke_width(2))
            });
        }
    }
    legend(&mut chart)
}

/// RTT samples, the smoothed RTT and the RTO over time.
fn rtt(flow: &FlowTrace, area: &Area) -> Drawn {
    if flow.rtt.is_empty() {
        let why = if flow.stack_events {
            "RTT: no RTT samples for this flow"
        } else {
            "RTT: no samples (no ACK in the capture matched a segment that was not retransmitted)"
        };
        return unavailable(area, flow, why);
    }
    let (t0, t1) = time_span(flow);
    let values = flow
        .rtt
        .iter()
        .flat_map(|r| [Some(r.sample_ms), r.srtt_ms, r.rto_ms])
        .flatten()
        .chain([0.0]);
    let (y0, y1) = span(values, 0.0, 1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: round-trip time", flow.label),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(100)
        .build_cartesian_2d(t0..t1, y0..y1 * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("milliseconds")
        .x_label_formatter(&fmt_secs)
        .draw()?;
    chart
        .draw_series(
            flow.rtt
                .iter()
                .filter(|r| r.t.is_finite() && r.sample_ms.is_finite())
                .map(|r| Circle::new((r.t, r.sample_ms), 2, DATA.filled())),
        )?
        .label("RTT sample")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, DATA.filled()));
    chart
        .draw_series(LineSeries::new(
            flow.rtt
                .iter()
                .filter_map(|r| Some((r.t, r.srtt_ms?)))
                .filter(|(t, v)| t.is_finite() && v.is_finite()),
            ACK.stroke_width(2),
        ))?
        .label("srtt")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ACK.stroke_width(2)));
    if flow.rtt.iter().any(|r| r.rto_ms.is_some()) {
        chart
            .draw_series(LineSeries::new(
                steps(flow.rtt.iter().filter_map(|r| Some((r.t, r.rto_ms?)))),
                RETRANSMIT.stroke_width(1),
            ))?
            .label("RTO")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], RETRANSMIT.stroke_width(2))
            });
    }
    legend(&mut chart)
}

/// Bytes newly acknowledged per interval, as Mbit/s: `(interval start, Mbit/s)` and the
/// interval in seconds. The interval is a 1-2-5 step giving about 100 intervals.
fn goodput_series(flow: &FlowTrace) -> (Vec<(f64, f64)>, f64) {
    let acks: Vec<(f64, u64)> = flow
        .acks
        .iter()
        .filter(|a| a.t.is_finite())
        .map(|a| (a.t, a.ack))
        .collect();
    let Some(&(_, first_ack)) = acks.first() else {
        return (Vec::new(), 1.0);
    };
    // Capture timestamps can step backwards: take the extremes, not the ends.
    let (t_min, t_max) = span(acks.iter().map(|a| a.0), 0.0, 1.0);
    let duration = (t_max - t_min).max(1e-3);
    let mut interval = 1e-3;
    'pick: for decade in [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0] {
        for m in [1.0, 2.0, 5.0] {
            interval = m * decade;
            if duration / interval <= 100.0 {
                break 'pick;
            }
        }
    }
    if duration / interval > 100.0 {
        interval = duration / 100.0;
    }
    let start = (t_min / interval).floor() * interval;
    let bins = (((t_max - start) / interval).floor() as usize).clamp(0, 1000) + 1;
    let mut high = vec![None; bins];
    let mut acked = first_ack;
    for &(t, ack) in &acks {
        let i = (((t - start) / interval).floor() as usize).min(bins - 1);
        acked = acked.max(ack);
        high[i] = Some(acked);
    }
    let mut prev = first_ack;
    let mut out = Vec::with_capacity(bins);
    for (i, h) in high.into_iter().enumerate() {
        let now = h.unwrap_or(prev).max(prev);
        let mbit = (now - prev) as f64 * 8.0 / interval / 1e6;
        out.push((start + i as f64 * interval, mbit));
        prev = now;
    }
    (out, interval)
}

fn average_goodput(flow: &FlowTrace) -> String {
    let first = flow.acks.iter().find(|a| a.t.is_finite());
    let last = flow.acks.iter().rev().find(|a| a.t.is_finite());
    match (first, last) {
        (Some(f), Some(l)) if l.t > f.t && l.ack >= f.ack => format!(
            "average {:.3} Mbit/s ({} bytes in {:.3} s)",
            (l.ack - f.ack) as f64 * 8.0 / (l.t - f.t) / 1e6,
            l.ack - f.ack,
            l.t - f.t
        ),
        _ => "no ACKs over a measurable time".to_string(),
    }
}

/// Goodput over time.
fn goodput(flow: &FlowTrace, area: &Area) -> Drawn {
    let (series, interval) = goodput_series(flow);
    if series.is_empty() {
        return unavailable(area, flow, "goodput: no ACKs for this flow");
    }
    let (t0, t1) = time_span(flow);
    let (_, y1) = span(series.iter().map(|p| p.1).chain([0.0]), 0.0, 1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: goodput per {} ms", flow.label, interval * 1e3),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(100)
        .build_cartesian_2d(t0..t1.max(t0 + interval), 0.0..y1 * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("Mbit/s")
        .x_label_formatter(&fmt_secs)
        .draw()?;
    let mut bars = Vec::with_capacity(series.len() * 2);
    for &(t, v) in &series {
        bars.push((t, v));
        bars.push((t + interval, v));
    }
    chart
        .draw_series(LineSeries::new(bars, DATA.stroke_width(2)))?
        .label("goodput")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(2)));
    legend(&mut chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::AckPt;

    #[test]
    fn goodput_counts_newly_acknowledged_bytes() {
        let mut f = FlowTrace::default();
        for i in 0..=100u64 {
            f.acks.push(AckPt {
                t: i as f64 * 0.01 + 0.005,
                ack: i * 12_500,
                win_edge: 0,
                sack: Vec::new(),
            });
        }
        let (series, interval) = goodput_series(&f);
        assert!((interval - 0.01).abs() < 1e-12);
        // 12 500 bytes per 10 ms = 10 Mbit/s in every interval after the first.
        assert!(
            series[1..].iter().all(|&(_, v)| (v - 10.0).abs() < 1e-6),
            "{series:?}"
        );
    }

    #[test]
    fn odd_input_renders_without_panicking() {
        use crate::graph::{CwndPt, DataSeg, RttPt};
        let dir = std::env::temp_dir().join(format!("tcplab-graph-odd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let empty = FlowTrace::default();
        let mut odd = FlowTrace {
            stack_events: true,
            ..FlowTrace::default()
        };
        odd.segments.push(DataSeg {
            t: f64::NAN,
            seq: u64::MAX,
            len: u32::MAX,
            retransmit: true,
        });
        odd.acks.push(AckPt {
            t: f64::INFINITY,
            ack: u64::MAX,
            win_edge: 0,
            sack: vec![(5, 1)],
        });
        odd.cwnd.push(CwndPt {
            t: -1.0,
            cwnd: 0,
            ssthresh: None,
        });
        odd.rtt.push(RttPt {
            t: 1e300,
            sample_ms: f64::NAN,
            srtt_ms: Some(f64::NEG_INFINITY),
            rto_ms: None,
        });
        for (i, f) in [empty, odd].iter().enumerate() {
            let files = render(f, &dir, &format!("{i}.")).expect("render");
            assert_eq!(files.len(), 4);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn steps_hold_each_value_until_the_next_time() {
        let s = steps([(0.0, 1.0), (1.0, 2.0), (f64::NAN, 9.0)].into_iter());
        assert_eq!(s, [(0.0, 1.0), (1.0, 1.0), (1.0, 2.0)]);
    }
}
