//! `zengzhi bench`: engine throughput and memory, replay speed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use zengzhi_core::workload::{Op, OpIds, Operations, Workload};
use zengzhi_core::{Engine, Rules};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Orders per second and bytes per member through the engine on one core.
    Engine(EngineArgs),
    /// Seconds to replay a generated JSON Lines file (parse + apply + write the state).
    Replay(ReplayBenchArgs),
    /// Durable orders per second through the writer (group commit, fsync on).
    Journal(JournalBenchArgs),
    /// Seconds to recover (newest snapshot + journal tail) a store `bench journal` filled.
    Recovery(RecoveryBenchArgs),
    /// Entries per second projecting a journal into fresh query tables (orders, ledger, candles).
    Project(ProjectBenchArgs),
    /// Seconds for whole simulations: `--orders 10000000`, or `--runs 200 --orders 1000000`.
    Simulate(crate::simulate::SimBenchArgs),
}

#[derive(Args)]
pub struct JournalBenchArgs {
    #[command(flatten)]
    store: crate::store::StoreArgs,
    /// Use a fresh temporary SQLite store (ignores --data-dir).
    #[arg(long)]
    temp: bool,
    #[arg(long, default_value_t = 100_000)]
    members: u32,
    #[arg(long, default_value_t = 1_000_000)]
    orders: u64,
    /// Client threads submitting.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Orders per submission.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Submissions each client keeps in flight.
    #[arg(long, default_value_t = 4)]
    depth: usize,
    /// Snapshot every this many entries (0: never).
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_every: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ProjectBenchArgs {
    #[command(flatten)]
    store: crate::store::StoreArgs,
    /// Use a fresh temporary SQLite store (ignores --data-dir).
    #[arg(long)]
    temp: bool,
    /// Order entries to write first when the store is empty (a store with a journal is
    /// projected as it is). Its query tables are emptied and rebuilt: they are derived data.
    #[arg(long, default_value_t = 2_000_000)]
    entries: u64,
    #[arg(long, default_value_t = 100_000)]
    members: u32,
    /// Entries per projection transaction.
    #[arg(long, default_value_t = zengzhi_journal::projector::CATCH_UP_PAGE)]
    page: usize,
    /// Keep the indexes up row by row (the service's path while it follows the journal)
    /// instead of building them once at the end of the load.
    #[arg(long)]
    incremental: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RecoveryBenchArgs {
    #[command(flatten)]
    store: crate::store::StoreArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EngineArgs {
    #[arg(long, default_value_t = 1_000_000)]
    members: u32,
    #[arg(long, default_value_t = 1_000)]
    stores: u32,
    /// Orders (sells come on top of these).
    #[arg(long, default_value_t = 5_000_000)]
    orders: u64,
    /// Share of all operations that are sells, per mille.
    #[arg(long, default_value_t = 100)]
    sell_per_mille: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Commands per batch (1: one `apply` at a time, no cache warming).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Check every invariant of SPEC §7 at the end.
    #[arg(long)]
    check: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ReplayBenchArgs {
    /// Lines in the generated file.
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
    /// Members in the generated economy.
    #[arg(long, default_value_t = 100_000)]
    members: u32,
    /// Keep the generated file here instead of a temporary one.
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Engine(args) => engine(args),
        BenchCmd::Replay(args) => replay(args),
        BenchCmd::Journal(args) => journal(args),
        BenchCmd::Recovery(args) => recovery(args),
        BenchCmd::Project(args) => project(args),
        BenchCmd::Simulate(args) => crate::simulate::bench(args),
    }
}

/// Peak resident memory of this process, bytes (Linux `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn bar(len: u64, quiet: bool, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(ProgressStyle::with_template(template).expect("static template"));
    bar
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    #[allow(clippy::float_arithmetic)]
    let rate = count as f64 / elapsed.as_secs_f64().max(1e-9);
    rate
}

fn engine(args: EngineArgs) -> Result<()> {
    anyhow::ensure!(args.members > 0 && args.stores > 0, "--members and --stores must be above 0");
    anyhow::ensure!(args.sell_per_mille < 1000, "--sell-per-mille must be below 1000");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let work = Workload {
        members: args.members,
        stores: args.stores,
        orders: args.orders,
        sell_per_mille: args.sell_per_mille,
        seed: args.seed,
    };
    let mut engine = Engine::new(Rules::default());
    let setup_bar = bar(work.setup_len(), args.json, "准备 set-up {bar:40} {pos}/{len}");
    for (n, command) in work.setup().enumerate() {
        engine.apply(&command).with_context(|| format!("set-up command {n} rejected"))?;
        if n % 65_536 == 0 {
            setup_bar.set_position(n as u64);
        }
    }
    setup_bar.finish_and_clear();
    let setup_rss = peak_rss_bytes().unwrap_or(0);

    let run_bar = bar(args.orders * 1000 / u64::from(1000 - args.sell_per_mille), args.json, "订单 orders {bar:40} {pos}/{len} {per_sec} exits {msg}");
    let mut ops = work.operations();
    let (mut orders, mut sells, mut rejected) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    // Time inside the engine only; generating the synthetic commands is not the engine's work.
    let mut in_engine = Duration::ZERO;
    // The longest single batch: a pause the service's writer would make every waiting client
    // feel (a table growing all at once shows here).
    let mut slowest = Duration::ZERO;
    let mut n = 0u64;
    // Commands are applied in batches, as the service's writer applies a group commit.
    let mut batch: Vec<(Op, OpIds)> = Vec::with_capacity(args.batch);
    let mut results = Vec::with_capacity(args.batch);
    let mut spare: Vec<OpIds> = (0..args.batch).map(|_| OpIds::default()).collect();
    loop {
        spare.extend(batch.drain(..).map(|(_, ids)| ids));
        while batch.len() < args.batch {
            let Some(op) = ops.next_op() else { break };
            let mut ids = spare.pop().unwrap_or_default();
            op.ids_into(&mut ids);
            batch.push((op, ids));
        }
        if batch.is_empty() {
            break;
        }
        let commands: Vec<_> = batch.iter().map(|(op, ids)| Operations::command(op, ids, &engine)).collect();
        results.clear();
        let batch_started = Instant::now();
        engine.apply_batch(&commands, &mut results);
        let took = batch_started.elapsed();
        in_engine += took;
        slowest = slowest.max(took);
        for ((op, _), result) in batch.iter().zip(&results) {
            match op {
                Op::Order { .. } => orders += 1,
                Op::Sell { .. } => sells += 1,
            }
            rejected += u64::from(result.is_err());
        }
        n += batch.len() as u64;
        if n % 131_072 < args.batch as u64 {
            run_bar.set_position(n);
            run_bar.set_message(engine.totals().exits.to_string());
        }
    }
    let wall = started.elapsed();
    let elapsed = in_engine;
    run_bar.finish_and_clear();
    if args.check {
        zengzhi_core::invariants::check_state(&engine).map_err(|v| anyhow::anyhow!("{v}"))?;
    }
    let peak = peak_rss_bytes().unwrap_or(0);
    let report = serde_json::json!({
        "members": args.members,
        "stores": args.stores,
        "orders": orders,
        "sells": sells,
        "rejected": rejected,
        "exits": engine.totals().exits,
        "seconds": elapsed.as_secs_f64(),
        "wall_seconds_with_generation": wall.as_secs_f64(),
        "orders_per_s": per_second(orders, elapsed).round(),
        "commands_per_s": per_second(orders + sells, elapsed).round(),
        "slowest_batch_ms": slowest.as_secs_f64() * 1000.0,
        "peak_rss_bytes": peak,
        "bytes_per_member": peak / u64::from(args.members),
        "engine_heap_bytes": engine.heap_bytes(),
        "peak_rss_after_setup_bytes": setup_rss,
        "invariants_checked": args.check,
        "batch": args.batch,
        "exit_index_hot_members": engine.exit_index_hot_len(),
    });
    if args.json {
        out!("{report}");
    } else {
        out!("引擎基准 engine benchmark (one core)");
        out!(
            "  members {}  stores {}  orders {orders}  sells {sells} ({rejected} rejected)",
            args.members, args.stores
        );
        out!(
            "  in the engine {:.3} s (wall {:.3} s with generating the commands)",
            elapsed.as_secs_f64(),
            wall.as_secs_f64()
        );
        out!(
            "  orders/s {:.0}  commands/s {:.0}",
            per_second(orders, elapsed),
            per_second(orders + sells, elapsed)
        );
        out!("  slowest batch of {} commands {:.2} ms", args.batch, slowest.as_secs_f64() * 1000.0);
        out!("  exits {}  (members in the ordered part of the exit index: {})", engine.totals().exits, engine.exit_index_hot_len());
        out!("  peak RSS after set-up {:.1} MiB", setup_rss as f64 / 1_048_576.0);
        out!(
            "  peak RSS {:.1} MiB = {} bytes/member (includes {} order ids)",
            peak as f64 / 1_048_576.0,
            peak / u64::from(args.members),
            orders
        );
    }
    Ok(())
}

fn replay(args: ReplayBenchArgs) -> Result<()> {
    anyhow::ensure!(args.members > 0 && args.lines > u64::from(args.members) + 200, "--lines must exceed the set-up");
    let work = Workload {
        members: args.members,
        stores: 1_000.min(args.members),
        orders: 0,
        sell_per_mille: 100,
        seed: 7,
    };
    let mut engine = Engine::new(Rules::default());
    // Orders so that set-up, orders and the sells among them make about `lines` lines.
    let work = Workload { orders: (args.lines - work.setup_len()) * 9 / 10, ..work };
    let gen_bar = bar(args.lines, args.json, "生成 generate {bar:40} {pos}/{len}");
    let mut text = String::with_capacity(args.lines as usize * 100);
    for command in work.setup() {
        text.push_str(&command.to_json(None));
        text.push('\n');
        engine.apply(&command).ok();
    }
    let mut ops = work.operations();
    let mut n = work.setup_len();
    let mut ids = OpIds::default();
    while let Some(op) = ops.next_op() {
        op.ids_into(&mut ids);
        let command = Operations::command(&op, &ids, &engine);
        text.push_str(&command.to_json(None));
        text.push('\n');
        engine.apply(&command).ok();
        n += 1;
        if n % 65_536 == 0 {
            gen_bar.set_position(n);
        }
    }
    gen_bar.finish_and_clear();
    if let Some(path) = &args.keep {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let started = Instant::now();
    let replayed = zengzhi_core::replay::replay(Engine::new(Rules::default()), text.as_bytes(), false, |_| {})
        .map_err(|b| anyhow::anyhow!("line {}: {}", b.line, b.violation))?;
    let mut out = Vec::with_capacity(replayed.results.len() * 64);
    zengzhi_core::state::write_state(&replayed.engine, Some(&replayed.results), &mut out)?;
    let elapsed = started.elapsed();
    let report = serde_json::json!({
        "lines": n,
        "bytes_in": text.len(),
        "bytes_out": out.len(),
        "seconds": elapsed.as_secs_f64(),
        "lines_per_s": per_second(n, elapsed).round(),
    });
    if args.json {
        out!("{report}");
    } else {
        out!(
            "回放基准 replay benchmark: {} lines ({:.1} MB in, {:.1} MB out) in {:.3} s = {:.0} lines/s",
            n,
            text.len() as f64 / 1e6,
            out.len() as f64 / 1e6,
            elapsed.as_secs_f64(),
            per_second(n, elapsed)
        );
    }
    Ok(())
}

fn owned(command: zengzhi_core::Command<'_>) -> zengzhi_core::Command<'static> {
    command.into_owned()
}

/// The store a benchmark uses: `store`, or with `temp` a fresh temporary SQLite directory
/// (returned too, to delete at the end).
fn bench_store(
    store: &crate::store::StoreArgs,
    temp: bool,
    name: &str,
) -> (crate::store::StoreArgs, Option<std::path::PathBuf>) {
    if !temp {
        return (store.clone(), None);
    }
    let dir = std::env::temp_dir().join(format!("zengzhi-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (crate::store::StoreArgs { data_dir: dir.clone(), database_url: None, pg_schema: store.pg_schema.clone() }, Some(dir))
}

fn journal(args: JournalBenchArgs) -> Result<()> {
    use zengzhi_journal::writer::{Writer, WriterConfig};
    let (store, temp) = bench_store(&args.store, args.temp, "journal");
    let backend = store.open()?;
    let describe = backend.describe();
    let writer = Writer::start(backend, WriterConfig { snapshot_every: args.snapshot_every, ..WriterConfig::default() })?;
    anyhow::ensure!(writer.recovered_head == 0, "the store is not empty ({} entries): use a fresh one", writer.recovered_head);
    let handle = writer.handle();
    let work = set_up_orders(&handle, args.members, args.orders)?;
    let bar = bar(args.orders, args.json, "落盘 durable {bar:40} {pos}/{len} {per_sec}");
    let per_client = args.orders / args.clients as u64;
    let started = Instant::now();
    let accepted = submit_orders(&handle, &work, args.clients, per_client, args.batch, args.depth, &bar)?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let orders = per_client * args.clients as u64;
    let head = handle.query(|e| e.totals().orders)?;
    drop(handle);
    writer.shutdown()?;
    let report = serde_json::json!({
        "store": describe,
        "orders": orders,
        "accepted": accepted,
        "orders_in_engine": head,
        "seconds": elapsed.as_secs_f64(),
        "durable_orders_per_s": per_second(orders, elapsed).round(),
        "clients": args.clients,
        "batch": args.batch,
    });
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    if args.json {
        out!("{report}");
    } else {
        out!("日志基准 journal benchmark: {describe}");
        out!(
            "  {orders} orders ({accepted} accepted) durable in {:.3} s = {:.0} orders/s (fsync on, group commit)",
            elapsed.as_secs_f64(),
            per_second(orders, elapsed)
        );
    }
    Ok(())
}

/// The workload of the storage benchmarks (`members` members, up to 1,000 stores, `orders`
/// orders, no sells), its set-up (members, stores, agents) submitted through `handle`.
fn set_up_orders(handle: &zengzhi_journal::writer::WriterHandle, members: u32, orders: u64) -> Result<Workload> {
    let work = Workload { members, stores: 1_000.min(members), orders, sell_per_mille: 0, seed: 11 };
    let setup: Vec<_> = work.setup().map(|c| (owned(c), None)).collect();
    for chunk in setup.chunks(10_000) {
        handle.submit_many(chunk.to_vec())?;
    }
    Ok(work)
}

/// Submits `per_client` generated orders from each of `clients` threads, `batch` orders a
/// submission with `depth` submissions in flight; returns how many the writer accepted.
fn submit_orders(
    handle: &zengzhi_journal::writer::WriterHandle,
    work: &Workload,
    clients: usize,
    per_client: u64,
    batch_len: usize,
    depth: usize,
    bar: &ProgressBar,
) -> Result<u64> {
    let accepted = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let mut threads = Vec::new();
        for client in 0..clients as u64 {
            let handle = handle.clone();
            let accepted = &accepted;
            let work = Workload { orders: per_client, seed: 100 + client, ..work.clone() };
            threads.push(scope.spawn(move || -> Result<()> {
                let mut ops = work.operations();
                let mut in_flight = std::collections::VecDeque::new();
                let mut ids = OpIds::default();
                let probe = Engine::new(Rules::default());
                loop {
                    let mut batch = Vec::with_capacity(batch_len);
                    while batch.len() < batch_len {
                        let Some(op) = ops.next_op() else { break };
                        op.ids_into(&mut ids);
                        // Order ids are per client so the clients never collide.
                        ids.order.insert_str(0, &format!("c{client}"));
                        batch.push((owned(Operations::command(&op, &ids, &probe)), None));
                    }
                    let done = batch.is_empty();
                    if !done {
                        in_flight.push_back(handle.submit_many_async(batch)?);
                    }
                    while in_flight.len() > if done { 0 } else { depth } {
                        let outcomes = in_flight.pop_front().expect("non-empty").recv()??;
                        let ok = outcomes.iter().filter(|o| o.seq.is_some()).count() as u64;
                        accepted.fetch_add(ok, std::sync::atomic::Ordering::Relaxed);
                        bar.inc(outcomes.len() as u64);
                    }
                    if done {
                        return Ok(());
                    }
                }
            }));
        }
        for t in threads {
            t.join().map_err(|_| anyhow::anyhow!("a client panicked"))??;
        }
        Ok(())
    })?;
    Ok(accepted.into_inner())
}

fn project(args: ProjectBenchArgs) -> Result<()> {
    use zengzhi_journal::projector::Projector;
    use zengzhi_journal::writer::{Writer, WriterConfig};
    let (store, temp) = bench_store(&args.store, args.temp, "project");
    let result = (|| -> Result<serde_json::Value> {
        let backend = store.open()?;
        let describe = backend.describe();
        let writer = Writer::start(backend, WriterConfig { snapshot_every: 0, ..WriterConfig::default() })?;
        if writer.recovered_head == 0 {
            let handle = writer.handle();
            let work = set_up_orders(&handle, args.members, args.entries)?;
            let bar = bar(args.entries, args.json, "写入日志 journal {bar:40} {pos}/{len} {per_sec}");
            submit_orders(&handle, &work, 1, args.entries, 1_000, 4, &bar)?;
            bar.finish_and_clear();
        }
        let head = writer.handle().stats().head().0;
        writer.shutdown()?;
        let mut backend = store.open()?;
        backend.reset_projection()?;
        let bar = bar(head, args.json, "投影 projecting {spinner} {elapsed}");
        let started = Instant::now();
        let mut projector = Projector::start(backend.as_mut())?;
        if args.incremental {
            projector = projector.with_bulk_load_min(u64::MAX);
        }
        let projected = projector.catch_up_while(backend.as_mut(), args.page, || {
            bar.tick();
            true
        })?;
        let elapsed = started.elapsed();
        bar.finish_and_clear();
        anyhow::ensure!(projector.watermark() == head, "the tables cover {} of {head} entries", projector.watermark());
        Ok(serde_json::json!({
            "store": describe,
            "entries": projected,
            "page": args.page,
            // The projector loads in bulk only from BULK_LOAD_MIN entries on.
            "indexes": if args.incremental || head < zengzhi_journal::projector::BULK_LOAD_MIN {
                "kept up row by row"
            } else {
                "built at the end"
            },
            "seconds": elapsed.as_secs_f64(),
            "entries_per_s": per_second(projected, elapsed).round(),
        }))
    })();
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let report = result?;
    if args.json {
        out!("{report}");
    } else {
        out!(
            "投影基准 projection: {} entries into fresh query tables ({}) in {:.3} s = {} entries/s (pages of {})",
            report["entries"], report["store"], report["seconds"].as_f64().unwrap_or(0.0), report["entries_per_s"], args.page
        );
    }
    Ok(())
}

fn recovery(args: RecoveryBenchArgs) -> Result<()> {
    use zengzhi_journal::writer::{Writer, WriterConfig};
    let backend = args.store.open_existing()?;
    let describe = backend.describe();
    let started = Instant::now();
    let writer = Writer::start(backend, WriterConfig::default())?;
    let elapsed = started.elapsed();
    let report = serde_json::json!({
        "store": describe,
        "entries": writer.recovered_head,
        "from_snapshot": writer.recovered_from_snapshot,
        "replayed": writer.recovered_replayed,
        "seconds": elapsed.as_secs_f64(),
    });
    writer.shutdown()?;
    if args.json {
        out!("{report}");
    } else {
        out!(
            "恢复基准 recovery: {} entries ({}; snapshot after {:?}, {} replayed) in {:.3} s",
            report["entries"], describe, report["from_snapshot"], report["replayed"], elapsed.as_secs_f64()
        );
    }
    Ok(())
}
