//! `zengzhi serve` and `zengzhi keys`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use zengzhi_server::Config;

#[derive(Args)]
pub struct ServeArgs {
    /// Settings file (default: ./zengzhi.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory of the embedded SQLite store (default ./zengzhi-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// The PostgreSQL schema of this program (default zengzhi).
    #[arg(long)]
    pg_schema: Option<String>,
    /// Rules of a new program (TOML); ignored when the store already has a journal.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Seed a demo economy on first start (an empty store).
    #[arg(long)]
    demo: bool,
}

fn config_from(args: &ServeArgs) -> Result<Config> {
    let mut c = Config::load(args.config.as_deref()).map_err(anyhow::Error::msg)?;
    if let Some(v) = args.listen {
        c.listen = v;
    }
    if let Some(v) = &args.data_dir {
        c.data_dir = v.clone();
    }
    if let Some(v) = &args.database_url {
        c.database_url = Some(v.clone().into());
    }
    if let Some(v) = &args.pg_schema {
        c.pg_schema = v.clone();
    }
    if let Some(v) = &args.rules {
        c.rules_file = Some(v.clone());
    }
    c.demo |= args.demo;
    Ok(c)
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ZENGZHI_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colours on a terminal only: a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = config_from(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = match &config.database_url {
            Some(_) => format!("PostgreSQL schema {}", config.pg_schema),
            None => format!("SQLite {}", config.data_dir.join("zengzhi.db").display()),
        };
        if config.demo {
            eprintln!("正在准备演示数据… / preparing the demo economy (first start only)…");
        }
        let running = zengzhi_server::start(config.clone()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let url = format!("http://{}", running.addr);
        println!("zengzhi 已启动 / is running: {url}");
        println!("  数据 store: {store}");
        if zengzhi_server::web::console_built() {
            match running.demo_admin_password() {
                // Shown this once: the store keeps only its hash.
                Some(password) => {
                    println!("  控制台 console: {url}/admin/  用户 user: admin  密码 password: {password}")
                }
                None => println!("  控制台 console: {url}/admin/"),
            }
        } else {
            println!("  控制台未构建 / the console was not built into this binary (needs Node 20 + npm at build time)");
            if let Some(password) = running.demo_admin_password() {
                println!("  后台账号 operator: 用户 user: admin  密码 password: {password}");
            }
        }
        println!("  试试 try:   {url}/v1/stats   {url}/v1/price/history?interval=day   {url}/v1/proof");
        println!("  接口文档 API: {url}/v1/openapi.json   监控 metrics: {url}/metrics");
        if config.admin_token.is_none() {
            println!("  管理接口需要令牌 / admin routes need a key: set ZENGZHI_ADMIN_TOKEN, or run `zengzhi keys create --scope admin`");
        }
        println!("  按 Ctrl-C 停止 / Ctrl-C stops (the queue is drained and the journal flushed first)");
        shutdown_signal().await;
        eprintln!("正在停止… / stopping: draining the queue, flushing the journal…");
        running.shutdown().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!("已停止 / stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create an API key; it is printed once and stored only as its SHA-256.
    Create(KeysCreateArgs),
}

#[derive(Args)]
pub struct KeysCreateArgs {
    #[command(flatten)]
    store: crate::store::StoreArgs,
    /// admin, integration or readonly.
    #[arg(long)]
    scope: String,
    /// A note for the audit log (who holds the key).
    #[arg(long, default_value = "")]
    label: String,
}

pub fn keys(cmd: KeysCmd) -> Result<ExitCode> {
    match cmd {
        KeysCmd::Create(args) => {
            let scope = zengzhi_server::auth::Scope::parse(&args.scope)
                .with_context(|| format!("--scope must be admin, integration or readonly, not {:?}", args.scope))?;
            let mut backend = args.store.open_service()?;
            let key = zengzhi_server::auth::new_api_key().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let hash = zengzhi_server::auth::sha256(key.as_bytes());
            let now = zengzhi_journal::time_fmt::now_rfc3339();
            backend.put_api_key(&hash, scope.as_str(), &args.label, &now)?;
            let detail = format!(
                "scope {} label {:?} fingerprint {}",
                scope.as_str(),
                args.label,
                zengzhi_server::auth::fingerprint(&key)
            );
            backend.audit(&cli_audit("keys_create", detail, None))?;
            println!("{key}");
            eprintln!("新密钥 new {} key (shown once; stored hashed) / 请妥善保存", scope.as_str());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a command-line action changed: its target, the value before and after.
pub struct Change<'a> {
    pub target: String,
    pub before: Option<&'a str>,
    pub after: &'a str,
}

/// An operation-log entry of the command line (no address).
pub fn cli_audit(action: &str, detail: String, change: Option<Change<'_>>) -> zengzhi_server::store::AuditRecord {
    let at = zengzhi_journal::time_fmt::now_rfc3339();
    let mut record = zengzhi_server::store::AuditRecord {
        at,
        who: "cli".into(),
        action: action.into(),
        detail,
        ..Default::default()
    };
    if let Some(c) = change {
        record.target = Some(c.target);
        record.before = c.before.map(str::to_string);
        record.after = Some(c.after.to_string());
    }
    record
}
