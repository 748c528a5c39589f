//! The routes of API v1, one module per area, each with its own `router()`, merged in
//! [`build_app`]. Request bodies use the field names of the SPEC §6 commands and are read by
//! the engine's own strict reader (unknown fields, wrong types and bad amounts are rejected
//! exactly as in a replay); money and points in JSON are the strings of SPEC §3.
//!
//! Routes are added with [`route!`](crate::route): the handler's `#[utoipa::path]` gives the
//! method, path and schemas, and its first argument, a [`Guard`], gives who may call it. The
//! router and the OpenAPI document ([`openapi`]) are built from the same registrations, so a
//! route cannot be served undocumented, documented unserved, or registered without a guard
//! (a handler whose first argument is not a guard does not compile into the router).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use zengzhi_core::command::parse_fields;
use zengzhi_core::json::{self as strict, Json as J};
use zengzhi_core::Command;
use zengzhi_journal::writer::Outcome;

use crate::error::{ApiCode, ApiError, ApiResult, ErrorBody};
use crate::guards::{Access, Guard};
use crate::AppState;

pub mod accounts;
pub mod admin;
pub mod exports;
pub mod insight;
pub mod integration;
pub mod member;
pub mod members;
pub mod network;
pub mod orders;
pub mod public;
pub mod sim;
pub mod storefront;
pub mod withdrawals;

/// Adds a handler of the current module to an [`ApiRouter`]: `route!(api, handler)`.
#[macro_export]
macro_rules! route {
    ($api:expr, $handler:ident) => {
        ::paste::paste! { $api.add::<[<__path_ $handler>], _, _, _>($handler) }
    };
}

/// An [`ApiRouter`] of handlers of the current module: `routes![a, b, c]`.
#[macro_export]
macro_rules! routes {
    ($($handler:ident),* $(,)?) => {
        ::paste::paste! { $crate::routes::ApiRouter::new() $(.add::<[<__path_ $handler>], _, _, _>($handler))* }
    };
}

/// The handler's extractors start with the guard `G` (axum's `Handler<T, S>` has
/// `T = (M, T1, …, Tn)`: here `T1 = G`).
pub trait GuardFirst<G> {}

macro_rules! guard_first {
    ($($t:ident),*) => {
        impl<M, G, $($t,)*> GuardFirst<G> for (M, G, $($t,)*) {}
    };
}
guard_first!();
guard_first!(A);
guard_first!(A, B);
guard_first!(A, B, C);
guard_first!(A, B, C, D);

/// One served route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// Lower case, as in the OpenAPI document.
    pub method: &'static str,
    pub path: String,
    pub access: Access,
}

/// A router and its OpenAPI paths, built together.
#[derive(Default)]
pub struct ApiRouter {
    router: Router<Arc<AppState>>,
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
    table: Vec<RouteInfo>,
}

fn method_parts(m: &HttpMethod) -> (MethodFilter, &'static str) {
    match m {
        HttpMethod::Get => (MethodFilter::GET, "get"),
        HttpMethod::Post => (MethodFilter::POST, "post"),
        HttpMethod::Put => (MethodFilter::PUT, "put"),
        HttpMethod::Delete => (MethodFilter::DELETE, "delete"),
        HttpMethod::Options => (MethodFilter::OPTIONS, "options"),
        HttpMethod::Head => (MethodFilter::HEAD, "head"),
        HttpMethod::Patch => (MethodFilter::PATCH, "patch"),
        HttpMethod::Trace => (MethodFilter::TRACE, "trace"),
    }
}

impl ApiRouter {
    pub fn new() -> ApiRouter {
        ApiRouter::default()
    }

    /// Adds `handler`, documented by `P` (the `__path_` type of its `#[utoipa::path]`) and
    /// guarded by its first argument `G`. Use [`route!`](crate::route).
    ///
    /// A handler with a guard first compiles into the router:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum::extract::State;
    /// use zengzhi_server::{guards::CanRead, route, routes::ApiRouter, AppState};
    ///
    /// /// Guarded
    /// #[utoipa::path(get, path = "/x", responses((status = 200, body = String)))]
    /// async fn guarded(_: CanRead, State(_): State<Arc<AppState>>) -> &'static str { "x" }
    ///
    /// let _api = route!(ApiRouter::new(), guarded);
    /// ```
    ///
    /// The same handler without its guard does not:
    ///
    /// ```compile_fail
    /// use std::sync::Arc;
    /// use axum::extract::State;
    /// use zengzhi_server::{guards::CanRead, route, routes::ApiRouter, AppState};
    ///
    /// /// Unguarded
    /// #[utoipa::path(get, path = "/x", responses((status = 200, body = String)))]
    /// async fn unguarded(State(_): State<Arc<AppState>>) -> &'static str { "x" }
    ///
    /// let _api = route!(ApiRouter::new(), unguarded);
    /// ```
    pub fn add<P, G, H, T>(mut self, handler: H) -> ApiRouter
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        G: Guard,
        H: Handler<T, Arc<AppState>>,
        T: GuardFirst<G> + 'static,
    {
        let path = P::path();
        let methods = P::methods();
        let mut method_router: MethodRouter<Arc<AppState>> = MethodRouter::new();
        for m in &methods {
            let (filter, name) = method_parts(m);
            method_router = method_router.on(filter, handler.clone());
            self.table.push(RouteInfo { method: name, path: path.clone(), access: G::ACCESS });
        }
        self.router = self.router.route(&path, method_router);
        self.paths.add_path_operation(&path, methods, P::operation());
        P::schemas(&mut self.schemas);
        self
    }

    pub fn merge(mut self, other: ApiRouter) -> ApiRouter {
        self.router = self.router.merge(other.router);
        self.paths.merge(other.paths);
        self.schemas.extend(other.schemas);
        self.table.extend(other.table);
        self
    }

    /// The served routes.
    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    /// The OpenAPI 3.1 document of these routes.
    pub fn openapi(&self) -> Value {
        let mut components = utoipa::openapi::ComponentsBuilder::new();
        let mut schemas = self.schemas.clone();
        schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
        <ErrorBody as ToSchema>::schemas(&mut schemas);
        for (name, schema) in schemas {
            components = components.schema(name, schema);
        }
        let doc = utoipa::openapi::OpenApiBuilder::new()
            .info(
                utoipa::openapi::InfoBuilder::new()
                    .title("zengzhi 增值 API")
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some(
                        "Money is a string of yuan with two decimals (at most two in requests); points a string with eight \
                         (at most eight in requests). Errors are {\"error\": code, \"message\": \"中文 / English\"}.",
                    )),
            )
            .paths(self.paths.clone())
            .components(Some(components.build()))
            .build();
        let mut doc = serde_json::to_value(doc).expect("the document serializes");
        doc["components"]["securitySchemes"] = json!({
            "apiKey": {"type": "http", "scheme": "bearer", "description": "API key (admin, integration or readonly)"},
            "session": {"type": "http", "scheme": "bearer", "description": "Operator session (zs_…) from POST /v1/auth/login"},
            "memberToken": {"type": "http", "scheme": "bearer", "description": "Member token from POST /v1/members/{id}/token"},
            "storeToken": {"type": "http", "scheme": "bearer", "description": "Store token (st.…) from POST /v1/merchants/{id}/token or POST /v1/admin/stores/{id}/token"},
        });
        let error = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
        for r in &self.table {
            let op = &mut doc["paths"][&r.path][r.method];
            op["x-access"] = json!(r.access.as_str());
            let guarded = match r.access {
                Access::Public => None,
                Access::Member => Some((&["memberToken"][..], "a member token")),
                Access::Store => Some((&["storeToken"][..], "a store token")),
                Access::Integration => Some((&["apiKey"][..], "an integration or admin key")),
                Access::IntegrationOrOperate => Some((
                    &["apiKey", "session"][..],
                    "an integration or admin key, or a superadmin or operator session",
                )),
                Access::Read => Some((&["apiKey", "session"][..], "a readonly or admin key, or any operator session")),
                Access::OrderRead => {
                    Some((&["apiKey", "session"][..], "an integration, readonly or admin key, or any operator session"))
                }
                Access::Operate => {
                    Some((&["apiKey", "session"][..], "an admin key, or a superadmin or operator session"))
                }
                Access::Finance => {
                    Some((&["apiKey", "session"][..], "an admin key, or a superadmin or finance session"))
                }
                Access::Administer => Some((&["apiKey", "session"][..], "an admin key, or a superadmin session")),
            };
            if let Some((schemes, _)) = guarded {
                op["security"] = schemes.iter().map(|s| json!({*s: []})).collect();
            }
            let responses = op["responses"].as_object_mut().expect("every operation has responses");
            if let Some((_, who)) = guarded {
                responses.insert(
                    "401".into(),
                    json!({"description": "No valid key or token", "content": error["content"].clone()}),
                );
                responses.insert(
                    "403".into(),
                    json!({"description": format!("Allowed only with {who}"), "content": error["content"].clone()}),
                );
            }
            responses.entry("default").or_insert_with(|| error.clone());
        }
        doc
    }

    /// The router (state still to be given).
    pub fn into_router(self) -> Router<Arc<AppState>> {
        self.router
    }
}

/// Every route of the API (without state: for the document and the route table).
pub fn api() -> ApiRouter {
    ApiRouter::new()
        .merge(public::router())
        .merge(integration::router())
        .merge(orders::router())
        .merge(member::router())
        .merge(admin::router())
        .merge(withdrawals::router())
        .merge(exports::router())
        .merge(accounts::router())
        .merge(members::router())
        .merge(network::router())
        .merge(insight::router())
        .merge(storefront::router())
        .merge(sim::router())
}

/// The OpenAPI document (built once).
pub fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| api().openapi())
}

/// Every served route: method, path and who may call it.
pub fn table() -> Vec<RouteInfo> {
    api().table().to_vec()
}

/// The router of the whole API.
pub fn build_app(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    api()
        .into_router()
        .merge(member::demo_router(state.config.demo))
        .fallback(|| async { ApiError::not_found("no such route / 没有这个接口") })
        .layer(DefaultBodyLimit::max(limit))
        // From the outside in: security headers → observed (metrics, JSON errors) → rate
        // limits → the body read within its deadline → the route.
        .layer(middleware::from_fn_with_state(state.clone(), crate::limits::body_deadline))
        .layer(middleware::from_fn_with_state(state.clone(), crate::limits::rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::map_response(crate::web::security_headers))
        .with_state(state)
}

/// Metrics for every request, and JSON bodies for errors produced outside the handlers
/// (body too large, wrong method).
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = request.method().clone();
    let has_query = request.uri().query().is_some();
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => (ApiCode::PayloadTooLarge, "the request body is too large / 请求体过大"),
            StatusCode::METHOD_NOT_ALLOWED => (ApiCode::MethodNotAllowed, "method not allowed / 不支持该方法"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (ApiCode::UnsupportedMediaType, "send JSON / 请发送 JSON"),
            // The only 400s not made by the handlers are rejected query strings and paths.
            StatusCode::BAD_REQUEST if has_query => {
                (ApiCode::InvalidQuery, "the query string is not valid / 查询参数不正确")
            }
            StatusCode::BAD_REQUEST => (ApiCode::InvalidRequest, "the request is not valid / 请求不正确"),
            _ => (ApiCode::Error, "request failed / 请求失败"),
        };
        response = ApiError::new(status, code, message).into_response();
    }
    state.metrics.observe(&route, method.as_str(), response.status().as_u16(), started.elapsed());
    response
}

// ---- shared by the areas -----------------------------------------------------------------

/// A query string read into `T` (unknown keys and bad values are `invalid_query`, naming the
/// problem).
pub struct Q<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Q(v)),
            Err(e) => Err(ApiError::bad_request(ApiCode::InvalidQuery, format!("{} / 查询参数不正确", e.body_text()))),
        }
    }
}

/// Reads a JSON object body strictly (duplicate keys, NaN, lone surrogates are errors); the
/// members borrow from the body.
pub(crate) fn object(body: &[u8]) -> ApiResult<Vec<(Cow<'_, str>, J<'_>)>> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request(ApiCode::InvalidJson, "the body is not UTF-8 / 请求体不是 UTF-8"))?;
    let value = strict::parse(text).map_err(|e| {
        ApiError::bad_request(
            ApiCode::InvalidJson,
            format!("malformed JSON at byte {}: {} / JSON 格式错误", e.offset, e.reason),
        )
    })?;
    match value {
        J::Obj(members) => Ok(members),
        _ => Err(ApiError::bad_request(
            ApiCode::InvalidCommand,
            "the body must be a JSON object / 请求体必须是 JSON 对象",
        )),
    }
}

/// The fields of a body that may be empty (an empty body is `{}`).
pub(crate) fn fields_or_empty(body: &[u8]) -> ApiResult<Vec<(Cow<'_, str>, J<'_>)>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Vec::new())
    } else {
        object(body)
    }
}

/// The command `op` from an object's fields plus `inject`ed ones (e.g. the member of a member
/// token: a body naming that field too is `invalid_command`, so nobody acts for another).
pub(crate) fn command_of(
    op: &str,
    mut fields: Vec<(Cow<'_, str>, J<'_>)>,
    inject: &[(&str, &str)],
) -> ApiResult<Command<'static>> {
    for (k, v) in inject {
        if fields.iter().any(|(key, _)| key == k) {
            return Err(ApiError::bad_request(
                ApiCode::InvalidCommand,
                format!("the body must not name {k} / 请求体不能包含 {k}"),
            ));
        }
        fields.push((Cow::Owned((*k).to_string()), J::Str(Cow::Owned((*v).to_string()))));
    }
    let parsed = parse_fields(op, &fields).map_err(ApiError::from)?;
    Ok(parsed.command.into_owned())
}

/// The command `op` made of the request body (an empty body is `{}`).
pub(crate) fn command_from(op: &str, body: &[u8], inject: &[(&str, &str)]) -> ApiResult<Command<'static>> {
    command_of(op, fields_or_empty(body)?, inject)
}

/// The outcome of one command, or its rejection as an error.
pub(crate) fn accepted(outcome: Outcome) -> ApiResult<(u64, String, zengzhi_core::Applied)> {
    let applied = outcome.result.map_err(ApiError::from)?;
    Ok((outcome.seq.unwrap_or(0), outcome.at.unwrap_or_default(), applied))
}

/// Declares routes that journal one command made of their body and record it in the audit
/// log, one line each: `audited_commands! { Guard, "tag"; name, "/path", BodyType, "op", "summary"; … }`.
#[macro_export]
macro_rules! audited_command {
    ($(#[doc = $doc:literal])* $name:ident: $guard:ident, $tag:tt, $path:tt, $body:ty, $op:tt) => {
        $(#[doc = $doc])*
        #[utoipa::path(post, path = $path, tag = $tag, request_body = $body,
            responses((status = 200, body = $crate::views::Applied)))]
        pub async fn $name(
            who: $guard,
            ::axum::extract::State(state): ::axum::extract::State<::std::sync::Arc<$crate::AppState>>,
            body: ::axum::body::Bytes,
        ) -> $crate::error::ApiResult<::axum::Json<$crate::views::Applied>> {
            $crate::routes::audited(who.actor(), state, body, $op).await
        }
    };
}

/// Journals the command `op` made of `body` and records it in the audit log.
pub async fn audited(
    who: &crate::guards::Actor,
    state: Arc<AppState>,
    body: axum::body::Bytes,
    op: &'static str,
) -> ApiResult<Json<crate::views::Applied>> {
    let fields = fields_or_empty(&body)?;
    let target = target_of(&fields);
    let r = run(&state, command_of(op, fields, &[])?).await?;
    let change = crate::Change { target, ..Default::default() };
    state.audit_change(who, op, String::from_utf8_lossy(&body).into_owned(), change).await;
    Ok(r)
}

/// The member or store a command's fields name (`member:<id>` or `merchant:<id>`).
pub(crate) fn target_of(fields: &[(Cow<'_, str>, J<'_>)]) -> Option<String> {
    ["member", "merchant"].into_iter().find_map(|k| {
        fields.iter().find_map(|(key, v)| match v {
            J::Str(id) if key == k => Some(format!("{k}:{id}")),
            _ => None,
        })
    })
}

/// Submits one command and answers with its outcome.
pub(crate) async fn run(state: &Arc<AppState>, command: Command<'static>) -> ApiResult<Json<crate::views::Applied>> {
    let (seq, at, applied) = accepted(state.submit_one(command).await?)?;
    Ok(Json(crate::views::Applied { ok: true, seq, at, exits: applied.exits }))
}

/// An empty body, or `{}`.
pub(crate) fn no_fields(body: &[u8]) -> ApiResult<()> {
    if fields_or_empty(body)?.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(ApiCode::InvalidCommand, "this route takes no fields / 此接口不接受字段"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_served_route_is_documented_once_with_its_access() {
        let doc = openapi();
        let table = table();
        let served: BTreeSet<(String, &str)> = table.iter().map(|r| (r.path.clone(), r.method)).collect();
        assert_eq!(served.len(), table.len(), "no route twice");
        let mut documented = BTreeSet::new();
        let mut operation_ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let r =
                    table.iter().find(|r| r.path == *path && r.method == method).expect("documented routes are served");
                assert_eq!(op["x-access"], r.access.as_str(), "{method} {path}");
                assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has a summary");
                assert!(op["responses"]["default"].is_object());
                let id = op["operationId"].as_str().expect("an operationId");
                assert!(operation_ids.insert(id.to_string()), "operationId {id} twice");
                documented.insert((path.clone(), method.as_str()));
            }
        }
        let served: BTreeSet<(String, &str)> = served.into_iter().collect();
        assert_eq!(documented.len(), served.len());
    }
}
