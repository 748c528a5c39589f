//! The platform's backend (an `integration` key, or admin): members, stores, agents,
//! shareholders, legacy coins, member tokens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use zengzhi_core::json::Json as J;
use zengzhi_core::Rejection;

use super::{accepted, command_from, object, run, ApiRouter};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::guards::{CanRegister, IntegrationKey};
use crate::views::{self, Applied, Id, MemberCreated, MemberTokenIssued};
use crate::{auth, AppState};

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![create_member, member_token, create_merchant, appoint_agent, set_shareholder, grant_coins]
}

/// 注册会员（推荐人，或扫码门店绑定店主） / Register a member (referrer, or the store whose QR code was scanned: binds to its owner)
#[utoipa::path(post, path = "/v1/members", tag = "integration", request_body = views::RegisterMember,
    responses((status = 200, body = MemberCreated)))]
pub async fn create_member(who: CanRegister, State(state): S, body: Bytes) -> ApiResult<Json<MemberCreated>> {
    let fields = object(&body)?;
    let mut member = None;
    let mut referrer = None;
    let mut store = None;
    for (k, v) in &fields {
        let J::Str(s) = v else {
            if *v == J::Null && k.as_ref() != "member" {
                continue;
            }
            return Err(ApiError::bad_request(
                ApiCode::InvalidCommand,
                format!("{k} must be a string / {k} 必须是字符串"),
            ));
        };
        match k.as_ref() {
            "member" => member = Some(s.to_string()),
            "referrer" => referrer = Some(s.to_string()),
            "store" => store = Some(s.to_string()),
            "at" => {}
            other => {
                return Err(ApiError::bad_request(
                    ApiCode::InvalidCommand,
                    format!("unknown field {other} / 未知字段 {other}"),
                ))
            }
        }
    }
    let member =
        member.ok_or_else(|| ApiError::bad_request(ApiCode::InvalidCommand, "member is required / 缺少 member"))?;
    let bound_store = store.clone();
    if let Some(store) = store {
        if referrer.is_some() {
            return Err(ApiError::bad_request(
                ApiCode::InvalidCommand,
                "give referrer or store, not both / referrer 与 store 只能二选一",
            ));
        }
        // A store's QR code or link binds the new member to the store's owner.
        let owner = state
            .query(move |e| {
                e.merchant(&store)
                    .map(|m| (m.owner != zengzhi_core::engine::NONE).then(|| e.member_id(m.owner).to_string()))
            })
            .await?
            .ok_or_else(|| ApiError::from(Rejection::UnknownMerchant))?;
        referrer = owner;
    }
    let mut inject = vec![("member", member.as_str())];
    if let Some(r) = &referrer {
        inject.push(("referrer", r.as_str()));
    }
    let command = command_from("register_member", b"{}", &inject)?;
    let (seq, at, _) = accepted(state.submit_one(command).await?)?;
    if let Some(store) = bound_store {
        super::members::bind_store(&state, member.clone(), store).await?;
    }
    if console(&who) {
        let change = crate::Change { target: Some(format!("member:{member}")), ..Default::default() };
        state.audit_change(who.actor(), "register_member", String::from_utf8_lossy(&body).into_owned(), change).await;
    }
    Ok(Json(MemberCreated { ok: true, seq, at, member: Id(member), referrer: referrer.map(Id) }))
}

/// 签发会员令牌 / Issue a signed, expiring member token
#[utoipa::path(post, path = "/v1/members/{id}/token", tag = "integration", params(("id" = String, Path, description = "member id")),
    responses((status = 200, body = MemberTokenIssued)))]
pub async fn member_token(
    _: IntegrationKey,
    State(state): S,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberTokenIssued>> {
    let m = id.clone();
    if !state.query(move |e| e.member(&m).is_some()).await? {
        return Err(Rejection::UnknownMember.into());
    }
    let expires = auth::now_unix() + state.config.member_token_ttl_s;
    let token = auth::issue_member_token(&state.token_secret, &id, expires);
    Ok(Json(MemberTokenIssued { member: Id(id), token, expires_unix: expires }))
}

/// 注册门店 / Register a store
#[utoipa::path(post, path = "/v1/merchants", tag = "integration", request_body = views::RegisterMerchant,
    responses((status = 200, body = Applied)))]
pub async fn create_merchant(who: CanRegister, State(state): S, body: Bytes) -> ApiResult<Json<Applied>> {
    if console(&who) {
        return crate::routes::audited(who.actor(), state, body, "register_merchant").await;
    }
    run(&state, command_from("register_merchant", &body, &[])?).await
}

/// Whether a registration comes from the back office (an operator session or the admin key),
/// not the platform's integration: those land in the operation log (the integration's own
/// registrations are the journal's business, and many).
fn console(who: &CanRegister) -> bool {
    !matches!(who.actor().caller, crate::auth::Caller::Key { scope: crate::auth::Scope::Integration, .. })
}

crate::audited_command!(
    /// 任命区域代理 / Appoint a regional agent
    appoint_agent: CanRegister, "integration", "/v1/agents", views::AppointAgent, "appoint_agent"
);
crate::audited_command!(
    /// 设置股东权重 / Set a shareholder's weight (0 removes)
    set_shareholder: CanRegister, "integration", "/v1/shareholders", views::SetShareholder, "set_shareholder"
);
crate::audited_command!(
    /// 发放消费币 / Grant legacy coins
    grant_coins: CanRegister, "integration", "/v1/coins", views::GrantCoins, "grant_coins"
);
