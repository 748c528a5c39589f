//! The routes of API v1. Request bodies use the field names of the SPEC §6 commands and are
//! read by the engine's own strict reader (unknown fields, wrong types and bad amounts are
//! rejected exactly as in a replay); money and points in JSON are the strings of SPEC §3.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::borrow::Cow;

use zengzhi_core::command::parse_fields;
use zengzhi_core::json::{self as strict, Json as J};
use zengzhi_core::num::{format_money, format_money_wide, format_points, format_price, format_rate, Fen, Ppm, Units, PPM};
use zengzhi_core::{Command, Engine, Rejection};
use zengzhi_journal::writer::Outcome;

use crate::auth::{self, Caller, Scope};
use crate::settlement::{self, without_at};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

type S = State<Arc<AppState>>;

/// The router of the whole API.
pub fn build_app(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/stats", get(stats))
        .route("/v1/price/history", get(price_history))
        .route("/v1/proof", get(proof))
        .route("/v1/members", post(create_member))
        .route("/v1/members/{id}/token", post(member_token))
        .route("/v1/merchants", post(create_merchant))
        .route("/v1/agents", post(appoint_agent))
        .route("/v1/shareholders", post(set_shareholder))
        .route("/v1/coins", post(grant_coins))
        .route("/v1/orders", post(create_order))
        .route("/v1/orders/batch", post(create_orders_batch))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/refund", post(refund_order))
        .route("/v1/me", get(me))
        .route("/v1/me/sell/preview", post(sell_preview))
        .route("/v1/me/sell", post(me_sell))
        .route("/v1/me/redeem", post(me_redeem))
        .route("/v1/me/withdraw", post(me_withdraw))
        .route("/v1/me/withdrawals", get(me_withdrawals))
        .route("/v1/me/history", get(me_history))
        .route("/v1/admin/rules", get(get_rules).put(put_rules))
        .route("/v1/admin/inject", post(inject))
        .route("/v1/admin/campaigns", post(start_campaign))
        .route("/v1/admin/campaigns/end", post(end_campaign))
        .route("/v1/admin/release-locked", post(release_locked))
        .route("/v1/admin/dividends", post(distribute_dividends))
        .route("/v1/admin/state", get(admin_state))
        .route("/v1/admin/export/members.csv", get(crate::exports::members_csv))
        .route("/v1/admin/export/orders.csv", get(crate::exports::orders_csv))
        .route("/v1/admin/export/holdings.csv", get(crate::exports::holdings_csv))
        .route("/v1/admin/withdrawals", get(list_withdrawals))
        .route("/v1/admin/withdrawals/{id}", get(show_withdrawal))
        .route("/v1/admin/withdrawals/{id}/pay", post(pay_withdrawal))
        .route("/v1/admin/withdrawals/{id}/reject", post(reject_withdrawal))
        .fallback(|| async { ApiError::not_found("no such route / 没有这个接口") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Metrics for every request, and JSON bodies for errors produced outside the handlers
/// (body too large, wrong method).
async fn observe(State(state): S, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = request.method().clone();
    let has_query = request.uri().query().is_some();
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status();
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large / 请求体过大"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed / 不支持该方法"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send JSON / 请发送 JSON"),
            // The only 400s not made by the handlers are rejected query strings and paths.
            StatusCode::BAD_REQUEST if has_query => ("invalid_query", "the query string is not valid / 查询参数不正确"),
            StatusCode::BAD_REQUEST => ("invalid_request", "the request is not valid / 请求不正确"),
            _ => ("error", "request failed / 请求失败"),
        };
        response = ApiError::new(status, code, message).into_response();
    }
    state.metrics.observe(&route, method.as_str(), response.status().as_u16(), started.elapsed());
    response
}

// ---- helpers -----------------------------------------------------------------------------------

async fn caller(state: &Arc<AppState>, headers: &HeaderMap) -> ApiResult<Caller> {
    let token = auth::bearer(headers).ok_or_else(|| ApiError::unauthorized("missing bearer token / 缺少令牌"))?;
    if token.starts_with("mt.") {
        let member = auth::verify_member_token(&state.token_secret, token, auth::now_unix())?;
        return Ok(Caller::Member(member));
    }
    let hash = auth::sha256(token.as_bytes());
    if state.admin_token_hash.as_ref().is_some_and(|admin| auth::digest_eq(admin, &hash)) {
        return Ok(Caller::Key { scope: Scope::Admin, fingerprint: auth::fingerprint(token) });
    }
    let fingerprint = auth::fingerprint(token);
    let scope = state.read(move |b| b.find_api_key(&hash)).await?;
    match scope.as_deref().and_then(Scope::parse) {
        Some(scope) => Ok(Caller::Key { scope, fingerprint }),
        None => Err(ApiError::unauthorized("unknown or revoked key / 密钥无效")),
    }
}

/// A caller holding one of `scopes` (admin always qualifies).
async fn key(state: &Arc<AppState>, headers: &HeaderMap, scopes: &[Scope]) -> ApiResult<Caller> {
    let c = caller(state, headers).await?;
    match &c {
        Caller::Key { scope: Scope::Admin, .. } => Ok(c),
        Caller::Key { scope, .. } if scopes.contains(scope) => Ok(c),
        Caller::Key { .. } => Err(ApiError::forbidden("this key's scope does not allow that / 权限不足")),
        Caller::Member(_) => Err(ApiError::forbidden("members cannot use this route / 会员无权访问")),
    }
}

/// A caller allowed to read (a `readonly` key or admin).
pub(crate) async fn read_key(state: &Arc<AppState>, headers: &HeaderMap) -> ApiResult<Caller> {
    key(state, headers, READ).await
}

async fn member(state: &Arc<AppState>, headers: &HeaderMap) -> ApiResult<String> {
    match caller(state, headers).await? {
        Caller::Member(m) => Ok(m),
        Caller::Key { .. } => Err(ApiError::forbidden("this route is for member tokens / 仅限会员令牌")),
    }
}

/// Reads a JSON object body strictly (duplicate keys, NaN, lone surrogates are errors); the
/// members borrow from the body.
fn object(body: &[u8]) -> ApiResult<Vec<(Cow<'_, str>, J<'_>)>> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("invalid_json", "the body is not UTF-8 / 请求体不是 UTF-8"))?;
    let value = strict::parse(text).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("malformed JSON at byte {}: {} / JSON 格式错误", e.offset, e.reason))
    })?;
    match value {
        J::Obj(members) => Ok(members),
        _ => Err(ApiError::bad_request("invalid_command", "the body must be a JSON object / 请求体必须是 JSON 对象")),
    }
}

/// The command `op` from an object's fields plus `inject`ed ones (e.g. the member of a member
/// token: a body naming that field too is `invalid_command`, so nobody acts for another).
fn command_of(op: &str, mut fields: Vec<(Cow<'_, str>, J<'_>)>, inject: &[(&str, &str)]) -> ApiResult<Command<'static>> {
    for (k, v) in inject {
        if fields.iter().any(|(key, _)| key == k) {
            return Err(ApiError::bad_request("invalid_command", format!("the body must not name {k} / 请求体不能包含 {k}")));
        }
        fields.push((Cow::Owned((*k).to_string()), J::Str(Cow::Owned((*v).to_string()))));
    }
    let parsed = parse_fields(op, &fields).map_err(ApiError::from)?;
    Ok(parsed.command.into_owned())
}

/// The command `op` made of the request body (an empty body is `{}`).
fn command_from(op: &str, body: &[u8], inject: &[(&str, &str)]) -> ApiResult<Command<'static>> {
    let fields = if body.iter().all(u8::is_ascii_whitespace) { Vec::new() } else { object(body)? };
    command_of(op, fields, inject)
}

/// The outcome of one command, or its rejection as an error.
fn accepted(outcome: Outcome) -> ApiResult<(u64, String, zengzhi_core::Applied)> {
    let applied = outcome.result.map_err(ApiError::from)?;
    Ok((outcome.seq.unwrap_or(0), outcome.at.unwrap_or_default(), applied))
}

fn ok_body(seq: u64, at: &str, extra: Value) -> Json<Value> {
    let mut body = json!({"ok": true, "seq": seq, "at": at});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    Json(body)
}

/// Submits one command from an admin or integration route and answers with its outcome.
async fn run(state: &Arc<AppState>, command: Command<'static>) -> ApiResult<Json<Value>> {
    let (seq, at, applied) = accepted(state.submit_one(command).await?)?;
    Ok(ok_body(seq, &at, json!({"exits": applied.exits})))
}

// ---- public ------------------------------------------------------------------------------------

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics_text(State(state): S) -> ApiResult<Response> {
    let totals = state.query(|e| (e.totals().orders, e.totals().exits, e.member_count() as u64)).await?;
    let text = state.metrics.render(state.writer.stats(), state.watermark.load(std::sync::atomic::Ordering::Acquire), totals);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text).into_response())
}

async fn openapi_json() -> Json<Value> {
    Json(crate::openapi::document())
}

fn stats_of(e: &Engine) -> Value {
    let (p, n) = e.reference_price();
    let t = e.totals();
    let holding = e.aggregates().members_holding;
    json!({
        "pool": format_money(e.pool_fen()),
        "supply": format_points(e.supply_units()),
        "price": format_price(p, n),
        "members": e.member_count(),
        "members_holding": holding,
        "merchants": e.merchant_count(),
        "orders": t.orders,
        "exits": t.exits,
        "totals": {
            "commissions": format_money(t.commissions_fen),
            "injected": format_money(t.injected_fen),
            "subsidies": format_money(t.subsidies_fen),
            "withdrawn": format_money(t.withdrawn_fen),
            "redeemed": format_money(t.redeemed_fen),
            "coins_issued": format_money(t.coins_issued_fen),
        },
        "platform_revenue": format_money(e.platform_revenue_fen()),
        "dividend_pool": format_money(e.dividend_pool_fen()),
    })
}

async fn stats(State(state): S) -> ApiResult<Json<Value>> {
    Ok(Json(state.query(stats_of).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    interval: Option<String>,
    limit: Option<usize>,
}

async fn price_history(State(state): S, Query(q): Query<HistoryQuery>) -> ApiResult<Json<Value>> {
    let interval = q.interval.unwrap_or_else(|| "hour".into());
    if !["minute", "hour", "day"].contains(&interval.as_str()) {
        return Err(ApiError::bad_request("invalid_query", "interval must be minute, hour or day / 周期只能是 minute、hour、day"));
    }
    let limit = q.limit.unwrap_or(500).min(5_000);
    state.wait_projected(Duration::from_secs(1)).await;
    let i = interval.clone();
    let candles = state.read(move |b| b.candles(&i, limit)).await?;
    let price = |v: i64| format!("{}.{:08}", v / 100_000_000, v % 100_000_000);
    let rows: Vec<Value> = candles
        .iter()
        .map(|c| {
            json!({"start": c.start, "open": price(c.open), "high": price(c.high), "low": price(c.low), "close": price(c.close),
                   "pool": format_money(Fen::from_fen(c.pool_fen)), "supply": format_points(Units::from_units(c.supply_units))})
        })
        .collect();
    Ok(Json(json!({"interval": interval, "timezone": "Asia/Shanghai", "candles": rows})))
}

async fn proof(State(state): S) -> ApiResult<Json<Value>> {
    let (seq, hash) = state.writer.stats().head();
    let money = state
        .query(|e| {
            let t = e.totals();
            let a = e.aggregates();
            let cash = a.member_cash_fen;
            json!({
                "money_in": {
                    "commissions": format_money(t.commissions_fen),
                    "injected": format_money(t.injected_fen),
                    "subsidies": format_money(t.subsidies_fen),
                    "total": format_money_wide(t.money_in()),
                },
                "money_where": {
                    "pool": format_money(e.pool_fen()),
                    "member_cash": format_money(cash),
                    "platform_revenue": format_money(e.platform_revenue_fen()),
                    "dividend_pool": format_money(e.dividend_pool_fen()),
                    "withdrawn": format_money(t.withdrawn_fen),
                    "cash_spent": format_money(t.cash_spent_fen),
                    "redeemed": format_money(t.redeemed_fen),
                    "total": format_money_wide([e.pool_fen(), cash, e.platform_revenue_fen(), e.dividend_pool_fen(),
                        t.withdrawn_fen, t.cash_spent_fen, t.redeemed_fen].into_iter().map(i128::from).sum()),
                },
                "coins": {"issued": format_money(t.coins_issued_fen), "held": format_money(a.member_coins_fen), "spent": format_money(t.coins_spent_fen)},
                "points": {"supply": format_points(e.supply_units()), "held_by_members": format_points(a.member_held)},
            })
        })
        .await?;
    Ok(Json(json!({"journal_length": seq, "head_hash": zengzhi_journal::hex(&hash), "conservation": money})))
}

// ---- integration -------------------------------------------------------------------------------

const INTEGRATION: &[Scope] = &[Scope::Integration];

async fn create_member(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    key(&state, &headers, INTEGRATION).await?;
    let fields = object(&body)?;
    let mut member = None;
    let mut referrer = None;
    let mut store = None;
    for (k, v) in &fields {
        let J::Str(s) = v else {
            if *v == J::Null && k.as_ref() != "member" {
                continue;
            }
            return Err(ApiError::bad_request("invalid_command", format!("{k} must be a string / {k} 必须是字符串")));
        };
        match k.as_ref() {
            "member" => member = Some(s.to_string()),
            "referrer" => referrer = Some(s.to_string()),
            "store" => store = Some(s.to_string()),
            "at" => {}
            other => return Err(ApiError::bad_request("invalid_command", format!("unknown field {other} / 未知字段 {other}"))),
        }
    }
    let member = member.ok_or_else(|| ApiError::bad_request("invalid_command", "member is required / 缺少 member"))?;
    if let Some(store) = store {
        if referrer.is_some() {
            return Err(ApiError::bad_request("invalid_command", "give referrer or store, not both / referrer 与 store 只能二选一"));
        }
        // A store's QR code or link binds the new member to the store's owner.
        let owner = state
            .query(move |e| e.merchant(&store).map(|m| (m.owner != zengzhi_core::engine::NONE).then(|| e.member_id(m.owner).to_string())))
            .await?
            .ok_or_else(|| ApiError::from(Rejection::UnknownMerchant))?;
        referrer = owner;
    }
    let mut inject = vec![("member", member.as_str())];
    if let Some(r) = &referrer {
        inject.push(("referrer", r.as_str()));
    }
    let command = command_from("register_member", b"{}", &inject)?;
    let (seq, at, _) = accepted(state.submit_one(command).await?)?;
    Ok(ok_body(seq, &at, json!({"member": member, "referrer": referrer})))
}

async fn create_merchant(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    key(&state, &headers, INTEGRATION).await?;
    run(&state, command_from("register_merchant", &body, &[])?).await
}

async fn appoint_agent(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, INTEGRATION).await?;
    let r = run(&state, command_from("appoint_agent", &body, &[])?).await?;
    state.audit(who.who(), "appoint_agent", String::from_utf8_lossy(&body).into_owned()).await;
    Ok(r)
}

async fn set_shareholder(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, INTEGRATION).await?;
    let r = run(&state, command_from("set_shareholder", &body, &[])?).await?;
    state.audit(who.who(), "set_shareholder", String::from_utf8_lossy(&body).into_owned()).await;
    Ok(r)
}

async fn grant_coins(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, INTEGRATION).await?;
    let r = run(&state, command_from("grant_coins", &body, &[])?).await?;
    state.audit(who.who(), "grant_coins", String::from_utf8_lossy(&body).into_owned()).await;
    Ok(r)
}

async fn member_token(State(state): S, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    key(&state, &headers, INTEGRATION).await?;
    let m = id.clone();
    if !state.query(move |e| e.member(&m).is_some()).await? {
        return Err(Rejection::UnknownMember.into());
    }
    let expires = auth::now_unix() + state.config.member_token_ttl_s;
    let token = auth::issue_member_token(&state.token_secret, &id, expires);
    Ok(Json(json!({"member": id, "token": token, "expires_unix": expires})))
}

fn order_json(seq: u64, at: &str, order: &str, applied: &zengzhi_core::Applied, replay: bool) -> Value {
    json!({"ok": true, "order": order, "seq": seq, "at": at, "minted": format_points(applied.minted),
           "commission": format_money(applied.commission_fen), "exits": applied.exits, "idempotent_replay": replay})
}

/// An order id already used: the same body again is answered with the original result; a
/// different body is a conflict.
async fn idempotent(state: &Arc<AppState>, command: &Command<'static>) -> ApiResult<Json<Value>> {
    let Command::Order { order, .. } = command else { return Err(Rejection::DuplicateId.into()) };
    let caught_up = state.wait_projected(Duration::from_secs(3)).await;
    let id = order.to_string();
    let found = state.read(move |b| b.order(&id)).await?;
    let Some((row, stored)) = found else {
        if !caught_up {
            // Under heavy load the query tables may lag: the order exists, its result is not
            // readable yet. The caller retries (503), as for a full queue.
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", format!(
                "order {order} exists; its result is not readable yet, retry shortly / 订单已存在，结果稍后可查，请重试"
            )));
        }
        return Err(ApiError::internal(format!("order {order} is journaled but not in the query tables")));
    };
    let mine = command.to_json(None);
    if without_at(&stored) != without_at(&mine) {
        return Err(ApiError::conflict("idempotency_conflict", format!(
            "order {order} exists with a different body / 订单号 {order} 已用于不同的订单"
        )));
    }
    let applied = zengzhi_core::Applied { exits: 0, minted: Units::from_units(row.minted_units), commission_fen: Fen::from_fen(row.commission_fen) };
    Ok(Json(order_json(row.seq, &row.at, order, &applied, true)))
}

async fn create_order(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    key(&state, &headers, INTEGRATION).await?;
    let command = command_from("order", &body, &[])?;
    if state.config.settlement_delay_s > 0 {
        let (created, v) = settlement::hold(&state, command).await?;
        let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
        return Ok((status, Json(v)).into_response());
    }
    let outcome = state.submit_one(command.clone()).await?;
    match outcome.result {
        Err(Rejection::DuplicateId) => idempotent(&state, &command).await.map(IntoResponse::into_response),
        Err(r) => Err(r.into()),
        Ok(applied) => {
            let Command::Order { order, .. } = &command else { unreachable!("built as an order") };
            Ok(Json(order_json(outcome.seq.unwrap_or(0), outcome.at.as_deref().unwrap_or(""), order, &applied, false)).into_response())
        }
    }
}

/// Orders in one request at most.
pub const MAX_BATCH: usize = 10_000;

async fn create_orders_batch(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    key(&state, &headers, INTEGRATION).await?;
    let mut fields = object(&body)?;
    let orders = match fields.as_mut_slice() {
        [(k, J::Arr(items))] if k == "orders" => std::mem::take(items),
        _ => return Err(ApiError::bad_request("invalid_command", "the body is {\"orders\": [...]} / 请求体应为 {\"orders\": [...]}")),
    };
    if orders.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("at most {MAX_BATCH} orders per batch / 每批最多 {MAX_BATCH} 笔"),
        ));
    }
    // Each item is read on its own; a bad item gets its own error and the others go on.
    let parsed: Vec<Result<Command<'static>, ApiError>> = orders
        .into_iter()
        .map(|item| match item {
            J::Obj(members) => command_of("order", members, &[]),
            _ => Err(ApiError::bad_request("invalid_command", "each order is an object / 每笔订单必须是对象")),
        })
        .collect();
    if state.config.settlement_delay_s > 0 {
        // Held as pending, one by one (each with its own idempotency check).
        let mut results = Vec::with_capacity(parsed.len());
        for p in parsed {
            results.push(match p {
                Ok(command) => match settlement::hold(&state, command).await {
                    Ok((_, v)) => v,
                    Err(e) => json!({"ok": false, "error": e.code, "message": e.message}),
                },
                Err(e) => json!({"ok": false, "error": e.code, "message": e.message}),
            });
        }
        let accepted = results.iter().filter(|r| r["ok"] == true).count();
        return Ok(Json(json!({"results": results, "accepted": accepted, "rejected": results.len() - accepted})).into_response());
    }
    let valid: Vec<Command<'static>> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let mut outcomes = state.submit(valid).await?.into_iter();
    let mut out = String::with_capacity(parsed.len() * 160);
    let (mut accepted, mut rejected) = (0usize, 0usize);
    out.push_str("{\"results\":[");
    for (n, p) in parsed.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let item = match p {
            Err(e) => Err(e),
            Ok(command) => {
                let outcome = outcomes.next().ok_or_else(|| ApiError::internal("missing outcome"))?;
                let Command::Order { order, .. } = &command else { unreachable!("built as an order") };
                match outcome.result {
                    // The common case is written directly (ids and times need no escaping).
                    Ok(applied) => Ok(format!(
                        "{{\"ok\":true,\"order\":\"{order}\",\"seq\":{},\"at\":\"{}\",\"minted\":\"{}\",\"commission\":\"{}\",\"exits\":{},\"idempotent_replay\":false}}",
                        outcome.seq.unwrap_or(0),
                        outcome.at.as_deref().unwrap_or(""),
                        format_points(applied.minted),
                        format_money(applied.commission_fen),
                        applied.exits
                    )),
                    Err(Rejection::DuplicateId) => idempotent(&state, &command).await.map(|Json(v)| v.to_string()),
                    Err(r) => Err(crate::error::rejection(r)),
                }
            }
        };
        match item {
            Ok(v) => {
                accepted += 1;
                out.push_str(&v);
            }
            Err(e) => {
                rejected += 1;
                out.push_str(&json!({"ok": false, "error": e.code, "message": e.message}).to_string());
            }
        }
    }
    out.push_str(&format!("],\"accepted\":{accepted},\"rejected\":{rejected}}}"));
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], out).into_response())
}

async fn get_order(State(state): S, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    key(&state, &headers, &[Scope::Integration, Scope::Readonly]).await?;
    let pid = id.clone();
    if let Some(p) = state.read(move |b| b.pending_get(&pid)).await? {
        if p.status != "settled" {
            return Ok(Json(settlement::pending_json(&p)));
        }
    }
    state.wait_projected(Duration::from_secs(2)).await;
    let found = state.read(move |b| b.order(&id)).await?;
    let (row, _) = found.ok_or_else(|| ApiError::not_found("no such order / 订单不存在"))?;
    Ok(Json(json!({
        "order": row.order_id, "seq": row.seq, "at": row.at, "member": row.member, "merchant": row.merchant,
        "amount": format_money(Fen::from_fen(row.amount_fen)), "commission": format_money(Fen::from_fen(row.commission_fen)),
        "minted": format_points(Units::from_units(row.minted_units)), "status": "settled",
    })))
}

async fn refund_order(State(state): S, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, INTEGRATION).await?;
    let rid = id.clone();
    let refunded = state.read(move |b| b.pending_refund(&rid)).await?;
    let pid = id.clone();
    let pending = state.read(move |b| b.pending_get(&pid)).await?;
    match pending {
        Some(p) if refunded || p.status == "refunded" => {
            if refunded {
                state.audit(who.who(), "refund_order", id).await;
            }
            Ok(Json(settlement::pending_json(&p)))
        }
        Some(p) if p.status == "settling" || p.status == "settled" => Err(ApiError::conflict(
            "already_settled",
            format!("order {} has settled; a refund is no longer possible / 订单已结算，不能退款", p.order_id),
        )),
        Some(p) => Err(ApiError::conflict("not_refundable", format!("order {} was {} / 订单状态为 {}", p.order_id, p.status, p.status))),
        None => {
            let oid = id.clone();
            if state.query(move |e| e.has_order(&oid)).await? {
                Err(ApiError::conflict("already_settled", "the order has settled; a refund is no longer possible / 订单已结算，不能退款"))
            } else {
                Err(ApiError::not_found("no such order / 订单不存在"))
            }
        }
    }
}

// ---- member ------------------------------------------------------------------------------------

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(160, 160).build(),
        Err(_) => String::new(),
    }
}

async fn me(State(state): S, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let id = member(&state, &headers).await?;
    let link = format!("{}/join?ref={id}", state.public_url.trim_end_matches('/'));
    let m = id.clone();
    let reserved = state.read(move |b| b.withdrawals_reserved(&m)).await?;
    let m = id.clone();
    let view = state
        .query(move |e| {
            let member = e.member(&m)?;
            let rules = e.rules();
            let (p, n) = e.reference_price();
            let held = e.held_value_fen(member);
            let cap = e.cap_fen(member);
            let realised = i128::from(member.cycle_realized_fen);
            let (_, exit_payout) = e.exit_quote(member);
            let progress_ppm = if cap > 0 { ((realised + i128::from(held)) * i128::from(PPM) / cap) as i64 } else { 0 };
            Some(json!({
                "member": m,
                "points": format_points(member.points),
                "locked": format_points(member.locked),
                "value_now": format_money(held),
                "price": format_price(p, n),
                "cash": format_money(member.cash_fen),
                "pending_withdrawals": format_money(Fen::from_fen(reserved)),
                "withdrawable": format_money((member.cash_fen - Fen::from_fen(reserved)).max(Fen::ZERO)),
                "coins": format_money(member.coins_fen),
                "cycle_consumption": format_money(member.cycle_consumption_fen),
                "cycle_realized": format_money(member.cycle_realized_fen),
                "lifetime_consumption": format_money(member.lifetime_consumption_fen),
                "exits": member.exits,
                "rewards": format_money(member.rewards_fen),
                "cap": {
                    "multiple": format_rate(rules.exit_multiple_ppm),
                    "cap": format_money(Fen::from_wide(cap).unwrap_or(Fen::MAX)),
                    "progress": format_rate(Ppm::from_ppm(progress_ppm.min(100 * PPM))),
                    "exit_would_pay_now": format_money(exit_payout),
                },
            }))
        })
        .await?
        .ok_or_else(|| ApiError::from(Rejection::UnknownMember))?;
    let mut view = view;
    view["referral_link"] = json!(link);
    view["referral_qr_svg"] = json!(qr_svg(&link));
    Ok(Json(view))
}

async fn sell_preview(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let id = member(&state, &headers).await?;
    let command = command_from("sell", &body, &[("member", &id)])?;
    let Command::Sell { points, .. } = command else { unreachable!("built as a sell") };
    let preview = state
        .query(move |e| -> Result<Value, Rejection> {
            let quote = e.sell_quote(&id, points)?;
            Ok(json!({"points": format_points(quote.units), "gross": format_money(quote.gross_fen),
                      "kept_in_pool": format_money(quote.kept_fen), "payout": format_money(quote.payout_fen),
                      "retention": format_rate(e.rules().retention_ppm)}))
        })
        .await??;
    Ok(Json(preview))
}

async fn me_command(state: Arc<AppState>, headers: HeaderMap, body: Bytes, op: &'static str) -> ApiResult<Json<Value>> {
    let id = member(&state, &headers).await?;
    let command = command_from(op, &body, &[("member", &id)])?;
    let (seq, at, applied) = accepted(state.submit_one(command).await?)?;
    let m = id.clone();
    let balances = state
        .query(move |e| e.member(&m).map(|x| json!({"points": format_points(x.points), "cash": format_money(x.cash_fen)})))
        .await?;
    Ok(ok_body(seq, &at, json!({"exits": applied.exits, "member": id, "balances": balances})))
}

async fn me_sell(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    me_command(state, headers, body, "sell").await
}

async fn me_redeem(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    me_command(state, headers, body, "redeem").await
}

/// A withdrawal request: queued for an operator, its amount reserved (see [`crate::withdrawals`]).
async fn me_withdraw(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = member(&state, &headers).await?;
    let Command::Withdraw { amount_fen, .. } = command_from("withdraw", &body, &[("member", &id)])? else {
        unreachable!("built as a withdraw")
    };
    let w = crate::withdrawals::request(&state, id, amount_fen.to_fen()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"ok": true, "withdrawal": w}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawalQuery {
    status: Option<String>,
    member: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn me_withdrawals(State(state): S, headers: HeaderMap, Query(q): Query<WithdrawalQuery>) -> ApiResult<Json<Value>> {
    let id = member(&state, &headers).await?;
    if q.member.as_ref().is_some_and(|m| *m != id) {
        return Err(ApiError::forbidden("a member sees its own withdrawals only / 只能查看自己的提现"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(crate::withdrawals::list(&state, q.status, Some(id), q.after, limit).await?))
}

async fn list_withdrawals(State(state): S, headers: HeaderMap, Query(q): Query<WithdrawalQuery>) -> ApiResult<Json<Value>> {
    key(&state, &headers, READ).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(crate::withdrawals::list(&state, q.status, q.member, q.after, limit).await?))
}

async fn show_withdrawal(State(state): S, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    key(&state, &headers, READ).await?;
    Ok(Json(crate::withdrawals::show(&state, &id).await?))
}

async fn pay_withdrawal(State(state): S, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, ADMIN).await?;
    no_fields(&body)?;
    let w = crate::withdrawals::pay(&state, &id, who.who()).await?;
    state.audit(who.who(), "pay_withdrawal", id).await;
    Ok(Json(json!({"ok": true, "withdrawal": w})))
}

async fn reject_withdrawal(State(state): S, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, ADMIN).await?;
    let fields = if body.iter().all(u8::is_ascii_whitespace) { Vec::new() } else { object(&body)? };
    let mut reason = None;
    for (k, v) in fields {
        match (k.as_ref(), v) {
            ("reason", J::Str(text)) if text.chars().count() <= 500 => reason = Some(text.into_owned()),
            ("reason", J::Null) => {}
            ("reason", _) => return Err(ApiError::bad_request("invalid_command", "reason is a string of at most 500 characters / 原因最多 500 字")),
            (other, _) => return Err(ApiError::bad_request("invalid_command", format!("unknown field {other} / 未知字段 {other}"))),
        }
    }
    let w = crate::withdrawals::reject(&state, &id, who.who(), reason).await?;
    state.audit(who.who(), "reject_withdrawal", id).await;
    Ok(Json(json!({"ok": true, "withdrawal": w})))
}

/// An empty body, or `{}`.
fn no_fields(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) || object(body)?.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_command", "this route takes no fields / 此接口不接受字段"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

async fn me_history(State(state): S, headers: HeaderMap, Query(q): Query<PageQuery>) -> ApiResult<Json<Value>> {
    let id = member(&state, &headers).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let before = q.before.unwrap_or(u64::MAX);
    state.wait_projected(Duration::from_secs(1)).await;
    let m = id.clone();
    let rows = state.read(move |b| b.member_history(&m, before, limit)).await?;
    let next = (rows.len() >= limit).then(|| rows.last().map(|r| r.seq)).flatten();
    let items: Vec<Value> = rows
        .iter()
        .map(|r| json!({"seq": r.seq, "reason": r.reason, "points": format_points(Units::from_units(r.points)), "locked": format_points(Units::from_units(r.locked)),
                        "cash": format_money(Fen::from_fen(r.cash_fen)), "coins": format_money(Fen::from_fen(r.coins_fen))}))
        .collect();
    Ok(Json(json!({"member": id, "items": items, "next_before": next})))
}

// ---- admin -------------------------------------------------------------------------------------

const ADMIN: &[Scope] = &[];
const READ: &[Scope] = &[Scope::Readonly];

fn rules_json(rules: &zengzhi_core::Rules) -> Value {
    let mut out = serde_json::Map::new();
    for (section, keys) in rules.to_doc() {
        let mut obj = serde_json::Map::new();
        for (k, v) in keys.unwrap_or_default() {
            obj.insert(k, json!(v));
        }
        out.insert(section, Value::Object(obj));
    }
    Value::Object(out)
}

fn problems_json(problems: &[zengzhi_core::rules::RuleProblem]) -> Value {
    problems.iter().map(|p| json!({"path": p.path, "zh": p.zh, "en": p.en})).collect()
}

async fn get_rules(State(state): S, headers: HeaderMap) -> ApiResult<Json<Value>> {
    key(&state, &headers, READ).await?;
    let rules = state.query(|e| e.rules().clone()).await?;
    Ok(Json(json!({"rules": rules_json(&rules), "warnings": problems_json(&rules.warnings())})))
}

async fn put_rules(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, ADMIN).await?;
    // A withdrawal being paid quoted its fee at the current rules; the change waits for it.
    let _withdrawals = state.withdrawal_lock.lock().await;
    let fields = object(&body)?;
    let doc = zengzhi_core::rules::doc_from_json(&J::Obj(fields)).ok_or_else(|| ApiError::bad_request("invalid_command", "rules must be an object"))?;
    // Validate here too, to answer with every problem in plain words.
    let current = state.query(|e| e.rules().clone()).await?;
    let next = current.updated(&doc).map_err(|problems| {
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rules", "the rules are invalid / 规则无效");
        e.message = format!("{} — {}", e.message, problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
        e.problems = Some(problems_json(&problems));
        e
    })?;
    let (seq, at, applied) = accepted(state.submit_one(Command::UpdateRules { rules: doc }).await?)?;
    state.audit(who.who(), "update_rules", String::from_utf8_lossy(&body).into_owned()).await;
    Ok(ok_body(seq, &at, json!({"exits": applied.exits, "rules": rules_json(&next), "warnings": problems_json(&next.warnings())})))
}

async fn admin_op(state: Arc<AppState>, headers: HeaderMap, body: Bytes, op: &'static str) -> ApiResult<Json<Value>> {
    let who = key(&state, &headers, ADMIN).await?;
    let r = run(&state, command_from(op, &body, &[])?).await?;
    state.audit(who.who(), op, String::from_utf8_lossy(&body).into_owned()).await;
    Ok(r)
}

async fn inject(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    admin_op(state, headers, body, "inject").await
}
async fn start_campaign(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    admin_op(state, headers, body, "start_campaign").await
}
async fn end_campaign(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    admin_op(state, headers, body, "end_campaign").await
}
async fn release_locked(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    admin_op(state, headers, body, "release_locked").await
}
async fn distribute_dividends(State(state): S, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    admin_op(state, headers, body, "distribute_dividends").await
}

async fn admin_state(State(state): S, headers: HeaderMap) -> ApiResult<Response> {
    key(&state, &headers, READ).await?;
    let text = state
        .query(|e| {
            let mut out = Vec::new();
            zengzhi_core::state::write_state(e, None, &mut out).map(|()| out)
        })
        .await?
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text).into_response())
}
