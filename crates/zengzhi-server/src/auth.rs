//! Who is calling: API keys (admin, integration, read-only), member tokens and operator
//! sessions ([`crate::accounts`]).
//!
//! Every key and token travels as `Authorization: Bearer <token>`. API keys are stored as their
//! SHA-256 only and compared in constant time; they are never logged. Member tokens are signed
//! (HMAC-SHA-256 with the program's secret) and expire. The platform may also mint member
//! tokens itself, without a call, as JWTs ([`MemberJwt`]): HS256 with a shared secret, or EdDSA
//! / RS256 with a configured public key.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Admin,
    /// The platform's backend: members, merchants, orders, member tokens.
    Integration,
    /// Reads only.
    Readonly,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "admin" => Some(Scope::Admin),
            "integration" => Some(Scope::Integration),
            "readonly" => Some(Scope::Readonly),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Integration => "integration",
            Scope::Readonly => "readonly",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An API key: its scope and a short, non-secret fingerprint for the audit log.
    Key { scope: Scope, fingerprint: String },
    /// A member acting for itself.
    Member(String),
    /// A store's owner looking at the store's own page (a store token).
    Store(String),
    /// An operator signed in with a session (its role as the store has it now).
    Operator { username: String, role: crate::accounts::Role },
}

impl Caller {
    /// Who, for the audit log.
    pub fn who(&self) -> String {
        match self {
            Caller::Key { scope, fingerprint } => format!("key:{}:{fingerprint}", scope.as_str()),
            Caller::Member(m) => format!("member:{m}"),
            Caller::Store(s) => format!("store:{s}"),
            Caller::Operator { username, .. } => format!("user:{username}"),
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    zengzhi_journal::sha256(bytes)
}

/// Constant-time equality of two digests.
pub fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// A new random API key (`zk_` + 32 random bytes, base64url).
pub fn new_api_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(format!("zk_{}", B64.encode(bytes)))
}

/// A non-secret fingerprint of a token: the first 8 hex digits of its SHA-256.
pub fn fingerprint(token: &str) -> String {
    zengzhi_journal::hex(&sha256(token.as_bytes()))[..8].to_string()
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn mac(secret: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(payload);
    m
}

/// A signed member token: `mt.<payload>.<signature>`, payload = `member.expiry_unix`.
pub fn issue_member_token(secret: &[u8], member: &str, expires_unix: u64) -> String {
    let payload = format!("{member}.{expires_unix}");
    let sig = mac(secret, payload.as_bytes()).finalize().into_bytes();
    format!("mt.{}.{}", B64.encode(payload), B64.encode(sig))
}

/// The member a token was issued for, if its signature holds and it has not expired.
pub fn verify_member_token(secret: &[u8], token: &str, now_unix: u64) -> Result<String, ApiError> {
    let invalid = || ApiError::unauthorized("invalid member token / 会员令牌无效");
    let rest = token.strip_prefix("mt.").ok_or_else(invalid)?;
    let (payload_b64, sig_b64) = rest.split_once('.').ok_or_else(invalid)?;
    let payload = B64.decode(payload_b64).map_err(|_| invalid())?;
    let sig = B64.decode(sig_b64).map_err(|_| invalid())?;
    mac(secret, &payload).verify_slice(&sig).map_err(|_| invalid())?;
    let payload = String::from_utf8(payload).map_err(|_| invalid())?;
    let (member, expiry) = payload.rsplit_once('.').ok_or_else(invalid)?;
    let expiry: u64 = expiry.parse().map_err(|_| invalid())?;
    if expiry <= now_unix {
        return Err(ApiError::unauthorized("member token expired / 会员令牌已过期"));
    }
    Ok(member.to_string())
}

/// The key store tokens are signed with: derived from the program's secret, so that no member
/// token (signed with the secret itself) is ever a valid store token, whatever the ids.
fn store_key(secret: &[u8]) -> [u8; 32] {
    mac(secret, b"zengzhi store token v1").finalize().into_bytes().into()
}

/// A signed store token: `st.<payload>.<signature>`, payload = `store.expiry_unix`.
pub fn issue_store_token(secret: &[u8], store: &str, expires_unix: u64) -> String {
    let payload = format!("{store}.{expires_unix}");
    let sig = mac(&store_key(secret), payload.as_bytes()).finalize().into_bytes();
    format!("st.{}.{}", B64.encode(payload), B64.encode(sig))
}

/// The store a token was issued for, if its signature holds and it has not expired.
pub fn verify_store_token(secret: &[u8], token: &str, now_unix: u64) -> Result<String, ApiError> {
    let invalid = || ApiError::unauthorized("invalid store token / 门店令牌无效");
    let rest = token.strip_prefix("st.").ok_or_else(invalid)?;
    let (payload_b64, sig_b64) = rest.split_once('.').ok_or_else(invalid)?;
    let payload = B64.decode(payload_b64).map_err(|_| invalid())?;
    let sig = B64.decode(sig_b64).map_err(|_| invalid())?;
    mac(&store_key(secret), &payload).verify_slice(&sig).map_err(|_| invalid())?;
    let payload = String::from_utf8(payload).map_err(|_| invalid())?;
    let (store, expiry) = payload.rsplit_once('.').ok_or_else(invalid)?;
    let expiry: u64 = expiry.parse().map_err(|_| invalid())?;
    if expiry <= now_unix {
        return Err(ApiError::unauthorized("store token expired / 门店令牌已过期"));
    }
    Ok(store.to_string())
}

/// Whether a bearer token looks like a JWT (three base64url parts, a JSON header).
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The verifier of JWT member tokens, built once from the configuration.
pub struct MemberJwt {
    keys: Vec<(jsonwebtoken::DecodingKey, jsonwebtoken::Validation)>,
}

#[derive(serde::Deserialize)]
struct JwtClaims {
    sub: String,
}

impl MemberJwt {
    /// `None` when neither a secret nor a public key is configured; an error for a public key
    /// that is neither an Ed25519 nor an RSA key in PEM.
    pub fn from_config(c: &crate::config::MemberJwtConfig) -> Result<Option<MemberJwt>, String> {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let validation = |alg: Algorithm| {
            let mut v = Validation::new(alg);
            v.leeway = 30;
            let mut required = vec!["exp", "sub"];
            if let Some(iss) = &c.issuer {
                v.set_issuer(&[iss]);
                required.push("iss");
            }
            match &c.audience {
                Some(aud) => {
                    v.set_audience(&[aud]);
                    required.push("aud");
                }
                None => v.validate_aud = false,
            }
            v.set_required_spec_claims(&required);
            v
        };
        let mut keys = Vec::new();
        if let Some(secret) = &c.secret {
            if secret.expose().len() < 16 {
                return Err("member_jwt.secret: use at least 16 bytes".into());
            }
            let key = DecodingKey::from_secret(secret.expose().as_bytes()).map_err(|e| e.to_string())?;
            keys.push((key, validation(Algorithm::HS256)));
        }
        if let Some(pem) = &c.public_key_pem {
            let pem = pem.as_bytes();
            if let Ok(key) = DecodingKey::from_ed_pem(pem) {
                keys.push((key, validation(Algorithm::EdDSA)));
            } else if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
                keys.push((key, validation(Algorithm::RS256)));
            } else {
                return Err("member_jwt.public_key_pem: not an Ed25519 or RSA public key in PEM".into());
            }
        }
        Ok((!keys.is_empty()).then_some(MemberJwt { keys }))
    }

    /// The member (`sub`) of a token whose signature, algorithm, `exp` (and `iss` / `aud`
    /// when configured) hold.
    pub fn verify(&self, token: &str) -> Result<String, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthorized("invalid member token / 会员令牌无效"))?;
        let mut last = ApiError::unauthorized("the token's algorithm is not accepted / 不接受该令牌的签名算法");
        for (key, validation) in &self.keys {
            if !validation.algorithms.contains(&header.alg) {
                continue;
            }
            match jsonwebtoken::decode::<JwtClaims>(token, key, validation) {
                Ok(data) if !data.claims.sub.is_empty() => return Ok(data.claims.sub),
                Ok(_) => last = ApiError::unauthorized("the token has no member (sub) / 令牌缺少会员编号"),
                Err(e) => {
                    last = match e.kind() {
                        ErrorKind::ExpiredSignature => ApiError::unauthorized("member token expired / 会员令牌已过期"),
                        ErrorKind::InvalidIssuer => {
                            ApiError::unauthorized("the token's issuer is wrong / 令牌签发方不符")
                        }
                        ErrorKind::InvalidAudience => {
                            ApiError::unauthorized("the token's audience is wrong / 令牌受众不符")
                        }
                        ErrorKind::MissingRequiredClaim(c) => {
                            ApiError::unauthorized(format!("the token lacks the claim {c} / 令牌缺少字段 {c}"))
                        }
                        _ => ApiError::unauthorized("invalid member token / 会员令牌无效"),
                    }
                }
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_tokens_sign_and_expire() {
        let t = issue_member_token(b"secret", "u1", 1_000);
        assert_eq!(verify_member_token(b"secret", &t, 999).unwrap(), "u1");
        assert_eq!(verify_member_token(b"secret", &t, 1_000).unwrap_err().code, crate::error::ApiCode::Unauthorized);
        assert!(verify_member_token(b"other", &t, 999).is_err());
        let forged = t.replace("mt.", "mt.x");
        assert!(verify_member_token(b"secret", &forged, 999).is_err());
        // Changing the member in the payload breaks the signature.
        let (_, sig) = t.rsplit_once('.').unwrap();
        let other = format!("mt.{}.{sig}", B64.encode("u2.1000"));
        assert!(verify_member_token(b"secret", &other, 999).is_err());
    }

    #[test]
    fn store_tokens_sign_expire_and_are_not_member_tokens() {
        let t = issue_store_token(b"secret", "shop", 1_000);
        assert_eq!(verify_store_token(b"secret", &t, 999).unwrap(), "shop");
        assert!(verify_store_token(b"secret", &t, 1_000).unwrap_err().message.contains("expired"));
        assert!(verify_store_token(b"other", &t, 999).is_err());
        // A member token of the same id and expiry, relabelled, is not a store token, and back.
        let m = issue_member_token(b"secret", "shop", 1_000);
        assert!(verify_store_token(b"secret", &m.replacen("mt.", "st.", 1), 999).is_err());
        assert!(verify_member_token(b"secret", &t.replacen("st.", "mt.", 1), 999).is_err());
        let (_, sig) = t.rsplit_once('.').unwrap();
        let other = format!("st.{}.{sig}", B64.encode("shop2.1000"));
        assert!(verify_store_token(b"secret", &other, 999).is_err());
    }

    #[test]
    fn keys_are_random_and_fingerprinted() {
        let a = new_api_key().unwrap();
        let b = new_api_key().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("zk_") && a.len() > 40);
        assert_eq!(fingerprint(&a).len(), 8);
        assert!(digest_eq(&sha256(b"x"), &sha256(b"x")));
        assert!(!digest_eq(&sha256(b"x"), &sha256(b"y")));
    }
}
