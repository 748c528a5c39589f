//! Query tables derived from the journal behind a watermark.
//!
//! The writer's hot path appends only the journal. The projector follows it with an engine of
//! its own: it reads the entries after its watermark, re-applies them with change recording on,
//! and writes the rows (orders, ledger, candles) together with the new watermark in one
//! transaction. So the tables are always exactly the journal up to the watermark — never half
//! a batch — and a crash loses no rows: the projector resumes after the watermark.
//! (`exits` and `rewards` are views over the ledger.)

use std::collections::BTreeMap;

use zengzhi_core::command::Command;
use zengzhi_core::{Engine, Rules};

use crate::backend::{Backend, Candle, Interval, LedgerRow, OrderRow, ProjectionBatch, SnapshotMeta, SnapshotRecord};
use crate::recovery::{for_each_entry_through, reapply};
use crate::time_fmt::{bucket_start, parse_at};
use crate::{sha256, Error, Hash, Result};

const INTERVALS: [Interval; 3] = Interval::ALL;

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
}

impl Projector {
    /// Rebuilds the projector's engine up to the stored watermark (from the start of the
    /// journal; rows are not written again).
    pub fn start(backend: &mut dyn Backend) -> Result<Projector> {
        let watermark = backend.watermark()?;
        let mut engine = Engine::new(Rules::default());
        let mut done = 0;
        let mut chain = Hash::default();
        for_each_entry_through(backend, 0, watermark, |e| {
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
        Ok(Projector { engine, position: watermark, chain })
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
        self.catch_up_until(backend, page, None)
    }

    /// As [`catch_up`](Self::catch_up), but starts no new page after `deadline` (if any): the
    /// tables may then still be behind, and resume from their watermark next time.
    pub fn catch_up_until(
        &mut self,
        backend: &mut dyn Backend,
        page: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<u64> {
        let mut total = 0;
        while deadline.map_or(true, |d| std::time::Instant::now() < d) {
            let n = self.project_page(backend, page)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        Ok(total)
    }

    /// Projects at most `page` entries after the watermark in one transaction; returns how many
    /// (0: the tables are up to date).
    pub fn project_page(&mut self, backend: &mut dyn Backend, page: usize) -> Result<u64> {
        {
            let entries = backend.read(self.position + 1, page.max(1))?;
            if entries.is_empty() {
                return Ok(0);
            }
            let mut batch = ProjectionBatch::default();
            let mut candles: BTreeMap<(&'static str, String), Candle> = BTreeMap::new();
            for e in &entries {
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
                        command: Some(e.command.clone()),
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
                if let Some(t) = parse_at(&e.at) {
                    let price = price_scaled(&self.engine);
                    for interval in INTERVALS {
                        let start = bucket_start(t, interval);
                        let candle = candles.entry((interval.as_str(), start.clone())).or_insert(Candle {
                            interval,
                            start,
                            open: price,
                            high: price,
                            low: price,
                            close: price,
                            pool_fen: 0,
                            supply_units: 0,
                        });
                        candle.high = candle.high.max(price);
                        candle.low = candle.low.min(price);
                        candle.close = price;
                        candle.pool_fen = self.engine.pool_fen().to_fen();
                        candle.supply_units = self.engine.supply_units().to_units();
                    }
                }
                self.position = e.seq;
                self.chain = e.hash;
            }
            batch.candles = candles.into_values().collect();
            batch.watermark = self.position;
            backend.write_projection(&batch)?;
            Ok(entries.len() as u64)
        }
    }
}
