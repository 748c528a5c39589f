//! The store's own page (`/store/`, 门店): a store token, issued by the platform's integration
//! (`POST /v1/merchants/{id}/token`) or by an operator in the console
//! (`POST /v1/admin/stores/{id}/token`), lets the store's owner read that one store: its
//! figures, its bound members and its member-binding QR code. The figures are the console's
//! store detail ([`network::store_detail`]), so the two always agree.
//!
//! Store tokens are `st.<payload>.<signature>` ([`auth::issue_store_token`]), signed with a key
//! derived from the program's secret (a member token is never a store token), and expire after
//! `member_token_ttl_s` like member tokens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use zengzhi_core::Rejection;

use super::network::{self, BoundMember, DayFlow, Flow, PageQuery, RegionRef};
use super::{no_fields, ApiRouter, Q};
use crate::error::ApiResult;
use crate::guards::{CanOperate, IntegrationKey, StoreToken};
use crate::views::{Id, Money, Rate};
use crate::{auth, AppState};

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![merchant_token, console_store_token, store_page_me, store_page_members, store_page_qr]
}

/// A store token.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreTokenIssued {
    pub store: Id,
    /// `st.<payload>.<signature>`: send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_unix: u64,
    /// The store page with the token, relative to the server: `/store/#token=<token>` (the
    /// token travels in the fragment, which browsers do not send to servers).
    #[schema(example = "/store/#token=st.c2hvcC4xNzY0ODAwMDAw.sig")]
    pub page_path: String,
}

async fn issue(state: &Arc<AppState>, id: String) -> ApiResult<StoreTokenIssued> {
    let key = id.clone();
    if !state.query(move |e| e.merchant(&key).is_some()).await? {
        return Err(Rejection::UnknownMerchant.into());
    }
    let expires = auth::now_unix() + state.config.member_token_ttl_s;
    let token = auth::issue_store_token(&state.token_secret, &id, expires);
    let page_path = format!("/store/#token={token}");
    Ok(StoreTokenIssued { store: Id(id), token, expires_unix: expires, page_path })
}

/// 签发门店令牌 / Issue a signed, expiring store token (the store's own page)
#[utoipa::path(post, path = "/v1/merchants/{id}/token", tag = "integration",
    params(("id" = String, Path, description = "store id")),
    responses((status = 200, body = StoreTokenIssued)))]
pub async fn merchant_token(_: IntegrationKey, State(state): S, Path(id): Path<String>) -> ApiResult<Json<StoreTokenIssued>> {
    Ok(Json(issue(&state, id).await?))
}

/// 为门店页签发门店令牌（记入操作日志） / Issue a store token for the store's page (audited)
#[utoipa::path(post, path = "/v1/admin/stores/{id}/token", tag = "network",
    params(("id" = String, Path, description = "store id")),
    responses((status = 200, body = StoreTokenIssued)))]
pub async fn console_store_token(
    who: CanOperate,
    State(state): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<StoreTokenIssued>> {
    no_fields(&body)?;
    let issued = issue(&state, id.clone()).await?;
    // The token itself is a secret: the log says who issued one for which store, and until when.
    let detail = serde_json::json!({"merchant": id, "expires_unix": issued.expires_unix}).to_string();
    let change = crate::Change { target: Some(format!("merchant:{id}")), ..Default::default() };
    state.audit_change(who.actor(), "issue_store_token", detail, change).await;
    Ok(Json(issued))
}

/// What the store's page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreMe {
    pub store: Id,
    pub region: Option<RegionRef>,
    /// The commission rate the store pays on its orders.
    pub commission_rate: Rate,
    pub owner: Option<Id>,
    pub recruiter: Option<Id>,
    /// All reward money the owner has earned (every kind of reward, all stores).
    pub owner_rewards: Option<Money>,
    /// All reward money the recruiter has earned (every kind of reward, all stores).
    pub recruiter_rewards: Option<Money>,
    /// Today (Beijing time): flow (GMV), orders, commission paid.
    pub today: Flow,
    /// The last 7 Beijing days, today included.
    pub last_7_days: Flow,
    /// The last 30 Beijing days, today included.
    pub last_30_days: Flow,
    /// Members bound to the store (whose referrer is the store's owner).
    pub bound_members: u64,
    /// The member-binding link the QR code encodes.
    pub join_link: String,
    /// The last 30 Beijing days, oldest first.
    pub daily: Vec<DayFlow>,
}

/// 门店页：今日 / 7 天 / 30 天流水、订单、佣金，店主与推荐人奖励 / The store's page: today's, 7 days' and 30 days' flow, orders and commission; the owner's and recruiter's rewards; the join link; 30 days by day
#[utoipa::path(get, path = "/v1/store/me", tag = "store", responses((status = 200, body = StoreMe)))]
pub async fn store_page_me(StoreToken(id): StoreToken, State(state): S) -> ApiResult<Json<StoreMe>> {
    let d = network::store_detail(&state, id, PageQuery { page: Some(1), page_size: Some(1) }).await?;
    let s = d.store;
    Ok(Json(StoreMe {
        store: s.id,
        region: s.region,
        commission_rate: s.commission_rate,
        owner: s.owner,
        recruiter: s.recruiter,
        owner_rewards: d.owner_rewards,
        recruiter_rewards: d.recruiter_rewards,
        today: s.today,
        last_7_days: s.last_7_days,
        last_30_days: s.last_30_days,
        bound_members: s.bound_members,
        join_link: d.join_link,
        daily: d.daily,
    }))
}

/// A page of the store's bound members.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreMembers {
    /// By member id.
    pub items: Vec<BoundMember>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// 门店绑定会员（分页） / The members bound to the store, by id (paged)
#[utoipa::path(get, path = "/v1/store/members", tag = "store", params(PageQuery),
    responses((status = 200, body = StoreMembers)))]
pub async fn store_page_members(
    StoreToken(id): StoreToken,
    State(state): S,
    Q(query): Q<PageQuery>,
) -> ApiResult<Json<StoreMembers>> {
    let (items, total, page, page_size) = network::store_members(&state, id, query).await?;
    Ok(Json(StoreMembers { items, total, page, page_size }))
}

/// 门店会员绑定二维码（SVG） / The store's member-binding QR code (SVG of the join link)
#[utoipa::path(get, path = "/v1/store/qr.svg", tag = "store",
    responses((status = 200, description = "The QR code", content_type = "image/svg+xml", body = String)))]
pub async fn store_page_qr(StoreToken(id): StoreToken, State(state): S) -> ApiResult<Response> {
    network::qr_svg(&state, id).await
}
