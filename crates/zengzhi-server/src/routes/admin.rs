//! Operators: the rules (read with a `readonly` key; changed with an `admin` key), injections,
//! campaigns, releases, dividends and the full state.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use zengzhi_core::json::Json as J;
use zengzhi_core::Command;

use super::{accepted, object, ApiRouter};
use crate::error::{ApiCode, ApiError, ApiResult, RuleProblem};
use crate::guards::{AdminKey, ReadKey};
use crate::views::{self, RulesApplied, RulesDoc, RulesView};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        get_rules,
        put_rules,
        inject,
        start_campaign,
        end_campaign,
        release_locked,
        distribute_dividends,
        admin_state
    ]
}

fn rules_json(rules: &zengzhi_core::Rules) -> RulesDoc {
    let mut out = serde_json::Map::new();
    for (section, keys) in rules.to_doc() {
        let mut obj = serde_json::Map::new();
        for (k, v) in keys.unwrap_or_default() {
            obj.insert(k, serde_json::json!(v));
        }
        out.insert(section, serde_json::Value::Object(obj));
    }
    out
}

/// 规则与合规提示 / The rules and their compliance warnings
#[utoipa::path(get, path = "/v1/admin/rules", tag = "admin", responses((status = 200, body = RulesView)))]
pub async fn get_rules(_: ReadKey, State(state): S) -> ApiResult<Json<RulesView>> {
    let rules = state.query(|e| e.rules().clone()).await?;
    Ok(Json(RulesView { rules: rules_json(&rules), warnings: RuleProblem::list(&rules.warnings()) }))
}

/// 修改规则 / Change rules (partial: sections of keys as in the rules file; validated as a whole)
#[utoipa::path(put, path = "/v1/admin/rules", tag = "admin", request_body(content = Object, description = "Sections of keys, as in the rules TOML file"),
    responses((status = 200, body = RulesApplied)))]
pub async fn put_rules(who: AdminKey, State(state): S, body: Bytes) -> ApiResult<Json<RulesApplied>> {
    // A withdrawal being paid quoted its fee at the current rules; the change waits for it.
    let _withdrawals = state.withdrawal_lock.lock().await;
    let fields = object(&body)?;
    let doc = zengzhi_core::rules::doc_from_json(&J::Obj(fields))
        .ok_or_else(|| ApiError::bad_request(ApiCode::InvalidCommand, "rules must be an object"))?;
    // Validate here too, to answer with every problem in plain words.
    let current = state.query(|e| e.rules().clone()).await?;
    let next = current.updated(&doc).map_err(|problems| {
        let mut e =
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiCode::InvalidRules, "the rules are invalid / 规则无效");
        e.message =
            format!("{} — {}", e.message, problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
        e.problems = Some(RuleProblem::list(&problems));
        e
    })?;
    let (seq, at, applied) = accepted(state.submit_one(Command::UpdateRules { rules: doc }).await?)?;
    state.audit(who.who(), "update_rules", String::from_utf8_lossy(&body).into_owned()).await;
    Ok(Json(RulesApplied {
        ok: true,
        seq,
        at,
        exits: applied.exits,
        rules: rules_json(&next),
        warnings: RuleProblem::list(&next.warnings()),
    }))
}

crate::audited_commands! {
    AdminKey, "admin";
    inject, "/v1/admin/inject", views::AmountBody, "inject", "融资注入 / Financing injection into the pool";
    start_campaign, "/v1/admin/campaigns", views::StartCampaign, "start_campaign", "开始补贴活动 / Start a subsidy campaign";
    end_campaign, "/v1/admin/campaigns/end", views::NoFields, "end_campaign", "结束补贴活动 / End the campaign";
    release_locked, "/v1/admin/release-locked", views::NoFields, "release_locked", "分批释放 / Release a batch of locked points";
    distribute_dividends, "/v1/admin/dividends", views::NoFields, "distribute_dividends", "股东分红 / Distribute shareholder dividends";
}

/// 完整状态 / The full state (SPEC §8, without results)
#[utoipa::path(get, path = "/v1/admin/state", tag = "admin", responses((status = 200, description = "The state document of SPEC §8", body = Object)))]
pub async fn admin_state(_: ReadKey, State(state): S) -> ApiResult<Response> {
    let text = crate::exports::state_text(&state).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text).into_response())
}
