//! # zengzhi-journal — nothing accepted is ever lost
//!
//! The storage layer around the engine:
//! - [`Entry`]: an accepted command with its sequence number, canonical bytes (the replay line,
//!   with its `at` time) and a SHA-256 hash chain over all entries before it.
//! - [`Backend`]: one interface, two implementations — [`sqlite::Sqlite`] (the embedded
//!   default: the journal in one file, WAL, fsync on; the query tables in a second file) and [`postgres::Postgres`] (production).
//! - [`writer`]: the single writer thread that owns the engine, applies commands from a bounded
//!   queue, appends each batch of accepted commands in one transaction (group commit), and only
//!   then answers the callers.
//! - [`recovery`]: start-up from the newest valid snapshot plus the journal tail, with the chain
//!   verified; `verify` and `export` for operators.
//! - [`projector`]: query tables (orders, a per-member ledger, exits, rewards, price candles)
//!   derived from the journal behind a watermark, for reports and BI tools.

use sha2::{Digest, Sha256};

pub mod backend;
pub mod postgres;
pub mod projector;
pub mod recovery;
pub mod schema;
pub mod sqlite;
pub mod time_fmt;
pub mod writer;

pub use backend::{open, Backend, SnapshotMeta, SnapshotRecord};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The hash before the first entry.
pub const GENESIS: Hash = [0; 32];

/// One accepted command in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// When the writer accepted it (RFC 3339, UTC unless the caller gave another offset); also
    /// inside `command`.
    pub at: String,
    /// The command's canonical JSON line (SPEC §8 replay format), including its `at`.
    pub command: String,
    /// `SHA-256(previous hash ‖ seq as 8 big-endian bytes ‖ command bytes)`.
    pub hash: Hash,
}

/// The chain hash of an entry.
pub fn chain_hash(previous: &Hash, seq: u64, command: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(seq.to_be_bytes());
    h.update(command);
    h.finalize().into()
}

/// SHA-256 of some bytes (snapshot checksums).
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of a hash.
pub fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The journal does not verify: history was changed, lost or damaged.
    #[error("journal corrupt at entry {seq}: {what}")]
    Corrupt { seq: u64, what: String },
    /// A snapshot could not be used.
    #[error("snapshot at entry {seq} unusable: {what}")]
    Snapshot { seq: u64, what: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The writer has stopped (shut down, or its storage failed and recovery did not succeed).
    #[error("the writer is not running: {0}")]
    WriterStopped(String),
    /// The queue is full: try again later.
    #[error("the writer's queue is full")]
    Busy,
}

pub type Result<T> = std::result::Result<T, Error>;
