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
use crate::guards::{CanFinance, CanOperate, CanRead};
use crate::views::{self, RulesApplied, RulesDoc, RulesView};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        get_rules,
        put_rules,
        rules_dry_run,
        rules_history,
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
pub async fn get_rules(_: CanRead, State(state): S) -> ApiResult<Json<RulesView>> {
    let rules = state.query(|e| e.rules().clone()).await?;
    Ok(Json(RulesView { rules: rules_json(&rules), warnings: RuleProblem::list(&rules.warnings()) }))
}

/// The 422 of a rules edit that does not validate: every problem in words and as a list.
pub(crate) fn invalid_rules(problems: &[zengzhi_core::rules::RuleProblem]) -> ApiError {
    let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiCode::InvalidRules, "the rules are invalid / 规则无效");
    e.message = format!("{} — {}", e.message, problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
    e.problems = Some(RuleProblem::list(problems));
    e
}

/// 修改规则 / Change rules (partial: sections of keys as in the rules file; validated as a whole)
#[utoipa::path(put, path = "/v1/admin/rules", tag = "admin", request_body(content = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>, description = "Sections of keys, as in the rules TOML file"),
    responses((status = 200, body = RulesApplied)))]
pub async fn put_rules(who: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<RulesApplied>> {
    // A withdrawal being paid quoted its fee at the current rules; the change waits for it.
    let _withdrawals = state.withdrawal_lock.lock().await;
    let fields = object(&body)?;
    let doc = zengzhi_core::rules::doc_from_json(&J::Obj(fields))
        .ok_or_else(|| ApiError::bad_request(ApiCode::InvalidCommand, "rules must be an object"))?;
    // Validate here too, to answer with every problem in plain words.
    let current = state.query(|e| e.rules().clone()).await?;
    let next = current.updated(&doc).map_err(|problems| invalid_rules(&problems))?;
    let (seq, at, applied) = accepted(state.submit_one(Command::UpdateRules { rules: doc }).await?)?;
    let text = |rules: &zengzhi_core::Rules| serde_json::to_string(&rules_json(rules)).ok();
    let change = crate::Change { target: None, before: text(&current), after: text(&next) };
    state.audit_change(who.actor(), "update_rules", String::from_utf8_lossy(&body).into_owned(), change).await;
    Ok(Json(RulesApplied {
        ok: true,
        seq,
        at,
        exits: applied.exits,
        rules: rules_json(&next),
        warnings: RuleProblem::list(&next.warnings()),
    }))
}

/// The answer of a rules dry run.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RulesDryRun {
    /// The rules are valid (applying them would be accepted).
    pub valid: bool,
    /// Every problem (empty when valid).
    pub problems: Vec<RuleProblem>,
    /// The compliance warnings of the new rules (when valid).
    pub warnings: Vec<RuleProblem>,
    /// The keys that would change.
    pub diff: Vec<super::insight::RuleKeyChange>,
    /// The rules after the change (when valid).
    #[schema(required = true, value_type = Option<Object>)]
    pub rules: Option<RulesDoc>,
}

/// 规则试算（不生效） / Check a rules change without applying it: problems, compliance warnings and the diff
#[utoipa::path(post, path = "/v1/admin/rules/dry-run", tag = "admin", request_body(content = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>, description = "Sections of keys, as for PUT /v1/admin/rules"),
    responses((status = 200, body = RulesDryRun)))]
pub async fn rules_dry_run(_: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<RulesDryRun>> {
    let fields = object(&body)?;
    let doc = zengzhi_core::rules::doc_from_json(&J::Obj(fields))
        .ok_or_else(|| ApiError::bad_request(ApiCode::InvalidCommand, "rules must be an object"))?;
    let current = state.query(|e| e.rules().clone()).await?;
    Ok(Json(match current.updated(&doc) {
        Ok(next) => {
            let (before, after) = (super::insight::flat_rules(&current), super::insight::flat_rules(&next));
            let diff = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(*v))
                .map(|(k, v)| super::insight::RuleKeyChange {
                    key: k.clone(),
                    before: before.get(k).cloned(),
                    after: Some(v.clone()),
                })
                .collect();
            RulesDryRun {
                valid: true,
                problems: Vec::new(),
                warnings: RuleProblem::list(&next.warnings()),
                diff,
                rules: Some(rules_json(&next)),
            }
        }
        Err(problems) => RulesDryRun {
            valid: false,
            problems: RuleProblem::list(&problems),
            warnings: Vec::new(),
            diff: Vec::new(),
            rules: None,
        },
    }))
}

/// 规则变更历史 / Every rule change: journal seq, time, who (from the operation log) and the changed keys
#[utoipa::path(get, path = "/v1/admin/rules/history", tag = "admin", responses((status = 200, body = super::insight::RuleHistory)))]
pub async fn rules_history(_: CanRead, State(state): S) -> ApiResult<Json<super::insight::RuleHistory>> {
    Ok(Json(super::insight::rule_history(&state).await?))
}

crate::audited_command!(
    /// 融资注入 / Financing injection into the pool
    inject: CanOperate, "admin", "/v1/admin/inject", views::AmountBody, "inject"
);
crate::audited_command!(
    /// 开始补贴活动 / Start a subsidy campaign
    start_campaign: CanOperate, "admin", "/v1/admin/campaigns", views::StartCampaign, "start_campaign"
);
crate::audited_command!(
    /// 结束补贴活动 / End the campaign
    end_campaign: CanOperate, "admin", "/v1/admin/campaigns/end", views::NoFields, "end_campaign"
);
crate::audited_command!(
    /// 分批释放 / Release a batch of locked points
    release_locked: CanOperate, "admin", "/v1/admin/release-locked", views::NoFields, "release_locked"
);
crate::audited_command!(
    /// 股东分红 / Distribute shareholder dividends
    distribute_dividends: CanFinance, "admin", "/v1/admin/dividends", views::NoFields, "distribute_dividends"
);

/// 完整状态 / The full state (SPEC §8, without results)
#[utoipa::path(get, path = "/v1/admin/state", tag = "admin", responses((status = 200, description = "The state document of SPEC §8", body = Object)))]
pub async fn admin_state(_: CanRead, State(state): S) -> ApiResult<Response> {
    let text = crate::exports::state_text(&state).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text).into_response())
}
