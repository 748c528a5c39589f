//! The service's tables on SQLite (in the journal's file, `zengzhi.db`).

use rusqlite::{params, OptionalExtension};
use zengzhi_journal::sqlite::Sqlite;
use zengzhi_journal::{Hash, Result};

use super::schema::{migration, too_new, MIGRATIONS, VERSION_TABLE};
use super::{
    ApiKeyInfo, AuditFilter, AuditRecord, LoginFilter, LoginRecord, PendingDone, PendingOrder, Revoked, ServiceStore, SessionLimits,
    SessionUser, User, Withdrawal, WithdrawalFilter, WITHDRAWAL_COLUMNS,
};

/// Runs the service's pending migrations (in a write transaction, so two processes opening a
/// store at once cannot both run one).
pub(crate) fn migrate(db: &mut Sqlite) -> Result<()> {
    let tx = db.connection().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(VERSION_TABLE)?;
    let version: Option<i64> =
        tx.query_row("SELECT version FROM service_schema_version", [], |r| r.get(0)).optional()?;
    let version = match version {
        Some(v) => usize::try_from(v).unwrap_or(usize::MAX),
        None => {
            tx.execute("INSERT INTO service_schema_version (version) VALUES (0)", [])?;
            0
        }
    };
    if version > MIGRATIONS.len() {
        return Err(too_new(version, "the SQLite store"));
    }
    for n in version..MIGRATIONS.len() {
        tx.execute_batch(&migration(n, "INTEGER PRIMARY KEY"))?;
        tx.execute("UPDATE service_schema_version SET version = ?1", [(n + 1) as i64])?;
    }
    tx.commit()?;
    Ok(())
}

impl ServiceStore for Sqlite {
    fn put_api_key(&mut self, hash: &Hash, scope: &str, label: &str, created_at: &str) -> Result<()> {
        self.connection().execute(
            "INSERT INTO api_keys (hash_hex, scope, label, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![zengzhi_journal::hex(hash), scope, label, created_at],
        )?;
        Ok(())
    }

    fn find_api_key(&mut self, hash: &Hash) -> Result<Option<String>> {
        Ok(self
            .connection()
            .query_row(
                "SELECT scope FROM api_keys WHERE hash_hex = ?1 AND revoked = 0",
                [zengzhi_journal::hex(hash)],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn audit(&mut self, r: &AuditRecord) -> Result<()> {
        self.connection().execute(
            "INSERT INTO audit_log (at, who, action, detail, address, target, before_value, after_value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![r.at, r.who, r.action, r.detail, r.address, r.target, r.before, r.after],
        )?;
        Ok(())
    }

    fn audit_entries(&mut self, f: &AuditFilter<'_>) -> Result<Vec<AuditRecord>> {
        let sql = if f.newest_first {
            "SELECT id, at, who, action, detail, address, target, before_value, after_value FROM audit_log
             WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR who = ?2) AND (?3 IS NULL OR action = ?3)
               AND (?4 IS NULL OR target = ?4) AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at < ?6)
             ORDER BY id DESC LIMIT ?7"
        } else {
            "SELECT id, at, who, action, detail, address, target, before_value, after_value FROM audit_log
             WHERE (?1 IS NULL OR id > ?1) AND (?2 IS NULL OR who = ?2) AND (?3 IS NULL OR action = ?3)
               AND (?4 IS NULL OR target = ?4) AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at < ?6)
             ORDER BY id LIMIT ?7"
        };
        let mut q = self.connection().prepare_cached(sql)?;
        let rows = q.query_map(params![f.after, f.who, f.action, f.target, f.since, f.until, f.limit as i64], |r| {
            Ok(AuditRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                who: r.get(2)?,
                action: r.get(3)?,
                detail: r.get(4)?,
                address: r.get(5)?,
                target: r.get(6)?,
                before: r.get(7)?,
                after: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn api_keys(&mut self) -> Result<Vec<ApiKeyInfo>> {
        let mut q = self.connection().prepare_cached(
            "SELECT hash_hex, scope, label, created_at, revoked FROM api_keys ORDER BY created_at, hash_hex",
        )?;
        let rows = q.query_map([], |r| {
            let hash: String = r.get(0)?;
            Ok(ApiKeyInfo {
                fingerprint: hash.get(..8).unwrap_or(&hash).to_string(),
                scope: r.get(1)?,
                label: r.get(2)?,
                created_at: r.get(3)?,
                revoked: r.get::<_, i64>(4)? != 0,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn api_key_revoke(&mut self, fingerprint: &str) -> Result<Revoked> {
        let tx = self.connection().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let prefix = format!("{fingerprint}%");
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM api_keys WHERE hash_hex LIKE ?1", [&prefix], |r| r.get(0))?;
        let out = match n {
            0 => Revoked::NotFound,
            1 => {
                tx.execute("UPDATE api_keys SET revoked = 1 WHERE hash_hex LIKE ?1", [&prefix])?;
                Revoked::Revoked
            }
            _ => Revoked::Ambiguous,
        };
        tx.commit()?;
        Ok(out)
    }

    fn user_insert(&mut self, u: &User) -> Result<bool> {
        let n = self.connection().execute(
            "INSERT OR IGNORE INTO users (name, role, password_hash, disabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![u.name, u.role, u.password_hash, i64::from(u.disabled), u.created_at],
        )?;
        Ok(n == 1)
    }

    fn user_get(&mut self, name: &str) -> Result<Option<User>> {
        Ok(self
            .connection()
            .query_row(
                "SELECT name, role, password_hash, disabled, created_at FROM users WHERE name = ?1",
                [name],
                user_row,
            )
            .optional()?)
    }

    fn users(&mut self) -> Result<Vec<User>> {
        let mut q = self
            .connection()
            .prepare_cached("SELECT name, role, password_hash, disabled, created_at FROM users ORDER BY name")?;
        let rows = q.query_map([], user_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn user_set_disabled(&mut self, name: &str, disabled: bool) -> Result<bool> {
        let tx = self.connection().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = tx.execute("UPDATE users SET disabled = ?2 WHERE name = ?1", params![name, i64::from(disabled)])?;
        if disabled {
            tx.execute("DELETE FROM sessions WHERE username = ?1", [name])?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    fn user_set_password(&mut self, name: &str, password_hash: &str) -> Result<bool> {
        let tx = self.connection().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = tx.execute("UPDATE users SET password_hash = ?2 WHERE name = ?1", params![name, password_hash])?;
        tx.execute("DELETE FROM sessions WHERE username = ?1", [name])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn session_insert(&mut self, hash: &Hash, username: &str, now_unix: u64) -> Result<()> {
        self.connection().execute(
            "INSERT INTO sessions (hash_hex, username, created_unix, seen_unix) VALUES (?1, ?2, ?3, ?3)",
            params![zengzhi_journal::hex(hash), username, now_unix as i64],
        )?;
        Ok(())
    }

    fn session_find(&mut self, hash: &Hash, now_unix: u64, limits: SessionLimits) -> Result<Option<SessionUser>> {
        let hex = zengzhi_journal::hex(hash);
        let row: Option<(String, String, i64, i64)> = self
            .connection()
            .query_row(
                "SELECT s.username, u.role, s.created_unix, s.seen_unix FROM sessions s JOIN users u ON u.name = s.username
                 WHERE s.hash_hex = ?1 AND u.disabled = 0",
                [&hex],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((username, role, created, seen)) = row else { return Ok(None) };
        match super::session_verdict(created as u64, seen as u64, now_unix, limits) {
            super::Verdict::Expired => {
                self.connection().execute("DELETE FROM sessions WHERE hash_hex = ?1", [&hex])?;
                Ok(None)
            }
            verdict => {
                if verdict == super::Verdict::Touch {
                    self.connection().execute(
                        "UPDATE sessions SET seen_unix = ?2 WHERE hash_hex = ?1",
                        params![hex, now_unix as i64],
                    )?;
                }
                Ok(Some(SessionUser { username, role }))
            }
        }
    }

    fn session_delete(&mut self, hash: &Hash) -> Result<bool> {
        let n = self.connection().execute("DELETE FROM sessions WHERE hash_hex = ?1", [zengzhi_journal::hex(hash)])?;
        Ok(n == 1)
    }

    fn login_record(&mut self, r: &LoginRecord) -> Result<()> {
        self.connection().execute(
            "INSERT INTO login_log (at, username, address, success, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.at, r.username, r.address, i64::from(r.success), r.reason],
        )?;
        Ok(())
    }

    fn logins(&mut self, f: &LoginFilter<'_>) -> Result<Vec<LoginRecord>> {
        let sql = if f.newest_first {
            "SELECT id, at, username, address, success, reason FROM login_log
             WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR username = ?2) AND (?3 IS NULL OR success = ?3)
               AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at < ?5)
             ORDER BY id DESC LIMIT ?6"
        } else {
            "SELECT id, at, username, address, success, reason FROM login_log
             WHERE (?1 IS NULL OR id > ?1) AND (?2 IS NULL OR username = ?2) AND (?3 IS NULL OR success = ?3)
               AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at < ?5)
             ORDER BY id LIMIT ?6"
        };
        let mut q = self.connection().prepare_cached(sql)?;
        let success = f.success.map(i64::from);
        let rows = q.query_map(params![f.after, f.username, success, f.since, f.until, f.limit as i64], |r| {
            Ok(LoginRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                username: r.get(2)?,
                address: r.get(3)?,
                success: r.get::<_, i64>(4)? != 0,
                reason: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn setting(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let v: Option<String> = self
            .connection()
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        v.map(|hex| super::unhex(&hex, name)).transpose()
    }

    fn setting_or_insert(&mut self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let hex = super::hex_bytes(value);
        self.connection()
            .execute("INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)", params![name, hex])?;
        Ok(self.setting(name)?.unwrap_or_default())
    }

    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let hex = super::hex_bytes(value);
        self.connection().execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, hex],
        )?;
        Ok(())
    }

    fn pending_insert(&mut self, o: &PendingOrder) -> Result<bool> {
        let n = self.connection().execute(
            "INSERT OR IGNORE INTO pending_orders (order_id, command, received_at, settle_after_unix, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
            params![o.order_id, o.command, o.received_at, o.settle_after_unix as i64],
        )?;
        Ok(n == 1)
    }

    fn pending_get(&mut self, order_id: &str) -> Result<Option<PendingOrder>> {
        Ok(self
            .connection()
            .query_row(
                "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE order_id = ?1",
                [order_id],
                pending_row,
            )
            .optional()?)
    }

    fn pending_take_due(&mut self, now_unix: u64, limit: usize) -> Result<Vec<PendingOrder>> {
        let tx = self.connection().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows = {
            let mut q = tx.prepare_cached(
                "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders
                 WHERE status = 'pending' AND settle_after_unix <= ?1 ORDER BY received_at, rowid LIMIT ?2",
            )?;
            let rows = q
                .query_map(params![now_unix as i64, limit as i64], pending_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        for r in &rows {
            tx.execute("UPDATE pending_orders SET status = 'settling' WHERE order_id = ?1", [&r.order_id])?;
        }
        tx.commit()?;
        Ok(rows.into_iter().map(|r| PendingOrder { status: "settling".into(), ..r }).collect())
    }

    fn pending_finish(&mut self, order_id: &str, status: &str, seq: Option<u64>, error: Option<&str>) -> Result<()> {
        self.connection().execute(
            "UPDATE pending_orders SET status = ?2, seq = ?3, error = ?4 WHERE order_id = ?1",
            params![order_id, status, seq.map(|s| s as i64), error],
        )?;
        Ok(())
    }

    fn pending_finish_all(&mut self, done: &[PendingDone]) -> Result<()> {
        let tx = self.connection().transaction()?;
        {
            let mut update =
                tx.prepare_cached("UPDATE pending_orders SET status = ?2, seq = ?3, error = ?4 WHERE order_id = ?1")?;
            for d in done {
                update.execute(params![d.order_id, d.status, d.seq.map(|s| s as i64), d.error])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn pending_refund(&mut self, order_id: &str) -> Result<bool> {
        let n = self.connection().execute(
            "UPDATE pending_orders SET status = 'refunded' WHERE order_id = ?1 AND status = 'pending'",
            [order_id],
        )?;
        Ok(n == 1)
    }

    fn pending_settling(&mut self) -> Result<Vec<PendingOrder>> {
        let mut q = self.connection().prepare(
            "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders WHERE status = 'settling'",
        )?;
        let rows = q.query_map([], pending_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn withdrawal_insert(&mut self, w: &Withdrawal) -> Result<bool> {
        let n = self.connection().execute(
            &format!("INSERT OR IGNORE INTO withdrawals ({WITHDRAWAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![w.id, w.member, w.amount_fen, w.status, w.requested_at, w.decided_at, w.decided_by, w.reason, w.fee_fen,
                    w.seq.map(|s| s as i64), w.head_before.map(|s| s as i64)],
        )?;
        Ok(n == 1)
    }

    fn withdrawal_get(&mut self, id: &str) -> Result<Option<Withdrawal>> {
        let sql = format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = ?1");
        Ok(self.connection().query_row(&sql, [id], withdrawal_row).optional()?)
    }

    fn withdrawals(&mut self, f: &WithdrawalFilter<'_>) -> Result<Vec<Withdrawal>> {
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR member = ?2)
             AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
        );
        let mut q = self.connection().prepare_cached(&sql)?;
        let rows = q.query_map(params![f.status, f.member, f.after, f.limit as i64], withdrawal_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn withdrawals_reserved(&mut self, member: &str) -> Result<i64> {
        Ok(self.connection().query_row(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM withdrawals WHERE member = ?1 AND status IN ('pending', 'paying')",
            [member],
            |r| r.get(0),
        )?)
    }

    fn withdrawal_update(&mut self, w: &Withdrawal, from: &str) -> Result<bool> {
        let n = self.connection().execute(
            "UPDATE withdrawals SET status = ?2, decided_at = ?3, decided_by = ?4, reason = ?5, fee_fen = ?6, seq = ?7,
             head_before = ?8 WHERE id = ?1 AND status = ?9",
            params![
                w.id,
                w.status,
                w.decided_at,
                w.decided_by,
                w.reason,
                w.fee_fen,
                w.seq.map(|s| s as i64),
                w.head_before.map(|s| s as i64),
                from
            ],
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

pub(super) fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingOrder> {
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

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        name: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        disabled: r.get::<_, i64>(3)? != 0,
        created_at: r.get(4)?,
    })
}
