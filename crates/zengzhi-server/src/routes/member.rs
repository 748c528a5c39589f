//! A member's own routes (a member token): balances, sell (with a preview), redeem, withdraw,
//! withdrawal requests and the ledger. The member is the token's; a body naming a member is
//! `invalid_command`. Also the member page's own reads (referrals, the rules in plain
//! numbers), the public `/v1/join` landing data and, in `--demo` only, the demo's way in
//! ([`demo_router`]).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zengzhi_core::engine::RewardKind;
use zengzhi_core::num::{format_price, PPM};
use zengzhi_core::{Command, Rejection};

use super::{accepted, command_from, ApiRouter, Q};
use crate::error::{ApiError, ApiResult};
use crate::guards::{MemberToken, Public};
use crate::views::{
    self, Balances, CapView, History, Id, LedgerItem, Me, MemberApplied, Money, Points, Price, Rate, SellPreview,
    WithdrawalPage, WithdrawalResult, WithdrawalStatus,
};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        me,
        sell_preview,
        me_sell,
        me_redeem,
        me_withdraw,
        me_withdrawals,
        me_history,
        me_referrals,
        me_rules,
        join_info
    ]
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(160, 160).build(),
        Err(_) => String::new(),
    }
}

/// 我的积分、价值、价格、封顶进度、出局可得、零钱、消费币、推广链接和二维码 / My points, value, price, cap progress, what exiting would pay now, cash, coins, referral link and QR code
#[utoipa::path(get, path = "/v1/me", tag = "member", responses((status = 200, body = Me)))]
pub async fn me(MemberToken(id): MemberToken, State(state): S) -> ApiResult<Json<Me>> {
    let link = format!("{}/join?ref={id}", state.public_url.trim_end_matches('/'));
    let m = id.clone();
    let reserved = state.read(move |b| b.withdrawals_reserved(&m)).await?;
    let m = id.clone();
    let qr = qr_svg(&link);
    let view = state
        .query(move |e| {
            let member = e.member(&m)?;
            let rules = e.rules();
            let (p, n) = e.reference_price();
            let held = e.held_value_fen(member);
            let cap = e.cap_fen(member);
            let realised = i128::from(member.cycle_realized_fen);
            let (_, exit_payout) = e.exit_quote(member);
            let progress_ppm = if cap > 0 { ((realised + i128::from(held)) * i128::from(PPM) / cap) as i64 } else { 0 };
            Some(Me {
                member: Id(m.clone()),
                points: Points::units(member.points),
                locked: Points::units(member.locked),
                value_now: Money::fen(held),
                price: Price(format_price(p, n)),
                cash: Money::fen(member.cash_fen),
                pending_withdrawals: Money::fen(reserved),
                withdrawable: Money::fen((member.cash_fen.to_fen() - reserved).max(0)),
                coins: Money::fen(member.coins_fen),
                cycle_consumption: Money::fen(member.cycle_consumption_fen),
                cycle_realized: Money::fen(member.cycle_realized_fen),
                lifetime_consumption: Money::fen(member.lifetime_consumption_fen),
                exits: u64::from(member.exits),
                rewards: Money::fen(member.rewards_fen),
                cap: CapView {
                    multiple: Rate::ppm(rules.exit_multiple_ppm),
                    cap: Money::fen(cap.min(i128::from(i64::MAX)) as i64),
                    progress: Rate::ppm(progress_ppm.min(100 * PPM)),
                    exit_would_pay_now: Money::fen(exit_payout),
                },
                referral_link: link,
                referral_qr_svg: qr,
            })
        })
        .await?
        .ok_or_else(|| ApiError::from(Rejection::UnknownMember))?;
    Ok(Json(view))
}

/// 卖出预览 / Preview a sale: gross, kept in the pool, payout
#[utoipa::path(post, path = "/v1/me/sell/preview", tag = "member", request_body = views::SellPoints,
    responses((status = 200, body = SellPreview)))]
pub async fn sell_preview(MemberToken(id): MemberToken, State(state): S, body: Bytes) -> ApiResult<Json<SellPreview>> {
    let command = command_from("sell", &body, &[("member", &id)])?;
    let Command::Sell { points, .. } = command else { unreachable!("built as a sell") };
    let preview = state
        .query(move |e| -> Result<SellPreview, Rejection> {
            let quote = e.sell_quote(&id, points)?;
            Ok(SellPreview {
                points: Points::units(quote.units),
                gross: Money::fen(quote.gross_fen),
                kept_in_pool: Money::fen(quote.kept_fen),
                payout: Money::fen(quote.payout_fen),
                retention: Rate::ppm(e.rules().retention_ppm),
            })
        })
        .await??;
    Ok(Json(preview))
}

async fn me_command(id: String, state: Arc<AppState>, body: Bytes, op: &'static str) -> ApiResult<Json<MemberApplied>> {
    let command = command_from(op, &body, &[("member", &id)])?;
    let (seq, at, applied) = accepted(state.submit_one(command).await?)?;
    let m = id.clone();
    let balances = state
        .query(move |e| {
            e.member(&m).map(|x| Balances { points: Points::units(x.points), cash: Money::fen(x.cash_fen) })
        })
        .await?;
    Ok(Json(MemberApplied { ok: true, seq, at, exits: applied.exits, member: Id(id), balances }))
}

/// 卖出积分 / Sell points for cash
#[utoipa::path(post, path = "/v1/me/sell", tag = "member", request_body = views::SellPoints,
    responses((status = 200, body = MemberApplied)))]
pub async fn me_sell(MemberToken(id): MemberToken, State(state): S, body: Bytes) -> ApiResult<Json<MemberApplied>> {
    me_command(id, state, body, "sell").await
}

/// 积分兑换 / Pay for goods with points
#[utoipa::path(post, path = "/v1/me/redeem", tag = "member", request_body = views::AmountBody,
    responses((status = 200, body = MemberApplied)))]
pub async fn me_redeem(MemberToken(id): MemberToken, State(state): S, body: Bytes) -> ApiResult<Json<MemberApplied>> {
    me_command(id, state, body, "redeem").await
}

/// 申请零钱提现（待审核，金额冻结至打款或驳回） / Ask to withdraw cash (queued for an operator; the amount is reserved until paid or rejected)
#[utoipa::path(post, path = "/v1/me/withdraw", tag = "member", request_body = views::AmountBody,
    responses((status = 202, description = "Queued for an operator", body = WithdrawalResult)))]
pub async fn me_withdraw(
    MemberToken(id): MemberToken,
    State(state): S,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<WithdrawalResult>)> {
    let Command::Withdraw { amount_fen, .. } = command_from("withdraw", &body, &[("member", &id)])? else {
        unreachable!("built as a withdraw")
    };
    let withdrawal = crate::withdrawals::request(&state, id, amount_fen.to_fen()).await?;
    Ok((StatusCode::ACCEPTED, Json(WithdrawalResult { ok: true, withdrawal })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MyWithdrawalQuery {
    #[param(inline)]
    status: Option<WithdrawalStatus>,
    /// Must be the member itself, if given.
    member: Option<String>,
    /// The previous page's `next_after`.
    after: Option<String>,
    /// 1 to 500 (default 50).
    limit: Option<usize>,
}

/// 我的提现申请 / My withdrawal requests
#[utoipa::path(get, path = "/v1/me/withdrawals", tag = "member", params(MyWithdrawalQuery),
    responses((status = 200, body = WithdrawalPage)))]
pub async fn me_withdrawals(
    MemberToken(id): MemberToken,
    State(state): S,
    Q(q): Q<MyWithdrawalQuery>,
) -> ApiResult<Json<WithdrawalPage>> {
    if q.member.as_ref().is_some_and(|m| *m != id) {
        return Err(ApiError::forbidden("a member sees its own withdrawals only / 只能查看自己的提现"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(crate::withdrawals::list(&state, q.status, Some(id), q.after, limit).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Entries before this journal position (the previous page's `next_before`).
    before: Option<u64>,
    /// 1 to 500 (default 50).
    limit: Option<usize>,
}

/// 我的明细 / My ledger, newest first
#[utoipa::path(get, path = "/v1/me/history", tag = "member", params(PageQuery), responses((status = 200, body = History)))]
pub async fn me_history(MemberToken(id): MemberToken, State(state): S, Q(q): Q<PageQuery>) -> ApiResult<Json<History>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let before = q.before.unwrap_or(u64::MAX);
    state.wait_projected(Duration::from_secs(1)).await;
    let m = id.clone();
    let rows = state.read(move |b| b.member_history(&m, before, limit)).await?;
    let next_before = (rows.len() >= limit).then(|| rows.last().map(|r| r.seq)).flatten();
    let items = rows
        .iter()
        .map(|r| LedgerItem {
            seq: r.seq,
            reason: r.reason.to_string(),
            points: Points::units(r.points),
            locked: Points::units(r.locked),
            cash: Money::fen(r.cash_fen),
            coins: Money::fen(r.coins_fen),
        })
        .collect();
    Ok(Json(History { member: Id(id), items, next_before }))
}

/// One member I referred.
#[derive(Debug, Serialize, ToSchema)]
pub struct Referral {
    pub member: Id,
    /// Who referred them (me for a direct referral, one of my direct referrals otherwise).
    pub referrer: Id,
    pub lifetime_consumption: Money,
    /// Whether they have bought anything yet.
    pub bought: bool,
}

/// My direct and indirect referrals (at most [`REFERRALS_SHOWN`] of each) and what my
/// rewards came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Referrals {
    pub member: Id,
    pub direct_count: u64,
    pub indirect_count: u64,
    pub direct: Vec<Referral>,
    pub indirect: Vec<Referral>,
    /// All reward money ever credited to me (referral, recruitment, agent and peer rewards).
    pub rewards: Money,
    /// My rewards by kind, every kind in this order: direct, indirect, recruiter, district,
    /// city, province, peer (0.00 where none). Summed from my ledger rows in the query tables,
    /// so it follows the projection (it waits briefly for it): right after an order it can lag
    /// `rewards`, which is the engine's own figure.
    pub rewards_by_kind: Vec<RewardByKind>,
    pub referral_link: String,
}

/// What a reward was paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RewardKindName {
    /// 直推: I referred the buyer.
    Direct,
    /// 间推: I referred the buyer's referrer.
    Indirect,
    /// 招商: I recruited the store.
    Recruiter,
    /// 区代: I am the store region's district agent.
    District,
    /// 市代: the city agent.
    City,
    /// 省代: the province agent.
    Province,
    /// 平级: I referred the store region's agent and hold the same level.
    Peer,
}

impl From<RewardKind> for RewardKindName {
    fn from(kind: RewardKind) -> Self {
        match kind {
            RewardKind::Direct => RewardKindName::Direct,
            RewardKind::Indirect => RewardKindName::Indirect,
            RewardKind::Recruiter => RewardKindName::Recruiter,
            RewardKind::District => RewardKindName::District,
            RewardKind::City => RewardKindName::City,
            RewardKind::Province => RewardKindName::Province,
            RewardKind::Peer => RewardKindName::Peer,
        }
    }
}

/// My rewards of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct RewardByKind {
    pub kind: RewardKindName,
    pub amount: Money,
}

/// How many referrals of each kind the list shows.
pub const REFERRALS_SHOWN: usize = 200;

/// 我的直推与间推 / My direct and indirect referrals, including those who have not bought yet
#[utoipa::path(get, path = "/v1/me/referrals", tag = "member", responses((status = 200, body = Referrals)))]
pub async fn me_referrals(MemberToken(id): MemberToken, State(state): S) -> ApiResult<Json<Referrals>> {
    let link = format!("{}/join?ref={id}", state.public_url.trim_end_matches('/'));
    state.wait_projected(Duration::from_secs(1)).await;
    let m = id.clone();
    let by_kind = state.read(move |b| b.member_rewards(&m)).await?;
    let rewards_by_kind: Vec<RewardByKind> =
        by_kind.into_iter().map(|(kind, fen)| RewardByKind { kind: kind.into(), amount: Money::fen(fen) }).collect();
    let m = id.clone();
    let view = state
        .query(move |e| {
            let me = e.member_index(&m)?;
            let rewards = e.member(&m)?.rewards_fen;
            let members = e.members();
            let item = |i: usize| {
                let x = &members[i];
                Referral {
                    member: Id(e.member_id(i as u32).to_string()),
                    referrer: Id(e.member_id(x.referrer).to_string()),
                    lifetime_consumption: Money::fen(x.lifetime_consumption_fen),
                    bought: x.lifetime_consumption_fen.is_positive(),
                }
            };
            let direct_idx: Vec<usize> = (0..members.len()).filter(|&i| members[i].referrer == me).collect();
            let indirect_idx: Vec<usize> = (0..members.len())
                .filter(|&i| {
                    let r = members[i].referrer;
                    r != zengzhi_core::engine::NONE && members[r as usize].referrer == me
                })
                .collect();
            Some(Referrals {
                member: Id(m.clone()),
                direct_count: direct_idx.len() as u64,
                indirect_count: indirect_idx.len() as u64,
                direct: direct_idx.iter().take(REFERRALS_SHOWN).map(|&i| item(i)).collect(),
                indirect: indirect_idx.iter().take(REFERRALS_SHOWN).map(|&i| item(i)).collect(),
                rewards: Money::fen(rewards),
                rewards_by_kind,
                referral_link: link,
            })
        })
        .await?
        .ok_or_else(|| ApiError::from(Rejection::UnknownMember))?;
    Ok(Json(view))
}

/// The rules as a member sees them (rates as decimal fractions of the order amount).
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberRules {
    /// The share of a sale's value that stays in the pool (e.g. "0.2").
    pub retention: Rate,
    /// The cap: this cycle's consumption times this multiple.
    pub exit_multiple: Rate,
    pub referral_direct: Rate,
    pub referral_indirect: Rate,
    pub store_recruiter: Rate,
    pub agent_district: Rate,
    pub agent_city: Rate,
    pub agent_province: Rate,
    /// Locked points released each day.
    pub vesting_release: Rate,
    pub withdraw_min: Money,
    pub withdraw_fee: Rate,
    pub price: Price,
}

/// 规则说明（当前配置） / The rules as configured now, for the member page
#[utoipa::path(get, path = "/v1/me/rules", tag = "member", responses((status = 200, body = MemberRules)))]
pub async fn me_rules(_: MemberToken, State(state): S) -> ApiResult<Json<MemberRules>> {
    let view = state
        .query(|e| {
            let r = e.rules();
            let (p, n) = e.reference_price();
            MemberRules {
                retention: Rate::ppm(r.retention_ppm),
                exit_multiple: Rate::ppm(r.exit_multiple_ppm),
                referral_direct: Rate::ppm(r.referral_direct_ppm),
                referral_indirect: Rate::ppm(r.referral_indirect_ppm),
                store_recruiter: Rate::ppm(r.referral_merchant_recruiter_ppm),
                agent_district: Rate::ppm(r.agent_district_ppm),
                agent_city: Rate::ppm(r.agent_city_ppm),
                agent_province: Rate::ppm(r.agent_province_ppm),
                vesting_release: Rate::ppm(r.vesting_release_ppm),
                withdraw_min: Money::fen(r.withdraw_min_fen),
                withdraw_fee: Rate::ppm(r.withdraw_fee_ppm),
                price: Price(format_price(p, n)),
            }
        })
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JoinQuery {
    /// The referring member (`/join?ref=ID`).
    #[serde(rename = "ref")]
    referrer: Option<String>,
    /// The store of a store's QR code (`/join?store=ID`).
    store: Option<String>,
}

/// What a `/join` link invites to.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinInfo {
    /// The referrer, when it is a registered member.
    pub referrer: Option<Id>,
    /// The store, when it is a registered store.
    pub store: Option<Id>,
    /// The platform's sign-up address with `ref` / `store` passed on (`None`: not configured).
    pub forward_url: Option<String>,
    /// Whether this is the demo (which registers a demo member itself).
    pub demo: bool,
    pub price: Price,
}

fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// 邀请落地页信息 / What a /join link invites to, and where sign-up continues
#[utoipa::path(get, path = "/v1/join", tag = "public", params(JoinQuery), responses((status = 200, body = JoinInfo)))]
pub async fn join_info(_: Public, State(state): S, Q(q): Q<JoinQuery>) -> ApiResult<Json<JoinInfo>> {
    let (r, st) = (q.referrer.clone(), q.store.clone());
    let (referrer, store, price) = state
        .query(move |e| {
            let (p, n) = e.reference_price();
            (r.filter(|r| e.member(r).is_some()), st.filter(|s| e.merchant(s).is_some()), Price(format_price(p, n)))
        })
        .await?;
    let forward_url = state.config.join_url.as_ref().map(|base| {
        let mut params = Vec::new();
        if let Some(r) = &q.referrer {
            params.push(format!("ref={}", query_escape(r)));
        }
        if let Some(s) = &q.store {
            params.push(format!("store={}", query_escape(s)));
        }
        if params.is_empty() {
            base.clone()
        } else {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}{}", params.join("&"))
        }
    });
    Ok(Json(JoinInfo { referrer: referrer.map(Id), store: store.map(Id), forward_url, demo: state.config.demo, price }))
}

/// The demo's way in (`--demo` only; not part of the API document): `GET /v1/demo/members`
/// lists a few demo members with a member token each, `POST /v1/demo/join` registers a new demo
/// member under a referrer (or bound to a store's owner) and answers its token. Without
/// `--demo` these paths are not routed at all.
pub fn demo_router(demo: bool) -> axum::Router<Arc<AppState>> {
    let router = axum::Router::new();
    if !demo {
        return router;
    }
    router
        .route("/v1/demo/members", axum::routing::get(demo_members))
        .route("/v1/demo/join", axum::routing::post(demo_join))
}

#[derive(Debug, Serialize)]
struct DemoMember {
    member: String,
    points: Points,
    cash: Money,
    token: String,
}

fn demo_token(state: &AppState, member: &str) -> String {
    crate::auth::issue_member_token(
        &state.token_secret,
        member,
        crate::auth::now_unix() + state.config.member_token_ttl_s,
    )
}

async fn demo_members(State(state): S) -> ApiResult<Json<Vec<DemoMember>>> {
    let rows = state
        .query(|e| {
            let mut rows: Vec<(String, zengzhi_core::num::Units, zengzhi_core::num::Fen)> = e
                .members()
                .iter()
                .enumerate()
                .filter(|(_, m)| m.points.is_positive())
                .map(|(i, m)| (e.member_id(i as u32).to_string(), m.points, m.cash_fen))
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            rows.truncate(6);
            rows
        })
        .await?;
    let list = rows
        .into_iter()
        .map(|(member, points, cash)| DemoMember {
            token: demo_token(&state, &member),
            points: Points::units(points),
            cash: Money::fen(cash),
            member,
        })
        .collect();
    Ok(Json(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoJoin {
    #[serde(rename = "ref")]
    referrer: Option<String>,
    store: Option<String>,
}

#[derive(Debug, Serialize)]
struct DemoJoined {
    member: String,
    referrer: Option<String>,
    token: String,
}

async fn demo_join(State(state): S, body: Bytes) -> ApiResult<Json<DemoJoined>> {
    let req: DemoJoin = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(crate::error::ApiCode::InvalidCommand, format!("{e} / 请求内容无效")))?;
    let (r, st) = (req.referrer.clone(), req.store.clone());
    let referrer = state
        .query(move |e| -> Result<Option<String>, Rejection> {
            if let Some(s) = st {
                let m = e.merchant(&s).ok_or(Rejection::UnknownMerchant)?;
                return Ok((m.owner != zengzhi_core::engine::NONE).then(|| e.member_id(m.owner).to_string()));
            }
            match r {
                Some(r) if e.member(&r).is_none() => Err(Rejection::UnknownMember),
                other => Ok(other),
            }
        })
        .await??;
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    let member = format!("demo-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let mut inject = vec![("member", member.as_str())];
    if let Some(r) = &referrer {
        inject.push(("referrer", r.as_str()));
    }
    let command = command_from("register_member", b"{}", &inject)?;
    accepted(state.submit_one(command).await?)?;
    let token = demo_token(&state, &member);
    Ok(Json(DemoJoined { member, referrer, token }))
}
