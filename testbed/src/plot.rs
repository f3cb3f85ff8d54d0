//! Plots of a link log, like mahimahi's `mm-throughput-graph` (capacity, ingress and throughput
//! over time) and `mm-delay-graph` (per-packet queueing delay over time), as SVG and PNG, both
//! with captions, axis labels and legends. PNG text needs a font file at run time (see
//! [`png_font`]: `SALSIFY_FONT` or DejaVu Sans); without one, PNGs carry axes and curves only.

use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::mahimahi_log::LogAnalysis;

mod font;

pub use font::{png_font, FontUnavailable, FONT_VARIABLE, SYSTEM_FONTS};

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {file}: {message}")]
pub struct PlotError {
    /// The output file.
    pub file: String,
    /// What the plotting library said.
    pub message: String,
}

const CAPACITY_FILL: RGBColor = RGBColor(255, 191, 191);
const INGRESS_COLOR: RGBColor = RGBColor(0, 32, 160);
const THROUGHPUT_COLOR: RGBColor = RGBColor(255, 96, 64);
const DELAY_COLOR: RGBColor = RGBColor(0, 64, 0);

/// Plot images are this many pixels wide and high.
const SIZE: (u32, u32) = (1024, 560);

/// The two charts drawn from a log.
#[derive(Debug, Clone, Copy)]
enum Chart {
    /// Capacity, ingress and throughput over time, like `mm-throughput-graph`.
    Throughput,
    /// Per-packet queueing delay over time, like `mm-delay-graph`.
    Delay,
}

impl Chart {
    /// The file name part after the prefix.
    fn name(self) -> &'static str {
        match self {
            Chart::Throughput => "throughput",
            Chart::Delay => "delay",
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        analysis: &LogAnalysis,
        with_text: bool,
    ) -> DrawResult<DB> {
        match self {
            Chart::Throughput => draw_throughput(area, analysis, with_text),
            Chart::Delay => draw_delay(area, analysis, with_text),
        }
    }
}

/// Writes `<prefix>-throughput.{svg,png}` and `<prefix>-delay.{svg,png}` and returns their paths.
/// The PNGs carry text when [`png_font`] found a font.
pub fn write_plots(analysis: &LogAnalysis, prefix: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let png_text = png_font().is_ok();
    let mut outputs = Vec::with_capacity(4);
    for chart in [Chart::Throughput, Chart::Delay] {
        let path = |extension: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(format!("-{}.{extension}", chart.name()));
            PathBuf::from(name)
        };
        let svg = path("svg");
        render(
            SVGBackend::new(&svg, SIZE).into_drawing_area(),
            &svg,
            |area| chart.draw(area, analysis, true),
        )?;
        outputs.push(svg);
        let png = path("png");
        render(
            BitMapBackend::new(&png, SIZE).into_drawing_area(),
            &png,
            |area| chart.draw(area, analysis, png_text),
        )?;
        outputs.push(png);
    }
    Ok(outputs)
}

/// Draws on `area` and writes it out to `file`.
fn render<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    file: &Path,
    draw: impl FnOnce(&DrawingArea<DB, Shift>) -> DrawResult<DB>,
) -> Result<(), PlotError> {
    let plot_error = |error: DrawingAreaErrorKind<DB::ErrorType>| PlotError {
        file: file.display().to_string(),
        message: format!("{error:?}"),
    };
    draw(&area).map_err(plot_error)?;
    area.present().map_err(plot_error)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The text around a chart.
struct Labels {
    caption: String,
    y_description: &'static str,
}

/// The part both charts share: a white background, the time axis over the log's span against
/// `0..y_peak` (with 5 % headroom), and either a caption and a labelled mesh or, for backends
/// without a font, a plain frame and grid.
fn time_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    analysis: &LogAnalysis,
    y_peak: f64,
    labels: Option<Labels>,
) -> Result<TimeChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    area.fill(&WHITE)?;
    let start = analysis.bins.first().map_or(0.0, |bin| bin.start_s);
    let end = analysis.bins.last().map_or(1.0, |bin| bin.start_s);
    let x_range = start..end.max(start + 0.001);
    let y_top = y_peak * 1.05;
    let mut builder = ChartBuilder::on(area);
    builder.margin(20);
    if let Some(labels) = &labels {
        builder
            .caption(&labels.caption, ("sans-serif", 18))
            .x_label_area_size(40)
            .y_label_area_size(60);
    }
    let mut chart = builder.build_cartesian_2d(x_range.clone(), 0.0..y_top)?;
    match labels {
        Some(labels) => chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(labels.y_description)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .draw()?,
        None => draw_plain_grid(&mut chart, x_range, y_top)?,
    }
    Ok(chart)
}

/// A frame and a 10 x 10 grid without labels, for backends that cannot draw text.
fn draw_plain_grid<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    x_range: std::ops::Range<f64>,
    y_top: f64,
) -> DrawResult<DB> {
    let grid = RGBColor(220, 220, 220);
    for step in 1..10 {
        let fraction = f64::from(step) / 10.0;
        let x = x_range.start + (x_range.end - x_range.start) * fraction;
        let y = y_top * fraction;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, y_top)],
            grid,
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x_range.start, y), (x_range.end, y)],
            grid,
        )))?;
    }
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x_range.start, 0.0), (x_range.end, y_top)],
        BLACK.stroke_width(1),
    )))?;
    Ok(())
}

fn draw_throughput<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    analysis: &LogAnalysis,
    with_text: bool,
) -> DrawResult<DB> {
    let peak = analysis
        .bins
        .iter()
        .map(|bin| {
            bin.capacity_mbps
                .max(bin.ingress_mbps)
                .max(bin.throughput_mbps)
        })
        .fold(0.0, f64::max)
        .max(0.1);
    let labels = with_text.then(|| Labels {
        caption: format!(
            "capacity {:.2} Mbit/s, throughput {:.2} Mbit/s ({:.1} % utilisation), ingress {:.2} Mbit/s",
            analysis.average_capacity_mbps,
            analysis.average_throughput_mbps,
            analysis.utilization * 100.0,
            analysis.average_ingress_mbps
        ),
        y_description: "throughput (Mbit/s)",
    });
    let mut chart = time_chart(area, analysis, peak, labels)?;
    let series = |value: fn(&crate::mahimahi_log::RateBin) -> f64| {
        analysis
            .bins
            .iter()
            .map(move |bin| (bin.start_s, value(bin)))
    };
    chart
        .draw_series(AreaSeries::new(
            series(|bin| bin.capacity_mbps),
            0.0,
            CAPACITY_FILL.mix(0.6),
        ))?
        .label("capacity")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], CAPACITY_FILL.filled()));
    chart
        .draw_series(LineSeries::new(
            series(|bin| bin.ingress_mbps),
            INGRESS_COLOR.stroke_width(2),
        ))?
        .label("ingress")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], INGRESS_COLOR));
    chart
        .draw_series(LineSeries::new(
            series(|bin| bin.throughput_mbps),
            THROUGHPUT_COLOR.stroke_width(2),
        ))?
        .label("throughput")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], THROUGHPUT_COLOR));
    if with_text {
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

fn draw_delay<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    analysis: &LogAnalysis,
    with_text: bool,
) -> DrawResult<DB> {
    // Thin to the largest delay per millisecond of departure: enough to show every peak.
    let mut points: Vec<(f64, f64)> = Vec::new();
    for &(time_s, delay_ms) in &analysis.packet_delays {
        match points.last_mut() {
            Some(last) if (last.0 * 1000.0).round() == (time_s * 1000.0).round() => {
                last.1 = last.1.max(delay_ms)
            }
            _ => points.push((time_s, delay_ms)),
        }
    }
    let peak = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let labels = with_text.then(|| Labels {
        caption: format!(
            "per-packet queueing delay: p95 {:.0} ms, signal delay p95 {:.0} ms",
            analysis.p95_packet_delay_ms, analysis.p95_signal_delay_ms
        ),
        y_description: "queueing delay (ms)",
    });
    let mut chart = time_chart(area, analysis, peak, labels)?;
    chart.draw_series(LineSeries::new(points, DELAY_COLOR.stroke_width(1)))?;
    Ok(())
}
