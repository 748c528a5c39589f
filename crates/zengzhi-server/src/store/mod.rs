//! The service's own tables — API keys, the audit log, settings, orders waiting out the
//! settlement delay, the withdrawal queue — behind [`ServiceStore`], in the program's store
//! beside the journal (SQLite: the journal's file; PostgreSQL: the program's schema), with
//! their own migrations ([`schema`]). The journal crate knows nothing of them.
//!
//! A [`Conn`] is one connection that is both the journal's [`Backend`] and a [`ServiceStore`];
//! the service keeps a small pool of them for its reads and its own tables.

use std::path::Path;

use zengzhi_journal::backend::Backend;
use zengzhi_journal::postgres::Postgres;
use zengzhi_journal::sqlite::Sqlite;
use zengzhi_journal::{Hash, Result};

pub mod members;
mod postgres;
pub mod schema;
mod sqlite;

/// An order waiting out the settlement delay (or done waiting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOrder {
    pub order_id: String,
    /// The order's canonical command line (without `at`).
    pub command: String,
    pub received_at: String,
    pub settle_after_unix: u64,
    /// `pending`, `settling`, `settled`, `rejected` or `refunded`.
    pub status: String,
    pub seq: Option<u64>,
    pub error: Option<String>,
}

/// How a taken pending order ended (see [`ServiceStore::pending_finish`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDone {
    pub order_id: String,
    pub status: &'static str,
    pub seq: Option<u64>,
    pub error: Option<&'static str>,
}

/// A withdrawal request and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// Time-ordered: listing by id lists by request time.
    pub id: String,
    pub member: String,
    pub amount_fen: i64,
    /// `pending`, `paying` (being journaled), `paid` or `rejected`.
    pub status: String,
    pub requested_at: String,
    pub decided_at: Option<String>,
    /// Who paid or rejected it (the key's label or `admin-token`).
    pub decided_by: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The fee the `withdraw` command took, once paid.
    pub fee_fen: Option<i64>,
    /// The journal entry of the `withdraw` command, once paid.
    pub seq: Option<u64>,
    /// The journal head when payment began: after a crash in `paying`, the entries after it
    /// tell whether the command was journaled.
    pub head_before: Option<u64>,
}

/// The columns of [`Withdrawal`], in its field order.
pub(crate) const WITHDRAWAL_COLUMNS: &str =
    "id, member, amount_fen, status, requested_at, decided_at, decided_by, reason, fee_fen, seq, head_before";

/// A filter of the withdrawal list.
#[derive(Debug, Clone, Default)]
pub struct WithdrawalFilter<'a> {
    pub status: Option<&'a str>,
    pub member: Option<&'a str>,
    /// Only ids greater than this (the previous page's last id).
    pub after: Option<&'a str>,
    pub limit: usize,
}

impl Withdrawal {
    /// A new request, waiting for an operator.
    pub fn pending(
        id: impl Into<String>,
        member: impl Into<String>,
        amount_fen: i64,
        requested_at: impl Into<String>,
    ) -> Withdrawal {
        Withdrawal {
            id: id.into(),
            member: member.into(),
            amount_fen,
            status: "pending".into(),
            requested_at: requested_at.into(),
            decided_at: None,
            decided_by: None,
            reason: None,
            fee_fen: None,
            seq: None,
            head_before: None,
        }
    }
}

/// An operator account (后台账号).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// `superadmin`, `operator`, `finance` or `auditor`.
    pub role: String,
    /// The Argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: String,
}

/// The user of a live session: the name and the user's role now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub username: String,
    pub role: String,
}

/// When sessions end: after `idle_s` without a request, and `max_s` after the login at the
/// latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle_s: u64,
    pub max_s: u64,
}

/// A session's last request is written at most this often (seconds): the idle expiry is that
/// much coarse, and a busy console does not write on every request.
pub const SESSION_TOUCH_EVERY_S: u64 = 60;

/// One login attempt (登录日志), as stored and as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LoginRecord {
    /// Increasing; 0 for a new record.
    pub id: i64,
    pub at: String,
    /// The name tried (as typed, also when no such user exists).
    pub username: String,
    pub address: String,
    pub success: bool,
    /// `ok`, `unknown_user`, `wrong_password`, `disabled`, `rate_limited`.
    pub reason: String,
}

/// One entry of the operation log (操作日志), as stored and as listed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Increasing; 0 for a new record.
    pub id: i64,
    pub at: String,
    /// `user:<name>`, `key:<scope>:<fingerprint>`, `cli`, `member:<id>`.
    pub who: String,
    pub action: String,
    pub detail: String,
    /// The caller's address (none for the command line).
    #[schema(required = true)]
    pub address: Option<String>,
    /// The member, store, user or key it affected (`member:<id>`, `merchant:<id>`, `user:<name>`, …).
    #[schema(required = true)]
    pub target: Option<String>,
    #[schema(required = true)]
    pub before: Option<String>,
    #[schema(required = true)]
    pub after: Option<String>,
}

/// A filter of the operation log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    /// A cursor: ids above it (oldest first) or below it (newest first).
    pub after: Option<i64>,
    pub who: Option<&'a str>,
    pub action: Option<&'a str>,
    /// Only entries that affected this (`member:<id>`, `merchant:<id>`, `order:<id>`, …).
    pub target: Option<&'a str>,
    /// Only entries at or after this UTC time (`YYYY-MM-DDTHH:MM:SS`, compared with the stored
    /// RFC 3339 UTC stamps as text).
    pub since: Option<&'a str>,
    /// Only entries before this UTC time (same form as `since`).
    pub until: Option<&'a str>,
    pub newest_first: bool,
    pub limit: usize,
}

/// A filter of the login log.
#[derive(Debug, Clone, Default)]
pub struct LoginFilter<'a> {
    /// A cursor: ids above it (oldest first) or below it (newest first).
    pub after: Option<i64>,
    pub username: Option<&'a str>,
    /// Only successful (`Some(true)`) or failed (`Some(false)`) attempts.
    pub success: Option<bool>,
    /// As in [`AuditFilter::since`].
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub newest_first: bool,
    pub limit: usize,
}

/// An API key as listed (never the key, nor its hash: the fingerprint only).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    /// The first 8 hex digits of the key's SHA-256.
    pub fingerprint: String,
    pub scope: String,
    pub label: String,
    pub created_at: String,
    pub revoked: bool,
}

/// What revoking a key by fingerprint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Revoked,
    NotFound,
    /// More than one key has this fingerprint (nothing revoked).
    Ambiguous,
}

/// What a session's times say now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Live,
    /// Live, and its last request is to be noted.
    Touch,
    Expired,
}

/// Whether a session made at `created` and last used at `seen` is live at `now`.
pub(crate) fn session_verdict(created: u64, seen: u64, now: u64, limits: SessionLimits) -> Verdict {
    if now >= created.saturating_add(limits.max_s) || now >= seen.saturating_add(limits.idle_s) {
        Verdict::Expired
    } else if now >= seen.saturating_add(SESSION_TOUCH_EVERY_S) {
        Verdict::Touch
    } else {
        Verdict::Live
    }
}

/// Bytes as lower-case hex (settings are stored as text).
pub(crate) fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex text back to bytes.
pub(crate) fn unhex(text: &str, name: &str) -> Result<Vec<u8>> {
    let bad = || zengzhi_journal::Error::Config(format!("setting {name} is not hex"));
    if text.len() % 2 != 0 {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect()
}

/// The service's tables. Every method is one transaction.
pub trait ServiceStore: Send {
    // ---- keys, audit log, settings ----

    /// Stores an API key's SHA-256 with its scope.
    fn put_api_key(&mut self, hash: &Hash, scope: &str, label: &str, created_at: &str) -> Result<()>;
    /// The scope of the key with this SHA-256, if any (and not revoked).
    fn find_api_key(&mut self, hash: &Hash) -> Result<Option<String>>;
    /// Records an administrative action and who did it (the record's `id` is ignored).
    fn audit(&mut self, record: &AuditRecord) -> Result<()>;
    /// The operation log by id, oldest first.
    fn audit_entries(&mut self, filter: &AuditFilter<'_>) -> Result<Vec<AuditRecord>>;
    /// Every API key, oldest first.
    fn api_keys(&mut self) -> Result<Vec<ApiKeyInfo>>;
    /// Revokes the one key whose SHA-256 starts with `fingerprint`.
    fn api_key_revoke(&mut self, fingerprint: &str) -> Result<Revoked>;
    /// A stored setting (e.g. the member-token secret).
    fn setting(&mut self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a setting unless one exists; returns the stored value.
    fn setting_or_insert(&mut self, name: &str, value: &[u8]) -> Result<Vec<u8>>;
    /// Stores a setting, replacing any value it had.
    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<()>;

    // ---- operator accounts ----

    /// Stores a new user; `false` if the name is taken.
    fn user_insert(&mut self, user: &User) -> Result<bool>;
    fn user_get(&mut self, name: &str) -> Result<Option<User>>;
    /// Every user, by name.
    fn users(&mut self) -> Result<Vec<User>>;
    /// Disables (or enables) a user; disabling ends the user's sessions. `false`: no such user.
    fn user_set_disabled(&mut self, name: &str, disabled: bool) -> Result<bool>;
    /// Changes a user's password and ends the user's sessions. `false`: no such user.
    fn user_set_password(&mut self, name: &str, password_hash: &str) -> Result<bool>;
    /// Stores a session by the SHA-256 of its token.
    fn session_insert(&mut self, hash: &Hash, username: &str, now_unix: u64) -> Result<()>;
    /// The user of a live session (not expired, the user not disabled), noting the request.
    fn session_find(&mut self, hash: &Hash, now_unix: u64, limits: SessionLimits) -> Result<Option<SessionUser>>;
    /// Ends a session; `false` if there was none.
    fn session_delete(&mut self, hash: &Hash) -> Result<bool>;
    /// Records a login attempt (the record's `id` is ignored).
    fn login_record(&mut self, record: &LoginRecord) -> Result<()>;
    /// The login log by id, oldest first.
    fn logins(&mut self, filter: &LoginFilter<'_>) -> Result<Vec<LoginRecord>>;

    // ---- the settlement delay ----

    /// Stores a new pending order; `false` if the order id is already there.
    fn pending_insert(&mut self, order: &PendingOrder) -> Result<bool>;
    /// One pending (or done) order.
    fn pending_get(&mut self, order_id: &str) -> Result<Option<PendingOrder>>;
    /// Marks up to `limit` pending orders due at `now_unix` as `settling` and returns them, in
    /// the order received.
    fn pending_take_due(&mut self, now_unix: u64, limit: usize) -> Result<Vec<PendingOrder>>;
    /// Records how a taken order ended: `settled` (with its journal seq) or `rejected` (with
    /// the error code), or puts it back to `pending`.
    fn pending_finish(&mut self, order_id: &str, status: &str, seq: Option<u64>, error: Option<&str>) -> Result<()>;
    /// [`pending_finish`](Self::pending_finish) for many orders, in one transaction (one
    /// commit for a whole settlement run).
    fn pending_finish_all(&mut self, done: &[PendingDone]) -> Result<()>;
    /// Refunds a pending order: `Ok(true)` if it was pending (now `refunded`), `Ok(false)` if it
    /// was not pending.
    fn pending_refund(&mut self, order_id: &str) -> Result<bool>;
    /// Orders left `settling` by a crash.
    fn pending_settling(&mut self) -> Result<Vec<PendingOrder>>;

    // ---- the withdrawal queue ----

    /// Stores a new withdrawal; `false` if the id is already there.
    fn withdrawal_insert(&mut self, w: &Withdrawal) -> Result<bool>;
    fn withdrawal_get(&mut self, id: &str) -> Result<Option<Withdrawal>>;
    /// Withdrawals by id, oldest first.
    fn withdrawals(&mut self, filter: &WithdrawalFilter<'_>) -> Result<Vec<Withdrawal>>;
    /// The amount of a member's withdrawals not yet paid or rejected (`pending` and `paying`).
    fn withdrawals_reserved(&mut self, member: &str) -> Result<i64>;
    /// Writes `w` (its status and decision fields) if the stored status is still `from`;
    /// `false` if it was not.
    fn withdrawal_update(&mut self, w: &Withdrawal, from: &str) -> Result<bool>;
}

/// One connection of the program's store: the journal's tables and the service's.
pub trait Conn: Backend + ServiceStore + members::MemberStore {}

impl<T: Backend + ServiceStore + members::MemberStore> Conn for T {}

/// Opens a connection: PostgreSQL (schema `pg_schema`) when `database_url` is given, else the
/// SQLite store in `data_dir` (created if needed); the journal's and the service's migrations
/// run first.
pub fn open(data_dir: &Path, database_url: Option<&str>, pg_schema: &str) -> Result<Box<dyn Conn>> {
    match database_url {
        Some(url) => {
            let mut pg = Postgres::connect_schema(url, pg_schema)?;
            postgres::migrate(&mut pg)?;
            Ok(Box::new(pg))
        }
        None => {
            std::fs::create_dir_all(data_dir)?;
            let mut db = Sqlite::open(&data_dir.join("zengzhi.db"))?;
            sqlite::migrate(&mut db)?;
            Ok(Box::new(db))
        }
    }
}
