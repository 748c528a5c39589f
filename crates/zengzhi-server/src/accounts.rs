//! Operator accounts (后台账号): people log in with a name and a password; API keys stay for
//! integrations. This module holds what does not depend on storage: the roles and what each may
//! do, password hashing (Argon2id), session tokens, and the limiter of failed logins.
//!
//! - **Roles**: `superadmin` everything, including users and API keys; `operator` members,
//!   stores, agents, shareholders, campaigns, injections, coins, release, rule proposals;
//!   `finance` withdrawal decisions, exports, reconciliation, dividends; `auditor` read-only
//!   everything. The server checks the role on every route; the console only hides what the server
//!   refuses anyway.
//! - **Sessions** are bearer tokens (`zs_` + 32 random bytes), kept by the console in memory and
//!   session storage; the server keeps only their SHA-256, the user and the expiry.
//! - **Failed logins** are limited per account and per client address: after
//!   [`MAX_FAILURES_PER_ACCOUNT`] (or [`MAX_FAILURES_PER_ADDRESS`]) failures within
//!   [`FAILURE_WINDOW`], further attempts answer 429 until the window has passed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Superadmin,
    Operator,
    Finance,
    Auditor,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read anything of the back office.
    Read,
    /// Members, stores, agents, shareholders, campaigns, injections, coins, release, rules.
    Operate,
    /// Withdrawal decisions, exports, reconciliation, dividends.
    Finance,
    /// Operator users and API keys.
    Administer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Superadmin, Role::Operator, Role::Finance, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Superadmin => "superadmin",
            Role::Operator => "operator",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether this role may do what `permission` covers.
    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Role::Superadmin => true,
            Role::Operator => matches!(permission, Permission::Read | Permission::Operate),
            Role::Finance => matches!(permission, Permission::Read | Permission::Finance),
            Role::Auditor => permission == Permission::Read,
        }
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password or user name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the password needs at least {MIN_PASSWORD_CHARS} characters / 密码至少 {MIN_PASSWORD_CHARS} 个字符")]
    PasswordTooShort,
    #[error(
        "a user name is 1 to 32 letters, digits, '.', '_' or '-' / 用户名为 1 到 32 个字母、数字、'.'、'_' 或 '-'"
    )]
    BadName,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks a user name: 1 to 32 ASCII letters, digits, `.`, `_`, `-`.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadName)
    }
}

/// The Argon2id hash of a password (PHC string with its own random salt).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::PasswordTooShort);
    }
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| AccountError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| AccountError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches a stored hash (false for a hash that does not parse).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the user does not exist, so a login for an unknown name takes
/// as long as one with a wrong password (no user enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone").expect("hashing a constant"))
}

/// How every session token starts.
pub const SESSION_PREFIX: &str = "zs_";

/// A new session token: `zs_` + 32 random bytes, base64url.
pub fn new_session_token() -> Result<String, getrandom::Error> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(format!("{SESSION_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// Failures of one account (or one address) within the window that count towards the limit.
pub const MAX_FAILURES_PER_ACCOUNT: usize = 5;
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recent failed logins by account and by address (in memory: a restart forgets them).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    by_account: HashMap<String, Vec<Instant>>,
    by_address: HashMap<String, Vec<Instant>>,
}

impl LoginLimiter {
    /// `Some(wait)` when this account or address has failed too often lately: how long until the
    /// oldest counted failure leaves the window.
    pub fn blocked(&mut self, account: &str, address: &str, now: Instant) -> Option<Duration> {
        let a = Self::wait(&mut self.by_account, account, MAX_FAILURES_PER_ACCOUNT, now);
        let b = Self::wait(&mut self.by_address, address, MAX_FAILURES_PER_ADDRESS, now);
        a.max(b)
    }

    /// Starts a sign-in: `Err(wait)` when blocked; otherwise the attempt is counted as a failure
    /// at once, before its password is checked, so that many attempts sent together cannot all
    /// pass this check while the first ones are still being verified. A successful attempt
    /// takes its count back with [`LoginLimiter::succeeded`].
    pub fn attempt(&mut self, account: &str, address: &str, now: Instant) -> Result<(), Duration> {
        if let Some(wait) = self.blocked(account, address, now) {
            return Err(wait);
        }
        self.failed(account, address, now);
        Ok(())
    }

    pub fn failed(&mut self, account: &str, address: &str, now: Instant) {
        self.by_account.entry(account.to_string()).or_default().push(now);
        self.by_address.entry(address.to_string()).or_default().push(now);
        // Bounded memory: forget keys whose failures have all left the window.
        if self.by_account.len() + self.by_address.len() > 100_000 {
            self.by_account.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < FAILURE_WINDOW));
            self.by_address.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < FAILURE_WINDOW));
        }
    }

    /// A successful sign-in (started by [`LoginLimiter::attempt`] at `started`) clears the
    /// account's failures and takes back its own count from the address (the address's other
    /// failures stay).
    pub fn succeeded(&mut self, account: &str, address: &str, started: Instant) {
        self.by_account.remove(account);
        if let Some(times) = self.by_address.get_mut(address) {
            if let Some(i) = times.iter().rposition(|t| *t == started) {
                times.remove(i);
            }
        }
    }

    fn wait(map: &mut HashMap<String, Vec<Instant>>, key: &str, max: usize, now: Instant) -> Option<Duration> {
        let times = map.get_mut(key)?;
        times.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        if times.len() < max {
            return None;
        }
        let oldest = times[times.len() - max];
        Some(FAILURE_WINDOW.saturating_sub(now.duration_since(oldest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_the_issue_lists() {
        use Permission::*;
        let table = [
            (Role::Superadmin, [true, true, true, true]),
            (Role::Operator, [true, true, false, false]),
            (Role::Finance, [true, false, true, false]),
            (Role::Auditor, [true, false, false, false]),
        ];
        for (role, expected) in table {
            let got = [Read, Operate, Finance, Administer].map(|p| role.allows(p));
            assert_eq!(got, expected, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn passwords_hash_with_a_salt_and_verify() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterY", &a));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_eq!(hash_password("short"), Err(AccountError::PasswordTooShort));
        assert!(!verify_password("anything", dummy_hash()));
    }

    #[test]
    fn names_are_checked() {
        for ok in ["admin", "a", "li.na_01-x", &"x".repeat(32)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "with space", "名字", &"x".repeat(33), "a/b"] {
            assert_eq!(check_name(bad), Err(AccountError::BadName), "{bad}");
        }
    }

    #[test]
    fn session_tokens_are_random() {
        let a = new_session_token().unwrap();
        assert!(a.starts_with("zs_") && a.len() == 3 + 43);
        assert_ne!(a, new_session_token().unwrap());
    }

    #[test]
    fn failed_logins_block_an_account_then_the_window_frees_it() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES_PER_ACCOUNT {
            assert_eq!(limiter.blocked("admin", "1.2.3.4", t0), None, "attempt {i}");
            limiter.failed("admin", "1.2.3.4", t0);
        }
        assert_eq!(limiter.blocked("admin", "1.2.3.4", t0), Some(FAILURE_WINDOW));
        // Another account from another address is not blocked.
        assert_eq!(limiter.blocked("finance", "5.6.7.8", t0), None);
        let later = t0 + FAILURE_WINDOW - Duration::from_secs(1);
        assert_eq!(limiter.blocked("admin", "9.9.9.9", later), Some(Duration::from_secs(1)));
        assert_eq!(limiter.blocked("admin", "9.9.9.9", t0 + FAILURE_WINDOW), None);
    }

    #[test]
    fn failed_logins_block_an_address_across_accounts() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.failed(&format!("user{i}"), "1.2.3.4", t0);
        }
        assert!(limiter.blocked("someone-new", "1.2.3.4", t0).is_some());
        assert_eq!(limiter.blocked("someone-new", "5.6.7.8", t0), None);
    }

    #[test]
    fn attempts_count_before_they_are_verified_and_a_success_takes_its_count_back() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        // Attempts started together: the account's limit is reached by attempts still being
        // verified, whatever their outcome will be.
        for i in 0..MAX_FAILURES_PER_ACCOUNT {
            assert_eq!(limiter.attempt("admin", "1.2.3.4", t0), Ok(()), "attempt {i}");
        }
        assert_eq!(limiter.attempt("admin", "1.2.3.4", t0), Err(FAILURE_WINDOW));
        // One of them succeeds: the account is free again, the address keeps the others.
        limiter.succeeded("admin", "1.2.3.4", t0);
        assert_eq!(limiter.attempt("admin", "5.6.7.8", t0), Ok(()));
        assert_eq!(limiter.by_address["1.2.3.4"].len(), MAX_FAILURES_PER_ACCOUNT - 1);
        // Success clears the account's count, not the address's failures by other accounts.
        let mut limiter = LoginLimiter::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.failed(&format!("user{i}"), "1.2.3.4", t0);
        }
        limiter.succeeded("user0", "1.2.3.4", t0 + Duration::from_secs(1));
        assert!(limiter.blocked("user0", "1.2.3.4", t0).is_some());
        assert_eq!(limiter.blocked("user0", "5.6.7.8", t0), None);
    }
}
