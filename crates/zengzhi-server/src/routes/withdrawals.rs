//! The withdrawal queue for operators: list and read (a `readonly` key), pay and reject (an
//! `admin` key). See [`crate::withdrawals`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use zengzhi_core::json::Json as J;

use super::{fields_or_empty, no_fields, ApiRouter, Q};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::guards::{CanFinance, CanRead};
use crate::views::{self, WithdrawalPage, WithdrawalResult, WithdrawalStatus, WithdrawalView};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![list_withdrawals, show_withdrawal, pay_withdrawal, reject_withdrawal]
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WithdrawalQuery {
    #[param(inline)]
    status: Option<WithdrawalStatus>,
    member: Option<String>,
    /// The previous page's `next_after`.
    after: Option<String>,
    /// 1 to 1,000 (default 100).
    limit: Option<usize>,
}

/// 提现审核队列 / The withdrawal queue, oldest first
#[utoipa::path(get, path = "/v1/admin/withdrawals", tag = "withdrawals", params(WithdrawalQuery), responses((status = 200, body = WithdrawalPage)))]
pub async fn list_withdrawals(
    _: CanRead,
    State(state): S,
    Q(q): Q<WithdrawalQuery>,
) -> ApiResult<Json<WithdrawalPage>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(crate::withdrawals::list(&state, q.status, q.member, q.after, limit).await?))
}

/// 查询提现申请 / One withdrawal
#[utoipa::path(get, path = "/v1/admin/withdrawals/{id}", tag = "withdrawals", params(("id" = String, Path, description = "withdrawal id")),
    responses((status = 200, body = WithdrawalView)))]
pub async fn show_withdrawal(_: CanRead, State(state): S, Path(id): Path<String>) -> ApiResult<Json<WithdrawalView>> {
    Ok(Json(crate::withdrawals::show(&state, &id).await?))
}

/// 提现打款（幂等） / Pay a withdrawal: journals the withdraw command (idempotent)
#[utoipa::path(post, path = "/v1/admin/withdrawals/{id}/pay", tag = "withdrawals", params(("id" = String, Path, description = "withdrawal id")),
    request_body = views::NoFields, responses((status = 200, body = WithdrawalResult)))]
pub async fn pay_withdrawal(
    who: CanFinance,
    State(state): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<WithdrawalResult>> {
    no_fields(&body)?;
    let before = status_of(&state, &id).await;
    let withdrawal = crate::withdrawals::pay(&state, &id, who.who()).await?;
    state.audit_change(who.actor(), "pay_withdrawal", id, change(&withdrawal, before)).await;
    Ok(Json(WithdrawalResult { ok: true, withdrawal }))
}

/// 驳回提现，冻结金额退回零钱（幂等） / Reject a withdrawal: the reserved cash is withdrawable again (idempotent)
#[utoipa::path(post, path = "/v1/admin/withdrawals/{id}/reject", tag = "withdrawals", params(("id" = String, Path, description = "withdrawal id")),
    request_body = views::RejectWithdrawal, responses((status = 200, body = WithdrawalResult)))]
pub async fn reject_withdrawal(
    who: CanFinance,
    State(state): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<WithdrawalResult>> {
    let mut reason = None;
    for (k, v) in fields_or_empty(&body)? {
        match (k.as_ref(), v) {
            ("reason", J::Str(text)) if text.chars().count() <= 500 => reason = Some(text.into_owned()),
            ("reason", J::Null) => {}
            ("reason", _) => {
                return Err(ApiError::bad_request(
                    ApiCode::InvalidCommand,
                    "reason is a string of at most 500 characters / 原因最多 500 字",
                ))
            }
            (other, _) => {
                return Err(ApiError::bad_request(
                    ApiCode::InvalidCommand,
                    format!("unknown field {other} / 未知字段 {other}"),
                ))
            }
        }
    }
    let before = status_of(&state, &id).await;
    let withdrawal = crate::withdrawals::reject(&state, &id, who.who(), reason).await?;
    state.audit_change(who.actor(), "reject_withdrawal", id, change(&withdrawal, before)).await;
    Ok(Json(WithdrawalResult { ok: true, withdrawal }))
}

/// A withdrawal's stored status (for the operation log's "before"; none if unknown).
async fn status_of(state: &Arc<AppState>, id: &str) -> Option<String> {
    let id = id.to_string();
    state.read(move |b| b.withdrawal_get(&id)).await.ok().flatten().map(|w| w.status)
}

/// The operation log's change of a decision: the member, the status before and after.
fn change(w: &WithdrawalView, before: Option<String>) -> crate::Change {
    let v = serde_json::to_value(w).unwrap_or_default();
    let text = |k: &str| v[k].as_str().map(str::to_string);
    crate::Change { target: text("member").map(|m| format!("member:{m}")), before, after: text("status") }
}
