//! Insight for the console: per-day figures (Beijing days), period-over-period comparisons,
//! leaderboards, the per-day conservation table, the rule-change history, background jobs (the
//! journal chain check) and the scheduled jobs, and legacy-debt coins in batches.
//!
//! The per-day figures come from the journal itself: a per-service aggregator re-applies the
//! journal once (as the projector does, with change recording on) and then, on each request,
//! only the entries appended since, keeping one row per Beijing day. It checks the chain hash
//! of the last entry it read, so a different journal (a restore) is aggregated from scratch.
//! Pool in-flow and out-flow are the sums of each entry's positive and negative change of the
//! pool.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, UtcOffset, Weekday};
use utoipa::{IntoParams, ToSchema};
use zengzhi_core::command::Command;
use zengzhi_core::engine::Reason;
use zengzhi_core::num::{format_money_wide, format_price, Fen, Units};
use zengzhi_core::{Engine, Rules};
use zengzhi_journal::recovery::reapply;
use zengzhi_journal::time_fmt::parse_at;
use zengzhi_journal::Hash;

use super::{command_of, ApiRouter, Q};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::guards::{CanFinance, CanOperate, CanRead};
use crate::views::{Money, Points, Price};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        stats_daily,
        stats_compare,
        leaderboards,
        finance_daily,
        start_verify,
        get_job,
        list_jobs,
        coins_batch
    ]
}

/// The longest range of `/v1/admin/stats/daily` and `/v1/admin/finance/daily`, in days.
pub const MAX_DAYS: i64 = 366;

fn beijing() -> UtcOffset {
    UtcOffset::from_hms(8, 0, 0).expect("valid offset")
}

/// Today in Beijing.
pub fn beijing_today() -> Date {
    time::OffsetDateTime::now_utc().to_offset(beijing()).date()
}

// ---- the aggregator ---------------------------------------------------------------------

/// The money balances at a day's close (cumulative, as in `/v1/proof`).
#[derive(Debug, Clone, Copy, Default)]
struct Balances {
    commissions: i128,
    injected: i128,
    subsidies: i128,
    pool: i128,
    member_cash: i128,
    platform_revenue: i128,
    dividend_pool: i128,
    withdrawn: i128,
    cash_spent: i128,
    redeemed: i128,
}

impl Balances {
    fn of(e: &Engine) -> Balances {
        let t = e.totals();
        let a = e.aggregates();
        let f = |v: Fen| i128::from(v.to_fen());
        Balances {
            commissions: f(t.commissions_fen),
            injected: f(t.injected_fen),
            subsidies: f(t.subsidies_fen),
            pool: f(e.pool_fen()),
            member_cash: f(a.member_cash_fen),
            platform_revenue: f(e.platform_revenue_fen()),
            dividend_pool: f(e.dividend_pool_fen()),
            withdrawn: f(t.withdrawn_fen),
            cash_spent: f(t.cash_spent_fen),
            redeemed: f(t.redeemed_fen),
        }
    }
    fn money_in(&self) -> i128 {
        self.commissions + self.injected + self.subsidies
    }
    fn money_where(&self) -> i128 {
        self.pool
            + self.member_cash
            + self.platform_revenue
            + self.dividend_pool
            + self.withdrawn
            + self.cash_spent
            + self.redeemed
    }
}

/// One Beijing day's figures.
#[derive(Debug, Clone, Default)]
struct Day {
    entries: u64,
    orders: u64,
    gmv: i128,
    commissions: i128,
    new_members: u64,
    exits: u64,
    exit_units: i128,
    exit_payout: i128,
    sells: u64,
    sold_units: i128,
    sell_payout: i128,
    withdrawals: u64,
    withdrawn: i128,
    pool_in: i128,
    pool_out: i128,
    injections: u64,
    injected: i128,
    rewards: i128,
    close_price: (i64, i64),
    close_pool: i64,
    close_supply: i64,
    close: Balances,
    /// Stores: (orders, GMV).
    stores: HashMap<String, (u64, i128)>,
    /// Rewards received by member.
    referrers: HashMap<String, i128>,
}

/// One rule change of the journal.
#[derive(Debug, Clone)]
struct RuleChange {
    seq: u64,
    at: String,
    changes: Vec<(String, Option<String>, Option<String>)>,
}

struct Aggregator {
    engine: Engine,
    position: u64,
    chain: Hash,
    days: BTreeMap<Date, Day>,
    rule_changes: Vec<RuleChange>,
}

impl Aggregator {
    fn new() -> Aggregator {
        let mut engine = Engine::new(Rules::default());
        engine.record_changes(true);
        Aggregator { engine, position: 0, chain: Hash::default(), days: BTreeMap::new(), rule_changes: Vec::new() }
    }

    /// Reads the entries after the position (from scratch when the journal is another one).
    fn catch_up(&mut self, b: &mut dyn crate::store::Conn) -> zengzhi_journal::Result<()> {
        if self.position > 0 {
            let same = b.read(self.position, 1)?.first().is_some_and(|e| e.seq == self.position && e.hash == self.chain);
            if !same {
                *self = Aggregator::new();
            }
        }
        loop {
            let page = b.read(self.position + 1, 2_000)?;
            if page.is_empty() {
                return Ok(());
            }
            for e in &page {
                self.apply(e)?;
            }
        }
    }

    fn apply(&mut self, e: &zengzhi_journal::Entry) -> zengzhi_journal::Result<()> {
        let before_pool = i128::from(self.engine.pool_fen().to_fen());
        let before_members = self.engine.member_count() as u64;
        let before_exits = self.engine.totals().exits;
        let before_withdrawn = i128::from(self.engine.totals().withdrawn_fen.to_fen());
        let before_injected = i128::from(self.engine.totals().injected_fen.to_fen());
        let before_rules = flat_rules(self.engine.rules());
        let (command, applied) = reapply(&mut self.engine, e.seq, &e.command)?;
        let date = parse_at(&e.at).map_or(Date::MIN, |t| t.to_offset(beijing()).date());
        let engine = &mut self.engine;
        let changes = engine.take_changes();
        let day = self.days.entry(date).or_default();
        day.entries += 1;
        match &command {
            Command::Order { merchant, amount_fen, .. } => {
                day.orders += 1;
                let amount = i128::from(amount_fen.to_fen());
                day.gmv += amount;
                day.commissions += i128::from(applied.commission_fen.to_fen());
                if let Some(m) = merchant {
                    let s = day.stores.entry(m.to_string()).or_default();
                    s.0 += 1;
                    s.1 += amount;
                }
            }
            Command::Sell { .. } => day.sells += 1,
            Command::Withdraw { .. } => day.withdrawals += 1,
            Command::Inject { .. } => day.injections += 1,
            Command::UpdateRules { .. } => {
                let after = flat_rules(engine.rules());
                let mut keys: Vec<&String> = before_rules.keys().chain(after.keys()).collect();
                keys.sort();
                keys.dedup();
                let changes: Vec<_> = keys
                    .into_iter()
                    .filter(|k| before_rules.get(*k) != after.get(*k))
                    .map(|k| (k.clone(), before_rules.get(k).cloned(), after.get(k).cloned()))
                    .collect();
                self.rule_changes.push(RuleChange { seq: e.seq, at: e.at.clone(), changes });
            }
            _ => {}
        }
        for c in &changes {
            let cash = i128::from(c.cash_fen.to_fen());
            let held = i128::from(c.points.to_units()) + i128::from(c.locked.to_units());
            match c.reason {
                Reason::Sell => {
                    day.sold_units -= held;
                    day.sell_payout += cash;
                }
                Reason::Exit => {
                    day.exit_units -= held;
                    day.exit_payout += cash;
                }
                Reason::Reward(_) => {
                    day.rewards += cash;
                    *day.referrers.entry(engine.member_id(c.member).to_string()).or_default() += cash;
                }
                _ => {}
            }
        }
        let pool = i128::from(engine.pool_fen().to_fen());
        if pool > before_pool {
            day.pool_in += pool - before_pool;
        } else {
            day.pool_out += before_pool - pool;
        }
        day.new_members += (engine.member_count() as u64).saturating_sub(before_members);
        day.exits += engine.totals().exits - before_exits;
        day.withdrawn += i128::from(engine.totals().withdrawn_fen.to_fen()) - before_withdrawn;
        day.injected += i128::from(engine.totals().injected_fen.to_fen()) - before_injected;
        let (p, n) = engine.reference_price();
        day.close_price = (p.to_fen(), n.to_units());
        day.close_pool = engine.pool_fen().to_fen();
        day.close_supply = engine.supply_units().to_units();
        day.close = Balances::of(engine);
        self.position = e.seq;
        self.chain = e.hash;
        Ok(())
    }

    /// The last day with entries before `date`.
    fn before(&self, date: Date) -> Option<&Day> {
        self.days.range(..date).next_back().map(|(_, d)| d)
    }
}

/// The rules as `section.key` → value.
pub(crate) fn flat_rules(rules: &Rules) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (section, keys) in rules.to_doc() {
        for (k, v) in keys.unwrap_or_default() {
            if let Some(v) = v {
                out.insert(format!("{section}.{k}"), v);
            }
        }
    }
    out
}

type Shared = Arc<Mutex<Aggregator>>;

/// What the insight routes keep between requests, one per service (in [`AppState`]): the
/// per-day aggregator and the recent background jobs.
pub struct InsightState {
    days: Shared,
    jobs: Jobs,
}

impl Default for InsightState {
    fn default() -> Self {
        Self { days: Arc::new(Mutex::new(Aggregator::new())), jobs: Jobs::default() }
    }
}

/// The aggregator of this service.
fn aggregator(state: &Arc<AppState>) -> Shared {
    state.insight.days.clone()
}

/// Brings the aggregator up to the journal and reads it with `f`.
async fn with_days<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&Aggregator) -> T + Send + 'static,
) -> ApiResult<T> {
    let agg = aggregator(state);
    state
        .read(move |b| {
            let mut a = agg.lock().unwrap_or_else(|e| e.into_inner());
            a.catch_up(b)?;
            Ok(f(&a))
        })
        .await
}

// ---- per-day figures ----------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First Beijing day, `YYYY-MM-DD` (default: 29 days before `to`).
    from: Option<String>,
    /// Last Beijing day, `YYYY-MM-DD` (default: today). At most 366 days in all.
    to: Option<String>,
}

fn parse_date(text: &str, name: &str) -> ApiResult<Date> {
    let bad = || ApiError::bad_request(ApiCode::InvalidQuery, format!("{name} must be a date YYYY-MM-DD / {name} 须为日期 YYYY-MM-DD"));
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts[..] else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(m).map_err(|_| bad())?;
    Date::from_calendar_date(y, month, d).map_err(|_| bad())
}

/// The days of a range query: (from, to), checked.
pub fn range_of(from: Option<&str>, to: Option<&str>, today: Date) -> ApiResult<(Date, Date)> {
    let to = match to {
        Some(t) => parse_date(t, "to")?,
        None => today,
    };
    let from = match from {
        Some(f) => parse_date(f, "from")?,
        None => to - Duration::days(29),
    };
    if from > to {
        return Err(ApiError::bad_request(ApiCode::InvalidQuery, "from is after to / 开始日期晚于结束日期"));
    }
    if (to - from).whole_days() + 1 > MAX_DAYS {
        return Err(ApiError::bad_request(
            ApiCode::InvalidQuery,
            format!("at most {MAX_DAYS} days at once / 一次最多查询 {MAX_DAYS} 天"),
        ));
    }
    Ok((from, to))
}

fn days_of(from: Date, to: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        out.push(d);
        d = d.next_day().expect("in range");
    }
    out
}

/// One Beijing day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyRow {
    /// `YYYY-MM-DD`, Asia/Shanghai.
    pub date: String,
    /// Journal entries that day.
    pub entries: u64,
    pub orders: u64,
    pub gmv: Money,
    pub commissions: Money,
    pub new_members: u64,
    /// Members exited (capped exits).
    pub exits: u64,
    /// Points force-sold by exits.
    pub exit_units: Points,
    /// Cash paid by exits.
    pub exit_payout: Money,
    pub sells: u64,
    pub sold_units: Points,
    /// Cash paid for sold points.
    pub sell_payout: Money,
    /// Withdrawals paid.
    pub withdrawals: u64,
    /// Withdrawn, net of fee.
    pub withdrawn: Money,
    /// Σ of each entry's rise of the pool.
    pub pool_in: Money,
    /// Σ of each entry's fall of the pool.
    pub pool_out: Money,
    pub injections: u64,
    pub injected: Money,
    /// Rewards paid (referral, recruitment, agent, peer).
    pub rewards: Money,
    pub close_price: Price,
    pub close_pool: Money,
    pub close_supply: Points,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyStats {
    pub from: String,
    pub to: String,
    pub timezone: String,
    /// The last journal entry counted.
    pub through_seq: u64,
    pub days: Vec<DailyRow>,
}

fn money(v: i128) -> Money {
    Money(format_money_wide(v))
}

fn points(v: i128) -> Points {
    Points::units(Units::from_wide(v).unwrap_or(Units::ZERO))
}

fn row(date: Date, day: Option<&Day>, last: Option<&Day>) -> DailyRow {
    let empty = Day::default();
    let d = day.unwrap_or(&empty);
    let close = day.or(last).unwrap_or(&empty);
    let (p, n) = close.close_price;
    DailyRow {
        date: date.to_string(),
        entries: d.entries,
        orders: d.orders,
        gmv: money(d.gmv),
        commissions: money(d.commissions),
        new_members: d.new_members,
        exits: d.exits,
        exit_units: points(d.exit_units),
        exit_payout: money(d.exit_payout),
        sells: d.sells,
        sold_units: points(d.sold_units),
        sell_payout: money(d.sell_payout),
        withdrawals: d.withdrawals,
        withdrawn: money(d.withdrawn),
        pool_in: money(d.pool_in),
        pool_out: money(d.pool_out),
        injections: d.injections,
        injected: money(d.injected),
        rewards: money(d.rewards),
        close_price: Price(format_price(Fen::from_fen(p), Units::from_units(n))),
        close_pool: Money::fen(Fen::from_fen(close.close_pool)),
        close_supply: Points::units(Units::from_units(close.close_supply)),
    }
}

/// Days from..to, each with its own figures and the closing figures carried from the last day
/// with entries.
fn rows(a: &Aggregator, from: Date, to: Date) -> Vec<DailyRow> {
    let mut last = a.before(from).cloned();
    let mut out = Vec::new();
    for date in days_of(from, to) {
        let day = a.days.get(&date);
        out.push(row(date, day, last.as_ref()));
        if let Some(d) = day {
            last = Some(d.clone());
        }
    }
    out
}

/// 每日数据 / Figures per Beijing day (orders, GMV, commissions, members, exits, sells, withdrawals, pool flows, injections, closing price, pool and supply)
#[utoipa::path(get, path = "/v1/admin/stats/daily", tag = "insight", params(RangeQuery), responses((status = 200, body = DailyStats)))]
pub async fn stats_daily(_: CanRead, State(state): S, Q(q): Q<RangeQuery>) -> ApiResult<Json<DailyStats>> {
    let (from, to) = range_of(q.from.as_deref(), q.to.as_deref(), beijing_today())?;
    let (through_seq, days) = with_days(&state, move |a| (a.position, rows(a, from, to))).await?;
    Ok(Json(DailyStats {
        from: from.to_string(),
        to: to.to_string(),
        timezone: "Asia/Shanghai".into(),
        through_seq,
        days,
    }))
}

// ---- period over period ---------------------------------------------------------------------

/// One figure of two periods.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delta {
    /// This period (a count, or yuan with two decimals).
    pub current: String,
    pub previous: String,
    /// current − previous.
    pub change: String,
    /// The change in percent of the previous value, two decimals (rounded toward zero); null
    /// when the previous value is 0.
    #[schema(required = true)]
    pub change_pct: Option<String>,
}

/// The figures of the dashboard's cards, of two periods.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFigures {
    pub orders: Delta,
    pub gmv: Delta,
    pub commissions: Delta,
    pub new_members: Delta,
    pub exits: Delta,
    pub sells: Delta,
    /// Cash paid to members for sold and exited points.
    pub payouts: Delta,
    pub withdrawn: Delta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Comparison {
    /// Today (Beijing).
    pub today: String,
    /// 今日 vs 昨日.
    pub day: PeriodFigures,
    /// 本周 vs 上周 (weeks start on Monday; this week so far vs the whole last week).
    pub week: PeriodFigures,
}

/// Sums of a span of days, in fen or counts.
#[derive(Default, Clone, Copy)]
struct Sums {
    orders: i128,
    gmv: i128,
    commissions: i128,
    new_members: i128,
    exits: i128,
    sells: i128,
    payouts: i128,
    withdrawn: i128,
}

fn sums(a: &Aggregator, from: Date, to: Date) -> Sums {
    let mut s = Sums::default();
    for (_, d) in a.days.range(from..=to) {
        s.orders += i128::from(d.orders);
        s.gmv += d.gmv;
        s.commissions += d.commissions;
        s.new_members += i128::from(d.new_members);
        s.exits += i128::from(d.exits);
        s.sells += i128::from(d.sells);
        s.payouts += d.sell_payout + d.exit_payout;
        s.withdrawn += d.withdrawn;
    }
    s
}

/// `change / previous` in percent with two decimals, toward zero.
pub fn pct(change: i128, previous: i128) -> Option<String> {
    if previous == 0 {
        return None;
    }
    let hundredths = change * 10_000 / previous;
    let sign = if hundredths < 0 { "-" } else { "" };
    let a = hundredths.abs();
    Some(format!("{sign}{}.{:02}", a / 100, a % 100))
}

fn delta(current: i128, previous: i128, is_money: bool) -> Delta {
    let f = |v: i128| if is_money { format_money_wide(v) } else { v.to_string() };
    Delta { current: f(current), previous: f(previous), change: f(current - previous), change_pct: pct(current - previous, previous) }
}

fn figures(c: Sums, p: Sums) -> PeriodFigures {
    PeriodFigures {
        orders: delta(c.orders, p.orders, false),
        gmv: delta(c.gmv, p.gmv, true),
        commissions: delta(c.commissions, p.commissions, true),
        new_members: delta(c.new_members, p.new_members, false),
        exits: delta(c.exits, p.exits, false),
        sells: delta(c.sells, p.sells, false),
        payouts: delta(c.payouts, p.payouts, true),
        withdrawn: delta(c.withdrawn, p.withdrawn, true),
    }
}

/// 环比 / Period over period: today vs yesterday, this week vs last week
#[utoipa::path(get, path = "/v1/admin/stats/compare", tag = "insight", responses((status = 200, body = Comparison)))]
pub async fn stats_compare(_: CanRead, State(state): S) -> ApiResult<Json<Comparison>> {
    let today = beijing_today();
    let comparison = with_days(&state, move |a| {
        let yesterday = today.previous_day().expect("in range");
        let monday = today - Duration::days(i64::from(today.weekday().number_days_from_monday()));
        let last_monday = monday - Duration::days(7);
        let last_sunday = monday - Duration::days(1);
        debug_assert_eq!(last_sunday.weekday(), Weekday::Sunday);
        Comparison {
            today: today.to_string(),
            day: figures(sums(a, today, today), sums(a, yesterday, yesterday)),
            week: figures(sums(a, monday, today), sums(a, last_monday, last_sunday)),
        }
    })
    .await?;
    Ok(Json(comparison))
}

// ---- leaderboards -------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// The last this many Beijing days, today included: 1 to 366 (default 7).
    days: Option<i64>,
    /// How many of each: 1 to 100 (default 10).
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreRank {
    pub merchant: String,
    pub orders: u64,
    pub gmv: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferrerRank {
    pub member: String,
    pub rewards: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Leaderboards {
    pub from: String,
    pub to: String,
    /// Stores by GMV, highest first.
    pub stores: Vec<StoreRank>,
    /// Members by rewards received, highest first.
    pub referrers: Vec<ReferrerRank>,
}

/// 排行榜 / Leaderboards: stores by flow, referrers by rewards
#[utoipa::path(get, path = "/v1/admin/leaderboards", tag = "insight", params(BoardQuery), responses((status = 200, body = Leaderboards)))]
pub async fn leaderboards(_: CanRead, State(state): S, Q(q): Q<BoardQuery>) -> ApiResult<Json<Leaderboards>> {
    let days = q.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(ApiCode::InvalidQuery, "days must be 1 to 366 / days 须为 1 到 366"));
    }
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(ApiCode::InvalidQuery, "limit must be 1 to 100 / limit 须为 1 到 100"));
    }
    let to = beijing_today();
    let from = to - Duration::days(days - 1);
    let (stores, referrers) = with_days(&state, move |a| {
        let mut stores: HashMap<String, (u64, i128)> = HashMap::new();
        let mut referrers: HashMap<String, i128> = HashMap::new();
        for (_, d) in a.days.range(from..=to) {
            for (k, (n, v)) in &d.stores {
                let s = stores.entry(k.clone()).or_default();
                s.0 += n;
                s.1 += v;
            }
            for (k, v) in &d.referrers {
                *referrers.entry(k.clone()).or_default() += v;
            }
        }
        let mut stores: Vec<_> = stores.into_iter().collect();
        stores.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
        let mut referrers: Vec<_> = referrers.into_iter().filter(|(_, v)| *v > 0).collect();
        referrers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (
            stores
                .into_iter()
                .take(limit)
                .map(|(merchant, (orders, gmv))| StoreRank { merchant, orders, gmv: money(gmv) })
                .collect(),
            referrers.into_iter().take(limit).map(|(member, v)| ReferrerRank { member, rewards: money(v) }).collect(),
        )
    })
    .await?;
    Ok(Json(Leaderboards { from: from.to_string(), to: to.to_string(), stores, referrers }))
}

// ---- conservation per day ----------------------------------------------------------------------

/// One day of the conservation table: the money that entered that day, and the balances at
/// its close (cumulative): `in_total` = `where_total` on every day.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConservationRow {
    pub date: String,
    /// Entered that day.
    pub day_commissions: Money,
    pub day_injected: Money,
    pub day_subsidies: Money,
    pub day_in: Money,
    /// All money that entered, through that day's close.
    pub in_total: Money,
    pub pool: Money,
    pub member_cash: Money,
    pub platform_revenue: Money,
    pub dividend_pool: Money,
    pub withdrawn: Money,
    pub cash_spent: Money,
    pub redeemed: Money,
    /// Where the money is, at the close.
    pub where_total: Money,
    /// `in_total` = `where_total`.
    pub balanced: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConservationDaily {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub through_seq: u64,
    /// Oldest first.
    pub days: Vec<ConservationRow>,
    /// Every day balanced.
    pub balanced: bool,
}

/// 每日资金守恒 / Money conservation per Beijing day (money in = money where it is)
#[utoipa::path(get, path = "/v1/admin/finance/daily", tag = "insight", params(RangeQuery), responses((status = 200, body = ConservationDaily)))]
pub async fn finance_daily(_: CanRead, State(state): S, Q(q): Q<RangeQuery>) -> ApiResult<Json<ConservationDaily>> {
    let (from, to) = range_of(q.from.as_deref(), q.to.as_deref(), beijing_today())?;
    let (through_seq, days) = with_days(&state, move |a| {
        let mut prev = a.before(from).map(|d| d.close).unwrap_or_default();
        let mut out = Vec::new();
        for date in days_of(from, to) {
            let close = a.days.get(&date).map_or(prev, |d| d.close);
            out.push(ConservationRow {
                date: date.to_string(),
                day_commissions: money(close.commissions - prev.commissions),
                day_injected: money(close.injected - prev.injected),
                day_subsidies: money(close.subsidies - prev.subsidies),
                day_in: money(close.money_in() - prev.money_in()),
                in_total: money(close.money_in()),
                pool: money(close.pool),
                member_cash: money(close.member_cash),
                platform_revenue: money(close.platform_revenue),
                dividend_pool: money(close.dividend_pool),
                withdrawn: money(close.withdrawn),
                cash_spent: money(close.cash_spent),
                redeemed: money(close.redeemed),
                where_total: money(close.money_where()),
                balanced: close.money_in() == close.money_where(),
            });
            prev = close;
        }
        (a.position, out)
    })
    .await?;
    let balanced = days.iter().all(|d| d.balanced);
    Ok(Json(ConservationDaily {
        from: from.to_string(),
        to: to.to_string(),
        timezone: "Asia/Shanghai".into(),
        through_seq,
        days,
        balanced,
    }))
}

// ---- rule history (served by routes/admin.rs) ---------------------------------------------

/// One changed key of a rule change.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleKeyChange {
    /// `section.key`.
    pub key: String,
    #[schema(required = true)]
    pub before: Option<String>,
    #[schema(required = true)]
    pub after: Option<String>,
}

/// One rule change of the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleHistoryItem {
    pub seq: u64,
    /// When it was journaled (UTC, RFC 3339).
    pub at: String,
    /// Who, from the operation log (null where not known: the initial rules, a replayed file).
    #[schema(required = true)]
    pub who: Option<String>,
    pub changes: Vec<RuleKeyChange>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleHistory {
    /// Newest first.
    pub items: Vec<RuleHistoryItem>,
}

/// Every rule change of the journal, newest first, with who from the operation log.
pub(crate) async fn rule_history(state: &Arc<AppState>) -> ApiResult<RuleHistory> {
    let changes = with_days(state, |a| a.rule_changes.clone()).await?;
    let audit = state
        .read(|b| {
            b.audit_entries(&crate::store::AuditFilter { action: Some("update_rules"), limit: 100_000, ..Default::default() })
        })
        .await?;
    // Each audited change is recorded just after its entry was journaled: pair them in order,
    // an audit record with the first unpaired change journaled at or before it.
    let mut who: Vec<Option<String>> = vec![None; changes.len()];
    let mut next = 0;
    for r in &audit {
        let at = parse_at(&r.at);
        while next < changes.len() {
            let journaled = parse_at(&changes[next].at);
            next += 1;
            if let (Some(j), Some(a)) = (journaled, at) {
                if j <= a && a - j <= time::Duration::seconds(60) {
                    who[next - 1] = Some(r.who.clone());
                    break;
                }
            }
        }
    }
    let items = changes
        .into_iter()
        .zip(who)
        .rev()
        .map(|(c, who)| RuleHistoryItem {
            seq: c.seq,
            at: c.at,
            who,
            changes: c.changes.into_iter().map(|(key, before, after)| RuleKeyChange { key, before, after }).collect(),
        })
        .collect();
    Ok(RuleHistory { items })
}

// ---- background jobs -----------------------------------------------------------------------------

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

/// What the chain check found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyResult {
    /// The chain, every entry re-applied, the invariants and the snapshots all check out.
    pub ok: bool,
    pub entries: u64,
    /// The chain hash at the end (hex), when the chain checked out.
    #[schema(required = true)]
    pub head_hash: Option<String>,
    pub snapshots_checked: u64,
    /// Snapshots that did not check out, with why.
    pub snapshots_bad: Vec<String>,
    /// The first entry that did not check out.
    #[schema(required = true)]
    pub bad_seq: Option<u64>,
    /// What was wrong (English, from the journal's check).
    #[schema(required = true)]
    pub problem: Option<String>,
    #[schema(required = true)]
    pub summary: Option<String>,
}

/// A background job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: u64,
    /// `verify`.
    pub kind: String,
    pub state: JobState,
    /// Entries checked so far.
    pub checked: u64,
    /// Entries to check.
    pub total: u64,
    pub started_at: String,
    #[schema(required = true)]
    pub finished_at: Option<String>,
    pub started_by: String,
    #[schema(required = true)]
    pub result: Option<VerifyResult>,
    /// Why the job could not run (storage error), when failed.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// The answer to starting a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobStarted {
    /// false: a check was already running, and this is it.
    pub started: bool,
    pub job: Job,
}

/// A scheduled job (see the scheduler).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledJob {
    pub name: String,
    /// `daily at HH:MM Asia/Shanghai`.
    pub interval: String,
    /// `HH:MM`, Beijing.
    pub at: String,
    /// The Beijing day of the last run, if any.
    #[schema(required = true)]
    pub last_run: Option<String>,
    /// The next run, Beijing `YYYY-MM-DD HH:MM`.
    pub next_run: String,
    /// The last run's outcome, from the operation log.
    #[schema(required = true)]
    pub last_result: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Recent background jobs, newest first.
    pub items: Vec<Job>,
    /// The configured scheduled jobs.
    pub scheduled: Vec<ScheduledJob>,
}

/// The jobs of a service, newest last (at most `KEEP`).
type Jobs = Arc<Mutex<Vec<Job>>>;
const KEEP: usize = 20;

fn jobs(state: &Arc<AppState>) -> Jobs {
    state.insight.jobs.clone()
}

fn update(jobs: &Jobs, id: u64, f: impl FnOnce(&mut Job)) {
    let mut all = jobs.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(j) = all.iter_mut().find(|j| j.id == id) {
        f(j);
    }
}

/// 立即校验日志链 / Start the journal chain check in the background (one at a time: while one runs, answers it)
#[utoipa::path(post, path = "/v1/admin/jobs/verify", tag = "insight", responses((status = 200, body = JobStarted)))]
pub async fn start_verify(who: CanFinance, State(state): S, body: Bytes) -> ApiResult<Json<JobStarted>> {
    super::no_fields(&body)?;
    let list = jobs(&state);
    let total = state.writer.stats().head().0;
    let job = {
        let mut all = list.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = all.iter().find(|j| j.state == JobState::Running) {
            return Ok(Json(JobStarted { started: false, job: running.clone() }));
        }
        let id = all.last().map_or(1, |j| j.id + 1);
        let job = Job {
            id,
            kind: "verify".into(),
            state: JobState::Running,
            checked: 0,
            total,
            started_at: zengzhi_journal::time_fmt::now_rfc3339(),
            finished_at: None,
            started_by: who.actor().who(),
            result: None,
            error: None,
        };
        all.push(job.clone());
        let excess = all.len().saturating_sub(KEEP);
        all.drain(..excess);
        job
    };
    state.audit(who.actor(), "verify_journal", format!("job {}", job.id)).await;
    let id = job.id;
    let config = state.config.clone();
    let worker = list.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = config.open_backend().and_then(|mut backend| {
            zengzhi_journal::recovery::verify(backend.as_mut(), 10_000, |seq| {
                update(&worker, id, |j| j.checked = seq.min(j.total.max(seq)));
            })
        });
        let finished_at = Some(zengzhi_journal::time_fmt::now_rfc3339());
        update(&worker, id, |j| {
            j.finished_at = finished_at;
            match outcome {
                Ok(v) => {
                    j.state = JobState::Done;
                    j.checked = v.entries;
                    j.total = v.entries;
                    j.result = Some(VerifyResult {
                        ok: v.snapshots_bad.is_empty(),
                        entries: v.entries,
                        head_hash: Some(zengzhi_journal::hex(&v.head)),
                        snapshots_checked: v.snapshots_checked as u64,
                        snapshots_bad: v.snapshots_bad,
                        bad_seq: None,
                        problem: None,
                        summary: Some(v.engine_summary),
                    });
                }
                Err(zengzhi_journal::Error::Corrupt { seq, what }) => {
                    j.state = JobState::Done;
                    j.checked = seq.saturating_sub(1);
                    j.result = Some(VerifyResult {
                        ok: false,
                        entries: j.total,
                        head_hash: None,
                        snapshots_checked: 0,
                        snapshots_bad: Vec::new(),
                        bad_seq: Some(seq),
                        problem: Some(what),
                        summary: None,
                    });
                }
                Err(e) => {
                    j.state = JobState::Failed;
                    j.error = Some(e.to_string());
                }
            }
        });
    });
    Ok(Json(JobStarted { started: true, job }))
}

/// 后台任务 / One background job: state, progress and result
#[utoipa::path(get, path = "/v1/admin/jobs/{id}", tag = "insight", params(("id" = u64, Path, description = "job id")),
    responses((status = 200, body = Job)))]
pub async fn get_job(_: CanRead, State(state): S, Path(id): Path<String>) -> ApiResult<Json<Job>> {
    let id: u64 = id.parse().map_err(|_| ApiError::not_found("no such job / 没有这个任务"))?;
    let all = jobs(&state);
    let all = all.lock().unwrap_or_else(|e| e.into_inner());
    all.iter().find(|j| j.id == id).cloned().map(Json).ok_or_else(|| ApiError::not_found("no such job / 没有这个任务"))
}

/// 任务列表 / Recent background jobs and the scheduled jobs
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "insight", responses((status = 200, body = JobList)))]
pub async fn list_jobs(_: CanRead, State(state): S) -> ApiResult<Json<JobList>> {
    let items: Vec<Job> = {
        let all = jobs(&state);
        let all = all.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().rev().cloned().collect()
    };
    let scheduled = crate::scheduler::scheduled(&state).await?;
    Ok(Json(JobList { items, scheduled }))
}

// ---- legacy-debt coins in a batch ----------------------------------------------------------------

/// One row of a batch: as parsed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinRow {
    /// 1-based line (CSV) or index + 1 (JSON).
    pub row: usize,
    pub member: String,
    pub amount: String,
}

/// The rows of CSV text `member,amount` (a header line `member,amount` optional; blank lines
/// skipped; `#` starts a comment line). A row without exactly two fields is an error naming it.
pub fn parse_csv(text: &str) -> Result<Vec<CoinRow>, Vec<(usize, String)>> {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(|f| f.trim().trim_matches('"').trim()).collect();
        if rows.is_empty() && bad.is_empty() && fields.len() == 2 && fields[0].eq_ignore_ascii_case("member") {
            continue;
        }
        match fields[..] {
            [member, amount] if !member.is_empty() => {
                rows.push(CoinRow { row: i + 1, member: member.to_string(), amount: amount.to_string() })
            }
            _ => bad.push((i + 1, "a row is member,amount / 每行须为 会员,金额".to_string())),
        }
    }
    if bad.is_empty() {
        Ok(rows)
    } else {
        Err(bad)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoinBatchRow {
    pub member: String,
    /// Yuan, at most two decimals.
    pub amount: String,
}

/// Either CSV text or rows.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoinBatch {
    /// `member,amount` per line, a header line optional.
    pub csv: Option<String>,
    pub rows: Option<Vec<CoinBatchRow>>,
}

/// One row's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoinRowResult {
    pub row: usize,
    pub member: String,
    pub amount: String,
    pub ok: bool,
    /// The journal entry, when granted.
    #[schema(required = true)]
    pub seq: Option<u64>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(required = true)]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoinBatchResult {
    /// Every row valid: the grants were submitted (each row's result says whether the engine
    /// took it). false: nothing was applied; the rows with `ok` false say why.
    pub applied: bool,
    pub granted: usize,
    pub failed: usize,
    /// Σ of the granted amounts.
    pub total: Money,
    pub rows: Vec<CoinRowResult>,
}

/// The most rows of one batch.
pub const MAX_COIN_ROWS: usize = 5_000;

/// 批量发放消费币 / Grant legacy-debt coins in a batch (CSV or rows). Every row is checked first: when any row is invalid nothing is applied and the answer names the rows; rows the engine then rejects are reported each
#[utoipa::path(post, path = "/v1/admin/coins/batch", tag = "insight", request_body = CoinBatch,
    responses((status = 200, body = CoinBatchResult)))]
pub async fn coins_batch(who: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<CoinBatchResult>> {
    let batch: CoinBatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(ApiCode::InvalidJson, format!("{e} / 请求体应为 {{\"csv\": …}} 或 {{\"rows\": […]}}"))
    })?;
    let rows = match (batch.csv, batch.rows) {
        (Some(csv), None) => match parse_csv(&csv) {
            Ok(rows) => rows,
            Err(bad) => {
                let rows = bad
                    .into_iter()
                    .map(|(row, message)| CoinRowResult {
                        row,
                        member: String::new(),
                        amount: String::new(),
                        ok: false,
                        seq: None,
                        error: Some(ApiCode::InvalidCommand.as_str().into()),
                        message: Some(message),
                    })
                    .collect::<Vec<_>>();
                return Ok(Json(CoinBatchResult {
                    applied: false,
                    granted: 0,
                    failed: rows.len(),
                    total: money(0),
                    rows,
                }));
            }
        },
        (None, Some(rows)) => rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| CoinRow { row: i + 1, member: r.member, amount: r.amount })
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                ApiCode::InvalidCommand,
                "give csv or rows, one of them / 请提供 csv 或 rows 之一",
            ))
        }
    };
    if rows.is_empty() {
        return Err(ApiError::bad_request(ApiCode::InvalidCommand, "no rows / 没有数据行"));
    }
    if rows.len() > MAX_COIN_ROWS {
        return Err(ApiError::bad_request(
            ApiCode::BatchTooLarge,
            format!("at most {MAX_COIN_ROWS} rows / 一次最多 {MAX_COIN_ROWS} 行"),
        ));
    }
    // Check every row: the amount and the command, and that the member exists.
    let mut commands = Vec::new();
    let mut results: Vec<CoinRowResult> = Vec::new();
    let names: Vec<String> = rows.iter().map(|r| r.member.clone()).collect();
    let known = state.query(move |e| names.iter().map(|n| e.member(n).is_some()).collect::<Vec<bool>>()).await?;
    for (r, known) in rows.iter().zip(known) {
        let fields = vec![
            (std::borrow::Cow::Borrowed("member"), zengzhi_core::json::Json::Str(r.member.as_str().into())),
            (std::borrow::Cow::Borrowed("amount"), zengzhi_core::json::Json::Str(r.amount.as_str().into())),
        ];
        let checked = command_of("grant_coins", fields, &[]).and_then(|c| {
            if known {
                Ok(c)
            } else {
                Err(ApiError::bad_request(ApiCode::UnknownMember, format!("no member {} / 没有会员 {}", r.member, r.member)))
            }
        });
        let (ok, error, message) = match checked {
            Ok(c) => {
                commands.push(c);
                (true, None, None)
            }
            Err(e) => (false, Some(e.code.as_str().to_string()), Some(e.message)),
        };
        results.push(CoinRowResult {
            row: r.row,
            member: r.member.clone(),
            amount: r.amount.clone(),
            ok,
            seq: None,
            error,
            message,
        });
    }
    if commands.len() != rows.len() {
        // Nothing applied: the valid rows are reported ok but without a seq.
        let failed = results.iter().filter(|r| !r.ok).count();
        return Ok(Json(CoinBatchResult { applied: false, granted: 0, failed, total: money(0), rows: results }));
    }
    let amounts: Vec<i128> = commands
        .iter()
        .map(|c| match c {
            Command::GrantCoins { amount_fen, .. } => i128::from(amount_fen.to_fen()),
            _ => 0,
        })
        .collect();
    let outcomes = state.submit(commands).await?;
    let mut total = 0;
    for ((r, outcome), amount) in results.iter_mut().zip(outcomes).zip(amounts) {
        match super::accepted(outcome) {
            Ok((seq, _, _)) => {
                r.seq = Some(seq);
                total += amount;
            }
            Err(e) => {
                r.ok = false;
                r.error = Some(e.code.as_str().to_string());
                r.message = Some(e.message);
            }
        }
    }
    let granted = results.iter().filter(|r| r.ok).count();
    let failed = results.len() - granted;
    state
        .audit(who.actor(), "grant_coins_batch", format!("{} rows, {granted} granted, total {}", results.len(), format_money_wide(total)))
        .await;
    Ok(Json(CoinBatchResult { applied: true, granted, failed, total: money(total), rows: results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_bounded_and_ordered() {
        let today = Date::from_calendar_date(2026, Month::December, 2).unwrap();
        let (f, t) = range_of(None, None, today).unwrap();
        assert_eq!((f.to_string(), t.to_string()), ("2026-11-03".into(), "2026-12-02".into()));
        assert!(range_of(Some("2026-12-03"), Some("2026-12-02"), today).is_err(), "reversed");
        assert!(range_of(Some("2025-01-01"), Some("2026-12-02"), today).is_err(), "too long");
        assert!(range_of(Some("2026-13-01"), None, today).is_err());
        assert!(range_of(Some("2026-1-01"), None, today).is_err());
        assert!(range_of(Some("2025-12-03"), Some("2026-12-02"), today).is_ok(), "366 days");
    }

    #[test]
    fn percent_changes_are_exact() {
        assert_eq!(pct(1, 8).as_deref(), Some("12.50"));
        assert_eq!(pct(-1, 3).as_deref(), Some("-33.33"));
        assert_eq!(pct(5, 0), None);
    }

    #[test]
    fn csv_rows_with_an_optional_header() {
        let rows = parse_csv("member,amount\nalice, 10.50\n\nbob,3\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], CoinRow { row: 2, member: "alice".into(), amount: "10.50".into() });
        assert_eq!(rows[1].row, 4);
        assert_eq!(parse_csv("alice,1\nbob\n").unwrap_err()[0].0, 2);
    }
}
