//! The storage interfaces both backends implement — [`JournalStore`] (the journal and its
//! snapshots) and [`ProjectionStore`] (the query tables) — their rows, and opening a store from
//! a location. The SQL is in [`crate::schema`]; the service's own tables belong to the service.

use std::path::Path;

use zengzhi_core::engine::{Reason, RewardKind};

use crate::{Entry, Hash, Result};

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
}

/// A stored 32-byte hash, or `Corrupt` naming the entry.
pub(crate) fn hash_from(bytes: Vec<u8>, seq: u64) -> Result<Hash> {
    bytes.try_into().map_err(|_| crate::Error::Corrupt { seq, what: "stored hash is not 32 bytes".into() })
}

/// The `'static` name of a stored ledger reason (one of the engine's [`Reason::ALL`]; rewards
/// by kind, `reward_direct` … `reward_peer`), or `unknown`.
pub(crate) fn reason_name(stored: &str) -> &'static str {
    Reason::ALL.into_iter().map(Reason::as_str).find(|r| *r == stored).unwrap_or("unknown")
}

/// A member's reward sums by kind from `(reason, sum of cash)` rows: every kind, in
/// [`RewardKind::ALL`]'s order (0 where none); rows of other reasons are ignored.
pub(crate) fn rewards_by_kind(rows: impl IntoIterator<Item = (String, i64)>) -> Vec<(RewardKind, i64)> {
    let mut out: Vec<(RewardKind, i64)> = RewardKind::ALL.iter().map(|&k| (k, 0)).collect();
    for (reason, sum) in rows {
        if let Some(slot) = out.iter_mut().find(|(k, _)| k.reason() == reason) {
            slot.1 += sum;
        }
    }
    out
}

/// A candle interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl Interval {
    pub const ALL: [Interval; 3] = [Interval::Minute, Interval::Hour, Interval::Day];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    pub fn parse(text: &str) -> Option<Interval> {
        Interval::ALL.into_iter().find(|i| i.as_str() == text)
    }
}

/// One price candle: the price (yuan per point × 10^8, rounded down) over one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    pub interval: Interval,
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

/// The journal and its snapshots: appends (the writer), reads (recovery, the projector,
/// exports). Every method is one transaction; `append` is durable when it returns (fsync on).
pub trait JournalStore: Send {
    /// A short name for messages (`sqlite:/path` or `postgres`).
    fn describe(&self) -> String;
    /// The last entry's sequence number and hash, if any.
    fn head(&mut self) -> Result<Option<(u64, Hash)>>;
    /// Appends entries whose sequence numbers follow the head, in one transaction.
    fn append(&mut self, entries: &[Entry]) -> Result<()>;
    /// Up to `limit` entries with `seq ≥ from`, in order.
    fn read(&mut self, from: u64, limit: usize) -> Result<Vec<Entry>>;
    /// The sequence numbers and times of up to `limit` entries with `seq ≥ from`, in order
    /// (without their commands: cheaper to scan for a date).
    fn entry_times(&mut self, from: u64, limit: usize) -> Result<Vec<(u64, String)>> {
        Ok(self.read(from, limit)?.into_iter().map(|e| (e.seq, e.at)).collect())
    }
    /// Stores a snapshot.
    fn save_snapshot(&mut self, snapshot: &SnapshotRecord) -> Result<()>;
    /// All snapshots, newest first.
    fn snapshots(&mut self) -> Result<Vec<SnapshotMeta>>;
    /// One snapshot's bytes.
    fn load_snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRecord>>;

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

/// The query tables derived from the journal behind a watermark: written by the projector,
/// read by the service's history endpoints and exports.
pub trait ProjectionStore: Send {
    /// The last entry the query tables cover (0: none).
    fn watermark(&mut self) -> Result<u64>;
    /// Writes query-table rows and the new watermark in one transaction.
    fn write_projection(&mut self, batch: &ProjectionBatch) -> Result<()>;
    /// Deletes every projected row and sets the watermark to 0 (to rebuild them).
    fn reset_projection(&mut self) -> Result<()>;
    /// Drops the query tables' secondary indexes before a bulk load into empty tables;
    /// [`end_bulk`](Self::end_bulk) builds them again. Readers meanwhile see the rows, slowly.
    fn begin_bulk(&mut self) -> Result<()>;
    /// Builds any missing secondary index of the query tables (after a bulk load, or one a
    /// crash interrupted). Cheap when they are all there.
    fn end_bulk(&mut self) -> Result<()>;
    /// One order's row (with its journaled command line).
    fn order(&mut self, order_id: &str) -> Result<Option<(OrderRow, String)>>;
    /// Projected orders with `seq > after_seq`, by journal position (for exports).
    fn orders_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<OrderRow>>;
    /// A member's ledger, newest first, entries before `before_seq` (exclusive): the rows of the
    /// newest `limit` rows' entries. A page never splits an entry (so it may hold more than
    /// `limit` rows when its last entry has several); the last row's seq is the next cursor.
    fn member_history(&mut self, member: &str, before_seq: u64, limit: usize) -> Result<Vec<LedgerRow>>;
    /// A member's rewards by kind: the sums of its ledger rows of each reward reason
    /// (`reward_<kind>`), every kind in [`RewardKind::ALL`]'s order, 0 where none.
    fn member_rewards(&mut self, member: &str) -> Result<Vec<(RewardKind, i64)>>;
    /// The newest `limit` candles of an interval, oldest first.
    fn candles(&mut self, interval: Interval, limit: usize) -> Result<Vec<Candle>>;
}

/// One store of a program: its journal and its query tables (both backends are both).
pub trait Backend: JournalStore + ProjectionStore {}

impl<T: JournalStore + ProjectionStore + ?Sized> Backend for T {}

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
