//! The web front end, embedded in the binary: the operator console at `/admin/` (and, later, the
//! member page at `/m/` and the store page at `/store/`), built from `web/` by this crate's build
//! script. `/` redirects to the console. A path under a page that is not a file (a client-side
//! route) is answered with that page's `index.html`. Built files with a content hash in their
//! name are cached for a year; `index.html` is never cached, so a new build is seen at once.
//!
//! Every response, the API's too, carries [`security_headers`]: the pages a Content Security
//! Policy without inline or remote scripts, no framing by other sites, no referrer; the API
//! `default-src 'none'`. No CORS header is ever sent: browsers on other origins cannot read
//! the API (the platform's servers call it directly; the pages are same-origin).

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist/"]
struct Assets;

/// The pages of the front end: each a folder of `web/dist` with its own `index.html`.
const PAGES: &[&str] = &["admin", "m", "store"];

/// The routes of the front end.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::temporary("/admin/") }))
        // The landing page of referral and store links (`/join?ref=ID`, `/join?store=ID`): the
        // member app, which shows its join page for this path.
        .route("/join", get(|| async { index("m") }));
    for page in PAGES {
        router = router
            .route(&format!("/{page}"), get(move || async move { Redirect::permanent(&format!("/{page}/")) }))
            .route(&format!("/{page}/"), get(move || async move { index(page) }))
            .route(
                &format!("/{page}/{{*path}}"),
                get(move |Path(path): Path<String>| async move { file(page, &path) }),
            );
    }
    router.layer(map_response(security_headers))
}

/// The pages' Content Security Policy: scripts, styles' files, fonts and requests from this
/// origin only. Inline `style` attributes are allowed (the component libraries position popups
/// with them); images may also be `data:`/`blob:` URLs (QR codes and the share poster are drawn
/// in the page).
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Everything else (JSON, CSV, images): nothing may run, nothing may frame it.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The security headers of every response (a header a handler set itself is kept).
pub async fn security_headers(mut response: Response) -> Response {
    let html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let headers = response.headers_mut();
    let csp = if html { PAGE_CSP } else { API_CSP };
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Whether the console was built into this binary.
pub fn console_built() -> bool {
    Assets::get("admin/index.html").is_some()
}

fn file(page: &str, path: &str) -> Response {
    match Assets::get(&format!("{page}/{path}")) {
        Some(_) => asset(&format!("{page}/{path}")),
        // A client-side route (no file extension): the page itself.
        None if !path.rsplit('/').next().unwrap_or("").contains('.') => index(page),
        None => not_found(),
    }
}

fn index(page: &str) -> Response {
    match Assets::get(&format!("{page}/index.html")) {
        Some(f) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], f.data)
            .into_response(),
        None => not_built(page),
    }
}

fn asset(path: &str) -> Response {
    let Some(f) = Assets::get(path) else { return not_found() };
    let mime = f.metadata.mimetype();
    let mut response = f.data.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // Vite puts a content hash in the names of everything under assets/.
    let cache = if path.contains("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn not_found() -> Response {
    crate::error::ApiError::not_found("no such file / 没有这个文件").into_response()
}

/// What a page answers when the binary was built without the front end.
fn not_built(page: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>zengzhi</title>\
         <h1>控制台未构建 / The web pages were not built</h1>\
         <p>这个程序构建时没有包含网页（/{page}/）。请安装 Node 20 和 npm 后重新构建：\
         <code>cargo build --release -p zengzhi-cli</code>（构建脚本会运行 <code>npm ci</code> 和 <code>npm run build</code>）。</p>\
         <p>This binary was built without its web pages (/{page}/), e.g. with ZENGZHI_SKIP_WEB_BUILD set or without npm. \
         Install Node 20 and npm and build again: <code>cargo build --release -p zengzhi-cli</code> \
         (the build script runs <code>npm ci</code> and <code>npm run build</code> in <code>web/</code>).</p>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;

    async fn get(path: &str) -> (StatusCode, String, String, Vec<u8>) {
        let response = super::router::<()>().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let header = |name| response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let (ctype, location) = (header(header::CONTENT_TYPE), header(header::LOCATION));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        (status, ctype, location, body)
    }

    #[tokio::test]
    async fn the_root_redirects_to_the_console_and_client_routes_answer_its_page() {
        let (status, _, location, _) = get("/").await;
        assert_eq!((status, location.as_str()), (StatusCode::TEMPORARY_REDIRECT, "/admin/"));
        let (status, _, location, _) = get("/admin").await;
        assert_eq!((status, location.as_str()), (StatusCode::PERMANENT_REDIRECT, "/admin/"));
        let (status, ctype, _, page) = get("/admin/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(ctype.starts_with("text/html"), "{ctype}");
        // A client-side route is the page itself; a missing file is a JSON 404.
        let (status, _, _, route) = get("/admin/withdrawals/pending").await;
        assert_eq!((status, &route), (StatusCode::OK, &page));
        let (status, ctype, _, _) = get("/admin/assets/no-such-file.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(ctype.starts_with("application/json"), "{ctype}");
        // The member app, with the same fallback, and /join answered by it.
        let (status, location) = {
            let (s, _, l, _) = get("/m").await;
            (s, l)
        };
        assert_eq!((status, location.as_str()), (StatusCode::PERMANENT_REDIRECT, "/m/"));
        let (status, ctype, _, member_page) = get("/m/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(ctype.starts_with("text/html"), "{ctype}");
        assert_ne!(member_page, page, "the member app is a page of its own");
        let (status, _, _, route) = get("/m/sell").await;
        assert_eq!((status, &route), (StatusCode::OK, &member_page));
        let (status, _, _, join) = get("/join?ref=alice").await;
        assert_eq!((status, &join), (StatusCode::OK, &member_page));
        let member_text = String::from_utf8(member_page).unwrap();
        if super::console_built() {
            assert!(member_text.contains("/m/assets/"), "the member app loads its assets from /m/assets/");
        }
        let text = String::from_utf8(page).unwrap();
        if super::console_built() {
            assert!(text.contains("/admin/assets/"), "the built console loads its assets from /admin/assets/");
        } else {
            assert!(text.contains("ZENGZHI_SKIP_WEB_BUILD"), "the page says how to build the console");
        }
    }

    #[tokio::test]
    async fn built_assets_are_served_with_their_type_and_cached() {
        let Some(path) = super::Assets::iter().find(|p| p.starts_with("admin/assets/") && p.ends_with(".js")) else {
            assert!(!super::console_built(), "a built console has scripts under admin/assets/");
            return;
        };
        let (status, ctype, _, body) = get(&format!("/{path}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(ctype.contains("javascript"), "{ctype}");
        assert_eq!(body, super::Assets::get(&path).unwrap().data.to_vec());
    }
}
