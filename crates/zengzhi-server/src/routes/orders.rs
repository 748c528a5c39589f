//! Orders (an `integration` key, or admin; reading one also with a `readonly` key): single and
//! batch, idempotent on the order id; with a settlement delay they are held as pending and may
//! be refunded until they settle.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use zengzhi_core::json::Json as J;
use zengzhi_core::num::{Fen, Units};
use zengzhi_core::{Command, Rejection};

use super::{command_from, command_of, object, ApiRouter};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::guards::{CanReadOrders, IntegrationKey};
use crate::settlement::{self, without_at};
use crate::views::{
    self, BatchItem, BatchItemError, Id, Money, OrderBatchResult, OrderResult, OrderView, PendingOrderView,
    PendingStatus, Points, SettledOrder, SettledStatus,
};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![create_order, create_orders_batch, get_order, refund_order]
}

fn order_result(seq: u64, at: &str, order: &str, applied: &zengzhi_core::Applied, replay: bool) -> OrderResult {
    OrderResult {
        ok: true,
        order: Id(order.to_string()),
        seq,
        at: at.to_string(),
        minted: Points::units(applied.minted),
        commission: Money::fen(applied.commission_fen),
        exits: applied.exits,
        idempotent_replay: replay,
    }
}

/// An order id already used: the same body again is answered with the original result; a
/// different body is a conflict.
async fn idempotent(state: &Arc<AppState>, command: &Command<'static>) -> ApiResult<OrderResult> {
    let Command::Order { order, .. } = command else { return Err(Rejection::DuplicateId.into()) };
    let caught_up = state.wait_projected(Duration::from_secs(3)).await;
    let id = order.to_string();
    let found = state.read(move |b| b.order(&id)).await?;
    let Some((row, stored)) = found else {
        if !caught_up {
            // Under heavy load the query tables may lag: the order exists, its result is not
            // readable yet. The caller retries (503), as for a full queue.
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ApiCode::Busy,
                format!(
                "order {order} exists; its result is not readable yet, retry shortly / 订单已存在，结果稍后可查，请重试"
            ),
            ));
        }
        return Err(ApiError::internal(format!("order {order} is journaled but not in the query tables")));
    };
    let mine = command.to_json(None);
    if without_at(&stored) != without_at(&mine) {
        return Err(ApiError::conflict(
            ApiCode::IdempotencyConflict,
            format!("order {order} exists with a different body / 订单号 {order} 已用于不同的订单"),
        ));
    }
    let applied = zengzhi_core::Applied { exits: 0, minted: Units::from_units(row.minted_units), commission_fen: Fen::from_fen(row.commission_fen) };
    Ok(order_result(row.seq, &row.at, order, &applied, true))
}

/// 结算订单（订单号幂等） / A settled order (idempotent on the order id)
///
/// With a settlement delay the order is held as pending first (202; 200 when the same order
/// was posted before).
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = views::NewOrder,
    responses((status = 200, body = OrderResult), (status = 202, description = "Held for the settlement delay", body = PendingOrderView)))]
pub async fn create_order(_: IntegrationKey, State(state): S, body: Bytes) -> ApiResult<Response> {
    let command = command_from("order", &body, &[])?;
    if state.config.settlement_delay_s > 0 {
        let (created, v) = settlement::hold(&state, command).await?;
        let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
        return Ok((status, Json(v)).into_response());
    }
    let outcome = state.submit_one(command.clone()).await?;
    match outcome.result {
        Err(Rejection::DuplicateId) => Ok(Json(idempotent(&state, &command).await?).into_response()),
        Err(r) => Err(r.into()),
        Ok(applied) => {
            let Command::Order { order, .. } = &command else { unreachable!("built as an order") };
            Ok(Json(order_result(
                outcome.seq.unwrap_or(0),
                outcome.at.as_deref().unwrap_or(""),
                order,
                &applied,
                false,
            ))
            .into_response())
        }
    }
}

/// Orders in one request at most.
pub const MAX_BATCH: usize = 10_000;

fn item_error(e: ApiError) -> BatchItem {
    BatchItem::Error(BatchItemError { ok: false, error: e.code, message: e.message })
}

/// 批量订单（最多 10,000 笔） / Up to 10,000 orders, one result each
#[utoipa::path(post, path = "/v1/orders/batch", tag = "orders", request_body = views::OrderBatch,
    responses((status = 200, body = OrderBatchResult)))]
pub async fn create_orders_batch(_: IntegrationKey, State(state): S, body: Bytes) -> ApiResult<Response> {
    let mut fields = object(&body)?;
    let orders = match fields.as_mut_slice() {
        [(k, J::Arr(items))] if k == "orders" => std::mem::take(items),
        _ => {
            return Err(ApiError::bad_request(
                ApiCode::InvalidCommand,
                "the body is {\"orders\": [...]} / 请求体应为 {\"orders\": [...]}",
            ))
        }
    };
    if orders.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::BatchTooLarge,
            format!("at most {MAX_BATCH} orders per batch / 每批最多 {MAX_BATCH} 笔"),
        ));
    }
    // Each item is read on its own; a bad item gets its own error and the others go on.
    let parsed: Vec<Result<Command<'static>, ApiError>> = orders
        .into_iter()
        .map(|item| match item {
            J::Obj(members) => command_of("order", members, &[]),
            _ => Err(ApiError::bad_request(ApiCode::InvalidCommand, "each order is an object / 每笔订单必须是对象")),
        })
        .collect();
    if state.config.settlement_delay_s > 0 {
        // Held as pending, one by one (each with its own idempotency check).
        let mut results = Vec::with_capacity(parsed.len());
        for p in parsed {
            results.push(match p {
                Ok(command) => match settlement::hold(&state, command).await {
                    Ok((_, v)) => BatchItem::Pending(v),
                    Err(e) => item_error(e),
                },
                Err(e) => item_error(e),
            });
        }
        let accepted = results.iter().filter(|r| !matches!(r, BatchItem::Error(_))).count();
        let rejected = results.len() - accepted;
        return Ok(Json(OrderBatchResult { results, accepted, rejected }).into_response());
    }
    let valid: Vec<Command<'static>> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let mut outcomes = state.submit(valid).await?.into_iter();
    // Written directly (the common item needs no escaping: ids are plain, times RFC 3339), in
    // the shape of `OrderBatchResult`.
    let mut out = String::with_capacity(parsed.len() * 160);
    let (mut accepted, mut rejected) = (0usize, 0usize);
    out.push_str("{\"results\":[");
    for (n, p) in parsed.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let item = match p {
            Err(e) => Err(e),
            Ok(command) => {
                let outcome = outcomes.next().ok_or_else(|| ApiError::internal("missing outcome"))?;
                let Command::Order { order, .. } = &command else { unreachable!("built as an order") };
                match outcome.result {
                    Ok(applied) => Ok(format!(
                        "{{\"ok\":true,\"order\":\"{order}\",\"seq\":{},\"at\":\"{}\",\"minted\":\"{}\",\"commission\":\"{}\",\"exits\":{},\"idempotent_replay\":false}}",
                        outcome.seq.unwrap_or(0),
                        outcome.at.as_deref().unwrap_or(""),
                        Points::units(applied.minted).0,
                        Money::fen(applied.commission_fen).0,
                        applied.exits
                    )),
                    Err(Rejection::DuplicateId) => idempotent(&state, &command).await.map(|v| serde_json::to_string(&v).unwrap_or_default()),
                    Err(r) => Err(crate::error::rejection(r)),
                }
            }
        };
        match item {
            Ok(v) => {
                accepted += 1;
                out.push_str(&v);
            }
            Err(e) => {
                rejected += 1;
                out.push_str(&serde_json::to_string(&item_error(e)).unwrap_or_default());
            }
        }
    }
    out.push_str(&format!("],\"accepted\":{accepted},\"rejected\":{rejected}}}"));
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], out).into_response())
}

/// 查询订单 / One order (pending, settled, rejected or refunded)
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderView)))]
pub async fn get_order(_: CanReadOrders, State(state): S, Path(id): Path<String>) -> ApiResult<Json<OrderView>> {
    let pid = id.clone();
    if let Some(p) = state.read(move |b| b.pending_get(&pid)).await? {
        let view = settlement::pending_view(&p)?;
        if view.status != PendingStatus::Settled {
            return Ok(Json(OrderView::Pending(view)));
        }
    }
    state.wait_projected(Duration::from_secs(2)).await;
    let found = state.read(move |b| b.order(&id)).await?;
    let (row, _) = found.ok_or_else(|| ApiError::not_found("no such order / 订单不存在"))?;
    Ok(Json(OrderView::Settled(SettledOrder {
        order: Id(row.order_id),
        seq: row.seq,
        at: row.at,
        member: Id(row.member),
        merchant: row.merchant.map(Id),
        amount: Money::fen(row.amount_fen),
        commission: Money::fen(row.commission_fen),
        minted: Points::units(row.minted_units),
        status: SettledStatus::Settled,
    })))
}

/// 结算前退款 / Refund a pending order within the settlement delay (refused after settlement)
#[utoipa::path(post, path = "/v1/orders/{id}/refund", tag = "orders", params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = PendingOrderView)))]
pub async fn refund_order(
    who: IntegrationKey,
    State(state): S,
    Path(id): Path<String>,
) -> ApiResult<Json<PendingOrderView>> {
    refund_pending(&state, who.actor(), id).await.map(Json)
}

/// Refunds a pending order (the integration's route and the console's share it): the refund is
/// audited once, when it happens; asking again answers the refunded order; a settled, settling,
/// rejected or unknown order is refused and changes nothing.
pub(crate) async fn refund_pending(state: &Arc<AppState>, actor: &crate::guards::Actor, id: String) -> ApiResult<PendingOrderView> {
    let rid = id.clone();
    let refunded = state.read(move |b| b.pending_refund(&rid)).await?;
    let pid = id.clone();
    let pending = state.read(move |b| b.pending_get(&pid)).await?;
    match pending {
        Some(p) => {
            let view = settlement::pending_view(&p)?;
            match view.status {
                PendingStatus::Refunded => {
                    if refunded {
                        let change = crate::Change {
                            target: Some(format!("order:{id}")),
                            before: Some("pending".into()),
                            after: Some("refunded".into()),
                        };
                        state.audit_change(actor, "refund_order", id, change).await;
                    }
                    Ok(view)
                }
                PendingStatus::Settling | PendingStatus::Settled => Err(ApiError::conflict(
                    ApiCode::AlreadySettled,
                    format!("order {} has settled; a refund is no longer possible / 订单已结算，不能退款", p.order_id),
                )),
                status => Err(ApiError::conflict(
                    ApiCode::NotRefundable,
                    format!("order {} was {status} / 订单状态为 {status}", p.order_id),
                )),
            }
        }
        None => {
            let oid = id.clone();
            if state.query(move |e| e.has_order(&oid)).await? {
                Err(ApiError::conflict(
                    ApiCode::AlreadySettled,
                    "the order has settled; a refund is no longer possible / 订单已结算，不能退款",
                ))
            } else {
                Err(ApiError::not_found("no such order / 订单不存在"))
            }
        }
    }
}
