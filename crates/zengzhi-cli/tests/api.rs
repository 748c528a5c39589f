//! Black-box tests of the HTTP API: the real `zengzhi serve` binary on a random port, over
//! SQLite and over PostgreSQL, driven with a blocking HTTP client. Every test body is a
//! function of the store and runs once per backend (`sqlite::name`, `postgres::name`).
//!
//! - `routes_happy_paths`: every route of `routes::table()` answers 200 with the documented
//!   fields, and the figures agree with each other (stats, proof, state, CSV, ledger).
//! - (Authorisation, error codes, idempotency and the settlement delay are tested in process,
//!   much faster: `zengzhi-server`'s `tests/api.rs` and `tests/authorization.rs`.)
//! - `random_load_equals_export_and_replay`: hundreds of random requests from three clients,
//!   then the live state equals `zengzhi replay` of `zengzhi export-journal`, byte for byte.
//! - `sigterm_drains_and_restart_keeps_state`: graceful shutdown (also under load) and restart.
//! - `withdrawal_queue_decisions_and_resume`: reservations, idempotent decisions, conflicts, and
//!   payments a crash interrupted resolved against the journal at the next start.
//! - `scheduled_jobs_run_once_a_day_across_restarts`: a job due today runs at start, once, and
//!   not again after a restart.
//! - `demo_economy_serves_and_replays`: `serve --demo` once, and not twice.
//! - `regressions::*`: one test per defect found and fixed (see each test's comment).
//!
//! Run: `cargo test --release -p zengzhi-cli --test api`. PostgreSQL comes from the journal
//! tests' bootstrap (`ZENGZHI_TEST_DATABASE_URL`, the local server, or a throwaway cluster).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use zengzhi_server::routes::table;

#[path = "../../zengzhi-journal/tests/common/mod.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod common;

mod api_support;

use api_support::{fen, money, units, Client, Opts, Resp, Rng, Server, Store};

/// Instantiates each test body once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Store::sqlite()) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::Store::postgres()) })*
        }
    };
}

both_backends!(
    routes_happy_paths,
    demo_economy_serves_and_replays,
    random_load_equals_export_and_replay,
    sigterm_drains_and_restart_keeps_state,
    withdrawal_queue_decisions_and_resume,
    scheduled_jobs_run_once_a_day_across_restarts,
);

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// The state text of `zengzhi replay` up to its `results`, as the live state is written.
fn replay_state_without_results(replayed: &str) -> String {
    let (before, _) = replayed.split_once(",\n  \"results\"").expect("results present");
    format!("{before}\n}}\n")
}

/// Walks `/v1/me/history` page by page (`limit` rows, `next_before`); returns every row.
fn history_pages(srv: &Server, token: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut before: Option<u64> = None;
    for _ in 0..10_000 {
        let path = match before {
            Some(b) => format!("/v1/me/history?limit={limit}&before={b}"),
            None => format!("/v1/me/history?limit={limit}"),
        };
        let page = srv.get_ok(&path, Some(token));
        let items = page["items"].as_array().unwrap().clone();
        for item in &items {
            if let Some(b) = before {
                assert!(item["seq"].as_u64().unwrap() < b, "a row at or after the cursor: {item}");
            }
        }
        rows.extend(items);
        match page["next_before"].as_u64() {
            Some(b) => before = Some(b),
            None => return rows,
        }
    }
    panic!("history paging does not end");
}

/// The member's whole ledger on one page, checked against its balances: the rows are the
/// changes, so they add up to what `/v1/me` shows.
fn check_ledger_adds_up(srv: &Server, token: &str) -> Vec<Value> {
    let all = srv.get_ok("/v1/me/history?limit=500", Some(token));
    assert!(all["next_before"].is_null() || all["items"].as_array().unwrap().len() >= 500);
    let rows = all["items"].as_array().unwrap().clone();
    let me = srv.get_ok("/v1/me", Some(token));
    let sum = |k: &str, parse: fn(&str) -> i64| -> i64 {
        rows.iter()
            .map(|r| {
                let t = s(&r[k]);
                match t.strip_prefix('-') {
                    Some(rest) => -parse(rest),
                    None => parse(t),
                }
            })
            .sum()
    };
    assert_eq!(sum("points", units), units(s(&me["points"])), "points rows add up to the balance: {rows:?}");
    assert_eq!(sum("locked", units), units(s(&me["locked"])), "locked rows add up");
    assert_eq!(sum("cash", fen), fen(s(&me["cash"])), "cash rows add up: {rows:?}");
    assert_eq!(sum("coins", fen), fen(s(&me["coins"])), "coins rows add up");
    for w in rows.windows(2) {
        assert!(w[0]["seq"].as_u64() >= w[1]["seq"].as_u64(), "newest first");
    }
    rows
}

// ---- happy paths ---------------------------------------------------------------------------

fn routes_happy_paths(store: &Store) {
    let srv = Server::start(store, &Opts::default());
    let admin = Some(srv.admin.as_str());
    let integration = store.key("integration");
    let readonly = store.key("readonly");
    let ik = Some(integration.as_str());
    let rk = Some(readonly.as_str());

    // Public, on an empty program.
    assert_eq!(srv.get_ok("/healthz", None), json!({"status": "ok"}));
    let stats = srv.get_ok("/v1/stats", None);
    assert_eq!((s(&stats["pool"]), s(&stats["supply"]), s(&stats["price"])), ("0.00", "0.00000000", "1.00000000"));
    assert_eq!(stats["orders"], 0);
    assert_eq!(srv.journal_length(), 0);

    // Admin: rules (dividends on, so there is something to distribute).
    let rules = srv.get_ok("/v1/admin/rules", rk);
    assert_eq!(s(&rules["rules"]["exit"]["multiple"]), "1.2", "{rules}");
    assert_eq!(rules["warnings"], json!([]), "the defaults pass the compliance lint");
    let put = srv
        .request("PUT", "/v1/admin/rules", admin, Some(br#"{"dividends": {"share_of_platform": "0.5"}}"#.to_vec()))
        .ok();
    assert_eq!((put["ok"].clone(), put["seq"].clone()), (json!(true), json!(1)), "{put}");
    assert_eq!(s(&put["rules"]["dividends"]["share_of_platform"]), "0.5");

    // Integration: members (a referrer; a store's QR code), stores, agents, shareholders, coins.
    let m = srv.post_ok("/v1/members", ik, &json!({"member": "owner"}));
    assert_eq!(
        (m["ok"].clone(), m["member"].clone(), m["referrer"].clone()),
        (json!(true), json!("owner"), Value::Null)
    );
    assert_eq!(m["seq"], 2);
    assert!(!s(&m["at"]).is_empty());
    srv.post_ok("/v1/members", ik, &json!({"member": "promoter"}));
    let m = srv.post_ok("/v1/members", ik, &json!({"member": "alice", "referrer": "owner"}));
    assert_eq!(m["referrer"], "owner");
    let shop = srv.post_ok(
        "/v1/merchants",
        ik,
        &json!({"merchant": "shop1", "owner": "owner", "recruiter": "promoter", "region": "441900", "commission": "0.2"}),
    );
    assert_eq!(shop["ok"], true, "{shop}");
    srv.post_ok("/v1/merchants", ik, &json!({"merchant": "shop2", "region": "110101"}));
    let bob = srv.post_ok("/v1/members", ik, &json!({"member": "bob", "store": "shop1"}));
    assert_eq!(bob["referrer"], "owner", "a store's QR code binds the member to the store's owner: {bob}");
    let carol = srv.post_ok("/v1/members", ik, &json!({"member": "carol", "store": "shop2"}));
    assert_eq!(carol["referrer"], Value::Null, "a store without an owner binds to no one: {carol}");
    let agent = srv.post_ok("/v1/agents", ik, &json!({"member": "promoter", "level": "district", "region": "441900"}));
    assert_eq!(agent["ok"], true);
    srv.post_ok("/v1/shareholders", ik, &json!({"member": "owner", "weight": 3}));
    srv.post_ok("/v1/shareholders", ik, &json!({"member": "promoter", "weight": 1}));
    srv.post_ok("/v1/coins", ik, &json!({"member": "bob", "amount": "50"}));

    // Orders: the seed's first order mints 112 points.
    let o = srv.post_ok(
        "/v1/orders",
        ik,
        &json!({"order": "o1", "member": "alice", "merchant": "shop1", "amount": "1000"}),
    );
    assert_eq!(
        (s(&o["order"]), s(&o["minted"]), s(&o["commission"]), o["idempotent_replay"].clone()),
        ("o1", "112.00000000", "200.00", json!(false)),
        "{o}"
    );
    let o1_seq = o["seq"].as_u64().unwrap();
    let st = srv.state();
    // Direct reward 0.3% to alice's referrer; 0.5% to the store's recruiter + 0.1% as district agent.
    assert_eq!(s(&st["members"]["owner"]["rewards"]), "3.00", "{st}");
    assert_eq!(s(&st["members"]["promoter"]["rewards"]), "6.00");
    // Bob, bound to the owner by the store's QR code, pays half with coins: the owner gets the
    // direct reward, and a share of bob's points is locked.
    let o = srv.post_ok(
        "/v1/orders",
        ik,
        &json!({"order": "o2", "member": "bob", "merchant": "shop1", "amount": "100", "pay_coins": "50"}),
    );
    assert_eq!(o["ok"], true);
    let st = srv.state();
    assert_eq!(s(&st["members"]["owner"]["rewards"]), "3.30", "the QR-bound member's order rewards the owner");
    assert_eq!(s(&st["members"]["bob"]["coins"]), "0.00");
    assert!(units(s(&st["members"]["bob"]["locked"])) > 0, "{st}");
    // Self-operated goods: no store, an explicit commission.
    let o =
        srv.post_ok("/v1/orders", ik, &json!({"order": "o3", "member": "carol", "amount": "100", "commission": "10"}));
    assert_eq!(s(&o["commission"]), "10.00");
    // More orders for alice, so her history has pages.
    for i in 0..9 {
        srv.post_ok(
            "/v1/orders",
            ik,
            &json!({"order": format!("a{i}"), "member": "alice", "merchant": "shop2", "amount": "10.5"}),
        );
    }

    // A batch: valid and invalid items, one result each, in order.
    let batch = srv.post_ok(
        "/v1/orders/batch",
        ik,
        &json!({"orders": [
            {"order": "b1", "member": "carol", "merchant": "shop1", "amount": "20"},
            {"order": "b2", "member": "carol", "merchant": "shop1", "amount": "1e3"},
            {"order": "b3", "member": "ghost", "merchant": "shop1", "amount": "20"},
            "not an object",
            {"order": "b4", "member": "carol", "merchant": "shop1", "amount": "20", "colour": "red"},
            {"order": "b5", "member": "bob", "merchant": "shop2", "amount": "30.01"},
        ]}),
    );
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "{batch}");
    let codes: Vec<&str> = results.iter().map(|r| r["error"].as_str().unwrap_or("ok")).collect();
    assert_eq!(
        codes,
        ["ok", "invalid_amount", "unknown_member", "invalid_command", "invalid_command", "ok"],
        "{batch}"
    );
    assert_eq!((batch["accepted"].clone(), batch["rejected"].clone()), (json!(2), json!(4)));
    assert_eq!(results[0]["order"], "b1");
    assert_eq!(results[5]["order"], "b5");
    assert!(results[5]["seq"].as_u64() > results[0]["seq"].as_u64());

    // GET an order (integration and read-only keys).
    for key in [ik, rk, admin] {
        let g = srv.get_ok("/v1/orders/o1", key);
        assert_eq!(
            (
                s(&g["order"]),
                g["seq"].as_u64(),
                s(&g["member"]),
                s(&g["merchant"]),
                s(&g["amount"]),
                s(&g["commission"]),
                s(&g["minted"]),
                s(&g["status"])
            ),
            ("o1", Some(o1_seq), "alice", "shop1", "1000.00", "200.00", "112.00000000", "settled"),
            "{g}"
        );
    }
    let g = srv.get_ok("/v1/orders/b5", ik);
    assert_eq!(s(&g["amount"]), "30.01");
    let g = srv.get_ok("/v1/orders/o3", ik);
    assert!(g["merchant"].is_null(), "{g}");

    // Member tokens.
    let t = srv.post("/v1/members/alice/token", ik, "").ok();
    assert_eq!(t["member"], "alice");
    let alice = s(&t["token"]).to_string();
    assert!(alice.starts_with("mt."));
    let expires = t["expires_unix"].as_u64().unwrap();
    assert!(expires > now_unix() + 3600 && expires <= now_unix() + 86_400 + 5, "{t}");
    let at = Some(alice.as_str());

    // Member: /v1/me.
    let me = srv.get_ok("/v1/me", at);
    for k in [
        "member",
        "points",
        "locked",
        "value_now",
        "price",
        "cash",
        "coins",
        "cycle_consumption",
        "cycle_realized",
        "lifetime_consumption",
        "exits",
        "rewards",
        "cap",
        "referral_link",
        "referral_qr_svg",
    ] {
        assert!(me.get(k).is_some(), "/v1/me has {k}: {me}");
    }
    assert_eq!(s(&me["member"]), "alice");
    assert_eq!(s(&me["points"]), s(&srv.state()["members"]["alice"]["points"]));
    assert_eq!(s(&me["lifetime_consumption"]), "1094.50");
    assert_eq!(s(&me["cap"]["multiple"]), "1.2");
    assert_eq!(s(&me["cap"]["cap"]), "1313.40", "1.2 × the cycle's consumption: {me}");
    // (The host and port of the link: see regressions::referral_link_says_port_0_when_listening_on_port_0.)
    let link = s(&me["referral_link"]);
    assert!(link.starts_with("http://127.0.0.1:") && link.ends_with("/join?ref=alice"), "{link}");
    let svg = s(&me["referral_qr_svg"]);
    assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.contains("</svg>"));
    assert_eq!(s(&me["price"]), s(&srv.get_ok("/v1/stats", None)["price"]));
    // Value, cap progress and what an exit would pay, from the pool and supply (SPEC §3, §6).
    let st = srv.state();
    let (pool, supply) = (i128::from(fen(s(&st["pool"]))), i128::from(units(s(&st["supply"]))));
    let held_units = i128::from(units(s(&me["points"])) + units(s(&me["locked"])));
    let held = held_units * pool / supply;
    assert_eq!(i128::from(fen(s(&me["value_now"]))), held, "value = ⌊held · pool / supply⌋: {me}");
    let (cap, realised) = (i128::from(fen(s(&me["cap"]["cap"]))), i128::from(fen(s(&me["cycle_realized"]))));
    let room = (cap - realised).clamp(0, held);
    let payout = room - (room * 200_000 + 999_999) / 1_000_000;
    assert_eq!(i128::from(fen(s(&me["cap"]["exit_would_pay_now"]))), payout, "{me}");
    let ppm = (realised + held) * 1_000_000 / cap;
    let rate = format!("{}.{:06}", ppm / 1_000_000, ppm % 1_000_000);
    assert_eq!(s(&me["cap"]["progress"]), rate.trim_end_matches('0').trim_end_matches('.'), "{me}");

    // Sell: the preview's payout is what the sale pays.
    let preview = srv.post_ok("/v1/me/sell/preview", at, &json!({"points": "10"}));
    assert_eq!((s(&preview["points"]), s(&preview["retention"])), ("10.00000000", "0.2"), "{preview}");
    let (gross, kept, payout) =
        (fen(s(&preview["gross"])), fen(s(&preview["kept_in_pool"])), fen(s(&preview["payout"])));
    assert_eq!(gross, kept + payout);
    assert!(payout > 0);
    let cash_before = fen(s(&me["cash"]));
    let sold = srv.post_ok("/v1/me/sell", at, &json!({"points": "10"}));
    assert_eq!((sold["ok"].clone(), s(&sold["member"])), (json!(true), "alice"), "{sold}");
    assert_eq!(fen(s(&sold["balances"]["cash"])), cash_before + payout, "the sale pays what the preview said: {sold}");
    let me2 = srv.get_ok("/v1/me", at);
    assert_eq!(fen(s(&me2["cash"])), cash_before + payout);
    assert_eq!(units(s(&me2["points"])), units(s(&me["points"])) - 10 * 100_000_000);
    assert_eq!(fen(s(&me2["cycle_realized"])), gross, "R grows by the gross");
    // Preview of "all".
    let all = srv.post_ok("/v1/me/sell/preview", at, &json!({"points": "all"}));
    assert_eq!(s(&all["points"]), s(&me2["points"]));

    // Redeem and withdraw.
    let pool_before = fen(s(&srv.get_ok("/v1/stats", None)["pool"]));
    let r = srv.post_ok("/v1/me/redeem", at, &json!({"amount": "5"}));
    assert_eq!(r["ok"], true);
    assert!(units(s(&r["balances"]["points"])) < units(s(&me2["points"])));
    assert_eq!(
        fen(s(&srv.get_ok("/v1/stats", None)["pool"])),
        pool_before - 500,
        "redeem takes the amount from the pool"
    );
    // A withdrawal waits for an operator with its amount reserved; nothing leaves before it is
    // paid. A rejected one gives the reserved cash back.
    let w = srv.post_json("/v1/me/withdraw", at, &json!({"amount": "1"}));
    assert_eq!(w.status, 202, "{}", w.text);
    let w = w.json()["withdrawal"].clone();
    assert_eq!((s(&w["status"]), s(&w["amount"]), s(&w["member"])), ("pending", "1.00", "alice"), "{w}");
    let wid = s(&w["id"]).to_string();
    let me3 = srv.get_ok("/v1/me", at);
    assert_eq!(fen(s(&me3["cash"])), cash_before + payout, "nothing leaves before payment");
    assert_eq!((fen(s(&me3["pending_withdrawals"])), fen(s(&me3["withdrawable"]))), (100, cash_before + payout - 100));
    let second = srv.post_json("/v1/me/withdraw", at, &json!({"amount": "0.50"})).json()["withdrawal"].clone();
    let mine = srv.get_ok("/v1/me/withdrawals", at);
    let ids: Vec<&str> = mine["items"].as_array().unwrap().iter().map(|x| s(&x["id"])).collect();
    assert_eq!(ids, [wid.as_str(), s(&second["id"])], "oldest first");
    let queue = srv.get_ok("/v1/admin/withdrawals?status=pending", admin);
    assert_eq!(queue["items"].as_array().unwrap().len(), 2, "{queue}");
    assert_eq!(srv.get_ok(&format!("/v1/admin/withdrawals/{wid}"), admin)["status"], "pending");
    let len = srv.journal_length();
    let rejected =
        srv.post_ok(&format!("/v1/admin/withdrawals/{}/reject", s(&second["id"])), admin, &json!({"reason": "测试"}));
    assert_eq!((s(&rejected["withdrawal"]["status"]), s(&rejected["withdrawal"]["reason"])), ("rejected", "测试"));
    assert_eq!(srv.journal_length(), len, "a rejection journals nothing: the ledger never moved");
    assert_eq!(
        fen(s(&srv.get_ok("/v1/me", at)["withdrawable"])),
        cash_before + payout - 100,
        "0.50 is withdrawable again"
    );
    let paid = srv.post_ok(&format!("/v1/admin/withdrawals/{wid}/pay"), admin, &json!({}));
    let paid = &paid["withdrawal"];
    assert_eq!((s(&paid["status"]), paid["seq"].as_u64()), ("paid", Some(len + 1)), "{paid}");
    assert_eq!(fen(s(&paid["fee"])) + fen(s(&paid["payout"])), 100);
    let me4 = srv.get_ok("/v1/me", at);
    assert_eq!(
        (fen(s(&me4["cash"])), fen(s(&me4["withdrawable"]))),
        (cash_before + payout - 100, cash_before + payout - 100)
    );
    // Paying part of an order with that cash.
    srv.post_ok(
        "/v1/orders",
        ik,
        &json!({"order": "a-cash", "member": "alice", "merchant": "shop2", "amount": "10", "pay_cash": "2.5"}),
    );
    assert_eq!(fen(s(&srv.get_ok("/v1/me", at)["cash"])), cash_before + payout - 100 - 250);
    assert_eq!(s(&srv.state()["totals"]["cash_spent"]), "2.50");

    // History: pages of every size give every row exactly once, in order; rows add up.
    let rows = check_ledger_adds_up(&srv, &alice);
    assert!(rows.len() >= 13, "orders, sell, redeem, withdraw: {rows:?}");
    let reasons: BTreeSet<&str> = rows.iter().map(|r| s(&r["reason"])).collect();
    for reason in ["order", "sell", "redeem", "withdraw"] {
        assert!(reasons.contains(reason), "{reason} in {reasons:?}");
    }
    for limit in [1, 2, 3, 5, 7] {
        assert_eq!(history_pages(&srv, &alice, limit), rows, "pages of {limit}");
    }
    let empty = srv.get_ok("/v1/me/history?before=1", at);
    assert_eq!((empty["items"].clone(), empty["next_before"].clone()), (json!([]), Value::Null));
    // The promoter is the store's recruiter and its district agent: two rows per order, and a
    // page never splits an order's rows.
    let promoter = srv.member_token("promoter");
    let rows = check_ledger_adds_up(&srv, &promoter);
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).any(|w| w[0] == w[1]), "an entry with two rows for the promoter: {rows:?}");
    for limit in [1, 2, 3] {
        assert_eq!(history_pages(&srv, &promoter, limit), rows, "promoter, pages of {limit}");
    }
    let first = srv.get_ok("/v1/me/history?limit=1", Some(&promoter));
    assert_eq!(first["items"].as_array().unwrap().len(), seqs.iter().filter(|s| **s == seqs[0]).count());
    let owner_token = srv.member_token("owner");
    let owner_rows = check_ledger_adds_up(&srv, &owner_token);
    assert!(owner_rows.iter().any(|r| s(&r["reason"]).starts_with("reward_")), "{owner_rows:?}");
    // Each reward names its kind: the promoter's are the recruiter's and the district agent's.
    let kinds: BTreeSet<&str> = rows.iter().map(|r| s(&r["reason"])).filter(|r| r.starts_with("reward_")).collect();
    assert_eq!(kinds, BTreeSet::from(["reward_district", "reward_recruiter"]), "{rows:?}");

    // Admin: rules with a warning, an invalid value, back again.
    let put = srv.request("PUT", "/v1/admin/rules", admin, Some(br#"{"exit": {"multiple": "2"}}"#.to_vec())).ok();
    let paths: Vec<&str> = put["warnings"].as_array().unwrap().iter().map(|w| s(&w["path"])).collect();
    assert_eq!(paths, ["exit.multiple"], "{put}");
    assert!(
        put["warnings"][0]["zh"].as_str().is_some_and(|t| !t.is_empty()) && put["warnings"][0]["en"].as_str().is_some()
    );
    let got = srv.get_ok("/v1/admin/rules", admin);
    assert_eq!((s(&got["rules"]["exit"]["multiple"]), s(&got["warnings"][0]["path"])), ("2", "exit.multiple"));
    let len = srv.journal_length();
    let bad = srv.request(
        "PUT",
        "/v1/admin/rules",
        admin,
        Some(br#"{"sell": {"retention": "1.5"}, "exit": {"multiple": "101"}}"#.to_vec()),
    );
    let v = bad.err(422, "invalid_rules");
    let message = s(&v["message"]);
    assert!(
        message.contains("sell.retention") && message.contains("exit.multiple"),
        "every problem is named: {message}"
    );
    assert_eq!(srv.journal_length(), len, "invalid rules change nothing");
    let put = srv.request("PUT", "/v1/admin/rules", admin, Some(br#"{"exit": {"multiple": "1.2"}}"#.to_vec())).ok();
    assert_eq!(put["warnings"], json!([]));

    // Inject, campaign, release, dividends.
    let pool_before = fen(s(&srv.get_ok("/v1/stats", None)["pool"]));
    let inj = srv.post_ok("/v1/admin/inject", admin, &json!({"amount": "100"}));
    assert_eq!(inj["ok"], true);
    let stats = srv.get_ok("/v1/stats", None);
    assert_eq!(fen(s(&stats["pool"])), pool_before + 10_000);
    assert_eq!(s(&stats["totals"]["injected"]), "100.00");
    let c = srv.post_ok("/v1/admin/campaigns", admin, &json!({"campaign": "c1", "rate": "0.05", "budget": "100"}));
    assert_eq!(c["ok"], true);
    srv.post_ok("/v1/orders", ik, &json!({"order": "o4", "member": "carol", "merchant": "shop1", "amount": "100"}));
    srv.post_ok("/v1/admin/campaigns/end", admin, &json!({}));
    let st = srv.state();
    assert_eq!((s(&st["totals"]["subsidies"]), s(&st["totals"]["subsidy_returned"])), ("5.00", "95.00"), "{st}");
    let held = |st: &Value| units(s(&st["members"]["bob"]["points"])) + units(s(&st["members"]["bob"]["locked"]));
    let (locked_before, held_before) = (units(s(&st["members"]["bob"]["locked"])), held(&st));
    srv.post("/v1/admin/release-locked", admin, "").ok();
    let st = srv.state();
    let locked_after = units(s(&st["members"]["bob"]["locked"]));
    assert!(locked_after < locked_before, "release frees some locked points");
    assert_eq!(held(&st), held_before, "released points move from locked to free");
    let pool = fen(s(&st["dividend_pool"]));
    assert!(pool > 0, "dividends accrued: {st}");
    let cash = |st: &Value, m: &str| fen(s(&st["members"][m]["cash"]));
    let (owner_cash, promoter_cash) = (cash(&st, "owner"), cash(&st, "promoter"));
    srv.post_ok("/v1/admin/dividends", admin, &json!({}));
    let st2 = srv.state();
    assert_eq!(cash(&st2, "owner"), owner_cash + pool * 3 / 4, "weight 3 of 4");
    assert_eq!(cash(&st2, "promoter"), promoter_cash + pool / 4, "weight 1 of 4");
    assert_eq!(fen(s(&st2["dividend_pool"])), pool - pool * 3 / 4 - pool / 4);

    // Admin: state and members.csv (read-only key too).
    let state_resp = srv.get("/v1/admin/state", rk);
    assert!(state_resp.ctype.starts_with("application/json"));
    let state_text = state_resp.text.clone();
    assert!(state_text.ends_with("}\n") && state_text.starts_with("{\n  \"pool\": "), "{state_text}");
    assert!(!state_text.contains("\"results\""));
    let st: Value = serde_json::from_str(&state_text).unwrap();
    let keys: Vec<&String> = st.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
    let members: Vec<&String> = st["members"].as_object().unwrap().keys().collect();
    assert_eq!(members, ["alice", "bob", "carol", "owner", "promoter"]);
    let csv = srv.get("/v1/admin/export/members.csv", rk);
    assert_eq!(csv.status, 200);
    check_exports(&srv, &st, &csv.text);
    assert!(csv.ctype.starts_with("text/csv"), "{}", csv.ctype);
    let mut lines = csv.text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "member",
            "points",
            "locked",
            "cash",
            "coins",
            "cycle_consumption",
            "cycle_realized",
            "lifetime_consumption",
            "exits",
            "rewards"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 5);
    for row in &rows {
        let m = &st["members"][row[0]];
        for (i, k) in header.iter().enumerate().skip(1) {
            let want = if m[*k].is_string() { s(&m[*k]).to_string() } else { m[*k].to_string() };
            assert_eq!(row[i], want, "{}.{k}", row[0]);
        }
    }

    // Public, after the activity.
    let stats = srv.get_ok("/v1/stats", None);
    for k in [
        "pool",
        "supply",
        "price",
        "members",
        "members_holding",
        "merchants",
        "orders",
        "exits",
        "totals",
        "platform_revenue",
        "dividend_pool",
    ] {
        assert!(stats.get(k).is_some(), "stats has {k}: {stats}");
    }
    assert_eq!(
        (s(&stats["pool"]), s(&stats["supply"]), s(&stats["price"])),
        (s(&st["pool"]), s(&st["supply"]), s(&st["price"]))
    );
    assert_eq!(
        (stats["members"].clone(), stats["merchants"].clone(), stats["orders"].clone()),
        (json!(5), json!(2), st["totals"]["orders"].clone())
    );
    for interval in ["minute", "hour", "day"] {
        let h = srv.get_ok(&format!("/v1/price/history?interval={interval}"), None);
        assert_eq!((s(&h["interval"]), s(&h["timezone"])), (interval, "Asia/Shanghai"));
        let candles = h["candles"].as_array().unwrap();
        assert!(!candles.is_empty(), "{interval}: {h}");
        let last = candles.last().unwrap();
        assert_eq!(s(&last["close"]), s(&stats["price"]), "{interval}: the last close is the price now");
        assert_eq!((s(&last["pool"]), s(&last["supply"])), (s(&stats["pool"]), s(&stats["supply"])));
        let mut previous_close = 0;
        for c in candles {
            let [open, high, low, close] = ["open", "high", "low", "close"].map(|k| units(s(&c[k])));
            assert!(low <= open && open <= high && low <= close && close <= high, "{c}");
            // The price never falls (SPEC §7.1), so within a candle it opens at its low and
            // closes at its high, and each candle opens at or above the last close.
            assert_eq!((open, close), (low, high), "{c}");
            assert!(open >= previous_close, "{c}");
            previous_close = close;
        }
    }
    assert_eq!(srv.get_ok("/v1/price/history", None)["interval"], "hour", "hour is the default");
    let one = srv.get_ok("/v1/price/history?interval=minute&limit=1", None);
    assert_eq!(one["candles"].as_array().unwrap().len(), 1);
    let proof = srv.get_ok("/v1/proof", None);
    let c = &proof["conservation"];
    assert_eq!(s(&c["money_in"]["total"]), s(&c["money_where"]["total"]), "money adds up: {proof}");
    assert_eq!(
        fen(s(&c["money_in"]["total"])),
        ["commissions", "injected", "subsidies"].iter().map(|k| fen(s(&c["money_in"][k]))).sum::<i64>()
    );
    assert_eq!(
        fen(s(&c["money_where"]["total"])),
        ["pool", "member_cash", "platform_revenue", "dividend_pool", "withdrawn", "cash_spent", "redeemed"]
            .iter()
            .map(|k| fen(s(&c["money_where"][k])))
            .sum::<i64>()
    );
    assert_eq!(s(&c["points"]["supply"]), s(&c["points"]["held_by_members"]));
    assert_eq!(s(&c["coins"]["issued"]), "50.00");
    assert_eq!(fen(s(&c["coins"]["issued"])), fen(s(&c["coins"]["held"])) + fen(s(&c["coins"]["spent"])));
    let head = s(&proof["head_hash"]);
    assert!(head.len() == 64 && head.bytes().all(|b| b.is_ascii_hexdigit()), "{head}");
    assert!(proof["journal_length"].as_u64().unwrap() > 25);

    // OpenAPI: every route of the table, with its method.
    let doc = srv.get_ok("/v1/openapi.json", None);
    assert!(s(&doc["openapi"]).starts_with("3."));
    for r in &table() {
        let op = &doc["paths"][&r.path][r.method];
        assert!(op.is_object(), "{} {} is documented", r.method, r.path);
        assert!(op["summary"].as_str().is_some());
    }
    let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, table().len());

    // Metrics; and every route of the table has answered 200 in this test.
    srv.get_ok("/healthz", None);
    let metrics = srv.get("/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.ctype.starts_with("text/plain"), "{}", metrics.ctype);
    let metrics = srv.get("/metrics", None).text;
    assert!(metrics.contains("zengzhi_http_requests_total{"), "{metrics}");
    let orders_line = metrics.lines().find(|l| l.starts_with("zengzhi_orders_total ")).expect("zengzhi_orders_total");
    assert_eq!(orders_line, format!("zengzhi_orders_total {}", stats["orders"]));
    assert!(metrics.contains(&format!("zengzhi_journal_head {}", srv.journal_length())));
    let engine_bytes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("zengzhi_engine_heap_bytes "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("zengzhi_engine_heap_bytes in {metrics}"));
    assert!(engine_bytes > 0, "the engine holds members and orders");
    // The projector's watermark never passes the head, and reaches it once the load stops.
    let gauge = |text: &str, name: &str| -> u64 {
        let line = text.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {text}"));
        line.trim().parse().unwrap()
    };
    let head = srv.journal_length();
    let mut projected = gauge(&metrics, "zengzhi_projection_watermark ");
    for _ in 0..100 {
        if projected >= head {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        projected = gauge(&srv.get("/metrics", None).text, "zengzhi_projection_watermark ");
    }
    assert_eq!(projected, head, "the query tables catch up with the journal");
    // (The refund route needs a settlement delay: `zengzhi-server`'s in-process `settlement_delay_and_refunds` covers it.
    // The operator-account routes — sign-in, users, keys, the operation and login logs — are
    // exercised by `zengzhi-server`'s in-process `tests/accounts.rs` on both backends.)
    // The console's lists, figures, jobs and writes, the simulator workbench, and the member and
    // store pages' routes are exercised in process too (`tests/members.rs`, `network.rs`,
    // `insight.rs`, `sim.rs`, `member_jwt.rs`, `storefront.rs`), and each answers success to an
    // allowed caller in the authorisation matrix.
    let accounts = |p: &str| {
        p.starts_with("/v1/auth/")
            || [
                "/v1/admin/users", "/v1/admin/keys", "/v1/admin/audit", "/v1/admin/logins", "/v1/admin/members",
                "/v1/admin/orders", "/v1/admin/stores", "/v1/admin/agents", "/v1/admin/shareholders",
                "/v1/admin/stats/", "/v1/admin/leaderboards", "/v1/admin/finance/", "/v1/admin/jobs",
                "/v1/admin/coins/", "/v1/admin/rules/", "/v1/me/referrals", "/v1/me/rules", "/v1/join",
                "/v1/admin/sim/", "/v1/store/", "/v1/merchants/{id}/token",
            ]
            .iter()
            .any(|a| p.starts_with(a))
    };
    for r in table().iter().filter(|r| r.path != "/v1/orders/{id}/refund" && !accounts(&r.path)) {
        let status = if r.path == "/v1/me/withdraw" { 202 } else { 200 };
        let wanted = format!("method=\"{}\",route=\"{}\",status=\"{status}\"", r.method.to_uppercase(), r.path);
        assert!(
            metrics.lines().any(|l| l.starts_with("zengzhi_http_requests_total{") && l.contains(&wanted)),
            "{} {} answered 200 in this test (metrics: {wanted})",
            r.method,
            r.path
        );
    }
}

// ---- auth ----------------------------------------------------------------------------------

// ---- errors --------------------------------------------------------------------------------

// ---- idempotency ---------------------------------------------------------------------------

// ---- random load ---------------------------------------------------------------------------

const LOAD_RULES: &str =
    "[sell]\nretention = \"0.10\"\nmin_lifetime_consumption = \"5.00\"\n[exit]\nmultiple = \"0.15\"\n\
[dividends]\nshare_of_platform = \"0.20\"\n[withdraw]\nmin = \"1.00\"\nfee = \"0.01\"\n[vesting]\nrelease = \"0.05\"\n";

const MEMBERS: u64 = 40;
const STORES: u64 = 5;

fn random_amount(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => ["0", "-1", "1.001", "1e2", "abc"][rng.below(5) as usize].to_string(),
        1..=3 => money(1 + rng.below(500)),
        _ => money(100 + rng.below(300_000)),
    }
}

fn random_member(rng: &mut Rng) -> String {
    if rng.chance(4) {
        "ghost".into()
    } else {
        format!("m{}", rng.below(MEMBERS))
    }
}

fn random_order(rng: &mut Rng, id: String) -> Value {
    let mut o = json!({"order": id, "member": random_member(rng), "amount": random_amount(rng)});
    match rng.below(10) {
        0 => o["commission"] = json!(money(rng.below(200))),
        1 => o["merchant"] = json!("nowhere"),
        _ => o["merchant"] = json!(format!("s{}", rng.below(STORES))),
    }
    if rng.chance(15) {
        o["pay_coins"] = json!(money(rng.below(3000)));
    }
    if rng.chance(10) {
        o["pay_cash"] = json!(money(rng.below(3000)));
    }
    if rng.chance(2) {
        o["extra"] = json!(1);
    }
    o
}

/// One client's random requests; returns (requests, accepted writes).
fn random_client(srv: &Server, tokens: &BTreeMap<String, String>, client: u64, ops: usize) -> (usize, usize) {
    let mut rng = Rng::new(0x5eed + client);
    let ik = Some(srv.admin.as_str());
    let mut sent: Vec<Value> = Vec::new();
    let mut n = 0;
    let mut accepted = 0;
    let mut requests = 0;
    let mut batches = 0;
    let mut check = |r: Resp| -> bool {
        requests += 1;
        assert!(
            [200, 400, 404, 409, 422].contains(&r.status),
            "client {client}: {} {} → {} {}",
            r.method,
            r.path,
            r.status,
            r.text
        );
        if r.status == 200 {
            r.json();
            true
        } else {
            r.err(r.status, &r.error_code());
            false
        }
    };
    for _ in 0..ops {
        let member = format!("m{}", rng.below(MEMBERS));
        let token = tokens.get(&member).map(String::as_str);
        match rng.below(100) {
            0..=39 => {
                // One order; sometimes an earlier one again (same body or changed).
                let body = if !sent.is_empty() && rng.chance(8) {
                    let mut old = sent[rng.below(sent.len() as u64) as usize].clone();
                    if rng.chance(50) {
                        old["amount"] = json!("1.23");
                    }
                    old
                } else {
                    n += 1;
                    random_order(&mut rng, format!("c{client}o{n}"))
                };
                let r = srv.post_json("/v1/orders", ik, &body);
                if check(r.clone()) && r.json()["idempotent_replay"] == false {
                    accepted += 1;
                }
                sent.push(body);
            }
            40..=54 => {
                let items: Vec<Value> = (0..1 + rng.below(15))
                    .map(|_| {
                        n += 1;
                        if rng.chance(5) {
                            json!("junk")
                        } else {
                            random_order(&mut rng, format!("c{client}o{n}"))
                        }
                    })
                    .collect();
                let r = srv.post_json("/v1/orders/batch", ik, &json!({"orders": items}));
                assert_eq!(r.status, 200, "{}", r.text);
                let v = r.json();
                let results = v["results"].as_array().unwrap();
                assert_eq!(results.len(), items.len());
                for (item, result) in items.iter().zip(results) {
                    if result["ok"] == true {
                        assert_eq!(result["order"], item["order"]);
                    } else {
                        assert!(result["error"].is_string(), "{result}");
                    }
                }
                accepted += results.iter().filter(|r| r["ok"] == true && r["idempotent_replay"] == false).count();
                sent.extend(items.into_iter().filter(Value::is_object));
                batches += 1;
            }
            55..=69 => {
                let points = match rng.below(4) {
                    0 => "all".to_string(),
                    1 => "0".to_string(),
                    _ => format!("{}.{:08}", rng.below(60), rng.below(100_000_000)),
                };
                let path = if rng.chance(20) { "/v1/me/sell/preview" } else { "/v1/me/sell" };
                let r = srv.post_json(path, token, &json!({"points": points}));
                if check(r) && path == "/v1/me/sell" {
                    accepted += 1;
                }
            }
            70..=76 => {
                let r = srv.post_json("/v1/me/redeem", token, &json!({"amount": random_amount(&mut rng)}));
                accepted += usize::from(check(r));
            }
            77..=85 => {
                // Queued (202), then paid (journaled) or rejected by the operator.
                let r = srv.post_json("/v1/me/withdraw", token, &json!({"amount": money(rng.below(5_000))}));
                if r.status == 202 {
                    let id = s(&r.json()["withdrawal"]["id"]).to_string();
                    let decision = if rng.chance(70) { "pay" } else { "reject" };
                    let d = srv.post(&format!("/v1/admin/withdrawals/{id}/{decision}"), ik, "");
                    accepted += usize::from(check(d) && decision == "pay");
                } else {
                    check(r);
                }
            }
            86..=91 => {
                let r = srv.post_json("/v1/admin/inject", ik, &json!({"amount": random_amount(&mut rng)}));
                accepted += usize::from(check(r));
            }
            92..=93 => {
                let path = if rng.chance(50) { "/v1/admin/release-locked" } else { "/v1/admin/dividends" };
                accepted += usize::from(check(srv.post(path, ik, "")));
            }
            94..=95 => {
                let r = if rng.chance(50) {
                    n += 1;
                    srv.post_json(
                        "/v1/admin/campaigns",
                        ik,
                        &json!({"campaign": format!("c{client}k{n}"), "rate": "0.02", "budget": money(1 + rng.below(50_000))}),
                    )
                } else {
                    srv.post("/v1/admin/campaigns/end", ik, "{}")
                };
                accepted += usize::from(check(r));
            }
            96 => {
                let retention = ["0.05", "0.10", "0.2", "1.5"][rng.below(4) as usize];
                let r = srv.request(
                    "PUT",
                    "/v1/admin/rules",
                    ik,
                    Some(format!(r#"{{"sell": {{"retention": "{retention}"}}}}"#).into_bytes()),
                );
                accepted += usize::from(check(r));
            }
            97 => {
                let r = srv.post_json(
                    "/v1/coins",
                    ik,
                    &json!({"member": random_member(&mut rng), "amount": random_amount(&mut rng)}),
                );
                accepted += usize::from(check(r));
            }
            _ => {
                check(srv.get("/v1/me", token));
                check(srv.get("/v1/stats", None));
            }
        }
    }
    (requests + batches, accepted)
}

/// The CSV exports against the state: holdings at today's date (Beijing) are the members' rows
/// now plus their value; at a date before the journal, nobody; orders.csv has every order once.
fn check_exports(srv: &Server, st: &Value, members_csv: &str) {
    let admin = Some(srv.admin.as_str());
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8)).date();
    let resp = srv.get(&format!("/v1/admin/export/holdings.csv?date={today}"), admin);
    assert_eq!(resp.status, 200, "{}", resp.text);
    let holdings: Vec<&str> = resp.text.lines().collect();
    let members: Vec<&str> = members_csv.lines().collect();
    assert_eq!(holdings.len(), members.len());
    assert_eq!(holdings[0], format!("{},value", members[0]));
    let held = |m: &str| -> i64 {
        let row = &st["members"][m];
        units(s(&row["points"])) + units(s(&row["locked"]))
    };
    for (h, m) in holdings.iter().zip(&members).skip(1) {
        let (prefix, value) = h.rsplit_once(',').unwrap();
        assert_eq!(&prefix, m, "holdings today = members now");
        let id = m.split(',').next().unwrap();
        assert!(held(id) > 0 || fen(value) == 0, "{h}: no points, no value");
    }
    let old = srv.get("/v1/admin/export/holdings.csv?date=2001-01-01", admin);
    assert_eq!(old.text.lines().count(), 1, "nobody held anything in 2001: {}", old.text);
    srv.get("/v1/admin/export/holdings.csv?date=2001-02-30", admin).err(400, "invalid_query");
    srv.get("/v1/admin/export/holdings.csv", admin).err(400, "invalid_query");
    let orders = srv.get("/v1/admin/export/orders.csv", admin).text;
    let rows: Vec<&str> = orders.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, st["totals"]["orders"].as_u64().unwrap(), "every order once");
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.split(',').nth(1).unwrap()).collect();
    assert_eq!(ids.len(), rows.len());
    let seqs: Vec<u64> = rows.iter().map(|r| r.split(',').next().unwrap().parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "by journal position");
    let yesterday = today.previous_day().unwrap();
    let recent = srv.get(&format!("/v1/admin/export/orders.csv?from={yesterday}&to={today}"), admin).text;
    assert_eq!(recent, orders, "every order was made in the last day");
    let none = srv.get("/v1/admin/export/orders.csv?to=2001-01-01", admin).text;
    assert_eq!(none.lines().count(), 1);
    let tail = srv.get(&format!("/v1/admin/export/orders.csv?after_seq={}", seqs[seqs.len() / 2]), admin).text;
    assert_eq!(tail.lines().count() - 1, rows.len() - seqs.len() / 2 - 1);
}

fn random_load_equals_export_and_replay(store: &Store) {
    let mut srv = Server::start(store, &Opts { rules_toml: Some(LOAD_RULES.into()), ..Opts::default() });
    let ik = Some(srv.admin.as_str());
    let rules = srv.get_ok("/v1/admin/rules", ik);
    assert_eq!(s(&rules["rules"]["sell"]["retention"]), "0.1", "the --rules file is the program's rules: {rules}");
    // Members in referral trees, stores with owners and recruiters, QR sign-ups, agents,
    // shareholders and coins.
    for i in 0..30 {
        let body = if i == 0 {
            json!({"member": "m0"})
        } else {
            json!({"member": format!("m{i}"), "referrer": format!("m{}", (i - 1) / 2)})
        };
        srv.post_ok("/v1/members", ik, &body);
    }
    let regions = ["441900", "441901", "110101", "310104", "441900"];
    for (k, region) in regions.iter().enumerate() {
        let commission = ["0.2", "0.15", "0.1", "0.25", "0"][k];
        srv.post_ok(
            "/v1/merchants",
            ik,
            &json!({"merchant": format!("s{k}"), "owner": format!("m{k}"), "recruiter": format!("m{}", 10 + k), "region": region,
                    "commission": commission}),
        );
    }
    for i in 30..MEMBERS {
        let v =
            srv.post_ok("/v1/members", ik, &json!({"member": format!("m{i}"), "store": format!("s{}", i % STORES)}));
        assert_eq!(v["referrer"], json!(format!("m{}", i % STORES)));
    }
    for (member, level, region) in [
        ("m6", "district", "441900"),
        ("m7", "city", "441900"),
        ("m8", "province", "440000"),
        ("m9", "district", "110101"),
    ] {
        srv.post_ok("/v1/agents", ik, &json!({"member": member, "level": level, "region": region}));
    }
    srv.post_ok("/v1/shareholders", ik, &json!({"member": "m0", "weight": 2}));
    srv.post_ok("/v1/shareholders", ik, &json!({"member": "m1", "weight": 1}));
    for i in (0..MEMBERS).step_by(3) {
        srv.post_ok("/v1/coins", ik, &json!({"member": format!("m{i}"), "amount": "200"}));
    }
    let tokens: BTreeMap<String, String> =
        (0..MEMBERS).map(|i| format!("m{i}")).map(|m| (m.clone(), srv.member_token(&m))).collect();

    // Three clients at once, so the writer groups requests into shared commits.
    let started = std::time::Instant::now();
    let per_client = 200;
    let results: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|c| {
                let (srv, tokens) = (&srv, &tokens);
                scope.spawn(move || random_client(srv, tokens, c, per_client))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let requests: usize = results.iter().map(|r| r.0).sum();
    let accepted: usize = results.iter().map(|r| r.1).sum();
    let st = srv.state();
    eprintln!(
        "{}: {requests} random requests, {accepted} accepted writes in {:?}; {} orders, {} exits",
        store.kind(),
        started.elapsed(),
        st["totals"]["orders"],
        st["totals"]["exits"]
    );
    assert!(accepted > 150, "most of the load was accepted ({accepted})");
    assert!(st["totals"]["exits"].as_u64().unwrap() > 0, "the load reached the exit cascade");

    // The live state equals a fresh replay of the exported journal (the server still running).
    let live = srv.state_text();
    let length = srv.journal_length();
    let (exported, replayed) = store.export_and_replay();
    assert_eq!(exported.lines().count() as u64, length, "the export holds every journal entry");
    assert!(exported.lines().next().unwrap().starts_with(r#"{"op":"update_rules""#), "the --rules come first");
    assert!(!replayed.contains("\"ok\": false"), "every exported line replays ok");
    let results_part = replayed.split_once("\"results\"").unwrap().1;
    assert_eq!(results_part.matches("\"ok\": true").count() as u64, length);
    assert!(
        replay_state_without_results(&replayed) == live,
        "GET /v1/admin/state = replay of export-journal, byte for byte\nlive:\n{live}\nreplayed:\n{replayed}"
    );

    // Cross-checks of the read routes on the final state.
    let st: Value = serde_json::from_str(&live).unwrap();
    let stats = srv.get_ok("/v1/stats", None);
    assert_eq!(
        (s(&stats["pool"]), s(&stats["supply"]), s(&stats["price"])),
        (s(&st["pool"]), s(&st["supply"]), s(&st["price"]))
    );
    assert_eq!(stats["orders"], st["totals"]["orders"]);
    let proof = srv.get_ok("/v1/proof", None);
    let c = &proof["conservation"];
    assert_eq!(s(&c["money_in"]["total"]), s(&c["money_where"]["total"]), "{proof}");
    assert_eq!(s(&c["points"]["supply"]), s(&st["supply"]));
    let csv = srv.get("/v1/admin/export/members.csv", ik).text;
    assert_eq!(csv.lines().count() as u64, MEMBERS + 1);
    check_exports(&srv, &st, &csv);
    // The withdrawal queue agrees with the ledger: the paid ones are what left, net of fees.
    let mut paid_out = 0;
    let mut after = String::new();
    loop {
        let page = srv.get_ok(&format!("/v1/admin/withdrawals?limit=7&after={after}"), ik);
        for w in page["items"].as_array().unwrap() {
            if w["status"] == "paid" {
                paid_out += fen(s(&w["payout"]));
            }
        }
        match page["next_after"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(paid_out, fen(s(&st["totals"]["withdrawn"])), "paid withdrawals = totals.withdrawn");
    for i in [0, 1, 5, 17, 33] {
        check_ledger_adds_up(&srv, &tokens[&format!("m{i}")]);
    }
    assert_eq!(
        history_pages(&srv, &tokens["m0"], 4),
        srv.get_ok("/v1/me/history?limit=500", Some(&tokens["m0"]))["items"].as_array().unwrap().clone()
    );

    // After a graceful stop the journal verifies and replays to the same state.
    srv.assert_no_errors_logged();
    assert!(srv.terminate().success());
    srv.assert_no_errors_logged();
    let o = store.zengzhi(&["verify", "--json"]);
    assert!(o.status.success(), "verify: {}", String::from_utf8_lossy(&o.stdout));
    let (_, replayed) = store.export_and_replay();
    assert!(replay_state_without_results(&replayed) == live);
}

// ---- graceful shutdown ---------------------------------------------------------------------

fn sigterm_drains_and_restart_keeps_state(store: &Store) {
    let mut srv = Server::start(store, &Opts::default());
    let ik = Some(srv.admin.as_str());
    for m in ["alice", "bob"] {
        srv.post_ok("/v1/members", ik, &json!({"member": m}));
    }
    srv.post_ok("/v1/merchants", ik, &json!({"merchant": "shop"}));
    srv.post_ok("/v1/orders", ik, &json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"}));
    srv.request("PUT", "/v1/admin/rules", ik, Some(br#"{"sell": {"retention": "0.15"}}"#.to_vec())).ok();
    let alice = srv.member_token("alice");
    srv.post_ok("/v1/me/sell", Some(&alice), &json!({"points": "12.5"}));
    let state = srv.state_text();
    let length = srv.journal_length();
    let status = srv.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM: a clean exit ({status}); log: {}", srv.log_text());
    assert!(srv.log_text().contains("stopped"), "{}", srv.log_text());

    // Restarted on the same store (with other --rules, which an existing program ignores).
    let mut srv =
        Server::start(store, &Opts { rules_toml: Some("[sell]\nretention = \"0.5\"\n".into()), ..Opts::default() });
    assert_eq!(srv.state_text(), state, "the same state after a restart");
    assert_eq!(srv.journal_length(), length);
    assert_eq!(s(&srv.get_ok("/v1/admin/rules", Some(&srv.admin))["rules"]["sell"]["retention"]), "0.15");
    let me = srv.get_ok("/v1/me", Some(&alice));
    assert_eq!(me["member"], "alice", "a member token from before the restart still works");
    let o = srv.post_ok(
        "/v1/orders",
        Some(&srv.admin),
        &json!({"order": "o2", "member": "bob", "merchant": "shop", "amount": "10"}),
    );
    assert_eq!(o["seq"].as_u64(), Some(length + 1), "the journal continues");
    assert_eq!(
        srv.post_ok(
            "/v1/orders",
            Some(&srv.admin),
            &json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"})
        )["idempotent_replay"],
        true
    );

    // SIGTERM under load: every acknowledged order is there after the restart, as acknowledged.
    let (url, admin) = (srv.url.clone(), srv.admin.clone());
    let loader = std::thread::spawn(move || {
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let mut acked = Vec::new();
        for i in 0.. {
            let body = json!({"order": format!("g{i}"), "member": if i % 2 == 0 { "alice" } else { "bob" }, "merchant": "shop", "amount": "3.5"});
            match http.post(format!("{url}/v1/orders")).bearer_auth(&admin).json(&body).send() {
                Ok(r) if r.status() == 200 => {
                    let v: Value = r.json().unwrap();
                    acked.push((format!("g{i}"), v["seq"].as_u64().unwrap()));
                }
                Ok(r) => panic!("unexpected answer while stopping: {} {:?}", r.status(), r.text()),
                Err(_) => break, // the server stopped listening
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(400));
    let status = srv.terminate();
    let acked = loader.join().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM under load: a clean exit; log: {}", srv.log_text());
    assert!(acked.len() > 5, "the loader made progress ({} orders)", acked.len());
    let srv = Server::start(store, &Opts::default());
    let ik = Some(srv.admin.as_str());
    for (order, seq) in &acked {
        assert_eq!(
            srv.get_ok(&format!("/v1/orders/{order}"), ik)["seq"].as_u64(),
            Some(*seq),
            "acknowledged {order} is durable"
        );
    }
    let live = srv.state_text();
    let (_, replayed) = store.export_and_replay();
    assert!(!replayed.contains("\"ok\": false"));
    assert!(replay_state_without_results(&replayed) == live, "after the restarts the state is the journal's");
    srv.assert_no_errors_logged();
}

// ---- demo ----------------------------------------------------------------------------------

fn demo_economy_serves_and_replays(store: &Store) {
    let mut srv = Server::start(store, &Opts { config: "demo = true".into(), ..Opts::default() });
    // The demo's operator account: created with a random password, printed once, and it signs in.
    let banner = srv.banner();
    let password = banner
        .iter()
        .find_map(|l| l.split_once("用户 user: admin  密码 password: ").map(|(_, p)| p.trim().to_string()))
        .unwrap_or_else(|| panic!("the demo's password is printed: {banner:?}"));
    assert!(password.len() >= 10, "{password}");
    let login = srv.post_ok("/v1/auth/login", None, &json!({"username": "admin", "password": password}));
    assert_eq!(login["user"], json!({"username": "admin", "role": "superadmin"}));
    let session = login["token"].as_str().unwrap().to_string();
    assert_eq!(srv.get_ok("/v1/auth/me", Some(&session))["role"], "superadmin");
    assert!(!srv.log_text().contains(&password), "the password is not in the log");
    let stats = srv.get_ok("/v1/stats", None);
    assert!(stats["members"].as_u64().unwrap() > 600 && stats["orders"].as_u64().unwrap() > 3000, "{stats}");
    let proof = srv.get_ok("/v1/proof", None);
    let c = &proof["conservation"];
    assert_eq!(s(&c["money_in"]["total"]), s(&c["money_where"]["total"]), "{proof}");
    // The demo's history spans days: the day candles never fall and end at today's price
    // (once the query tables have caught up with the journal: the route waits a second at most).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let days = loop {
        let days = srv.get_ok("/v1/price/history?interval=day", None);
        let last = days["candles"].as_array().and_then(|c| c.last()).cloned().unwrap_or(Value::Null);
        if last["close"] == stats["price"] && last["supply"] == stats["supply"] {
            break days;
        }
        assert!(std::time::Instant::now() < deadline, "the candles never caught up: {last} vs {stats}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let candles = days["candles"].as_array().unwrap();
    assert!(candles.len() > 3, "{days}");
    let mut previous = (String::new(), 0);
    for c in candles {
        let [open, high, low, close] = ["open", "high", "low", "close"].map(|k| units(s(&c[k])));
        assert_eq!((open, close), (low, high), "the price never falls: {c}");
        assert!(s(&c["start"]) > previous.0.as_str() && open >= previous.1, "{c}");
        previous = (s(&c["start"]).to_string(), close);
    }
    assert_eq!(s(&candles.last().unwrap()["close"]), s(&stats["price"]));
    let live = srv.state_text();
    let length = srv.journal_length();
    let (_, replayed) = store.export_and_replay();
    assert!(!replayed.contains("\"ok\": false"), "every exported line replays ok");
    assert!(replay_state_without_results(&replayed) == live, "the demo's live state is its journal's");
    // A second start with --demo on a store that has a journal loads nothing more.
    assert!(srv.terminate().success());
    let srv = Server::start(store, &Opts { config: "demo = true".into(), ..Opts::default() });
    assert_eq!(srv.journal_length(), length);
    assert_eq!(srv.state_text(), live);
    // The operator account exists already: no password printed, the first one still works,
    // and the session of the first start survived the restart.
    let banner = srv.banner();
    assert!(!banner.iter().any(|l| l.contains("密码 password")), "{banner:?}");
    srv.post_ok("/v1/auth/login", None, &json!({"username": "admin", "password": password}));
    assert_eq!(srv.get_ok("/v1/auth/me", Some(&session))["username"], "admin");
}

// ---- bugs ----------------------------------------------------------------------------------
//
// Each test below fails on the code as committed; its name says what is wrong.

mod regressions {
    use super::*;

    /// `zengzhi serve --database-url …` exits 101 before listening: `zengzhi_server::start`
    /// (crates/zengzhi-server/src/lib.rs) calls `open()` — `Postgres::connect_schema`, the
    /// synchronous `postgres` client, which runs its own runtime — directly on the tokio runtime
    /// of `serve` ("Cannot start a runtime from within a runtime"). Every `postgres::` test of
    /// this file fails the same way until this is fixed.
    #[test]
    fn postgres_serve_panics_at_start_runtime_within_a_runtime() {
        let store = Store::postgres();
        let srv = Server::start(&store, &Opts::default());
        assert_eq!(srv.get_ok("/healthz", None), json!({"status": "ok"}));
    }

    /// With the start fixed (checked on a patched copy), SIGTERM on PostgreSQL exits 101: the
    /// last `Arc<AppState>` is dropped on the runtime in `Running::shutdown` (`drop(self.state)`)
    /// and with it the `reads` backend, whose synchronous `postgres::Client` blocks on its own
    /// runtime in `Drop` ("Cannot start a runtime from within a runtime", postgres
    /// connection.rs). Masked by the start bug above as long as that one stands.
    #[test]
    fn postgres_sigterm_exits_101_dropping_the_client_on_the_runtime() {
        let store = Store::postgres();
        let mut srv = Server::start(&store, &Opts::default());
        srv.post_ok("/v1/members", Some(&srv.admin.clone()), &json!({"member": "alice"}));
        let status = srv.terminate();
        assert_eq!(status.code(), Some(0), "SIGTERM on PostgreSQL: {status}; log: {}", srv.log_text());
    }

    /// `--listen 127.0.0.1:0` sets the public URL to `http://127.0.0.1:0` before the port is
    /// bound (crates/zengzhi-cli/src/serve.rs, `config_from`: `c.public_url =
    /// format!("http://{v}")`), so `/v1/me`'s referral_link (and its QR code) point to port 0
    /// instead of the port the server printed and listens on.
    #[test]
    fn referral_link_says_port_0_when_listening_on_port_0() {
        let store = Store::sqlite();
        let srv = Server::start(&store, &Opts::default());
        srv.post_ok("/v1/members", Some(&srv.admin.clone()), &json!({"member": "alice"}));
        let token = srv.member_token("alice");
        let me = srv.get_ok("/v1/me", Some(&token));
        assert_eq!(s(&me["referral_link"]), format!("{}/join?ref=alice", srv.url));
    }

    /// A malformed query string (`?limit=abc`, an unknown parameter) is answered
    /// `400 {"error": "error", "message": "request failed / 请求失败"}`: the axum `Query`
    /// rejection is plain text and the `observe` middleware (crates/zengzhi-server/src/api.rs)
    /// maps it to its catch-all code. The same route answers a bad `interval` with
    /// `invalid_query`; a bad `limit` should get that code too, and a message saying what is
    /// wrong.
    #[test]
    fn malformed_query_string_gets_the_catch_all_code_error() {
        let store = Store::sqlite();
        let srv = Server::start(&store, &Opts::default());
        srv.post_ok("/v1/members", Some(&srv.admin.clone()), &json!({"member": "alice"}));
        let token = srv.member_token("alice");
        srv.get("/v1/price/history?interval=week", None).err(400, "invalid_query");
        srv.get("/v1/price/history?limit=abc", None).err(400, "invalid_query");
        srv.get("/v1/price/history?colour=red", None).err(400, "invalid_query");
        srv.get("/v1/me/history?limit=abc", Some(&token)).err(400, "invalid_query");
        srv.get("/v1/me/history?before=-1", Some(&token)).err(400, "invalid_query");
    }
}

// ---- the withdrawal queue ---------------------------------------------------------------------

fn withdrawal_queue_decisions_and_resume(store: &Store) {
    let rules = "[withdraw]\nmin = \"1.00\"\nfee = \"0.01\"\n";
    let mut srv = Server::start(store, &Opts { rules_toml: Some(rules.into()), ..Opts::default() });
    let admin = srv.admin.clone();
    let ak = Some(admin.as_str());
    let readonly = store.key("readonly");
    for m in ["alice", "bob"] {
        srv.post_ok("/v1/members", ak, &json!({"member": m}));
    }
    // Cash for alice: she buys, bob's order lifts the price, she sells everything.
    srv.post_ok("/v1/merchants", ak, &json!({"merchant": "shop"}));
    srv.post_ok("/v1/orders", ak, &json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"}));
    srv.post_ok("/v1/orders", ak, &json!({"order": "o2", "member": "bob", "merchant": "shop", "amount": "1000"}));
    let alice = srv.member_token("alice");
    let at = Some(alice.as_str());
    srv.post_ok("/v1/me/sell", at, &json!({"points": "all"}));
    let cash = fen(s(&srv.get_ok("/v1/me", at)["cash"]));
    assert!(cash > 110_00, "alice has cash to withdraw: {cash}");
    let request = |amount: &str| srv.post_json("/v1/me/withdraw", at, &json!({"amount": amount}));

    // The engine's checks, against the cash not already reserved.
    request("0.99").err(409, "below_minimum");
    request(&money(cash + 1)).err(409, "insufficient_cash");
    let a = request("100.00");
    assert_eq!(a.status, 202, "{}", a.text);
    let a = a.json()["withdrawal"].clone();
    assert_eq!((s(&a["fee"]), s(&a["payout"])), ("1.00", "99.00"), "the fee quoted at the rules: {a}");
    let b = request(&money(cash - 100_00)).json()["withdrawal"].clone();
    assert_eq!(s(&b["status"]), "pending");
    request("1.00").err(409, "insufficient_cash");
    let me = srv.get_ok("/v1/me", at);
    assert_eq!((fen(s(&me["withdrawable"])), fen(s(&me["pending_withdrawals"]))), (0, cash));
    let (a_id, b_id) = (s(&a["id"]).to_string(), s(&b["id"]).to_string());

    // Decisions: idempotent, and final.
    let before = srv.state_text();
    let r1 = srv.post_ok(&format!("/v1/admin/withdrawals/{b_id}/reject"), ak, &json!({"reason": "账户信息有误"}));
    let r2 = srv.post_ok(&format!("/v1/admin/withdrawals/{b_id}/reject"), ak, &json!({}));
    assert_eq!(r1, r2, "rejecting twice answers the same");
    assert_eq!(srv.state_text(), before, "a rejection does not touch the ledger");
    srv.post_json(&format!("/v1/admin/withdrawals/{b_id}/pay"), ak, &json!({})).err(409, "withdrawal_rejected");
    let p1 = srv.post_ok(&format!("/v1/admin/withdrawals/{a_id}/pay"), ak, &json!({}));
    let len = srv.journal_length();
    let p2 = srv.post_ok(&format!("/v1/admin/withdrawals/{a_id}/pay"), ak, &json!({}));
    assert_eq!(p1, p2, "paying twice answers the same");
    assert_eq!(srv.journal_length(), len, "and journals once");
    srv.post_json(&format!("/v1/admin/withdrawals/{a_id}/reject"), ak, &json!({})).err(409, "already_paid");
    let st = srv.state();
    assert_eq!(fen(s(&st["members"]["alice"]["cash"])), cash - 100_00);
    assert_eq!(s(&st["totals"]["withdrawn"]), "99.00", "net of the fee");
    assert!(s(&p1["withdrawal"]["decided_by"]).starts_with("key:admin:"), "{p1}");
    // Bad requests change nothing.
    srv.post_json("/v1/admin/withdrawals/nope/pay", ak, &json!({})).err(404, "unknown_withdrawal");
    srv.get("/v1/admin/withdrawals/nope", ak).err(404, "unknown_withdrawal");
    srv.post_json(&format!("/v1/admin/withdrawals/{a_id}/pay"), ak, &json!({"amount": "5"}))
        .err(400, "invalid_command");
    srv.post_json(&format!("/v1/admin/withdrawals/{b_id}/reject"), ak, &json!({"why": "x"}))
        .err(400, "invalid_command");
    srv.post_json(&format!("/v1/admin/withdrawals/{b_id}/reject"), ak, &json!({"reason": 5}))
        .err(400, "invalid_command");
    srv.get("/v1/admin/withdrawals?status=lost", ak).err(400, "invalid_query");
    srv.post_json(&format!("/v1/admin/withdrawals/{a_id}/pay"), Some(&readonly), &json!({})).err(403, "forbidden");
    assert_eq!(srv.get_ok("/v1/admin/withdrawals?status=paid", Some(&readonly))["items"][0]["id"], json!(a_id));
    // A member sees only its own.
    let bob = srv.member_token("bob");
    assert_eq!(srv.get_ok("/v1/me/withdrawals", Some(&bob))["items"], json!([]));
    srv.get("/v1/me/withdrawals?member=alice", Some(&bob)).err(403, "forbidden");
    let st_before_cash = fen(s(&srv.state()["members"]["alice"]["cash"]));

    // Cash spent on an order between request and payment: the payment is refused, the
    // withdrawal stays pending for the operator, nothing is paid that the ledger did not take.
    let c = request(&money(st_before_cash)).json()["withdrawal"].clone();
    srv.post_ok(
        "/v1/orders",
        ak,
        &json!({"order": "o3", "member": "alice", "merchant": "shop", "amount": "10", "pay_cash": "10"}),
    );
    let len = srv.journal_length();
    srv.post_json(&format!("/v1/admin/withdrawals/{}/pay", s(&c["id"])), ak, &json!({})).err(409, "insufficient_cash");
    assert_eq!(srv.journal_length(), len);
    assert_eq!(srv.get_ok(&format!("/v1/admin/withdrawals/{}", s(&c["id"])), ak)["status"], "pending");
    srv.post_ok(&format!("/v1/admin/withdrawals/{}/reject", s(&c["id"])), ak, &json!({"reason": "余额已变动"}));

    // A crash in the middle of a payment, both ways: `a` was journaled (entry a_seq) and is left
    // `paying`; `d` was not journaled and is left `paying`. The next start resolves both.
    let d = request("1.00").json()["withdrawal"].clone();
    let d_id = s(&d["id"]).to_string();
    let a_seq = p1["withdrawal"]["seq"].as_u64().unwrap();
    let head = srv.journal_length();
    assert_eq!(srv.terminate().code(), Some(0));
    store.exec(&format!(
        "UPDATE withdrawals SET status = 'paying', seq = NULL, head_before = {} WHERE id = '{a_id}';
         UPDATE withdrawals SET status = 'paying', head_before = {head}, fee_fen = 1 WHERE id = '{d_id}';",
        a_seq - 1
    ));
    let srv = Server::start(store, &Opts { rules_toml: Some(rules.into()), ..Opts::default() });
    let admin = srv.admin.clone();
    let ak = Some(admin.as_str());
    let a2 = srv.get_ok(&format!("/v1/admin/withdrawals/{a_id}"), ak);
    assert_eq!((s(&a2["status"]), a2["seq"].as_u64()), ("paid", Some(a_seq)), "found in the journal: {a2}");
    let d2 = srv.get_ok(&format!("/v1/admin/withdrawals/{d_id}"), ak);
    assert_eq!(
        (s(&d2["status"]), d2["seq"].clone(), d2["decided_by"].clone()),
        ("pending", Value::Null, Value::Null),
        "{d2}"
    );
    assert_eq!(srv.journal_length(), head, "resolving journals nothing");
    let log = srv.log_text();
    assert!(log.contains("resolved against the journal withdrawals=2"), "{log}");
    assert!(!log.contains('\u{1b}'), "no terminal colours in a log file: {log}");
    let paid = srv.post_ok(&format!("/v1/admin/withdrawals/{d_id}/pay"), ak, &json!({}));
    assert_eq!(paid["withdrawal"]["seq"].as_u64(), Some(head + 1));
}

// ---- the scheduler ------------------------------------------------------------------------------

/// A job whose time has passed today runs as soon as the service is up, once; a restart (at
/// once, within the same minute) does not run it again.
fn scheduled_jobs_run_once_a_day_across_restarts(store: &Store) {
    let opts =
        Opts { schedule: Some("release_locked_at = \"off\"\ndividends_at = \"00:00\"".into()), ..Opts::default() };
    let wait_for = |srv: &Server, len: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while srv.journal_length() < len {
            assert!(std::time::Instant::now() < deadline, "the scheduled job ran: {}", srv.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut srv = Server::start(store, &opts);
    // A new program without a rules file: the job is the journal's first entry.
    wait_for(&srv, 1);
    let exported = || {
        let out = store.path("scheduled.jsonl");
        let o = store.zengzhi(&["export-journal", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(srv.journal_length(), 1, "once: {}", srv.log_text());
        assert_eq!(srv.terminate().code(), Some(0));
        let ops: Vec<String> =
            exported().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["op"].to_string()).collect();
        assert_eq!(ops.iter().filter(|op| op.as_str() == "\"distribute_dividends\"").count(), 1, "{ops:?}");
        srv = Server::start(store, &opts);
    }
}
