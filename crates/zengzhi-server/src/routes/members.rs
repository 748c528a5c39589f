//! The console's members (会员) and orders (订单): the member list with search, filters, sorting
//! and server pagination; one member's detail, ledger, orders and referral tree; every order
//! (settled, and those held for the settlement delay) with filters; the refund of a pending
//! order by an operator.
//!
//! A member's join time and store binding are in the service table `member_profiles`
//! ([`crate::store::members`]): join times are copied from the journal's `register_member`
//! entries as the console reads ([`catch_up`]), store bindings are written when a member
//! registers through a store's QR code.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use zengzhi_core::command::parse_line;
use zengzhi_core::engine::{Member, Reason, RewardKind, NONE};
use zengzhi_core::num::{format_price, PPM};
use zengzhi_core::{Command, Engine, Rejection};
use zengzhi_journal::backend::OrderRow;
use zengzhi_journal::time_fmt::parse_at;

use super::{ApiRouter, Q};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::exports::{end_of_day, parse_date};
use crate::guards::{CanOperate, CanRead, CanReadOrders};
use crate::store::members::{Join, MemberProfile};
use crate::store::PendingOrder;
use crate::views::{Id, Money, PendingOrderView, PendingStatus, Points, Price, Rate};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        list_members,
        show_member,
        member_ledger,
        member_orders,
        member_referrals,
        list_orders,
        admin_refund_order
    ]
}

// ---- join times and store bindings ---------------------------------------------------------

/// The setting naming the last journal entry whose registrations are in `member_profiles`.
const JOINS_THROUGH: &str = "member_profiles_through_seq";

/// Copies the registrations journaled since the last call into `member_profiles`.
pub async fn catch_up(state: &Arc<AppState>) -> ApiResult<()> {
    state
        .read(|b| {
            let mut through: u64 = b
                .setting(JOINS_THROUGH)?
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            loop {
                let entries = b.read(through + 1, 5_000)?;
                let Some(last) = entries.last() else { break };
                let last = last.seq;
                let joins: Vec<Join> = entries
                    .iter()
                    .filter(|e| e.command.contains("\"register_member\""))
                    .filter_map(|e| match parse_line(e.command.as_bytes()).ok()?.command {
                        Command::RegisterMember { member, .. } => {
                            let unix = parse_at(&e.at).map_or(0, |t| t.unix_timestamp());
                            Some((member.to_string(), e.seq, e.at.clone(), unix))
                        }
                        _ => None,
                    })
                    .collect();
                b.member_joins_record(&joins)?;
                b.put_setting(JOINS_THROUGH, last.to_string().as_bytes())?;
                through = last;
            }
            Ok(())
        })
        .await
}

/// Records that `member` registered through `store` (called by `POST /v1/members`).
pub async fn bind_store(state: &Arc<AppState>, member: String, store: String) -> ApiResult<()> {
    state.read(move |b| b.member_stores_bind(&[(member, store)])).await
}

/// A stored `at` in Beijing time (RFC 3339 with `+08:00`).
fn beijing(at: &str) -> String {
    match parse_at(at).map(|t| t.to_offset(time::macros::offset!(+8))) {
        Some(t) => t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string()),
        None => at.to_string(),
    }
}

/// `[from, to)` of Beijing dates `from`..=`to` (each optional).
pub(crate) fn date_range(from: Option<&str>, to: Option<&str>, names: (&str, &str)) -> ApiResult<(Option<OffsetDateTime>, Option<OffsetDateTime>)> {
    let start = from
        .map(|d| parse_date(d, names.0))
        .transpose()?
        .map(|d| d.midnight().assume_offset(time::macros::offset!(+8)));
    let end = to.map(|d| parse_date(d, names.1)).transpose()?.map(end_of_day).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err(ApiError::bad_request(
                ApiCode::InvalidQuery,
                format!("{} is after {} / 开始日期晚于结束日期", names.0, names.1),
            ));
        }
    }
    Ok((start, end))
}

// ---- the member list -----------------------------------------------------------------------

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Holds points (free or locked).
    Holding,
    /// Has exited at least once and holds no points now.
    Exited,
    /// Has never consumed.
    NeverBought,
    /// Has consumed, holds nothing now and never exited (sold everything).
    Idle,
}

fn status_of(m: &Member) -> MemberStatus {
    if m.held_units().is_positive() {
        MemberStatus::Holding
    } else if m.exits > 0 {
        MemberStatus::Exited
    } else if !m.lifetime_consumption_fen.is_positive() {
        MemberStatus::NeverBought
    } else {
        MemberStatus::Idle
    }
}

/// The list's sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberSort {
    Joined,
    Points,
    Value,
    Cash,
    Coins,
    CycleConsumption,
    LifetimeConsumption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Part of the member id (case-insensitive).
    pub q: Option<String>,
    /// Only members referred directly by this member.
    pub referrer: Option<String>,
    /// Only members bound to this store (registered through its QR code).
    pub store: Option<String>,
    #[param(inline)]
    pub status: Option<MemberStatus>,
    /// First day joined (YYYY-MM-DD, Beijing time).
    pub joined_from: Option<String>,
    /// Last day joined (YYYY-MM-DD, Beijing time), inclusive.
    pub joined_to: Option<String>,
    /// Default `joined`.
    #[param(inline)]
    pub sort: Option<MemberSort>,
    /// Default `desc`.
    #[param(inline)]
    pub order: Option<SortOrder>,
    /// 1-based (default 1).
    pub page: Option<usize>,
    /// 1 to 200 (default 20).
    pub page_size: Option<usize>,
}

/// One member as the console lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberRow {
    pub member: Id,
    /// Free points.
    pub points: Points,
    pub locked: Points,
    /// The held points' value now, `⌊(points + locked) · pool / supply⌋` (as a sale's gross).
    pub value_now: Money,
    pub cash: Money,
    pub coins: Money,
    pub cycle_consumption: Money,
    pub cycle_realized: Money,
    /// `⌊cycle consumption · exit multiple⌋`.
    pub cap: Money,
    /// (realised + value now) / cap, rounded down to a ppm: 1 triggers the capped exit.
    pub cap_progress: Rate,
    /// realised / cap, rounded down to a ppm.
    pub realized_progress: Rate,
    /// Capped exits so far (cycles completed).
    pub exits: u32,
    #[schema(required = true)]
    pub referrer: Option<Id>,
    pub direct_referrals: u32,
    /// When the member registered (RFC 3339, Beijing time); null if not known yet.
    #[schema(required = true)]
    pub joined_at: Option<String>,
    /// The store whose QR code the member registered through.
    #[schema(required = true)]
    pub store: Option<Id>,
    pub status: MemberStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberRow>,
    /// Members matching the filters.
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
}

fn ratio_ppm(num: i128, den: i128) -> i64 {
    if den > 0 {
        (num.max(0) * i128::from(PPM) / den).min(i128::from(i64::MAX)) as i64
    } else {
        0
    }
}

fn row_of(e: &Engine, i: u32, children: &[u32]) -> MemberRow {
    let m = &e.members()[i as usize];
    let held = e.held_value_fen(m);
    let cap = e.cap_fen(m);
    let realized = i128::from(m.cycle_realized_fen);
    MemberRow {
        member: Id(e.member_id(i).to_string()),
        points: Points::units(m.points),
        locked: Points::units(m.locked),
        value_now: Money::fen(held),
        cash: Money::fen(m.cash_fen),
        coins: Money::fen(m.coins_fen),
        cycle_consumption: Money::fen(m.cycle_consumption_fen),
        cycle_realized: Money::fen(m.cycle_realized_fen),
        cap: Money::wide(cap),
        cap_progress: Rate::ppm(ratio_ppm(realized + i128::from(held), cap)),
        realized_progress: Rate::ppm(ratio_ppm(realized, cap)),
        exits: m.exits,
        referrer: (m.referrer != NONE).then(|| Id(e.member_id(m.referrer).to_string())),
        direct_referrals: children[i as usize],
        joined_at: None,
        store: None,
        status: status_of(m),
    }
}

/// How many members each member referred directly.
fn direct_counts(e: &Engine) -> Vec<u32> {
    let mut counts = vec![0u32; e.member_count()];
    for m in e.members() {
        if m.referrer != NONE {
            counts[m.referrer as usize] += 1;
        }
    }
    counts
}

/// Fills the rows' join times and stores.
async fn with_profiles(state: &Arc<AppState>, rows: &mut [MemberRow]) -> ApiResult<()> {
    let ids: Vec<String> = rows.iter().map(|r| r.member.0.clone()).collect();
    let profiles: HashMap<String, MemberProfile> = state
        .read(move |b| b.member_profiles(&ids))
        .await?
        .into_iter()
        .map(|p| (p.member.clone(), p))
        .collect();
    for r in rows {
        if let Some(p) = profiles.get(&r.member.0) {
            r.joined_at = p.at.as_deref().map(beijing);
            r.store = p.store.clone().map(Id);
        }
    }
    Ok(())
}

/// The members matching a list query, sorted (every match, not paged).
pub(crate) async fn matching(state: &Arc<AppState>, q: &MembersQuery) -> ApiResult<Vec<u32>> {
    let (start, end) = date_range(q.joined_from.as_deref(), q.joined_to.as_deref(), ("joined_from", "joined_to"))?;
    catch_up(state).await?;
    let joined: Option<HashSet<String>> = if start.is_some() || end.is_some() {
        let (from, to) = (start.map_or(i64::MIN, |t| t.unix_timestamp()), end.map_or(i64::MAX, |t| t.unix_timestamp()));
        Some(state.read(move |b| b.members_joined_between(from, to)).await?.into_iter().collect())
    } else {
        None
    };
    let bound: Option<HashSet<String>> = match q.store.clone() {
        Some(s) => Some(state.read(move |b| b.members_of_store(&s)).await?.into_iter().collect()),
        None => None,
    };
    let needle = q.q.as_ref().map(|s| s.to_ascii_lowercase()).filter(|s| !s.is_empty());
    let referrer = q.referrer.clone();
    let status = q.status;
    let sort = q.sort.unwrap_or(MemberSort::Joined);
    let desc = q.order.unwrap_or(SortOrder::Desc) == SortOrder::Desc;
    state
        .query(move |e| {
            let referrer = match referrer.as_deref() {
                Some(r) => match e.member_index(r) {
                    Some(i) => Some(i),
                    None => return Vec::new(),
                },
                None => None,
            };
            let mut out: Vec<u32> = (0..e.member_count() as u32)
                .filter(|&i| {
                    let m = &e.members()[i as usize];
                    if referrer.is_some_and(|r| m.referrer != r) || status.is_some_and(|s| status_of(m) != s) {
                        return false;
                    }
                    if needle.is_none() && joined.is_none() && bound.is_none() {
                        return true;
                    }
                    let id = e.member_id(i);
                    needle.as_ref().is_none_or(|n| id.to_ascii_lowercase().contains(n.as_str()))
                        && joined.as_ref().is_none_or(|j| j.contains(&*id))
                        && bound.as_ref().is_none_or(|b| b.contains(&*id))
                })
                .collect();
            let key = |i: &u32| -> i128 {
                let m = &e.members()[*i as usize];
                match sort {
                    MemberSort::Joined => i128::from(*i),
                    MemberSort::Points => i128::from(m.points.to_units()),
                    MemberSort::Value => i128::from(e.held_value_fen(m).to_fen()),
                    MemberSort::Cash => i128::from(m.cash_fen.to_fen()),
                    MemberSort::Coins => i128::from(m.coins_fen.to_fen()),
                    MemberSort::CycleConsumption => i128::from(m.cycle_consumption_fen.to_fen()),
                    MemberSort::LifetimeConsumption => i128::from(m.lifetime_consumption_fen.to_fen()),
                }
            };
            // Ties by registration order, so pages do not overlap.
            out.sort_by_cached_key(|i| (key(i), *i));
            if desc {
                out.reverse();
            }
            out
        })
        .await
}

/// 会员列表（搜索、筛选、排序、分页） / Members: search, filters, sort, pages
#[utoipa::path(get, path = "/v1/admin/members", tag = "members", params(MembersQuery),
    responses((status = 200, body = MemberPage)))]
pub async fn list_members(_: CanRead, State(state): S, Q(q): Q<MembersQuery>) -> ApiResult<Json<MemberPage>> {
    let (page, page_size) = paging(q.page, q.page_size, 20, 200)?;
    let all = matching(&state, &q).await?;
    let total = all.len();
    let slice: Vec<u32> = all.into_iter().skip((page - 1) * page_size).take(page_size).collect();
    let mut items = state
        .query(move |e| {
            let children = direct_counts(e);
            slice.iter().map(|&i| row_of(e, i, &children)).collect::<Vec<_>>()
        })
        .await?;
    with_profiles(&state, &mut items).await?;
    Ok(Json(MemberPage { items, total, page, page_size }))
}

impl MembersQuery {
    /// Whether any filter or sort is given (the export then lists the console's rows).
    pub fn filtered(&self) -> bool {
        self.q.is_some()
            || self.referrer.is_some()
            || self.store.is_some()
            || self.status.is_some()
            || self.joined_from.is_some()
            || self.joined_to.is_some()
            || self.sort.is_some()
            || self.order.is_some()
    }
}

/// The columns of the filtered members' CSV.
pub const FILTERED_MEMBER_HEADER: &str = "member,points,locked,value_now,cash,coins,cycle_consumption,cycle_realized,cap,cap_progress,exits,referrer,direct_referrals,joined_at,store,status";

/// Every member matching `q` (pages ignored) as CSV, in the list's order.
pub async fn members_csv_text(state: &Arc<AppState>, q: &MembersQuery) -> ApiResult<String> {
    use std::fmt::Write as _;
    let all = matching(state, q).await?;
    let mut rows = state
        .query(move |e| {
            let children = direct_counts(e);
            all.iter().map(|&i| row_of(e, i, &children)).collect::<Vec<_>>()
        })
        .await?;
    with_profiles(state, &mut rows).await?;
    let mut out = format!("{FILTERED_MEMBER_HEADER}\n");
    for r in rows {
        let status = serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.member.0,
            r.points.0,
            r.locked.0,
            r.value_now.0,
            r.cash.0,
            r.coins.0,
            r.cycle_consumption.0,
            r.cycle_realized.0,
            r.cap.0,
            r.cap_progress.0,
            r.exits,
            r.referrer.map(|x| x.0).unwrap_or_default(),
            r.direct_referrals,
            r.joined_at.unwrap_or_default(),
            r.store.map(|x| x.0).unwrap_or_default(),
            status
        );
    }
    Ok(out)
}

/// Reads `page` (1-based) and `page_size` (1..=max).
fn paging(page: Option<usize>, size: Option<usize>, default: usize, max: usize) -> ApiResult<(usize, usize)> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(default);
    if page == 0 {
        return Err(ApiError::bad_request(ApiCode::InvalidQuery, "page starts at 1 / 页码从 1 开始"));
    }
    if size == 0 || size > max {
        return Err(ApiError::bad_request(
            ApiCode::InvalidQuery,
            format!("page_size is 1 to {max} / 每页 1 至 {max} 条"),
        ));
    }
    Ok((page, size))
}

// ---- one member ----------------------------------------------------------------------------

/// One member in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDetail {
    #[serde(flatten)]
    pub row: MemberRow,
    pub lifetime_consumption: Money,
    pub rewards: Money,
    /// The exit multiple (e.g. "1.2").
    pub exit_multiple: Rate,
    /// What a capped exit would sell now (gross) and pay (after the pool's retention).
    pub exit_gross_now: Money,
    pub exit_payout_now: Money,
    pub price: Price,
    /// Cash reserved by withdrawals not yet paid or rejected.
    pub pending_withdrawals: Money,
    /// The store's owner, when the member is bound to a store.
    #[schema(required = true)]
    pub store_owner: Option<Id>,
}

fn unknown_member(id: &str) -> ApiError {
    let mut e = ApiError::from(Rejection::UnknownMember);
    e.message = format!("unknown member {id} / 会员 {id} 不存在");
    e
}

/// 会员详情 / One member: balances, cap, what an exit would pay now, store binding
#[utoipa::path(get, path = "/v1/admin/members/{id}", tag = "members", params(("id" = String, Path, description = "member id")),
    responses((status = 200, body = MemberDetail)))]
pub async fn show_member(_: CanRead, State(state): S, Path(id): Path<String>) -> ApiResult<Json<MemberDetail>> {
    catch_up(&state).await?;
    let m = id.clone();
    let reserved = state.read(move |b| b.withdrawals_reserved(&m)).await?;
    let m = id.clone();
    let detail = state
        .query(move |e| {
            let i = e.member_index(&m)?;
            let member = &e.members()[i as usize];
            let children = direct_counts(e);
            let (gross, payout) = e.exit_quote(member);
            let (p, n) = e.reference_price();
            Some(MemberDetail {
                row: row_of(e, i, &children),
                lifetime_consumption: Money::fen(member.lifetime_consumption_fen),
                rewards: Money::fen(member.rewards_fen),
                exit_multiple: Rate::ppm(e.rules().exit_multiple_ppm),
                exit_gross_now: Money::fen(gross),
                exit_payout_now: Money::fen(payout),
                price: Price(format_price(p, n)),
                pending_withdrawals: Money::fen(reserved),
                store_owner: None,
            })
        })
        .await?
        .ok_or_else(|| unknown_member(&id))?;
    let mut detail = detail;
    with_profiles(&state, std::slice::from_mut(&mut detail.row)).await?;
    if let Some(store) = detail.row.store.clone() {
        detail.store_owner = state
            .query(move |e| {
                e.merchant(&store.0).and_then(|s| (s.owner != NONE).then(|| Id(e.member_id(s.owner).to_string())))
            })
            .await?;
    }
    Ok(Json(detail))
}

async fn known(state: &Arc<AppState>, id: &str) -> ApiResult<()> {
    let m = id.to_string();
    if state.query(move |e| e.member_index(&m).is_some()).await? {
        Ok(())
    } else {
        Err(unknown_member(id))
    }
}

/// Ledger reasons, as the `reasons` filter takes them: each stored reason, and `reward` for
/// every reward kind (`reward_direct` … `reward_peer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerReason {
    Order,
    /// Every reward kind.
    Reward,
    RewardDirect,
    RewardIndirect,
    RewardRecruiter,
    RewardDistrict,
    RewardCity,
    RewardProvince,
    RewardPeer,
    Sell,
    Redeem,
    Withdraw,
    Exit,
    Release,
    Dividend,
    Coins,
}

impl LedgerReason {
    /// The engine's reason (`None` for `reward`, which stands for every kind).
    fn reason(self) -> Option<Reason> {
        Some(match self {
            LedgerReason::Order => Reason::Order,
            LedgerReason::Reward => return None,
            LedgerReason::RewardDirect => Reason::Reward(RewardKind::Direct),
            LedgerReason::RewardIndirect => Reason::Reward(RewardKind::Indirect),
            LedgerReason::RewardRecruiter => Reason::Reward(RewardKind::Recruiter),
            LedgerReason::RewardDistrict => Reason::Reward(RewardKind::District),
            LedgerReason::RewardCity => Reason::Reward(RewardKind::City),
            LedgerReason::RewardProvince => Reason::Reward(RewardKind::Province),
            LedgerReason::RewardPeer => Reason::Reward(RewardKind::Peer),
            LedgerReason::Sell => Reason::Sell,
            LedgerReason::Redeem => Reason::Redeem,
            LedgerReason::Withdraw => Reason::Withdraw,
            LedgerReason::Exit => Reason::Exit,
            LedgerReason::Release => Reason::Release,
            LedgerReason::Dividend => Reason::Dividend,
            LedgerReason::Coins => Reason::Coins,
        })
    }

    /// Whether a stored ledger reason is one this filter takes.
    fn matches(self, stored: &str) -> bool {
        match self.reason() {
            Some(r) => r.as_str() == stored,
            None => RewardKind::ALL.iter().any(|k| k.reason() == stored),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Entries before this journal position (the previous page's `next_before`).
    before: Option<u64>,
    /// 1 to 200 (default 50).
    limit: Option<usize>,
    /// Only rows of these reasons, comma-separated (e.g. `sell,exit`).
    reasons: Option<String>,
}

/// One row of a member's ledger (积分流水).
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberLedgerItem {
    pub seq: u64,
    /// When the journal entry was made (RFC 3339, Beijing time).
    pub at: String,
    /// `order`, a reward by kind (`reward_direct`, `reward_indirect`, `reward_recruiter`,
    /// `reward_district`, `reward_city`, `reward_province`, `reward_peer`), `sell`, `redeem`,
    /// `withdraw`, `exit`, `release`, `dividend` or `coins`.
    pub reason: String,
    pub points: Points,
    pub locked: Points,
    pub cash: Money,
    pub coins: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberLedger {
    pub member: Id,
    pub items: Vec<MemberLedgerItem>,
    /// The `before` of the next page, if there may be one.
    #[schema(required = true)]
    pub next_before: Option<u64>,
}

/// 会员积分流水（新的在前） / A member's ledger, newest first
#[utoipa::path(get, path = "/v1/admin/members/{id}/ledger", tag = "members", params(("id" = String, Path, description = "member id"), LedgerQuery),
    responses((status = 200, body = MemberLedger)))]
pub async fn member_ledger(
    _: CanRead,
    State(state): S,
    Path(id): Path<String>,
    Q(q): Q<LedgerQuery>,
) -> ApiResult<Json<MemberLedger>> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 200 {
        return Err(ApiError::bad_request(ApiCode::InvalidQuery, "limit is 1 to 200 / 每页 1 至 200 条"));
    }
    let reasons: Option<Vec<LedgerReason>> = match q.reasons.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.split(',')
                .map(|r| {
                    serde_json::from_value::<LedgerReason>(serde_json::Value::String(r.trim().to_string())).map_err(
                        |_| {
                            ApiError::bad_request(
                                ApiCode::InvalidQuery,
                                format!("unknown reason {r} / 未知的流水类型 {r}"),
                            )
                        },
                    )
                })
                .collect::<ApiResult<_>>()?,
        ),
    };
    known(&state, &id).await?;
    state.wait_projected(Duration::from_secs(1)).await;
    let m = id.clone();
    let before = q.before.unwrap_or(u64::MAX);
    let (items, next_before) = state
        .read(move |b| {
            let mut items = Vec::new();
            let mut cursor = before;
            let mut more = false;
            // Filtered pages read on until full (a member's ledger is short).
            loop {
                let rows = b.member_history(&m, cursor, 500)?;
                let full = rows.len() >= 500;
                for r in rows {
                    cursor = r.seq;
                    if reasons.as_ref().is_some_and(|list| !list.iter().any(|x| x.matches(r.reason))) {
                        continue;
                    }
                    if items.len() == limit {
                        more = true;
                        break;
                    }
                    items.push(r);
                }
                if more || !full {
                    break;
                }
            }
            let mut out = Vec::with_capacity(items.len());
            for r in &items {
                let at = b.read(r.seq, 1)?.into_iter().next().map(|e| e.at).unwrap_or_default();
                out.push(MemberLedgerItem {
                    seq: r.seq,
                    at: beijing(&at),
                    reason: r.reason.to_string(),
                    points: Points::units(r.points),
                    locked: Points::units(r.locked),
                    cash: Money::fen(r.cash_fen),
                    coins: Money::fen(r.coins_fen),
                });
            }
            let next = if more { out.last().map(|r| r.seq) } else { None };
            Ok((out, next))
        })
        .await?;
    Ok(Json(MemberLedger { member: Id(id), items, next_before }))
}

// ---- orders --------------------------------------------------------------------------------

/// Where an order is, as the console filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Held for the settlement delay (or being settled).
    Pending,
    Settled,
    Refunded,
    Rejected,
}

/// One order as the console lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderRowView {
    pub order: Id,
    pub member: Id,
    #[schema(required = true)]
    pub merchant: Option<Id>,
    pub amount: Money,
    /// The commission (settled orders; null while pending).
    #[schema(required = true)]
    pub commission: Option<Money>,
    /// Points minted (settled orders).
    #[schema(required = true)]
    pub minted: Option<Points>,
    pub status: OrderStatus,
    /// Settled: when it was journaled; otherwise when it was received (RFC 3339, Beijing time).
    pub at: String,
    /// The journal entry of a settled order.
    #[schema(required = true)]
    pub seq: Option<u64>,
    /// When a pending order settles (Unix seconds).
    #[schema(required = true)]
    pub settle_after_unix: Option<u64>,
    /// Why a held order was rejected at settlement.
    #[schema(required = true)]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderRowView>,
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
}

#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// First day (YYYY-MM-DD, Beijing time).
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD, Beijing time), inclusive.
    pub to: Option<String>,
    /// The store's id.
    pub store: Option<String>,
    pub member: Option<String>,
    #[param(inline)]
    pub status: Option<OrderStatus>,
    /// 1-based (default 1).
    pub page: Option<usize>,
    /// 1 to 200 (default 20).
    pub page_size: Option<usize>,
}

fn settled_view(r: &OrderRow) -> OrderRowView {
    OrderRowView {
        order: Id(r.order_id.clone()),
        member: Id(r.member.clone()),
        merchant: r.merchant.clone().map(Id),
        amount: Money::fen(r.amount_fen),
        commission: Some(Money::fen(r.commission_fen)),
        minted: Some(Points::units(r.minted_units)),
        status: OrderStatus::Settled,
        at: beijing(&r.at),
        seq: Some(r.seq),
        settle_after_unix: None,
        error: None,
    }
}

fn held_view(p: &PendingOrder) -> Option<OrderRowView> {
    let status = match PendingStatus::parse(&p.status)? {
        PendingStatus::Pending | PendingStatus::Settling => OrderStatus::Pending,
        PendingStatus::Refunded => OrderStatus::Refunded,
        PendingStatus::Rejected => OrderStatus::Rejected,
        // Settled ones are listed from the journal's orders.
        PendingStatus::Settled => return None,
    };
    let Ok(parsed) = parse_line(p.command.as_bytes()) else { return None };
    let Command::Order { order, member, merchant, amount_fen, .. } = parsed.command else { return None };
    Some(OrderRowView {
        order: Id(order.to_string()),
        member: Id(member.to_string()),
        merchant: merchant.map(|m| Id(m.to_string())),
        amount: Money::fen(amount_fen),
        commission: None,
        minted: None,
        status,
        at: beijing(&p.received_at),
        seq: None,
        settle_after_unix: Some(p.settle_after_unix),
        error: p.error.clone(),
    })
}

/// Every order matching `q`, newest first: those held for the settlement delay (pending,
/// refunded, rejected) by receipt, then the settled ones by journal position.
pub(crate) async fn orders_matching(state: &Arc<AppState>, q: &OrdersQuery) -> ApiResult<Vec<OrderRowView>> {
    let (start, end) = date_range(q.from.as_deref(), q.to.as_deref(), ("from", "to"))?;
    let in_range = |at: &str| {
        let t = parse_at(at);
        !(start.is_some_and(|s| t.is_some_and(|t| t < s)) || end.is_some_and(|e| t.is_some_and(|t| t >= e)))
    };
    let status = q.status;
    let want = |s: OrderStatus| status.is_none_or(|x| x == s);
    let (member, store) = (q.member.clone(), q.store.clone());
    let keep = move |v: &OrderRowView| {
        member.as_ref().is_none_or(|m| v.member.0 == *m)
            && store.as_ref().is_none_or(|s| v.merchant.as_ref().is_some_and(|x| x.0 == *s))
    };
    let mut out = Vec::new();
    if status.is_none_or(|s| s != OrderStatus::Settled) {
        let held = state.read(|b| b.held_orders()).await?;
        // By time, not by text: a stamp's fraction is as long as it needs to be ("…03.45Z" is
        // before "…03.456Z" but sorts after it as text).
        let mut held: Vec<(Option<OffsetDateTime>, OrderRowView)> = held
            .iter()
            .filter(|p| in_range(&p.received_at))
            .filter_map(|p| held_view(p).map(|v| (parse_at(&p.received_at), v)))
            .filter(|(_, v)| want(v.status) && keep(v))
            .collect();
        held.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.order.0.cmp(&a.1.order.0)));
        out.extend(held.into_iter().map(|(_, v)| v));
    }
    if want(OrderStatus::Settled) {
        state.wait_projected(Duration::from_secs(2)).await;
        let member = q.member.clone();
        let settled = state
            .read(move |b| {
                let mut rows = Vec::new();
                let mut after = 0;
                loop {
                    let page = b.orders_after(after, 5_000)?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    rows.extend(page.into_iter().filter(|r| member.as_ref().is_none_or(|m| r.member == *m)));
                }
                Ok(rows)
            })
            .await?;
        out.extend(settled.iter().rev().filter(|r| in_range(&r.at)).map(settled_view).filter(|v| keep(v)));
    }
    Ok(out)
}

/// 订单列表（筛选、分页，新的在前） / Orders: filters, pages, newest first
///
/// Orders held for the settlement delay (pending, refunded, rejected) come first, then the
/// settled ones.
#[utoipa::path(get, path = "/v1/admin/orders", tag = "members", params(OrdersQuery),
    responses((status = 200, body = OrderPage)))]
pub async fn list_orders(_: CanReadOrders, State(state): S, Q(q): Q<OrdersQuery>) -> ApiResult<Json<OrderPage>> {
    let (page, page_size) = paging(q.page, q.page_size, 20, 200)?;
    let all = orders_matching(&state, &q).await?;
    let total = all.len();
    let items = all.into_iter().skip((page - 1) * page_size).take(page_size).collect();
    Ok(Json(OrderPage { items, total, page, page_size }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberOrdersQuery {
    #[param(inline)]
    status: Option<OrderStatus>,
    page: Option<usize>,
    /// 1 to 200 (default 20).
    page_size: Option<usize>,
}

/// 会员的订单 / A member's orders, newest first
#[utoipa::path(get, path = "/v1/admin/members/{id}/orders", tag = "members", params(("id" = String, Path, description = "member id"), MemberOrdersQuery),
    responses((status = 200, body = OrderPage)))]
pub async fn member_orders(
    _: CanReadOrders,
    State(state): S,
    Path(id): Path<String>,
    Q(q): Q<MemberOrdersQuery>,
) -> ApiResult<Json<OrderPage>> {
    let (page, page_size) = paging(q.page, q.page_size, 20, 200)?;
    known(&state, &id).await?;
    let query = OrdersQuery { member: Some(id), status: q.status, ..OrdersQuery::default() };
    let all = orders_matching(&state, &query).await?;
    let total = all.len();
    let items = all.into_iter().skip((page - 1) * page_size).take(page_size).collect();
    Ok(Json(OrderPage { items, total, page, page_size }))
}

/// 后台退款（结算前） / Refund a pending order from the console (refused after settlement)
#[utoipa::path(post, path = "/v1/admin/orders/{id}/refund", tag = "members", params(("id" = String, Path, description = "order id")),
    request_body = crate::views::NoFields, responses((status = 200, body = PendingOrderView)))]
pub async fn admin_refund_order(
    who: CanOperate,
    State(state): S,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<PendingOrderView>> {
    super::no_fields(&body)?;
    super::orders::refund_pending(&state, who.actor(), id).await.map(Json)
}

// ---- the referral tree ---------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    /// Levels below the member, 1 to 10 (default 5).
    depth: Option<u32>,
    /// Invitees at most, 1 to 2,000 (default 500).
    limit: Option<usize>,
}

/// One invitee in a referral tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralNode {
    pub member: Id,
    /// Who invited this one (the member asked for at depth 1).
    pub parent: Id,
    /// 1 for a direct invitee.
    pub depth: u32,
    pub points: Points,
    pub value_now: Money,
    pub cycle_consumption: Money,
    pub lifetime_consumption: Money,
    /// Whether the invitee ever consumed.
    pub bought: bool,
    pub direct_referrals: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralTree {
    pub member: Id,
    /// Breadth first: every invitee comes after its parent.
    pub nodes: Vec<ReferralNode>,
    pub direct: usize,
    /// Whether the depth or size bound cut the tree short.
    pub truncated: bool,
    pub depth: u32,
    pub limit: usize,
}

/// 推荐关系树（直推与间推） / A member's referral tree: direct and indirect invitees, bounded
#[utoipa::path(get, path = "/v1/admin/members/{id}/referrals", tag = "members", params(("id" = String, Path, description = "member id"), ReferralQuery),
    responses((status = 200, body = ReferralTree)))]
pub async fn member_referrals(
    _: CanRead,
    State(state): S,
    Path(id): Path<String>,
    Q(q): Q<ReferralQuery>,
) -> ApiResult<Json<ReferralTree>> {
    let depth = q.depth.unwrap_or(5);
    let limit = q.limit.unwrap_or(500);
    if !(1..=10).contains(&depth) || !(1..=2_000).contains(&limit) {
        return Err(ApiError::bad_request(
            ApiCode::InvalidQuery,
            "depth is 1 to 10, limit 1 to 2000 / 层数 1 至 10，数量 1 至 2000",
        ));
    }
    let m = id.clone();
    let tree = state
        .query(move |e| {
            let root = e.member_index(&m)?;
            let n = e.member_count();
            let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
            for (i, member) in e.members().iter().enumerate() {
                if member.referrer != NONE {
                    children[member.referrer as usize].push(i as u32);
                }
            }
            let mut nodes = Vec::new();
            let mut truncated = false;
            let mut queue: VecDeque<(u32, u32)> = VecDeque::from([(root, 0)]);
            'walk: while let Some((parent, d)) = queue.pop_front() {
                for &c in &children[parent as usize] {
                    if d + 1 > depth {
                        truncated = true;
                        break 'walk;
                    }
                    if nodes.len() == limit {
                        truncated = true;
                        break 'walk;
                    }
                    let cm = &e.members()[c as usize];
                    nodes.push(ReferralNode {
                        member: Id(e.member_id(c).to_string()),
                        parent: Id(e.member_id(parent).to_string()),
                        depth: d + 1,
                        points: Points::units(cm.held_units()),
                        value_now: Money::fen(e.held_value_fen(cm)),
                        cycle_consumption: Money::fen(cm.cycle_consumption_fen),
                        lifetime_consumption: Money::fen(cm.lifetime_consumption_fen),
                        bought: cm.lifetime_consumption_fen.is_positive(),
                        direct_referrals: children[c as usize].len() as u32,
                    });
                    queue.push_back((c, d + 1));
                }
            }
            let direct = children[root as usize].len();
            Some(ReferralTree { member: Id(m.clone()), nodes, direct, truncated, depth, limit })
        })
        .await?
        .ok_or_else(|| unknown_member(&id))?;
    Ok(Json(tree))
}
