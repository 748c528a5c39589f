//! The service's tables on PostgreSQL (in the program's schema).

use zengzhi_journal::postgres::Postgres;
use zengzhi_journal::{Hash, Result};

use super::schema::{migration, too_new, MIGRATIONS, VERSION_TABLE};
use super::{
    ApiKeyInfo, AuditFilter, AuditRecord, LoginFilter, LoginRecord, PendingDone, PendingOrder, Revoked, ServiceStore, SessionLimits,
    SessionUser, User, Withdrawal, WithdrawalFilter, WITHDRAWAL_COLUMNS,
};

/// Runs the service's pending migrations (one migrator at a time per schema).
pub(crate) fn migrate(pg: &mut Postgres) -> Result<()> {
    let lock = format!("zengzhi-service:{}", pg.schema());
    let mut tx = pg.client().transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock])?;
    tx.batch_execute(VERSION_TABLE)?;
    let version: i32 = match tx.query_opt("SELECT version FROM service_schema_version", &[])? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO service_schema_version (version) VALUES (0)", &[])?;
            0
        }
    };
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(too_new(version, "the PostgreSQL schema"));
    }
    for n in version..MIGRATIONS.len() {
        tx.batch_execute(&migration(n, "BIGSERIAL PRIMARY KEY"))?;
        tx.execute("UPDATE service_schema_version SET version = $1", &[&((n + 1) as i32)])?;
    }
    tx.commit()?;
    Ok(())
}

impl ServiceStore for Postgres {
    fn put_api_key(&mut self, hash: &Hash, scope: &str, label: &str, created_at: &str) -> Result<()> {
        self.client().execute(
            "INSERT INTO api_keys (hash_hex, scope, label, created_at) VALUES ($1, $2, $3, $4)",
            &[&zengzhi_journal::hex(hash), &scope, &label, &created_at],
        )?;
        Ok(())
    }

    fn find_api_key(&mut self, hash: &Hash) -> Result<Option<String>> {
        let row = self.client().query_opt(
            "SELECT scope FROM api_keys WHERE hash_hex = $1 AND revoked = 0",
            &[&zengzhi_journal::hex(hash)],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn audit(&mut self, r: &AuditRecord) -> Result<()> {
        self.client().execute(
            "INSERT INTO audit_log (at, who, action, detail, address, target, before_value, after_value)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[&r.at, &r.who, &r.action, &r.detail, &r.address, &r.target, &r.before, &r.after],
        )?;
        Ok(())
    }

    fn audit_entries(&mut self, f: &AuditFilter<'_>) -> Result<Vec<AuditRecord>> {
        let sql = if f.newest_first {
            "SELECT id, at, who, action, detail, address, target, before_value, after_value FROM audit_log
             WHERE ($1::BIGINT IS NULL OR id < $1) AND ($2::TEXT IS NULL OR who = $2) AND ($3::TEXT IS NULL OR action = $3)
               AND ($4::TEXT IS NULL OR target = $4) AND ($5::TEXT IS NULL OR at >= $5) AND ($6::TEXT IS NULL OR at < $6)
             ORDER BY id DESC LIMIT $7"
        } else {
            "SELECT id, at, who, action, detail, address, target, before_value, after_value FROM audit_log
             WHERE ($1::BIGINT IS NULL OR id > $1) AND ($2::TEXT IS NULL OR who = $2) AND ($3::TEXT IS NULL OR action = $3)
               AND ($4::TEXT IS NULL OR target = $4) AND ($5::TEXT IS NULL OR at >= $5) AND ($6::TEXT IS NULL OR at < $6)
             ORDER BY id LIMIT $7"
        };
        let rows = self
            .client()
            .query(sql, &[&f.after, &f.who, &f.action, &f.target, &f.since, &f.until, &(f.limit as i64)])?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get(0),
                at: r.get(1),
                who: r.get(2),
                action: r.get(3),
                detail: r.get(4),
                address: r.get(5),
                target: r.get(6),
                before: r.get(7),
                after: r.get(8),
            })
            .collect())
    }

    fn api_keys(&mut self) -> Result<Vec<ApiKeyInfo>> {
        let rows = self.client().query(
            "SELECT hash_hex, scope, label, created_at, revoked FROM api_keys ORDER BY created_at, hash_hex",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let hash: String = r.get(0);
                ApiKeyInfo {
                    fingerprint: hash.get(..8).unwrap_or(&hash).to_string(),
                    scope: r.get(1),
                    label: r.get(2),
                    created_at: r.get(3),
                    revoked: r.get::<_, i32>(4) != 0,
                }
            })
            .collect())
    }

    fn api_key_revoke(&mut self, fingerprint: &str) -> Result<Revoked> {
        let prefix = format!("{fingerprint}%");
        let mut tx = self.client().transaction()?;
        let n = tx.query("SELECT hash_hex FROM api_keys WHERE hash_hex LIKE $1 FOR UPDATE", &[&prefix])?.len();
        let out = match n {
            0 => Revoked::NotFound,
            1 => {
                tx.execute("UPDATE api_keys SET revoked = 1 WHERE hash_hex LIKE $1", &[&prefix])?;
                Revoked::Revoked
            }
            _ => Revoked::Ambiguous,
        };
        tx.commit()?;
        Ok(out)
    }

    fn user_insert(&mut self, u: &User) -> Result<bool> {
        let n = self.client().execute(
            "INSERT INTO users (name, role, password_hash, disabled, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO NOTHING",
            &[&u.name, &u.role, &u.password_hash, &i32::from(u.disabled), &u.created_at],
        )?;
        Ok(n == 1)
    }

    fn user_get(&mut self, name: &str) -> Result<Option<User>> {
        let row = self
            .client()
            .query_opt("SELECT name, role, password_hash, disabled, created_at FROM users WHERE name = $1", &[&name])?;
        Ok(row.as_ref().map(user_row))
    }

    fn users(&mut self) -> Result<Vec<User>> {
        let rows = self
            .client()
            .query("SELECT name, role, password_hash, disabled, created_at FROM users ORDER BY name", &[])?;
        Ok(rows.iter().map(user_row).collect())
    }

    fn user_set_disabled(&mut self, name: &str, disabled: bool) -> Result<bool> {
        let mut tx = self.client().transaction()?;
        let n = tx.execute("UPDATE users SET disabled = $2 WHERE name = $1", &[&name, &i32::from(disabled)])?;
        if disabled {
            tx.execute("DELETE FROM sessions WHERE username = $1", &[&name])?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    fn user_set_password(&mut self, name: &str, password_hash: &str) -> Result<bool> {
        let mut tx = self.client().transaction()?;
        let n = tx.execute("UPDATE users SET password_hash = $2 WHERE name = $1", &[&name, &password_hash])?;
        tx.execute("DELETE FROM sessions WHERE username = $1", &[&name])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn session_insert(&mut self, hash: &Hash, username: &str, now_unix: u64) -> Result<()> {
        self.client().execute(
            "INSERT INTO sessions (hash_hex, username, created_unix, seen_unix) VALUES ($1, $2, $3, $3)",
            &[&zengzhi_journal::hex(hash), &username, &(now_unix as i64)],
        )?;
        Ok(())
    }

    fn session_find(&mut self, hash: &Hash, now_unix: u64, limits: SessionLimits) -> Result<Option<SessionUser>> {
        let hex = zengzhi_journal::hex(hash);
        let row = self.client().query_opt(
            "SELECT s.username, u.role, s.created_unix, s.seen_unix FROM sessions s JOIN users u ON u.name = s.username
             WHERE s.hash_hex = $1 AND u.disabled = 0",
            &[&hex],
        )?;
        let Some(row) = row else { return Ok(None) };
        let (username, role): (String, String) = (row.get(0), row.get(1));
        let (created, seen): (i64, i64) = (row.get(2), row.get(3));
        match super::session_verdict(created as u64, seen as u64, now_unix, limits) {
            super::Verdict::Expired => {
                self.client().execute("DELETE FROM sessions WHERE hash_hex = $1", &[&hex])?;
                Ok(None)
            }
            verdict => {
                if verdict == super::Verdict::Touch {
                    self.client().execute(
                        "UPDATE sessions SET seen_unix = $2 WHERE hash_hex = $1",
                        &[&hex, &(now_unix as i64)],
                    )?;
                }
                Ok(Some(SessionUser { username, role }))
            }
        }
    }

    fn session_delete(&mut self, hash: &Hash) -> Result<bool> {
        let n = self.client().execute("DELETE FROM sessions WHERE hash_hex = $1", &[&zengzhi_journal::hex(hash)])?;
        Ok(n == 1)
    }

    fn login_record(&mut self, r: &LoginRecord) -> Result<()> {
        self.client().execute(
            "INSERT INTO login_log (at, username, address, success, reason) VALUES ($1, $2, $3, $4, $5)",
            &[&r.at, &r.username, &r.address, &i32::from(r.success), &r.reason],
        )?;
        Ok(())
    }

    fn logins(&mut self, f: &LoginFilter<'_>) -> Result<Vec<LoginRecord>> {
        let sql = if f.newest_first {
            "SELECT id, at, username, address, success, reason FROM login_log
             WHERE ($1::BIGINT IS NULL OR id < $1) AND ($2::TEXT IS NULL OR username = $2) AND ($3::INT IS NULL OR success = $3)
               AND ($4::TEXT IS NULL OR at >= $4) AND ($5::TEXT IS NULL OR at < $5)
             ORDER BY id DESC LIMIT $6"
        } else {
            "SELECT id, at, username, address, success, reason FROM login_log
             WHERE ($1::BIGINT IS NULL OR id > $1) AND ($2::TEXT IS NULL OR username = $2) AND ($3::INT IS NULL OR success = $3)
               AND ($4::TEXT IS NULL OR at >= $4) AND ($5::TEXT IS NULL OR at < $5)
             ORDER BY id LIMIT $6"
        };
        let success = f.success.map(i32::from);
        let rows = self
            .client()
            .query(sql, &[&f.after, &f.username, &success, &f.since, &f.until, &(f.limit as i64)])?;
        Ok(rows
            .iter()
            .map(|r| LoginRecord {
                id: r.get(0),
                at: r.get(1),
                username: r.get(2),
                address: r.get(3),
                success: r.get::<_, i32>(4) != 0,
                reason: r.get(5),
            })
            .collect())
    }

    fn setting(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self.client().query_opt("SELECT value FROM settings WHERE name = $1", &[&name])?;
        row.map(|r| super::unhex(&r.get::<_, String>(0), name)).transpose()
    }

    fn setting_or_insert(&mut self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let hex = super::hex_bytes(value);
        self.client().execute(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &hex],
        )?;
        Ok(self.setting(name)?.unwrap_or_default())
    }

    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let hex = super::hex_bytes(value);
        self.client().execute(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &hex],
        )?;
        Ok(())
    }

    fn pending_insert(&mut self, o: &PendingOrder) -> Result<bool> {
        let n = self.client().execute(
            "INSERT INTO pending_orders (order_id, command, received_at, settle_after_unix, status) VALUES ($1, $2, $3, $4, 'pending')
             ON CONFLICT (order_id) DO NOTHING",
            &[&o.order_id, &o.command, &o.received_at, &(o.settle_after_unix as i64)],
        )?;
        Ok(n == 1)
    }

    fn pending_get(&mut self, order_id: &str) -> Result<Option<PendingOrder>> {
        let row = self.client().query_opt(
            "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE order_id = $1",
            &[&order_id],
        )?;
        Ok(row.as_ref().map(pending_row))
    }

    fn pending_take_due(&mut self, now_unix: u64, limit: usize) -> Result<Vec<PendingOrder>> {
        let rows = self.client().query(
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
        self.client().execute(
            "UPDATE pending_orders SET status = $2, seq = $3, error = $4 WHERE order_id = $1",
            &[&order_id, &status, &seq.map(|s| s as i64), &error],
        )?;
        Ok(())
    }

    fn pending_finish_all(&mut self, done: &[PendingDone]) -> Result<()> {
        let ids: Vec<&str> = done.iter().map(|d| d.order_id.as_str()).collect();
        let statuses: Vec<&str> = done.iter().map(|d| d.status).collect();
        let seqs: Vec<Option<i64>> = done.iter().map(|d| d.seq.map(|s| s as i64)).collect();
        let errors: Vec<Option<&str>> = done.iter().map(|d| d.error).collect();
        // One statement, one commit.
        self.client().execute(
            "UPDATE pending_orders AS p SET status = d.status, seq = d.seq, error = d.error
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[]) AS d (order_id, status, seq, error)
             WHERE p.order_id = d.order_id",
            &[&ids, &statuses, &seqs, &errors],
        )?;
        Ok(())
    }

    fn pending_refund(&mut self, order_id: &str) -> Result<bool> {
        let n = self.client().execute(
            "UPDATE pending_orders SET status = 'refunded' WHERE order_id = $1 AND status = 'pending'",
            &[&order_id],
        )?;
        Ok(n == 1)
    }

    fn pending_settling(&mut self) -> Result<Vec<PendingOrder>> {
        let rows = self.client().query(
            "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE status = 'settling'",
            &[],
        )?;
        Ok(rows.iter().map(pending_row).collect())
    }

    fn withdrawal_insert(&mut self, w: &Withdrawal) -> Result<bool> {
        let n = self.client().execute(
            &format!("INSERT INTO withdrawals ({WITHDRAWAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"),
            &[&w.id, &w.member, &w.amount_fen, &w.status, &w.requested_at, &w.decided_at, &w.decided_by, &w.reason, &w.fee_fen,
              &w.seq.map(|s| s as i64), &w.head_before.map(|s| s as i64)],
        )?;
        Ok(n == 1)
    }

    fn withdrawal_get(&mut self, id: &str) -> Result<Option<Withdrawal>> {
        let row =
            self.client().query_opt(&format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = $1"), &[&id])?;
        Ok(row.as_ref().map(withdrawal_row))
    }

    fn withdrawals(&mut self, f: &WithdrawalFilter<'_>) -> Result<Vec<Withdrawal>> {
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE ($1::TEXT IS NULL OR status = $1) AND ($2::TEXT IS NULL OR member = $2)
             AND ($3::TEXT IS NULL OR id > $3) ORDER BY id LIMIT $4"
        );
        let rows = self.client().query(&sql, &[&f.status, &f.member, &f.after, &(f.limit as i64)])?;
        Ok(rows.iter().map(withdrawal_row).collect())
    }

    fn withdrawals_reserved(&mut self, member: &str) -> Result<i64> {
        let row = self.client().query_one(
            "SELECT COALESCE(SUM(amount_fen), 0)::BIGINT FROM withdrawals WHERE member = $1 AND status IN ('pending', 'paying')",
            &[&member],
        )?;
        Ok(row.get(0))
    }

    fn withdrawal_update(&mut self, w: &Withdrawal, from: &str) -> Result<bool> {
        let n = self.client().execute(
            "UPDATE withdrawals SET status = $2, decided_at = $3, decided_by = $4, reason = $5, fee_fen = $6, seq = $7,
             head_before = $8 WHERE id = $1 AND status = $9",
            &[
                &w.id,
                &w.status,
                &w.decided_at,
                &w.decided_by,
                &w.reason,
                &w.fee_fen,
                &w.seq.map(|s| s as i64),
                &w.head_before.map(|s| s as i64),
                &from,
            ],
        )?;
        Ok(n == 1)
    }
}

fn withdrawal_row(r: &::postgres::Row) -> Withdrawal {
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

pub(super) fn pending_row(r: &::postgres::Row) -> PendingOrder {
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

fn user_row(r: &::postgres::Row) -> User {
    User {
        name: r.get(0),
        role: r.get(1),
        password_hash: r.get(2),
        disabled: r.get::<_, i32>(3) != 0,
        created_at: r.get(4),
    }
}
