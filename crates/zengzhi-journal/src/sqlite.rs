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

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use crate::backend::{
    hash_from, Candle, Interval, JournalStore, LedgerRow, OrderRow, ProjectionBatch, ProjectionStore, SnapshotMeta,
    SnapshotRecord,
};
use crate::{Entry, Error, Hash, Result};

/// Schema migrations ([`crate::schema::migrations`]), applied in order; `PRAGMA user_version`
/// records how many ran. The query file has its own ([`crate::schema::query_migrations`]),
/// recorded in its own `user_version`.
fn migrations() -> Vec<String> {
    crate::schema::migrations(crate::schema::Dialect::Sqlite)
}

/// The page cache of the query file, KiB per connection.
const QUERY_CACHE_KIB: i64 = 64 * 1024;

/// The query file's page cache while a bulk load builds its indexes (the sort's buffer).
const BULK_SORT_KIB: i64 = 512 * 1024;

/// The schema name of the attached query file.
const Q: rusqlite::DatabaseName<'static> = rusqlite::DatabaseName::Attached("q");

/// Empties the query tables (the projector starts again from the first entry).
const RESET_QUERY: &str =
    "DELETE FROM q.orders; DELETE FROM q.ledger; DELETE FROM q.candles; UPDATE q.projection SET watermark = 0, chain = NULL WHERE id = 1;";

/// The query file's schema version; an error when a newer program wrote it.
fn query_version(conn: &Connection, query: &Path) -> Result<usize> {
    let version: i64 = conn.pragma_query_value(Some(Q), "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > crate::schema::query_migrations().len() {
        return Err(Error::Config(format!(
            "{} has schema version {version}, newer than this program knows ({})",
            query.display(),
            crate::schema::query_migrations().len()
        )));
    }
    Ok(version)
}

/// Whether the query tables (at the current schema) come from another journal: the entry at
/// their watermark exists here with another chain hash.
fn projected_from_another_journal(conn: &Connection) -> Result<bool> {
    let has_tables: bool =
        conn.query_row("SELECT COUNT(*) > 0 FROM q.sqlite_master WHERE name = 'projection'", [], |r| r.get(0))?;
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
            for (n, sql) in crate::schema::query_migrations().iter().enumerate().skip(version) {
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
        let work = version < crate::schema::query_migrations().len() || projected_from_another_journal(&tx)?;
        tx.commit()?;
        Ok(work)
    }

    /// The connection (the service keeps its own tables in the journal's file).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn migrate(&mut self) -> Result<()> {
        // The version is read inside a write transaction, so two processes opening a new file
        // at once cannot both run the same migration.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > migrations().len() {
            return Err(Error::Config(format!(
                "{} has schema version {version}, newer than this program knows ({})",
                self.path.display(),
                migrations().len()
            )));
        }
        for (n, sql) in migrations().iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (n + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl JournalStore for Sqlite {
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
            let mut insert =
                tx.prepare_cached("INSERT INTO journal (seq, at, command, hash) VALUES (?1, ?2, ?3, ?4)")?;
            for e in entries {
                insert.execute(params![e.seq as i64, e.at, e.command, &e.hash[..]])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&mut self, from: u64, limit: usize) -> Result<Vec<Entry>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT seq, at, command, hash FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
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

    fn entry_times(&mut self, from: u64, limit: usize) -> Result<Vec<(u64, String)>> {
        let mut q = self.conn.prepare_cached("SELECT seq, at FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
        let rows = q.query_map(params![from as i64, limit as i64], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
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
            Ok(SnapshotRecord {
                meta: SnapshotMeta { seq, chain: hash_from(chain, seq)?, sha256: hash_from(sha, seq)? },
                state,
            })
        })
        .transpose()
    }

    fn checkpoint_elsewhere(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Rows a multi-row `INSERT` carries: most of a one-row insert's cost is the statement's own.
const ROWS_PER_INSERT: usize = 64;

/// Inserts `rows` into `into` (`table (columns)`), [`ROWS_PER_INSERT`] rows a statement, the
/// values of a row given by `values` in the columns' order.
fn insert_rows<'r, T, const N: usize>(
    tx: &rusqlite::Transaction<'_>,
    into: &str,
    rows: &'r [T],
    values: impl Fn(&'r T) -> [&'r dyn ToSql; N],
) -> Result<()> {
    let statement = |n: usize| {
        let row = format!("({})", vec!["?"; N].join(", "));
        format!("INSERT INTO {into} VALUES {}", vec![row; n].join(", "))
    };
    // Full chunks in one statement each, the rest a row at a time (so the statement cache
    // holds two statements a table, not one for every remainder's length).
    let (full, one) = (statement(ROWS_PER_INSERT), statement(1));
    let mut params: Vec<&dyn ToSql> = Vec::with_capacity(ROWS_PER_INSERT * N);
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    for chunk in chunks.by_ref() {
        params.clear();
        for row in chunk {
            params.extend_from_slice(&values(row));
        }
        tx.prepare_cached(&full)?.execute(params.as_slice())?;
    }
    for row in chunks.remainder() {
        tx.prepare_cached(&one)?.execute(values(row).as_slice())?;
    }
    Ok(())
}

impl ProjectionStore for Sqlite {
    fn watermark(&mut self) -> Result<u64> {
        let w: i64 = self.conn.query_row("SELECT watermark FROM q.projection WHERE id = 1", [], |r| r.get(0))?;
        Ok(w as u64)
    }

    fn write_projection(&mut self, b: &ProjectionBatch) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            insert_rows(
                &tx,
                "q.orders (seq, order_id, member, merchant, amount_fen, commission_fen, minted_units, at)",
                &b.orders,
                |o| {
                    [
                        &o.seq as &dyn ToSql,
                        &o.order_id,
                        &o.member,
                        &o.merchant,
                        &o.amount_fen,
                        &o.commission_fen,
                        &o.minted_units,
                        &o.at,
                    ]
                },
            )?;
            insert_rows(&tx, "q.ledger (seq, member, reason, points, locked, cash_fen, coins_fen)", &b.ledger, |l| {
                [&l.seq as &dyn ToSql, &l.member, &l.reason, &l.points, &l.locked, &l.cash_fen, &l.coins_fen]
            })?;
            let mut candles = tx.prepare_cached(
                "INSERT INTO q.candles (interval, start, open, high, low, close, pool_fen, supply_units)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (interval, start) DO UPDATE SET
                    high = max(high, excluded.high), low = min(low, excluded.low), close = excluded.close,
                    pool_fen = excluded.pool_fen, supply_units = excluded.supply_units",
            )?;
            for c in &b.candles {
                candles.execute(params![
                    c.interval.as_str(),
                    c.start,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.pool_fen,
                    c.supply_units
                ])?;
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

    fn begin_bulk(&mut self) -> Result<()> {
        for (name, _) in crate::schema::projection_indexes(crate::schema::Dialect::Sqlite) {
            self.conn.execute_batch(&format!("DROP INDEX IF EXISTS q.{name}"))?;
        }
        Ok(())
    }

    fn end_bulk(&mut self) -> Result<()> {
        let missing = {
            let mut q = self.conn.prepare("SELECT name FROM q.sqlite_master WHERE type = 'index'")?;
            let present = q.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            crate::schema::projection_indexes(crate::schema::Dialect::Sqlite)
                .iter()
                .filter(|(name, _)| !present.iter().any(|p| p == name))
                .collect::<Vec<_>>()
        };
        if missing.is_empty() {
            return Ok(());
        }
        // An index build sorts its rows: with helper threads and a sort buffer of the size of
        // the page cache raised for the while.
        self.conn.pragma_update(None, "threads", 2)?;
        self.conn.pragma_update(Some(Q), "cache_size", -BULK_SORT_KIB)?;
        let built = missing
            .iter()
            .try_for_each(|(name, on)| self.conn.execute_batch(&format!("CREATE INDEX IF NOT EXISTS q.{name} ON {on}")));
        self.conn.pragma_update(Some(Q), "cache_size", -QUERY_CACHE_KIB)?;
        self.conn.pragma_update(None, "threads", 0)?;
        Ok(built?)
    }

    fn order(&mut self, order_id: &str) -> Result<Option<(OrderRow, String)>> {
        let row = self
            .conn
            .query_row(
                "SELECT o.seq, o.member, o.merchant, o.amount_fen, o.commission_fen, o.minted_units, o.at, j.command
                 FROM q.orders o JOIN main.journal j ON j.seq = o.seq WHERE o.order_id = ?1",
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

    fn member_rewards(&mut self, member: &str) -> Result<Vec<(zengzhi_core::engine::RewardKind, i64)>> {
        let mut q = self.conn.prepare_cached(crate::schema::MEMBER_REWARDS_SQLITE)?;
        let rows = q.query_map([member], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(crate::backend::rewards_by_kind(rows.collect::<rusqlite::Result<Vec<_>>>()?))
    }

    fn candles(&mut self, interval: Interval, limit: usize) -> Result<Vec<Candle>> {
        let mut q = self.conn.prepare_cached(
            "SELECT start, open, high, low, close, pool_fen, supply_units FROM q.candles
             WHERE interval = ?1 ORDER BY start DESC LIMIT ?2",
        )?;
        let rows = q.query_map(params![interval.as_str(), limit as i64], |r| {
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
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
