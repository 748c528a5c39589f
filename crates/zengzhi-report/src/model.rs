//! The data a report is drawn from: what the simulator hands to the renderer.
//!
//! Floats are allowed here: these are statistics over simulated runs (p5 / p50 / p95 bands),
//! never ledger balances. Money is in yuan, points in points, shares in [0, 1].
//! Serialised as `report-data.json` beside `summary.json` so a report can be rendered again
//! (`zengzhi report DIR`) without re-running the simulation.

use serde::{Deserialize, Serialize};

/// A statistic over the Monte-Carlo runs. With one run, p5 = p50 = p95.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

/// One simulated day (day 1 is the first day of the horizon), each figure a band over runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DayBand {
    pub day: u32,
    pub orders: Band,
    /// Consumption that day, yuan.
    pub gmv: Band,
    /// End of day, yuan.
    pub pool: Band,
    /// End of day, points (free + locked).
    pub supply: Band,
    /// End of day, yuan per point.
    pub price: Band,
    pub exits: Band,
    /// Cash paid to members that day by sales and exits, yuan.
    pub payouts: Band,
    /// Members holding points in a cycle (not yet at the cap).
    pub holding: Band,
    /// Members who joined but hold nothing yet and have not exited (waiting to buy again).
    pub waiting: Band,
    /// Members who have exited at least once.
    pub exited: Band,
}

/// Members grouped by the month (30-day block of the horizon) they joined in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    /// 1-based: cohort 1 joined on days 1–30.
    pub month: u32,
    /// Members who joined in this cohort (median over runs).
    pub members: f64,
    /// Share of the cohort that reached the cap at least once by the end of the horizon.
    pub reached_cap: Band,
    /// Days from joining to the first exit, over the members of the cohort who exited
    /// (`None` when nobody in the cohort exited in any run).
    pub median_days_to_exit: Option<Band>,
    pub p90_days_to_exit: Option<Band>,
}

/// A histogram bin of the members' net rebate as a share of their consumption.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge (inclusive), share of consumption, e.g. 0.05 = 5 %.
    pub from: f64,
    /// Upper edge (exclusive; the last bin includes it).
    pub to: f64,
    /// Members in the bin (median over runs).
    pub members: f64,
}

/// The figures no report may leave out (issue: "honest metrics, always").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Honest {
    /// Share of all members who reached the cap at least once.
    pub cap_reached_share: Band,
    /// The net rebate: cash paid back to members by sales and exits divided by their
    /// consumption (weighted by consumption). Rewards come from the distribution budget, not the
    /// pool, and are reported apart; counting them here would break the bound below.
    pub avg_net_rebate_share: Band,
    /// The bound the average can never exceed: the pool's share of commission
    /// (commission rate × pool_share, for the scenario's commission mix).
    pub net_rebate_bound: f64,
    /// Median days to first exit of the last cohort that had exits divided by that of cohort 1
    /// (`None` when not measurable).
    pub late_vs_early_wait_ratio: Option<Band>,
    /// Members still waiting for their cap at the end of the horizon (share of all members).
    pub still_waiting_share: Band,
    /// What a member gets per point if everybody sold at the end: price × (1 − retention), yuan.
    pub sell_value_per_point_at_end: Band,
    /// The retention share of a sale (e.g. 0.2): what stays in the pool.
    pub retention: f64,
    /// Price growth over the last 30 days of the horizon, as a share (0.0 = flat).
    pub price_growth_last_30_days: Band,
    /// Share of all reward money paid to members who never bought (lifetime consumption 0):
    /// referrers of others who did not consume themselves, referral farmers among them.
    #[serde(default)]
    pub rewards_to_non_buyers_share: Band,
    /// The honest members' figures: every member but the scenario's attackers (wash-trading
    /// owners, referral farmers and their fakes; without attackers, every member).
    #[serde(default)]
    pub honest_cap_reached_share: Band,
    #[serde(default)]
    pub honest_net_rebate_share: Band,
    /// What honest members got from the pool, cash and the value of the points they still hold
    /// at the end, ÷ their consumption.
    #[serde(default)]
    pub honest_value_share: Band,
    #[serde(default)]
    pub honest_median_days_to_exit: Option<Band>,
    /// Wash-trading owners: what they got (cash from sales and exits, rewards, the value of their
    /// points at the end) ÷ the commission their own-store orders cost them, their only cost.
    /// Above 1: wash trading paid. `None` without wash traders.
    #[serde(default)]
    pub wash_return_on_commission: Option<Band>,
    /// Plain-language statements, Chinese and English, that the report shows verbatim, such as
    /// "增长停止后价格持平；任何人仍可按 80% 卖出" — the simulator writes them from the figures.
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub zh: String,
    pub en: String,
}

/// A parameter sweep: one row per value of the swept parameter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The parameter's path, e.g. `rules.exit.multiple` or `scenario.arrivals.rate`.
    pub parameter: String,
    pub rows: Vec<SweepRow>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The value as written in the sweep (a rules value is a string, e.g. "1.5").
    pub value: String,
    pub final_price: Band,
    pub cap_reached_share: Band,
    pub avg_net_rebate_share: Band,
    pub median_days_to_exit: Option<Band>,
}

/// Everything the renderer needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// The scenario's name and description as written by the planner.
    pub name: String,
    pub description: String,
    pub horizon_days: u32,
    pub runs: u32,
    pub seed: u64,
    /// The scenario file as given (shown in an appendix), and the effective rules as TOML.
    pub scenario_toml: String,
    pub rules_toml: String,
    pub days: Vec<DayBand>,
    pub cohorts: Vec<Cohort>,
    pub net_rebate_histogram: Vec<Bin>,
    pub honest: Honest,
    pub sweep: Option<Sweep>,
    /// Totals at the end of the horizon (median run): orders, members, exits, yuan figures.
    pub totals: Vec<(String, String)>,
}
