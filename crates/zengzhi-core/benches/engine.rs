//! Criterion benchmarks of the engine's hot paths. The full-size figures of the README come
//! from `zengzhi bench engine` (1,000,000 members, 5,000,000 orders); these are quick,
//! statistically careful checks for regressions:
//! `cargo bench -p zengzhi-core --bench engine`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zengzhi_core::command::parse_line;
use zengzhi_core::workload::{Op, OpIds, Operations, Workload};
use zengzhi_core::{Engine, Rules};

fn economy(members: u32) -> (Engine, Workload) {
    let work = Workload { members, stores: 1_000, orders: 2_000_000, sell_per_mille: 100, seed: 9 };
    let mut engine = Engine::new(Rules::default());
    for command in work.setup() {
        engine.apply(&command).expect("set-up is valid");
    }
    (engine, work)
}

fn orders(c: &mut Criterion) {
    let (engine, work) = economy(200_000);
    let mut ops = work.operations();
    // Pre-generate batches of 64 operations with their ids.
    let batches: Vec<Vec<(Op, OpIds)>> = (0..2_000)
        .map(|_| {
            (0..64)
                .filter_map(|_| ops.next_op())
                .map(|op| {
                    let mut ids = OpIds::default();
                    op.ids_into(&mut ids);
                    (op, ids)
                })
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(64 * batches.len() as u64));
    group.sample_size(10);
    group.bench_function("apply_batch 128k commands, 200k members", |b| {
        b.iter_batched(
            || engine.clone(),
            |mut engine| {
                let mut results = Vec::with_capacity(64);
                for batch in &batches {
                    let commands: Vec<_> = batch.iter().map(|(op, ids)| Operations::command(op, ids, &engine)).collect();
                    results.clear();
                    engine.apply_batch(&commands, &mut results);
                }
                engine
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let line = br#"{"op":"order","order":"o123456","member":"m98765","merchant":"s42","amount":"123.45","at":"2026-11-25T08:00:00+08:00"}"#;
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.bench_function("order line", |b| b.iter(|| parse_line(std::hint::black_box(line)).is_ok()));
    group.finish();
}

criterion_group!(benches, orders, parsing);
criterion_main!(benches);
