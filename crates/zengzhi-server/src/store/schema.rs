//! The service's tables, for both backends. Its migrations are recorded in the table
//! `service_schema_version`, apart from the journal's.
//!
//! Stores made before the service owned its tables already have them (the journal's
//! migrations 2 to 4 made them): the first migration creates each table and index only where it
//! is missing, so such a store is adopted as it is.

/// The service's migrations, in order (the same text on both backends).
pub const MIGRATIONS: &[&str] = &[
    // 1: API keys, the audit log, settings; orders waiting out the settlement delay; the
    //    withdrawal queue (a withdrawal becomes an engine `withdraw` command only when paid;
    //    until then its amount is reserved out of the member's cash).
    "CREATE TABLE IF NOT EXISTS api_keys (
        hash_hex   TEXT PRIMARY KEY,
        scope      TEXT NOT NULL,
        label      TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked    INT NOT NULL DEFAULT 0
     );
     CREATE TABLE IF NOT EXISTS audit_log (at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS pending_orders (
        order_id          TEXT PRIMARY KEY,
        command           TEXT NOT NULL,
        received_at       TEXT NOT NULL,
        settle_after_unix BIGINT NOT NULL,
        status            TEXT NOT NULL,
        seq               BIGINT,
        error             TEXT
     );
     CREATE INDEX IF NOT EXISTS pending_due ON pending_orders (status, settle_after_unix);
     CREATE TABLE IF NOT EXISTS withdrawals (
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
     CREATE INDEX IF NOT EXISTS withdrawals_status ON withdrawals (status, id);
     CREATE INDEX IF NOT EXISTS withdrawals_member ON withdrawals (member, id);",
];

/// The table recording how many of [`MIGRATIONS`] ran.
pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS service_schema_version (version INT NOT NULL)";

/// An error for a store whose service tables are newer than this program.
pub(crate) fn too_new(version: usize, store: &str) -> zengzhi_journal::Error {
    zengzhi_journal::Error::Config(format!(
        "{store} has service schema version {version}, newer than this program knows ({})",
        MIGRATIONS.len()
    ))
}
