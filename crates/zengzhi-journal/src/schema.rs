//! The SQL of the journal's schema, for both backends, in one place: each migration is written
//! once and spelled for SQLite or PostgreSQL by a [`Dialect`]. Migrations are history: a store
//! records how many ran, so an entry is never changed in meaning, only added.
//!
//! The service's own tables (API keys, audit log, settings, pending orders, withdrawals) are
//! not the journal's: the service creates them with its own migrations. Stores made before they
//! moved have them from this list's entries 2 to 4; the service adopts them as they are.

/// How the two backends spell the column types of the same schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A 64-bit integer (SQLite's `INTEGER PRIMARY KEY` is the row id).
    pub const fn int(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "BIGINT",
        }
    }

    /// A small integer key.
    pub const fn small(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "INT",
        }
    }

    pub const fn bytes(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BLOB",
            Dialect::Postgres => "BYTEA",
        }
    }
}

/// The candles table, in `prefix` (`""` or an attached schema such as `"q."`).
pub fn candles_table(d: Dialect, prefix: &str) -> String {
    let int = d.int();
    format!(
        "CREATE TABLE {prefix}candles (
        interval     TEXT NOT NULL,
        start        TEXT NOT NULL,
        open         {int} NOT NULL,
        high         {int} NOT NULL,
        low          {int} NOT NULL,
        close        {int} NOT NULL,
        pool_fen     {int} NOT NULL,
        supply_units {int} NOT NULL,
        PRIMARY KEY (interval, start)
     );"
    )
}

/// The ledger table and its views, in `prefix`; the views name no schema (objects of an
/// attached schema refer to that schema).
fn ledger_table(d: Dialect, prefix: &str) -> String {
    let int = d.int();
    format!(
        "CREATE TABLE {prefix}ledger (
        seq       {int} NOT NULL,
        member    TEXT NOT NULL,
        reason    TEXT NOT NULL,
        points    {int} NOT NULL,
        locked    {int} NOT NULL,
        cash_fen  {int} NOT NULL,
        coins_fen {int} NOT NULL
     );
     CREATE VIEW {prefix}exits AS
        SELECT seq, member, -points - locked AS units_sold, cash_fen AS payout_fen FROM ledger WHERE reason = 'exit';
     CREATE VIEW {prefix}rewards AS
        SELECT seq, member, cash_fen AS amount_fen FROM ledger WHERE reason = 'reward';"
    )
}

/// Migration 1: the journal, the snapshots and the query tables.
fn journal_v1(d: Dialect) -> String {
    let (int, small, bytes) = (d.int(), d.small(), d.bytes());
    format!(
        "CREATE TABLE journal (
        seq     {int} PRIMARY KEY,
        at      TEXT NOT NULL,
        command TEXT NOT NULL,
        hash    {bytes} NOT NULL
     );
     CREATE TABLE snapshots (
        seq    {int} PRIMARY KEY,
        chain  {bytes} NOT NULL,
        sha256 {bytes} NOT NULL,
        state  {bytes} NOT NULL
     );
     CREATE TABLE orders (
        order_id       TEXT PRIMARY KEY,
        seq            {int} NOT NULL,
        member         TEXT NOT NULL,
        merchant       TEXT,
        amount_fen     {int} NOT NULL,
        commission_fen {int} NOT NULL,
        minted_units   {int} NOT NULL,
        at             TEXT NOT NULL
     );
     CREATE INDEX orders_member ON orders (member, seq);
     {ledger}
     CREATE INDEX ledger_member ON ledger (member, seq);
     CREATE INDEX ledger_reason ON ledger (reason, seq);
     {candles}
     CREATE TABLE projection (
        id        {small} PRIMARY KEY CHECK (id = 1),
        watermark {int} NOT NULL
     );
     INSERT INTO projection (id, watermark) VALUES (1, 0);",
        ledger = ledger_table(d, ""),
        candles = candles_table(d, ""),
    )
}

/// The journal's migrations of a backend, in order.
pub fn migrations(d: Dialect) -> Vec<String> {
    let mut all = vec![
        journal_v1(d),
        // 2: orders keep their command line (this migration also made the service's first
        // tables, which the service now makes itself).
        "ALTER TABLE orders ADD COLUMN command TEXT;".to_string(),
        // 3: (the service's pending orders, made by the service now).
        String::new(),
        // 4: orders by journal position, for exports (and the service's withdrawals, made by
        // the service now).
        "CREATE INDEX orders_seq ON orders (seq);".to_string(),
    ];
    match d {
        // 5: the query tables moved to their own file (see `query_migrations`); the projector
        // rebuilds them there from the journal.
        Dialect::Sqlite => all.push(
            "DROP VIEW exits; DROP VIEW rewards; DROP TABLE orders; DROP TABLE ledger; DROP TABLE candles; DROP TABLE projection;".into(),
        ),
        // 5 (PostgreSQL's fifth; SQLite's query file has its own, `query_migrations` 2):
        // rewards by kind.
        Dialect::Postgres => all.push(format!(
            "{} TRUNCATE orders, ledger, candles; UPDATE projection SET watermark = 0 WHERE id = 1;",
            rewards_by_kind_view("")
        )),
    }
    all
}

/// Rewards by kind: the ledger records each reward with its kind (`reward_direct`,
/// `reward_indirect`, `reward_recruiter`, `reward_district`, `reward_city`, `reward_province`,
/// `reward_peer`) where it used to say `reward`. The `rewards` view takes every kind and names
/// it in a `reason` column; the query tables are emptied, so the projector rebuilds them from
/// the journal and no row keeps the old reason.
fn rewards_by_kind_view(prefix: &str) -> String {
    format!(
        "DROP VIEW {prefix}rewards;
     CREATE VIEW {prefix}rewards AS
        SELECT seq, member, cash_fen AS amount_fen, reason FROM ledger WHERE reason LIKE 'reward_%';"
    )
}

/// A member's reward sums by reason (SQLite's query file).
pub(crate) const MEMBER_REWARDS_SQLITE: &str =
    "SELECT reason, SUM(cash_fen) FROM q.ledger WHERE member = ?1 AND reason LIKE 'reward_%' GROUP BY reason";

/// A member's reward sums by reason (PostgreSQL; its `SUM` of `BIGINT` is `NUMERIC`).
pub(crate) const MEMBER_REWARDS_POSTGRES: &str =
    "SELECT reason, CAST(SUM(cash_fen) AS BIGINT) FROM ledger WHERE member = $1 AND reason LIKE 'reward_%' GROUP BY reason";

/// The query tables' secondary indexes of a backend (name, then its definition after `ON`):
/// what a bulk load into empty tables drops first and builds again at its end (one sort per
/// index instead of a random insert per row). In SQLite's query file (`q.`) or PostgreSQL's
/// schema; the migrations create the same.
pub fn projection_indexes(d: Dialect) -> &'static [(&'static str, &'static str)] {
    match d {
        Dialect::Sqlite => &[
            ("orders_member", "orders (member, seq)"),
            ("ledger_member", "ledger (member, seq)"),
            ("ledger_exits", "ledger (seq) WHERE reason = 'exit'"),
        ],
        Dialect::Postgres => &[
            ("orders_member", "orders (member, seq)"),
            ("orders_seq", "orders (seq)"),
            ("ledger_member", "ledger (member, seq)"),
            ("ledger_reason", "ledger (reason, seq)"),
        ],
    }
}

/// The SQLite query file's migrations (schema `q`), recorded in its own `user_version`.
pub fn query_migrations() -> Vec<String> {
    let d = Dialect::Sqlite;
    // 1: orders, ledger (with the exits and rewards views), candles, the watermark and the
    // chain hash of the journal entry at the watermark (which journal the rows come from).
    //    Lean on indexes, as the projector inserts about seven rows an order: an order's seq
    //    is its row id (one order per entry), and only exits, which are rare, are indexed by
    //    reason.
    let v1 = format!(
        "CREATE TABLE q.orders (
        seq            INTEGER PRIMARY KEY,
        order_id       TEXT NOT NULL UNIQUE,
        member         TEXT NOT NULL,
        merchant       TEXT,
        amount_fen     INTEGER NOT NULL,
        commission_fen INTEGER NOT NULL,
        minted_units   INTEGER NOT NULL,
        at             TEXT NOT NULL,
        command        TEXT
     );
     CREATE INDEX q.orders_member ON orders (member, seq);
     {ledger}
     CREATE INDEX q.ledger_member ON ledger (member, seq);
     CREATE INDEX q.ledger_exits ON ledger (seq) WHERE reason = 'exit';
     {candles}
     CREATE TABLE q.projection (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        watermark INTEGER NOT NULL,
        chain     BLOB
     );
     INSERT INTO q.projection (id, watermark) VALUES (1, 0);",
        ledger = ledger_table(d, "q."),
        candles = candles_table(d, "q."),
    );
    // 2: rewards by kind (see `rewards_by_kind_view`); the tables are emptied and rebuilt.
    let v2 = format!(
        "{} DELETE FROM q.orders; DELETE FROM q.ledger; DELETE FROM q.candles;
     UPDATE q.projection SET watermark = 0, chain = NULL WHERE id = 1;",
        rewards_by_kind_view("q.")
    );
    vec![v1, v2]
}
