//! `zengzhi` — the one binary: thin glue over the library crates.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

/// `println!` for command output: a reader that closes the pipe early (`zengzhi verify | head`)
/// ends the command quietly (the error reaches `main` as a broken pipe) instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{}\n", format_args!($($arg)*)))?
    };
}

mod backup;
mod bench;
mod seed;
mod serve;
mod simulate;
mod store;
mod users;

#[derive(Parser)]
#[command(name = "zengzhi", version, about = "增值 — the consumption-appreciation points engine")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the service: HTTP API over the durable engine (SQLite by default).
    Serve(serve::ServeArgs),
    /// API keys: `keys create --scope admin|integration|readonly`.
    #[command(subcommand)]
    Keys(serve::KeysCmd),
    /// Operator accounts: `users add NAME --role … --password-stdin`, `list`, `disable`, `passwd`.
    #[command(subcommand)]
    Users(users::UsersCmd),
    /// Replay a JSON Lines command file and write the final state (SPEC §8).
    Replay(ReplayArgs),
    /// Validate a rules file: errors and compliance warnings (exit 1 on an error).
    CheckRules(CheckRulesArgs),
    /// Print the seed's worked example order by order until the first capped exit.
    Seed(seed::SeedArgs),
    /// Write the journal's accepted commands in the replay format (SPEC §8, with `at`).
    ExportJournal(store::ExportArgs),
    /// Check the journal's hash chain, replay everything, check every invariant and snapshot.
    Verify(store::VerifyArgs),
    /// Copy a store into one file while the service runs (consistent: one moment's state).
    Backup(backup::BackupArgs),
    /// Put a backup file back into a store: checked whole, chain verified, then swapped in.
    Restore(backup::RestoreArgs),
    /// Bring the query tables (orders, ledger, exits, rewards, candles) up to the journal.
    Project(store::ProjectArgs),
    /// Simulate a scenario (Monte-Carlo, sweeps, charts, report.html); `--preset seed` prints the seed's table.
    Simulate(simulate::SimulateArgs),
    /// Replay a real history under other rules and report what changes.
    Whatif(simulate::WhatIfArgs),
    /// Draw a simulation's report again from DIR/report-data.json.
    Report(simulate::ReportArgs),
    /// Benchmarks: `bench engine`, `bench replay`, `bench journal`, `bench recovery`, `bench project`, `bench simulate`.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Test support: submit commands until killed, printing every durable acknowledgement.
    #[command(hide = true)]
    CrashLoad(store::CrashLoadArgs),
}

#[derive(Args)]
struct ReplayArgs {
    /// Rules file (TOML); the defaults of SPEC §4 when absent.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Commands, one JSON object per line; `-` for standard input.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the state JSON; `-` for standard output.
    #[arg(long)]
    out: PathBuf,
    /// Check every invariant of SPEC §7 after every line; stop at the first broken one.
    #[arg(long)]
    check: bool,
}

#[derive(Args)]
struct CheckRulesArgs {
    /// Rules file (TOML).
    rules: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Cmd::Serve(args) => serve::serve(args),
        Cmd::Keys(cmd) => serve::keys(cmd),
        Cmd::Users(cmd) => users::run(cmd),
        Cmd::Replay(args) => replay(args),
        Cmd::CheckRules(args) => check_rules(args),
        Cmd::Seed(args) => seed::run(args).map(|()| ExitCode::SUCCESS),
        Cmd::Bench(cmd) => bench::run(cmd).map(|()| ExitCode::SUCCESS),
        Cmd::Simulate(args) => simulate::run(args),
        Cmd::Whatif(args) => simulate::whatif(args),
        Cmd::Report(args) => simulate::report(args),
        Cmd::ExportJournal(args) => store::export_journal(args),
        Cmd::Verify(args) => store::verify_store(args),
        Cmd::Project(args) => store::project(args),
        Cmd::Backup(args) => backup::backup(args),
        Cmd::Restore(args) => backup::restore(args),
        Cmd::CrashLoad(args) => store::crash_load(args),
    };
    match outcome {
        Ok(code) => code,
        // A closed pipe (`zengzhi seed | head`) is the reader's choice, not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zengzhi: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Loads rules, or explains every problem on stderr and returns `None`.
pub(crate) fn load_rules(path: Option<&Path>) -> Result<Option<zengzhi_core::Rules>> {
    let Some(path) = path else {
        return Ok(Some(zengzhi_core::Rules::default()));
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the rules file {}", path.display()))?;
    match zengzhi_core::Rules::from_toml(&text) {
        Ok(rules) => Ok(Some(rules)),
        Err(problems) => {
            eprintln!("zengzhi: 规则文件无效 / invalid rules file {}:", path.display());
            for p in problems {
                eprintln!("  - {p}");
            }
            Ok(None)
        }
    }
}

fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let Some(rules) = load_rules(args.rules.as_deref())? else {
        return Ok(ExitCode::from(2));
    };
    let input = if args.input.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(&args.input).with_context(|| format!("cannot read {}", args.input.display()))?
    };
    let bar = indicatif::ProgressBar::new(input.len() as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "回放 replay {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let engine = zengzhi_core::Engine::new(rules);
    let outcome = zengzhi_core::replay::replay(engine, &input, args.check, |done| bar.set_position(done as u64));
    bar.finish_and_clear();
    let replayed = match outcome {
        Ok(r) => r,
        Err(broken) => {
            eprintln!(
                "zengzhi: 第 {} 行之后不变量被破坏 / after line {}: {}",
                broken.line, broken.line, broken.violation
            );
            return Ok(ExitCode::from(1));
        }
    };
    let mut text = Vec::with_capacity(256 + replayed.results.len() * 64);
    zengzhi_core::state::write_state(&replayed.engine, Some(&replayed.results), &mut text)?;
    write_output(&args.out, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` (or stdout for `-`) through a temporary file and a rename, so a
/// reader never sees half a file.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        return Ok(out.flush()?);
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp = path.with_file_name(format!(".{file_name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn check_rules(args: CheckRulesArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.rules).with_context(|| format!("cannot read {}", args.rules.display()))?;
    let (errors, warnings) = match zengzhi_core::Rules::from_toml(&text) {
        Ok(rules) => (Vec::new(), rules.warnings()),
        Err(errors) => (errors, Vec::new()),
    };
    if args.json {
        let list = |ps: &[zengzhi_core::rules::RuleProblem]| {
            ps.iter().map(|p| serde_json::json!({"path": p.path, "zh": p.zh, "en": p.en})).collect::<Vec<_>>()
        };
        let report = serde_json::json!({
            "ok": errors.is_empty(),
            "errors": list(&errors),
            "warnings": list(&warnings),
        });
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for e in &errors {
            out!("错误 error   {e}");
        }
        for w in &warnings {
            out!("警告 warning {w}");
        }
        if errors.is_empty() {
            out!(
                "规则有效 / rules are valid ({} 条合规提示 / {} compliance warning(s))",
                warnings.len(),
                warnings.len()
            );
        } else {
            out!("规则无效 / rules are invalid ({} 个错误 / {} error(s))", errors.len(), errors.len());
        }
    }
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
