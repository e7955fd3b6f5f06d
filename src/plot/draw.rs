//! Drawing validated charts onto a plotters drawing area (any backend: bitmap or SVG).

use super::axis::{Axis, format_tick};
use super::font::FAMILY;
use super::gantt::{self, Gantt};
use super::{Chart, SeriesStyle};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{BoldPoints, Ranged};
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// Series colours: the ten-colour "tab10" palette, distinguishable and print-safe.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Maximum number of labelled ticks per axis.
const MAX_LABELS: usize = 8;

/// What a figure shows.
pub(super) enum Figure<'a> {
    /// Charts in a `rows` x `columns` grid, row by row.
    Panels {
        /// The (validated) charts.
        charts: &'a [Chart],
        /// Rows of panels.
        rows: usize,
        /// Columns of panels.
        columns: usize,
    },
    /// One (validated) Gantt chart.
    Gantt(&'a Gantt),
}

/// Fills the area white and draws the figure, with tick labels `tick_px` pixels high.
pub(super) fn figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure<'_>,
    tick_px: f64,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let sizes = Sizes::for_tick(tick_px);
    match figure {
        Figure::Panels {
            charts,
            rows,
            columns,
        } => {
            let panels = root.split_evenly((*rows, *columns));
            for (chart, area) in charts.iter().zip(&panels) {
                one(area, chart, &sizes)?;
            }
            Ok(())
        }
        Figure::Gantt(g) => gantt::draw(root, g, &sizes),
    }
}

/// Text and mark sizes, in pixels, in proportion to the tick labels'.
pub(super) struct Sizes {
    pub(super) title: f64,
    pub(super) label: f64,
    pub(super) tick: f64,
    pub(super) stroke: u32,
    pub(super) marker: i32,
}

impl Sizes {
    fn for_tick(tick: f64) -> Self {
        Self {
            title: 1.625 * tick,
            label: 1.25 * tick,
            tick,
            stroke: (tick / 8.0).round().max(1.0) as u32,
            marker: (tick * 5.0 / 16.0).round().max(2.0) as i32,
        }
    }

    /// Room for the x tick labels and the axis label below the plot.
    pub(super) fn x_label_area(&self) -> u32 {
        (self.tick + 2.2 * self.label + 12.0).round() as u32
    }

    /// Room left of the plot for tick labels of `widest` characters and the rotated axis label.
    pub(super) fn y_label_area(&self, widest: usize) -> u32 {
        // DejaVu digits are 0.64 em wide.
        (widest as f64 * 0.64 * self.tick + 2.0 * self.label + 12.0).round() as u32
    }
}

fn one<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    sizes: &Sizes,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (x_axis, y_axis) = fit_axes(chart);
    let named = chart.series.iter().any(|s| !s.name.is_empty());
    // The legend goes in the corner where it hides nothing; when every corner holds data, it goes in a
    // strip right of the plot, so that it never covers data and the axis range stays the data's.
    let inside = named && legend_position(chart, &x_axis, &y_axis).1 == 0;
    let (area, strip) = if named && !inside {
        let width = legend_strip_px(chart, sizes);
        let (plot, strip) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(width));
        (plot, Some(strip))
    } else {
        (area.clone(), None)
    };
    let area = &area;
    let widest_y = y_axis
        .key_points(BoldPoints(MAX_LABELS))
        .iter()
        .map(|v| format_tick(*v).chars().count())
        .max()
        .unwrap_or(1);
    let y_area = sizes.y_label_area(widest_y);
    let x_area = sizes.x_label_area();

    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(28)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if !chart.title.is_empty() {
        builder.caption(&chart.title, (FAMILY, sizes.title));
    }
    let mut ctx = builder.build_cartesian_2d(x_axis, y_axis).map_err(err)?;
    let formatter = |v: &f64| format_tick(*v);
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_labels(MAX_LABELS)
        .y_labels(MAX_LABELS)
        .x_label_formatter(&formatter)
        .y_label_formatter(&formatter)
        .label_style((FAMILY, sizes.tick))
        .axis_desc_style((FAMILY, sizes.label))
        .bold_line_style(BLACK.mix(0.18))
        .light_line_style(BLACK.mix(0.06))
        .axis_style(BLACK.stroke_width(1))
        .draw()
        .map_err(err)?;

    // Intervals first, under every line and marker: a shaded band along a line, error bars on markers.
    for (i, series) in chart.series.iter().enumerate() {
        let Some(band) = &series.band else { continue };
        let color = PALETTE[i % PALETTE.len()];
        if series.style == SeriesStyle::Points {
            let style = color.stroke_width(sizes.stroke);
            let bars = series.points.iter().zip(band).map(|(p, b)| ErrorBar {
                x: p.0,
                lo: b.0,
                hi: b.1,
                cap: sizes.marker + 1,
                style,
            });
            ctx.draw_series(bars).map_err(err)?;
        } else {
            let upper = series.points.iter().zip(band).map(|(p, b)| (p.0, b.1));
            let lower = series.points.iter().zip(band).rev().map(|(p, b)| (p.0, b.0));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            ctx.draw_series(std::iter::once(Polygon::new(outline, color.mix(0.18).filled())))
                .map_err(err)?;
        }
    }
    for (i, series) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let shape = Shape::ALL[i % Shape::ALL.len()];
        let line_style = color.stroke_width(sizes.stroke);
        let glyph = LegendGlyph {
            at: (0, 0),
            style: series.style,
            shape,
            color,
            size: sizes.marker,
            stroke: sizes.stroke,
        };
        if series.style != SeriesStyle::Points {
            let line = LineSeries::new(series.points.iter().copied(), line_style);
            if series.style == SeriesStyle::Line {
                let annotation = ctx.draw_series(line).map_err(err)?;
                if !series.name.is_empty() {
                    annotation
                        .label(series.name.as_str())
                        .legend(move |at| LegendGlyph { at, ..glyph });
                }
                continue;
            }
            ctx.draw_series(line).map_err(err)?;
        }
        // Markers are drawn after (on top of) the line.
        let markers = series
            .points
            .iter()
            .map(|&at| Marker::new(at, shape, color, sizes.marker));
        let annotation = ctx.draw_series(markers).map_err(err)?;
        if !series.name.is_empty() {
            annotation
                .label(series.name.as_str())
                .legend(move |at| LegendGlyph { at, ..glyph });
        }
    }

    if let Some(strip) = strip {
        draw_legend_strip(&strip, chart, sizes).map_err(err)?;
    } else if inside {
        ctx.configure_series_labels()
            .position(legend_position(chart, &x_axis, &y_axis).0)
            .margin(10)
            .legend_area_size((3.0 * sizes.marker as f64 + 16.0) as u32)
            .background_style(WHITE.mix(0.88))
            .border_style(BLACK.mix(0.4))
            .label_font((FAMILY, sizes.tick))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// The axes fitted to all points and intervals of the (validated) chart, or to its fixed ranges (never
/// stretched for the legend: see [`legend_strip_px`]).
fn fit_axes(chart: &Chart) -> (Axis, Axis) {
    let ((x_min, x_max), (y_min, y_max)) = chart.data_ranges().unwrap_or(((0.0, 1.0), (0.0, 1.0)));
    let (x_min, x_max) = chart.x_range.unwrap_or((x_min, x_max));
    let (y_min, y_max) = chart.y_range.unwrap_or((y_min, y_max));
    (
        Axis::fit(x_min, x_max, chart.log_x),
        Axis::fit(y_min, y_max, chart.log_y),
    )
}

/// Width of the legend strip right of a plot, in pixels: the glyph, a gap and the longest name
/// (DejaVu Sans averages about 0.6 em per character).
fn legend_strip_px(chart: &Chart, sizes: &Sizes) -> u32 {
    let longest = chart
        .series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let glyph = 3.0 * f64::from(sizes.marker) + 2.0;
    (glyph + 24.0 + 0.6 * sizes.tick * longest as f64).ceil() as u32
}

/// Draws the legend entries (glyph and name, one per named series, top down) into `strip`.
fn draw_legend_strip<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    chart: &Chart,
    sizes: &Sizes,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let line = (1.6 * sizes.tick).round() as i32;
    let glyph_w = 3 * sizes.marker + 2;
    let font = (FAMILY, sizes.tick).into_font().color(&BLACK);
    let style = font.pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    ));
    let mut y = 12 + (2.0 * sizes.title) as i32;
    for (i, series) in chart.series.iter().enumerate() {
        if series.name.is_empty() {
            continue;
        }
        let glyph = LegendGlyph {
            at: (4, y),
            style: series.style,
            shape: Shape::ALL[i % Shape::ALL.len()],
            color: PALETTE[i % PALETTE.len()],
            size: sizes.marker,
            stroke: sizes.stroke,
        };
        strip.draw(&glyph)?;
        strip.draw_text(&series.name, &style, (4 + glyph_w + 8, y))?;
        y += line;
    }
    Ok(())
}

/// Height of the legend box as a fraction of the plot's.
fn legend_height(chart: &Chart) -> f64 {
    let named = chart.series.iter().filter(|s| !s.name.is_empty()).count();
    (0.08 + 0.055 * named as f64).min(0.7)
}

/// The corner of the plot where the legend hides the fewest data points, line segments and intervals,
/// and how many it hides there.
fn legend_position(chart: &Chart, x: &Axis, y: &Axis) -> (SeriesLabelPosition, usize) {
    let height = legend_height(chart);
    let width = 0.4;
    let mut samples = Vec::new();
    for s in &chart.series {
        let f: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(px, py)| (x.fraction(px), y.fraction(py)))
            .collect();
        samples.extend(f.iter().copied());
        for (&(px, _), &(lo, hi)) in s.points.iter().zip(s.band.iter().flatten()) {
            samples.push((x.fraction(px), y.fraction(lo)));
            samples.push((x.fraction(px), y.fraction(hi)));
        }
        if s.style != SeriesStyle::Points {
            for pair in f.windows(2) {
                for k in 1..16 {
                    let t = k as f64 / 16.0;
                    samples.push((
                        pair[0].0 + t * (pair[1].0 - pair[0].0),
                        pair[0].1 + t * (pair[1].1 - pair[0].1),
                    ));
                }
            }
        }
    }
    let corners = [
        (SeriesLabelPosition::UpperRight, 1.0 - width, 1.0 - height),
        (SeriesLabelPosition::UpperLeft, 0.0, 1.0 - height),
        (SeriesLabelPosition::LowerRight, 1.0 - width, 0.0),
        (SeriesLabelPosition::LowerLeft, 0.0, 0.0),
    ];
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (position, x0, y0) in corners {
        let hidden = samples
            .iter()
            .filter(|&&(fx, fy)| fx >= x0 && fx <= x0 + width && fy >= y0 && fy <= y0 + height)
            .count();
        if hidden < best.0 {
            best = (hidden, position);
        }
    }
    (best.1, best.0)
}

/// Marker shapes, cycled through by series so that series stay distinguishable in grey scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Shape {
    const ALL: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Diamond];

    fn draw<DB: DrawingBackend>(
        self,
        (x, y): BackendCoord,
        r: i32,
        color: RGBColor,
        backend: &mut DB,
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let style = color.filled();
        match self {
            Shape::Circle => backend.draw_circle((x, y), r as u32, &style, true),
            Shape::Square => backend.draw_rect((x - r, y - r), (x + r, y + r), &style, true),
            Shape::Triangle => {
                let points = [(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)];
                backend.fill_polygon(points, &style)
            }
            Shape::Diamond => {
                let r = r + 1;
                backend.fill_polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], &style)
            }
        }
    }
}

/// A data-point marker: one shape at one data coordinate.
struct Marker {
    at: (f64, f64),
    shape: Shape,
    color: RGBColor,
    size: i32,
}

impl Marker {
    fn new(at: (f64, f64), shape: Shape, color: RGBColor, size: i32) -> Self {
        Self {
            at,
            shape,
            color,
            size,
        }
    }
}

impl<'a> PointCollection<'a, (f64, f64)> for &'a Marker {
    type Point = &'a (f64, f64);
    type IntoIter = std::iter::Once<&'a (f64, f64)>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Marker {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        match pos.next() {
            Some(at) => self.shape.draw(at, self.size, self.color, backend),
            None => Ok(()),
        }
    }
}

/// A vertical error bar with caps `cap` pixels wide on each side, at data x from y = lo to hi.
struct ErrorBar {
    x: f64,
    lo: f64,
    hi: f64,
    cap: i32,
    style: ShapeStyle,
}

impl<'a> PointCollection<'a, (f64, f64)> for &'a ErrorBar {
    type Point = (f64, f64);
    type IntoIter = [(f64, f64); 2];

    fn point_iter(self) -> Self::IntoIter {
        [(self.x, self.lo), (self.x, self.hi)]
    }
}

impl<DB: DrawingBackend> Drawable<DB> for ErrorBar {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let (Some(low), Some(high)) = (pos.next(), pos.next()) else {
            return Ok(());
        };
        backend.draw_line(low, high, &self.style)?;
        for (x, y) in [low, high] {
            backend.draw_line((x - self.cap, y), (x + self.cap, y), &self.style)?;
        }
        Ok(())
    }
}

/// A legend entry's sample: a short line, a marker, or both, as the series is drawn.
#[derive(Clone, Copy)]
struct LegendGlyph {
    at: BackendCoord,
    style: SeriesStyle,
    shape: Shape,
    color: RGBColor,
    size: i32,
    stroke: u32,
}

impl<'a> PointCollection<'a, BackendCoord> for &'a LegendGlyph {
    type Point = &'a BackendCoord;
    type IntoIter = std::iter::Once<&'a BackendCoord>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for LegendGlyph {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let half = 1 + 3 * self.size / 2;
        let center = (x + half, y);
        if self.style != SeriesStyle::Points {
            let style = self.color.stroke_width(self.stroke);
            backend.draw_line((x, y), (x + 2 * half, y), &style)?;
        }
        if self.style != SeriesStyle::Line {
            self.shape.draw(center, self.size, self.color, backend)?;
        }
        Ok(())
    }
}
