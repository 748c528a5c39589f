//! A member's own routes (a member token): balances, sell (with a preview), redeem, withdraw,
//! withdrawal requests and the ledger. The member is the token's; a body naming a member is
//! `invalid_command`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use zengzhi_core::num::{format_price, PPM};
use zengzhi_core::{Command, Rejection};

use super::{accepted, command_from, ApiRouter, Q};
use crate::error::{ApiError, ApiResult};
use crate::guards::MemberToken;
use crate::views::{
    self, Balances, CapView, History, Id, LedgerItem, Me, MemberApplied, Money, Points, Price, Rate, SellPreview,
    WithdrawalPage, WithdrawalResult, WithdrawalStatus,
};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![me, sell_preview, me_sell, me_redeem, me_withdraw, me_withdrawals, me_history]
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
