//! Shared fixtures of the journal's integration tests.
//!
//! - [`Store`]: one fresh store per test, SQLite (a file in a temp dir) or PostgreSQL (a schema
//!   of its own on a real server), that can be opened as a [`Backend`] as often as a test
//!   likes (a restart reopens the same file or schema), and reached with raw SQL through the
//!   backend's own kind of connection, to damage it the way a disk, an operator or an attacker
//!   would.
//! - [`both_backends!`]: writes each behavioural test once, as `fn name(store: &Store)`, and
//!   instantiates it as `sqlite::name` and `postgres::name`.
//! - The PostgreSQL server (`zengzhi_testkit::pg`): `ZENGZHI_TEST_DATABASE_URL`, else the local default; when neither
//!   answers, a throwaway cluster started from the installed binaries. When that fails too the
//!   PostgreSQL tests panic: they are never skipped silently.
//! - A deterministic, realistic command script with the engine's own answers, and small helpers
//!   (owned commands from lines, state digests, export + replay).

#![allow(dead_code, unused_macros, unused_imports)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use zengzhi_core::command::Command;
use zengzhi_core::num::{Fen, Units};
use zengzhi_core::workload::SplitMix64;
use zengzhi_core::{Applied, Engine, Rejection, Rules};
use zengzhi_journal::postgres::Postgres;
use zengzhi_journal::sqlite::Sqlite;
use zengzhi_journal::{recovery, Backend, Hash};

pub use zengzhi_testkit::pg::{url as pg_url, DEFAULT_DATABASE_URL};
pub use zengzhi_testkit::{cmd, owned, state_json};

// ---- stores ---------------------------------------------------------------------------------

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One test's store. Dropping it removes it (the temp dir, or the schema, best effort).
pub enum Store {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { url: String, schema: String },
}

/// A value read with [`Store::query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Value::Text(v) => v,
            other => panic!("expected text, got {other:?}"),
        }
    }

    pub fn blob(&self) -> &[u8] {
        match self {
            Value::Blob(v) => v,
            other => panic!("expected bytes, got {other:?}"),
        }
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// A fresh SQLite file in a new temp dir.
    pub fn sqlite(_label: &str) -> Store {
        let dir = tempfile::Builder::new().prefix("zengzhi-journal-test-").tempdir().expect("a temp dir");
        let path = dir.path().join("zengzhi.db");
        Store::Sqlite { _dir: dir, path }
    }

    /// A fresh schema `t_<label>_<pid>_<n>` on the test server.
    pub fn postgres(label: &str) -> Store {
        let url = pg_url().to_string();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let label: String = label
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(36)
            .collect();
        let schema = format!("t_{label}_{}_{n}", std::process::id());
        // Left over from an earlier run with the same pid: start clean.
        let _ = Postgres::drop_schema(&url, &schema);
        Store::Postgres { url, schema }
    }

    /// Another fresh store of the same kind.
    pub fn fresh(&self, label: &str) -> Store {
        match self {
            Store::Sqlite { .. } => Store::sqlite(label),
            Store::Postgres { .. } => Store::postgres(label),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Store::Sqlite { .. } => Kind::Sqlite,
            Store::Postgres { .. } => Kind::Postgres,
        }
    }

    /// Opens the store, or says why not.
    pub fn try_open(&self) -> zengzhi_journal::Result<Box<dyn Backend>> {
        Ok(match self {
            Store::Sqlite { path, .. } => Box::new(Sqlite::open(path)?),
            Store::Postgres { url, schema } => Box::new(Postgres::connect_schema(url, schema)?),
        })
    }

    /// Opens the store (creating its tables the first time).
    pub fn open(&self) -> Box<dyn Backend> {
        match self {
            Store::Sqlite { path, .. } => {
                Box::new(Sqlite::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())))
            }
            Store::Postgres { url, schema } => Box::new(
                Postgres::connect_schema(url, schema)
                    .unwrap_or_else(|e| panic!("connect to schema {schema} at {url}: {e}")),
            ),
        }
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Store::Sqlite { path, .. } => Some(path),
            Store::Postgres { .. } => None,
        }
    }

    /// Runs SQL statements on the store's own database, outside the backend (for SQLite: the
    /// journal's file with the query file attached as `q`, as the backend has it).
    pub fn exec(&self, sql: &str) {
        match self {
            Store::Sqlite { path, .. } => {
                let conn = sqlite_conn(path);
                conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
                conn.execute_batch(sql).unwrap_or_else(|e| panic!("SQLite: {e}\n{sql}"));
            }
            Store::Postgres { .. } => {
                self.pg_client().batch_execute(sql).unwrap_or_else(|e| panic!("PostgreSQL: {e}\n{sql}"));
            }
        }
    }

    /// Runs a query on the store's own database and returns its rows. Integers, text, bytes
    /// and NULL only: cast sums with `CAST(... AS BIGINT)` (PostgreSQL's SUM of BIGINT is NUMERIC).
    pub fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        match self {
            Store::Sqlite { path, .. } => {
                let conn = sqlite_conn(path);
                let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("SQLite: {e}\n{sql}"));
                let n = stmt.column_count();
                let rows = stmt
                    .query_map([], |row| {
                        (0..n)
                            .map(|i| {
                                Ok(match row.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => Value::Null,
                                    rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        Value::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                    rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                                    rusqlite::types::ValueRef::Real(r) => panic!("unexpected REAL {r} in {sql}"),
                                })
                            })
                            .collect::<rusqlite::Result<Vec<Value>>>()
                    })
                    .unwrap_or_else(|e| panic!("SQLite: {e}\n{sql}"));
                rows.collect::<rusqlite::Result<Vec<_>>>().unwrap_or_else(|e| panic!("SQLite: {e}\n{sql}"))
            }
            Store::Postgres { .. } => {
                use postgres::types::Type;
                let rows = self.pg_client().query(sql, &[]).unwrap_or_else(|e| panic!("PostgreSQL: {e}\n{sql}"));
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| {
                                let t = row.columns()[i].type_().clone();
                                let v = if t == Type::INT8 {
                                    row.get::<_, Option<i64>>(i).map(Value::Int)
                                } else if t == Type::INT4 {
                                    row.get::<_, Option<i32>>(i).map(|v| Value::Int(v.into()))
                                } else if t == Type::INT2 {
                                    row.get::<_, Option<i16>>(i).map(|v| Value::Int(v.into()))
                                } else if t == Type::TEXT || t == Type::VARCHAR || t == Type::NAME {
                                    row.get::<_, Option<String>>(i).map(Value::Text)
                                } else if t == Type::BYTEA {
                                    row.get::<_, Option<Vec<u8>>>(i).map(Value::Blob)
                                } else {
                                    panic!("unexpected column type {t} in {sql} (cast it to BIGINT or TEXT)")
                                };
                                v.unwrap_or(Value::Null)
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// The single integer of a one-row, one-column query.
    pub fn query_int(&self, sql: &str) -> i64 {
        let rows = self.query(sql);
        assert_eq!(rows.len(), 1, "one row expected from {sql}");
        rows[0][0].int()
    }

    /// A byte-string literal in this store's SQL dialect.
    pub fn blob_literal(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self {
            Store::Sqlite { .. } => format!("X'{hex}'"),
            Store::Postgres { .. } => format!("decode('{hex}', 'hex')"),
        }
    }

    fn pg_client(&self) -> postgres::Client {
        let Store::Postgres { url, schema } = self else { unreachable!("PostgreSQL only") };
        let mut client =
            postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        client.batch_execute(&format!("SET search_path TO {schema}")).expect("set search_path");
        client
    }
}

/// A text literal (both dialects: single quotes doubled).
pub fn text_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Postgres { url, schema } = self {
            // Best effort: a failed test must not hide its own message behind this one.
            let _ = Postgres::drop_schema(url, schema);
        }
    }
}

/// Instantiates each `fn name(store: &Store)` of the invoking file as `sqlite::name` and
/// `postgres::name`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let store = crate::common::Store::sqlite(stringify!($name));
                    super::$name(&store);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let store = crate::common::Store::postgres(stringify!($name));
                    super::$name(&store);
                }
            )*
        }
    };
}

// ---- commands and states --------------------------------------------------------------------

pub fn digest(engine: &Engine) -> Hash {
    recovery::state_digest(engine)
}

/// The journal as replay lines, and the engine that replaying them on default rules gives
/// (asserting that every exported line is accepted again).
pub fn export_and_replay(backend: &mut dyn Backend) -> (String, Engine) {
    let mut out = Vec::new();
    let n = recovery::export(backend, &mut out).expect("export");
    let text = String::from_utf8(out).expect("export is UTF-8");
    assert_eq!(text.lines().count() as u64, n, "export counted its lines");
    let replayed = zengzhi_core::replay::replay(Engine::new(Rules::default()), text.as_bytes(), true, |_| {})
        .unwrap_or_else(|b| panic!("an invariant broke replaying the export at line {}: {:?}", b.line, b.violation));
    for (n, r) in replayed.results.iter().enumerate() {
        assert!(
            r.is_ok(),
            "exported line {} is rejected on replay ({r:?}): {}",
            n + 1,
            text.lines().nth(n).unwrap_or("")
        );
    }
    (text, replayed.engine)
}

/// `2026-03-01T15:50:00Z` plus `seconds` (crosses midnight Beijing time after 10 minutes).
pub fn at_plus(seconds: i64) -> String {
    at_plus_in(seconds, 0)
}

/// The same instant as [`at_plus`], written with a UTC offset of `offset_minutes`.
pub fn at_plus_in(seconds: i64, offset_minutes: i32) -> String {
    let offset = time::UtcOffset::from_whole_seconds(offset_minutes * 60).expect("a valid offset");
    let t = time::OffsetDateTime::from_unix_timestamp(1_772_380_200 + seconds).expect("a valid time").to_offset(offset);
    t.format(&time::format_description::well_known::Rfc3339).expect("formats")
}

// ---- a realistic script ---------------------------------------------------------------------

/// A deterministic stream of commands with the answers of a reference engine that applied them
/// in the same order.
pub struct Script {
    pub commands: Vec<(Command<'static>, Option<String>)>,
    /// The reference engine's answer to each command.
    pub expected: Vec<Result<Applied, Rejection>>,
    /// For the commands written to be rejected: their index and the code they must get.
    pub must_reject: Vec<(usize, Rejection)>,
    /// The reference engine after all of them.
    pub engine: Engine,
}

impl Script {
    pub fn accepted(&self) -> usize {
        self.expected.iter().filter(|r| r.is_ok()).count()
    }
}

/// Builds a script on top of `engine` (its state before the script): merchants with owners,
/// recruiters and regions, agents at every level, members in referral trees, shareholders,
/// coins, a subsidy campaign, then `ops` operations — orders (some paid partly with cash or
/// coins, some self-operated with an explicit commission), sells, redeems, withdrawals,
/// injections, vesting releases, dividends, campaign changes, and for the last quarter a low
/// exit cap so that members exit — about one in ten of them built
/// to be rejected with a known code. Commands carry an `at` `seconds_base + 7·i` seconds after
/// [`at_plus`]'s origin (some written with other UTC offsets), except every 17th (the
/// writer's clock).
pub fn script(mut engine: Engine, prefix: &str, members: u32, ops: u32, seed: u64, seconds_base: i64) -> Script {
    let mut rng = SplitMix64::new(seed);
    let mut s = Script {
        commands: Vec::new(),
        expected: Vec::new(),
        must_reject: Vec::new(),
        engine: Engine::new(Rules::default()),
    };
    let push = |engine: &mut Engine, s: &mut Script, line: String, reject: Option<Rejection>| {
        let i = s.commands.len();
        let command = cmd(&line);
        let offset = if i % 13 == 5 {
            330
        } else if i % 11 == 3 {
            -420
        } else {
            0
        };
        let at = (i % 17 != 16).then(|| at_plus_in(seconds_base + 7 * i as i64, offset));
        let result = engine.apply(&command);
        if let Some(code) = reject {
            assert_eq!(result, Err(code), "the script's reject #{i} is not rejected as meant: {line}");
            s.must_reject.push((i, code));
        }
        s.commands.push((command, at));
        s.expected.push(result);
    };
    let m = |i: u32| format!("{prefix}m{i}");
    let sh = |i: u32| format!("{prefix}s{i}");
    // Members: one in eight without a referrer, the rest referred by an earlier one.
    for i in 0..members {
        let line = if i == 0 || rng.below(8) == 0 {
            format!(r#"{{"op":"register_member","member":"{}"}}"#, m(i))
        } else {
            format!(
                r#"{{"op":"register_member","member":"{}","referrer":"{}"}}"#,
                m(i),
                m(rng.below(u64::from(i)) as u32)
            )
        };
        push(&mut engine, &mut s, line, None);
    }
    let regions = ["440305", "440306", "440105", "110101"];
    for (k, region) in regions.iter().enumerate() {
        let k = k as u32;
        let commission = if k % 2 == 0 { "0.2" } else { "0.15" };
        let line = format!(
            r#"{{"op":"register_merchant","merchant":"{}","commission":"{commission}","owner":"{}","recruiter":"{}","region":"{region}"}}"#,
            sh(k),
            m(rng.below(u64::from(members)) as u32),
            m(rng.below(u64::from(members)) as u32)
        );
        push(&mut engine, &mut s, line, None);
    }
    for (level, region, who) in
        [("district", "440305", 1), ("city", "440305", 2), ("province", "440305", 3), ("district", "110101", 4)]
    {
        let line = format!(
            r#"{{"op":"appoint_agent","member":"{}","level":"{level}","region":"{region}"}}"#,
            m(who % members)
        );
        push(&mut engine, &mut s, line, None);
    }
    push(&mut engine, &mut s, format!(r#"{{"op":"set_shareholder","member":"{}","weight":3}}"#, m(5 % members)), None);
    push(&mut engine, &mut s, format!(r#"{{"op":"set_shareholder","member":"{}","weight":1}}"#, m(6 % members)), None);
    push(
        &mut engine,
        &mut s,
        format!(r#"{{"op":"grant_coins","member":"{}","amount":"500.00"}}"#, m(7 % members)),
        None,
    );
    push(
        &mut engine,
        &mut s,
        format!(r#"{{"op":"grant_coins","member":"{}","amount":"80.00"}}"#, m(8 % members)),
        None,
    );
    push(
        &mut engine,
        &mut s,
        r#"{"op":"update_rules","rules":{"dividends":{"share_of_platform":"0.1"}}}"#.into(),
        None,
    );
    let mut campaign = 0;
    push(
        &mut engine,
        &mut s,
        format!(r#"{{"op":"start_campaign","campaign":"{prefix}c{campaign}","rate":"0.05","budget":"300.00"}}"#),
        None,
    );

    let mut orders = 0u64;
    let mut rejects = 0u32;
    for k in 0..ops {
        if k == ops * 3 / 4 {
            // A low exit cap for the last quarter, so the exit cascade runs.
            push(&mut engine, &mut s, r#"{"op":"update_rules","rules":{"exit":{"multiple":"0.3"}}}"#.into(), None);
        }
        let who = m(rng.below(u64::from(members)) as u32);
        let roll = rng.below(100);
        if roll < 10 {
            // Built to be rejected, cycling through the codes the journal must keep out.
            rejects += 1;
            let (line, code) = match rejects % 12 {
                0 => (
                    format!(
                        r#"{{"op":"order","order":"{prefix}x{rejects}","member":"{prefix}nobody","merchant":"{}","amount":"10.00"}}"#,
                        sh(0)
                    ),
                    Rejection::UnknownMember,
                ),
                1 => (
                    format!(
                        r#"{{"op":"order","order":"{prefix}x{rejects}","member":"{who}","merchant":"{prefix}nostore","amount":"10.00"}}"#
                    ),
                    Rejection::UnknownMerchant,
                ),
                2 if orders > 0 => (
                    format!(
                        r#"{{"op":"order","order":"{prefix}o1","member":"{who}","merchant":"{}","amount":"10.00"}}"#,
                        sh(0)
                    ),
                    Rejection::DuplicateId,
                ),
                3 => (format!(r#"{{"op":"register_member","member":"{}"}}"#, m(0)), Rejection::DuplicateId),
                4 => (
                    format!(r#"{{"op":"register_member","member":"{prefix}y{rejects}","referrer":"{prefix}nobody"}}"#),
                    Rejection::UnknownMember,
                ),
                5 => (
                    format!(r#"{{"op":"sell","member":"{who}","points":"1000000.00000000"}}"#),
                    Rejection::InsufficientPoints,
                ),
                6 => (
                    format!(r#"{{"op":"withdraw","member":"{who}","amount":"99999999.00"}}"#),
                    Rejection::InsufficientCash,
                ),
                7 => (
                    format!(
                        r#"{{"op":"order","order":"{prefix}x{rejects}","member":"{who}","merchant":"{}","amount":"10.00","pay_coins":"9999.00"}}"#,
                        sh(1)
                    ),
                    Rejection::InsufficientCoins,
                ),
                8 => (
                    format!(r#"{{"op":"appoint_agent","member":"{who}","level":"district","region":"440305"}}"#),
                    Rejection::RegionTaken,
                ),
                9 => (
                    r#"{"op":"update_rules","rules":{"exit":{"multiple":"101"}}}"#.to_string(),
                    Rejection::InvalidRules,
                ),
                10 => (
                    format!(
                        r#"{{"op":"order","order":"{prefix}x{rejects}","member":"{who}","amount":"10.00","commission":"11.00"}}"#
                    ),
                    Rejection::InvalidAmount,
                ),
                _ => {
                    if engine.campaign().is_some() {
                        (
                            format!(
                                r#"{{"op":"start_campaign","campaign":"{prefix}cx{rejects}","rate":"0.1","budget":"1.00"}}"#
                            ),
                            Rejection::CampaignActive,
                        )
                    } else {
                        (r#"{"op":"end_campaign"}"#.to_string(), Rejection::NoCampaign)
                    }
                }
            };
            push(&mut engine, &mut s, line, Some(code));
            continue;
        }
        let member = engine.member(&who).cloned().unwrap_or_default();
        let line = match roll {
            10..=64 => {
                orders += 1;
                let amount = 1_000 + rng.below(50_000) as i64;
                let money = zengzhi_core::num::format_money;
                let mut extra = String::new();
                if member.cash_fen > Fen::ZERO && rng.below(4) == 0 {
                    extra.push_str(&format!(
                        r#","pay_cash":"{}""#,
                        money(member.cash_fen.min(Fen::from_fen(amount / 3)))
                    ));
                }
                if member.coins_fen > Fen::ZERO && rng.below(2) == 0 {
                    extra.push_str(&format!(
                        r#","pay_coins":"{}""#,
                        money(member.coins_fen.min(Fen::from_fen(amount / 3)))
                    ));
                }
                if rng.below(15) == 0 {
                    // Self-operated goods: no merchant, an explicit commission.
                    format!(
                        r#"{{"op":"order","order":"{prefix}o{orders}","member":"{who}","amount":"{}","commission":"{}"{extra}}}"#,
                        money(Fen::from_fen(amount)),
                        money(Fen::from_fen(amount / 10))
                    )
                } else {
                    let store = sh(rng.below(regions.len() as u64) as u32);
                    format!(
                        r#"{{"op":"order","order":"{prefix}o{orders}","member":"{who}","merchant":"{store}","amount":"{}"{extra}}}"#,
                        money(Fen::from_fen(amount))
                    )
                }
            }
            65..=76 => {
                if member.points >= Units::from_units(2) && rng.below(3) != 0 {
                    format!(
                        r#"{{"op":"sell","member":"{who}","points":"{}"}}"#,
                        zengzhi_core::num::format_points(member.points.half_floor())
                    )
                } else {
                    format!(r#"{{"op":"sell","member":"{who}","points":"all"}}"#)
                }
            }
            77..=80 => format!(r#"{{"op":"redeem","member":"{who}","amount":"1.00"}}"#),
            81..=86 => {
                let amount = (member.cash_fen.to_fen() / 2).max(1);
                format!(
                    r#"{{"op":"withdraw","member":"{who}","amount":"{}"}}"#,
                    zengzhi_core::num::format_money(Fen::from_fen(amount))
                )
            }
            87..=89 => r#"{"op":"inject","amount":"200.00"}"#.to_string(),
            90..=93 => r#"{"op":"release_locked"}"#.to_string(),
            94..=96 => r#"{"op":"distribute_dividends"}"#.to_string(),
            _ => {
                if engine.campaign().is_some() {
                    r#"{"op":"end_campaign"}"#.to_string()
                } else {
                    campaign += 1;
                    format!(
                        r#"{{"op":"start_campaign","campaign":"{prefix}c{campaign}","rate":"0.03","budget":"100.00"}}"#
                    )
                }
            }
        };
        push(&mut engine, &mut s, line, None);
    }
    s.engine = engine;
    s
}

/// A plain connection to a SQLite store: the journal's file, the query file attached as `q`.
fn sqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
    let query = zengzhi_journal::sqlite::query_path(path);
    conn.execute("ATTACH DATABASE ?1 AS q", [query.to_str().expect("UTF-8 path")]).expect("attach the query file");
    conn
}
