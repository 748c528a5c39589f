//! The service's tables, for both backends. Its migrations are recorded in the table
//! `service_schema_version`, apart from the journal's. A migration is the same text on both
//! backends but for `{serial}`, an increasing integer key ([`serial`]).
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
    // 2: operator accounts (users, their sessions by SHA-256, the login log) and the operation
    //    log: the audit log rebuilt with an id (for paging), the caller's address, the member
    //    or store it affected, and the value before and after the change.
    "CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled      INT NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL
     );
     CREATE TABLE sessions (
        hash_hex     TEXT PRIMARY KEY,
        username     TEXT NOT NULL,
        created_unix BIGINT NOT NULL,
        seen_unix    BIGINT NOT NULL
     );
     CREATE INDEX sessions_user ON sessions (username);
     CREATE TABLE login_log (
        id       {serial},
        at       TEXT NOT NULL,
        username TEXT NOT NULL,
        address  TEXT NOT NULL,
        success  INT NOT NULL,
        reason   TEXT NOT NULL
     );
     CREATE INDEX login_log_user ON login_log (username, id);
     CREATE TABLE audit_log_v2 (
        id           {serial},
        at           TEXT NOT NULL,
        who          TEXT NOT NULL,
        action       TEXT NOT NULL,
        detail       TEXT NOT NULL,
        address      TEXT,
        target       TEXT,
        before_value TEXT,
        after_value  TEXT
     );
     INSERT INTO audit_log_v2 (at, who, action, detail) SELECT at, who, action, detail FROM audit_log ORDER BY at;
     DROP TABLE audit_log;
     ALTER TABLE audit_log_v2 RENAME TO audit_log;
     CREATE INDEX audit_log_who ON audit_log (who, id);
     CREATE INDEX audit_log_action ON audit_log (action, id);",
    // 3: members' profiles for the console: the journal entry and time of each registration
    //    (copied from the journal) and the store a member registered through.
    "CREATE TABLE member_profiles (
        member  TEXT PRIMARY KEY,
        seq     BIGINT,
        at      TEXT,
        at_unix BIGINT,
        store   TEXT
     );
     CREATE INDEX member_profiles_joined ON member_profiles (at_unix);
     CREATE INDEX member_profiles_store ON member_profiles (store);",
];

/// Migration `n`'s text for a backend whose increasing integer key is spelled `serial`.
pub(crate) fn migration(n: usize, serial: &str) -> String {
    MIGRATIONS[n].replace("{serial}", serial)
}

/// The table recording how many of [`MIGRATIONS`] ran.
pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS service_schema_version (version INT NOT NULL)";

/// An error for a store whose service tables are newer than this program.
pub(crate) fn too_new(version: usize, store: &str) -> zengzhi_journal::Error {
    zengzhi_journal::Error::Config(format!(
        "{store} has service schema version {version}, newer than this program knows ({})",
        MIGRATIONS.len()
    ))
}
