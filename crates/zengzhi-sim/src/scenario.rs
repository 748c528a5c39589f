//! Scenarios: what a simulation assumes about members, stores and the operator.
//!
//! A scenario is a TOML file. Every section and key is optional except `horizon_days`; an
//! unknown key is an error that names it. A complete example (every key, with its meaning):
//!
//! ```toml
//! name = "稳定增长 steady growth"
//! description = "What the planner wants to show."
//! horizon_days = 365            # days simulated (1 ..= 3650)
//! seed = 1                      # default seed (overridden by --seed)
//! runs = 1                      # default Monte-Carlo runs (overridden by --runs)
//! rules_file = "rules.toml"     # the rules (SPEC §4), relative to this file; or inline:
//!
//! [rules.exit]                  # inline rules: the same sections and keys as a rules file
//! multiple = "1.2"
//!
//! [arrivals]
//! model = "constant"            # constant | linear | exponential | logistic | decline
//! initial_members = 0           # members present before day 1
//! rate = 50.0                   # new members on day 1 (expected; the count is Poisson)
//! growth = 0.0                  # linear: +members/day per day; exponential: daily growth;
//!                               # logistic: growth rate; decline: daily decline (0..1)
//! capacity = 0                  # logistic only: the total the market saturates at
//! shocks = [{ day = 90, members = 2000 }]   # one-off arrivals
//! referred_share = 0.8          # share of new members referred by an existing member
//!
//! [[stores]]                    # store categories (default: 10 stores at the default rate)
//! category = "餐饮 restaurants"
//! count = 20
//! commission = "0.20"           # as a store's commission rate (omit: rules' default_rate)
//! share = 0.7                   # share of purchases made in this category
//!
//! [buying]
//! first_purchase = 1.0          # probability a new member buys on the day they join
//! orders_per_day = 0.05         # each active member's expected orders per day
//! amount = { dist = "lognormal", median = 150.0, sigma = 0.6, min = 1.0, max = 5000.0 }
//!                               # dist: fixed (value) | uniform (min, max)
//!                               #     | lognormal (median, sigma) | exponential (mean); yuan
//!
//! [selling]                     # shares of members by behaviour; they add up to 1
//! hold_to_cap = 0.7             # never sell; wait for the capped exit
//! take_profit = 0.2             # sell everything once the price rose by take_profit_gain
//! pessimist = 0.1               # sell everything when the price's growth slows (悲观情绪卖出)
//! take_profit_gain = 0.5
//! pessimism_window_days = 14
//! pessimism_growth_below = 0.01 # pessimistic: price growth over the window below this share
//! pessimism_sell_probability = 0.2   # a pessimist's daily chance to sell while pessimistic
//!
//! [reentry]
//! probability = 0.6             # after an exit or selling everything: keeps buying (复投)
//!
//! [[injections]]                # financing injected into the pool (融资注入)
//! day = 180
//! amount = "500000"
//!
//! [[campaigns]]                 # subsidy campaigns (消费补贴)
//! start_day = 30
//! end_day = 60
//! rate = "0.05"
//! budget = "100000"
//!
//! [legacy]                      # legacy conversion (老会员转化)
//! day = 1                       # the day the legacy members are granted coins
//! members = 1000
//! coins = { dist = "uniform", min = 500.0, max = 5000.0 }
//! release_every_days = 1        # release_locked every this many days from `day`
//!
//! [attacks]                     # the economy's own attacks (default: none)
//! wash_stores = 0               # 刷单: the first this many stores get an owner (a member of
//!                               # day 1) who buys at their own store and nowhere else
//! wash_orders_per_day = 1.0     # each such owner's expected orders a day
//! wash_amount = { dist = "fixed", value = 1000.0 }
//! farmers = 0                   # referral farmers: members of day 1 who never buy
//! fake_referees = 0             # fake members registered under each farmer on day 1; they
//!                               # buy only to earn the farmer the direct reward
//! fake_orders_per_day = 0.1     # each fake's expected orders a day
//! fake_amount = { dist = "fixed", value = 10.0 }
//!
//! [sweep]                       # optional: run once per value of one parameter
//! parameter = "rules.exit.multiple"   # any rules key, or any scenario key (e.g. "arrivals.rate")
//! values = ["1.2", "1.5", "2"]
//! ```

use std::path::Path;

use serde::Deserialize;
use zengzhi_core::num::{parse_money, parse_rate, Fen, Ppm};
use zengzhi_core::rules::Rules;

/// Upper bounds that keep a run finite and the inputs meaningful.
pub const MAX_HORIZON_DAYS: u32 = 3650;
pub const MAX_STORES: u32 = 100_000;

/// An error in a scenario, naming the field (or the TOML position) at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The field's path, e.g. `arrivals.rate`; empty for the whole file.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "情景无效 / invalid scenario: {}", self.message)
        } else {
            write!(f, "情景无效 / invalid scenario: {}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

fn err(field: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError { field: field.to_string(), message: message.into() }
}

/// A scenario as written (see the module documentation for the format).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub horizon_days: u32,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub runs: Option<u32>,
    #[serde(default)]
    pub rules_file: Option<String>,
    #[serde(default)]
    pub rules: Option<toml::Table>,
    #[serde(default)]
    pub arrivals: Arrivals,
    #[serde(default = "default_stores")]
    pub stores: Vec<StoreCategory>,
    #[serde(default)]
    pub buying: Buying,
    #[serde(default)]
    pub selling: Selling,
    #[serde(default)]
    pub reentry: Reentry,
    #[serde(default)]
    pub injections: Vec<Injection>,
    #[serde(default)]
    pub campaigns: Vec<CampaignPlan>,
    #[serde(default)]
    pub legacy: Option<Legacy>,
    #[serde(default)]
    pub attacks: Attacks,
    #[serde(default)]
    pub sweep: Option<SweepPlan>,
}

/// The economy's own attacks: wash trading through one's own store (刷单) and referral farming
/// with fake members. Attackers are not honest members: the honest metrics leave them out.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Attacks {
    /// Stores (the first of the list) whose owner wash-trades.
    #[serde(default)]
    pub wash_stores: u32,
    #[serde(default = "one_f64")]
    pub wash_orders_per_day: f64,
    #[serde(default = "default_wash_amount")]
    pub wash_amount: Dist,
    /// Referral farmers: members who never buy.
    #[serde(default)]
    pub farmers: u32,
    /// Fake members registered under each farmer.
    #[serde(default)]
    pub fake_referees: u32,
    #[serde(default = "default_fake_orders")]
    pub fake_orders_per_day: f64,
    #[serde(default = "default_fake_amount")]
    pub fake_amount: Dist,
}

impl Default for Attacks {
    fn default() -> Self {
        Attacks {
            wash_stores: 0,
            wash_orders_per_day: 1.0,
            wash_amount: default_wash_amount(),
            farmers: 0,
            fake_referees: 0,
            fake_orders_per_day: default_fake_orders(),
            fake_amount: default_fake_amount(),
        }
    }
}

impl Attacks {
    /// Are there any attackers?
    pub fn any(&self) -> bool {
        self.wash_stores > 0 || self.farmers > 0
    }
}

fn default_wash_amount() -> Dist {
    Dist::fixed(1000.0)
}
fn default_fake_orders() -> f64 {
    0.1
}
fn default_fake_amount() -> Dist {
    Dist::fixed(10.0)
}

/// At most this many fake members in all (`farmers × fake_referees`).
pub const MAX_FAKE_MEMBERS: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalModel {
    #[default]
    Constant,
    Linear,
    Exponential,
    Logistic,
    Decline,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    #[serde(default)]
    pub model: ArrivalModel,
    #[serde(default)]
    pub initial_members: u32,
    #[serde(default = "default_rate")]
    pub rate: f64,
    #[serde(default)]
    pub growth: f64,
    #[serde(default)]
    pub capacity: f64,
    #[serde(default)]
    pub shocks: Vec<Shock>,
    #[serde(default = "default_referred")]
    pub referred_share: f64,
}

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals {
            model: ArrivalModel::Constant,
            initial_members: 0,
            rate: default_rate(),
            growth: 0.0,
            capacity: 0.0,
            shocks: Vec::new(),
            referred_share: default_referred(),
        }
    }
}

fn default_rate() -> f64 {
    20.0
}
fn default_referred() -> f64 {
    0.8
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Shock {
    pub day: u32,
    pub members: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreCategory {
    #[serde(default)]
    pub category: String,
    #[serde(default = "one_u32")]
    pub count: u32,
    #[serde(default)]
    pub commission: Option<String>,
    #[serde(default = "one_f64")]
    pub share: f64,
}

fn one_u32() -> u32 {
    1
}
fn one_f64() -> f64 {
    1.0
}

fn default_stores() -> Vec<StoreCategory> {
    vec![StoreCategory { category: "门店 stores".into(), count: 10, commission: None, share: 1.0 }]
}

/// A distribution of money amounts, in yuan.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dist {
    pub dist: String,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub median: Option<f64>,
    #[serde(default)]
    pub sigma: Option<f64>,
    #[serde(default)]
    pub mean: Option<f64>,
}

impl Dist {
    pub fn fixed(value: f64) -> Dist {
        Dist { dist: "fixed".into(), value: Some(value), min: None, max: None, median: None, sigma: None, mean: None }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Buying {
    #[serde(default = "one_f64")]
    pub first_purchase: f64,
    #[serde(default = "default_orders_per_day")]
    pub orders_per_day: f64,
    #[serde(default = "default_amount")]
    pub amount: Dist,
}

impl Default for Buying {
    fn default() -> Self {
        Buying { first_purchase: 1.0, orders_per_day: default_orders_per_day(), amount: default_amount() }
    }
}

fn default_orders_per_day() -> f64 {
    0.05
}
fn default_amount() -> Dist {
    Dist {
        dist: "lognormal".into(),
        median: Some(150.0),
        sigma: Some(0.6),
        min: Some(1.0),
        max: Some(5000.0),
        ..Dist::fixed(0.0)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Selling {
    #[serde(default = "one_f64")]
    pub hold_to_cap: f64,
    #[serde(default)]
    pub take_profit: f64,
    #[serde(default)]
    pub pessimist: f64,
    #[serde(default = "default_gain")]
    pub take_profit_gain: f64,
    #[serde(default = "default_window")]
    pub pessimism_window_days: u32,
    #[serde(default = "default_growth_below")]
    pub pessimism_growth_below: f64,
    #[serde(default = "default_sell_probability")]
    pub pessimism_sell_probability: f64,
}

impl Default for Selling {
    fn default() -> Self {
        Selling {
            hold_to_cap: 1.0,
            take_profit: 0.0,
            pessimist: 0.0,
            take_profit_gain: default_gain(),
            pessimism_window_days: default_window(),
            pessimism_growth_below: default_growth_below(),
            pessimism_sell_probability: default_sell_probability(),
        }
    }
}

fn default_gain() -> f64 {
    0.5
}
fn default_window() -> u32 {
    14
}
fn default_growth_below() -> f64 {
    0.01
}
fn default_sell_probability() -> f64 {
    0.2
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reentry {
    #[serde(default = "default_reentry")]
    pub probability: f64,
}

impl Default for Reentry {
    fn default() -> Self {
        Reentry { probability: default_reentry() }
    }
}

fn default_reentry() -> f64 {
    0.5
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    pub day: u32,
    pub amount: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CampaignPlan {
    pub start_day: u32,
    pub end_day: u32,
    pub rate: String,
    pub budget: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Legacy {
    #[serde(default = "one_u32")]
    pub day: u32,
    pub members: u32,
    pub coins: Dist,
    #[serde(default = "one_u32")]
    pub release_every_days: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepPlan {
    pub parameter: String,
    pub values: Vec<String>,
}

/// A scenario ready to run: checked, with its rules loaded and money in exact units.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub rules: Rules,
    /// The document the scenario was read from, with `rules_file` merged in as `[rules]`
    /// (sweeps set their parameter in it and read it again).
    pub doc: toml::Table,
    /// The scenario text as given.
    pub text: String,
    pub injections_fen: Vec<(u32, i64)>,
    /// `(start_day, end_day, rate_ppm, budget_fen)`.
    pub campaigns: Vec<(u32, u32, i64, i64)>,
    /// Per store category: commission in ppm.
    pub store_commission_ppm: Vec<i64>,
}

/// Reads a scenario from TOML text. `base_dir` resolves `rules_file`.
pub fn load_str(text: &str, base_dir: &Path) -> Result<Loaded, ScenarioError> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| err("", e.to_string()))?;
    // Parse the typed form from the text first: its errors carry line numbers.
    toml::from_str::<Scenario>(text).map_err(|e| err("", e.to_string()))?;
    if let Some(file) = doc.get("rules_file").and_then(|v| v.as_str()).map(str::to_string) {
        if doc.contains_key("rules") {
            return Err(err(
                "rules_file",
                "不能同时给出 rules_file 和 [rules] / give either rules_file or [rules], not both",
            ));
        }
        let path = base_dir.join(&file);
        let rules_text = std::fs::read_to_string(&path)
            .map_err(|e| err("rules_file", format!("无法读取 / cannot read {}: {e}", path.display())))?;
        let table: toml::Table =
            toml::from_str(&rules_text).map_err(|e| err("rules_file", format!("{}: {e}", path.display())))?;
        doc.remove("rules_file");
        doc.insert("rules".into(), toml::Value::Table(table));
    }
    from_doc(doc, text.to_string())
}

/// Reads a scenario file.
pub fn load_file(path: &Path) -> Result<Loaded, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| err("", format!("无法读取 / cannot read {}: {e}", path.display())))?;
    load_str(&text, path.parent().unwrap_or(Path::new(".")))
}

/// Types and checks a scenario document.
pub fn from_doc(doc: toml::Table, text: String) -> Result<Loaded, ScenarioError> {
    let scenario: Scenario =
        toml::Value::Table(doc.clone()).try_into().map_err(|e: toml::de::Error| err("", e.message()))?;
    let rules = load_rules(scenario.rules.as_ref())?;
    validate(&scenario)?;
    let injections_fen = scenario
        .injections
        .iter()
        .enumerate()
        .map(|(i, inj)| Ok((inj.day, money(&format!("injections[{i}].amount"), &inj.amount)?)))
        .collect::<Result<_, ScenarioError>>()?;
    let campaigns = scenario
        .campaigns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let rate = parse_rate(&c.rate, Ppm::ONE)
                .ok_or_else(|| err(&format!("campaigns[{i}].rate"), "比例须在 0 到 1 之间 / a rate in [0, 1]"))?;
            Ok((c.start_day, c.end_day, rate.to_ppm(), money(&format!("campaigns[{i}].budget"), &c.budget)?))
        })
        .collect::<Result<_, ScenarioError>>()?;
    let store_commission_ppm = scenario
        .stores
        .iter()
        .enumerate()
        .map(|(i, s)| match &s.commission {
            None => Ok(rules.default_rate_ppm.to_ppm()),
            Some(text) => parse_rate(text, Ppm::ONE)
                .map(Ppm::to_ppm)
                .ok_or_else(|| err(&format!("stores[{i}].commission"), "比例须在 0 到 1 之间 / a rate in [0, 1]")),
        })
        .collect::<Result<_, ScenarioError>>()?;
    Ok(Loaded { scenario, rules, doc, text, injections_fen, campaigns, store_commission_ppm })
}

fn money(field: &str, text: &str) -> Result<i64, ScenarioError> {
    parse_money(text)
        .filter(|&v| v.is_positive() && v <= Fen::from_fen(zengzhi_core::num::MAX_MONEY_ARG_FEN))
        .map(Fen::to_fen)
        .ok_or_else(|| err(field, format!("金额无效 / not a positive amount with at most 2 decimals: {text:?}")))
}

/// The rules of an inline `[rules]` table, validated by the core.
fn load_rules(table: Option<&toml::Table>) -> Result<Rules, ScenarioError> {
    let Some(table) = table else { return Ok(Rules::default()) };
    let text = toml::to_string(table).map_err(|e| err("rules", e.to_string()))?;
    Rules::from_toml(&text).map_err(|problems| {
        let first = &problems[0];
        let field = if first.path.is_empty() { "rules".to_string() } else { format!("rules.{}", first.path) };
        let all: Vec<String> = problems.iter().map(|p| format!("{} / {}", p.zh, p.en)).collect();
        err(&field, all.join("; "))
    })
}

fn share(field: &str, v: f64) -> Result<(), ScenarioError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(err(field, format!("须在 0 到 1 之间 / must be in [0, 1], got {v}")))
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), ScenarioError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(err(field, format!("须为非负数 / must be a finite number ≥ 0, got {v}")))
    }
}

fn day_in(field: &str, day: u32, horizon: u32) -> Result<(), ScenarioError> {
    if (1..=horizon).contains(&day) {
        Ok(())
    } else {
        Err(err(field, format!("日期须在 1 到 {horizon} 之间 / the day must be in 1..={horizon}, got {day}")))
    }
}

fn validate(s: &Scenario) -> Result<(), ScenarioError> {
    if !(1..=MAX_HORIZON_DAYS).contains(&s.horizon_days) {
        return Err(err(
            "horizon_days",
            format!("须在 1 到 {MAX_HORIZON_DAYS} 之间 / must be in 1..={MAX_HORIZON_DAYS}"),
        ));
    }
    if s.runs == Some(0) {
        return Err(err("runs", "至少 1 次 / at least 1"));
    }
    let a = &s.arrivals;
    non_negative("arrivals.rate", a.rate)?;
    match a.model {
        ArrivalModel::Decline => share("arrivals.growth", a.growth)?,
        ArrivalModel::Linear => {
            if !a.growth.is_finite() {
                return Err(err("arrivals.growth", "须为有限数 / must be finite"));
            }
        }
        _ => non_negative("arrivals.growth", a.growth)?,
    }
    if a.model == ArrivalModel::Logistic && (a.capacity.is_nan() || a.capacity <= a.rate) {
        return Err(err(
            "arrivals.capacity",
            "logistic 模型须给出大于 rate 的 capacity / logistic needs a capacity above rate",
        ));
    }
    if a.model == ArrivalModel::Exponential && a.growth > 0.2 {
        return Err(err("arrivals.growth", "指数增长每日不超过 0.2 / exponential growth is at most 0.2 a day"));
    }
    share("arrivals.referred_share", a.referred_share)?;
    for (i, shock) in a.shocks.iter().enumerate() {
        day_in(&format!("arrivals.shocks[{i}].day"), shock.day, s.horizon_days)?;
    }
    if s.stores.is_empty() {
        return Err(err("stores", "至少一类门店 / at least one store category"));
    }
    for (i, store) in s.stores.iter().enumerate() {
        if !(1..=MAX_STORES).contains(&store.count) {
            return Err(err(
                &format!("stores[{i}].count"),
                format!("须在 1 到 {MAX_STORES} 之间 / must be in 1..={MAX_STORES}"),
            ));
        }
        non_negative(&format!("stores[{i}].share"), store.share)?;
    }
    if s.stores.iter().map(|c| c.share).sum::<f64>() <= 0.0 {
        return Err(err("stores", "各类门店的 share 之和须大于 0 / the shares must add up to more than 0"));
    }
    share("buying.first_purchase", s.buying.first_purchase)?;
    non_negative("buying.orders_per_day", s.buying.orders_per_day)?;
    if s.buying.orders_per_day > 20.0 {
        return Err(err("buying.orders_per_day", "每人每天至多 20 单 / at most 20 orders per member per day"));
    }
    check_dist("buying.amount", &s.buying.amount)?;
    let sell = &s.selling;
    share("selling.hold_to_cap", sell.hold_to_cap)?;
    share("selling.take_profit", sell.take_profit)?;
    share("selling.pessimist", sell.pessimist)?;
    if (sell.hold_to_cap + sell.take_profit + sell.pessimist - 1.0).abs() > 1e-9 {
        return Err(err("selling", "hold_to_cap + take_profit + pessimist 须等于 1 / must add up to 1"));
    }
    non_negative("selling.take_profit_gain", sell.take_profit_gain)?;
    if sell.pessimism_window_days == 0 {
        return Err(err("selling.pessimism_window_days", "至少 1 天 / at least 1 day"));
    }
    if !sell.pessimism_growth_below.is_finite() {
        return Err(err("selling.pessimism_growth_below", "须为有限数 / must be finite"));
    }
    share("selling.pessimism_sell_probability", sell.pessimism_sell_probability)?;
    share("reentry.probability", s.reentry.probability)?;
    for (i, inj) in s.injections.iter().enumerate() {
        day_in(&format!("injections[{i}].day"), inj.day, s.horizon_days)?;
    }
    for (i, c) in s.campaigns.iter().enumerate() {
        day_in(&format!("campaigns[{i}].start_day"), c.start_day, s.horizon_days)?;
        if c.end_day < c.start_day {
            return Err(err(&format!("campaigns[{i}].end_day"), "不能早于 start_day / must not be before start_day"));
        }
    }
    let mut spans: Vec<(u32, u32)> = s.campaigns.iter().map(|c| (c.start_day, c.end_day)).collect();
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 <= w[0].1) {
        return Err(err(
            "campaigns",
            "活动时间不能重叠（同一时间只能有一个）/ campaigns must not overlap (one at a time)",
        ));
    }
    if let Some(legacy) = &s.legacy {
        day_in("legacy.day", legacy.day, s.horizon_days)?;
        check_dist("legacy.coins", &legacy.coins)?;
        if legacy.release_every_days == 0 {
            return Err(err("legacy.release_every_days", "至少 1 天 / at least 1 day"));
        }
    }
    check_attacks(s)?;
    if let Some(sweep) = &s.sweep {
        if sweep.values.is_empty() {
            return Err(err("sweep.values", "至少一个值 / at least one value"));
        }
        if sweep.parameter.starts_with("sweep") || sweep.parameter.is_empty() {
            return Err(err("sweep.parameter", "不能扫描这个参数 / this parameter cannot be swept"));
        }
    }
    Ok(())
}

fn check_attacks(s: &Scenario) -> Result<(), ScenarioError> {
    let a = &s.attacks;
    let stores: u64 = s.stores.iter().map(|c| u64::from(c.count)).sum();
    if u64::from(a.wash_stores) > stores {
        return Err(err(
            "attacks.wash_stores",
            format!("不能多于门店数 {stores} / must not exceed the {stores} stores"),
        ));
    }
    for (field, v) in
        [("attacks.wash_orders_per_day", a.wash_orders_per_day), ("attacks.fake_orders_per_day", a.fake_orders_per_day)]
    {
        non_negative(field, v)?;
        if v > 20.0 {
            return Err(err(field, "每人每天至多 20 单 / at most 20 orders per member per day"));
        }
    }
    check_dist("attacks.wash_amount", &a.wash_amount)?;
    check_dist("attacks.fake_amount", &a.fake_amount)?;
    if u64::from(a.farmers) * u64::from(a.fake_referees) > MAX_FAKE_MEMBERS {
        return Err(err(
            "attacks.fake_referees",
            format!("farmers × fake_referees 至多 {MAX_FAKE_MEMBERS} / at most {MAX_FAKE_MEMBERS} fake members in all"),
        ));
    }
    if a.fake_referees > 0 && a.farmers == 0 {
        return Err(err(
            "attacks.farmers",
            "fake_referees 需要至少一个 farmer / fake referees need at least one farmer",
        ));
    }
    Ok(())
}

fn check_dist(field: &str, d: &Dist) -> Result<(), ScenarioError> {
    let need = |name: &str, v: Option<f64>| -> Result<f64, ScenarioError> {
        let v = v.ok_or_else(|| {
            err(
                &format!("{field}.{name}"),
                format!("{} 分布需要 {name} / the {} distribution needs {name}", d.dist, d.dist),
            )
        })?;
        non_negative(&format!("{field}.{name}"), v)?;
        Ok(v)
    };
    match d.dist.as_str() {
        "fixed" => {
            need("value", d.value)?;
        }
        "uniform" => {
            if need("max", d.max)? < need("min", d.min)? {
                return Err(err(&format!("{field}.max"), "max 不能小于 min / max must not be below min"));
            }
        }
        "lognormal" => {
            need("median", d.median)?;
            need("sigma", d.sigma)?;
        }
        "exponential" => {
            need("mean", d.mean)?;
        }
        other => {
            return Err(err(
                &format!("{field}.dist"),
                format!("未知分布 / unknown distribution {other:?} (fixed, uniform, lognormal, exponential)"),
            ))
        }
    }
    for (name, v) in [("min", d.min), ("max", d.max)] {
        if let Some(v) = v {
            non_negative(&format!("{field}.{name}"), v)?;
        }
    }
    Ok(())
}

/// The scenario with `parameter` (a dotted path; `rules.` for a rule, an optional `scenario.`
/// prefix for anything else) set to `value`. A rules value stays a string; a scenario value is
/// read as a TOML value (`"40"` → 40) unless the key already holds a string.
pub fn with_parameter(loaded: &Loaded, parameter: &str, value: &str) -> Result<Loaded, ScenarioError> {
    let path = parameter.strip_prefix("scenario.").unwrap_or(parameter);
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(err("sweep.parameter", format!("参数路径无效 / not a dotted path: {parameter:?}")));
    }
    let mut doc = loaded.doc.clone();
    doc.remove("sweep");
    let mut table = &mut doc;
    for key in &keys[..keys.len() - 1] {
        let entry = table.entry(key.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| err("sweep.parameter", format!("{key} 不是一个表 / {key} is not a table in {parameter}")))?;
    }
    let last = keys[keys.len() - 1];
    let is_string = keys[0] == "rules" || table.get(last).is_some_and(|v| v.is_str());
    let parsed = if is_string {
        toml::Value::String(value.to_string())
    } else {
        let wrapped: toml::Table = toml::from_str(&format!("v = {value}"))
            .map_err(|_| err(parameter, format!("不是有效的 TOML 值 / not a TOML value: {value:?}")))?;
        wrapped["v"].clone()
    };
    table.insert(last.to_string(), parsed);
    from_doc(doc, loaded.text.clone())
        .map_err(|e| ScenarioError { message: format!("{} = {value}: {}", parameter, e.message), ..e })
}

/// The effective rules as a TOML document.
pub fn rules_toml(rules: &Rules) -> String {
    let mut out = String::new();
    for (section, keys) in rules.to_doc() {
        out.push_str(&format!("[{section}]\n"));
        for (key, value) in keys.unwrap_or_default() {
            out.push_str(&format!("{key} = \"{}\"\n", value.unwrap_or_default()));
        }
        out.push('\n');
    }
    out
}
