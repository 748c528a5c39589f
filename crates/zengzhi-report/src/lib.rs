//! # zengzhi-report — charts and the report of a simulation
//!
//! [`model::ReportData`] is what the simulator produces; [`render`] draws it into a folder:
//! `report-data.json` (the input), each chart as PNG and SVG, and `report.html`, one
//! self-contained page (Simplified Chinese first, English on a button) that opens with the
//! honest metrics.
//!
//! The PNG charts need a font with Chinese glyphs: see [`font`] for how it is found (the
//! `ZENGZHI_FONT` variable, then the files of the Debian package `fonts-wqy-microhei` and
//! others). Without one, [`render`] fails with an error naming the package to install.

pub mod charts;
pub mod font;
pub mod format;
pub mod html;
pub mod model;
pub mod raster;

use std::path::{Path, PathBuf};

/// The file name of the page.
pub const REPORT_HTML: &str = "report.html";
/// The file name of the data the report was drawn from.
pub const REPORT_DATA: &str = "report-data.json";

/// Writes the report of `data` into `dir` (created if missing) and returns the files written.
///
/// Always writes `report-data.json` (the input, so the report can be drawn again), first, so it
/// is there even when drawing fails; then `<chart>.svg` and `<chart>.png` for every chart
/// (`price`, `pool-supply`, `exits`, `days-to-exit`, `net-rebate`, and `sweep` when there is a
/// sweep), and `report.html`.
pub fn render(data: &model::ReportData, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(REPORT_DATA);
    let json = serde_json::to_string_pretty(data).map_err(std::io::Error::other)?;
    std::fs::write(&path, json + "\n")?;
    let mut written = vec![path];

    font::load()?;
    let charts = charts::charts(data);
    let mut svgs = Vec::with_capacity(charts.len());
    for chart in &charts {
        let (svg_path, png_path, svg) = chart.write(dir)?;
        written.push(svg_path);
        written.push(png_path);
        svgs.push(svg);
    }
    let figures: Vec<html::Figure<'_>> = charts
        .iter()
        .zip(&svgs)
        .map(|(c, svg)| html::Figure { stem: c.stem, title_zh: &c.title, title_en: &c.subtitle, svg })
        .collect();
    let page = html::page(data, &figures);
    let path = dir.join(REPORT_HTML);
    std::fs::write(&path, page)?;
    written.push(path);
    Ok(written)
}
