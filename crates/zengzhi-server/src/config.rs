//! Settings: defaults, then `zengzhi.toml`, then environment variables (`ZENGZHI_*`), then the
//! command line (applied by the binary).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zengzhi_core::Rules;
use zengzhi_journal::backend::Backend;

/// A secret setting (a token, a signing secret, a database URL that may hold a password): its
/// `Debug` never shows the value, so a `{:?}` of the settings or a log line cannot leak it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself (to use it, never to print it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// PostgreSQL instead of SQLite (the URL may carry a password).
    pub database_url: Option<Secret>,
    pub pg_schema: String,
    /// A bootstrap admin token (all scopes). Never logged.
    pub admin_token: Option<Secret>,
    /// The member-token signing secret; generated and stored in the program's store if absent.
    pub token_secret: Option<Secret>,
    pub member_token_ttl_s: u64,
    /// Seed the demo economy on first start.
    pub demo: bool,
    /// Rules of a new program (TOML file).
    pub rules_file: Option<PathBuf>,
    /// The public base URL for referral links; `None`: `http://` + the address listened on.
    pub public_url: Option<String>,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Daily `release_locked` at this Beijing time (`HH:MM`); `None` disables it.
    pub release_locked_at: Option<String>,
    /// Daily `distribute_dividends` at this Beijing time (`HH:MM`); `None` disables it.
    pub dividends_at: Option<String>,
    /// How often the projector looks for new journal entries, milliseconds.
    pub projector_interval_ms: u64,
    /// The projector thread's niceness (Linux; 0 leaves it alone). The query tables are derived
    /// and may lag: under saturation the journal's appends and the requests go first.
    pub projector_nice: i32,
    /// The refund window: orders wait this long as pending before they settle (0: settle at
    /// once).
    pub settlement_delay_s: u64,
    /// An operator session ends after this long without a request (seconds; default 8 h).
    pub session_idle_s: u64,
    /// An operator session ends this long after its login at the latest (seconds; default 24 h).
    pub session_max_s: u64,
    /// Take the client's address for the login and operation logs from `X-Forwarded-For`
    /// (only behind a proxy that sets it; default off: the connection's peer address).
    pub trust_forwarded_for: bool,
    /// The password of the demo's `admin` user (`ZENGZHI_DEMO_PASSWORD`); random if absent.
    pub demo_password: Option<Secret>,
    /// Member tokens the platform mints itself as JWTs: see [`MemberJwtConfig`].
    pub member_jwt: MemberJwtConfig,
    /// The platform's sign-up page that `/join` forwards to (`ref` / `store` passed on).
    pub join_url: Option<String>,
    /// What one client may ask of the service: see [`Limits`].
    pub limits: Limits,
}

/// Limits on connections and requests (`[limits]` in the file). A client over one is told so
/// (408, 429 or 503 with `Retry-After`, 431 for headers) and nothing else is affected.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The request line and headers together, bytes (at least 8192; default 16 KiB).
    pub max_header_bytes: usize,
    /// The request line and headers must arrive within this (seconds; default 10): a client
    /// sending a byte at a time is cut off.
    pub header_timeout_s: u64,
    /// A request's whole body must arrive within this of its headers (seconds; default 30).
    pub body_timeout_s: u64,
    /// Connections open at once (default 4096); one more is answered 503 and closed.
    pub max_connections: usize,
    /// Requests per credential or client address: see [`RateLimits`].
    pub rate: RateLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            header_timeout_s: 10,
            body_timeout_s: 30,
            max_connections: 4096,
            rate: RateLimits::default(),
        }
    }
}

/// Token buckets, one per caller: `per_s` requests a second on average, up to `burst` at once
/// (`per_s = 0`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_s: u32,
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate { per_s: 0, burst: 0 };
}

/// Who gets a bucket of their own (`[limits.rate]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Per API key (integration, read or admin). Off by default: keys belong to the platform's
    /// servers, whose traffic is the members' orders.
    pub api_key: Rate,
    /// Per member or store token (default 20/s, bursts of 60).
    pub member: Rate,
    /// Per operator session (default 50/s, bursts of 200: a console page loads many parts).
    pub session: Rate,
    /// Per client address, for requests without a credential; and, a second bucket at the same
    /// rate, for requests whose credential was refused (401), which when empty refuses all the
    /// address's requests: guessing tokens costs the guesser (default 30/s, bursts of 120).
    pub address: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            api_key: Rate::OFF,
            member: Rate { per_s: 20, burst: 60 },
            session: Rate { per_s: 50, burst: 200 },
            address: Rate { per_s: 30, burst: 120 },
        }
    }
}

/// JWT member tokens (`sub` = the member id, `exp` required): HS256 with a shared secret,
/// and/or EdDSA or RS256 with a public key (PEM text). Both off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberJwtConfig {
    /// HS256 shared secret (`ZENGZHI_MEMBER_JWT_SECRET`).
    pub secret: Option<Secret>,
    /// An Ed25519 or RSA public key, PEM (`ZENGZHI_MEMBER_JWT_PUBLIC_KEY`).
    pub public_key_pem: Option<String>,
    /// When set, `iss` must be present and equal (`ZENGZHI_MEMBER_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// When set, `aud` must be present and contain it (`ZENGZHI_MEMBER_JWT_AUDIENCE`).
    pub audience: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            data_dir: PathBuf::from("./zengzhi-data"),
            database_url: None,
            pg_schema: "zengzhi".into(),
            admin_token: None,
            token_secret: None,
            member_token_ttl_s: 86_400,
            demo: false,
            rules_file: None,
            public_url: None,
            max_body_bytes: 4 * 1024 * 1024,
            release_locked_at: Some("00:10".into()),
            dividends_at: None,
            projector_interval_ms: 100,
            projector_nice: 19,
            settlement_delay_s: 0,
            session_idle_s: 8 * 3600,
            session_max_s: 24 * 3600,
            trust_forwarded_for: false,
            demo_password: None,
            member_jwt: MemberJwtConfig::default(),
            join_url: None,
            limits: Limits::default(),
        }
    }
}

/// The file's shape (every key optional; unknown keys are an error).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    pg_schema: Option<String>,
    admin_token: Option<Secret>,
    token_secret: Option<Secret>,
    member_token_ttl_s: Option<u64>,
    demo: Option<bool>,
    rules_file: Option<PathBuf>,
    public_url: Option<String>,
    max_body_bytes: Option<usize>,
    projector_interval_ms: Option<u64>,
    projector_nice: Option<i32>,
    settlement_delay_s: Option<u64>,
    session_idle_s: Option<u64>,
    session_max_s: Option<u64>,
    trust_forwarded_for: Option<bool>,
    #[serde(default)]
    schedule: ScheduleConfig,
    #[serde(default)]
    member_jwt: MemberJwtConfig,
    join_url: Option<String>,
    limits: Option<Limits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleConfig {
    /// `HH:MM` or `"off"`.
    release_locked_at: Option<String>,
    dividends_at: Option<String>,
}

fn hhmm(text: &str) -> Result<Option<String>, String> {
    if text == "off" {
        return Ok(None);
    }
    let ok = text.len() == 5
        && text.as_bytes()[2] == b':'
        && text[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && text[3..].parse::<u8>().is_ok_and(|m| m < 60);
    ok.then(|| Some(text.to_string())).ok_or_else(|| format!("{text:?} is not a time HH:MM (or \"off\")"))
}

impl Config {
    /// Defaults, then the file (if given, or `./zengzhi.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let mut c = Config::default();
        let path =
            file.map(Path::to_path_buf).or_else(|| Path::new("zengzhi.toml").exists().then(|| "zengzhi.toml".into()));
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let f: FileConfig = toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
            if let Some(v) = f.listen {
                c.listen = v.parse().map_err(|_| format!("listen: {v:?} is not an address like 127.0.0.1:8080"))?;
            }
            c.data_dir = f.data_dir.unwrap_or(c.data_dir);
            c.database_url = f.database_url.or(c.database_url);
            c.pg_schema = f.pg_schema.unwrap_or(c.pg_schema);
            c.admin_token = f.admin_token.or(c.admin_token);
            c.token_secret = f.token_secret.or(c.token_secret);
            c.member_token_ttl_s = f.member_token_ttl_s.unwrap_or(c.member_token_ttl_s);
            c.demo = f.demo.unwrap_or(c.demo);
            c.rules_file = f.rules_file.or(c.rules_file);
            c.public_url = f.public_url.or(c.public_url);
            c.max_body_bytes = f.max_body_bytes.unwrap_or(c.max_body_bytes);
            c.projector_interval_ms = f.projector_interval_ms.unwrap_or(c.projector_interval_ms).max(1);
            if let Some(n) = f.projector_nice {
                if !(0..=19).contains(&n) {
                    return Err(format!("projector_nice: {n} is not a niceness from 0 to 19"));
                }
                c.projector_nice = n;
            }
            c.settlement_delay_s = f.settlement_delay_s.unwrap_or(c.settlement_delay_s);
            c.session_idle_s = f.session_idle_s.unwrap_or(c.session_idle_s).max(1);
            c.session_max_s = f.session_max_s.unwrap_or(c.session_max_s).max(1);
            c.trust_forwarded_for = f.trust_forwarded_for.unwrap_or(c.trust_forwarded_for);
            c.member_jwt = f.member_jwt;
            c.join_url = f.join_url.or(c.join_url);
            if let Some(limits) = f.limits {
                if limits.max_header_bytes < 8192 {
                    return Err(format!("limits.max_header_bytes: {} is below the smallest, 8192", limits.max_header_bytes));
                }
                if limits.header_timeout_s == 0 || limits.body_timeout_s == 0 || limits.max_connections == 0 {
                    return Err("limits: header_timeout_s, body_timeout_s and max_connections must be at least 1".into());
                }
                for (name, rate) in [
                    ("api_key", limits.rate.api_key),
                    ("member", limits.rate.member),
                    ("session", limits.rate.session),
                    ("address", limits.rate.address),
                ] {
                    if rate.per_s > 0 && rate.burst == 0 {
                        return Err(format!("limits.rate.{name}: burst must be at least 1 when per_s is set"));
                    }
                }
                c.limits = limits;
            }
            if let Some(v) = f.schedule.release_locked_at {
                c.release_locked_at = hhmm(&v)?;
            }
            if let Some(v) = f.schedule.dividends_at {
                c.dividends_at = hhmm(&v)?;
            }
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("ZENGZHI_LISTEN") {
            c.listen = v.parse().map_err(|_| format!("ZENGZHI_LISTEN: {v:?} is not an address"))?;
        }
        if let Some(v) = env("ZENGZHI_DATA_DIR") {
            c.data_dir = v.into();
        }
        c.database_url = env("ZENGZHI_DATABASE_URL").map(Secret).or(c.database_url);
        if let Some(v) = env("ZENGZHI_PG_SCHEMA") {
            c.pg_schema = v;
        }
        c.admin_token = env("ZENGZHI_ADMIN_TOKEN").map(Secret).or(c.admin_token);
        c.token_secret = env("ZENGZHI_TOKEN_SECRET").map(Secret).or(c.token_secret);
        c.public_url = env("ZENGZHI_PUBLIC_URL").or(c.public_url);
        c.demo_password = env("ZENGZHI_DEMO_PASSWORD").map(Secret).or(c.demo_password);
        c.member_jwt.secret = env("ZENGZHI_MEMBER_JWT_SECRET").map(Secret).or(c.member_jwt.secret);
        c.member_jwt.public_key_pem = env("ZENGZHI_MEMBER_JWT_PUBLIC_KEY").or(c.member_jwt.public_key_pem);
        c.member_jwt.issuer = env("ZENGZHI_MEMBER_JWT_ISSUER").or(c.member_jwt.issuer);
        c.member_jwt.audience = env("ZENGZHI_MEMBER_JWT_AUDIENCE").or(c.member_jwt.audience);
        c.join_url = env("ZENGZHI_JOIN_URL").or(c.join_url);
        Ok(c)
    }

    /// Opens a new connection to the program's store.
    pub fn open_backend(&self) -> zengzhi_journal::Result<Box<dyn Backend>> {
        match &self.database_url {
            Some(url) => {
                Ok(Box::new(zengzhi_journal::postgres::Postgres::connect_schema(url.expose(), &self.pg_schema)?))
            }
            None => zengzhi_journal::open(&self.data_dir, None),
        }
    }

    /// Opens a new connection with the service's tables (created or brought up to date first).
    pub fn open_service(&self) -> zengzhi_journal::Result<Box<dyn crate::store::Conn>> {
        crate::store::open(&self.data_dir, self.database_url.as_ref().map(Secret::expose), &self.pg_schema)
    }

    /// The rules of a new program, from `rules_file`.
    pub fn initial_rules(&self) -> Result<Option<Rules>, crate::anyhow_like::Error> {
        let Some(path) = &self.rules_file else { return Ok(None) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::anyhow_like::msg(format!("cannot read the rules file {}: {e}", path.display())))?;
        let rules = Rules::from_toml(&text).map_err(|problems| {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            crate::anyhow_like::msg(format!("invalid rules file {}: {}", path.display(), list.join("; ")))
        })?;
        Ok(Some(rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("zengzhi-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("zengzhi.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9999\"\ndemo = true\n[schedule]\nrelease_locked_at = \"off\"\ndividends_at = \"09:30\"\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert!(c.demo);
        assert_eq!(c.release_locked_at, None);
        assert_eq!(c.dividends_at.as_deref(), Some("09:30"));
        std::fs::write(&file, "nope = 1\n").unwrap();
        assert!(Config::load(Some(&file)).unwrap_err().contains("nope"));
        std::fs::write(&file, "[schedule]\nrelease_locked_at = \"25:00\"\n").unwrap();
        assert!(Config::load(Some(&file)).is_err());
        assert_eq!(Config::default().projector_nice, 19);
        std::fs::write(&file, "projector_nice = 0\n").unwrap();
        assert_eq!(Config::load(Some(&file)).unwrap().projector_nice, 0);
        std::fs::write(&file, "projector_nice = 20\n").unwrap();
        assert!(Config::load(Some(&file)).unwrap_err().contains("projector_nice"));
        std::fs::write(&file, "projector_nice = -5\n").unwrap();
        assert!(Config::load(Some(&file)).unwrap_err().contains("projector_nice"));
        // Limits: what is given replaces the default, the rest keeps it.
        std::fs::write(&file, "[limits]\nmax_connections = 10\n[limits.rate]\nmember = { per_s = 5, burst = 9 }\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.limits.max_connections, 10);
        assert_eq!(c.limits.header_timeout_s, Limits::default().header_timeout_s);
        assert_eq!(c.limits.rate.member, Rate { per_s: 5, burst: 9 });
        assert_eq!(c.limits.rate.session, RateLimits::default().session);
        assert_eq!(Config::default().limits.rate.api_key, Rate::OFF);
        for (text, named) in [
            ("[limits]\nmax_header_bytes = 100\n", "max_header_bytes"),
            ("[limits]\nheader_timeout_s = 0\n", "header_timeout_s"),
            ("[limits.rate]\napi_key = { per_s = 5, burst = 0 }\n", "api_key"),
            ("[limits.rate]\nmember = { per_s = 5 }\n", "burst"),
            ("[limits]\nnope = 1\n", "nope"),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = Config::load(Some(&file)).unwrap_err();
            assert!(e.contains(named), "{text}: {e}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let dir = std::env::temp_dir().join(format!("zengzhi-config-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("zengzhi.toml");
        let (admin, signing, password) = ("admin-token-7f3a9c", "signing-secret-51e2", "pg-password-90bd");
        let jwt = "jwt-secret-c04e";
        std::fs::write(
            &file,
            format!("admin_token = \"{admin}\"\ntoken_secret = \"{signing}\"\ndatabase_url = \"postgres://u:{password}@db/x\"\n[member_jwt]\nsecret = \"{jwt}\"\n"),
        )
        .unwrap();
        let c = Config::load(Some(&file)).unwrap();
        // The values are there to use …
        assert_eq!(c.admin_token.as_ref().map(Secret::expose), Some(admin));
        assert_eq!(c.token_secret.as_ref().map(Secret::expose), Some(signing));
        assert!(c.database_url.as_ref().unwrap().expose().contains(password));
        assert_eq!(c.member_jwt.secret.as_ref().map(Secret::expose), Some(jwt));
        // … and never printed.
        for text in [format!("{c:?}"), format!("{c:#?}")] {
            for secret in [admin, signing, password, jwt] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(text.contains("listen"), "the rest is shown: {text}");
        }
    }
}
