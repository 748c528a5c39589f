//! The embedded default backend: SQLite in WAL mode.
//!
//! Two files: `zengzhi.db` holds the journal, the snapshots and the service's own tables with
//! `synchronous = FULL` (every commit is fsynced before `append` returns); `zengzhi.query.db`
//! beside it holds the query tables (orders, ledger, candles and their watermark), attached to
//! every connection as schema `q`. SQLite has one write lock per file: with the query tables in
//! a file of their own, the projector's transactions never hold the lock the journal's appends
//! wait for. The query file is derived from the journal: when it is missing, or was made from
//! another journal, it is emptied and the projector rebuilds it.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::backend::{hash_from, Backend, Candle, LedgerRow, OrderRow, PendingOrder, ProjectionBatch, SnapshotMeta, SnapshotRecord, Withdrawal, WithdrawalFilter, WITHDRAWAL_COLUMNS};
use crate::{Entry, Error, Hash, Result};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: journal, snapshots, query tables.
    "CREATE TABLE journal (
        seq     INTEGER PRIMARY KEY,
        at      TEXT    NOT NULL,
        command TEXT    NOT NULL,
        hash    BLOB    NOT NULL
     );
     CREATE TABLE snapshots (
        seq        INTEGER PRIMARY KEY,
        chain      BLOB NOT NULL,
        sha256     BLOB NOT NULL,
        state      BLOB NOT NULL
     );
     CREATE TABLE orders (
        order_id       TEXT PRIMARY KEY,
        seq            INTEGER NOT NULL,
        member         TEXT NOT NULL,
        merchant       TEXT,
        amount_fen     INTEGER NOT NULL,
        commission_fen INTEGER NOT NULL,
        minted_units   INTEGER NOT NULL,
        at             TEXT NOT NULL
     );
     CREATE INDEX orders_member ON orders (member, seq);
     CREATE TABLE ledger (
        seq       INTEGER NOT NULL,
        member    TEXT NOT NULL,
        reason    TEXT NOT NULL,
        points    INTEGER NOT NULL,
        locked    INTEGER NOT NULL,
        cash_fen  INTEGER NOT NULL,
        coins_fen INTEGER NOT NULL
     );
     CREATE INDEX ledger_member ON ledger (member, seq);
     CREATE INDEX ledger_reason ON ledger (reason, seq);
     CREATE VIEW exits AS
        SELECT seq, member, -points - locked AS units_sold, cash_fen AS payout_fen FROM ledger WHERE reason = 'exit';
     CREATE VIEW rewards AS
        SELECT seq, member, cash_fen AS amount_fen FROM ledger WHERE reason = 'reward';
     CREATE TABLE candles (
        interval     TEXT NOT NULL,
        start        TEXT NOT NULL,
        open         INTEGER NOT NULL,
        high         INTEGER NOT NULL,
        low          INTEGER NOT NULL,
        close        INTEGER NOT NULL,
        pool_fen     INTEGER NOT NULL,
        supply_units INTEGER NOT NULL,
        PRIMARY KEY (interval, start)
     );
     CREATE TABLE projection (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        watermark INTEGER NOT NULL
     );
     INSERT INTO projection (id, watermark) VALUES (1, 0);",
    // 2: the service's tables (API keys, audit log, settings), orders keep their command line.
    crate::backend::SERVICE_TABLES,
    // 3: orders waiting out the settlement delay.
    crate::backend::PENDING_TABLE,
    // 4: the withdrawal queue.
    crate::backend::WITHDRAWALS_TABLE,
    // 5: the query tables moved to their own file (see QUERY_MIGRATIONS); the projector
    // rebuilds them there from the journal.
    "DROP VIEW exits; DROP VIEW rewards; DROP TABLE orders; DROP TABLE ledger; DROP TABLE candles; DROP TABLE projection;",
];

/// The query file's migrations (schema `q`), recorded in its own `user_version`. Objects in an
/// attached schema refer only to that schema, so the views need no qualifier.
const QUERY_MIGRATIONS: &[&str] = &[
    // 1: orders, ledger (with the exits and rewards views), candles, the watermark and the
    // chain hash of the journal entry at the watermark (which journal the rows come from).
    //    Lean on indexes, as the projector inserts about seven rows an order: an order's seq
    //    is its row id (one order per entry), and only exits, which are rare, are indexed by
    //    reason.
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
     CREATE TABLE q.ledger (
        seq       INTEGER NOT NULL,
        member    TEXT NOT NULL,
        reason    TEXT NOT NULL,
        points    INTEGER NOT NULL,
        locked    INTEGER NOT NULL,
        cash_fen  INTEGER NOT NULL,
        coins_fen INTEGER NOT NULL
     );
     CREATE INDEX q.ledger_member ON ledger (member, seq);
     CREATE INDEX q.ledger_exits ON ledger (seq) WHERE reason = 'exit';
     CREATE VIEW q.exits AS
        SELECT seq, member, -points - locked AS units_sold, cash_fen AS payout_fen FROM ledger WHERE reason = 'exit';
     CREATE VIEW q.rewards AS
        SELECT seq, member, cash_fen AS amount_fen FROM ledger WHERE reason = 'reward';
     CREATE TABLE q.candles (
        interval     TEXT NOT NULL,
        start        TEXT NOT NULL,
        open         INTEGER NOT NULL,
        high         INTEGER NOT NULL,
        low          INTEGER NOT NULL,
        close        INTEGER NOT NULL,
        pool_fen     INTEGER NOT NULL,
        supply_units INTEGER NOT NULL,
        PRIMARY KEY (interval, start)
     );
     CREATE TABLE q.projection (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        watermark INTEGER NOT NULL,
        chain     BLOB
     );
     INSERT INTO q.projection (id, watermark) VALUES (1, 0);",
];

/// The page cache of the query file, KiB per connection.
const QUERY_CACHE_KIB: i64 = 64 * 1024;

/// The schema name of the attached query file.
const Q: rusqlite::DatabaseName<'static> = rusqlite::DatabaseName::Attached("q");

/// Empties the query tables (the projector starts again from the first entry).
const RESET_QUERY: &str =
    "DELETE FROM q.orders; DELETE FROM q.ledger; DELETE FROM q.candles; UPDATE q.projection SET watermark = 0, chain = NULL WHERE id = 1;";

/// The query file's schema version; an error when a newer program wrote it.
fn query_version(conn: &Connection, query: &Path) -> Result<usize> {
    let version: i64 = conn.pragma_query_value(Some(Q), "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > QUERY_MIGRATIONS.len() {
        return Err(Error::Config(format!(
            "{} has schema version {version}, newer than this program knows ({})",
            query.display(),
            QUERY_MIGRATIONS.len()
        )));
    }
    Ok(version)
}

/// Whether the query tables (at the current schema) come from another journal: the entry at
/// their watermark exists here with another chain hash.
fn projected_from_another_journal(conn: &Connection) -> Result<bool> {
    let has_tables: bool = conn.query_row("SELECT COUNT(*) > 0 FROM q.sqlite_master WHERE name = 'projection'", [], |r| r.get(0))?;
    if !has_tables {
        return Ok(false);
    }
    let (watermark, chain): (i64, Option<Vec<u8>>) =
        conn.query_row("SELECT watermark, chain FROM q.projection WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if watermark == 0 {
        return Ok(false);
    }
    let here: Option<Vec<u8>> =
        conn.query_row("SELECT hash FROM main.journal WHERE seq = ?1", [watermark], |r| r.get(0)).optional()?;
    Ok(here.is_some() && here != chain)
}

/// The query file beside the journal's: `zengzhi.db` → `zengzhi.query.db`.
pub fn query_path(path: &Path) -> PathBuf {
    path.with_extension("query.db")
}

/// The SQLite backend.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

impl Sqlite {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub fn open(path: &Path) -> Result<Sqlite> {
        // While a new file is being set up by several connections at once, SQLite can answer
        // "busy" without waiting (its deadlock avoidance skips the busy handler): try again,
        // for a bounded time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Self::open_once(path) {
                Err(Error::Sqlite(e))
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Sqlite> {
        let conn = Connection::open(path)?;
        // First: wait for other connections (switching to WAL takes a lock briefly).
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut this = Sqlite { conn, path: path.to_path_buf() };
        this.migrate()?;
        this.attach_query()?;
        Ok(this)
    }

    /// Attaches the query file as schema `q`, runs its migrations and empties it if it was
    /// projected from another journal (the journal's entry at the watermark has another chain
    /// hash than the one the rows were projected from). A query file that covers entries the
    /// journal does not have is kept: that is evidence of a lost tail, which recovery and
    /// `verify` report.
    fn attach_query(&mut self) -> Result<()> {
        let query = query_path(&self.path);
        let name = query.to_str().ok_or_else(|| Error::Config(format!("{} is not a UTF-8 path", query.display())))?;
        self.conn.execute("ATTACH DATABASE ?1 AS q", [name])?;
        self.conn.pragma_update(Some(Q), "journal_mode", "WAL")?;
        // Rows lost by a power cut are projected again: the watermark is in the same file and
        // commits together with them, so the file is always the journal up to its watermark.
        self.conn.pragma_update(Some(Q), "synchronous", "NORMAL")?;
        // The projector inserts into several indexes keyed by member: with SQLite's default
        // 2 MiB page cache most inserts re-read index pages from the OS. (Allocated as used.)
        self.conn.pragma_update(Some(Q), "cache_size", -QUERY_CACHE_KIB)?;
        // Read first; the write lock is taken only when there is something to do, so opening a
        // store never waits for a projection in progress.
        if self.query_file_needs_work(&query)? {
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let version = query_version(&tx, &query)?;
            for (n, sql) in QUERY_MIGRATIONS.iter().enumerate().skip(version) {
                tx.execute_batch(sql)?;
                tx.pragma_update(Some(Q), "user_version", (n + 1) as i64)?;
            }
            if projected_from_another_journal(&tx)? {
                tracing::warn!(
                    query = %query.display(),
                    "the query tables were projected from another journal; they are rebuilt from this one"
                );
                tx.execute_batch(RESET_QUERY)?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    fn query_file_needs_work(&self, query: &Path) -> Result<bool> {
        let tx = self.conn.unchecked_transaction()?;
        let version = query_version(&tx, query)?;
        let work = version < QUERY_MIGRATIONS.len() || projected_from_another_journal(&tx)?;
        tx.commit()?;
        Ok(work)
    }

    fn migrate(&mut self) -> Result<()> {
        // The version is read inside a write transaction, so two processes opening a new file
        // at once cannot both run the same migration.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(Error::Config(format!(
                "{} has schema version {version}, newer than this program knows ({})",
                self.path.display(),
                MIGRATIONS.len()
            )));
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (n + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Backend for Sqlite {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn head(&mut self) -> Result<Option<(u64, Hash)>> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(seq, hash)| Ok((seq as u64, hash_from(hash, seq as u64)?))).transpose()
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO journal (seq, at, command, hash) VALUES (?1, ?2, ?3, ?4)")?;
            for e in entries {
                insert.execute(params![e.seq as i64, e.at, e.command, &e.hash[..]])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&mut self, from: u64, limit: usize) -> Result<Vec<Entry>> {
        let mut q = self.conn.prepare_cached("SELECT seq, at, command, hash FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
        let rows = q.query_map(params![from as i64, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Vec<u8>>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, command, hash) = row?;
            out.push(Entry { seq: seq as u64, at, command, hash: hash_from(hash, seq as u64)? });
        }
        Ok(out)
    }

    fn save_snapshot(&mut self, s: &SnapshotRecord) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO snapshots (seq, chain, sha256, state) VALUES (?1, ?2, ?3, ?4)",
            params![s.meta.seq as i64, &s.meta.chain[..], &s.meta.sha256[..], s.state],
        )?;
        Ok(())
    }

    fn snapshots(&mut self) -> Result<Vec<SnapshotMeta>> {
        let mut q = self.conn.prepare("SELECT seq, chain, sha256 FROM snapshots ORDER BY seq DESC")?;
        let rows = q.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, chain, sha) = row?;
            let seq = seq as u64;
            out.push(SnapshotMeta { seq, chain: hash_from(chain, seq)?, sha256: hash_from(sha, seq)? });
        }
        Ok(out)
    }

    fn load_snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRecord>> {
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row("SELECT chain, sha256, state FROM snapshots WHERE seq = ?1", [seq as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(chain, sha, state)| {
            Ok(SnapshotRecord { meta: SnapshotMeta { seq, chain: hash_from(chain, seq)?, sha256: hash_from(sha, seq)? }, state })
        })
        .transpose()
    }

    fn watermark(&mut self) -> Result<u64> {
        let w: i64 = self.conn.query_row("SELECT watermark FROM q.projection WHERE id = 1", [], |r| r.get(0))?;
        Ok(w as u64)
    }

    fn write_projection(&mut self, b: &ProjectionBatch) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut orders = tx.prepare_cached(
                "INSERT INTO q.orders (order_id, seq, member, merchant, amount_fen, commission_fen, minted_units, at, command)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for o in &b.orders {
                orders.execute(params![
                    o.order_id,
                    o.seq as i64,
                    o.member,
                    o.merchant,
                    o.amount_fen,
                    o.commission_fen,
                    o.minted_units,
                    o.at,
                    o.command
                ])?;
            }
            let mut ledger = tx.prepare_cached(
                "INSERT INTO q.ledger (seq, member, reason, points, locked, cash_fen, coins_fen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for l in &b.ledger {
                ledger.execute(params![l.seq as i64, l.member, l.reason, l.points, l.locked, l.cash_fen, l.coins_fen])?;
            }
            let mut candles = tx.prepare_cached(
                "INSERT INTO q.candles (interval, start, open, high, low, close, pool_fen, supply_units)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (interval, start) DO UPDATE SET
                    high = max(high, excluded.high), low = min(low, excluded.low), close = excluded.close,
                    pool_fen = excluded.pool_fen, supply_units = excluded.supply_units",
            )?;
            for c in &b.candles {
                candles.execute(params![c.interval, c.start, c.open, c.high, c.low, c.close, c.pool_fen, c.supply_units])?;
            }
            tx.execute(
                "UPDATE q.projection SET watermark = ?1, chain = (SELECT hash FROM main.journal WHERE seq = ?1) WHERE id = 1",
                [b.watermark as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn reset_projection(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(RESET_QUERY)?;
        tx.commit()?;
        Ok(())
    }

    fn order(&mut self, order_id: &str) -> Result<Option<(OrderRow, String)>> {
        let row = self
            .conn
            .query_row(
                "SELECT seq, member, merchant, amount_fen, commission_fen, minted_units, at, command FROM q.orders WHERE order_id = ?1",
                [order_id],
                |r| {
                    Ok((
                        OrderRow {
                            seq: r.get::<_, i64>(0)? as u64,
                            order_id: order_id.to_string(),
                            member: r.get(1)?,
                            merchant: r.get(2)?,
                            amount_fen: r.get(3)?,
                            commission_fen: r.get(4)?,
                            minted_units: r.get(5)?,
                            at: r.get(6)?,
                            command: None,
                        },
                        r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    ))
                },
            )
            .optional()?;
        Ok(row)
    }

    fn member_history(&mut self, member: &str, before_seq: u64, limit: usize) -> Result<Vec<LedgerRow>> {
        // A page never splits an entry: it ends with every row of its last entry (so it may
        // hold more than `limit` rows), and the last row's seq is a safe cursor.
        let mut q = self.conn.prepare_cached(
            "SELECT seq, reason, points, locked, cash_fen, coins_fen FROM q.ledger
             WHERE member = ?1 AND seq < ?2 AND seq >= (
                SELECT COALESCE(MIN(seq), 0) FROM (
                    SELECT seq FROM q.ledger WHERE member = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3))
             ORDER BY seq DESC, rowid DESC",
        )?;
        let rows = q.query_map(params![member, before_seq.min(i64::MAX as u64) as i64, limit as i64], |r| {
            Ok(LedgerRow {
                seq: r.get::<_, i64>(0)? as u64,
                member: member.to_string(),
                reason: crate::backend::reason_name(&r.get::<_, String>(1)?),
                points: r.get(2)?,
                locked: r.get(3)?,
                cash_fen: r.get(4)?,
                coins_fen: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn candles(&mut self, interval: &str, limit: usize) -> Result<Vec<Candle>> {
        let mut q = self.conn.prepare_cached(
            "SELECT start, open, high, low, close, pool_fen, supply_units FROM q.candles
             WHERE interval = ?1 ORDER BY start DESC LIMIT ?2",
        )?;
        let interval = crate::backend::interval_name(interval);
        let rows = q.query_map(params![interval, limit as i64], |r| {
            Ok(Candle {
                interval,
                start: r.get(0)?,
                open: r.get(1)?,
                high: r.get(2)?,
                low: r.get(3)?,
                close: r.get(4)?,
                pool_fen: r.get(5)?,
                supply_units: r.get(6)?,
            })
        })?;
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    fn put_api_key(&mut self, hash: &Hash, scope: &str, label: &str, created_at: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO api_keys (hash_hex, scope, label, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![crate::hex(hash), scope, label, created_at],
        )?;
        Ok(())
    }

    fn find_api_key(&mut self, hash: &Hash) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT scope FROM api_keys WHERE hash_hex = ?1 AND revoked = 0", [crate::hex(hash)], |r| r.get(0))
            .optional()?)
    }

    fn audit(&mut self, at: &str, who: &str, action: &str, detail: &str) -> Result<()> {
        self.conn
            .execute("INSERT INTO audit_log (at, who, action, detail) VALUES (?1, ?2, ?3, ?4)", params![at, who, action, detail])?;
        Ok(())
    }

    fn setting(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let v: Option<String> =
            self.conn.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| r.get(0)).optional()?;
        v.map(|hex| crate::backend::unhex(&hex, name)).transpose()
    }

    fn setting_or_insert(&mut self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let hex = crate::backend::hex_bytes(value);
        self.conn.execute("INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)", params![name, hex])?;
        Ok(self.setting(name)?.unwrap_or_default())
    }

    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let hex = crate::backend::hex_bytes(value);
        self.conn.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, hex],
        )?;
        Ok(())
    }

    fn checkpoint_elsewhere(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn pending_insert(&mut self, o: &PendingOrder) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO pending_orders (order_id, command, received_at, settle_after_unix, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
            params![o.order_id, o.command, o.received_at, o.settle_after_unix as i64],
        )?;
        Ok(n == 1)
    }

    fn pending_get(&mut self, order_id: &str) -> Result<Option<PendingOrder>> {
        Ok(self
            .conn
            .query_row(
                "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE order_id = ?1",
                [order_id],
                pending_row,
            )
            .optional()?)
    }

    fn pending_take_due(&mut self, now_unix: u64, limit: usize) -> Result<Vec<PendingOrder>> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows = {
            let mut q = tx.prepare_cached(
                "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders
                 WHERE status = 'pending' AND settle_after_unix <= ?1 ORDER BY received_at, rowid LIMIT ?2",
            )?;
            let rows = q.query_map(params![now_unix as i64, limit as i64], pending_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        for r in &rows {
            tx.execute("UPDATE pending_orders SET status = 'settling' WHERE order_id = ?1", [&r.order_id])?;
        }
        tx.commit()?;
        Ok(rows.into_iter().map(|r| PendingOrder { status: "settling".into(), ..r }).collect())
    }

    fn pending_finish(&mut self, order_id: &str, status: &str, seq: Option<u64>, error: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE pending_orders SET status = ?2, seq = ?3, error = ?4 WHERE order_id = ?1",
            params![order_id, status, seq.map(|s| s as i64), error],
        )?;
        Ok(())
    }

    fn pending_refund(&mut self, order_id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("UPDATE pending_orders SET status = 'refunded' WHERE order_id = ?1 AND status = 'pending'", [order_id])?;
        Ok(n == 1)
    }

    fn pending_settling(&mut self) -> Result<Vec<PendingOrder>> {
        let mut q = self.conn.prepare(
            "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE status = 'settling'",
        )?;
        let rows = q.query_map([], pending_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn orders_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<OrderRow>> {
        let mut q = self.conn.prepare_cached(
            "SELECT seq, order_id, member, merchant, amount_fen, commission_fen, minted_units, at FROM q.orders
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = q.query_map(params![after_seq as i64, limit as i64], |r| {
            Ok(OrderRow {
                seq: r.get::<_, i64>(0)? as u64,
                order_id: r.get(1)?,
                member: r.get(2)?,
                merchant: r.get(3)?,
                amount_fen: r.get(4)?,
                commission_fen: r.get(5)?,
                minted_units: r.get(6)?,
                at: r.get(7)?,
                command: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn withdrawal_insert(&mut self, w: &Withdrawal) -> Result<bool> {
        let n = self.conn.execute(
            &format!("INSERT OR IGNORE INTO withdrawals ({WITHDRAWAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![w.id, w.member, w.amount_fen, w.status, w.requested_at, w.decided_at, w.decided_by, w.reason, w.fee_fen,
                    w.seq.map(|s| s as i64), w.head_before.map(|s| s as i64)],
        )?;
        Ok(n == 1)
    }

    fn withdrawal_get(&mut self, id: &str) -> Result<Option<Withdrawal>> {
        let sql = format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], withdrawal_row).optional()?)
    }

    fn withdrawals(&mut self, f: &WithdrawalFilter<'_>) -> Result<Vec<Withdrawal>> {
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR member = ?2)
             AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
        );
        let mut q = self.conn.prepare_cached(&sql)?;
        let rows = q.query_map(params![f.status, f.member, f.after, f.limit as i64], withdrawal_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn withdrawals_reserved(&mut self, member: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM withdrawals WHERE member = ?1 AND status IN ('pending', 'paying')",
            [member],
            |r| r.get(0),
        )?)
    }

    fn withdrawal_update(&mut self, w: &Withdrawal, from: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE withdrawals SET status = ?2, decided_at = ?3, decided_by = ?4, reason = ?5, fee_fen = ?6, seq = ?7,
             head_before = ?8 WHERE id = ?1 AND status = ?9",
            params![w.id, w.status, w.decided_at, w.decided_by, w.reason, w.fee_fen, w.seq.map(|s| s as i64),
                    w.head_before.map(|s| s as i64), from],
        )?;
        Ok(n == 1)
    }
}

fn withdrawal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Withdrawal> {
    Ok(Withdrawal {
        id: r.get(0)?,
        member: r.get(1)?,
        amount_fen: r.get(2)?,
        status: r.get(3)?,
        requested_at: r.get(4)?,
        decided_at: r.get(5)?,
        decided_by: r.get(6)?,
        reason: r.get(7)?,
        fee_fen: r.get(8)?,
        seq: r.get::<_, Option<i64>>(9)?.map(|s| s as u64),
        head_before: r.get::<_, Option<i64>>(10)?.map(|s| s as u64),
    })
}

fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingOrder> {
    Ok(PendingOrder {
        order_id: r.get(0)?,
        command: r.get(1)?,
        received_at: r.get(2)?,
        settle_after_unix: r.get::<_, i64>(3)? as u64,
        status: r.get(4)?,
        seq: r.get::<_, Option<i64>>(5)?.map(|s| s as u64),
        error: r.get(6)?,
    })
}
