//! The charts of a report, each drawn once to a generic `plotters` drawing area so the same
//! code produces the SVG and the PNG file.
//!
//! A [`Chart`] is a title (Chinese), a subtitle (English) and one or more panels; a panel is
//! one of three kinds: a band over days ([`DaysPanel`]: p50 line in a p5–p95 band), bars per
//! category ([`GroupsPanel`]: p50 bars with p5–p95 whiskers, missing values noted), or a
//! histogram with vertical markers ([`HistPanel`]).

use std::error::Error;
use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::FAMILY;
use crate::format;
use crate::model::{Band, ReportData};
use crate::raster::GlyphBackend;

/// Width of every chart, pixels.
pub const WIDTH: u32 = 1200;
/// Height of a one-panel chart, pixels.
pub const HEIGHT: u32 = 640;

const HEADER: u32 = 92;

const INK: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(108, 117, 125);
const GRID_LIGHT: RGBColor = RGBColor(238, 240, 243);
const GRID_BOLD: RGBColor = RGBColor(215, 219, 224);
const AXIS: RGBColor = RGBColor(140, 146, 153);
pub const BLUE: RGBColor = RGBColor(31, 95, 166);
pub const TEAL: RGBColor = RGBColor(0, 121, 107);
pub const ORANGE: RGBColor = RGBColor(214, 110, 0);
pub const RED: RGBColor = RGBColor(192, 40, 40);
pub const PURPLE: RGBColor = RGBColor(106, 76, 156);

type DrawResult = Result<(), Box<dyn Error>>;
type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One chart: written as `<stem>.png` and `<stem>.svg`.
pub struct Chart {
    pub stem: &'static str,
    /// Chinese title.
    pub title: String,
    /// English title / explanation line under it.
    pub subtitle: String,
    pub height: u32,
    /// Panels side by side instead of stacked.
    pub side_by_side: bool,
    pub panels: Vec<Panel>,
}

pub enum Panel {
    Days(DaysPanel),
    Groups(GroupsPanel),
    Hist(HistPanel),
}

/// Axis descriptions and the y tick format.
pub struct Axes {
    pub x: String,
    pub y: String,
    pub y_fmt: fn(f64) -> String,
}

/// A band over days: the p5–p95 band filled, the p50 line on it.
pub struct DaysPanel {
    pub axes: Axes,
    pub color: RGBColor,
    /// Legend name of the series (bilingual).
    pub name: String,
    pub points: Vec<(f64, Band)>,
    /// Start the y axis at zero (counts, money) rather than at the data's minimum (price).
    pub from_zero: bool,
}

/// Bars per category, several groups side by side, p5–p95 whiskers.
pub struct GroupsPanel {
    pub axes: Axes,
    pub categories: Vec<String>,
    pub groups: Vec<Group>,
    /// Written at a category where a group's value is missing.
    pub missing_note: String,
}

pub struct Group {
    pub name: String,
    pub color: RGBColor,
    pub values: Vec<Option<Band>>,
}

/// A histogram (x in the unit of the edges, here percent) with vertical markers.
pub struct HistPanel {
    pub axes: Axes,
    /// (from, to, height)
    pub bins: Vec<(f64, f64, f64)>,
    pub markers: Vec<Marker>,
}

pub struct Marker {
    pub x: f64,
    /// In the legend.
    pub label: String,
    /// Over the line.
    pub short: String,
    pub color: RGBColor,
    pub dashed: bool,
}

/// The font at `size` pixels in `color`.
fn text(size: f64, color: RGBColor) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal).color(&color)
}

fn finite(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A y range with some headroom, never empty.
fn y_range(lo: f64, hi: f64, from_zero: bool, headroom: f64) -> (f64, f64) {
    let lo = if from_zero { lo.min(0.0) } else { lo };
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        return (if from_zero { lo } else { lo - pad }, hi + pad);
    }
    let lo = if from_zero { lo } else { lo - span * 0.05 };
    (lo, hi + span * headroom)
}

/// `12_340_000` → `"1234万"`; compact Chinese units for axis ticks.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (scaled, unit) = if a >= 1e8 {
        (v / 1e8, "亿")
    } else if a >= 1e4 {
        (v / 1e4, "万")
    } else {
        (v, "")
    };
    let s = if scaled.abs() >= 100.0 || scaled.fract().abs() < 1e-9 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{unit}")
}

/// Tick labels for a percentage axis whose values are already in percent.
pub fn percent_tick(v: f64) -> String {
    let s = format!("{v:.1}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Tick labels for a price axis.
pub fn price_tick(v: f64) -> String {
    format!("{v:.3}")
}

fn mesh<'a, DB: DrawingBackend + 'a>(
    chart: &mut Ctx<'a, DB>,
    axes: &Axes,
    x_fmt: &dyn Fn(&f64) -> String,
    x_labels: usize,
    x_grid: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let y_fmt = axes.y_fmt;
    let y_fmt = |v: &f64| y_fmt(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x.as_str())
        .y_desc(axes.y.as_str())
        .axis_desc_style(text(19.0, INK))
        .label_style(text(16.0, MUTED))
        .axis_style(AXIS)
        .light_line_style(GRID_LIGHT)
        .max_light_lines(1)
        .bold_line_style(GRID_BOLD)
        .x_labels(x_labels)
        .y_labels(8)
        .x_label_formatter(x_fmt)
        .y_label_formatter(&y_fmt);
    if !x_grid {
        mesh.disable_x_mesh();
    }
    mesh.draw()?;
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Ctx<'a, DB>, position: SeriesLabelPosition) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .label_font(text(16.0, INK))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID_BOLD)
        .position(position)
        .margin(12)
        .draw()?;
    Ok(())
}

fn no_data<'a, DB: DrawingBackend + 'a>(chart: &mut Ctx<'a, DB>, x: f64, y: f64) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = text(22.0, MUTED).pos(Pos::new(HPos::Center, VPos::Center));
    chart.draw_series(std::iter::once(Text::new("无数据 · no data".to_string(), (x, y), style)))?;
    Ok(())
}

fn builder<'a, 'b, DB: DrawingBackend>(area: &'a DrawingArea<DB, Shift>) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin_top(16).margin_right(28).margin_left(12).margin_bottom(8).x_label_area_size(54).y_label_area_size(108);
    b
}

impl Chart {
    /// Draws the chart on `root` (any backend).
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        root.draw_text(&self.title, &text(30.0, INK), (28, 18))?;
        root.draw_text(&self.subtitle, &text(18.0, MUTED), (28, 58))?;
        let (_, body) = root.split_vertically(HEADER);
        let n = self.panels.len().max(1);
        let areas = if self.side_by_side { body.split_evenly((1, n)) } else { body.split_evenly((n, 1)) };
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            match panel {
                Panel::Days(p) => p.draw(area)?,
                Panel::Groups(p) => p.draw(area)?,
                Panel::Hist(p) => p.draw(area)?,
            }
        }
        root.present()?;
        Ok(())
    }

    /// Draws the chart into an RGB pixel buffer (`WIDTH × height × 3` bytes), as the PNG has it.
    pub fn rgb(&self) -> io::Result<Vec<u8>> {
        crate::font::load()?;
        let mut buf = vec![0u8; WIDTH as usize * self.height as usize * 3];
        {
            let root =
                GlyphBackend { inner: BitMapBackend::with_buffer(&mut buf, (WIDTH, self.height)) }.into_drawing_area();
            self.draw(&root).map_err(|e| chart_error(self.stem, "rgb", e))?;
        }
        Ok(buf)
    }

    /// Writes `<stem>.svg` and `<stem>.png` into `dir`; returns their paths and the SVG text.
    pub fn write(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf, String)> {
        crate::font::load()?;
        let size = (WIDTH, self.height);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            self.draw(&root).map_err(|e| chart_error(self.stem, "svg", e))?;
        }
        let svg_path = dir.join(format!("{}.svg", self.stem));
        std::fs::write(&svg_path, &svg)?;
        let png_path = dir.join(format!("{}.png", self.stem));
        {
            let root = GlyphBackend { inner: BitMapBackend::new(&png_path, size) }.into_drawing_area();
            self.draw(&root).map_err(|e| chart_error(self.stem, "png", e))?;
        }
        Ok((svg_path, png_path, svg))
    }
}

fn chart_error(stem: &str, kind: &str, e: Box<dyn Error>) -> io::Error {
    io::Error::other(format!("drawing chart {stem}.{kind}: {e}"))
}

impl DaysPanel {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let pts: Vec<(f64, Band)> = self
            .points
            .iter()
            .filter(|(x, b)| x.is_finite() && b.p5.is_finite() && b.p50.is_finite() && b.p95.is_finite())
            .copied()
            .collect();
        let (x0, x1) = match finite(pts.iter().map(|p| p.0)) {
            Some((a, b)) if b > a => (a, b),
            Some((a, _)) => (a - 1.0, a + 1.0),
            None => (0.0, 1.0),
        };
        let (lo, hi) = finite(pts.iter().flat_map(|(_, b)| [b.p5, b.p50, b.p95])).unwrap_or((0.0, 1.0));
        let (y0, y1) = y_range(lo, hi, self.from_zero, 0.08);
        let mut chart = builder(area).build_cartesian_2d(x0..x1, y0..y1)?;
        mesh(&mut chart, &self.axes, &|x| format!("{x:.0}"), 12, true)?;
        if pts.is_empty() {
            return no_data(&mut chart, (x0 + x1) / 2.0, (y0 + y1) / 2.0);
        }
        let fill = self.color.mix(0.18);
        let mut outline: Vec<(f64, f64)> = pts.iter().map(|(x, b)| (*x, b.p95)).collect();
        outline.extend(pts.iter().rev().map(|(x, b)| (*x, b.p5)));
        chart
            .draw_series(std::iter::once(Polygon::new(outline, fill.filled())))?
            .label("p5–p95 区间 (band)")
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], fill.filled()));
        let color = self.color;
        chart
            .draw_series(LineSeries::new(pts.iter().map(|(x, b)| (*x, b.p50)), color.stroke_width(3)))?
            .label(format!("{} p50 中位数 (median)", self.name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
        if pts.len() == 1 {
            let (x, b) = pts[0];
            chart.draw_series(std::iter::once(Circle::new((x, b.p50), 5, color.filled())))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

impl GroupsPanel {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.categories.len();
        let values = self.groups.iter().flat_map(|g| g.values.iter().flatten()).flat_map(|b| [b.p5, b.p50, b.p95]);
        let (lo, hi) = finite(values).unwrap_or((0.0, 1.0));
        let (y0, y1) = y_range(lo, hi, true, 0.15);
        let (x0, x1) = (-0.5, n.max(1) as f64 - 0.5);
        let mut chart = builder(area).build_cartesian_2d(x0..x1, y0..y1)?;
        let cats = &self.categories;
        let x_fmt = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < cats.len() {
                cats[i as usize].clone()
            } else {
                String::new()
            }
        };
        // Nice-number ticks land on every category with x_labels = n; above 12 categories,
        // every 2nd or 5th is labelled so the labels never overlap.
        let x_labels = n.clamp(1, 12);
        mesh(&mut chart, &self.axes, &x_fmt, x_labels, false)?;
        if n == 0 {
            return no_data(&mut chart, 0.0, (y0 + y1) / 2.0);
        }
        let g = self.groups.len().max(1) as f64;
        let slot = 0.8 / g;
        let label_style = text(15.0, INK).pos(Pos::new(HPos::Center, VPos::Bottom));
        let note_style = text(17.0, MUTED).pos(Pos::new(HPos::Center, VPos::Bottom));
        let fmt = self.axes.y_fmt;
        for (gi, group) in self.groups.iter().enumerate() {
            let color = group.color;
            let left = |i: usize| i as f64 - 0.4 + gi as f64 * slot + slot * 0.08;
            let right = |i: usize| i as f64 - 0.4 + (gi as f64 + 1.0) * slot - slot * 0.08;
            let present: Vec<(usize, Band)> =
                group.values.iter().enumerate().filter_map(|(i, v)| v.map(|b| (i, b))).collect();
            chart
                .draw_series(present.iter().map(|&(i, b)| {
                    Rectangle::new([(left(i), y0.max(0.0)), (right(i), b.p50)], color.mix(0.85).filled())
                }))?
                .label(group.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], color.mix(0.85).filled()));
            let whisker = INK.stroke_width(2);
            chart.draw_series(present.iter().filter(|(_, b)| b.p95 > b.p5).flat_map(|&(i, b)| {
                let c = (left(i) + right(i)) / 2.0;
                let w = (right(i) - left(i)) * 0.2;
                [
                    PathElement::new(vec![(c, b.p5), (c, b.p95)], whisker),
                    PathElement::new(vec![(c - w, b.p5), (c + w, b.p5)], whisker),
                    PathElement::new(vec![(c - w, b.p95), (c + w, b.p95)], whisker),
                ]
            }))?;
            let pad = (y1 - y0) * 0.012;
            chart.draw_series(present.iter().map(|&(i, b)| {
                let c = (left(i) + right(i)) / 2.0;
                Text::new(fmt(b.p50), (c, b.p95.max(b.p50) + pad), label_style.clone())
            }))?;
        }
        // Categories where no group has a value: say so once, centred (upright when the
        // categories are narrow). A single missing bar is marked only when there is room.
        let pad = (y1 - y0) * 0.02;
        let narrow = n > 8;
        let upright = text(17.0, MUTED).pos(Pos::new(HPos::Left, VPos::Center)).transform(FontTransform::Rotate270);
        for i in 0..n {
            let missing: Vec<usize> = (0..self.groups.len())
                .filter(|&gi| self.groups[gi].values.get(i).copied().flatten().is_none())
                .collect();
            if !missing.is_empty() && missing.len() == self.groups.len() {
                let style = if narrow { upright.clone() } else { note_style.clone() };
                let at = (i as f64, y0.max(0.0) + pad);
                chart.draw_series(std::iter::once(Text::new(self.missing_note.clone(), at, style)))?;
            } else if !narrow {
                for gi in missing {
                    let c = i as f64 - 0.4 + (gi as f64 + 0.5) * slot;
                    let at = (c, y0.max(0.0) + pad);
                    chart.draw_series(std::iter::once(Text::new("无 n/a".to_string(), at, note_style.clone())))?;
                }
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

impl HistPanel {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let bins: Vec<(f64, f64, f64)> =
            self.bins.iter().filter(|(a, b, h)| a.is_finite() && b.is_finite() && h.is_finite()).copied().collect();
        let markers: Vec<&Marker> = self.markers.iter().filter(|m| m.x.is_finite()).collect();
        let xs = bins.iter().flat_map(|(a, b, _)| [*a, *b]).chain(markers.iter().map(|m| m.x));
        let (lo, hi) = finite(xs).unwrap_or((0.0, 1.0));
        let span = (hi - lo).max(1e-9);
        let (x0, x1) = (lo.min(0.0) - span * 0.02, hi + span * 0.06);
        let top = finite(bins.iter().map(|b| b.2)).map(|r| r.1).filter(|t| *t > 0.0).unwrap_or(1.0);
        // Headroom above the bars for the marker labels.
        let (y0, y1) = (0.0, top * 1.32);
        let mut chart = builder(area).build_cartesian_2d(x0..x1, y0..y1)?;
        mesh(&mut chart, &self.axes, &|x| percent_tick(*x), 12, false)?;
        if bins.is_empty() {
            no_data(&mut chart, (x0 + x1) / 2.0, top / 2.0)?;
        }
        let fill = BLUE.mix(0.75);
        chart
            .draw_series(bins.iter().map(|&(a, b, h)| Rectangle::new([(a, 0.0), (b, h)], fill.filled())))?
            .label("会员人数 members")
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], fill.filled()));
        chart.draw_series(bins.iter().map(|&(a, b, h)| Rectangle::new([(a, 0.0), (b, h)], WHITE.stroke_width(1))))?;
        for (k, m) in markers.iter().enumerate() {
            let style = m.color.stroke_width(3);
            // Lines of later markers reach higher, so their short labels never sit on each other.
            let end = top * (1.06 + 0.1 * k as f64);
            let line = vec![(m.x, 0.0), (m.x, end)];
            if m.dashed {
                chart.draw_series(DashedLineSeries::new(line, 10, 6, style))?.label(m.label.as_str()).legend(
                    move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (9, 0)], style)
                            + PathElement::new(vec![(15, 0), (24, 0)], style)
                    },
                );
            } else {
                chart
                    .draw_series(LineSeries::new(line, style))?
                    .label(m.label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            }
            // Centred over the line, unless that would run off the plot.
            let h = match (m.x - x0) / (x1 - x0) {
                f if f < 0.12 => HPos::Left,
                f if f > 0.88 => HPos::Right,
                _ => HPos::Center,
            };
            let label = text(17.0, m.color).pos(Pos::new(h, VPos::Bottom));
            chart.draw_series(std::iter::once(Text::new(m.short.clone(), (m.x, end + top * 0.01), label)))?;
        }
        // The legend goes where no marker is.
        let frac = |x: f64| (x - x0) / (x1 - x0);
        let free = |a: f64, b: f64| markers.iter().all(|m| !(a..=b).contains(&frac(m.x)));
        let position = if free(0.5, 1.0) {
            SeriesLabelPosition::UpperRight
        } else if free(0.0, 0.5) {
            SeriesLabelPosition::UpperLeft
        } else if free(0.2, 0.8) {
            SeriesLabelPosition::UpperMiddle
        } else {
            SeriesLabelPosition::UpperRight
        };
        legend(&mut chart, position)
    }
}

fn day_points(data: &ReportData, f: impl Fn(&crate::model::DayBand) -> Band) -> Vec<(f64, Band)> {
    data.days.iter().map(|d| (f64::from(d.day), f(d))).collect()
}

fn day_axes(y: &str, y_fmt: fn(f64) -> String) -> Axes {
    Axes { x: "天数 Day".into(), y: y.into(), y_fmt }
}

/// The charts of `data`, in report order.
pub fn charts(data: &ReportData) -> Vec<Chart> {
    let mut out = vec![
        Chart {
            stem: "price",
            title: "积分价格走势".into(),
            subtitle: "Point price over days: median (p50) line in the p5–p95 band of the runs".into(),
            height: HEIGHT,
            side_by_side: false,
            panels: vec![Panel::Days(DaysPanel {
                axes: day_axes("积分价格 (元) Price (yuan)", price_tick),
                color: BLUE,
                name: "价格 price".into(),
                points: day_points(data, |d| d.price),
                from_zero: false,
            })],
        },
        Chart {
            stem: "pool-supply",
            title: "盈利池与流通积分".into(),
            subtitle: "Profit pool (yuan, top) and circulating points (bottom), p50 in the p5–p95 band".into(),
            height: 900,
            side_by_side: false,
            panels: vec![
                Panel::Days(DaysPanel {
                    axes: day_axes("盈利池 (元) Pool (yuan)", compact),
                    color: TEAL,
                    name: "盈利池 pool".into(),
                    points: day_points(data, |d| d.pool),
                    from_zero: true,
                }),
                Panel::Days(DaysPanel {
                    axes: day_axes("流通积分 Points", compact),
                    color: ORANGE,
                    name: "流通积分 supply".into(),
                    points: day_points(data, |d| d.supply),
                    from_zero: true,
                }),
            ],
        },
        Chart {
            stem: "exits",
            title: "每日封顶出局人数".into(),
            subtitle: "Capped exits per day: median (p50) line in the p5–p95 band".into(),
            height: HEIGHT,
            side_by_side: false,
            panels: vec![Panel::Days(DaysPanel {
                axes: day_axes("出局人数 Exits", compact),
                color: RED,
                name: "出局 exits".into(),
                points: day_points(data, |d| d.exits),
                from_zero: true,
            })],
        },
        Chart {
            stem: "days-to-exit",
            title: "各入会月份的出局等待天数".into(),
            subtitle: "Days from joining to first exit, by join cohort: median and p90 (p50 bars, p5–p95 whiskers)".into(),
            height: HEIGHT,
            side_by_side: false,
            panels: vec![Panel::Groups(GroupsPanel {
                axes: Axes { x: "入会月份 Join cohort (month)".into(), y: "天数 Days".into(), y_fmt: format::days },
                categories: data
                    .cohorts
                    .iter()
                    .map(|c| {
                        if data.cohorts.len() <= 8 {
                            format!("第{}月 M{}", c.month, c.month)
                        } else {
                            format!("第{}月", c.month)
                        }
                    })
                    .collect(),
                groups: vec![
                    Group {
                        name: "中位数 median".into(),
                        color: BLUE,
                        values: data.cohorts.iter().map(|c| c.median_days_to_exit).collect(),
                    },
                    Group {
                        name: "P90".into(),
                        color: PURPLE,
                        values: data.cohorts.iter().map(|c| c.p90_days_to_exit).collect(),
                    },
                ],
                missing_note: "无人出局 no exits".into(),
            })],
        },
        Chart {
            stem: "net-rebate",
            title: "会员净返利分布".into(),
            subtitle: "Distribution of members' net rebate (cash received ÷ consumption); dashed: the bound the average can never exceed".into(),
            height: HEIGHT,
            side_by_side: false,
            panels: vec![Panel::Hist(HistPanel {
                axes: Axes {
                    x: "净返利占消费比例 Net rebate (% of consumption)".into(),
                    y: "会员人数 Members".into(),
                    y_fmt: compact,
                },
                bins: data
                    .net_rebate_histogram
                    .iter()
                    .map(|b| (b.from * 100.0, b.to * 100.0, b.members))
                    .collect(),
                markers: vec![
                    Marker {
                        x: data.honest.net_rebate_bound * 100.0,
                        label: "平均净返利上限：平均值永远不会超过 · the bound the average can never exceed".into(),
                        short: format!("上限 bound {}", format::pct(data.honest.net_rebate_bound)),
                        color: RED,
                        dashed: true,
                    },
                    Marker {
                        x: data.honest.avg_net_rebate_share.p50 * 100.0,
                        label: "平均净返利（中位数）· average net rebate (p50)".into(),
                        short: format!("平均 avg {}", format::pct(data.honest.avg_net_rebate_share.p50)),
                        color: INK,
                        dashed: false,
                    },
                ],
            })],
        },
    ];
    if let Some(sweep) = &data.sweep {
        let categories: Vec<String> = sweep.rows.iter().map(|r| r.value.clone()).collect();
        let axes = |y: &str, y_fmt: fn(f64) -> String| Axes {
            x: format!("{} 取值 value", sweep.parameter),
            y: y.into(),
            y_fmt,
        };
        out.push(Chart {
            stem: "sweep",
            title: format!("参数扫描：{}", sweep.parameter),
            subtitle:
                "Parameter sweep: final price (left) and cap-reached share (right) per value; p50 bars, p5–p95 whiskers"
                    .into(),
            height: HEIGHT,
            side_by_side: true,
            panels: vec![
                Panel::Groups(GroupsPanel {
                    axes: axes("期末价格 (元) Final price", price_tick),
                    categories: categories.clone(),
                    groups: vec![Group {
                        name: "期末价格 final price".into(),
                        color: BLUE,
                        values: sweep.rows.iter().map(|r| Some(r.final_price)).collect(),
                    }],
                    missing_note: "–".into(),
                }),
                Panel::Groups(GroupsPanel {
                    axes: axes("封顶比例 Cap reached (%)", percent_tick),
                    categories,
                    groups: vec![Group {
                        name: "封顶比例 cap reached".into(),
                        color: TEAL,
                        values: sweep
                            .rows
                            .iter()
                            .map(|r| {
                                let b = r.cap_reached_share;
                                Some(Band { p5: b.p5 * 100.0, p50: b.p50 * 100.0, p95: b.p95 * 100.0 })
                            })
                            .collect(),
                    }],
                    missing_note: "–".into(),
                }),
            ],
        });
    }
    out
}
