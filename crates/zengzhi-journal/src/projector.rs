//! Query tables derived from the journal behind a watermark.
//!
//! The writer's hot path appends only the journal. The projector follows it with an engine of
//! its own: it reads the entries after its watermark, re-applies them with change recording on,
//! and writes the rows (orders, ledger, candles) together with the new watermark in one
//! transaction. So the tables are always exactly the journal up to the watermark — never half
//! a batch — and a crash loses no rows: the projector resumes after the watermark.
//! (`exits` and `rewards` are views over the ledger.)

use zengzhi_core::command::Command;
use zengzhi_core::{Engine, Rules};

use crate::backend::{Backend, Candle, Interval, LedgerRow, OrderRow, ProjectionBatch, SnapshotMeta, SnapshotRecord};
use crate::recovery::{for_each_entry_through, newest_snapshot_through, reapply};
use crate::time_fmt::{bucket_start, parse_at};
use crate::{sha256, Error, Hash, Result};

const INTERVALS: [Interval; 3] = Interval::ALL;

/// Entries per transaction when the tables are far behind (a rebuild, a backlog).
pub const CATCH_UP_PAGE: usize = 10_000;

/// Entries from which a load into empty tables builds their indexes at the end (below it, the
/// rows are few and the indexes cheap to keep up as they come).
pub const BULK_LOAD_MIN: u64 = 100_000;

/// The price in yuan per point × 10^8, rounded down (the shown price of SPEC §3), saturating.
fn price_scaled(engine: &Engine) -> i64 {
    let (p, n) = engine.reference_price();
    if !n.is_positive() {
        return 0;
    }
    let v = i128::from(p) * 100_000_000_000_000 / i128::from(n);
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Follows the journal and keeps the query tables up to date.
pub struct Projector {
    engine: Engine,
    /// The last entry applied to `engine` (= the stored watermark).
    position: u64,
    /// That entry's chain hash (zeros before the first entry).
    chain: Hash,
    /// The snapshot [`start`](Self::start) began from (0: entry 1).
    started_from: u64,
    at: AtCache,
    /// Entries from which a load into empty tables drops their indexes ([`BULK_LOAD_MIN`]).
    bulk_load_min: u64,
}

/// The candle buckets of the last `at` seen: entries come in clock order, most of a page
/// shares a minute, so the time is parsed and the bucket names formatted once a minute, not
/// once an entry.
#[derive(Default)]
struct AtCache {
    at: String,
    minute: Option<i64>,
    /// Per interval (as [`INTERVALS`]) the bucket's start; empty when `at` does not parse.
    buckets: [String; 3],
}

impl AtCache {
    /// The buckets of `at`, or `None` if it does not parse.
    fn buckets(&mut self, at: &str) -> Option<&[String; 3]> {
        if self.at != at {
            self.at.clear();
            self.at.push_str(at);
            match parse_at(at) {
                Some(t) => {
                    let minute = t.unix_timestamp().div_euclid(60);
                    if self.minute != Some(minute) {
                        self.minute = Some(minute);
                        for (b, interval) in self.buckets.iter_mut().zip(INTERVALS) {
                            *b = bucket_start(t, interval);
                        }
                    }
                }
                None => self.minute = None,
            }
        }
        self.minute.map(|_| &self.buckets)
    }
}

impl Projector {
    /// Rebuilds the projector's engine up to the stored watermark: from the newest snapshot at
    /// or below it whose bytes check out and that belongs to this journal, then the entries
    /// after it (from entry 1 if there is none). Rows are not written again.
    pub fn start(backend: &mut dyn Backend) -> Result<Projector> {
        // Indexes a bulk load dropped and did not build again (it was interrupted).
        backend.end_bulk()?;
        let watermark = backend.watermark()?;
        let (mut engine, from, mut chain) = match newest_snapshot_through(backend, watermark)? {
            Some((engine, meta)) => (engine, meta.seq, meta.chain),
            None => (Engine::new(Rules::default()), 0, Hash::default()),
        };
        let mut done = from;
        for_each_entry_through(backend, from, watermark, |e| {
            reapply(&mut engine, e.seq, &e.command)?;
            done = e.seq;
            chain = e.hash;
            Ok(())
        })?;
        if done != watermark {
            return Err(Error::Corrupt {
                seq: done + 1,
                what: format!("the query tables cover entry {watermark}, the journal ends at {done}"),
            });
        }
        engine.record_changes(true);
        Ok(Projector { engine, position: watermark, chain, started_from: from, at: AtCache::default(), bulk_load_min: BULK_LOAD_MIN })
    }

    /// Loads empty tables in bulk from `entries` journal entries on (default
    /// [`BULK_LOAD_MIN`]; `u64::MAX`: never, to measure the incremental path on empty tables
    /// or keep reads fast while a long journal is projected anew).
    pub fn with_bulk_load_min(mut self, entries: u64) -> Self {
        self.bulk_load_min = entries;
        self
    }

    /// The snapshot the engine started from (0: entry 1).
    pub fn started_from(&self) -> u64 {
        self.started_from
    }

    /// The last entry the tables cover.
    pub fn watermark(&self) -> u64 {
        self.position
    }

    /// A snapshot of the projector's engine after its watermark: the same state and
    /// chain hash the writer's snapshot after that entry has. The service takes its periodic
    /// snapshots here, off the writer's thread, so the writer never pauses to serialize the
    /// state. `None` before the first entry.
    pub fn snapshot(&self) -> Option<SnapshotRecord> {
        if self.position == 0 {
            return None;
        }
        let state = self.engine.to_snapshot();
        Some(SnapshotRecord {
            meta: SnapshotMeta { seq: self.position, chain: self.chain, sha256: sha256(&state) },
            state,
        })
    }

    /// Projects every entry after the watermark, `page` entries per transaction. Returns how
    /// many entries were projected.
    pub fn catch_up(&mut self, backend: &mut dyn Backend, page: usize) -> Result<u64> {
        self.catch_up_while(backend, page, || true)
    }

    /// As [`catch_up`](Self::catch_up), but starts no new page after `deadline` (if any): the
    /// tables may then still be behind, and resume from their watermark next time.
    pub fn catch_up_until(
        &mut self,
        backend: &mut dyn Backend,
        page: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<u64> {
        self.catch_up_while(backend, page, || deadline.is_none_or(|d| std::time::Instant::now() < d))
    }

    /// As [`catch_up`](Self::catch_up) while `go` answers true before each page. Into empty
    /// tables with at least [`BULK_LOAD_MIN`] entries to project (a rebuild, a first start on
    /// a long journal), the secondary indexes are dropped first and built once at the end,
    /// also when `go` stops it early (a crash in between leaves them to [`start`](Self::start)).
    pub fn catch_up_while(&mut self, backend: &mut dyn Backend, page: usize, mut go: impl FnMut() -> bool) -> Result<u64> {
        let bulk = self.position == 0 && backend.head()?.is_some_and(|(head, _)| head >= self.bulk_load_min);
        if bulk {
            tracing::info!("query tables empty: loading them without their indexes, built at the end");
            backend.begin_bulk()?;
        }
        let mut total = 0;
        let result = (|| {
            while go() {
                let n = self.project_page(backend, page)?;
                if n == 0 {
                    break;
                }
                total += n;
            }
            Ok(total)
        })();
        if bulk {
            backend.end_bulk()?;
        }
        result
    }

    /// Projects at most `page` entries after the watermark in one transaction; returns how many
    /// (0: the tables are up to date).
    pub fn project_page(&mut self, backend: &mut dyn Backend, page: usize) -> Result<u64> {
        let entries = backend.read(self.position + 1, page.max(1))?;
        if entries.is_empty() {
            return Ok(0);
        }
        let batch = self.rows(&entries)?;
        backend.write_projection(&batch)?;
        Ok(entries.len() as u64)
    }

    /// Applies `entries` (the ones right after the watermark) and returns their rows; the
    /// projector's position moves past them.
    fn rows(&mut self, entries: &[crate::Entry]) -> Result<ProjectionBatch> {
        let mut batch = ProjectionBatch::default();
        // The page's candles, each interval's in bucket order (entries can carry any `at`).
        let mut candles: Vec<Candle> = Vec::new();
        for e in entries {
            if e.seq != self.position + 1 {
                return Err(Error::Corrupt { seq: self.position + 1, what: "missing entry".into() });
            }
            let (command, applied) = reapply(&mut self.engine, e.seq, &e.command)?;
            if let Command::Order { order, member, merchant, amount_fen, .. } = &command {
                batch.orders.push(OrderRow {
                    seq: e.seq,
                    order_id: order.to_string(),
                    member: member.to_string(),
                    merchant: merchant.as_ref().map(|m| m.to_string()),
                    amount_fen: amount_fen.to_fen(),
                    commission_fen: applied.commission_fen.to_fen(),
                    minted_units: applied.minted.to_units(),
                    at: e.at.clone(),
                });
            }
            for c in self.engine.take_changes() {
                batch.ledger.push(LedgerRow {
                    seq: e.seq,
                    member: self.engine.member_id(c.member).to_string(),
                    reason: c.reason.as_str(),
                    points: c.points.to_units(),
                    locked: c.locked.to_units(),
                    cash_fen: c.cash_fen.to_fen(),
                    coins_fen: c.coins_fen.to_fen(),
                });
            }
            if let Some(buckets) = self.at.buckets(&e.at) {
                let price = price_scaled(&self.engine);
                let (pool_fen, supply_units) = (self.engine.pool_fen().to_fen(), self.engine.supply_units().to_units());
                for (interval, start) in INTERVALS.into_iter().zip(buckets) {
                    // The newest candle of this interval is almost always the one.
                    let found = candles.iter_mut().rev().find(|c| c.interval == interval && c.start == *start);
                    let candle = match found {
                        Some(c) => c,
                        None => {
                            candles.push(Candle {
                                interval,
                                start: start.clone(),
                                open: price,
                                high: price,
                                low: price,
                                close: price,
                                pool_fen,
                                supply_units,
                            });
                            candles.last_mut().expect("just pushed")
                        }
                    };
                    candle.high = candle.high.max(price);
                    candle.low = candle.low.min(price);
                    candle.close = price;
                    candle.pool_fen = pool_fen;
                    candle.supply_units = supply_units;
                }
            }
            self.position = e.seq;
            self.chain = e.hash;
        }
        candles.sort_by(|a, b| (a.interval.as_str(), &a.start).cmp(&(b.interval.as_str(), &b.start)));
        batch.candles = candles;
        batch.watermark = self.position;
        Ok(batch)
    }
}
