//! # zengzhi-report — charts and the report of a simulation
//!
//! [`model::ReportData`] is what the simulator produces; [`render`] draws it into a folder.

pub mod model;

use std::path::{Path, PathBuf};

/// Writes the report of `data` into `dir` (created if missing) and returns the files written.
///
/// Always writes `report-data.json` (the input, so the report can be drawn again).
pub fn render(data: &model::ReportData, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("report-data.json");
    let json = serde_json::to_string_pretty(data).map_err(std::io::Error::other)?;
    std::fs::write(&path, json + "\n")?;
    Ok(vec![path])
}
