//! The service's own tables (`zengzhi_server::store`) on both backends: API keys, the audit
//! log, settings, the settlement delay's orders, the withdrawal queue; the service's migrations
//! adopt a store whose tables the journal's migrations made before the service owned them.

use zengzhi_journal::sha256;
use zengzhi_server::store::{
    self, AuditFilter, AuditRecord, Conn, LoginFilter, LoginRecord, PendingDone, PendingOrder, SessionLimits, SessionUser, User,
    Withdrawal, WithdrawalFilter,
};
use zengzhi_testkit::app::{Backend, TempStore};

fn at(n: i64) -> String {
    format!("2026-12-01T00:00:{:02}Z", n)
}

fn open(s: &TempStore) -> Box<dyn Conn> {
    let c = s.config();
    store::open(&c.data_dir, c.database_url.as_ref().map(|u| u.expose()), &c.pg_schema).expect("the store opens")
}

/// Runs `f` on each backend.
fn both(name: &str, f: impl Fn(&TempStore)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        f(&TempStore::new(backend, name));
    }
}

/// API keys by hash (unknown ones not found, a key stored once), the audit log, and settings
/// that keep their first value; all survive a reopen and leave the journal alone.
#[test]
fn keys_audit_and_settings() {
    both("keys", |s| {
        let mut b = open(s);
        let key = sha256(b"secret-key");
        b.put_api_key(&key, "admin", "ops laptop", &at(0)).expect("put key");
        assert_eq!(b.find_api_key(&key).expect("find").as_deref(), Some("admin"));
        assert_eq!(b.find_api_key(&sha256(b"other")).expect("find"), None);
        assert!(b.put_api_key(&key, "read", "again", &at(1)).is_err(), "a key is stored once");
        let entry = |action: &str| AuditRecord {
            at: at(2),
            who: "admin".into(),
            action: action.into(),
            detail: r#"{"exit":{"multiple":"2"}}"#.into(),
            address: Some("10.0.0.1".into()),
            target: Some("member:alice".into()),
            before: Some("1".into()),
            after: Some("2".into()),
            ..Default::default()
        };
        b.audit(&entry("update_rules")).expect("audit");
        b.audit(&entry("inject")).expect("audit");
        let all = b.audit_entries(&AuditFilter { limit: 10, ..Default::default() }).expect("entries");
        assert_eq!(all.len(), 2);
        assert!(all[0].id < all[1].id, "ids increase");
        assert_eq!(all[1], AuditRecord { id: all[1].id, ..entry("inject") });
        let filter = AuditFilter { after: Some(all[0].id), action: Some("inject"), limit: 10, ..Default::default() };
        assert_eq!(b.audit_entries(&filter).expect("entries").len(), 1);
        // Newest first, with the cursor counting down; by target; by time (a half-open range).
        let newest = b.audit_entries(&AuditFilter { newest_first: true, limit: 1, ..Default::default() }).expect("entries");
        assert_eq!(newest.iter().map(|r| r.id).collect::<Vec<_>>(), [all[1].id]);
        let older = AuditFilter { newest_first: true, after: Some(all[1].id), limit: 10, ..Default::default() };
        assert_eq!(b.audit_entries(&older).expect("entries").iter().map(|r| r.id).collect::<Vec<_>>(), [all[0].id]);
        let other = AuditFilter { target: Some("member:bob"), limit: 10, ..Default::default() };
        assert!(b.audit_entries(&other).expect("entries").is_empty());
        let alice = AuditFilter { target: Some("member:alice"), limit: 10, ..Default::default() };
        assert_eq!(b.audit_entries(&alice).expect("entries").len(), 2);
        let stamp = at(2);
        let second = &stamp[..19];
        let from = AuditFilter { since: Some(second), limit: 10, ..Default::default() };
        assert_eq!(b.audit_entries(&from).expect("entries").len(), 2, "since is inclusive ({stamp})");
        let until = AuditFilter { until: Some(second), limit: 10, ..Default::default() };
        assert!(b.audit_entries(&until).expect("entries").is_empty(), "until is exclusive ({stamp})");
        assert_eq!(b.setting("member_token_secret").expect("setting"), None);
        assert_eq!(b.setting_or_insert("member_token_secret", b"0123abcd").expect("insert"), b"0123abcd");
        assert_eq!(
            b.setting_or_insert("member_token_secret", b"ffff").expect("keep"),
            b"0123abcd",
            "the first value stays"
        );
        b.put_setting("scheduler.release_locked", b"2026-12-01").expect("put");
        b.put_setting("scheduler.release_locked", b"2026-12-02").expect("replace");
        assert_eq!(b.setting("scheduler.release_locked").expect("setting").as_deref(), Some(&b"2026-12-02"[..]));
        // Bytes that are not UTF-8 are stored as given (a regression once: they were mangled).
        let secret = [0xde, 0xad, 0xbe, 0xef, 0xff, 0x80, 0x41];
        assert_eq!(b.setting_or_insert("binary_secret", &secret).expect("insert"), secret);
        drop(b);
        let mut b = open(s);
        assert_eq!(b.setting("member_token_secret").expect("setting").as_deref(), Some(&b"0123abcd"[..]));
        assert_eq!(b.find_api_key(&key).expect("find").as_deref(), Some("admin"));
        assert_eq!(b.head().expect("head"), None, "the journal is untouched");
    });
}

/// Users and sessions: a session finds its user with the role it has now, ends when it expires,
/// when its user is disabled or changes password, and when deleted.
#[test]
fn users_and_sessions() {
    both("users", |s| {
        let mut b = open(s);
        let user = |name: &str, role: &str| User {
            name: name.into(),
            role: role.into(),
            password_hash: "$argon2id$x".into(),
            disabled: false,
            created_at: at(0),
        };
        assert!(b.user_insert(&user("lina", "finance")).expect("insert"));
        assert!(!b.user_insert(&user("lina", "auditor")).expect("insert"), "a name once");
        assert!(b.user_insert(&user("wang", "operator")).expect("insert"));
        assert_eq!(b.users().expect("users").iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["lina", "wang"]);
        let limits = SessionLimits { idle_s: 100, max_s: 1000 };
        let (s1, s2, s3) = (sha256(b"s1"), sha256(b"s2"), sha256(b"s3"));
        b.session_insert(&s1, "lina", 10_000).expect("session");
        b.session_insert(&s2, "lina", 10_000).expect("session");
        b.session_insert(&s3, "wang", 10_000).expect("session");
        let found = b.session_find(&s1, 10_050, limits).expect("find");
        assert_eq!(found, Some(SessionUser { username: "lina".into(), role: "finance".into() }));
        // Idle: seen at 10 000 + the touch at 10 070 keeps it until 10 170.
        assert!(b.session_find(&s1, 10_070, limits).expect("find").is_some());
        assert!(b.session_find(&s1, 10_160, limits).expect("find").is_some(), "the request at 10 070 was noted");
        assert_eq!(b.session_find(&s2, 10_100, limits).expect("find"), None, "idle 100 s");
        assert_eq!(b.session_find(&sha256(b"none"), 10_000, limits).expect("find"), None);
        // Absolute limit, however busy.
        let mut t = 10_000;
        while t < 11_000 {
            assert!(b.session_find(&s3, t, limits).expect("find").is_some(), "{t}");
            t += 90;
        }
        assert_eq!(b.session_find(&s3, 11_000, limits).expect("find"), None);
        // Disabling and a new password end the sessions.
        b.session_insert(&s3, "wang", 20_000).expect("session");
        assert!(b.user_set_disabled("wang", true).expect("disable"));
        assert_eq!(b.session_find(&s3, 20_001, limits).expect("find"), None);
        assert!(!b.user_set_disabled("ghost", true).expect("disable"));
        b.session_insert(&s2, "lina", 20_000).expect("session");
        assert!(b.user_set_password("lina", "$argon2id$y").expect("passwd"));
        assert_eq!(b.session_find(&s2, 20_001, limits).expect("find"), None);
        assert_eq!(b.user_get("lina").expect("get").unwrap().password_hash, "$argon2id$y");
        b.session_insert(&s1, "lina", 20_000).expect("session");
        assert!(b.session_delete(&s1).expect("delete"));
        assert!(!b.session_delete(&s1).expect("delete"));
        // The login log.
        for (name, ok) in [("lina", true), ("nobody", false)] {
            let r = LoginRecord {
                id: 0,
                at: at(1),
                username: name.into(),
                address: "1.2.3.4".into(),
                success: ok,
                reason: "ok".into(),
            };
            b.login_record(&r).expect("record");
        }
        let all = b.logins(&LoginFilter { limit: 10, ..Default::default() }).expect("logins");
        assert_eq!(
            all.iter().map(|r| (r.username.as_str(), r.success)).collect::<Vec<_>>(),
            [("lina", true), ("nobody", false)]
        );
        let after = LoginFilter { after: Some(all[0].id), limit: 10, ..Default::default() };
        assert_eq!(b.logins(&after).expect("logins").len(), 1);
        let nobody = LoginFilter { username: Some("nobody"), limit: 10, ..Default::default() };
        assert_eq!(b.logins(&nobody).expect("logins")[0].username, "nobody");
        let failed = LoginFilter { success: Some(false), limit: 10, ..Default::default() };
        assert_eq!(b.logins(&failed).expect("logins").iter().map(|r| r.username.as_str()).collect::<Vec<_>>(), ["nobody"]);
        let newest = LoginFilter { newest_first: true, limit: 1, ..Default::default() };
        assert_eq!(b.logins(&newest).expect("logins")[0].id, all[1].id);
        let stamp = at(1);
        let later = LoginFilter { since: Some(&stamp[..19]), until: Some("2026-12-01T00:00:02"), limit: 10, ..Default::default() };
        assert_eq!(b.logins(&later).expect("logins").len(), 2);
        let before = LoginFilter { until: Some(&stamp[..19]), limit: 10, ..Default::default() };
        assert!(b.logins(&before).expect("logins").is_empty());
    });
}

/// The withdrawal queue: listed by id (request order) and filtered; the reserved amount counts
/// `pending` and `paying` only; a transition happens only from the status it expects, so two
/// deciders cannot both pay or pay and reject; rows survive a reopen.
#[test]
fn withdrawal_queue_reserves_lists_and_moves_once() {
    both("withdrawals", |s| {
        let mut b = open(s);
        let w = |id: &str, member: &str, fen: i64| Withdrawal::pending(id, member, fen, at(0));
        assert!(b.withdrawal_insert(&w("w2", "alice", 500)).expect("insert"));
        assert!(b.withdrawal_insert(&w("w1", "alice", 250)).expect("insert"));
        assert!(b.withdrawal_insert(&w("w3", "bob", 100)).expect("insert"));
        assert!(!b.withdrawal_insert(&w("w1", "bob", 1)).expect("insert twice"), "an id is stored once");
        assert_eq!(b.withdrawals_reserved("alice").expect("reserved"), 750);
        assert_eq!(b.withdrawals_reserved("carol").expect("reserved"), 0);
        let ids = |b: &mut Box<dyn Conn>, f: WithdrawalFilter<'_>| -> Vec<String> {
            b.withdrawals(&f).expect("list").into_iter().map(|w| w.id).collect()
        };
        assert_eq!(ids(&mut b, WithdrawalFilter { limit: 10, ..Default::default() }), ["w1", "w2", "w3"]);
        assert_eq!(ids(&mut b, WithdrawalFilter { limit: 2, ..Default::default() }), ["w1", "w2"]);
        assert_eq!(ids(&mut b, WithdrawalFilter { after: Some("w2"), limit: 2, ..Default::default() }), ["w3"]);
        assert_eq!(
            ids(&mut b, WithdrawalFilter { member: Some("alice"), limit: 10, ..Default::default() }),
            ["w1", "w2"]
        );
        let paying = Withdrawal {
            status: "paying".into(),
            head_before: Some(7),
            decided_by: Some("ops".into()),
            ..w("w1", "alice", 250)
        };
        assert!(b.withdrawal_update(&paying, "pending").expect("paying"));
        assert_eq!(b.withdrawals_reserved("alice").expect("reserved"), 750, "paying still reserves");
        let paid = Withdrawal {
            status: "paid".into(),
            seq: Some(8),
            fee_fen: Some(3),
            decided_at: Some(at(5)),
            ..paying.clone()
        };
        assert!(b.withdrawal_update(&paid, "paying").expect("paid"));
        assert!(!b.withdrawal_update(&paid, "paying").expect("paid twice"), "the second move finds no `paying` row");
        let rejected = Withdrawal {
            status: "rejected".into(),
            reason: Some("bank account closed".into()),
            ..w("w2", "alice", 500)
        };
        assert!(b.withdrawal_update(&rejected, "pending").expect("reject"));
        assert!(!b
            .withdrawal_update(&Withdrawal { status: "paying".into(), ..w("w2", "alice", 500) }, "pending")
            .expect("pay a rejected one"));
        assert_eq!(b.withdrawals_reserved("alice").expect("reserved"), 0, "paid and rejected reserve nothing");
        assert_eq!(ids(&mut b, WithdrawalFilter { status: Some("pending"), limit: 10, ..Default::default() }), ["w3"]);
        drop(b);
        let mut b = open(s);
        assert_eq!(b.withdrawal_get("w1").expect("get"), Some(paid));
        assert_eq!(b.withdrawal_get("w2").expect("get"), Some(rejected));
        assert_eq!(b.withdrawal_get("nope").expect("get"), None);
    });
}

fn pending(id: &str, after: u64) -> PendingOrder {
    PendingOrder {
        order_id: id.into(),
        command: format!(r#"{{"op":"order","order":"{id}","member":"m","amount":"1"}}"#),
        received_at: at(after as i64),
        settle_after_unix: after,
        status: "pending".into(),
        seq: None,
        error: None,
    }
}

/// Pending orders: taken when due, in the order received, marked `settling`; a whole run's
/// results are recorded together; refunds only from `pending`.
#[test]
fn pending_orders_are_taken_once_and_finished_together() {
    both("pending", |s| {
        let mut b = open(s);
        for (id, after) in [("p1", 10), ("p2", 20), ("p3", 30), ("p4", 100)] {
            assert!(b.pending_insert(&pending(id, after)).expect("insert"));
        }
        assert!(!b.pending_insert(&pending("p1", 10)).expect("insert twice"));
        let due = b.pending_take_due(30, 10).expect("take");
        assert_eq!(due.iter().map(|p| p.order_id.as_str()).collect::<Vec<_>>(), ["p1", "p2", "p3"]);
        assert!(due.iter().all(|p| p.status == "settling"));
        assert!(b.pending_take_due(30, 10).expect("take again").is_empty(), "taken once");
        assert_eq!(b.pending_settling().expect("settling").len(), 3);
        assert!(!b.pending_refund("p1").expect("refund a settling one"));
        assert!(b.pending_refund("p4").expect("refund a pending one"));
        b.pending_finish_all(&[
            PendingDone { order_id: "p1".into(), status: "settled", seq: Some(5), error: None },
            PendingDone { order_id: "p2".into(), status: "rejected", seq: None, error: Some("unknown_member") },
            PendingDone { order_id: "p3".into(), status: "pending", seq: None, error: None },
        ])
        .expect("finish");
        let get = |b: &mut Box<dyn Conn>, id: &str| b.pending_get(id).expect("get").expect("there");
        assert_eq!((get(&mut b, "p1").status, get(&mut b, "p1").seq), ("settled".to_string(), Some(5)));
        assert_eq!(
            (get(&mut b, "p2").status, get(&mut b, "p2").error),
            ("rejected".to_string(), Some("unknown_member".to_string()))
        );
        assert_eq!(get(&mut b, "p3").status, "pending");
        assert_eq!(get(&mut b, "p4").status, "refunded");
        assert!(b.pending_settling().expect("settling").is_empty());
        b.pending_finish_all(&[]).expect("an empty run");
    });
}

/// A store from before the service owned its tables: the journal's migrations 2 to 4 made them
/// (here by hand, as they did), with rows. The service's first migration adopts them as they
/// are: the key still verifies, the withdrawal is still queued.
#[test]
fn tables_made_by_the_old_journal_migrations_are_adopted() {
    both("adopt", |s| {
        let c = s.config();
        let old = "CREATE TABLE api_keys (hash_hex TEXT PRIMARY KEY, scope TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL, revoked INT NOT NULL DEFAULT 0);
             CREATE TABLE audit_log (at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
             CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE pending_orders (order_id TEXT PRIMARY KEY, command TEXT NOT NULL, received_at TEXT NOT NULL,
                settle_after_unix BIGINT NOT NULL, status TEXT NOT NULL, seq BIGINT, error TEXT);
             CREATE INDEX pending_due ON pending_orders (status, settle_after_unix);
             CREATE TABLE withdrawals (id TEXT PRIMARY KEY, member TEXT NOT NULL, amount_fen BIGINT NOT NULL, status TEXT NOT NULL,
                requested_at TEXT NOT NULL, decided_at TEXT, decided_by TEXT, reason TEXT, fee_fen BIGINT, seq BIGINT, head_before BIGINT);
             CREATE INDEX withdrawals_status ON withdrawals (status, id);
             CREATE INDEX withdrawals_member ON withdrawals (member, id);";
        let hash = zengzhi_journal::hex(&sha256(b"old key"));
        let rows = format!(
            "INSERT INTO api_keys VALUES ('{hash}', 'readonly', 'old', '{}', 0);
             INSERT INTO audit_log VALUES ('{}', 'cli', 'keys_create', 'old entry');
             INSERT INTO withdrawals (id, member, amount_fen, status, requested_at) VALUES ('w0', 'alice', 100, 'pending', '{}');",
            at(0),
            at(0),
            at(0)
        );
        // The journal's own store (which no longer makes the service's tables), then the old tables.
        match &c.database_url {
            None => {
                std::fs::create_dir_all(&c.data_dir).unwrap();
                let mut db =
                    zengzhi_journal::sqlite::Sqlite::open(&c.data_dir.join("zengzhi.db")).expect("journal store");
                db.connection().execute_batch(&format!("{old}{rows}")).expect("the old tables");
            }
            Some(url) => std::thread::scope(|t| {
                t.spawn(|| {
                    let mut pg = zengzhi_journal::postgres::Postgres::connect_schema(url.expose(), &c.pg_schema)
                        .expect("journal store");
                    pg.client().batch_execute(&format!("{old}{rows}")).expect("the old tables");
                })
                .join()
                .unwrap()
            }),
        }
        let mut b = open(s);
        assert_eq!(b.find_api_key(&sha256(b"old key")).expect("find").as_deref(), Some("readonly"));
        assert_eq!(b.withdrawals_reserved("alice").expect("reserved"), 100);
        // The old audit log is kept in the operation log (the new columns empty).
        let log = b.audit_entries(&AuditFilter { limit: 10, ..Default::default() }).expect("entries");
        assert_eq!((log.len(), log[0].detail.as_str(), log[0].address.as_deref()), (1, "old entry", None));
        // And the store goes on working, and opens again.
        assert!(b.withdrawal_insert(&Withdrawal::pending("w1", "alice", 50, at(1))).expect("insert"));
        drop(b);
        assert_eq!(open(s).withdrawals_reserved("alice").expect("reserved"), 150);
    });
}
