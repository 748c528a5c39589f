//! Authentication and authorisation as extractors: a handler names who may call it by taking
//! one of these as its first argument, and the router ([`crate::routes`]) accepts only
//! handlers whose first argument is a [`Guard`]. The OpenAPI document's `security` and
//! `x-access` of every route come from that same type, so route, guard and document agree.
//!
//! - [`Public`]: anyone;
//! - [`IntegrationKey`]: an `integration` key or admin;
//! - [`ReadKey`]: a `readonly` key or admin;
//! - [`OrderReadKey`]: an `integration` or `readonly` key, or admin;
//! - [`AdminKey`]: an `admin` key (or the bootstrap admin token);
//! - [`MemberToken`]: a member token (the member acts for itself only).
//!
//! API keys are looked up by their SHA-256 in the store; verified keys are cached for
//! [`KEY_CACHE_TTL`] (an unknown key is never cached), so a revoked key stops working within
//! that time and the hot path does not touch the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::{self, Caller, Scope};
use crate::error::ApiError;
use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Public,
    /// An `integration` key (or admin).
    Integration,
    /// A `readonly` key (or admin).
    Read,
    /// An `integration` or `readonly` key (or admin).
    OrderRead,
    /// An `admin` key.
    Admin,
    /// A member token.
    Member,
}

impl Access {
    pub const ALL: [Access; 6] =
        [Access::Public, Access::Integration, Access::Read, Access::OrderRead, Access::Admin, Access::Member];

    /// The name in the OpenAPI document's `x-access`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Integration => "integration",
            Access::Read => "read",
            Access::OrderRead => "order_read",
            Access::Admin => "admin",
            Access::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The key scopes allowed besides admin (empty for public, admin-only and member routes).
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Access::Integration => &[Scope::Integration],
            Access::Read => &[Scope::Readonly],
            Access::OrderRead => &[Scope::Integration, Scope::Readonly],
            Access::Public | Access::Admin | Access::Member => &[],
        }
    }

    /// Whether a caller (with a valid key or token) may call the route.
    pub fn allows(self, caller: &Caller) -> bool {
        match (self, caller) {
            (Access::Public, _) => true,
            (Access::Member, Caller::Member(_)) => true,
            (Access::Member, Caller::Key { .. }) => false,
            (_, Caller::Member(_)) => false,
            (_, Caller::Key { scope: Scope::Admin, .. }) => true,
            (_, Caller::Key { scope, .. }) => self.scopes().contains(scope),
        }
    }

    /// The caller, if allowed; 403 with the reason otherwise.
    fn check(self, caller: Caller) -> Result<Caller, ApiError> {
        if self.allows(&caller) {
            return Ok(caller);
        }
        Err(match (self, caller) {
            (Access::Member, _) => ApiError::forbidden("this route is for member tokens / 仅限会员令牌"),
            (_, Caller::Member(_)) => ApiError::forbidden("members cannot use this route / 会员无权访问"),
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
}

/// The authenticated caller of a request (401 without a valid key or token).
pub async fn caller(state: &Arc<AppState>, parts: &Parts) -> Result<Caller, ApiError> {
    let token =
        auth::bearer(&parts.headers).ok_or_else(|| ApiError::unauthorized("missing bearer token / 缺少令牌"))?;
    if token.starts_with("mt.") {
        let member = auth::verify_member_token(&state.token_secret, token, auth::now_unix())?;
        return Ok(Caller::Member(member));
    }
    let hash = auth::sha256(token.as_bytes());
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

/// Declares a key guard: the caller (for the audit log) of a request allowed by `$access`.
macro_rules! key_guard {
    ($(#[doc = $doc:literal])* $name:ident, $access:expr) => {
        $(#[doc = $doc])*
        pub struct $name(pub Caller);

        impl $name {
            /// Who, for the audit log.
            pub fn who(&self) -> String {
                self.0.who()
            }
        }

        impl FromRequestParts<Arc<AppState>> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
                let c = caller(state, parts).await?;
                Ok($name($access.check(c)?))
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
    /// A `readonly` key, or admin.
    ReadKey,
    Access::Read
);
key_guard!(
    /// An `integration` or `readonly` key, or admin.
    OrderReadKey,
    Access::OrderRead
);
key_guard!(
    /// An `admin` key.
    AdminKey,
    Access::Admin
);

/// A member token: the member acting for itself.
pub struct MemberToken(pub String);

impl FromRequestParts<Arc<AppState>> for MemberToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        match Access::Member.check(caller(state, parts).await?)? {
            Caller::Member(m) => Ok(MemberToken(m)),
            Caller::Key { .. } => Err(ApiError::forbidden("this route is for member tokens / 仅限会员令牌")),
        }
    }
}

impl Guard for MemberToken {
    const ACCESS: Access = Access::Member;
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
        let (admin, integration, readonly) = (key(Scope::Admin), key(Scope::Integration), key(Scope::Readonly));
        let table = [
            (Access::Public, [true, true, true, true]),
            (Access::Integration, [true, true, false, false]),
            (Access::Read, [true, false, true, false]),
            (Access::OrderRead, [true, true, true, false]),
            (Access::Admin, [true, false, false, false]),
            (Access::Member, [false, false, false, true]),
        ];
        for (access, allowed) in table {
            for (caller, want) in [&admin, &integration, &readonly, &member].into_iter().zip(allowed) {
                assert_eq!(access.allows(caller), want, "{access:?} {caller:?}");
            }
            assert_eq!(Access::parse(access.as_str()), Some(access));
        }
    }
}
