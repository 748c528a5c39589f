//! Authentication and authorisation as extractors: a handler names who may call it by taking
//! one of these as its first argument, and the router ([`crate::routes`]) accepts only
//! handlers whose first argument is a [`Guard`]. The OpenAPI document's `security` and
//! `x-access` of every route come from that same type, so route, guard and document agree.
//!
//! - [`Public`]: anyone;
//! - [`IntegrationKey`]: an `integration` key or admin (orders, member tokens);
//! - [`CanRegister`]: an `integration` key, admin, or an operator session that may operate
//!   (members, stores, agents, shareholders, coins);
//! - [`CanRead`]: a `readonly` key, admin, or any operator session;
//! - [`CanReadOrders`]: an `integration` or `readonly` key, admin, or any operator session;
//! - [`CanOperate`]: admin, or a `superadmin` / `operator` session (campaigns, injections,
//!   release, rules);
//! - [`CanFinance`]: admin, or a `superadmin` / `finance` session (withdrawal decisions,
//!   dividends);
//! - [`CanAdminister`]: admin, or a `superadmin` session (users, API keys, the login log);
//! - [`MemberToken`]: a member token (the member acts for itself only);
//! - [`StoreToken`]: a store token (the store's page reads its own store only).
//!
//! API keys are looked up by their SHA-256 in the store; verified keys are cached for
//! [`KEY_CACHE_TTL`] (an unknown key is never cached), so the hot path does not touch the store;
//! a revocation clears this process's cache at once (another process of the program trusts its
//! copy for at most that time). Operator sessions (`zs_…` tokens) are
//! looked up in the store on every request, never cached: a logged-out session or a disabled
//! user's session fails at once. The key path never looks at sessions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::accounts::{Permission, Role};
use crate::auth::{self, Caller, Scope};
use crate::error::ApiError;
use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Public,
    /// An `integration` key (or admin).
    Integration,
    /// An `integration` key, admin, or a session with [`Permission::Operate`].
    IntegrationOrOperate,
    /// A `readonly` key, admin, or a session with [`Permission::Read`].
    Read,
    /// An `integration` or `readonly` key, admin, or a session with [`Permission::Read`].
    OrderRead,
    /// An `admin` key, or a session with [`Permission::Operate`].
    Operate,
    /// An `admin` key, or a session with [`Permission::Finance`].
    Finance,
    /// An `admin` key, or a session with [`Permission::Administer`].
    Administer,
    /// A member token.
    Member,
    /// A store token.
    Store,
}

impl Access {
    pub const ALL: [Access; 10] = [
        Access::Public,
        Access::Integration,
        Access::IntegrationOrOperate,
        Access::Read,
        Access::OrderRead,
        Access::Operate,
        Access::Finance,
        Access::Administer,
        Access::Member,
        Access::Store,
    ];

    /// The name in the OpenAPI document's `x-access`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Integration => "integration",
            Access::IntegrationOrOperate => "integration_or_operate",
            Access::Read => "read",
            Access::OrderRead => "order_read",
            Access::Operate => "operate",
            Access::Finance => "finance",
            Access::Administer => "administer",
            Access::Member => "member",
            Access::Store => "store",
        }
    }

    pub fn parse(text: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The key scopes allowed besides admin (empty for public, admin-only and member routes).
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Access::Integration | Access::IntegrationOrOperate => &[Scope::Integration],
            Access::Read => &[Scope::Readonly],
            Access::OrderRead => &[Scope::Integration, Scope::Readonly],
            Access::Public | Access::Operate | Access::Finance | Access::Administer | Access::Member | Access::Store => &[],
        }
    }

    /// The permission an operator session needs (`None`: no session may call the route).
    pub fn permission(self) -> Option<Permission> {
        match self {
            Access::Read | Access::OrderRead => Some(Permission::Read),
            Access::IntegrationOrOperate | Access::Operate => Some(Permission::Operate),
            Access::Finance => Some(Permission::Finance),
            Access::Administer => Some(Permission::Administer),
            Access::Public | Access::Integration | Access::Member | Access::Store => None,
        }
    }

    /// Whether a caller (with a valid key or token) may call the route.
    pub fn allows(self, caller: &Caller) -> bool {
        match (self, caller) {
            (Access::Public, _) => true,
            (Access::Member, Caller::Member(_)) => true,
            (Access::Member, _) => false,
            (_, Caller::Member(_)) => false,
            (Access::Store, Caller::Store(_)) => true,
            (Access::Store, _) => false,
            (_, Caller::Store(_)) => false,
            (_, Caller::Key { scope: Scope::Admin, .. }) => true,
            (_, Caller::Key { scope, .. }) => self.scopes().contains(scope),
            (_, Caller::Operator { role, .. }) => self.permission().is_some_and(|p| role.allows(p)),
        }
    }

    /// The caller, if allowed; 403 with the reason otherwise.
    fn check(self, caller: Caller) -> Result<Caller, ApiError> {
        if self.allows(&caller) {
            return Ok(caller);
        }
        Err(match (self, caller) {
            (Access::Member, _) => ApiError::forbidden("this route is for member tokens / 仅限会员令牌"),
            (Access::Store, _) => ApiError::forbidden("this route is for store tokens / 仅限门店令牌"),
            (_, Caller::Member(_)) => ApiError::forbidden("members cannot use this route / 会员无权访问"),
            (_, Caller::Store(_)) => ApiError::forbidden("store tokens cannot use this route / 门店令牌无权访问"),
            (_, Caller::Operator { role, .. }) => {
                ApiError::forbidden(format!("the role {} may not do that / 该角色无此权限", role.as_str()))
            }
            _ => ApiError::forbidden("this key's scope does not allow that / 权限不足"),
        })
    }
}

/// How long a verified API key is trusted without looking at the store again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// Verified API keys by SHA-256 (scope, when verified).
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<[u8; 32], (Scope, Instant)>>,
}

impl KeyCache {
    fn get(&self, hash: &[u8; 32]) -> Option<Scope> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(hash).filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL).map(|(scope, _)| *scope)
    }

    fn put(&self, hash: [u8; 32], scope: Scope) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= 10_000 {
            keys.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
        }
        keys.insert(hash, (scope, Instant::now()));
    }

    /// Forgets the keys with this fingerprint (a revocation in this process takes effect at
    /// once; other processes stop trusting their copy within [`KEY_CACHE_TTL`]).
    pub fn forget(&self, fingerprint: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|hash, _| !zengzhi_journal::hex(hash).starts_with(fingerprint));
    }
}

/// The authenticated caller of a request (401 without a valid key or token).
pub async fn caller(state: &Arc<AppState>, parts: &Parts) -> Result<Caller, ApiError> {
    let token =
        auth::bearer(&parts.headers).ok_or_else(|| ApiError::unauthorized("missing bearer token / 缺少令牌"))?;
    if token.starts_with("mt.") {
        let member = auth::verify_member_token(&state.token_secret, token, auth::now_unix())?;
        return Ok(Caller::Member(member));
    }
    if token.starts_with("st.") {
        let store = auth::verify_store_token(&state.token_secret, token, auth::now_unix())?;
        return Ok(Caller::Store(store));
    }
    if auth::looks_like_jwt(token) {
        let Some(jwt) = &state.member_jwt else {
            return Err(ApiError::unauthorized("JWT member tokens are not configured / 未配置 JWT 会员令牌"));
        };
        let member = jwt.verify(token)?;
        // The platform mints these itself: the member must be registered here.
        let m = member.clone();
        if !state.query(move |e| e.member(&m).is_some()).await? {
            return Err(ApiError::unauthorized("the token's member is not registered / 令牌中的会员未注册"));
        }
        return Ok(Caller::Member(member));
    }
    let hash = auth::sha256(token.as_bytes());
    if token.starts_with(crate::accounts::SESSION_PREFIX) {
        return session_caller(state, hash).await;
    }
    let fingerprint = auth::fingerprint(token);
    if state.admin_token_hash.as_ref().is_some_and(|admin| auth::digest_eq(admin, &hash)) {
        return Ok(Caller::Key { scope: Scope::Admin, fingerprint });
    }
    if let Some(scope) = state.keys.get(&hash) {
        return Ok(Caller::Key { scope, fingerprint });
    }
    let stored = state.read(move |b| b.find_api_key(&hash)).await?;
    match stored.as_deref().and_then(Scope::parse) {
        Some(scope) => {
            state.keys.put(hash, scope);
            Ok(Caller::Key { scope, fingerprint })
        }
        None => Err(ApiError::unauthorized("unknown or revoked key / 密钥无效")),
    }
}

/// The operator of a live session (looked up in the store every time, never cached).
async fn session_caller(state: &Arc<AppState>, hash: [u8; 32]) -> Result<Caller, ApiError> {
    let limits = state.session_limits();
    let found = state.read(move |b| b.session_find(&hash, auth::now_unix(), limits)).await?;
    match found.and_then(|s| Some((Role::parse(&s.role)?, s.username))) {
        Some((role, username)) => Ok(Caller::Operator { username, role }),
        None => Err(ApiError::unauthorized("the session has ended; sign in again / 会话已失效，请重新登录")),
    }
}

/// The client's address: the connection's peer, or (only when `trust_forwarded_for` is on)
/// the first address of `X-Forwarded-For`. `unknown` when neither is known (in process).
pub fn client_address(state: &AppState, parts: &Parts) -> String {
    if state.config.trust_forwarded_for {
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if let Some(first) = forwarded.and_then(|v| v.split(',').next()).map(str::trim).filter(|v| !v.is_empty()) {
            return first.chars().take(64).collect();
        }
    }
    match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => addr.ip().to_string(),
        None => "unknown".into(),
    }
}

/// An allowed caller and its address, for the operation log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub caller: Caller,
    pub address: String,
}

impl Actor {
    /// Who, for the audit log.
    pub fn who(&self) -> String {
        self.caller.who()
    }
}

/// The client's address as an extractor.
pub struct ClientAddress(pub String);

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        Ok(ClientAddress(client_address(state, parts)))
    }
}

/// An extractor that decides who may call a route.
pub trait Guard: FromRequestParts<Arc<AppState>, Rejection = ApiError> + Send + 'static {
    const ACCESS: Access;
}

/// Anyone.
pub struct Public;

impl FromRequestParts<Arc<AppState>> for Public {
    type Rejection = ApiError;
    async fn from_request_parts(_: &mut Parts, _: &Arc<AppState>) -> Result<Self, ApiError> {
        Ok(Public)
    }
}

impl Guard for Public {
    const ACCESS: Access = Access::Public;
}

/// Declares a guard: the caller and its address (for the operation log) of a request allowed
/// by `$access`.
macro_rules! key_guard {
    ($(#[doc = $doc:literal])* $name:ident, $access:expr) => {
        $(#[doc = $doc])*
        pub struct $name(pub Actor);

        impl $name {
            /// Who, for the audit log.
            pub fn who(&self) -> String {
                self.0.who()
            }

            /// The caller and its address.
            pub fn actor(&self) -> &Actor {
                &self.0
            }
        }

        impl FromRequestParts<Arc<AppState>> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
                let c = $access.check(caller(state, parts).await?)?;
                Ok($name(Actor { caller: c, address: client_address(state, parts) }))
            }
        }

        impl Guard for $name {
            const ACCESS: Access = $access;
        }
    };
}

key_guard!(
    /// An `integration` key, or admin.
    IntegrationKey,
    Access::Integration
);
key_guard!(
    /// An `integration` key, admin, or a session that may operate.
    CanRegister,
    Access::IntegrationOrOperate
);
key_guard!(
    /// A `readonly` key, admin, or any operator session.
    CanRead,
    Access::Read
);
key_guard!(
    /// An `integration` or `readonly` key, admin, or any operator session.
    CanReadOrders,
    Access::OrderRead
);
key_guard!(
    /// An `admin` key, or a `superadmin` or `operator` session.
    CanOperate,
    Access::Operate
);
key_guard!(
    /// An `admin` key, or a `superadmin` or `finance` session.
    CanFinance,
    Access::Finance
);
key_guard!(
    /// An `admin` key, or a `superadmin` session.
    CanAdminister,
    Access::Administer
);

/// A member token: the member acting for itself.
pub struct MemberToken(pub String);

impl FromRequestParts<Arc<AppState>> for MemberToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        match Access::Member.check(caller(state, parts).await?)? {
            Caller::Member(m) => Ok(MemberToken(m)),
            _ => Err(ApiError::forbidden("this route is for member tokens / 仅限会员令牌")),
        }
    }
}

impl Guard for MemberToken {
    const ACCESS: Access = Access::Member;
}

/// A store token: the store's page, reading that store only.
pub struct StoreToken(pub String);

impl FromRequestParts<Arc<AppState>> for StoreToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        match Access::Store.check(caller(state, parts).await?)? {
            Caller::Store(s) => Ok(StoreToken(s)),
            _ => Err(ApiError::forbidden("this route is for store tokens / 仅限门店令牌")),
        }
    }
}

impl Guard for StoreToken {
    const ACCESS: Access = Access::Store;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scope: Scope) -> Caller {
        Caller::Key { scope, fingerprint: "00000000".into() }
    }

    #[test]
    fn who_may_call_what() {
        let member = Caller::Member("alice".into());
        let store = Caller::Store("shop".into());
        let (admin, integration, readonly) = (key(Scope::Admin), key(Scope::Integration), key(Scope::Readonly));
        let op = |role| Caller::Operator { username: "u".into(), role };
        let (sup, oper, fin, aud) = (op(Role::Superadmin), op(Role::Operator), op(Role::Finance), op(Role::Auditor));
        // admin, integration, readonly, member, superadmin, operator, finance, auditor, store
        let table = [
            (Access::Public, [true, true, true, true, true, true, true, true, true]),
            (Access::Integration, [true, true, false, false, false, false, false, false, false]),
            (Access::IntegrationOrOperate, [true, true, false, false, true, true, false, false, false]),
            (Access::Read, [true, false, true, false, true, true, true, true, false]),
            (Access::OrderRead, [true, true, true, false, true, true, true, true, false]),
            (Access::Operate, [true, false, false, false, true, true, false, false, false]),
            (Access::Finance, [true, false, false, false, true, false, true, false, false]),
            (Access::Administer, [true, false, false, false, true, false, false, false, false]),
            (Access::Member, [false, false, false, true, false, false, false, false, false]),
            (Access::Store, [false, false, false, false, false, false, false, false, true]),
        ];
        let callers = [&admin, &integration, &readonly, &member, &sup, &oper, &fin, &aud, &store];
        for (access, allowed) in table {
            for (caller, want) in callers.into_iter().zip(allowed) {
                assert_eq!(access.allows(caller), want, "{access:?} {caller:?}");
            }
            assert_eq!(Access::parse(access.as_str()), Some(access));
        }
    }
}
