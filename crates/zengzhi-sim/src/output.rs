//! The files of a simulation: `summary.json`, `timeseries.csv`, `sweep.csv`, and the report
//! (charts, `report.html`, `report-data.json`) drawn by `zengzhi-report`.
//!
//! Nothing written depends on the clock or on thread scheduling, so the same scenario, runs and
//! seed give byte-identical files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;
use zengzhi_report::model::{Band, ReportData};

/// `summary.json`: the headline figures, with the honest metrics always embedded.
pub fn summary_json(data: &ReportData) -> String {
    let last = data.days.last();
    let final_band = |get: &dyn Fn(&zengzhi_report::model::DayBand) -> Band| last.map(get).unwrap_or_default();
    let summary = json!({
        "name": data.name,
        "description": data.description,
        "horizon_days": data.horizon_days,
        "runs": data.runs,
        "seed": data.seed,
        "honest": data.honest,
        "totals": data.totals.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "final_day": {
            "price": final_band(&|d| d.price),
            "pool": final_band(&|d| d.pool),
            "supply": final_band(&|d| d.supply),
            "holding": final_band(&|d| d.holding),
            "waiting": final_band(&|d| d.waiting),
            "exited": final_band(&|d| d.exited),
        },
        "cohorts": data.cohorts,
        "net_rebate_histogram": data.net_rebate_histogram,
        "sweep": data.sweep,
        "rules_toml": data.rules_toml,
    });
    serde_json::to_string_pretty(&summary).expect("plain data serialises") + "\n"
}

/// `timeseries.csv`: one row per day, the median run's figures, with p5 / p95 of the price,
/// the pool and exits.
pub fn timeseries_csv(data: &ReportData) -> String {
    let mut out = String::from(
        "day,orders,gmv,pool,supply,price,exits,payouts,holding,waiting,exited,price_p5,price_p95,pool_p5,pool_p95,exits_p5,exits_p95\n",
    );
    for d in &data.days {
        let _ = writeln!(
            out,
            "{},{:.1},{:.2},{:.2},{:.8},{:.8},{:.1},{:.2},{:.1},{:.1},{:.1},{:.8},{:.8},{:.2},{:.2},{:.1},{:.1}",
            d.day,
            d.orders.p50,
            d.gmv.p50,
            d.pool.p50,
            d.supply.p50,
            d.price.p50,
            d.exits.p50,
            d.payouts.p50,
            d.holding.p50,
            d.waiting.p50,
            d.exited.p50,
            d.price.p5,
            d.price.p95,
            d.pool.p5,
            d.pool.p95,
            d.exits.p5,
            d.exits.p95
        );
    }
    out
}

fn opt(b: &Option<Band>) -> String {
    b.map_or_else(|| ",,".to_string(), |b| format!("{:.4},{:.4},{:.4}", b.p5, b.p50, b.p95))
}

/// `sweep.csv`: one row per swept value.
pub fn sweep_csv(data: &ReportData) -> Option<String> {
    let sweep = data.sweep.as_ref()?;
    let mut out = String::from(
        "parameter,value,final_price_p5,final_price_p50,final_price_p95,cap_reached_share_p5,cap_reached_share_p50,cap_reached_share_p95,avg_net_rebate_share_p5,avg_net_rebate_share_p50,avg_net_rebate_share_p95,median_days_to_exit_p5,median_days_to_exit_p50,median_days_to_exit_p95\n",
    );
    for row in &sweep.rows {
        let b = |b: &Band| format!("{:.8},{:.8},{:.8}", b.p5, b.p50, b.p95);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            sweep.parameter,
            row.value,
            b(&row.final_price),
            b(&row.cap_reached_share),
            b(&row.avg_net_rebate_share),
            opt(&row.median_days_to_exit)
        );
    }
    Some(out)
}

/// Writes every file of a simulation into `dir` (created if missing); returns their paths.
pub fn write_all(data: &ReportData, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut put = |name: &str, text: String| -> std::io::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
        Ok(())
    };
    put("summary.json", summary_json(data))?;
    put("timeseries.csv", timeseries_csv(data))?;
    if let Some(text) = sweep_csv(data) {
        put("sweep.csv", text)?;
    }
    written.extend(zengzhi_report::render(data, dir)?);
    Ok(written)
}
