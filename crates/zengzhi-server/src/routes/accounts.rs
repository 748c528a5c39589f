//! Operator accounts (后台账号): sign-in, sign-out and who am I; the users, the API keys, the
//! operation log and the login log. See [`crate::accounts`].

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiRouter, Q};
use crate::accounts::{self, AccountError, Role};
use crate::auth::{self, Caller, Scope};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::guards::{CanAdminister, CanRead, ClientAddress, Public};
use crate::store::{self, Revoked};
use crate::{AppState, Change};

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        login,
        logout,
        auth_me,
        list_users,
        create_user,
        disable_user,
        list_keys,
        create_key,
        revoke_key,
        audit_log,
        login_log
    ]
}

/// A JSON body read into `T` (unknown fields are refused).
fn json_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        let code = if e.is_syntax() || e.is_eof() { ApiCode::InvalidJson } else { ApiCode::InvalidCommand };
        ApiError::bad_request(code, format!("{e} / 请求体不正确"))
    })
}

fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::PasswordTooShort => ApiError::bad_request(ApiCode::WeakPassword, e.to_string()),
        AccountError::BadName => ApiError::bad_request(ApiCode::InvalidUsername, e.to_string()),
        AccountError::Hash(detail) => ApiError::internal(detail),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The user's name; for an API key `key:<fingerprint>`.
    pub username: String,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResult {
    /// The session's bearer token (`zs_…`): shown once, kept by the server as its SHA-256.
    pub token: String,
    pub user: UserView,
    /// When the session ends if it stays idle (RFC 3339); each request moves it on, up to the
    /// absolute limit after the login.
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct LogoutResult {
    pub ok: bool,
    /// Whether a session was ended (an API key is not: revoke it instead).
    pub ended: bool,
}

fn rfc3339_in(seconds: u64) -> String {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 2));
    at.replace_nanosecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_default()
}

/// Records a login attempt (best effort).
async fn record_login(state: &Arc<AppState>, username: &str, address: &str, success: bool, reason: &str) {
    let record = store::LoginRecord {
        id: 0,
        at: zengzhi_journal::time_fmt::now_rfc3339(),
        username: username.into(),
        address: address.into(),
        success,
        reason: reason.into(),
    };
    if let Err(e) = state.read(move |b| b.login_record(&record)).await {
        tracing::warn!(code = e.code.as_str(), "login log write failed");
    }
}

/// 登录 / Sign in with a user name and password: a session token
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = LoginResult),
        (status = 401, description = "Wrong name or password (invalid_credentials)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed sign-ins (too_many_attempts); see Retry-After", body = crate::error::ErrorBody)))]
pub async fn login(
    _: Public,
    State(state): S,
    ClientAddress(address): ClientAddress,
    body: Bytes,
) -> ApiResult<Response> {
    let LoginBody { username, password } = json_body(&body)?;
    // As typed, bounded (it goes to the login log even when no such user exists).
    let username: String = username.chars().take(64).collect();
    // Counted before the password is checked (see `LoginLimiter::attempt`): a burst of
    // concurrent guesses gets no more verifications than the limit.
    let started = Instant::now();
    let attempt = state.login_limiter.lock().unwrap_or_else(|e| e.into_inner()).attempt(&username, &address, started);
    if let Err(wait) = attempt {
        record_login(&state, &username, &address, false, "rate_limited").await;
        let secs = wait.as_secs().max(1);
        return Ok(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiCode::TooManyAttempts,
            format!("登录失败次数过多，请 {secs} 秒后再试 / too many failed sign-ins; try again in {secs} s"),
        )
        .retry_after(secs));
    }
    let name = username.clone();
    let user = state.read(move |b| b.user_get(&name)).await?;
    // Verified off the async threads (Argon2 is slow on purpose); an unknown name is verified
    // against a dummy hash so it takes as long as a wrong password.
    let verdict = tokio::task::spawn_blocking(move || match user {
        None => {
            accounts::verify_password(&password, accounts::dummy_hash());
            Err("unknown_user")
        }
        Some(u) if !accounts::verify_password(&password, &u.password_hash) => Err("wrong_password"),
        Some(u) if u.disabled => Err("disabled"),
        Some(u) => Role::parse(&u.role).map(|role| (u.name, role)).ok_or("unknown_role"),
    })
    .await
    .map_err(ApiError::internal)?;
    let (name, role) = match verdict {
        Ok(found) => found,
        Err(reason) => {
            record_login(&state, &username, &address, false, reason).await;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ApiCode::InvalidCredentials,
                "用户名或密码错误 / wrong user name or password",
            ));
        }
    };
    state.login_limiter.lock().unwrap_or_else(|e| e.into_inner()).succeeded(&username, &address, started);
    let token = accounts::new_session_token().map_err(ApiError::internal)?;
    let hash = auth::sha256(token.as_bytes());
    let session_user = name.clone();
    state.read(move |b| b.session_insert(&hash, &session_user, auth::now_unix())).await?;
    record_login(&state, &username, &address, true, "ok").await;
    let limits = state.session_limits();
    let expires_at = rfc3339_in(limits.idle_s.min(limits.max_s));
    Ok(Json(LoginResult { token, user: UserView { username: name, role }, expires_at }).into_response())
}

/// 退出登录 / Sign out: the session's token stops working at once
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses((status = 200, body = LogoutResult)))]
pub async fn logout(who: CanRead, State(state): S, headers: HeaderMap) -> ApiResult<Json<LogoutResult>> {
    let ended = match (&who.actor().caller, auth::bearer(&headers)) {
        (Caller::Operator { .. }, Some(token)) => {
            let hash = auth::sha256(token.as_bytes());
            state.read(move |b| b.session_delete(&hash)).await?
        }
        _ => false,
    };
    if ended {
        state.audit(who.actor(), "logout", String::new()).await;
    }
    Ok(Json(LogoutResult { ok: true, ended }))
}

/// 当前用户 / Who am I: the user of a session, or the role an API key stands for
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", responses((status = 200, body = UserView)))]
pub async fn auth_me(who: CanRead, State(_): S) -> ApiResult<Json<UserView>> {
    Ok(Json(match &who.actor().caller {
        Caller::Operator { username, role } => UserView { username: username.clone(), role: *role },
        Caller::Key { scope, fingerprint } => UserView {
            username: format!("key:{fingerprint}"),
            role: if *scope == Scope::Admin { Role::Superadmin } else { Role::Auditor },
        },
        // The guard lets neither members nor integration keys in.
        Caller::Member(_) => return Err(ApiError::forbidden("members cannot use this route / 会员无权访问")),
        Caller::Store(_) => return Err(ApiError::forbidden("store tokens cannot use this route / 门店令牌无权访问")),
    }))
}

/// A user as listed (never the password hash).
#[derive(Serialize, ToSchema)]
pub struct UserItem {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserItem>,
}

fn user_item(u: store::User) -> Option<UserItem> {
    Some(UserItem { role: Role::parse(&u.role)?, username: u.name, disabled: u.disabled, created_at: u.created_at })
}

/// 后台账号列表 / The operator accounts
#[utoipa::path(get, path = "/v1/admin/users", tag = "accounts", responses((status = 200, body = UserList)))]
pub async fn list_users(_: CanAdminister, State(state): S) -> ApiResult<Json<UserList>> {
    let users = state.read(|b| b.users()).await?;
    Ok(Json(UserList { items: users.into_iter().filter_map(user_item).collect() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    /// At least 10 characters.
    pub password: String,
}

/// Checks a name and hashes a password (off the async threads).
pub async fn new_user(username: String, role: Role, password: String) -> ApiResult<store::User> {
    accounts::check_name(&username).map_err(account_error)?;
    let password_hash =
        tokio::task::spawn_blocking(move || accounts::hash_password(&password)).await.map_err(ApiError::internal)?;
    Ok(store::User {
        name: username,
        role: role.as_str().into(),
        password_hash: password_hash.map_err(account_error)?,
        disabled: false,
        created_at: zengzhi_journal::time_fmt::now_rfc3339(),
    })
}

/// 新建后台账号 / Create an operator account
#[utoipa::path(post, path = "/v1/admin/users", tag = "accounts", request_body = NewUser,
    responses((status = 200, body = UserItem)))]
pub async fn create_user(who: CanAdminister, State(state): S, body: Bytes) -> ApiResult<Json<UserItem>> {
    let NewUser { username, role, password } = json_body(&body)?;
    let user = new_user(username, role, password).await?;
    let stored = user.clone();
    if !state.read(move |b| b.user_insert(&stored)).await? {
        return Err(ApiError::conflict(ApiCode::UserExists, "该用户名已存在 / that user name is taken"));
    }
    let change = Change { target: Some(format!("user:{}", user.name)), before: None, after: Some(user.role.clone()) };
    state.audit_change(who.actor(), "users_create", format!("role {}", user.role), change).await;
    Ok(Json(UserItem { username: user.name, role, disabled: false, created_at: user.created_at }))
}

/// 停用后台账号 / Disable an operator account: its sessions end at once
#[utoipa::path(post, path = "/v1/admin/users/{name}/disable", tag = "accounts", params(("name" = String, Path, description = "user name")),
    request_body = crate::views::NoFields, responses((status = 200, body = UserItem)))]
pub async fn disable_user(who: CanAdminister, State(state): S, Path(name): Path<String>) -> ApiResult<Json<UserItem>> {
    let lookup = name.clone();
    let before = state.read(move |b| b.user_get(&lookup)).await?;
    let Some(before) = before else {
        return Err(ApiError::not_found("没有这个账号 / no such user").with_code(ApiCode::UnknownUser));
    };
    let target = name.clone();
    state.read(move |b| b.user_set_disabled(&target, true)).await?;
    let change = Change {
        target: Some(format!("user:{name}")),
        before: Some(if before.disabled { "disabled" } else { "enabled" }.into()),
        after: Some("disabled".into()),
    };
    state.audit_change(who.actor(), "users_disable", String::new(), change).await;
    let item =
        user_item(store::User { disabled: true, ..before }).ok_or_else(|| ApiError::internal("a stored role"))?;
    Ok(Json(item))
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<store::ApiKeyInfo>,
}

/// API 密钥列表 / The API keys (fingerprints, never the keys)
#[utoipa::path(get, path = "/v1/admin/keys", tag = "accounts", responses((status = 200, body = KeyList)))]
pub async fn list_keys(_: CanAdminister, State(state): S) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList { items: state.read(|b| b.api_keys()).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// `admin`, `integration` or `readonly`.
    pub scope: String,
    /// Who holds the key.
    #[serde(default)]
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct KeyCreated {
    /// The key: shown this once, stored only as its SHA-256.
    pub key: String,
    pub fingerprint: String,
    pub scope: String,
}

/// 新建 API 密钥（仅显示一次） / Create an API key (shown once)
#[utoipa::path(post, path = "/v1/admin/keys", tag = "accounts", request_body = NewKey,
    responses((status = 200, body = KeyCreated)))]
pub async fn create_key(who: CanAdminister, State(state): S, body: Bytes) -> ApiResult<Json<KeyCreated>> {
    let NewKey { scope, label } = json_body(&body)?;
    let scope = Scope::parse(&scope).ok_or_else(|| {
        ApiError::bad_request(
            ApiCode::InvalidCommand,
            "scope 须为 admin、integration 或 readonly / scope must be admin, integration or readonly",
        )
    })?;
    let key = auth::new_api_key().map_err(ApiError::internal)?;
    let hash = auth::sha256(key.as_bytes());
    let fingerprint = auth::fingerprint(&key);
    let (stored_label, now) = (label.clone(), zengzhi_journal::time_fmt::now_rfc3339());
    state.read(move |b| b.put_api_key(&hash, scope.as_str(), &stored_label, &now)).await?;
    let change =
        Change { target: Some(format!("key:{fingerprint}")), before: None, after: Some(scope.as_str().into()) };
    let detail = format!("scope {} label {label:?} fingerprint {fingerprint}", scope.as_str());
    state.audit_change(who.actor(), "keys_create", detail, change).await;
    Ok(Json(KeyCreated { key, fingerprint, scope: scope.as_str().into() }))
}

#[derive(Serialize, ToSchema)]
pub struct KeyRevoked {
    pub ok: bool,
    pub fingerprint: String,
}

/// 吊销 API 密钥 / Revoke an API key (it stops working within 2 s)
#[utoipa::path(post, path = "/v1/admin/keys/{fingerprint}/revoke", tag = "accounts",
    params(("fingerprint" = String, Path, description = "the key's fingerprint (8 hex digits)")),
    request_body = crate::views::NoFields, responses((status = 200, body = KeyRevoked)))]
pub async fn revoke_key(
    who: CanAdminister,
    State(state): S,
    Path(fingerprint): Path<String>,
) -> ApiResult<Json<KeyRevoked>> {
    let unknown = || ApiError::not_found("没有这个密钥 / no such key").with_code(ApiCode::UnknownKey);
    if fingerprint.len() != 8 || !fingerprint.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(unknown());
    }
    let fp = fingerprint.clone();
    match state.read(move |b| b.api_key_revoke(&fp)).await? {
        Revoked::NotFound => Err(unknown()),
        Revoked::Ambiguous => Err(ApiError::conflict(
            ApiCode::AmbiguousKey,
            "多个密钥的指纹相同，未吊销 / several keys have that fingerprint; nothing revoked",
        )),
        Revoked::Revoked => {
            state.keys.forget(&fingerprint);
            let change = Change {
                target: Some(format!("key:{fingerprint}")),
                before: Some("active".into()),
                after: Some("revoked".into()),
            };
            state.audit_change(who.actor(), "keys_revoke", String::new(), change).await;
            Ok(Json(KeyRevoked { ok: true, fingerprint }))
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The previous page's `next_after`.
    after: Option<i64>,
    /// 1 to 1,000 (default 100).
    limit: Option<usize>,
    /// Only this caller (`user:<name>`, `key:<scope>:<fingerprint>`, `cli`, `scheduler`).
    who: Option<String>,
    /// Only this action.
    action: Option<String>,
    /// Only what affected this (`member:<id>`, `merchant:<id>`, `order:<id>`, `user:<name>`, …).
    target: Option<String>,
    /// First day (YYYY-MM-DD, Beijing time).
    from: Option<String>,
    /// Last day (YYYY-MM-DD, Beijing time), inclusive.
    to: Option<String>,
    /// `asc` (oldest first, the default) or `desc` (newest first; `after` then counts down).
    #[param(inline)]
    order: Option<super::members::SortOrder>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<store::AuditRecord>,
    /// The `after` of the next page, if there may be one.
    #[schema(required = true)]
    pub next_after: Option<i64>,
}

fn next_after<T>(items: &[T], limit: usize, id: impl Fn(&T) -> i64) -> Option<i64> {
    (items.len() == limit).then(|| items.last().map(id)).flatten()
}

/// Beijing days `from`..=`to` as the stored logs' UTC text bounds `[since, until)`.
fn log_bounds(from: Option<&str>, to: Option<&str>) -> ApiResult<(Option<String>, Option<String>)> {
    let (start, end) = super::members::date_range(from, to, ("from", "to"))?;
    let utc = |t: time::OffsetDateTime| {
        let t = t.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    Ok((start.map(utc), end.map(utc)))
}

fn newest_first(order: Option<super::members::SortOrder>) -> bool {
    matches!(order, Some(super::members::SortOrder::Desc))
}

/// 操作日志 / The operation log, oldest first (or newest first with `order=desc`)
#[utoipa::path(get, path = "/v1/admin/audit", tag = "accounts", params(AuditQuery), responses((status = 200, body = AuditPage)))]
pub async fn audit_log(_: CanRead, State(state): S, Q(q): Q<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (since, until) = log_bounds(q.from.as_deref(), q.to.as_deref())?;
    let rows = state
        .read(move |b| {
            b.audit_entries(&store::AuditFilter {
                after: q.after,
                who: q.who.as_deref(),
                action: q.action.as_deref(),
                target: q.target.as_deref(),
                since: since.as_deref(),
                until: until.as_deref(),
                newest_first: newest_first(q.order),
                limit,
            })
        })
        .await?;
    let next_after = next_after(&rows, limit, |r| r.id);
    Ok(Json(AuditPage { items: rows, next_after }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// The previous page's `next_after`.
    after: Option<i64>,
    /// 1 to 1,000 (default 100).
    limit: Option<usize>,
    /// Only attempts with this user name.
    username: Option<String>,
    /// Only successful (`true`) or failed (`false`) attempts.
    success: Option<bool>,
    /// First day (YYYY-MM-DD, Beijing time).
    from: Option<String>,
    /// Last day (YYYY-MM-DD, Beijing time), inclusive.
    to: Option<String>,
    /// `asc` (oldest first, the default) or `desc` (newest first; `after` then counts down).
    #[param(inline)]
    order: Option<super::members::SortOrder>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginPage {
    pub items: Vec<store::LoginRecord>,
    #[schema(required = true)]
    pub next_after: Option<i64>,
}

/// 登录日志 / The login log, oldest first (or newest first with `order=desc`)
#[utoipa::path(get, path = "/v1/admin/logins", tag = "accounts", params(LoginQuery), responses((status = 200, body = LoginPage)))]
pub async fn login_log(_: CanAdminister, State(state): S, Q(q): Q<LoginQuery>) -> ApiResult<Json<LoginPage>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (since, until) = log_bounds(q.from.as_deref(), q.to.as_deref())?;
    let rows = state
        .read(move |b| {
            b.logins(&store::LoginFilter {
                after: q.after,
                username: q.username.as_deref(),
                success: q.success,
                since: since.as_deref(),
                until: until.as_deref(),
                newest_first: newest_first(q.order),
                limit,
            })
        })
        .await?;
    let next_after = next_after(&rows, limit, |r| r.id);
    Ok(Json(LoginPage { items: rows, next_after }))
}
