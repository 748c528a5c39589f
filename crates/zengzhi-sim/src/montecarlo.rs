//! Monte-Carlo: many runs in parallel, aggregated into p5 / p50 / p95 bands, and sweeps.

use rayon::prelude::*;
use zengzhi_report::model::{Bin, Cohort, DayBand, ReportData, Sweep, SweepRow};

use crate::honest::honest;
use crate::random::run_seed;
use crate::run::{run_once_until, RunResult, COHORT_DAYS};
use crate::scenario::{rules_toml, with_parameter, Loaded, ScenarioError};
use crate::stats::{band, band_of_some, median};

/// Why a simulation could not finish.
#[derive(Debug)]
pub enum SimError {
    Scenario(ScenarioError),
    /// An invariant of SPEC §7 broke in a run (an engine bug, never expected).
    Invariant {
        run: u32,
        detail: String,
    },
    /// The caller asked to stop ([`simulate_until`]).
    Cancelled,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Scenario(e) => e.fmt(f),
            SimError::Invariant { run, detail } => write!(f, "第 {run} 次运行不变量被破坏 / run {run}: {detail}"),
            SimError::Cancelled => f.write_str("已取消 / cancelled"),
        }
    }
}

impl std::error::Error for SimError {}

impl From<ScenarioError> for SimError {
    fn from(e: ScenarioError) -> Self {
        SimError::Scenario(e)
    }
}

/// Runs `runs` Monte-Carlo runs of `loaded` in parallel; run `i` is seeded with
/// `run_seed(seed, i)`, so the results (in run order) do not depend on the threads.
/// `progress` is called once per finished run.
pub fn run_many(
    loaded: &Loaded,
    runs: u32,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<RunResult>, SimError> {
    run_many_until(loaded, runs, seed, progress, &|| false)
}

/// [`run_many`], stopping (with [`SimError::Cancelled`]) as soon as `stop` says so: it is
/// asked before every simulated day of every run.
pub fn run_many_until(
    loaded: &Loaded,
    runs: u32,
    seed: u64,
    progress: &(dyn Fn() + Sync),
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<RunResult>, SimError> {
    (0..runs)
        .into_par_iter()
        .map(|i| {
            let result = match run_once_until(loaded, run_seed(seed, i), stop) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => Err(SimError::Cancelled),
                Err(detail) => Err(SimError::Invariant { run: i, detail }),
            };
            progress();
            result
        })
        .collect()
}

/// The outcome of a simulation: the report's data and the runs of the base scenario.
pub struct Simulation {
    pub report: ReportData,
    pub runs: Vec<RunResult>,
}

/// How many runs a simulation of `loaded` makes in all (the base scenario and every sweep value).
pub fn total_runs(loaded: &Loaded, runs: u32) -> u64 {
    let values = loaded.scenario.sweep.as_ref().map_or(0, |s| s.values.len());
    u64::from(runs) * (1 + values as u64)
}

/// Simulates `loaded` (`runs` runs from `seed`), and every value of its sweep, if any.
pub fn simulate(loaded: &Loaded, runs: u32, seed: u64, progress: &(dyn Fn() + Sync)) -> Result<Simulation, SimError> {
    simulate_until(loaded, runs, seed, progress, &|| false)
}

/// [`simulate`] that stops with [`SimError::Cancelled`] once `stop` says so (asked before every
/// simulated day).
pub fn simulate_until(
    loaded: &Loaded,
    runs: u32,
    seed: u64,
    progress: &(dyn Fn() + Sync),
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Simulation, SimError> {
    let results = run_many_until(loaded, runs, seed, progress, stop)?;
    let sweep = match &loaded.scenario.sweep {
        Some(plan) => {
            let mut rows = Vec::new();
            for value in &plan.values {
                let variant = with_parameter(loaded, &plan.parameter, value)?;
                let variant_runs = run_many_until(&variant, runs, seed, progress, stop)?;
                rows.push(sweep_row(value, &variant_runs));
            }
            Some(Sweep { parameter: plan.parameter.clone(), rows })
        }
        None => None,
    };
    let report = report_data(loaded, runs, seed, &results, sweep);
    Ok(Simulation { report, runs: results })
}

/// One sweep row from the runs of one value.
pub fn sweep_row(value: &str, runs: &[RunResult]) -> SweepRow {
    SweepRow {
        value: value.to_string(),
        final_price: band(runs.iter().map(|r| r.metrics.final_price)),
        cap_reached_share: band(runs.iter().map(|r| r.metrics.cap_reached_share)),
        avg_net_rebate_share: band(runs.iter().map(|r| r.metrics.avg_net_rebate_share)),
        median_days_to_exit: band_of_some(runs.iter().map(|r| r.metrics.median_days_to_exit)),
    }
}

/// Per day, each figure's band over the runs.
pub fn day_bands(runs: &[RunResult]) -> Vec<DayBand> {
    let days = runs.first().map_or(0, |r| r.days.len());
    (0..days)
        .map(|d| {
            let f = |get: &dyn Fn(&crate::run::DayStats) -> f64| band(runs.iter().map(|r| get(&r.days[d])));
            DayBand {
                day: d as u32 + 1,
                orders: f(&|s| s.orders as f64),
                gmv: f(&|s| s.gmv_fen as f64 / 100.0),
                pool: f(&|s| s.pool_fen as f64 / 100.0),
                supply: f(&|s| s.supply_units as f64 / 1e8),
                price: f(&|s| s.price),
                exits: f(&|s| s.exits as f64),
                payouts: f(&|s| s.payouts_fen as f64 / 100.0),
                holding: f(&|s| s.holding as f64),
                waiting: f(&|s| s.waiting as f64),
                exited: f(&|s| s.exited as f64),
            }
        })
        .collect()
}

/// Per join cohort, bands over the runs.
pub fn cohort_bands(runs: &[RunResult]) -> Vec<Cohort> {
    let months = runs.first().map_or(0, |r| r.cohorts.len());
    (0..months)
        .map(|c| Cohort {
            month: c as u32 + 1,
            members: median(runs.iter().map(|r| r.cohorts[c].members as f64)),
            reached_cap: band(runs.iter().map(|r| {
                let k = &r.cohorts[c];
                if k.members == 0 {
                    0.0
                } else {
                    k.reached_cap as f64 / k.members as f64
                }
            })),
            median_days_to_exit: band_of_some(runs.iter().map(|r| r.cohorts[c].median_days_to_exit)),
            p90_days_to_exit: band_of_some(runs.iter().map(|r| r.cohorts[c].p90_days_to_exit)),
        })
        .collect()
}

/// The histogram of net rebates: members per bin, the median over runs.
pub fn histogram(runs: &[RunResult]) -> Vec<Bin> {
    let Some(first) = runs.first() else { return Vec::new() };
    let bins = first.histogram.len();
    let width = first.histogram_max / bins as f64;
    (0..bins)
        .map(|b| Bin {
            from: b as f64 * width,
            to: (b + 1) as f64 * width,
            members: median(runs.iter().map(|r| r.histogram[b] as f64)),
        })
        .collect()
}

fn yuan(fen: f64) -> String {
    format!("{:.2}", fen / 100.0)
}

/// End-of-horizon totals (the median over runs), labelled in Chinese and English.
pub fn totals(runs: &[RunResult]) -> Vec<(String, String)> {
    let m = |get: &dyn Fn(&crate::run::RunMetrics) -> f64| median(runs.iter().map(|r| get(&r.metrics)));
    vec![
        ("会员 members".into(), format!("{:.0}", m(&|x| x.members as f64))),
        ("订单 orders".into(), format!("{:.0}", m(&|x| x.orders as f64))),
        ("消费额 GMV (yuan)".into(), yuan(m(&|x| x.gmv_fen as f64))),
        ("出局 exits".into(), format!("{:.0}", m(&|x| x.exits as f64))),
        ("卖出 sales".into(), format!("{:.0}", m(&|x| x.sells as f64))),
        ("卖出与出局到账 paid by sales and exits (yuan)".into(), yuan(m(&|x| x.payouts_fen as f64))),
        ("奖励 rewards (yuan)".into(), yuan(m(&|x| x.rewards_fen as f64))),
        ("融资注入 injected (yuan)".into(), yuan(m(&|x| x.injected_fen as f64))),
        ("补贴 subsidies (yuan)".into(), yuan(m(&|x| x.subsidies_fen as f64))),
        ("盈利池 pool (yuan)".into(), yuan(m(&|x| x.pool_fen as f64))),
        ("流通积分 supply (points)".into(), format!("{:.8}", m(&|x| x.supply_units as f64) / 1e8)),
        ("积分价格 price (yuan)".into(), format!("{:.8}", m(&|x| x.final_price))),
        ("未卖出积分价值 value of points still held (yuan)".into(), yuan(m(&|x| x.held_value_fen as f64))),
        ("平台收入 platform revenue (yuan)".into(), yuan(m(&|x| x.platform_revenue_fen as f64))),
        ("被拒命令 rejected commands".into(), format!("{:.0}", m(&|x| x.rejected as f64))),
    ]
}

/// Fills the report's data from the base scenario's runs.
pub fn report_data(loaded: &Loaded, runs: u32, seed: u64, results: &[RunResult], sweep: Option<Sweep>) -> ReportData {
    let s = &loaded.scenario;
    let cohorts = cohort_bands(results);
    ReportData {
        name: s.name.clone(),
        description: s.description.clone(),
        horizon_days: s.horizon_days,
        runs,
        seed,
        scenario_toml: loaded.text.clone(),
        rules_toml: rules_toml(&loaded.rules),
        days: day_bands(results),
        honest: honest(loaded, results),
        cohorts,
        net_rebate_histogram: histogram(results),
        sweep,
        totals: totals(results),
    }
}

/// Days in a cohort, re-exported for the report's readers.
pub const COHORT_LENGTH_DAYS: u32 = COHORT_DAYS;

/// Threads the Monte-Carlo runs are spread over.
pub fn threads() -> usize {
    rayon::current_num_threads()
}
