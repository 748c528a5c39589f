//! The console's network of stores (门店), regional agents (代理) and shareholders (股东): lists
//! read with any console caller, registrations and appointments with an operator (audited), and
//! a preview of the dividends planned by the engine's own [`Engine::dividend_plan`], the code
//! path `distribute_dividends` pays by.
//!
//! Regions are the 6-digit GB/T 2260 codes the engine keeps; the table shipped in
//! `web/src/shared/regions/gbt2260.json` (made by `web/scripts/gen-regions.mjs`) validates them
//! and names them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zengzhi_core::command::Level;
use zengzhi_core::engine::NONE;
use zengzhi_core::json::Json as J;
use zengzhi_core::num::{Fen, PPM};
use zengzhi_core::{Engine, Rejection};

use super::{fields_or_empty, ApiRouter, Q};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::guards::{CanOperate, CanRead};
use crate::views::{self, Applied, Id, Money, Points, Rate};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        list_stores,
        get_store,
        store_qr,
        create_store,
        list_agents,
        appoint_console_agent,
        list_shareholders,
        set_console_shareholder
    ]
}

// ---- the region table ----------------------------------------------------------------------

/// One region of the GB/T 2260 table.
#[derive(Debug, Clone)]
pub struct Region {
    pub level: Level,
    /// Names from the province down, e.g. 广东省 / 深圳市 / 南山区.
    pub names: Vec<&'static str>,
    /// A district, or a city without districts: where a store can be.
    pub leaf: bool,
}

type RawTable = Vec<(String, String, Vec<(String, String, Vec<(String, String)>)>)>;

/// The table by code (built once from the shipped file).
pub fn regions() -> &'static HashMap<u32, Region> {
    static TABLE: OnceLock<HashMap<u32, Region>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text: &'static str = include_str!("../../../../web/src/shared/regions/gbt2260.json");
        let raw: RawTable = serde_json::from_str(text).expect("the shipped region table is valid");
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let code = |s: &str| s.parse::<u32>().expect("region codes are numbers");
        let mut table = HashMap::new();
        for (pc, pn, cities) in raw {
            let pn = leak(pn);
            table.insert(code(&pc), Region { level: Level::Province, names: vec![pn], leaf: false });
            for (cc, cn, districts) in cities {
                let cn = leak(cn);
                let leaf = districts.is_empty();
                table.insert(code(&cc), Region { level: Level::City, names: vec![pn, cn], leaf });
                for (dc, dn) in districts {
                    table.insert(
                        code(&dc),
                        Region { level: Level::District, names: vec![pn, cn, leak(dn)], leaf: true },
                    );
                }
            }
        }
        table
    })
}

/// A region code and its names.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionRef {
    /// The 6-digit code.
    #[schema(example = "440305")]
    pub code: String,
    /// Names from the province down (empty for a code not in the table).
    #[schema(example = json!(["广东省", "深圳市", "南山区"]))]
    pub names: Vec<String>,
}

fn region_ref(code: u32) -> Option<RegionRef> {
    (code != NONE).then(|| RegionRef {
        code: format!("{code:06}"),
        names: regions().get(&code).map(|r| r.names.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
    })
}

fn invalid_region(text: &str, what: &str) -> ApiError {
    ApiError::bad_request(
        ApiCode::InvalidRegion,
        format!("{text} is not a {what} code of GB/T 2260 / {text} 不是 GB/T 2260 中的{}代码", zh_what(what)),
    )
}

fn zh_what(what: &str) -> &'static str {
    match what {
        "province" => "省级",
        "city" => "市级",
        _ => "区县级",
    }
}

/// The string field `key` of a body's fields, if there.
fn string_field<'a>(fields: &'a [(std::borrow::Cow<'_, str>, J<'_>)], key: &str) -> ApiResult<Option<&'a str>> {
    match fields.iter().find(|(k, _)| k == key) {
        None | Some((_, J::Null)) => Ok(None),
        Some((_, J::Str(s))) => Ok(Some(s.as_ref())),
        Some(_) => {
            Err(ApiError::bad_request(ApiCode::InvalidCommand, format!("{key} must be a string / {key} 必须是字符串")))
        }
    }
}

fn parse_code(text: &str, what: &str) -> ApiResult<u32> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_region(text, what));
    }
    text.parse().map_err(|_| invalid_region(text, what))
}

/// A store's region: a district, or a city without districts.
pub fn store_region(text: &str) -> ApiResult<u32> {
    let code = parse_code(text, "district")?;
    match regions().get(&code) {
        Some(r) if r.leaf => Ok(code),
        _ => Err(invalid_region(text, "district")),
    }
}

/// An agent's region at `level` (the engine normalises a code to its level; the normalised
/// code must be a region of that level).
pub fn agent_region(text: &str, level: Level) -> ApiResult<u32> {
    let what = level.as_str();
    let code = level.normalise(parse_code(text, what)?);
    let ok = match (level, regions().get(&code)) {
        (Level::District, Some(r)) => r.leaf,
        (l, Some(r)) => r.level == l,
        (_, None) => false,
    };
    if ok {
        Ok(code)
    } else {
        Err(invalid_region(text, what))
    }
}

// ---- flows from the orders table -----------------------------------------------------------

const DAYS: i64 = 30;
const BEIJING_S: i64 = 8 * 3600;

/// The Beijing day number (days since 1970-01-01, Beijing time) of an `at`.
fn beijing_day(at: &str) -> Option<i64> {
    let t = zengzhi_journal::time_fmt::parse_at(at)?;
    Some((t.unix_timestamp() + BEIJING_S).div_euclid(86_400))
}

fn today() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp() + BEIJING_S).div_euclid(86_400)
}

fn day_label(day: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(day * 86_400).map(|t| t.date()).unwrap_or(time::Date::MIN);
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    gmv: i128,
    commission: i128,
    orders: u64,
}

impl Sums {
    fn add(&mut self, amount: i64, commission: i64) {
        self.gmv += i128::from(amount);
        self.commission += i128::from(commission);
        self.orders += 1;
    }
    fn view(self) -> Flow {
        Flow { gmv: Money::wide(self.gmv), commission: Money::wide(self.commission), orders: self.orders }
    }
}

/// Per store (or only `only`): the sums of each of the last 30 Beijing days, oldest first.
///
/// The orders table has no time index and no per-store aggregate: this reads its rows in journal
/// order (pages of 10,000), which is fine for a console page of a platform of this size; a
/// per-store daily aggregate in the projection would make it O(stores).
async fn flows(state: &Arc<AppState>, only: Option<String>) -> ApiResult<HashMap<String, Vec<Sums>>> {
    state.wait_projected(std::time::Duration::from_secs(1)).await;
    let first = today() - (DAYS - 1);
    state
        .read(move |b| {
            let mut out: HashMap<String, Vec<Sums>> = HashMap::new();
            let mut after = 0;
            loop {
                let rows = b.orders_after(after, 10_000)?;
                let Some(last) = rows.last() else { break };
                after = last.seq;
                for row in rows {
                    let Some(merchant) = row.merchant else { continue };
                    if only.as_ref().is_some_and(|o| *o != merchant) {
                        continue;
                    }
                    let Some(day) = beijing_day(&row.at) else { continue };
                    if day < first || day > first + DAYS - 1 {
                        continue;
                    }
                    let days = out.entry(merchant).or_insert_with(|| vec![Sums::default(); DAYS as usize]);
                    days[(day - first) as usize].add(row.amount_fen, row.commission_fen);
                }
            }
            Ok(out)
        })
        .await
}

// ---- stores --------------------------------------------------------------------------------

/// Sums of orders over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Flow {
    /// 流水 GMV: the order amounts.
    pub gmv: Money,
    pub commission: Money,
    pub orders: u64,
}

/// One store in the console's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreRow {
    pub id: Id,
    pub commission_rate: Rate,
    pub owner: Option<Id>,
    pub recruiter: Option<Id>,
    pub region: Option<RegionRef>,
    /// Today (Beijing time).
    pub today: Flow,
    /// The last 7 Beijing days, today included.
    pub last_7_days: Flow,
    /// The last 30 Beijing days, today included.
    pub last_30_days: Flow,
    /// Members bound to the store (see [`StoreDetail::members_basis`]).
    pub bound_members: u64,
}

/// A page of stores.
#[derive(Debug, Serialize, ToSchema)]
pub struct StorePage {
    pub items: Vec<StoreRow>,
    /// Stores matching the search.
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StoresQuery {
    /// Part of the store id, owner, recruiter or region code/name.
    pub q: Option<String>,
    /// 1-based (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
}

fn paging(page: Option<u32>, size: Option<u32>) -> ApiResult<(u32, u32)> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(20);
    if page == 0 || size == 0 || size > 100 {
        return Err(ApiError::bad_request(
            ApiCode::InvalidQuery,
            "page is from 1, page_size from 1 to 100 / page 从 1 开始，page_size 为 1 到 100",
        ));
    }
    Ok((page, size))
}

/// What the engine knows of a store.
struct StoreFacts {
    id: String,
    commission_ppm: zengzhi_core::num::Ppm,
    owner: Option<String>,
    recruiter: Option<String>,
    region: u32,
    bound: u64,
}

fn bound_counts(e: &Engine) -> HashMap<u32, u64> {
    let mut counts = HashMap::new();
    for m in e.members() {
        if m.referrer != NONE {
            *counts.entry(m.referrer).or_insert(0) += 1;
        }
    }
    counts
}

fn facts(e: &Engine, id: &str, m: &zengzhi_core::engine::Merchant, counts: &HashMap<u32, u64>) -> StoreFacts {
    let name = |i: u32| (i != NONE).then(|| e.member_id(i).to_string());
    StoreFacts {
        id: id.to_string(),
        commission_ppm: m.commission_ppm,
        owner: name(m.owner),
        recruiter: name(m.recruiter),
        region: m.region,
        bound: if m.owner == NONE { 0 } else { counts.get(&m.owner).copied().unwrap_or(0) },
    }
}

fn store_row(f: StoreFacts, days: Option<&Vec<Sums>>) -> StoreRow {
    let mut today = Sums::default();
    let mut week = Sums::default();
    let mut month = Sums::default();
    if let Some(days) = days {
        today = *days.last().expect("30 days");
        for (k, d) in days.iter().enumerate() {
            for sum in [&mut month].into_iter().chain((k + 7 >= days.len()).then_some(&mut week)) {
                sum.gmv += d.gmv;
                sum.commission += d.commission;
                sum.orders += d.orders;
            }
        }
    }
    StoreRow {
        id: Id(f.id),
        commission_rate: Rate::ppm(f.commission_ppm),
        owner: f.owner.map(Id),
        recruiter: f.recruiter.map(Id),
        region: region_ref(f.region),
        today: today.view(),
        last_7_days: week.view(),
        last_30_days: month.view(),
        bound_members: f.bound,
    }
}

fn matches(f: &StoreFacts, q: &str) -> bool {
    let q = q.to_lowercase();
    let hit = |s: &str| s.to_lowercase().contains(&q);
    hit(&f.id)
        || f.owner.as_deref().is_some_and(hit)
        || f.recruiter.as_deref().is_some_and(hit)
        || (f.region != NONE
            && (format!("{:06}", f.region).contains(&q)
                || regions().get(&f.region).is_some_and(|r| r.names.iter().any(|n| n.contains(&q)))))
}

/// 门店列表（分页、搜索） / The stores: commission rate, owner, recruiter, region, today's and 30 days' flow, bound members
#[utoipa::path(get, path = "/v1/admin/stores", tag = "network", params(StoresQuery),
    responses((status = 200, body = StorePage)))]
pub async fn list_stores(_: CanRead, State(state): S, Q(query): Q<StoresQuery>) -> ApiResult<Json<StorePage>> {
    let (page, size) = paging(query.page, query.page_size)?;
    let q = query.q.unwrap_or_default();
    let q = q.trim().to_string();
    let mut all = state
        .query(move |e| {
            let counts = bound_counts(e);
            e.merchants()
                .map(|(id, m)| facts(e, &id, m, &counts))
                .filter(|f| q.is_empty() || matches(f, &q))
                .collect::<Vec<_>>()
        })
        .await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let total = all.len() as u64;
    let start = (u64::from(page - 1) * u64::from(size)).min(total) as usize;
    let chosen: Vec<StoreFacts> = all.into_iter().skip(start).take(size as usize).collect();
    let flows = if chosen.is_empty() { HashMap::new() } else { flows(&state, None).await? };
    let items = chosen.into_iter().map(|f| {
        let days = flows.get(&f.id);
        store_row(f, days)
    });
    Ok(Json(StorePage { items: items.collect(), total, page, page_size: size }))
}

/// One day of a store's flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayFlow {
    /// The Beijing date, YYYY-MM-DD.
    #[schema(example = "2026-12-01")]
    pub day: String,
    pub gmv: Money,
    pub commission: Money,
    pub orders: u64,
}

/// A member bound to a store.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoundMember {
    pub id: Id,
    pub points: Points,
    pub lifetime_consumption: Money,
}

/// A store with its 30 days, its members and what its owner and recruiter earned.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreDetail {
    pub store: StoreRow,
    /// The last 30 Beijing days, oldest first.
    pub daily: Vec<DayFlow>,
    /// A page of the bound members (by id).
    pub members: Vec<BoundMember>,
    pub members_total: u64,
    pub page: u32,
    pub page_size: u32,
    /// How members are counted as bound: `referrer_is_owner` (the members whose referrer is the
    /// store's owner: a registration with the store's QR code binds the member to the owner).
    #[schema(example = "referrer_is_owner")]
    pub members_basis: String,
    /// All reward money the owner has earned (every kind of reward, all stores).
    pub owner_rewards: Option<Money>,
    /// All reward money the recruiter has earned (every kind of reward, all stores).
    pub recruiter_rewards: Option<Money>,
    /// The member-binding link the QR code encodes.
    pub join_link: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
}

pub(crate) fn join_link(state: &AppState, store: &str) -> String {
    format!("{}/join?store={store}", state.public_url.trim_end_matches('/'))
}

/// The members bound to a store, by id. No binding of a member to a store is kept yet: the
/// members bound by the store's QR code are those whose referrer is its owner.
fn bound_members(e: &Engine, m: &zengzhi_core::engine::Merchant) -> Vec<BoundMember> {
    let mut members: Vec<BoundMember> = Vec::new();
    if m.owner != NONE {
        for (i, member) in e.members().iter().enumerate() {
            if member.referrer == m.owner {
                members.push(BoundMember {
                    id: Id(e.member_id(i as u32).to_string()),
                    points: Points::units(member.points + member.locked),
                    lifetime_consumption: Money::fen(member.lifetime_consumption_fen),
                });
            }
        }
    }
    members.sort_by(|a, b| a.id.0.cmp(&b.id.0));
    members
}

/// One page of `items` and how many there are.
fn page_of<T>(items: Vec<T>, page: u32, size: u32) -> (Vec<T>, u64) {
    let total = items.len() as u64;
    let start = (u64::from(page - 1) * u64::from(size)).min(total) as usize;
    (items.into_iter().skip(start).take(size as usize).collect(), total)
}

/// A page of a store's bound members: (members, total, page, page size); 404 for an unknown store.
pub(crate) async fn store_members(
    state: &Arc<AppState>,
    id: String,
    query: PageQuery,
) -> ApiResult<(Vec<BoundMember>, u64, u32, u32)> {
    let (page, size) = paging(query.page, query.page_size)?;
    let members = state.query(move |e| e.merchant(&id).map(|m| bound_members(e, m))).await?;
    let members = members.ok_or_else(|| ApiError::from(Rejection::UnknownMerchant))?;
    let (items, total) = page_of(members, page, size);
    Ok((items, total, page, size))
}

/// 门店详情：30 天流水、绑定会员、店主与推荐人奖励 / A store: 30 days of flow, bound members, the owner's and recruiter's rewards
#[utoipa::path(get, path = "/v1/admin/stores/{id}", tag = "network",
    params(("id" = String, Path, description = "store id"), PageQuery),
    responses((status = 200, body = StoreDetail)))]
pub async fn get_store(
    _: CanRead,
    State(state): S,
    Path(id): Path<String>,
    Q(query): Q<PageQuery>,
) -> ApiResult<Json<StoreDetail>> {
    Ok(Json(store_detail(&state, id, query).await?))
}

/// A store's detail with a page of its bound members (the console's store and the store page).
pub(crate) async fn store_detail(state: &Arc<AppState>, id: String, query: PageQuery) -> ApiResult<StoreDetail> {
    let (page, size) = paging(query.page, query.page_size)?;
    let key = id.clone();
    let found = state
        .query(move |e| {
            let m = e.merchant(&key)?;
            let counts = bound_counts(e);
            let f = facts(e, &key, m, &counts);
            let members = bound_members(e, m);
            let rewards = |i: u32| (i != NONE).then(|| Money::fen(e.members()[i as usize].rewards_fen));
            Some((f, members, rewards(m.owner), rewards(m.recruiter)))
        })
        .await?;
    let Some((f, members, owner_rewards, recruiter_rewards)) = found else {
        return Err(Rejection::UnknownMerchant.into());
    };
    let (members, members_total) = page_of(members, page, size);
    let flows = flows(state, Some(id.clone())).await?;
    let days = flows.get(&id);
    let first = today() - (DAYS - 1);
    let daily = (0..DAYS)
        .map(|k| {
            let s = days.map(|d| d[k as usize]).unwrap_or_default();
            DayFlow {
                day: day_label(first + k),
                gmv: Money::wide(s.gmv),
                commission: Money::wide(s.commission),
                orders: s.orders,
            }
        })
        .collect();
    Ok(StoreDetail {
        store: store_row(f, days),
        daily,
        members,
        members_total,
        page,
        page_size: size,
        members_basis: "referrer_is_owner".into(),
        owner_rewards,
        recruiter_rewards,
        join_link: join_link(state, &id),
    })
}

/// 门店会员绑定二维码（SVG） / The store's member-binding QR code (SVG of `{public_url}/join?store={id}`)
#[utoipa::path(get, path = "/v1/admin/stores/{id}/qr.svg", tag = "network",
    params(("id" = String, Path, description = "store id")),
    responses((status = 200, description = "The QR code", content_type = "image/svg+xml", body = String)))]
pub async fn store_qr(_: CanRead, State(state): S, Path(id): Path<String>) -> ApiResult<Response> {
    qr_svg(&state, id).await
}

/// The SVG of a store's member-binding QR code (404 for an unknown store).
pub(crate) async fn qr_svg(state: &Arc<AppState>, id: String) -> ApiResult<Response> {
    let key = id.clone();
    if !state.query(move |e| e.merchant(&key).is_some()).await? {
        return Err(Rejection::UnknownMerchant.into());
    }
    let link = join_link(state, &id);
    let code = qrcode::QrCode::new(link.as_bytes()).map_err(|e| ApiError::internal(format!("QR code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(256, 256).build();
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"))], svg).into_response())
}

/// The body of `POST /v1/admin/stores` (the fields of `register_merchant`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewStore {
    /// The store id.
    pub merchant: Id,
    /// The commission rate (default: the rules').
    pub commission: Option<Rate>,
    /// The owner member.
    pub owner: Option<Id>,
    /// The promoter who recruited the store.
    pub recruiter: Option<Id>,
    /// A district code of GB/T 2260 (or a city without districts, e.g. 东莞市 441900).
    #[schema(example = "440305")]
    pub region: String,
}

/// 新建门店（校验行政区划代码） / Register a store (the region must be a GB/T 2260 district)
#[utoipa::path(post, path = "/v1/admin/stores", tag = "network", request_body = NewStore,
    responses((status = 200, body = Applied)))]
pub async fn create_store(who: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<Applied>> {
    let fields = fields_or_empty(&body)?;
    let region = string_field(&fields, "region")?.ok_or_else(|| {
        ApiError::bad_request(ApiCode::InvalidCommand, "region is required / 缺少 region（行政区划）")
    })?;
    store_region(region)?;
    drop(fields);
    crate::routes::audited(who.actor(), state, body, "register_merchant").await
}

// ---- agents ------------------------------------------------------------------------------

/// One region of the agents' tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentRegion {
    #[schema(example = "440300")]
    pub code: String,
    /// The parent region's code (none for a province).
    pub parent: Option<String>,
    /// The level an agent of this region holds.
    #[schema(example = "city")]
    pub level: String,
    #[schema(example = "深圳市")]
    pub name: String,
    /// Names from the province down.
    pub names: Vec<String>,
    /// The agent, if appointed; without one the region's agent share stays with the platform.
    pub agent: Option<Id>,
    /// All reward money the agent has earned (every kind of reward, all regions and stores).
    pub agent_rewards: Option<Money>,
    /// The share of this level goes to the platform here (no agent appointed).
    pub platform_keeps_share: bool,
    /// Stores in this region (its sub-regions included).
    pub stores: u64,
}

/// The regions that have stores or agents, with their provinces and cities, parents first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTree {
    pub regions: Vec<AgentRegion>,
    /// Appointed agents.
    pub agents: u64,
}

fn region_name(code: u32) -> (String, Vec<String>) {
    match regions().get(&code) {
        Some(r) => (r.names.last().copied().unwrap_or("").to_string(), r.names.iter().map(|s| s.to_string()).collect()),
        None => (format!("{code:06}"), Vec::new()),
    }
}

/// 代理区域树 / The region tree with the agent of each region and level, and what the agents earned
#[utoipa::path(get, path = "/v1/admin/agents", tag = "network", responses((status = 200, body = AgentTree)))]
pub async fn list_agents(_: CanRead, State(state): S) -> ApiResult<Json<AgentTree>> {
    let tree = state
        .query(|e| {
            // (level order, code) → node facts.
            let mut agents: HashMap<(u8, u32), u32> = HashMap::new();
            for (level, region, member) in e.agents() {
                agents.insert((level as u8, region), member);
            }
            let mut nodes: BTreeSet<(u32, u8)> = BTreeSet::new();
            let mut stores: BTreeMap<(u32, u8), u64> = BTreeMap::new();
            // A region at `level` and its parents; a store counts in each.
            let mut add = |code: u32, level: u8, count: u64| {
                let mut keys = vec![(Level::Province.normalise(code), Level::Province as u8)];
                if level <= Level::City as u8 {
                    keys.push((Level::City.normalise(code), Level::City as u8));
                }
                if level == Level::District as u8 {
                    keys.push((code, level));
                }
                for k in keys {
                    nodes.insert(k);
                    *stores.entry(k).or_insert(0) += count;
                }
            };
            for (_, m) in e.merchants() {
                if m.region != NONE {
                    // A city without districts is itself the store's district-level region,
                    // shown as the city.
                    let city = regions().get(&m.region).is_some_and(|r| r.level == Level::City);
                    add(m.region, if city { Level::City as u8 } else { Level::District as u8 }, 1);
                }
            }
            for &(level, region) in agents.keys() {
                add(region, level, 0);
            }
            let count = agents.len() as u64;
            let regions: Vec<AgentRegion> = nodes
                .into_iter()
                .map(|(code, level)| {
                    let (level_name, parent) = match level {
                        4 => ("province", None),
                        2 => ("city", Some(Level::Province.normalise(code))),
                        _ => ("district", Some(Level::City.normalise(code))),
                    };
                    let agent = agents.get(&(level, code)).copied();
                    let (name, names) = region_name(code);
                    AgentRegion {
                        code: format!("{code:06}"),
                        parent: parent.map(|p| format!("{p:06}")),
                        level: level_name.into(),
                        name,
                        names,
                        agent: agent.map(|a| Id(e.member_id(a).to_string())),
                        agent_rewards: agent.map(|a| Money::fen(e.members()[a as usize].rewards_fen)),
                        platform_keeps_share: agent.is_none(),
                        stores: stores.get(&(code, level)).copied().unwrap_or(0),
                    }
                })
                .collect();
            AgentTree { regions, agents: count }
        })
        .await?;
    Ok(Json(tree))
}

/// 任命代理（校验行政区划） / Appoint a regional agent (the region must be of the level's kind in GB/T 2260)
#[utoipa::path(post, path = "/v1/admin/agents", tag = "network", request_body = views::AppointAgent,
    responses((status = 200, body = Applied)))]
pub async fn appoint_console_agent(who: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<Applied>> {
    let fields = fields_or_empty(&body)?;
    let level = string_field(&fields, "level")?.and_then(Level::parse).ok_or_else(|| {
        ApiError::bad_request(
            ApiCode::InvalidCommand,
            "level must be district, city or province / level 必须是 district、city 或 province",
        )
    })?;
    let region = string_field(&fields, "region")?.ok_or_else(|| {
        ApiError::bad_request(ApiCode::InvalidCommand, "region is required / 缺少 region（行政区划）")
    })?;
    agent_region(region, level)?;
    drop(fields);
    crate::routes::audited(who.actor(), state, body, "appoint_agent").await
}

// ---- shareholders ------------------------------------------------------------------------

/// One shareholder with its share and what a distribution now would pay.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareholderRow {
    pub member: Id,
    pub weight: u32,
    /// weight / Σ weights (rounded down to a millionth).
    pub share: Rate,
    /// What `POST /v1/admin/dividends` would pay this shareholder now.
    pub preview: Money,
    /// Dividends received so far.
    pub received: Money,
}

/// One payment of a distribution.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payout {
    pub member: Id,
    pub amount: Money,
}

/// One past distribution.
#[derive(Debug, Serialize, ToSchema)]
pub struct Distribution {
    /// The journal entry.
    pub seq: u64,
    /// When it was journaled (RFC 3339).
    pub at: String,
    pub total: Money,
    pub payouts: Vec<Payout>,
}

/// The shareholders, the dividend pool, the preview and the past distributions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareholdersView {
    pub dividend_pool: Money,
    pub total_weight: u64,
    pub shareholders: Vec<ShareholderRow>,
    /// The sum of the previews (the rest stays in the pool: rounding down).
    pub preview_total: Money,
    /// What stays in the dividend pool after the distribution previewed.
    pub preview_remainder: Money,
    /// Newest first (the distributions that paid a current shareholder).
    pub history: Vec<Distribution>,
}

/// 股东、分红池与分红预览 / Shareholders, the dividend pool, a preview of a distribution now (the engine's own plan) and past distributions
#[utoipa::path(get, path = "/v1/admin/shareholders", tag = "network", responses((status = 200, body = ShareholdersView)))]
pub async fn list_shareholders(_: CanRead, State(state): S) -> ApiResult<Json<ShareholdersView>> {
    let (pool, weights, plan) = state
        .query(|e| {
            let weights: Vec<(String, u32)> =
                e.shareholders().iter().map(|(&m, &w)| (e.member_id(m).to_string(), w)).collect();
            let plan: HashMap<String, Fen> =
                e.dividend_plan().into_iter().map(|(m, fen)| (e.member_id(m).to_string(), fen)).collect();
            (e.dividend_pool_fen(), weights, plan)
        })
        .await?;
    state.wait_projected(std::time::Duration::from_secs(1)).await;
    let names: Vec<String> = weights.iter().map(|(m, _)| m.clone()).collect();
    // The dividend rows of the current shareholders, by journal entry, with the entries' times.
    let (received, history) = state
        .read(move |b| {
            let mut received: HashMap<String, i128> = HashMap::new();
            let mut by_seq: BTreeMap<u64, Vec<(String, i64)>> = BTreeMap::new();
            for name in &names {
                let mut before = u64::MAX;
                loop {
                    let rows = b.member_history(name, before, 1000)?;
                    let Some(last) = rows.last() else { break };
                    before = last.seq;
                    for row in rows.iter().filter(|r| r.reason == "dividend") {
                        *received.entry(name.clone()).or_insert(0) += i128::from(row.cash_fen);
                        by_seq.entry(row.seq).or_default().push((name.clone(), row.cash_fen));
                    }
                }
            }
            let mut history = Vec::new();
            for (seq, mut pays) in by_seq.into_iter().rev().take(100) {
                let at = b.read(seq, 1)?.into_iter().next().map(|e| e.at).unwrap_or_default();
                pays.sort();
                let total: i128 = pays.iter().map(|(_, f)| i128::from(*f)).sum();
                history.push(Distribution {
                    seq,
                    at,
                    total: Money::wide(total),
                    payouts: pays.into_iter().map(|(m, f)| Payout { member: Id(m), amount: Money::fen(f) }).collect(),
                });
            }
            Ok((received, history))
        })
        .await?;
    let total_weight: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut preview_total = Fen::ZERO;
    let shareholders = weights
        .into_iter()
        .map(|(m, w)| {
            let preview = plan.get(&m).copied().unwrap_or(Fen::ZERO);
            preview_total += preview;
            let share = if total_weight == 0 { 0 } else { (u64::from(w) * PPM as u64 / total_weight) as i64 };
            ShareholderRow {
                weight: w,
                share: Rate::ppm(share),
                preview: Money::fen(preview),
                received: Money::wide(received.get(&m).copied().unwrap_or(0)),
                member: Id(m),
            }
        })
        .collect();
    Ok(Json(ShareholdersView {
        dividend_pool: Money::fen(pool),
        total_weight,
        shareholders,
        preview_total: Money::fen(preview_total),
        preview_remainder: Money::fen(pool - preview_total),
        history,
    }))
}

/// 设置股东权重（0 移除） / Set a shareholder's weight (0 removes)
#[utoipa::path(post, path = "/v1/admin/shareholders", tag = "network", request_body = views::SetShareholder,
    responses((status = 200, body = Applied)))]
pub async fn set_console_shareholder(who: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<Applied>> {
    crate::routes::audited(who.actor(), state, body, "set_shareholder").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_table_names_and_validates_real_codes() {
        assert_eq!(regions()[&440305].names, ["广东省", "深圳市", "南山区"]);
        assert_eq!(regions()[&441900].names, ["广东省", "东莞市"]);
        assert!(store_region("440305").is_ok());
        assert!(store_region("441900").is_ok(), "a city without districts holds stores");
        assert!(store_region("440300").is_err(), "a city with districts is not a store's region");
        assert!(store_region("999999").is_err());
        assert!(store_region("44030").is_err());
        assert_eq!(agent_region("440305", Level::City).unwrap(), 440300);
        assert_eq!(agent_region("440000", Level::Province).unwrap(), 440000);
        assert!(agent_region("990000", Level::Province).is_err());
        assert_eq!(beijing_day("2026-12-01T16:00:00Z"), beijing_day("2026-12-02T00:00:00+08:00"));
        assert_eq!(day_label(beijing_day("2026-12-01T16:30:00Z").unwrap()), "2026-12-02");
    }
}
