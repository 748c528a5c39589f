//! `zengzhi simulate`, `zengzhi whatif`, `zengzhi report` and `zengzhi bench simulate`:
//! thin glue over `zengzhi-sim` and `zengzhi-report`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use zengzhi_core::num::{format_money, format_points, format_price, parse_money, Fen, Units};
use zengzhi_sim::montecarlo::{simulate, total_runs};
use zengzhi_sim::presets::{names, preset, seed_projection};
use zengzhi_sim::scenario::{load_file, Loaded};

#[derive(Args)]
pub struct SimulateArgs {
    /// The scenario file (TOML); or use --preset.
    scenario: Option<PathBuf>,
    /// A built-in scenario: seed, steady, boom-bust, legacy-conversion, inventory-clearance,
    /// wash-trading, referral-farming.
    #[arg(long, conflicts_with = "scenario")]
    preset: Option<String>,
    /// Folder for summary.json, timeseries.csv, the charts and report.html.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Monte-Carlo runs (default: the scenario's `runs`, else 1).
    #[arg(long)]
    runs: Option<u32>,
    /// Seed (default: the scenario's `seed`, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// `--preset seed` only: the amount of every order, yuan.
    #[arg(long, default_value = "1000")]
    amount: String,
    /// `--preset seed` only: stop after this many orders if nobody has exited.
    #[arg(long, default_value_t = 100_000)]
    max_orders: u64,
}

fn progress_bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if std::io::stderr().is_terminal() {
        bar.set_style(ProgressStyle::with_template(template).expect("static template"));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    if args.preset.as_deref() == Some("seed") {
        let amount = parse_money(&args.amount).filter(|&a| a > Fen::ZERO);
        let Some(amount_fen) = amount else {
            bail!(
                "--amount 须为正数且至多两位小数 / must be a positive amount with at most 2 decimals: {:?}",
                args.amount
            )
        };
        print_seed(amount_fen.to_fen(), args.max_orders)?;
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = match (&args.scenario, &args.preset) {
        (Some(path), None) => load_file(path)?,
        (None, Some(name)) => match preset(name) {
            Some(loaded) => loaded?,
            None => bail!("未知预设 / unknown preset {name:?}; presets: {}", names().join(", ")),
        },
        _ => bail!("请给出情景文件或 --preset / give a scenario file or --preset ({})", names().join(", ")),
    };
    let Some(out) = args.out else { bail!("需要 --out 目录 / --out DIR is required") };
    let runs = args.runs.or(loaded.scenario.runs).unwrap_or(1);
    anyhow::ensure!(runs >= 1, "--runs 至少为 1 / --runs must be at least 1");
    let seed = args.seed.or(loaded.scenario.seed).unwrap_or(1);
    simulate_to(&loaded, runs, seed, &out)?;
    Ok(ExitCode::SUCCESS)
}

fn simulate_to(loaded: &Loaded, runs: u32, seed: u64, out: &Path) -> Result<()> {
    let bar = progress_bar(total_runs(loaded, runs), "模拟 simulate {bar:40} {pos}/{len} runs, eta {eta}");
    let started = Instant::now();
    let sim = simulate(loaded, runs, seed, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let files = zengzhi_sim::output::write_all(&sim.report, out)
        .with_context(|| format!("无法写入 / cannot write into {}", out.display()))?;
    let h = &sim.report.honest;
    eprintln!(
        "模拟完成 / simulation finished: {runs} run(s), {} days, {:.1} s",
        loaded.scenario.horizon_days,
        started.elapsed().as_secs_f64()
    );
    for s in &h.statements {
        eprintln!("  · {}\n    {}", s.zh, s.en);
    }
    for f in files {
        out!("{}", f.display());
    }
    Ok(())
}

/// Prints the seed's table (SPEC §9) order by order, to the first capped exit.
fn print_seed(amount_fen: i64, max_orders: u64) -> Result<()> {
    let projection = seed_projection(amount_fen, max_orders, |_, _| {});
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "消费增值模型演算 / the seed's projection: 门店抽成 20%，每笔订单由一名新会员消费 {} 元 / store commission 20%, each order a new member buying {}",
        format_money(Fen::from_fen(amount_fen)),
        format_money(Fen::from_fen(amount_fen))
    )?;
    writeln!(
        out,
        "{:>10}  {:>18}  {:>16}  {:>20}  {:>14}",
        "订单 order", "铸造 minted", "盈利池 pool", "流通积分 supply", "价格 price"
    )?;
    for row in &projection.rows {
        writeln!(
            out,
            "{:>10}  {:>18}  {:>16}  {:>20}  {:>14}",
            row.order,
            format_points(Units::from_units(row.minted_units)),
            format_money(Fen::from_fen(row.pool_fen)),
            format_points(Units::from_units(row.supply_units)),
            format_price(Fen::from_fen(row.pool_fen), Units::from_units(row.supply_units))
        )?;
    }
    match &projection.exit {
        Some(e) => {
            let (order, member) = (e.order, &e.member);
            let [gross, payout, retained] =
                [e.gross_fen, e.payout_fen, e.retained_fen].map(|f| format_money(Fen::from_fen(f)));
            writeln!(out)?;
            writeln!(
                out,
                "第 {order} 笔订单后 {member} 封顶出局：积分按 {gross} 元被强制卖出，到账 {payout} 元，{retained} 元留在盈利池。"
            )?;
            writeln!(
                out,
                "After order {order}, {member} reached the cap: points force-sold for {gross}, paid {payout}, {retained} stays in the pool."
            )?;
        }
        None => writeln!(out, "{max_orders} 笔订单内无人出局 / no exit within {max_orders} orders")?,
    }
    Ok(())
}

#[derive(Args)]
pub struct ReportArgs {
    /// A simulation's folder (holding report-data.json).
    dir: PathBuf,
}

/// `zengzhi report DIR`: draws the report again from DIR/report-data.json.
pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let path = args.dir.join("report-data.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("无法读取 / cannot read {}", path.display()))?;
    let data: zengzhi_report::model::ReportData =
        serde_json::from_str(&text).with_context(|| format!("{} 不是报告数据 / is not report data", path.display()))?;
    for f in zengzhi_report::render(&data, &args.dir)? {
        out!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct WhatIfArgs {
    /// A service's data directory (its SQLite store, read through the journal).
    #[arg(long, conflicts_with = "journal")]
    data_dir: Option<PathBuf>,
    /// A command history in the replay format (SPEC §8), one JSON object per line.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// The alternative rules (TOML).
    #[arg(long)]
    rules: PathBuf,
    /// The rules the history started with (default: SPEC §4's defaults).
    #[arg(long)]
    base_rules: Option<PathBuf>,
    /// Folder for whatif.json and whatif-members.csv.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn whatif(args: WhatIfArgs) -> Result<ExitCode> {
    let input = match (&args.journal, &args.data_dir) {
        (Some(path), None) => {
            std::fs::read(path).with_context(|| format!("无法读取 / cannot read {}", path.display()))?
        }
        (None, Some(dir)) => {
            anyhow::ensure!(
                dir.join("zengzhi.db").exists(),
                "{} 中没有数据 / no store in {} (zengzhi.db not found)",
                dir.display(),
                dir.display()
            );
            let mut backend = zengzhi_journal::open(dir, None)
                .with_context(|| format!("cannot open the store in {}", dir.display()))?;
            let mut buf = Vec::new();
            zengzhi_journal::recovery::export(backend.as_mut(), &mut buf)?;
            buf
        }
        _ => bail!("请给出 --journal 或 --data-dir / give --journal FILE or --data-dir DIR"),
    };
    let Some(base) = crate::load_rules(args.base_rules.as_deref())? else { return Ok(ExitCode::from(2)) };
    let Some(alt) = crate::load_rules(Some(&args.rules))? else { return Ok(ExitCode::from(2)) };
    let w = zengzhi_sim::whatif::compare(&input, base, alt);
    let mut out = std::io::stdout().lock();
    writeln!(out, "假设分析 / what-if: {} 行命令 / lines, 原规则 vs 新规则 / original vs alternative rules", w.lines)?;
    writeln!(out, "{:<36} {:>18} {:>18} {:>18}", "", "原规则 original", "新规则 alternative", "变化 change")?;
    for [label, a, b, d] in zengzhi_sim::whatif::aggregate_rows(&w) {
        writeln!(out, "{label:<36} {a:>18} {b:>18} {d:>18}")?;
    }
    let (better, worse) = zengzhi_sim::whatif::better_and_worse(&w);
    writeln!(
        out,
        "{better} 名会员所得增加，{worse} 名减少（零钱 + 积分价值）/ {better} members better off, {worse} worse off (cash + points value)"
    )?;
    if w.sides[1].skipped_rule_updates > 0 {
        writeln!(
            out,
            "新规则下跳过了历史中的 {} 条 update_rules / {} update_rules lines of the history were skipped under the alternative",
            w.sides[1].skipped_rule_updates, w.sides[1].skipped_rule_updates
        )?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("whatif.json"), serde_json::to_string_pretty(&w)? + "\n")?;
        std::fs::write(dir.join("whatif-members.csv"), zengzhi_sim::whatif::members_csv(&w))?;
        writeln!(out, "{}\n{}", dir.join("whatif.json").display(), dir.join("whatif-members.csv").display())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct SimBenchArgs {
    /// Orders per run (the steady preset, scaled: members arrive so that about this many
    /// orders are made over a year).
    #[arg(long, default_value_t = 10_000_000)]
    orders: u64,
    /// Runs (in parallel over the cores).
    #[arg(long, default_value_t = 1)]
    runs: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

/// `zengzhi bench simulate`: wall time of whole simulations (agents + engine + aggregation).
#[allow(clippy::float_arithmetic)]
pub fn bench(args: SimBenchArgs) -> Result<()> {
    let loaded = zengzhi_sim::presets::bench_scenario(args.orders)?;
    let bar = progress_bar(u64::from(args.runs), "模拟 simulate {bar:40} {pos}/{len} runs, eta {eta}");
    let started = Instant::now();
    let sim = simulate(&loaded, args.runs, args.seed, &|| bar.inc(1))?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let orders: u64 = sim.runs.iter().map(|r| r.metrics.orders).sum();
    let report = serde_json::json!({
        "runs": args.runs,
        "orders_target_per_run": args.orders,
        "orders_total": orders,
        "members_per_run": sim.runs.first().map_or(0, |r| r.metrics.members),
        "seconds": elapsed.as_secs_f64(),
        "orders_per_s": (orders as f64 / elapsed.as_secs_f64().max(1e-9)).round(),
        "threads": zengzhi_sim::montecarlo::threads(),
    });
    if args.json {
        out!("{report}");
    } else {
        out!(
            "模拟基准 simulation benchmark: {} run(s), {} orders in all, {:.2} s = {:.0} orders/s ({} threads)",
            args.runs,
            orders,
            elapsed.as_secs_f64(),
            report["orders_per_s"].as_f64().unwrap_or(0.0),
            report["threads"]
        );
    }
    Ok(())
}
