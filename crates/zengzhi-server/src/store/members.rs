//! Members' profiles for the console: when each member joined (the journal entry of its
//! `register_member`, copied here by [`MemberStore::member_joins_record`] as the console catches
//! up with the journal, so it survives restarts and replays) and the store whose QR code it
//! registered through (written when `POST /v1/members` names a store; the engine keeps only
//! the referrer, the store's owner).

use rusqlite::params_from_iter;
use zengzhi_journal::postgres::Postgres;
use zengzhi_journal::sqlite::Sqlite;
use zengzhi_journal::Result;

use super::PendingOrder;

/// A member's join and store binding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberProfile {
    pub member: String,
    /// The journal entry of the registration (none if not caught up yet).
    pub seq: Option<u64>,
    pub at: Option<String>,
    pub store: Option<String>,
}

/// One registration found in the journal: member, seq, at, at as Unix seconds.
pub type Join = (String, u64, String, i64);

/// The members' profiles table.
pub trait MemberStore: Send {
    /// Records registrations (a member already recorded keeps its row but gets these times).
    fn member_joins_record(&mut self, joins: &[Join]) -> Result<()>;
    /// Binds members to the stores they registered through.
    fn member_stores_bind(&mut self, bindings: &[(String, String)]) -> Result<()>;
    /// The profiles of these members (those with a row).
    fn member_profiles(&mut self, members: &[String]) -> Result<Vec<MemberProfile>>;
    /// Members who joined in `[from_unix, to_unix)`.
    fn members_joined_between(&mut self, from_unix: i64, to_unix: i64) -> Result<Vec<String>>;
    /// Members bound to this store.
    fn members_of_store(&mut self, store: &str) -> Result<Vec<String>>;
    /// The orders of the settlement delay not settled (pending, settling, refunded, rejected).
    fn held_orders(&mut self) -> Result<Vec<PendingOrder>>;
}

const HELD_SQL: &str = "SELECT order_id, command, received_at, settle_after_unix, status, seq, error FROM pending_orders
     WHERE status <> 'settled'";

const JOIN_SQL: &str = "INSERT INTO member_profiles (member, seq, at, at_unix) VALUES ({1}, {2}, {3}, {4})
     ON CONFLICT (member) DO UPDATE SET seq = excluded.seq, at = excluded.at, at_unix = excluded.at_unix";
const BIND_SQL: &str = "INSERT INTO member_profiles (member, store) VALUES ({1}, {2})
     ON CONFLICT (member) DO UPDATE SET store = excluded.store";

fn spell(sql: &str, mark: char) -> String {
    (1..=4).fold(sql.to_string(), |s, n| s.replace(&format!("{{{n}}}"), &format!("{mark}{n}")))
}

impl MemberStore for Sqlite {
    fn member_joins_record(&mut self, joins: &[Join]) -> Result<()> {
        let tx = self.connection().transaction()?;
        {
            let mut q = tx.prepare_cached(&spell(JOIN_SQL, '?'))?;
            for (m, seq, at, unix) in joins {
                q.execute(rusqlite::params![m, *seq as i64, at, unix])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn member_stores_bind(&mut self, bindings: &[(String, String)]) -> Result<()> {
        let tx = self.connection().transaction()?;
        {
            let mut q = tx.prepare_cached(&spell(BIND_SQL, '?'))?;
            for (m, s) in bindings {
                q.execute(rusqlite::params![m, s])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn member_profiles(&mut self, members: &[String]) -> Result<Vec<MemberProfile>> {
        let mut out = Vec::with_capacity(members.len());
        for chunk in members.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut q = self
                .connection()
                .prepare(&format!("SELECT member, seq, at, store FROM member_profiles WHERE member IN ({marks})"))?;
            let rows = q.query_map(params_from_iter(chunk.iter()), |r| {
                Ok(MemberProfile {
                    member: r.get(0)?,
                    seq: r.get::<_, Option<i64>>(1)?.map(|s| s as u64),
                    at: r.get(2)?,
                    store: r.get(3)?,
                })
            })?;
            for r in rows {
                out.push(r?);
            }
        }
        Ok(out)
    }

    fn members_joined_between(&mut self, from_unix: i64, to_unix: i64) -> Result<Vec<String>> {
        let mut q = self
            .connection()
            .prepare_cached("SELECT member FROM member_profiles WHERE at_unix >= ?1 AND at_unix < ?2")?;
        let rows = q.query_map([from_unix, to_unix], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    fn members_of_store(&mut self, store: &str) -> Result<Vec<String>> {
        let mut q = self.connection().prepare_cached("SELECT member FROM member_profiles WHERE store = ?1")?;
        let rows = q.query_map([store], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    fn held_orders(&mut self) -> Result<Vec<PendingOrder>> {
        let mut q = self.connection().prepare_cached(HELD_SQL)?;
        let rows = q.query_map([], super::sqlite::pending_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl MemberStore for Postgres {
    fn member_joins_record(&mut self, joins: &[Join]) -> Result<()> {
        let mut tx = self.client().transaction()?;
        let q = tx.prepare(&spell(JOIN_SQL, '$'))?;
        for (m, seq, at, unix) in joins {
            tx.execute(&q, &[m, &(*seq as i64), at, unix])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn member_stores_bind(&mut self, bindings: &[(String, String)]) -> Result<()> {
        let mut tx = self.client().transaction()?;
        let q = tx.prepare(&spell(BIND_SQL, '$'))?;
        for (m, s) in bindings {
            tx.execute(&q, &[m, s])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn member_profiles(&mut self, members: &[String]) -> Result<Vec<MemberProfile>> {
        let rows = self
            .client()
            .query("SELECT member, seq, at, store FROM member_profiles WHERE member = ANY($1)", &[&members])?;
        Ok(rows
            .iter()
            .map(|r| MemberProfile {
                member: r.get(0),
                seq: r.get::<_, Option<i64>>(1).map(|s| s as u64),
                at: r.get(2),
                store: r.get(3),
            })
            .collect())
    }

    fn members_joined_between(&mut self, from_unix: i64, to_unix: i64) -> Result<Vec<String>> {
        let rows = self
            .client()
            .query("SELECT member FROM member_profiles WHERE at_unix >= $1 AND at_unix < $2", &[&from_unix, &to_unix])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn members_of_store(&mut self, store: &str) -> Result<Vec<String>> {
        let rows = self.client().query("SELECT member FROM member_profiles WHERE store = $1", &[&store])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn held_orders(&mut self) -> Result<Vec<PendingOrder>> {
        let rows = self.client().query(HELD_SQL, &[])?;
        Ok(rows.iter().map(super::postgres::pending_row).collect())
    }
}
