//! The production backend: PostgreSQL (money and points as `BIGINT` fen and units).
//!
//! Each program lives in its own schema (default `zengzhi`). `append` sends a whole batch in one
//! statement (arrays unnested server-side) inside one transaction; with the server's default
//! `synchronous_commit = on`, a commit is durable when it returns.

use postgres::{Client, NoTls};

use crate::backend::{
    hash_from, Candle, Interval, JournalStore, LedgerRow, OrderRow, ProjectionBatch, ProjectionStore, SnapshotMeta,
    SnapshotRecord,
};
use crate::{Entry, Error, Hash, Result};

/// Schema migrations ([`crate::schema::migrations`]), applied in order; the table
/// `schema_version` records how many ran.
fn migrations() -> Vec<String> {
    crate::schema::migrations(crate::schema::Dialect::Postgres)
}

/// The PostgreSQL backend.
pub struct Postgres {
    client: Client,
    schema: String,
}

fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

impl Postgres {
    /// Connects with the default schema `zengzhi`.
    pub fn connect(url: &str) -> Result<Postgres> {
        Self::connect_schema(url, "zengzhi")
    }

    /// Connects and uses `schema` (created if needed; lower-case letters, digits, `_`).
    pub fn connect_schema(url: &str, schema: &str) -> Result<Postgres> {
        if !valid_schema(schema) {
            return Err(Error::Config(format!("invalid schema name {schema:?}")));
        }
        let client = Client::connect(url, NoTls)?;
        let mut this = Postgres { client, schema: schema.to_string() };
        this.migrate()?;
        this.client.batch_execute(&format!("SET search_path TO {schema}"))?;
        Ok(this)
    }

    /// Drops the schema and everything in it (tests).
    pub fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !valid_schema(schema) {
            return Err(Error::Config(format!("invalid schema name {schema:?}")));
        }
        let mut client = Client::connect(url, NoTls)?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        Ok(())
    }

    /// The client, its `search_path` set to the program's schema (the service keeps its own
    /// tables there).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The program's schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn migrate(&mut self) -> Result<()> {
        let mut tx = self.client.transaction()?;
        // One migrator at a time per schema, from before the schema exists.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("zengzhi:{}", self.schema)])?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {0}; SET LOCAL search_path TO {0};", self.schema))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)")?;
        let version: i32 = match tx.query_opt("SELECT version FROM schema_version", &[])? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
                0
            }
        };
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > migrations().len() {
            return Err(Error::Config(format!(
                "schema {} has version {version}, newer than this program knows ({})",
                self.schema,
                migrations().len()
            )));
        }
        for (n, sql) in migrations().iter().enumerate().skip(version) {
            tx.batch_execute(sql)?;
            tx.execute("UPDATE schema_version SET version = $1", &[&((n + 1) as i32)])?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl JournalStore for Postgres {
    fn describe(&self) -> String {
        format!("postgres (schema {})", self.schema)
    }

    fn head(&mut self) -> Result<Option<(u64, Hash)>> {
        let row = self.client.query_opt("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", &[])?;
        row.map(|r| {
            let seq = r.get::<_, i64>(0) as u64;
            Ok((seq, hash_from(r.get(1), seq)?))
        })
        .transpose()
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq as i64).collect();
        let ats: Vec<&str> = entries.iter().map(|e| e.at.as_str()).collect();
        let commands: Vec<&str> = entries.iter().map(|e| e.command.as_str()).collect();
        let hashes: Vec<&[u8]> = entries.iter().map(|e| &e.hash[..]).collect();
        let mut tx = self.client.transaction()?;
        tx.execute(
            "INSERT INTO journal (seq, at, command, hash)
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BYTEA[])",
            &[&seqs, &ats, &commands, &hashes],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn read(&mut self, from: u64, limit: usize) -> Result<Vec<Entry>> {
        let rows = self.client.query(
            "SELECT seq, at, command, hash FROM journal WHERE seq >= $1 ORDER BY seq LIMIT $2",
            &[&(from as i64), &(limit as i64)],
        )?;
        rows.into_iter()
            .map(|r| {
                let seq = r.get::<_, i64>(0) as u64;
                Ok(Entry { seq, at: r.get(1), command: r.get(2), hash: hash_from(r.get(3), seq)? })
            })
            .collect()
    }

    fn entry_times(&mut self, from: u64, limit: usize) -> Result<Vec<(u64, String)>> {
        let rows = self.client.query(
            "SELECT seq, at FROM journal WHERE seq >= $1 ORDER BY seq LIMIT $2",
            &[&(from as i64), &(limit as i64)],
        )?;
        Ok(rows.into_iter().map(|r| (r.get::<_, i64>(0) as u64, r.get(1))).collect())
    }

    fn save_snapshot(&mut self, s: &SnapshotRecord) -> Result<()> {
        self.client.execute(
            "INSERT INTO snapshots (seq, chain, sha256, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (seq) DO UPDATE SET chain = excluded.chain, sha256 = excluded.sha256, state = excluded.state",
            &[&(s.meta.seq as i64), &&s.meta.chain[..], &&s.meta.sha256[..], &s.state],
        )?;
        Ok(())
    }

    fn snapshots(&mut self) -> Result<Vec<SnapshotMeta>> {
        let rows = self.client.query("SELECT seq, chain, sha256 FROM snapshots ORDER BY seq DESC", &[])?;
        rows.into_iter()
            .map(|r| {
                let seq = r.get::<_, i64>(0) as u64;
                Ok(SnapshotMeta { seq, chain: hash_from(r.get(1), seq)?, sha256: hash_from(r.get(2), seq)? })
            })
            .collect()
    }

    fn load_snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRecord>> {
        let row =
            self.client.query_opt("SELECT chain, sha256, state FROM snapshots WHERE seq = $1", &[&(seq as i64)])?;
        row.map(|r| {
            Ok(SnapshotRecord {
                meta: SnapshotMeta { seq, chain: hash_from(r.get(0), seq)?, sha256: hash_from(r.get(1), seq)? },
                state: r.get(2),
            })
        })
        .transpose()
    }
}

impl ProjectionStore for Postgres {
    fn watermark(&mut self) -> Result<u64> {
        let row = self.client.query_one("SELECT watermark FROM projection WHERE id = 1", &[])?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn write_projection(&mut self, b: &ProjectionBatch) -> Result<()> {
        let mut tx = self.client.transaction()?;
        if !b.orders.is_empty() {
            let col = |f: fn(&crate::backend::OrderRow) -> i64| b.orders.iter().map(f).collect::<Vec<i64>>();
            let ids: Vec<&str> = b.orders.iter().map(|o| o.order_id.as_str()).collect();
            let members: Vec<&str> = b.orders.iter().map(|o| o.member.as_str()).collect();
            let merchants: Vec<Option<&str>> = b.orders.iter().map(|o| o.merchant.as_deref()).collect();
            let ats: Vec<&str> = b.orders.iter().map(|o| o.at.as_str()).collect();
            tx.execute(
                "INSERT INTO orders (order_id, seq, member, merchant, amount_fen, commission_fen, minted_units, at)
                 SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::TEXT[])",
                &[
                    &ids,
                    &col(|o| o.seq as i64),
                    &members,
                    &merchants,
                    &col(|o| o.amount_fen),
                    &col(|o| o.commission_fen),
                    &col(|o| o.minted_units),
                    &ats,
                ],
            )?;
        }
        if !b.ledger.is_empty() {
            let col = |f: fn(&crate::backend::LedgerRow) -> i64| b.ledger.iter().map(f).collect::<Vec<i64>>();
            let members: Vec<&str> = b.ledger.iter().map(|l| l.member.as_str()).collect();
            let reasons: Vec<&str> = b.ledger.iter().map(|l| l.reason).collect();
            tx.execute(
                "INSERT INTO ledger (seq, member, reason, points, locked, cash_fen, coins_fen)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[])",
                &[
                    &col(|l| l.seq as i64),
                    &members,
                    &reasons,
                    &col(|l| l.points),
                    &col(|l| l.locked),
                    &col(|l| l.cash_fen),
                    &col(|l| l.coins_fen),
                ],
            )?;
        }
        for c in &b.candles {
            tx.execute(
                "INSERT INTO candles (interval, start, open, high, low, close, pool_fen, supply_units)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (interval, start) DO UPDATE SET
                    high = GREATEST(candles.high, excluded.high), low = LEAST(candles.low, excluded.low),
                    close = excluded.close, pool_fen = excluded.pool_fen, supply_units = excluded.supply_units",
                &[&c.interval.as_str(), &c.start, &c.open, &c.high, &c.low, &c.close, &c.pool_fen, &c.supply_units],
            )?;
        }
        tx.execute("UPDATE projection SET watermark = $1 WHERE id = 1", &[&(b.watermark as i64)])?;
        tx.commit()?;
        Ok(())
    }

    fn reset_projection(&mut self) -> Result<()> {
        self.client.batch_execute(
            "BEGIN; TRUNCATE orders, ledger, candles; UPDATE projection SET watermark = 0 WHERE id = 1; COMMIT;",
        )?;
        Ok(())
    }

    fn begin_bulk(&mut self) -> Result<()> {
        for (name, _) in crate::schema::projection_indexes(crate::schema::Dialect::Postgres) {
            self.client.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        Ok(())
    }

    fn end_bulk(&mut self) -> Result<()> {
        for (name, on) in crate::schema::projection_indexes(crate::schema::Dialect::Postgres) {
            self.client.batch_execute(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))?;
        }
        Ok(())
    }

    fn order(&mut self, order_id: &str) -> Result<Option<(OrderRow, String)>> {
        let row = self.client.query_opt(
            "SELECT o.seq, o.member, o.merchant, o.amount_fen, o.commission_fen, o.minted_units, o.at, j.command
             FROM orders o JOIN journal j ON j.seq = o.seq WHERE o.order_id = $1",
            &[&order_id],
        )?;
        Ok(row.map(|r| {
            (
                OrderRow {
                    seq: r.get::<_, i64>(0) as u64,
                    order_id: order_id.to_string(),
                    member: r.get(1),
                    merchant: r.get(2),
                    amount_fen: r.get(3),
                    commission_fen: r.get(4),
                    minted_units: r.get(5),
                    at: r.get(6),
                    },
                r.get::<_, Option<String>>(7).unwrap_or_default(),
            )
        }))
    }

    fn member_history(&mut self, member: &str, before_seq: u64, limit: usize) -> Result<Vec<LedgerRow>> {
        // A page never splits an entry (see the SQLite backend).
        let rows = self.client.query(
            "SELECT seq, reason, points, locked, cash_fen, coins_fen FROM ledger
             WHERE member = $1 AND seq < $2 AND seq >= (
                SELECT COALESCE(MIN(seq), 0) FROM (
                    SELECT seq FROM ledger WHERE member = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) AS page)
             ORDER BY seq DESC, ctid DESC",
            &[&member, &(before_seq.min(i64::MAX as u64) as i64), &(limit as i64)],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| LedgerRow {
                seq: r.get::<_, i64>(0) as u64,
                member: member.to_string(),
                reason: crate::backend::reason_name(&r.get::<_, String>(1)),
                points: r.get(2),
                locked: r.get(3),
                cash_fen: r.get(4),
                coins_fen: r.get(5),
            })
            .collect())
    }

    fn member_rewards(&mut self, member: &str) -> Result<Vec<(zengzhi_core::engine::RewardKind, i64)>> {
        let rows = self.client.query(crate::schema::MEMBER_REWARDS_POSTGRES, &[&member])?;
        Ok(crate::backend::rewards_by_kind(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))))
    }

    fn candles(&mut self, interval: Interval, limit: usize) -> Result<Vec<Candle>> {
        let rows = self.client.query(
            "SELECT start, open, high, low, close, pool_fen, supply_units FROM candles
             WHERE interval = $1 ORDER BY start DESC LIMIT $2",
            &[&interval.as_str(), &(limit as i64)],
        )?;
        let mut out: Vec<Candle> = rows
            .into_iter()
            .map(|r| Candle {
                interval,
                start: r.get(0),
                open: r.get(1),
                high: r.get(2),
                low: r.get(3),
                close: r.get(4),
                pool_fen: r.get(5),
                supply_units: r.get(6),
            })
            .collect();
        out.reverse();
        Ok(out)
    }

    fn orders_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<OrderRow>> {
        let rows = self.client.query(
            "SELECT seq, order_id, member, merchant, amount_fen, commission_fen, minted_units, at FROM orders
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(after_seq as i64), &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| OrderRow {
                seq: r.get::<_, i64>(0) as u64,
                order_id: r.get(1),
                member: r.get(2),
                merchant: r.get(3),
                amount_fen: r.get(4),
                commission_fen: r.get(5),
                minted_units: r.get(6),
                at: r.get(7),
            })
            .collect())
    }
}
