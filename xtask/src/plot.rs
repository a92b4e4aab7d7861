//! SVG line charts (plotters; text is emitted as SVG text, so no fonts are needed).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// One line of a chart: a name for the legend and its points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed-looking (thin, grey) as a reference rather than data.
    pub reference: bool,
}

impl Series {
    pub fn data(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            reference: false,
        }
    }
    pub fn reference(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            reference: true,
        }
    }
}

/// Distinguishable line colours (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Axis scale.
#[derive(Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// Writes a line chart with markers to `path` (SVG, 720×480).
pub fn line_chart(
    path: &Path,
    title: &str,
    (x_label, x_scale): (&str, Scale),
    (y_label, y_scale): (&str, Scale),
    series: &[Series],
) -> Result<()> {
    line_chart_with_legend(
        path,
        title,
        (x_label, x_scale),
        (y_label, y_scale),
        series,
        SeriesLabelPosition::UpperRight,
    )
}

/// [`line_chart`] with the legend where it covers no data.
pub fn line_chart_with_legend(
    path: &Path,
    title: &str,
    (x_label, x_scale): (&str, Scale),
    (y_label, y_scale): (&str, Scale),
    series: &[Series],
    legend: SeriesLabelPosition,
) -> Result<()> {
    let finite = |v: f64, scale: Scale| v.is_finite() && (scale == Scale::Linear || v > 0.0);
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|&(x, y)| finite(x, x_scale) && finite(y, y_scale))
        .collect();
    if pts.is_empty() {
        return Ok(());
    }
    let range = |vals: Vec<f64>, scale: Scale| {
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match scale {
            Scale::Log => {
                let (lo, hi) = if hi / lo < 10.0 {
                    (lo / 2.0, hi * 2.0)
                } else {
                    (lo / 1.3, hi * 1.3)
                };
                (lo, hi)
            }
            Scale::Linear => {
                let pad = ((hi - lo) * 0.08).max(1e-9);
                (lo - pad, hi + pad)
            }
        }
    };
    let (x0, x1) = range(pts.iter().map(|p| p.0).collect(), x_scale);
    let (y0, y1) = range(pts.iter().map(|p| p.1).collect(), y_scale);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
            for (i, s) in series.iter().enumerate() {
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .copied()
                    .filter(|&(x, y)| finite(x, x_scale) && finite(y, y_scale))
                    .collect();
                let color = if s.reference {
                    RGBColor(150, 150, 150)
                } else {
                    PALETTE[i % PALETTE.len()]
                };
                let style = ShapeStyle::from(color).stroke_width(if s.reference { 1 } else { 2 });
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|e| anyhow!("{e}"))?
                    .label(s.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
                if !s.reference {
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(|e| anyhow!("{e}"))?;
                }
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(legend)
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
        }};
    }
    match (x_scale, y_scale) {
        (Scale::Log, Scale::Log) => draw!(
            builder
                .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
                .map_err(|e| anyhow!("{e}"))?
        ),
        (Scale::Log, Scale::Linear) => draw!(
            builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(|e| anyhow!("{e}"))?
        ),
        (Scale::Linear, Scale::Log) => draw!(
            builder
                .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(|e| anyhow!("{e}"))?
        ),
        (Scale::Linear, Scale::Linear) => draw!(
            builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| anyhow!("{e}"))?
        ),
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Tick labels that stay short on log axes: 0.5, 20, 1e-6, 3e5.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-2..1e4).contains(&a) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// Least-squares slope of log y against log x.
pub fn loglog_slope(points: &[(f64, f64)]) -> Option<f64> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if p.len() < 2 {
        return None;
    }
    let n = p.len() as f64;
    let (mx, my) = (
        p.iter().map(|q| q.0).sum::<f64>() / n,
        p.iter().map(|q| q.1).sum::<f64>() / n,
    );
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}
