//! The authorisation matrix: every operation of the OpenAPI document is called with no token,
//! with each key scope (admin, integration, readonly), with a member token, with a token of
//! another member, with a store token, and with a session of each operator role (superadmin, operator, finance,
//! auditor), in process. The expected status of each cell comes from the route's
//! `x-access` (which the router takes from the handler's guard type): 401 without a token, 403
//! for a caller the access does not allow, success for one it allows (with a valid request for
//! that route). A route of the document without a valid request here fails the test, so a new
//! route cannot escape the matrix.
//!
//! Runs on a service with a settlement delay, so the refund route is reachable too.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use zengzhi_server::accounts::Role;
use zengzhi_server::guards::Access;
use zengzhi_testkit::app::{spawn_app_with, Backend, TestApp};

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(authorisation_matrix);

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    Admin,
    Integration,
    Readonly,
    /// alice's member token.
    Member,
    /// bob's member token, asking about alice where the route names a member.
    OtherMember,
    /// The store token of `shop` (the store's page).
    Store,
    /// Operator sessions, one per role.
    Superadmin,
    Operator,
    Finance,
    Auditor,
}

const CALLERS: [Caller; 11] = [
    Caller::Nobody,
    Caller::Admin,
    Caller::Integration,
    Caller::Readonly,
    Caller::Member,
    Caller::OtherMember,
    Caller::Store,
    Caller::Superadmin,
    Caller::Operator,
    Caller::Finance,
    Caller::Auditor,
];

const SESSIONS: [(Caller, Role, &str); 4] = [
    (Caller::Superadmin, Role::Superadmin, "m-super"),
    (Caller::Operator, Role::Operator, "m-operator"),
    (Caller::Finance, Role::Finance, "m-finance"),
    (Caller::Auditor, Role::Auditor, "m-auditor"),
];

const PASSWORD: &str = "matrix password";

/// Whether `access` lets `caller` in (derived from the documented access and the roles of the
/// issue: superadmin everything; operator members, stores, campaigns, …; finance withdrawals
/// and dividends; auditor reads; never from the code).
fn allowed(access: Access, caller: Caller) -> bool {
    use Caller::*;
    let session = matches!(caller, Superadmin | Operator | Finance | Auditor);
    match access {
        Access::Public => true,
        Access::Integration => matches!(caller, Admin | Integration),
        Access::IntegrationOrOperate => matches!(caller, Admin | Integration | Superadmin | Operator),
        Access::Read => matches!(caller, Admin | Readonly) || session,
        Access::OrderRead => matches!(caller, Admin | Integration | Readonly) || session,
        Access::Operate => matches!(caller, Admin | Superadmin | Operator),
        Access::Finance => matches!(caller, Admin | Superadmin | Finance),
        Access::Administer => matches!(caller, Admin | Superadmin),
        Access::Member => matches!(caller, Member | OtherMember),
        Access::Store => caller == Store,
    }
}

struct Ctx {
    app: TestApp,
    integration: String,
    readonly: String,
    alice: String,
    bob: String,
    store: String,
    /// Session tokens by role, in the order of [`SESSIONS`].
    sessions: Vec<String>,
    n: AtomicU64,
}

impl Ctx {
    fn token(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Nobody => None,
            Caller::Admin => Some(&self.app.admin),
            Caller::Integration => Some(&self.integration),
            Caller::Readonly => Some(&self.readonly),
            Caller::Member => Some(&self.alice),
            Caller::OtherMember => Some(&self.bob),
            Caller::Store => Some(&self.store),
            role => SESSIONS.iter().position(|(c, ..)| *c == role).map(|i| self.sessions[i].as_str()),
        }
    }

    /// The token a request of `caller` goes with: signing out as a session ends it, so that
    /// one signs out a fresh session of the same user.
    async fn token_for(&self, caller: Caller, path: &str) -> Option<String> {
        let session = SESSIONS.iter().find(|(c, ..)| *c == caller);
        match session {
            Some((_, _, name)) if path == "/v1/auth/logout" => Some(self.app.login(name, PASSWORD).await),
            _ => self.token(caller).map(str::to_string),
        }
    }

    fn next(&self) -> u64 {
        self.n.fetch_add(1, Ordering::Relaxed)
    }

    /// A withdrawal of alice's, pending.
    async fn pending_withdrawal(&self) -> String {
        let r = self.app.post("/v1/me/withdraw", Some(&self.alice), &json!({"amount": "1"})).await;
        r.ok()["withdrawal"]["id"].as_str().unwrap().to_string()
    }

    /// An order held for the settlement delay.
    async fn pending_order(&self) -> String {
        let id = format!("held{}", self.next());
        self.app
            .admin_post("/v1/orders", &json!({"order": id, "member": "alice", "merchant": "shop", "amount": "10"}))
            .await;
        id
    }
}

/// A valid request of a route for an allowed caller: the concrete path and the body. Sets up
/// what the route needs first (a pending order to refund, a withdrawal to pay, …).
async fn valid_request(ctx: &Ctx, method: &str, path: &str, caller: Caller) -> (String, Option<Value>) {
    let n = ctx.next();
    let none = None;
    match (method, path) {
        ("get", "/healthz" | "/metrics" | "/v1/openapi.json" | "/v1/stats" | "/v1/proof") => (path.into(), none),
        ("get", "/v1/price/history") => ("/v1/price/history?interval=day".into(), none),
        ("post", "/v1/members") => (path.into(), Some(json!({"member": format!("m{n}")}))),
        ("post", "/v1/members/{id}/token") => ("/v1/members/alice/token".into(), none),
        ("post", "/v1/merchants") => (path.into(), Some(json!({"merchant": format!("s{n}")}))),
        ("post", "/v1/agents") => {
            (path.into(), Some(json!({"member": "carol", "level": "district", "region": format!("{}", 110_101 + n)})))
        }
        ("post", "/v1/shareholders") => (path.into(), Some(json!({"member": "carol", "weight": n + 1}))),
        ("post", "/v1/coins") => (path.into(), Some(json!({"member": "carol", "amount": "1"}))),
        ("post", "/v1/orders") => (
            path.into(),
            Some(json!({"order": format!("o{n}"), "member": "alice", "merchant": "shop", "amount": "10"})),
        ),
        ("post", "/v1/orders/batch") => (
            path.into(),
            Some(
                json!({"orders": [{"order": format!("b{n}"), "member": "alice", "merchant": "shop", "amount": "10"}]}),
            ),
        ),
        ("get", "/v1/orders/{id}") => (format!("/v1/orders/{}", ctx.pending_order().await), none),
        ("post", "/v1/orders/{id}/refund") => (format!("/v1/orders/{}/refund", ctx.pending_order().await), none),
        ("get", "/v1/me" | "/v1/me/history") => (path.into(), none),
        ("get", "/v1/me/withdrawals") => (path.into(), none),
        ("get", "/v1/me/referrals" | "/v1/me/rules") => (path.into(), none),
        ("get", "/v1/join") => ("/v1/join?ref=alice".into(), none),
        ("post", "/v1/me/sell/preview" | "/v1/me/sell") => (path.into(), Some(json!({"points": "1"}))),
        ("post", "/v1/me/redeem") => (path.into(), Some(json!({"amount": "1"}))),
        ("post", "/v1/me/withdraw") => (path.into(), Some(json!({"amount": "1"}))),
        ("get", "/v1/admin/rules" | "/v1/admin/state" | "/v1/admin/withdrawals") => (path.into(), none),
        ("put", "/v1/admin/rules") => (path.into(), Some(json!({"sell": {"retention": "0.2"}}))),
        ("post", "/v1/admin/inject") => (path.into(), Some(json!({"amount": "1"}))),
        ("post", "/v1/admin/campaigns") => {
            // No campaign running (the previous caller's may be).
            let ended = ctx.app.try_submit(&[r#"{"op":"end_campaign"}"#]).await;
            assert!(matches!(ended[..], [Ok(()) | Err("no_campaign")]), "{ended:?}");
            (path.into(), Some(json!({"campaign": format!("c{n}"), "rate": "0.05", "budget": "1"})))
        }
        ("post", "/v1/admin/campaigns/end") => {
            // A campaign to end (the one the previous route started, or a new one).
            let start = format!(r#"{{"op":"start_campaign","campaign":"e{n}","rate":"0.05","budget":"1"}}"#);
            let started = ctx.app.try_submit(&[&start]).await;
            assert!(matches!(started[..], [Ok(()) | Err("campaign_active")]), "{started:?}");
            (path.into(), Some(json!({})))
        }
        ("post", "/v1/admin/release-locked" | "/v1/admin/dividends") => (path.into(), Some(json!({}))),
        ("get", "/v1/admin/export/members.csv" | "/v1/admin/export/orders.csv") => (path.into(), none),
        ("get", "/v1/admin/export/holdings.csv") => ("/v1/admin/export/holdings.csv?date=2026-01-01".into(), none),
        ("get", "/v1/admin/withdrawals/{id}") => {
            (format!("/v1/admin/withdrawals/{}", ctx.pending_withdrawal().await), none)
        }
        ("post", "/v1/admin/withdrawals/{id}/pay") => {
            (format!("/v1/admin/withdrawals/{}/pay", ctx.pending_withdrawal().await), Some(json!({})))
        }
        ("post", "/v1/auth/login") => (path.into(), Some(json!({"username": "m-auditor", "password": PASSWORD}))),
        ("post", "/v1/auth/logout") => (path.into(), Some(json!({}))),
        ("get", "/v1/auth/me" | "/v1/admin/users" | "/v1/admin/keys" | "/v1/admin/audit" | "/v1/admin/logins") => {
            (path.into(), none)
        }
        ("post", "/v1/admin/users") => {
            (path.into(), Some(json!({"username": format!("u{n}"), "role": "auditor", "password": "a long password"})))
        }
        ("post", "/v1/admin/users/{name}/disable") => {
            ctx.app.user(&format!("d{n}"), Role::Operator, "a long password").await;
            (format!("/v1/admin/users/d{n}/disable"), Some(json!({})))
        }
        ("post", "/v1/admin/keys") => (path.into(), Some(json!({"scope": "readonly", "label": "matrix"}))),
        ("post", "/v1/admin/keys/{fingerprint}/revoke") => {
            let key = ctx.app.key("readonly").await;
            (format!("/v1/admin/keys/{}/revoke", zengzhi_server::auth::fingerprint(&key)), Some(json!({})))
        }
        ("post", "/v1/admin/withdrawals/{id}/reject") => (
            format!("/v1/admin/withdrawals/{}/reject", ctx.pending_withdrawal().await),
            Some(json!({"reason": "test"})),
        ),
        // The console's members and orders.
        ("get", "/v1/admin/members" | "/v1/admin/orders") => (path.into(), none),
        ("get", "/v1/admin/members/{id}") => ("/v1/admin/members/alice".into(), none),
        ("get", "/v1/admin/members/{id}/ledger" | "/v1/admin/members/{id}/orders" | "/v1/admin/members/{id}/referrals") => {
            (path.replace("{id}", "alice"), none)
        }
        ("post", "/v1/admin/orders/{id}/refund") => {
            (format!("/v1/admin/orders/{}/refund", ctx.pending_order().await), Some(json!({})))
        }
        ("get", "/v1/admin/stores" | "/v1/admin/agents" | "/v1/admin/shareholders") => (path.into(), none),
        ("get", "/v1/admin/stores/{id}") => ("/v1/admin/stores/shop".into(), none),
        ("get", "/v1/admin/stores/{id}/qr.svg") => ("/v1/admin/stores/shop/qr.svg".into(), none),
        ("post", "/v1/admin/stores") => {
            (path.into(), Some(json!({"merchant": format!("cs{n}"), "owner": "carol", "region": "440305"})))
        }
        ("post", "/v1/admin/agents") => {
            // A district of the shipped table not taken yet (the n-th from the last, by code).
            let mut districts: Vec<u32> = zengzhi_server::routes::network::regions()
                .iter()
                .filter(|(_, r)| r.level == zengzhi_core::command::Level::District)
                .map(|(c, _)| *c)
                .collect();
            districts.sort_unstable();
            let region = format!("{}", districts[districts.len() - 1 - n as usize]);
            (path.into(), Some(json!({"member": "carol", "level": "district", "region": region})))
        }
        ("post", "/v1/admin/shareholders") => (path.into(), Some(json!({"member": "carol", "weight": n + 1}))),
        // Insight (routes/insight.rs) and the rules' dry run and history.
        (
            "get",
            "/v1/admin/stats/daily"
            | "/v1/admin/stats/compare"
            | "/v1/admin/leaderboards"
            | "/v1/admin/finance/daily"
            | "/v1/admin/jobs"
            | "/v1/admin/rules/history",
        ) => (path.into(), none),
        ("post", "/v1/admin/jobs/verify") => (path.into(), Some(json!({}))),
        ("get", "/v1/admin/jobs/{id}") => {
            let started = ctx.app.admin_post("/v1/admin/jobs/verify", &json!({})).await;
            (format!("/v1/admin/jobs/{}", started["job"]["id"]), none)
        }
        // The store's page (routes/storefront.rs) and its tokens.
        ("post", "/v1/merchants/{id}/token") => ("/v1/merchants/shop/token".into(), none),
        ("post", "/v1/admin/stores/{id}/token") => ("/v1/admin/stores/shop/token".into(), Some(json!({}))),
        ("get", "/v1/store/me" | "/v1/store/members" | "/v1/store/qr.svg") => (path.into(), none),
        ("post", "/v1/admin/rules/dry-run") => (path.into(), Some(json!({"sell": {"retention": "0.2"}}))),
        ("post", "/v1/admin/coins/batch") => (path.into(), Some(json!({"rows": [{"member": "carol", "amount": "1"}]}))),
        // The simulator workbench (routes/sim.rs): short simulations, one finished before the next.
        ("get", "/v1/admin/sim/presets" | "/v1/admin/sim/jobs" | "/v1/admin/sim/seed") => (path.into(), none),
        ("post", "/v1/admin/sim/validate") => (path.into(), Some(json!({"toml": MATRIX_SCENARIO}))),
        ("post", "/v1/admin/sim/jobs") => {
            sims_idle(ctx).await;
            (path.into(), Some(json!({"toml": MATRIX_SCENARIO, "runs": 1})))
        }
        ("get", "/v1/admin/sim/jobs/{id}") => (format!("/v1/admin/sim/jobs/{}", finished_sim(ctx).await), none),
        ("get", "/v1/admin/sim/jobs/{id}/report.zip") => {
            (format!("/v1/admin/sim/jobs/{}/report.zip", finished_sim(ctx).await), none)
        }
        ("post", "/v1/admin/sim/jobs/{id}/cancel") => {
            (format!("/v1/admin/sim/jobs/{}/cancel", finished_sim(ctx).await), Some(json!({})))
        }
        ("post", "/v1/admin/sim/whatif") => {
            sims_idle(ctx).await;
            (path.into(), Some(json!({"exit": {"multiple": "1.5"}})))
        }
        _ => panic!("no valid request for {method} {path} (caller {caller:?}): add one to the matrix"),
    }
}

/// A scenario that simulates in milliseconds.
const MATRIX_SCENARIO: &str = "horizon_days = 10\n[arrivals]\nrate = 2.0\n";

/// Waits until no simulation runs (at most two may: the matrix starts one per allowed caller).
async fn sims_idle(ctx: &Ctx) {
    for _ in 0..600 {
        let list = ctx.app.admin_get("/v1/admin/sim/jobs").await;
        if list["items"].as_array().unwrap().iter().all(|j| j["state"] != "running") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("simulations still running");
}

/// The id of a finished simulation (started by the admin key).
async fn finished_sim(ctx: &Ctx) -> u64 {
    sims_idle(ctx).await;
    let job = ctx.app.admin_post("/v1/admin/sim/jobs", &json!({"toml": MATRIX_SCENARIO, "runs": 1})).await;
    sims_idle(ctx).await;
    job["id"].as_u64().unwrap()
}

/// A request for a caller that is to be refused: the route's path with made-up ids (nothing is
/// set up, so a refusal cannot depend on the object).
fn refused_request(method: &str, path: &str) -> (String, Option<Value>) {
    let uri = path.replace("{id}", "x1").replace("{name}", "x1").replace("{fingerprint}", "x1");
    let uri = if uri == "/v1/admin/export/holdings.csv" { format!("{uri}?date=2026-01-01") } else { uri };
    (uri, (method != "get").then(|| json!({})))
}

async fn call(
    ctx: &Ctx,
    method: &str,
    uri: &str,
    caller: Caller,
    body: Option<Value>,
) -> zengzhi_testkit::app::Response {
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    let token = ctx.token_for(caller, uri).await;
    ctx.app.request(&method.to_uppercase(), uri, token.as_deref(), body).await
}

async fn authorisation_matrix(backend: Backend) {
    let app = spawn_app_with(backend, "matrix", |c| c.settlement_delay_s = 3600).await;
    // Points and cash for alice (through the engine: orders posted over HTTP wait an hour).
    app.submit(&[
        r#"{"op":"register_merchant","merchant":"shop"}"#,
        r#"{"op":"register_member","member":"alice"}"#,
        r#"{"op":"register_member","member":"bob"}"#,
        r#"{"op":"register_member","member":"carol"}"#,
        r#"{"op":"order","order":"seed1","member":"alice","merchant":"shop","amount":"1000"}"#,
        r#"{"op":"order","order":"seed2","member":"bob","merchant":"shop","amount":"1000"}"#,
        r#"{"op":"sell","member":"alice","points":"100"}"#,
    ])
    .await;
    let mut sessions = Vec::new();
    for (_, role, name) in SESSIONS {
        app.user(name, role, PASSWORD).await;
        sessions.push(app.login(name, PASSWORD).await);
    }
    let ctx = Ctx {
        sessions,
        integration: app.key("integration").await,
        readonly: app.key("readonly").await,
        alice: app.member_token("alice").await,
        bob: app.member_token("bob").await,
        store: app.admin_post("/v1/merchants/shop/token", &Value::Null).await["token"].as_str().unwrap().to_string(),
        n: AtomicU64::new(0),
        app,
    };
    let doc = zengzhi_server::routes::openapi();
    let mut cells = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let access = Access::parse(op["x-access"].as_str().unwrap()).expect("a known access");
            // The document's security agrees with the access.
            assert_eq!(op.get("security").is_none(), access == Access::Public, "{method} {path}");
            for caller in CALLERS {
                let expect_ok = allowed(access, caller);
                let (uri, body) = if expect_ok {
                    valid_request(&ctx, method, path, caller).await
                } else {
                    refused_request(method, path)
                };
                let resp = call(&ctx, method, &uri, caller, body).await;
                let what = format!("{method} {uri} as {caller:?} ({})", access.as_str());
                if expect_ok {
                    assert!(resp.status.is_success(), "{what}: {} {}", resp.status, resp.text());
                    let documented = op["responses"].as_object().unwrap();
                    assert!(
                        documented.contains_key(resp.status.as_str()),
                        "{what}: {} is a documented status",
                        resp.status
                    );
                } else if caller == Caller::Nobody {
                    resp.err(401, "unauthorized");
                } else {
                    let v = resp.err(403, "forbidden");
                    assert!(v["message"].as_str().unwrap().contains(" / "), "bilingual: {v}");
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, zengzhi_server::routes::table().len() * CALLERS.len());

    // A member token for another member: bob cannot see or act for alice.
    let bob = Some(ctx.bob.as_str());
    ctx.app.get("/v1/me/withdrawals?member=alice", bob).await.err(403, "forbidden");
    for (path, body) in [
        ("/v1/me/sell", json!({"member": "alice", "points": "1"})),
        ("/v1/me/sell/preview", json!({"member": "alice", "points": "1"})),
        ("/v1/me/redeem", json!({"member": "alice", "amount": "1"})),
        ("/v1/me/withdraw", json!({"member": "alice", "amount": "1"})),
    ] {
        ctx.app.post(path, bob, &body).await.err(400, "invalid_command");
    }
    let me = ctx.app.get("/v1/me", bob).await.ok();
    assert_eq!(me["member"], "bob");
    let mine = ctx.app.get("/v1/me/withdrawals", bob).await.ok();
    let items = mine["items"].as_array().unwrap();
    assert!(
        !items.is_empty() && items.iter().all(|w| w["member"] == "bob"),
        "bob sees his own withdrawals only: {mine}"
    );
    ctx.app.shutdown().await;
}
