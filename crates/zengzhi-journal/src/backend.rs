//! The storage interface both backends implement, and opening one from a location.

use std::path::Path;

use crate::{Entry, Hash, Result};

/// The third migration of both backends: orders waiting out the settlement delay.
pub(crate) const PENDING_TABLE: &str = "CREATE TABLE pending_orders (
        order_id          TEXT PRIMARY KEY,
        command           TEXT NOT NULL,
        received_at       TEXT NOT NULL,
        settle_after_unix BIGINT NOT NULL,
        status            TEXT NOT NULL,
        seq               BIGINT,
        error             TEXT
     );
     CREATE INDEX pending_due ON pending_orders (status, settle_after_unix);";

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

/// The fourth migration of both backends: the withdrawal queue, and orders by journal position
/// for exports. A withdrawal becomes an engine
/// `withdraw` command only when it is paid; until then its amount is reserved out of the
/// member's cash.
pub(crate) const WITHDRAWALS_TABLE: &str = "CREATE TABLE withdrawals (
        id           TEXT PRIMARY KEY,
        member       TEXT NOT NULL,
        amount_fen   BIGINT NOT NULL,
        status       TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        decided_at   TEXT,
        decided_by   TEXT,
        reason       TEXT,
        fee_fen      BIGINT,
        seq          BIGINT,
        head_before  BIGINT
     );
     CREATE INDEX withdrawals_status ON withdrawals (status, id);
     CREATE INDEX withdrawals_member ON withdrawals (member, id);
     CREATE INDEX orders_seq ON orders (seq);";

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

/// The second migration of both backends: the service's own tables.
pub(crate) const SERVICE_TABLES: &str = "CREATE TABLE api_keys (hash_hex TEXT PRIMARY KEY, scope TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL, revoked INT NOT NULL DEFAULT 0);
     CREATE TABLE audit_log (at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
     CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
     ALTER TABLE orders ADD COLUMN command TEXT;";

/// A snapshot's description (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// The journal entry the snapshot was taken after.
    pub seq: u64,
    /// The chain hash of that entry.
    pub chain: Hash,
    /// SHA-256 of the state bytes.
    pub sha256: Hash,
}

/// A snapshot with its state bytes (`Engine::to_snapshot`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub meta: SnapshotMeta,
    pub state: Vec<u8>,
}

/// One row of the per-member ledger projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub seq: u64,
    pub member: String,
    pub reason: &'static str,
    pub points: i64,
    pub locked: i64,
    pub cash_fen: i64,
    pub coins_fen: i64,
}

/// One row of the orders projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub seq: u64,
    pub order_id: String,
    pub member: String,
    pub merchant: Option<String>,
    pub amount_fen: i64,
    pub commission_fen: i64,
    pub minted_units: i64,
    pub at: String,
    /// The journaled command line (written by the projector; not read back by `order`).
    pub command: Option<String>,
}

/// A stored 32-byte hash, or `Corrupt` naming the entry.
pub(crate) fn hash_from(bytes: Vec<u8>, seq: u64) -> Result<Hash> {
    bytes.try_into().map_err(|_| crate::Error::Corrupt { seq, what: "stored hash is not 32 bytes".into() })
}

/// Bytes as lower-case hex (settings are stored as text).
pub(crate) fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex text back to bytes.
pub(crate) fn unhex(text: &str, name: &str) -> Result<Vec<u8>> {
    let bad = || crate::Error::Config(format!("setting {name} is not hex"));
    if text.len() % 2 != 0 {
        return Err(bad());
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())).collect()
}

/// The `'static` name of a stored ledger reason.
pub(crate) fn reason_name(stored: &str) -> &'static str {
    const ALL: [&str; 9] = ["order", "reward", "sell", "redeem", "withdraw", "exit", "release", "dividend", "coins"];
    ALL.into_iter().find(|r| *r == stored).unwrap_or("unknown")
}

/// The `'static` name of a candle interval (`minute`, `hour`, `day`).
pub(crate) fn interval_name(interval: &str) -> &'static str {
    match interval {
        "minute" => "minute",
        "hour" => "hour",
        _ => "day",
    }
}

/// One price candle: the price (yuan per point × 10^8, rounded down) over one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    /// `minute`, `hour` or `day`.
    pub interval: &'static str,
    /// The interval's start, UTC, RFC 3339.
    pub start: String,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    /// Pool and supply at the close.
    pub pool_fen: i64,
    pub supply_units: i64,
}

/// What the projector writes for a range of journal entries, with the new watermark, in one
/// transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionBatch {
    pub orders: Vec<OrderRow>,
    pub ledger: Vec<LedgerRow>,
    /// Candles to merge into the stored ones (same interval and start: the stored open stays,
    /// high and low widen, close, pool and supply are replaced).
    pub candles: Vec<Candle>,
    /// The last journal entry these rows cover.
    pub watermark: u64,
}

/// Durable storage of one program's journal, snapshots and query tables.
///
/// Every method is one transaction. `append` is durable when it returns (fsync on).
pub trait Backend: Send {
    /// A short name for messages (`sqlite:/path` or `postgres`).
    fn describe(&self) -> String;
    /// The last entry's sequence number and hash, if any.
    fn head(&mut self) -> Result<Option<(u64, Hash)>>;
    /// Appends entries whose sequence numbers follow the head, in one transaction.
    fn append(&mut self, entries: &[Entry]) -> Result<()>;
    /// Up to `limit` entries with `seq ≥ from`, in order.
    fn read(&mut self, from: u64, limit: usize) -> Result<Vec<Entry>>;
    /// Stores a snapshot.
    fn save_snapshot(&mut self, snapshot: &SnapshotRecord) -> Result<()>;
    /// All snapshots, newest first.
    fn snapshots(&mut self) -> Result<Vec<SnapshotMeta>>;
    /// One snapshot's bytes.
    fn load_snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRecord>>;
    /// The last entry the query tables cover (0: none).
    fn watermark(&mut self) -> Result<u64>;
    /// Writes query-table rows and the new watermark in one transaction.
    fn write_projection(&mut self, batch: &ProjectionBatch) -> Result<()>;
    /// Deletes every projected row and sets the watermark to 0 (to rebuild them).
    fn reset_projection(&mut self) -> Result<()>;

    // ---- reads of the query tables (the service's history endpoints) ----

    /// One order's row (with its journaled command line).
    fn order(&mut self, order_id: &str) -> Result<Option<(OrderRow, String)>>;
    /// Projected orders with `seq > after_seq`, by journal position (for exports).
    fn orders_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<OrderRow>>;
    /// A member's ledger, newest first, entries before `before_seq` (exclusive): the rows of the
    /// newest `limit` rows' entries. A page never splits an entry (so it may hold more than
    /// `limit` rows when its last entry has several); the last row's seq is the next cursor.
    fn member_history(&mut self, member: &str, before_seq: u64, limit: usize) -> Result<Vec<LedgerRow>>;
    /// The newest `limit` candles of an interval, oldest first.
    fn candles(&mut self, interval: &str, limit: usize) -> Result<Vec<Candle>>;

    // ---- the service's own tables ----

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

    /// This connection stops folding its write-ahead log into the database by itself (SQLite:
    /// no automatic checkpoint inside a commit, which would stall the writer); another
    /// connection calls [`checkpoint`](Self::checkpoint) instead. A no-op where not needed.
    fn checkpoint_elsewhere(&mut self) -> Result<()> {
        Ok(())
    }

    /// Folds the write-ahead log into the database without blocking writers (SQLite: a passive
    /// checkpoint). A no-op where not needed.
    fn checkpoint(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Opens the backend: PostgreSQL when `database_url` is given, else the SQLite file
/// `zengzhi.db` in `data_dir` (created if needed).
pub fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Box<dyn Backend>> {
    match database_url {
        Some(url) => Ok(Box::new(crate::postgres::Postgres::connect(url)?)),
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(Box::new(crate::sqlite::Sqlite::open(&data_dir.join("zengzhi.db"))?))
        }
    }
}
