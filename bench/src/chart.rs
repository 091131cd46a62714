//! An SVG chart of hisock against raw: one bar per figure with the ratio
//! hisock/raw (raw = 1, the dashed line), or, for figures without a raw
//! counterpart, the figure relative to its target. C1's raw is Redis's own
//! `PUBLISH` (propagation) or one node without an adapter (fanout, and
//! resumes that move between nodes): its labels say so.

use std::path::Path;

use plotters::prelude::*;

use crate::report::Row;
use crate::util::BenchResult;

/// Where a bar ends (ratio to raw, on a log scale) and its label.
fn bars(rows: &[Row]) -> Vec<(String, f64, bool)> {
    rows.iter()
        .filter_map(|row| {
            let mut label = format!("{} {} {}", row.workload, row.transport, row.metric);
            if let Some(raw) = row.raw_is() {
                label.push_str(&format!(" (raw: {raw})"));
            }
            let (_, met) = row.target();
            row.ratio
                .map(|ratio| (label, ratio.max(0.01), met.unwrap_or(true)))
        })
        .collect()
}

/// Draws the chart to `path` (SVG).
pub fn write_svg(rows: &[Row], path: &Path) -> BenchResult<()> {
    let bars = bars(rows);
    let height = 120 + 28 * bars.len() as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = bars.iter().map(|b| b.1).fold(2.0_f64, f64::max) * 1.2;
    let min = bars.iter().map(|b| b.1).fold(0.5_f64, f64::min) / 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "hisock / raw, same run (log scale; 1 = raw)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(360)
        .build_cartesian_2d(
            (min..max).log_scale(),
            (0..bars.len() as i32).into_segmented(),
        )?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("hisock / raw")
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, ratio, met))| {
        let colour = if *met { GREEN.mix(0.7) } else { RED.mix(0.7) };
        let i = i as i32;
        let mut bar = Rectangle::new(
            [
                (min, SegmentValue::Exact(i)),
                (*ratio, SegmentValue::Exact(i + 1)),
            ],
            colour.filled(),
        );
        bar.set_margin(3, 3, 0, 0);
        bar
    }))?;
    chart.draw_series(DashedLineSeries::new(
        [
            (1.0, SegmentValue::Exact(0)),
            (1.0, SegmentValue::Exact(bars.len() as i32)),
        ],
        6,
        4,
        BLACK.stroke_width(1),
    ))?;
    root.present()?;
    Ok(())
}
