//! The SQLite store's two files: the journal's (`zengzhi.db`) and the query tables'
//! (`zengzhi.query.db`, attached as `q`). Each file has its own write lock, so the projector's
//! transactions and the journal's appends never wait for each other; the query file is derived
//! and is rebuilt from the journal when it is missing, stale from an older layout, or was made
//! from another journal.

mod common;

use std::path::Path;

use common::{script, Store};
use zengzhi_core::{Engine, Rules};
use zengzhi_journal::backend::{Candle, ProjectionBatch};
use zengzhi_journal::projector::Projector;
use zengzhi_journal::sqlite::query_path;
use zengzhi_journal::writer::{Writer, WriterConfig};
use zengzhi_journal::{chain_hash, Backend, Entry};

/// A store with a script's commands journaled; returns the head and the number of accepted
/// orders.
fn filled(store: &Store, seed: u64) -> (u64, u64) {
    let s = script(Engine::new(Rules::default()), "", 30, 200, seed, 0);
    let writer = Writer::start(store.open(), WriterConfig::default()).expect("writer");
    let outcomes = writer.handle().submit_many(s.commands.clone()).expect("submit");
    writer.shutdown().expect("shutdown");
    let head = outcomes.iter().filter_map(|o| o.seq).max().expect("accepted commands");
    (head, s.engine.totals().orders)
}

fn project_all(store: &Store) -> u64 {
    let mut b = store.open();
    let mut p = Projector::start(b.as_mut()).expect("projector start");
    p.catch_up(b.as_mut(), 1000).expect("catch up");
    p.watermark()
}

fn path(store: &Store) -> &Path {
    store.sqlite_path().expect("a SQLite store")
}

/// Removes the query file and its write-ahead log.
fn remove_query_file(store: &Store) {
    let q = query_path(path(store));
    for suffix in ["", "-wal", "-shm"] {
        let f = std::path::PathBuf::from(format!("{}{suffix}", q.display()));
        if f.exists() {
            std::fs::remove_file(&f).unwrap_or_else(|e| panic!("remove {}: {e}", f.display()));
        }
    }
}

/// The next entry after `head`, chained to it.
fn next_entry(b: &mut dyn Backend) -> Entry {
    let (seq, prev) = b.head().expect("head").expect("a journal");
    let command = format!(r#"{{"op":"register_member","member":"late{seq}"}}"#);
    let at = "2026-12-01T00:00:00Z".to_string();
    let hash = chain_hash(&prev, seq + 1, command.as_bytes());
    Entry { seq: seq + 1, at, command, hash }
}

#[test]
fn appends_and_projection_writes_do_not_wait_for_each_other() {
    let store = Store::sqlite("locks");
    let (head, _) = filled(&store, 1);
    assert_eq!(project_all(&store), head);

    // Another connection holds the query file's write lock (as the projector does during its
    // transaction): the journal still takes appends. If they shared a lock, the append would
    // wait out the busy timeout and fail with "database is locked".
    let mut b = store.open();
    let holder = rusqlite::Connection::open(path(&store)).expect("open");
    holder.execute("ATTACH DATABASE ?1 AS q", [query_path(path(&store)).to_str().expect("UTF-8")]).expect("attach");
    holder.execute_batch("BEGIN; UPDATE q.projection SET watermark = watermark;").expect("take the query file's lock");
    let e = next_entry(b.as_mut());
    b.append(std::slice::from_ref(&e)).expect("an append while the query tables are being written");
    assert_eq!(b.head().expect("head").map(|h| h.0), Some(head + 1));
    holder.execute_batch("ROLLBACK").expect("release");

    // And the other way round: the journal's file is locked, the projection is written.
    holder
        .execute_batch("BEGIN; UPDATE main.journal SET at = at WHERE seq = 1;")
        .expect("take the journal file's lock");
    let batch = ProjectionBatch {
        watermark: head + 1,
        orders: Vec::new(),
        ledger: Vec::new(),
        candles: vec![Candle {
            interval: zengzhi_journal::backend::Interval::Minute,
            start: "2026-12-01T00:00:00Z".into(),
            open: 1,
            high: 1,
            low: 1,
            close: 1,
            pool_fen: 0,
            supply_units: 0,
        }],
    };
    b.write_projection(&batch).expect("a projection write while the journal's file is locked");
    assert_eq!(b.watermark().expect("watermark"), head + 1);
    holder.execute_batch("ROLLBACK").expect("release");
}

#[test]
fn a_missing_query_file_is_rebuilt_from_the_journal() {
    let store = Store::sqlite("missing");
    let (head, orders) = filled(&store, 2);
    assert_eq!(project_all(&store), head);
    remove_query_file(&store);
    assert_eq!(store.open().watermark().expect("watermark"), 0, "a new, empty query file");
    assert_eq!(project_all(&store), head);
    assert_eq!(store.query_int("SELECT COUNT(*) FROM q.orders"), orders as i64);
}

/// A query file copied from another store is not taken for this journal's: the journal's entry
/// at the file's watermark has another chain hash, so the file is emptied and rebuilt. (A file
/// covering more entries than the journal has is kept, and recovery reports the lost tail.)
#[test]
fn a_query_file_of_another_journal_is_emptied_and_rebuilt() {
    let (x, y) = (Store::sqlite("x"), Store::sqlite("y"));
    let (head_x, _) = filled(&x, 3);
    let (head_y, _) = filled(&y, 4);
    // `a`'s file goes to `b`, which has the entry at `a`'s watermark.
    let ((a, head_a), (b, head_b)) =
        if head_x <= head_y { ((x, head_x), (y, head_y)) } else { ((y, head_y), (x, head_x)) };
    let orders_b =
        b.open().read(1, usize::MAX).expect("read").iter().filter(|e| e.command.contains(r#""op":"order""#)).count();
    assert_eq!(project_all(&a), head_a);
    assert_eq!(project_all(&b), head_b);
    drop(a.open()); // a closed store: its query file is whole without its log
    remove_query_file(&b);
    std::fs::copy(query_path(path(&a)), query_path(path(&b))).expect("copy");
    assert_eq!(
        b.query_int("SELECT watermark FROM q.projection"),
        head_a as i64,
        "the copied file claims a's watermark"
    );

    assert_eq!(b.open().watermark().expect("watermark"), 0, "emptied at open: it is not b's");
    assert_eq!(b.query_int("SELECT COUNT(*) FROM q.orders"), 0);
    assert_eq!(project_all(&b), head_b);
    assert_eq!(b.query_int("SELECT COUNT(*) FROM q.orders"), orders_b as i64);
    // b's own query file is kept at the next open.
    assert_eq!(b.open().watermark().expect("watermark"), head_b);
}

/// A store of the older one-file layout (schema version 4: the query tables in the journal's
/// file) is migrated: the old tables are dropped and the projector rebuilds them in the query
/// file.
#[test]
fn the_one_file_layout_is_migrated_and_its_tables_rebuilt() {
    let store = Store::sqlite("old-layout");
    let (head, orders) = filled(&store, 5);
    // Make the store what version 4 left: the query tables (with stale rows) in the journal's
    // file, and no query file.
    remove_query_file(&store);
    let conn = rusqlite::Connection::open(path(&store)).expect("open");
    conn.execute_batch(
        "CREATE TABLE orders (order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, member TEXT NOT NULL, merchant TEXT,
            amount_fen INTEGER NOT NULL, commission_fen INTEGER NOT NULL, minted_units INTEGER NOT NULL, at TEXT NOT NULL,
            command TEXT);
         CREATE INDEX orders_member ON orders (member, seq);
         CREATE INDEX orders_seq ON orders (seq);
         CREATE TABLE ledger (seq INTEGER NOT NULL, member TEXT NOT NULL, reason TEXT NOT NULL, points INTEGER NOT NULL,
            locked INTEGER NOT NULL, cash_fen INTEGER NOT NULL, coins_fen INTEGER NOT NULL);
         CREATE VIEW exits AS SELECT seq, member, -points - locked AS units_sold, cash_fen AS payout_fen FROM ledger WHERE reason = 'exit';
         CREATE VIEW rewards AS SELECT seq, member, cash_fen AS amount_fen FROM ledger WHERE reason = 'reward';
         CREATE TABLE candles (interval TEXT NOT NULL, start TEXT NOT NULL, open INTEGER NOT NULL, high INTEGER NOT NULL,
            low INTEGER NOT NULL, close INTEGER NOT NULL, pool_fen INTEGER NOT NULL, supply_units INTEGER NOT NULL,
            PRIMARY KEY (interval, start));
         CREATE TABLE projection (id INTEGER PRIMARY KEY CHECK (id = 1), watermark INTEGER NOT NULL);
         INSERT INTO projection (id, watermark) VALUES (1, 7);
         INSERT INTO orders VALUES ('stale', 1, 'x', NULL, 1, 1, 1, 'then', NULL);
         PRAGMA user_version = 4;",
    )
    .expect("the old layout");
    drop(conn);

    assert_eq!(store.open().watermark().expect("watermark"), 0);
    let tables = |schema: &str| {
        store
            .query(&format!("SELECT name FROM {schema}.sqlite_master WHERE type IN ('table', 'view') ORDER BY name"))
            .into_iter()
            .map(|r| r[0].text().to_string())
            .collect::<Vec<_>>()
    };
    let main = tables("main");
    for gone in ["orders", "ledger", "candles", "projection", "exits", "rewards"] {
        assert!(!main.contains(&gone.to_string()), "{gone} is still in the journal's file: {main:?}");
    }
    assert_eq!(tables("q"), ["candles", "exits", "ledger", "orders", "projection", "rewards"]);
    assert_eq!(store.query_int("PRAGMA main.user_version"), 5);
    assert_eq!(project_all(&store), head);
    assert_eq!(store.query_int("SELECT COUNT(*) FROM q.orders"), orders as i64);
    assert_eq!(store.query_int("SELECT COUNT(*) FROM q.orders WHERE order_id = 'stale'"), 0);
}
