//! Charts for the lessons: lines (time or speedup against threads), grouped bars (one bar per variant),
//! timelines (which thread worked when) and figures of several panels, drawn with [plotters] as SVG.
//!
//! In a notebook, make a chart the last expression of a cell and it appears inline: each chart has an
//! `evcxr_display` method, the hook evcxr calls to show a value (the same display protocol plotters' own
//! `evcxr` feature uses). `chart.show()` displays it from anywhere in a cell. Every chart has a title and both
//! axes have labels — give them units (`"time (ms)"`), the lessons always do.
//!
//! ```
//! use support::plot::LineChart;
//!
//! let chart = LineChart::new("Counting primes below 200 000")
//!     .x_label("threads")
//!     .y_label("speedup (×)")
//!     .series("Rust", [(1.0, 1.0), (2.0, 1.9), (4.0, 1.9)])
//!     .reference("ideal (2 cores)", [(1.0, 1.0), (2.0, 2.0), (4.0, 2.0)]);
//! let svg = chart.to_svg().unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("Counting primes"));
//! ```
//!
//! Bad data is an error, not a broken picture: a chart with no series, a series with no points, or a value
//! that is NaN or infinite gives a [`PlotError`] that names the chart and the series.

use std::fmt;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::timing::Span;

/// Default size of a chart in pixels.
pub const DEFAULT_SIZE: (u32, u32) = (720, 400);

/// Where a chart's legend goes: `chart.legend_at(LegendAt::LowerRight)`. The default is the upper left; a bar
/// chart keeps room above its tallest bar for a legend at the top, so the legend never hides a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendAt {
    /// Top left corner of the plotting area (the default).
    #[default]
    UpperLeft,
    /// Top right corner.
    UpperRight,
    /// Bottom left corner.
    LowerLeft,
    /// Bottom right corner.
    LowerRight,
    /// Right side, half way up: often free when lines rise from the lower left and level off.
    MiddleRight,
}

impl LegendAt {
    fn position(self) -> SeriesLabelPosition {
        match self {
            LegendAt::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendAt::UpperRight => SeriesLabelPosition::UpperRight,
            LegendAt::LowerLeft => SeriesLabelPosition::LowerLeft,
            LegendAt::LowerRight => SeriesLabelPosition::LowerRight,
            LegendAt::MiddleRight => SeriesLabelPosition::MiddleRight,
        }
    }

    fn at_top(self) -> bool {
        matches!(self, LegendAt::UpperLeft | LegendAt::UpperRight)
    }
}

/// Colours of successive series, chosen to stay distinct for colour-blind readers (Okabe–Ito palette).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotError {
    /// The chart has nothing to draw.
    NoData {
        /// The chart's title.
        chart: String,
    },
    /// A series has no points, or a bar chart's series does not have one value per category.
    BadSeries {
        /// The chart's title.
        chart: String,
        /// The series' name.
        series: String,
        /// What is wrong with it.
        problem: String,
    },
    /// plotters failed while drawing.
    Drawing(String),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::NoData { chart } => write!(f, "chart '{chart}' has no data to draw"),
            PlotError::BadSeries {
                chart,
                series,
                problem,
            } => write!(f, "chart '{chart}', series '{series}': {problem}"),
            PlotError::Drawing(e) => write!(f, "drawing failed: {e}"),
        }
    }
}

impl std::error::Error for PlotError {}

fn drawing_error(e: impl fmt::Display) -> PlotError {
    PlotError::Drawing(e.to_string())
}

/// Draws the legend of `chart`'s labelled series at `at`, on a translucent white box: the same look on every chart.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: LegendAt,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(at.position())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(drawing_error)
}

/// Prints the evcxr display block for an SVG image (the protocol evcxr reads from a cell's output).
fn display_svg(svg: Result<String, PlotError>) {
    match svg {
        Ok(svg) => println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{svg}\nEVCXR_END_CONTENT"),
        Err(e) => eprintln!("cannot draw chart: {e}"),
    }
}

fn svg_of(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(buf)
}

#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
}

/// A line chart: one or more series of `(x, y)` points, plus dashed reference lines such as the ideal speedup.
///
/// Build it with the chained methods, then let evcxr display it (last expression of a cell), call
/// [`show`](Self::show), or take the SVG text with [`to_svg`](Self::to_svg).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    size: (u32, u32),
    y_from_zero: bool,
    steps: bool,
    legend: LegendAt,
}

impl LineChart {
    /// A new, empty chart with this title.
    pub fn new(title: impl Into<String>) -> Self {
        LineChart {
            title: title.into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: Vec::new(),
            size: DEFAULT_SIZE,
            y_from_zero: true,
            steps: false,
            legend: LegendAt::UpperLeft,
        }
    }

    /// Moves the legend to another corner. At the top (the default), the y axis reaches high enough for the
    /// legend to sit above the lines.
    pub fn legend_at(mut self, at: LegendAt) -> Self {
        self.legend = at;
        self
    }

    /// The x axis label, with its unit: `"threads"`, `"time (ms)"`.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// The y axis label, with its unit: `"time (ms)"`, `"speedup (×)"`.
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Adds a solid series with markers.
    pub fn series<X: Into<f64>, Y: Into<f64>>(
        mut self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (X, Y)>,
    ) -> Self {
        self.series.push(Series {
            name: name.into(),
            points: points
                .into_iter()
                .map(|(x, y)| (x.into(), y.into()))
                .collect(),
            dashed: false,
        });
        self
    }

    /// Adds a dashed reference line without markers: the ideal speedup, a core count, a target.
    pub fn reference<X: Into<f64>, Y: Into<f64>>(
        mut self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (X, Y)>,
    ) -> Self {
        self = self.series(name, points);
        if let Some(last) = self.series.last_mut() {
            last.dashed = true;
        }
        self
    }

    /// Size in pixels (default 720 × 400).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Lets the y axis start at the smallest value instead of at zero (the default, which keeps ratios honest).
    pub fn y_from_data(mut self) -> Self {
        self.y_from_zero = false;
        self
    }

    /// Draws the series as steps (the value holds until the next point), for counts over time such as
    /// "jobs running" or "queue depth".
    pub fn steps(mut self) -> Self {
        self.steps = true;
        self
    }

    fn check(&self) -> Result<(), PlotError> {
        if self.series.is_empty() {
            return Err(PlotError::NoData {
                chart: self.title.clone(),
            });
        }
        for s in &self.series {
            let bad = |problem: &str| PlotError::BadSeries {
                chart: self.title.clone(),
                series: s.name.clone(),
                problem: problem.into(),
            };
            if s.points.is_empty() {
                return Err(bad("no points"));
            }
            if let Some((x, y)) = s
                .points
                .iter()
                .find(|(x, y)| !x.is_finite() || !y.is_finite())
            {
                return Err(bad(&format!("point ({x}, {y}) is not a finite number")));
            }
        }
        Ok(())
    }

    /// The chart as SVG text.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        self.check()?;
        svg_of(self.size, |root| self.draw_on(root))
    }

    fn draw_on(&self, area: &DrawingArea<SVGBackend, Shift>) -> Result<(), PlotError> {
        self.check()?;
        let all = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if self.y_from_zero {
            y0 = y0.min(0.0);
        }
        let (x0, x1) = pad(x0, x1, 0.03);
        let (y0, y1) = pad(y0, y1, 0.08);
        // With the legend at the top (the default), stretch the y axis so that the data stays below the legend
        // box (about 20 px per series and a margin, in a plotting area of the area's height less ~110 px of
        // title and axis): a legend never hides a line.
        let plot_height = area.dim_in_pixel().1.saturating_sub(110).max(100) as f64;
        let legend_share = if self.legend.at_top() {
            ((20.0 * self.series.len() as f64 + 16.0) / plot_height).min(0.6)
        } else {
            0.0
        };
        let y1 = y0 + (y1 - y0) / (1.0 - legend_share);
        let y0 = if self.y_from_zero
            && y0 < 0.0
            && self
                .series
                .iter()
                .all(|s| s.points.iter().all(|p| p.1 >= 0.0))
        {
            0.0
        } else {
            y0
        };

        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(drawing_error)?;
        // Whole-number x values (thread counts) get whole-number ticks only: no "1.5 threads".
        let integer_x = self
            .series
            .iter()
            .all(|s| s.points.iter().all(|p| p.0.fract() == 0.0));
        let x_ticks = if integer_x {
            ((x1.floor() - x0.ceil()) as usize + 1).clamp(2, 12)
        } else {
            10
        };
        let x_format = move |v: &f64| {
            if integer_x && v.fract().abs() > 1e-9 {
                String::new()
            } else {
                trim_number(*v)
            }
        };
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(x_ticks)
            .x_label_formatter(&x_format)
            .y_label_formatter(&|v| trim_number(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(drawing_error)?;

        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points = if self.steps && !s.dashed {
                step_points(&s.points)
            } else {
                s.points.clone()
            };
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(points, 8, 5, color.stroke_width(2)))
                    .map_err(drawing_error)?
                    .label(&s.name)
                    // The legend's sample is dashed too: two dashes with a gap, as on the chart.
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (8, 0)], color.stroke_width(2))
                            + PathElement::new(vec![(13, 0), (20, 0)], color.stroke_width(2))
                    });
            } else {
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(drawing_error)?
                    .label(&s.name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                if !self.steps && s.points.len() <= 60 {
                    chart
                        .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                        .map_err(drawing_error)?;
                }
            }
        }
        draw_legend(&mut chart, self.legend)
    }

    /// Shows the chart in the notebook now (prints evcxr's display block); a drawing error is printed instead.
    pub fn show(&self) {
        self.evcxr_display();
    }

    /// The hook evcxr calls when the chart is the value of a cell.
    pub fn evcxr_display(&self) {
        display_svg(self.to_svg());
    }
}

/// Several line charts side by side in one figure: for example time in one panel and speedup in the next.
///
/// ```
/// use support::plot::{Figure, LineChart};
/// let time = LineChart::new("Time").x_label("threads").y_label("time (ms)").series("Rust", [(1, 40.0), (2, 21.0)]);
/// let speedup = LineChart::new("Speedup").x_label("threads").y_label("speedup (×)").series("Rust", [(1, 1.0), (2, 1.9)]);
/// let svg = Figure::new([time, speedup]).to_svg().unwrap();
/// assert!(svg.contains("Time") && svg.contains("Speedup"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    panels: Vec<LineChart>,
    size: Option<(u32, u32)>,
}

impl Figure {
    /// A figure of these charts, left to right.
    pub fn new(panels: impl IntoIterator<Item = LineChart>) -> Self {
        Figure {
            panels: panels.into_iter().collect(),
            size: None,
        }
    }

    /// Size in pixels (default: 480 × 400 per panel).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }

    /// The figure as SVG text.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        if self.panels.is_empty() {
            return Err(PlotError::NoData {
                chart: "figure".into(),
            });
        }
        for panel in &self.panels {
            panel.check()?;
        }
        let n = self.panels.len();
        let size = self.size.unwrap_or((480 * n as u32, 400));
        svg_of(size, |root| {
            let areas = root.split_evenly((1, n));
            for (panel, area) in self.panels.iter().zip(areas.iter()) {
                panel.draw_on(area)?;
            }
            Ok(())
        })
    }

    /// Shows the figure in the notebook now.
    pub fn show(&self) {
        self.evcxr_display();
    }

    /// The hook evcxr calls when the figure is the value of a cell.
    pub fn evcxr_display(&self) {
        display_svg(self.to_svg());
    }
}

fn pad(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if hi > lo {
        let d = (hi - lo) * frac;
        (lo - d, hi + d)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

fn step_points(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// `2` rather than `2.000`, `0.25` rather than `0.250`.
fn trim_number(v: f64) -> String {
    if v == v.round() && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An axis of named categories: category `i` spans `i..i + 1`, its name is written at `i + 0.5`.
#[derive(Debug, Clone)]
struct Categories {
    names: Vec<String>,
}

impl plotters::coord::ranged1d::Ranged for Categories {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let n = self.names.len().max(1) as f64;
        limit.0 + ((value / n) * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.names.len()).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.names.len() as f64
    }
}

impl plotters::coord::ranged1d::ValueFormatter<f64> for Categories {
    fn format_ext(&self, value: &f64) -> String {
        self.names
            .get(value.floor().max(0.0) as usize)
            .cloned()
            .unwrap_or_default()
    }
}

/// A grouped bar chart: one group of bars per category (for example per thread count), one bar per series
/// (for example std `Mutex` vs parking_lot vs atomic).
///
/// ```
/// use support::plot::BarChart;
/// let chart = BarChart::new("1 000 000 increments", ["1 thread", "2 threads"])
///     .y_label("time (ms)")
///     .series("Mutex", [12.0, 30.0])
///     .series("AtomicU64", [3.0, 9.0]);
/// assert!(chart.to_svg().unwrap().contains("AtomicU64"));
/// // A series needs one value per category:
/// let bad = BarChart::new("t", ["a", "b"]).series("s", [1.0]);
/// assert!(bad.to_svg().unwrap_err().to_string().contains("one value per category"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    title: String,
    categories: Vec<String>,
    x_label: String,
    y_label: String,
    series: Vec<(String, Vec<f64>)>,
    size: (u32, u32),
    legend: LegendAt,
}

impl BarChart {
    /// A new chart with these categories along the x axis.
    pub fn new<S: Into<String>>(
        title: impl Into<String>,
        categories: impl IntoIterator<Item = S>,
    ) -> Self {
        BarChart {
            title: title.into(),
            categories: categories.into_iter().map(Into::into).collect(),
            x_label: String::new(),
            y_label: "y".into(),
            series: Vec::new(),
            size: DEFAULT_SIZE,
            legend: LegendAt::UpperLeft,
        }
    }

    /// Moves the legend to another corner. At the top (the default), room is kept above the tallest bar.
    pub fn legend_at(mut self, at: LegendAt) -> Self {
        self.legend = at;
        self
    }

    /// The x axis label (what the categories are), optional.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// The y axis label, with its unit.
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Adds a series: one value per category, in the categories' order.
    pub fn series<V: Into<f64>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.series
            .push((name.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// Size in pixels (default 720 × 400).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    fn check(&self) -> Result<(), PlotError> {
        if self.series.is_empty() || self.categories.is_empty() {
            return Err(PlotError::NoData {
                chart: self.title.clone(),
            });
        }
        for (name, values) in &self.series {
            let bad = |problem: String| PlotError::BadSeries {
                chart: self.title.clone(),
                series: name.clone(),
                problem,
            };
            if values.len() != self.categories.len() {
                return Err(bad(format!(
                    "{} values for {} categories (give one value per category)",
                    values.len(),
                    self.categories.len()
                )));
            }
            if let Some(v) = values.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return Err(bad(format!(
                    "value {v} is not a finite, non-negative number"
                )));
            }
        }
        Ok(())
    }

    /// The chart as SVG text.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        self.check()?;
        svg_of(self.size, |root| {
            let ymax = self
                .series
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .fold(0.0, f64::max);
            let ymax = if ymax > 0.0 { ymax } else { 1.0 };
            // Headroom above the tallest bar; with the legend at the top, enough for the legend too (about
            // 20 px per series and a margin, in a plotting area of the chart's height less ~110 px of title and
            // axis), so that it never hides a bar.
            let plot_height = self.size.1.saturating_sub(110).max(100) as f64;
            let legend_share = if self.legend.at_top() {
                ((20.0 * self.series.len() as f64 + 16.0) / plot_height).min(0.6)
            } else {
                0.0
            };
            let ymax = ymax * 1.06 / (1.0 - legend_share);
            let x_spec = Categories {
                names: self.categories.clone(),
            };
            let mut chart = ChartBuilder::on(root)
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(65)
                .build_cartesian_2d(x_spec, 0.0..ymax)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .y_label_formatter(&|v| trim_number(*v))
                .light_line_style(WHITE)
                .draw()
                .map_err(drawing_error)?;
            let k = self.series.len() as f64;
            let width = 0.8 / k;
            for (j, (name, values)) in self.series.iter().enumerate() {
                let color = PALETTE[j % PALETTE.len()];
                chart
                    .draw_series(values.iter().enumerate().map(|(i, &v)| {
                        let left = i as f64 + 0.1 + j as f64 * width;
                        let mut bar =
                            Rectangle::new([(left, 0.0), (left + width * 0.92, v)], color.filled());
                        bar.set_margin(0, 0, 0, 0);
                        bar
                    }))
                    .map_err(drawing_error)?
                    .label(name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
            }
            draw_legend(&mut chart, self.legend)
        })
    }

    /// Shows the chart in the notebook now.
    pub fn show(&self) {
        self.evcxr_display();
    }

    /// The hook evcxr calls when the chart is the value of a cell.
    pub fn evcxr_display(&self) {
        display_svg(self.to_svg());
    }
}

/// A timeline: one row per label (thread), one bar per recorded [`Span`] — who worked when.
///
/// ```
/// use support::plot::Timeline;
/// use support::timing::SpanRecorder;
/// let rec = SpanRecorder::new();
/// rec.push("main", 0.0, 2.0);
/// rec.push("worker-1", 1.0, 5.0);
/// let svg = Timeline::new("Who ran when", rec.spans()).to_svg().unwrap();
/// assert!(svg.contains("worker-1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    title: String,
    spans: Vec<Span>,
    x_label: String,
    size: (u32, u32),
}

impl Timeline {
    /// A timeline of these spans. Rows appear in order of each label's first span.
    pub fn new(title: impl Into<String>, spans: impl IntoIterator<Item = Span>) -> Self {
        Timeline {
            title: title.into(),
            spans: spans.into_iter().collect(),
            x_label: "time since start (ms)".into(),
            size: DEFAULT_SIZE,
        }
    }

    /// The time axis label (default `"time since start (ms)"`).
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Size in pixels (default 720 × 400).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    fn rows(&self) -> Vec<String> {
        let mut sorted = self.spans.clone();
        sorted.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        let mut rows: Vec<String> = Vec::new();
        for s in sorted {
            if !rows.contains(&s.label) {
                rows.push(s.label);
            }
        }
        rows
    }

    /// The chart as SVG text.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        if self.spans.is_empty() {
            return Err(PlotError::NoData {
                chart: self.title.clone(),
            });
        }
        if let Some(s) = self
            .spans
            .iter()
            .find(|s| !s.start_ms.is_finite() || !s.end_ms.is_finite() || s.end_ms < s.start_ms)
        {
            return Err(PlotError::BadSeries {
                chart: self.title.clone(),
                series: s.label.clone(),
                problem: format!(
                    "span {}..{} ms is not a forward interval",
                    s.start_ms, s.end_ms
                ),
            });
        }
        let rows = self.rows();
        let n = rows.len();
        let t0 = self
            .spans
            .iter()
            .map(|s| s.start_ms)
            .fold(f64::MAX, f64::min)
            .min(0.0);
        let t1 = self.spans.iter().map(|s| s.end_ms).fold(f64::MIN, f64::max);
        let (t0, t1) = pad(t0, t1, 0.02);
        let t0 = t0.max(0.0).min(
            self.spans
                .iter()
                .map(|s| s.start_ms)
                .fold(f64::MAX, f64::min),
        );
        svg_of(self.size, |root| {
            // Row 0 is drawn at the top: the axis lists the rows bottom-up.
            let y_spec = Categories {
                names: rows.iter().rev().cloned().collect(),
            };
            let label_width = rows.iter().map(|r| r.len()).max().unwrap_or(4) as u32 * 8 + 20;
            let mut chart = ChartBuilder::on(root)
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(label_width.clamp(60, 200))
                .build_cartesian_2d(t0..t1, y_spec)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc(&self.x_label)
                .x_label_formatter(&|v| trim_number(*v))
                .light_line_style(WHITE)
                .draw()
                .map_err(drawing_error)?;
            chart
                .draw_series(self.spans.iter().map(|s| {
                    let row = rows.iter().position(|r| *r == s.label).unwrap_or(0);
                    let y = (n - 1 - row) as f64;
                    let color = PALETTE[row % PALETTE.len()];
                    // A zero-length span still shows as a thin bar.
                    let end = if s.end_ms > s.start_ms {
                        s.end_ms
                    } else {
                        s.start_ms + (t1 - t0) * 0.002
                    };
                    Rectangle::new([(s.start_ms, y + 0.15), (end, y + 0.85)], color.filled())
                }))
                .map_err(drawing_error)?;
            Ok(())
        })
    }

    /// Shows the chart in the notebook now.
    pub fn show(&self) {
        self.evcxr_display();
    }

    /// The hook evcxr calls when the chart is the value of a cell.
    pub fn evcxr_display(&self) {
        display_svg(self.to_svg());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_chart_is_a_clear_error() {
        let e = LineChart::new("nothing").to_svg().unwrap_err();
        assert_eq!(e.to_string(), "chart 'nothing' has no data to draw");
    }

    #[test]
    fn nan_is_rejected_with_the_series_name() {
        let e = LineChart::new("t")
            .series("bad", [(1.0, f64::NAN)])
            .to_svg()
            .unwrap_err();
        assert!(e.to_string().contains("series 'bad'"), "{e}");
    }

    #[test]
    fn legend_moves_and_bar_chart_keeps_room_for_it() {
        let bars = |at| {
            BarChart::new("t", ["a", "b"])
                .y_label("ms")
                .series("one", [10.0, 10.0])
                .series("two", [10.0, 10.0])
                .legend_at(at)
                .to_svg()
                .unwrap()
        };
        // Same data, the legend at the top: the y axis reaches higher than with the legend at the bottom.
        let top = bars(LegendAt::UpperLeft);
        let bottom = bars(LegendAt::LowerRight);
        assert_ne!(top, bottom);
        let line = |at| {
            LineChart::new("t")
                .series("s", [(1.0, 1.0), (2.0, 2.0)])
                .reference("ideal", [(1.0, 1.0), (2.0, 2.0)])
                .legend_at(at)
                .to_svg()
                .unwrap()
        };
        assert_ne!(line(LegendAt::UpperLeft), line(LegendAt::LowerRight));
    }

    #[test]
    fn line_chart_has_title_labels_and_legend() {
        let svg = LineChart::new("Speedup")
            .x_label("threads")
            .y_label("speedup (×)")
            .series("Rust", [(1, 1.0), (2, 1.9)])
            .reference("ideal", [(1, 1.0), (2, 2.0)])
            .to_svg()
            .unwrap();
        for text in ["Speedup", "threads", "speedup (×)", "Rust", "ideal"] {
            assert!(svg.contains(text), "missing {text}");
        }
    }

    #[test]
    fn single_point_and_steps_draw() {
        LineChart::new("one")
            .series("a", [(3.0, 3.0)])
            .to_svg()
            .unwrap();
        LineChart::new("steps")
            .steps()
            .series("depth", [(0.0, 0.0), (1.0, 2.0), (2.0, 1.0)])
            .to_svg()
            .unwrap();
    }

    #[test]
    fn step_points_hold_the_value() {
        assert_eq!(
            step_points(&[(0.0, 1.0), (1.0, 3.0)]),
            vec![(0.0, 1.0), (1.0, 1.0), (1.0, 3.0)]
        );
    }

    #[test]
    fn timeline_rejects_backward_spans() {
        let spans = vec![Span {
            label: "t".into(),
            start_ms: 5.0,
            end_ms: 1.0,
        }];
        assert!(Timeline::new("x", spans).to_svg().is_err());
    }

    #[test]
    fn numbers_are_trimmed() {
        assert_eq!(trim_number(2.0), "2");
        assert_eq!(trim_number(0.25), "0.25");
    }
}
