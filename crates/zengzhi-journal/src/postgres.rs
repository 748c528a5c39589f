//! The production backend: PostgreSQL (money and points as `BIGINT` fen and units).
//!
//! Each program lives in its own schema (default `zengzhi`). `append` sends a whole batch in one
//! statement (arrays unnested server-side) inside one transaction; with the server's default
//! `synchronous_commit = on`, a commit is durable when it returns.

use postgres::{Client, NoTls};

use crate::backend::{hash_from, Backend, Candle, LedgerRow, OrderRow, PendingOrder, ProjectionBatch, SnapshotMeta, SnapshotRecord, Withdrawal, WithdrawalFilter, WITHDRAWAL_COLUMNS};
use crate::{Entry, Error, Hash, Result};

/// Schema migrations, applied in order; the table `schema_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: journal, snapshots, query tables.
    "CREATE TABLE journal (
        seq     BIGINT PRIMARY KEY,
        at      TEXT   NOT NULL,
        command TEXT   NOT NULL,
        hash    BYTEA  NOT NULL
     );
     CREATE TABLE snapshots (
        seq    BIGINT PRIMARY KEY,
        chain  BYTEA NOT NULL,
        sha256 BYTEA NOT NULL,
        state  BYTEA NOT NULL
     );
     CREATE TABLE orders (
        order_id       TEXT PRIMARY KEY,
        seq            BIGINT NOT NULL,
        member         TEXT NOT NULL,
        merchant       TEXT,
        amount_fen     BIGINT NOT NULL,
        commission_fen BIGINT NOT NULL,
        minted_units   BIGINT NOT NULL,
        at             TEXT NOT NULL
     );
     CREATE INDEX orders_member ON orders (member, seq);
     CREATE TABLE ledger (
        seq       BIGINT NOT NULL,
        member    TEXT NOT NULL,
        reason    TEXT NOT NULL,
        points    BIGINT NOT NULL,
        locked    BIGINT NOT NULL,
        cash_fen  BIGINT NOT NULL,
        coins_fen BIGINT NOT NULL
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
        open         BIGINT NOT NULL,
        high         BIGINT NOT NULL,
        low          BIGINT NOT NULL,
        close        BIGINT NOT NULL,
        pool_fen     BIGINT NOT NULL,
        supply_units BIGINT NOT NULL,
        PRIMARY KEY (interval, start)
     );
     CREATE TABLE projection (
        id        INT PRIMARY KEY CHECK (id = 1),
        watermark BIGINT NOT NULL
     );
     INSERT INTO projection (id, watermark) VALUES (1, 0);",
    // 2: the service's tables (API keys, audit log, settings), orders keep their command line.
    crate::backend::SERVICE_TABLES,
    // 3: orders waiting out the settlement delay.
    crate::backend::PENDING_TABLE,
    // 4: the withdrawal queue.
    crate::backend::WITHDRAWALS_TABLE,
];

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
        if version > MIGRATIONS.len() {
            return Err(Error::Config(format!(
                "schema {} has version {version}, newer than this program knows ({})",
                self.schema,
                MIGRATIONS.len()
            )));
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.batch_execute(sql)?;
            tx.execute("UPDATE schema_version SET version = $1", &[&((n + 1) as i32)])?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Backend for Postgres {
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
        let row = self.client.query_opt("SELECT chain, sha256, state FROM snapshots WHERE seq = $1", &[&(seq as i64)])?;
        row.map(|r| {
            Ok(SnapshotRecord {
                meta: SnapshotMeta { seq, chain: hash_from(r.get(0), seq)?, sha256: hash_from(r.get(1), seq)? },
                state: r.get(2),
            })
        })
        .transpose()
    }

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
            let commands: Vec<Option<&str>> = b.orders.iter().map(|o| o.command.as_deref()).collect();
            tx.execute(
                "INSERT INTO orders (order_id, seq, member, merchant, amount_fen, commission_fen, minted_units, at, command)
                 SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[])",
                &[
                    &ids,
                    &col(|o| o.seq as i64),
                    &members,
                    &merchants,
                    &col(|o| o.amount_fen),
                    &col(|o| o.commission_fen),
                    &col(|o| o.minted_units),
                    &ats,
                    &commands,
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
                &[&c.interval, &c.start, &c.open, &c.high, &c.low, &c.close, &c.pool_fen, &c.supply_units],
            )?;
        }
        tx.execute("UPDATE projection SET watermark = $1 WHERE id = 1", &[&(b.watermark as i64)])?;
        tx.commit()?;
        Ok(())
    }

    fn reset_projection(&mut self) -> Result<()> {
        self.client.batch_execute(
            "BEGIN; DELETE FROM orders; DELETE FROM ledger; DELETE FROM candles; UPDATE projection SET watermark = 0 WHERE id = 1; COMMIT;",
        )?;
        Ok(())
    }

    fn order(&mut self, order_id: &str) -> Result<Option<(OrderRow, String)>> {
        let row = self.client.query_opt(
            "SELECT seq, member, merchant, amount_fen, commission_fen, minted_units, at, command FROM orders WHERE order_id = $1",
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
                    command: None,
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

    fn candles(&mut self, interval: &str, limit: usize) -> Result<Vec<Candle>> {
        let interval = crate::backend::interval_name(interval);
        let rows = self.client.query(
            "SELECT start, open, high, low, close, pool_fen, supply_units FROM candles
             WHERE interval = $1 ORDER BY start DESC LIMIT $2",
            &[&interval, &(limit as i64)],
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

    fn put_api_key(&mut self, hash: &Hash, scope: &str, label: &str, created_at: &str) -> Result<()> {
        self.client.execute(
            "INSERT INTO api_keys (hash_hex, scope, label, created_at) VALUES ($1, $2, $3, $4)",
            &[&crate::hex(hash), &scope, &label, &created_at],
        )?;
        Ok(())
    }

    fn find_api_key(&mut self, hash: &Hash) -> Result<Option<String>> {
        let row = self.client.query_opt("SELECT scope FROM api_keys WHERE hash_hex = $1 AND revoked = 0", &[&crate::hex(hash)])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn audit(&mut self, at: &str, who: &str, action: &str, detail: &str) -> Result<()> {
        self.client
            .execute("INSERT INTO audit_log (at, who, action, detail) VALUES ($1, $2, $3, $4)", &[&at, &who, &action, &detail])?;
        Ok(())
    }

    fn setting(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self.client.query_opt("SELECT value FROM settings WHERE name = $1", &[&name])?;
        row.map(|r| crate::backend::unhex(&r.get::<_, String>(0), name)).transpose()
    }

    fn setting_or_insert(&mut self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let hex = crate::backend::hex_bytes(value);
        self.client.execute("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", &[&name, &hex])?;
        Ok(self.setting(name)?.unwrap_or_default())
    }

    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let hex = crate::backend::hex_bytes(value);
        self.client.execute(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &hex],
        )?;
        Ok(())
    }

    fn pending_insert(&mut self, o: &PendingOrder) -> Result<bool> {
        let n = self.client.execute(
            "INSERT INTO pending_orders (order_id, command, received_at, settle_after_unix, status) VALUES ($1, $2, $3, $4, 'pending')
             ON CONFLICT (order_id) DO NOTHING",
            &[&o.order_id, &o.command, &o.received_at, &(o.settle_after_unix as i64)],
        )?;
        Ok(n == 1)
    }

    fn pending_get(&mut self, order_id: &str) -> Result<Option<PendingOrder>> {
        let row = self.client.query_opt(
            "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE order_id = $1",
            &[&order_id],
        )?;
        Ok(row.as_ref().map(pending_row))
    }

    fn pending_take_due(&mut self, now_unix: u64, limit: usize) -> Result<Vec<PendingOrder>> {
        let rows = self.client.query(
            "UPDATE pending_orders SET status = 'settling' WHERE order_id IN (
                SELECT order_id FROM pending_orders WHERE status = 'pending' AND settle_after_unix <= $1
                ORDER BY received_at, order_id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING order_id, command, received_at, settle_after_unix, status, seq, error",
            &[&(now_unix as i64), &(limit as i64)],
        )?;
        let mut out: Vec<PendingOrder> = rows.iter().map(pending_row).collect();
        out.sort_by(|a, b| (&a.received_at, &a.order_id).cmp(&(&b.received_at, &b.order_id)));
        Ok(out)
    }

    fn pending_finish(&mut self, order_id: &str, status: &str, seq: Option<u64>, error: Option<&str>) -> Result<()> {
        self.client.execute(
            "UPDATE pending_orders SET status = $2, seq = $3, error = $4 WHERE order_id = $1",
            &[&order_id, &status, &seq.map(|s| s as i64), &error],
        )?;
        Ok(())
    }

    fn pending_refund(&mut self, order_id: &str) -> Result<bool> {
        let n = self
            .client
            .execute("UPDATE pending_orders SET status = 'refunded' WHERE order_id = $1 AND status = 'pending'", &[&order_id])?;
        Ok(n == 1)
    }

    fn pending_settling(&mut self) -> Result<Vec<PendingOrder>> {
        let rows = self.client.query(
            "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE status = 'settling'",
            &[],
        )?;
        Ok(rows.iter().map(pending_row).collect())
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
                command: None,
            })
            .collect())
    }

    fn withdrawal_insert(&mut self, w: &Withdrawal) -> Result<bool> {
        let n = self.client.execute(
            &format!("INSERT INTO withdrawals ({WITHDRAWAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"),
            &[&w.id, &w.member, &w.amount_fen, &w.status, &w.requested_at, &w.decided_at, &w.decided_by, &w.reason, &w.fee_fen,
              &w.seq.map(|s| s as i64), &w.head_before.map(|s| s as i64)],
        )?;
        Ok(n == 1)
    }

    fn withdrawal_get(&mut self, id: &str) -> Result<Option<Withdrawal>> {
        let row = self.client.query_opt(&format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = $1"), &[&id])?;
        Ok(row.as_ref().map(withdrawal_row))
    }

    fn withdrawals(&mut self, f: &WithdrawalFilter<'_>) -> Result<Vec<Withdrawal>> {
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE ($1::TEXT IS NULL OR status = $1) AND ($2::TEXT IS NULL OR member = $2)
             AND ($3::TEXT IS NULL OR id > $3) ORDER BY id LIMIT $4"
        );
        let rows = self.client.query(&sql, &[&f.status, &f.member, &f.after, &(f.limit as i64)])?;
        Ok(rows.iter().map(withdrawal_row).collect())
    }

    fn withdrawals_reserved(&mut self, member: &str) -> Result<i64> {
        let row = self.client.query_one(
            "SELECT COALESCE(SUM(amount_fen), 0)::BIGINT FROM withdrawals WHERE member = $1 AND status IN ('pending', 'paying')",
            &[&member],
        )?;
        Ok(row.get(0))
    }

    fn withdrawal_update(&mut self, w: &Withdrawal, from: &str) -> Result<bool> {
        let n = self.client.execute(
            "UPDATE withdrawals SET status = $2, decided_at = $3, decided_by = $4, reason = $5, fee_fen = $6, seq = $7,
             head_before = $8 WHERE id = $1 AND status = $9",
            &[&w.id, &w.status, &w.decided_at, &w.decided_by, &w.reason, &w.fee_fen, &w.seq.map(|s| s as i64),
              &w.head_before.map(|s| s as i64), &from],
        )?;
        Ok(n == 1)
    }
}

fn withdrawal_row(r: &postgres::Row) -> Withdrawal {
    Withdrawal {
        id: r.get(0),
        member: r.get(1),
        amount_fen: r.get(2),
        status: r.get(3),
        requested_at: r.get(4),
        decided_at: r.get(5),
        decided_by: r.get(6),
        reason: r.get(7),
        fee_fen: r.get(8),
        seq: r.get::<_, Option<i64>>(9).map(|s| s as u64),
        head_before: r.get::<_, Option<i64>>(10).map(|s| s as u64),
    }
}

fn pending_row(r: &postgres::Row) -> PendingOrder {
    PendingOrder {
        order_id: r.get(0),
        command: r.get(1),
        received_at: r.get(2),
        settle_after_unix: r.get::<_, i64>(3) as u64,
        status: r.get(4),
        seq: r.get::<_, Option<i64>>(5).map(|s| s as u64),
        error: r.get(6),
    }
}
