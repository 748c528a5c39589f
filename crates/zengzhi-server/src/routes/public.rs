//! Public routes: liveness, metrics, the OpenAPI document, statistics, price history, proof.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use zengzhi_core::num::format_price;
use zengzhi_core::Engine;

use super::{ApiRouter, Q};
use crate::error::ApiResult;
use crate::guards::Public;
use crate::views::{
    CandleView, CoinTotals, Conservation, Interval, Money, MoneyInflow, MoneyWhere, PointTotals, Points, Price,
    PriceHistory, Proof, Stats, StatsTotals,
};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![healthz, metrics_text, openapi_json, stats, price_history, proof]
}

/// 健康检查 / Liveness
#[utoipa::path(get, path = "/healthz", tag = "public", responses((status = 200, body = crate::views::Health)))]
pub async fn healthz(_: Public) -> Json<crate::views::Health> {
    Json(crate::views::Health { status: "ok".into() })
}

/// 监控指标 / Prometheus metrics
#[utoipa::path(get, path = "/metrics", tag = "public",
    responses((status = 200, description = "The Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics_text(_: Public, State(state): S) -> ApiResult<Response> {
    let totals = state
        .query(|e| (e.totals().orders, e.totals().exits, e.member_count() as u64, e.heap_bytes() as u64))
        .await?;
    let text =
        state.metrics.render(state.writer.stats(), state.watermark.load(std::sync::atomic::Ordering::Acquire), totals);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text).into_response())
}

/// 接口文档 / This document (OpenAPI 3.1)
#[utoipa::path(get, path = "/v1/openapi.json", tag = "public", responses((status = 200, body = Object)))]
pub async fn openapi_json(_: Public) -> Json<&'static Value> {
    Json(super::openapi())
}

pub(crate) fn stats_of(e: &Engine) -> Stats {
    let (p, n) = e.reference_price();
    let t = e.totals();
    let holding = e.aggregates().members_holding;
    Stats {
        pool: Money::fen(e.pool_fen()),
        supply: Points::units(e.supply_units()),
        price: Price(format_price(p, n)),
        members: e.member_count() as u64,
        members_holding: holding as u64,
        merchants: e.merchant_count() as u64,
        orders: t.orders,
        exits: t.exits,
        totals: StatsTotals {
            commissions: Money::fen(t.commissions_fen),
            injected: Money::fen(t.injected_fen),
            subsidies: Money::fen(t.subsidies_fen),
            withdrawn: Money::fen(t.withdrawn_fen),
            redeemed: Money::fen(t.redeemed_fen),
            coins_issued: Money::fen(t.coins_issued_fen),
        },
        platform_revenue: Money::fen(e.platform_revenue_fen()),
        dividend_pool: Money::fen(e.dividend_pool_fen()),
    }
}

/// 盈利池、流通积分、价格、会员、出局、合计 / Pool, supply, price, members, exits, totals
#[utoipa::path(get, path = "/v1/stats", tag = "public", responses((status = 200, body = Stats)))]
pub async fn stats(_: Public, State(state): S) -> ApiResult<Json<Stats>> {
    Ok(Json(state.query(stats_of).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// `minute`, `hour` (default) or `day`.
    #[param(inline)]
    interval: Option<Interval>,
    /// At most 5,000 (default 500).
    limit: Option<usize>,
}

/// 价格 K 线 / Price candles, oldest first
#[utoipa::path(get, path = "/v1/price/history", tag = "public", params(HistoryQuery), responses((status = 200, body = PriceHistory)))]
pub async fn price_history(_: Public, State(state): S, Q(q): Q<HistoryQuery>) -> ApiResult<Json<PriceHistory>> {
    let interval = q.interval.unwrap_or(Interval::Hour);
    let limit = q.limit.unwrap_or(500).min(5_000);
    state.wait_projected(Duration::from_secs(1)).await;
    let candles = state.read(move |b| b.candles(interval.into(), limit)).await?;
    let price = |v: i64| Price(format!("{}.{:08}", v / 100_000_000, v % 100_000_000));
    let candles = candles
        .iter()
        .map(|c| CandleView {
            start: c.start.clone(),
            open: price(c.open),
            high: price(c.high),
            low: price(c.low),
            close: price(c.close),
            pool: Money::fen(c.pool_fen),
            supply: Points::units(c.supply_units),
        })
        .collect();
    Ok(Json(PriceHistory { interval, timezone: "Asia/Shanghai".into(), candles }))
}

fn conservation(e: &Engine) -> Conservation {
    let t = e.totals();
    // Kept by the engine as it goes: no pass over the members on the writer thread.
    let a = e.aggregates();
    let money_where = [e.pool_fen(), a.member_cash_fen, e.platform_revenue_fen(), e.dividend_pool_fen(), t.withdrawn_fen, t.cash_spent_fen, t.redeemed_fen];
    Conservation {
        money_in: MoneyInflow {
            commissions: Money::fen(t.commissions_fen),
            injected: Money::fen(t.injected_fen),
            subsidies: Money::fen(t.subsidies_fen),
            total: Money::wide(t.money_in()),
        },
        money_where: MoneyWhere {
            pool: Money::fen(e.pool_fen()),
            member_cash: Money::fen(a.member_cash_fen),
            platform_revenue: Money::fen(e.platform_revenue_fen()),
            dividend_pool: Money::fen(e.dividend_pool_fen()),
            withdrawn: Money::fen(t.withdrawn_fen),
            cash_spent: Money::fen(t.cash_spent_fen),
            redeemed: Money::fen(t.redeemed_fen),
            total: Money::wide(money_where.into_iter().map(i128::from).sum()),
        },
        coins: CoinTotals {
            issued: Money::fen(t.coins_issued_fen),
            held: Money::fen(a.member_coins_fen),
            spent: Money::fen(t.coins_spent_fen),
        },
        points: PointTotals { supply: Points::units(e.supply_units()), held_by_members: Points::units(a.member_held) },
    }
}

/// 日志长度、链头哈希、资金守恒 / Journal length, head hash, money-conservation totals
#[utoipa::path(get, path = "/v1/proof", tag = "public", responses((status = 200, body = Proof)))]
pub async fn proof(_: Public, State(state): S) -> ApiResult<Json<Proof>> {
    let (seq, hash) = state.writer.stats().head();
    let conservation = state.query(conservation).await?;
    Ok(Json(Proof { journal_length: seq, head_hash: zengzhi_journal::hex(&hash), conservation }))
}
