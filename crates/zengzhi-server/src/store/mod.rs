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
    /// Records an administrative action and who did it.
    fn audit(&mut self, at: &str, who: &str, action: &str, detail: &str) -> Result<()>;
    /// A stored setting (e.g. the member-token secret).
    fn setting(&mut self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a setting unless one exists; returns the stored value.
    fn setting_or_insert(&mut self, name: &str, value: &[u8]) -> Result<Vec<u8>>;
    /// Stores a setting, replacing any value it had.
    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<()>;

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
pub trait Conn: Backend + ServiceStore {}

impl<T: Backend + ServiceStore> Conn for T {}

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
