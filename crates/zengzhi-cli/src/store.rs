//! Commands over the durable store: `export-journal`, `verify`, `project`, and the crash-test
//! loader.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use zengzhi_core::command::Command;
use zengzhi_core::num::Fen;
use zengzhi_journal::backend::Backend;
use zengzhi_journal::recovery::{export, verify};
use zengzhi_journal::writer::{Writer, WriterConfig};

/// Where the program's data lives.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data directory of the embedded SQLite store.
    #[arg(long, default_value = "./zengzhi-data", env = "ZENGZHI_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Use PostgreSQL instead of SQLite, e.g. `postgres://user@host:5432/db`.
    #[arg(long, env = "ZENGZHI_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The PostgreSQL schema of this program.
    #[arg(long, default_value = "zengzhi", env = "ZENGZHI_PG_SCHEMA")]
    pub pg_schema: String,
}

impl StoreArgs {
    pub fn open(&self) -> Result<Box<dyn Backend>> {
        match &self.database_url {
            Some(url) => Ok(Box::new(
                zengzhi_journal::postgres::Postgres::connect_schema(url, &self.pg_schema)
                    .with_context(|| format!("cannot open PostgreSQL schema {}", self.pg_schema))?,
            )),
            None => zengzhi_journal::open(&self.data_dir, None)
                .with_context(|| format!("cannot open the store in {}", self.data_dir.display())),
        }
    }

    /// The store with the service's tables too (API keys, audit log, …).
    pub fn open_service(&self) -> Result<Box<dyn zengzhi_server::store::Conn>> {
        zengzhi_server::store::open(&self.data_dir, self.database_url.as_deref(), &self.pg_schema).with_context(|| {
            match &self.database_url {
                Some(_) => format!("cannot open PostgreSQL schema {}", self.pg_schema),
                None => format!("cannot open the store in {}", self.data_dir.display()),
            }
        })
    }

    /// For an existing store only: refuses to create an empty one by mistake.
    pub fn open_existing(&self) -> Result<Box<dyn Backend>> {
        if self.database_url.is_none() && !self.data_dir.join("zengzhi.db").exists() {
            anyhow::bail!("no store in {} (zengzhi.db not found)", self.data_dir.display());
        }
        self.open()
    }
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Output file (`-` for standard output).
    #[arg(long)]
    out: PathBuf,
}

pub fn export_journal(args: ExportArgs) -> Result<ExitCode> {
    let mut backend = args.store.open_existing()?;
    let mut buf = Vec::new();
    let n = export(backend.as_mut(), &mut buf)?;
    crate::write_output(&args.out, &buf)?;
    eprintln!("导出 exported {n} commands from {}", backend.describe());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Run the full invariant check every this many entries (and at the end).
    #[arg(long, default_value_t = 100_000)]
    check_every: u64,
    #[arg(long)]
    json: bool,
}

pub fn verify_store(args: VerifyArgs) -> Result<ExitCode> {
    let mut backend = args.store.open_existing()?;
    let started = std::time::Instant::now();
    match verify(backend.as_mut(), args.check_every, |_| {}) {
        Ok(v) => {
            let ok = v.snapshots_bad.is_empty();
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({
                        "ok": ok,
                        "entries": v.entries,
                        "head": zengzhi_journal::hex(&v.head),
                        "snapshots_checked": v.snapshots_checked,
                        "snapshots_bad": v.snapshots_bad,
                        "state": v.engine_summary,
                        "seconds": started.elapsed().as_secs_f64(),
                    })
                );
            } else {
                out!("日志校验 verify {}", backend.describe());
                out!("  entries {}  head {}", v.entries, zengzhi_journal::hex(&v.head));
                out!("  chain verified, every entry re-applied, invariants hold");
                out!("  snapshots checked {}", v.snapshots_checked);
                for bad in &v.snapshots_bad {
                    out!("  坏快照 bad snapshot: {bad}");
                }
                out!("  state: {}", v.engine_summary);
                out!("  {}", if ok { "通过 OK" } else { "快照有问题 snapshots need attention" });
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Err(e) => {
            if args.json {
                out!("{}", serde_json::json!({"ok": false, "error": e.to_string()}));
            } else {
                out!("日志校验失败 verification FAILED: {e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

#[derive(Args)]
pub struct ProjectArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Delete the query tables and rebuild them from the journal.
    #[arg(long)]
    rebuild: bool,
}

pub fn project(args: ProjectArgs) -> Result<ExitCode> {
    let mut backend = args.store.open_existing()?;
    if args.rebuild {
        backend.reset_projection()?;
    }
    let mut projector = zengzhi_journal::projector::Projector::start(backend.as_mut())?;
    let n = projector.catch_up(backend.as_mut(), zengzhi_journal::projector::CATCH_UP_PAGE)?;
    out!("查询表 query tables: {n} entries projected, watermark {}", projector.watermark());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct CrashLoadArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Makes this run's ids unique (runs continue on the same store).
    #[arg(long)]
    run: u64,
    /// Commands per submitted batch at most.
    #[arg(long, default_value_t = 16)]
    batch: usize,
}

/// Submits commands forever (until killed), printing `ack SEQ LINE` for every command the
/// writer has acknowledged as durable, flushed at once. The crash test kills this process at
/// random moments and checks every acknowledged line is in the journal.
pub fn crash_load(args: CrashLoadArgs) -> Result<ExitCode> {
    let backend = args.store.open()?;
    let writer = Writer::start(backend, WriterConfig { snapshot_every: 200, ..WriterConfig::default() })?;
    let handle = writer.handle();
    let mut out = std::io::stdout().lock();
    let run = args.run;
    let store = format!("s{run}");
    let mut setup = vec![(
        Command::RegisterMerchant {
            merchant: store.clone().into(),
            commission_ppm: None,
            owner: None,
            recruiter: None,
            region: Some(441900),
        },
        None,
    )];
    for i in 0..20 {
        let referrer = (i > 0).then(|| format!("r{run}m{}", i / 2).into());
        setup.push((Command::RegisterMember { member: format!("r{run}m{i}").into(), referrer }, None));
    }
    let mut pending = setup;
    let mut n = 0u64;
    let mut rng = zengzhi_core::workload::SplitMix64::new(run);
    loop {
        let outcomes = handle.submit_many(pending.clone())?;
        for ((command, _), outcome) in pending.iter().zip(&outcomes) {
            if let (Some(seq), Some(at)) = (outcome.seq, &outcome.at) {
                writeln!(out, "ack {seq} {}", command.to_json(Some(at)))?;
            }
        }
        out.flush()?;
        pending = (0..1 + rng.below(args.batch as u64))
            .map(|_| {
                n += 1;
                let member = format!("r{run}m{}", rng.below(20));
                let command = match rng.below(10) {
                    0 => Command::Sell { member: member.into(), points: zengzhi_core::command::SellQty::All },
                    1 => Command::Inject { amount_fen: Fen::from_fen(1 + rng.below(10_000) as i64) },
                    _ => Command::Order {
                        order: format!("r{run}o{n}").into(),
                        member: member.into(),
                        merchant: Some(store.clone().into()),
                        amount_fen: Fen::from_fen(100 + rng.below(100_000) as i64),
                        commission_fen: None,
                        pay_cash_fen: Fen::ZERO,
                        pay_coins_fen: Fen::ZERO,
                    },
                };
                (command, None)
            })
            .collect();
    }
}
