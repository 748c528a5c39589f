//! The single writer: one thread owns the engine and the storage.
//!
//! Callers send commands through a bounded queue ([`WriterHandle::submit`] blocks when it is
//! full: back-pressure, not unbounded memory). The writer takes what is waiting, up to
//! `max_batch` commands, applies them one by one (cache-warmed with `Engine::apply_batch`),
//! appends the accepted ones as one batch in one transaction (group commit), and only then
//! answers each caller. A rejected command changes nothing and is not journaled.
//!
//! If the storage fails, every caller of that batch gets the error (none was told "accepted"),
//! and the writer reloads the engine from storage — the state the storage actually holds — before
//! taking more work. If that fails too, the writer stops and says why.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use zengzhi_core::command::Command;
use zengzhi_core::{Applied, Engine, Rejection, Rules};

use crate::backend::{Backend, SnapshotMeta, SnapshotRecord};
use crate::recovery::{recover, Recovered};
use crate::time_fmt::now_rfc3339;
use crate::{chain_hash, sha256, Entry, Error, Hash, Result};

/// Writer settings.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Commands waiting in the queue at most; `submit` blocks beyond this.
    pub queue_capacity: usize,
    /// Commands in one group commit at most.
    pub max_batch: usize,
    /// Take a snapshot after this many new entries (0: never automatically).
    pub snapshot_every: u64,
    /// The rules of a new program: journaled as its first entry (an `update_rules`) when the
    /// journal is empty and they differ from the defaults. Ignored for an existing journal.
    pub initial_rules: Option<Rules>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { queue_capacity: 65_536, max_batch: 8_192, snapshot_every: 1_000_000, initial_rules: None }
    }
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What the engine said.
    pub result: std::result::Result<Applied, Rejection>,
    /// The journal position of an accepted command.
    pub seq: Option<u64>,
    /// Its time as journaled.
    pub at: Option<String>,
}

/// A read of the engine's state, run on the writer thread between batches (so it sees only
/// durable state).
pub type Query = Box<dyn FnOnce(&Engine) + Send>;

/// Where the outcomes of a submission go: called once, on the writer thread, after the batch
/// holding the commands is durable (or failed).
pub type Reply = Box<dyn FnOnce(Result<Vec<Outcome>>) + Send>;

enum Request {
    /// Finish what is queued before this, then end the thread.
    Shutdown,
    Commands { commands: Vec<(Command<'static>, Option<String>)>, reply: Reply },
    Query(Query),
    Snapshot { reply: SyncSender<Result<u64>> },
}

/// Figures the writer keeps up to date, readable from any thread (for `/metrics`, `/v1/proof`).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Requests sent and not yet taken by the writer.
    pub queue_depth: AtomicU64,
    /// Group commits done.
    pub batches: AtomicU64,
    /// Commands applied (accepted or rejected).
    pub commands: AtomicU64,
    /// Entries appended.
    pub entries: AtomicU64,
    /// The size of the largest group commit so far.
    pub largest_batch: AtomicU64,
    /// Per group commit: the engine's part (apply, journal lines, chain hashes): the time the
    /// writer holds the state and nothing else runs on it.
    pub apply_time: Histogram,
    /// Per group commit: the journal append, durable (fsync) when it returns.
    pub append_time: Histogram,
    /// The head of the journal: sequence number and hash.
    pub head: Mutex<(u64, Hash)>,
}

/// Upper bounds of [`Histogram`]'s buckets, microseconds (the last bucket is everything above).
pub const HISTOGRAM_BOUNDS_US: [u64; 12] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000];

/// A latency histogram updated from one thread and read from any: per-bucket counts (not
/// cumulative), the sum and the largest value seen, microseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    pub buckets: [AtomicU64; HISTOGRAM_BOUNDS_US.len() + 1],
    pub sum_us: AtomicU64,
    pub max_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: std::time::Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let i = HISTOGRAM_BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(HISTOGRAM_BOUNDS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }
}

impl WriterStats {
    pub fn head(&self) -> (u64, Hash) {
        *self.head.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A handle to the writer; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct WriterHandle {
    tx: SyncSender<Request>,
    stats: Arc<WriterStats>,
}

/// The running writer: its handle and its thread.
pub struct Writer {
    handle: WriterHandle,
    thread: Option<JoinHandle<Result<()>>>,
    /// What recovery found at start.
    pub recovered_head: u64,
    pub recovered_from_snapshot: Option<u64>,
    pub recovered_replayed: u64,
    pub recovery_notes: Vec<String>,
}

impl WriterHandle {
    fn send(&self, request: Request) -> Result<()> {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.tx.send(request).map_err(|_| {
            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            Error::WriterStopped("the writer thread has ended".into())
        })
    }

    fn try_send(&self, request: Request) -> Result<()> {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.tx.try_send(request).map_err(|e| {
            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => Error::Busy,
                TrySendError::Disconnected(_) => Error::WriterStopped("the writer thread has ended".into()),
            }
        })
    }

    /// The writer's figures.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Applies one command durably; blocks while the queue is full.
    pub fn submit(&self, command: Command<'static>, at: Option<String>) -> Result<Outcome> {
        let mut outcomes = self.submit_many(vec![(command, at)])?;
        Ok(outcomes.pop().expect("one outcome per command"))
    }

    /// Applies several commands in order, durably; one outcome each.
    pub fn submit_many(&self, commands: Vec<(Command<'static>, Option<String>)>) -> Result<Vec<Outcome>> {
        self.submit_many_async(commands)?.recv().map_err(|_| Error::WriterStopped("no answer".into()))?
    }

    /// Queues commands and returns where the answer will arrive (for pipelining callers).
    pub fn submit_many_async(
        &self,
        commands: Vec<(Command<'static>, Option<String>)>,
    ) -> Result<Receiver<Result<Vec<Outcome>>>> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Request::Commands { commands, reply: Box::new(move |r| drop(tx.send(r))) })?;
        Ok(rx)
    }

    /// Like `submit_many_async`, but `Busy` instead of waiting when the queue is full.
    pub fn try_submit_many(
        &self,
        commands: Vec<(Command<'static>, Option<String>)>,
    ) -> Result<Receiver<Result<Vec<Outcome>>>> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.try_submit_with(commands, Box::new(move |r| drop(tx.send(r))))?;
        Ok(rx)
    }

    /// Queues commands without waiting; `reply` is called with the outcomes once they are
    /// durable. `Busy` when the queue is full (the caller should answer "try again later").
    /// For asynchronous callers: `reply` can complete a future.
    pub fn try_submit_with(&self, commands: Vec<(Command<'static>, Option<String>)>, reply: Reply) -> Result<()> {
        self.try_send(Request::Commands { commands, reply })
    }

    /// Queues a read of the engine without waiting; `Busy` when the queue is full.
    pub fn try_query_with(&self, f: Query) -> Result<()> {
        self.try_send(Request::Query(f))
    }

    /// Runs `f` on the engine (on the writer thread) and returns its result.
    pub fn query<T: Send + 'static>(&self, f: impl FnOnce(&Engine) -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Request::Query(Box::new(move |e| {
            let _ = tx.send(f(e));
        })))?;
        rx.recv().map_err(|_| Error::WriterStopped("no answer".into()))
    }

    /// Takes a snapshot now; returns the entry it was taken after.
    pub fn snapshot(&self) -> Result<u64> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.send(Request::Snapshot { reply })?;
        rx.recv().map_err(|_| Error::WriterStopped("no answer".into()))?
    }
}

impl Writer {
    /// Recovers the engine from `backend` and starts the writer thread.
    pub fn start(mut backend: Box<dyn Backend>, config: WriterConfig) -> Result<Writer> {
        let Recovered { engine, head, snapshot, replayed, skipped } = recover(backend.as_mut())?;
        let (tx, rx) = mpsc::sync_channel(config.queue_capacity.max(1));
        let stats = Arc::new(WriterStats { head: Mutex::new(head), ..WriterStats::default() });
        let mut state = State { stats: stats.clone(), engine, backend, head, config, since_snapshot: replayed };
        if state.head.0 == 0 {
            if let Some(rules) = state.config.initial_rules.clone().filter(|r| *r != Rules::default()) {
                let command = Command::UpdateRules { rules: rules.to_doc() };
                let outcomes = state.commit(vec![(command, None)])?;
                if let Some(Err(r)) = outcomes.first().map(|o| o.result.clone()) {
                    return Err(Error::Config(format!("the initial rules were rejected: {r}")));
                }
            }
        }
        let thread = std::thread::Builder::new().name("zengzhi-writer".into()).spawn(move || state.run(rx))?;
        Ok(Writer {
            handle: WriterHandle { tx, stats },
            thread: Some(thread),
            recovered_head: head.0,
            recovered_from_snapshot: snapshot,
            recovered_replayed: replayed,
            recovery_notes: skipped,
        })
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Stops the writer: every request queued before this call is done (the queue drains,
    /// every batch is committed), then the thread ends. Requests sent after it fail with
    /// `WriterStopped`. Other handles may still exist.
    pub fn shutdown(mut self) -> Result<()> {
        let thread = self.thread.take();
        let _ = self.handle.send(Request::Shutdown);
        drop(self);
        match thread.map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::WriterStopped("the writer thread panicked".into())),
            None => Ok(()),
        }
    }
}

struct State {
    stats: Arc<WriterStats>,
    engine: Engine,
    backend: Box<dyn Backend>,
    head: (u64, Hash),
    config: WriterConfig,
    since_snapshot: u64,
}

impl State {
    fn run(mut self, rx: Receiver<Request>) -> Result<()> {
        let mut waiting: Option<Request> = None;
        loop {
            let first = match waiting.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => {
                        self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                        r
                    }
                    Err(_) => return Ok(()), // every handle dropped: the queue is drained
                },
            };
            match first {
                Request::Shutdown => return Ok(()),
                Request::Query(f) => f(&self.engine),
                Request::Snapshot { reply } => {
                    let _ = reply.send(self.take_snapshot());
                }
                Request::Commands { commands, reply } => {
                    // Group commit: gather waiting command requests up to max_batch commands.
                    let mut group = vec![(commands, reply)];
                    let mut count = group[0].0.len();
                    while count < self.config.max_batch {
                        let next = rx.try_recv();
                        if next.is_ok() {
                            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                        }
                        match next {
                            Ok(Request::Commands { commands, reply }) => {
                                count += commands.len();
                                group.push((commands, reply));
                            }
                            Ok(other) => {
                                waiting = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let sizes: Vec<usize> = group.iter().map(|(c, _)| c.len()).collect();
                    let (all, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                    let all: Vec<_> = all.into_iter().flatten().collect();
                    match self.commit(all) {
                        Ok(mut outcomes) => {
                            for (reply, n) in replies.into_iter().zip(sizes).rev() {
                                let mine = outcomes.split_off(outcomes.len() - n);
                                reply(Ok(mine));
                            }
                        }
                        Err(e) => {
                            let message = e.to_string();
                            for reply in replies {
                                reply(Err(Error::WriterStopped(format!("the batch was not stored: {message}"))));
                            }
                            // The engine holds state the storage does not: reload what it holds.
                            let recovered = recover(self.backend.as_mut())
                                .map_err(|e| Error::WriterStopped(format!("storage failed ({message}) and recovery failed: {e}")))?;
                            self.engine = recovered.engine;
                            self.head = recovered.head;
                            *self.stats.head.lock().unwrap_or_else(|e| e.into_inner()) = self.head;
                        }
                    }
                    if self.config.snapshot_every > 0 && self.since_snapshot >= self.config.snapshot_every {
                        // A failed periodic snapshot costs only start-up time; the journal has it all.
                        let _ = self.take_snapshot();
                    }
                }
            }
        }
    }

    /// Applies commands, appends the accepted ones in one transaction, returns the outcomes.
    /// On a storage error the engine is ahead of the storage: the caller must reload it.
    fn commit(&mut self, commands: Vec<(Command<'static>, Option<String>)>) -> Result<Vec<Outcome>> {
        let started = std::time::Instant::now();
        // A caller's `at` must be one the replay reader accepts; a command with a bad one is
        // rejected here and never reaches the engine or the journal.
        let (commands, ats): (Vec<Command<'static>>, Vec<Option<String>>) = commands.into_iter().unzip();
        let at_ok: Vec<bool> = ats.iter().map(|at| at.as_deref().is_none_or(zengzhi_core::command::valid_at)).collect();
        // A command without a time is stamped now, before it is applied: the engine reads the
        // time the journal keeps (the daily mint cap counts by it), so a replay matches.
        let now = now_rfc3339();
        let stamped: Vec<Option<&str>> = ats.iter().map(|at| Some(at.as_deref().unwrap_or(&now))).collect();
        let mut applied = Vec::with_capacity(commands.len());
        if at_ok.iter().all(|ok| *ok) {
            self.engine.apply_batch_at(&commands, &stamped, &mut applied);
        } else {
            // Rare: copy out the commands whose time is good.
            let (good, good_ats): (Vec<Command<'static>>, Vec<Option<&str>>) = commands
                .iter()
                .zip(&stamped)
                .zip(&at_ok)
                .filter(|(_, ok)| **ok)
                .map(|((c, at), _)| (c.clone(), *at))
                .unzip();
            self.engine.apply_batch_at(&good, &good_ats, &mut applied);
        }
        let mut applied = applied.into_iter();
        let results: Vec<_> = at_ok
            .iter()
            .map(|ok| if *ok { applied.next().expect("one result per command") } else { Err(Rejection::InvalidCommand) })
            .collect();
        let mut entries = Vec::new();
        let mut outcomes = Vec::with_capacity(results.len());
        let (mut seq, mut prev) = self.head;
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.commands.fetch_add(commands.len() as u64, Ordering::Relaxed);
        self.stats.largest_batch.fetch_max(commands.len() as u64, Ordering::Relaxed);
        for ((command, at), result) in commands.iter().zip(&ats).zip(results) {
            if result.is_err() {
                outcomes.push(Outcome { result, seq: None, at: None });
                continue;
            }
            seq += 1;
            let at = at.clone().unwrap_or_else(|| now.clone());
            let line = command.to_json(Some(&at));
            let hash = chain_hash(&prev, seq, line.as_bytes());
            prev = hash;
            outcomes.push(Outcome { result, seq: Some(seq), at: Some(at.clone()) });
            entries.push(Entry { seq, at, command: line, hash });
        }
        self.stats.apply_time.observe(started.elapsed());
        if !entries.is_empty() {
            let appending = std::time::Instant::now();
            self.backend.append(&entries)?;
            self.stats.append_time.observe(appending.elapsed());
            self.since_snapshot += entries.len() as u64;
            self.head = (seq, prev);
            self.stats.entries.fetch_add(entries.len() as u64, Ordering::Relaxed);
            *self.stats.head.lock().unwrap_or_else(|e| e.into_inner()) = self.head;
        }
        Ok(outcomes)
    }

    fn take_snapshot(&mut self) -> Result<u64> {
        if self.head.0 == 0 {
            return Ok(0); // nothing to snapshot: the empty state is the start
        }
        let state = self.engine.to_snapshot();
        let meta = SnapshotMeta { seq: self.head.0, chain: self.head.1, sha256: sha256(&state) };
        self.backend.save_snapshot(&SnapshotRecord { meta, state })?;
        self.since_snapshot = 0;
        Ok(self.head.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn histogram_buckets_by_upper_bound_with_sum_and_max() {
        let h = Histogram::default();
        for us in [0, 100, 101, 4_999, 5_000, 5_001, 2_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let counts: Vec<u64> = h.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        // ≤ 100 µs: 0 and 100; ≤ 250: 101; ≤ 5,000: 4,999 and 5,000; ≤ 10,000: 5,001; above 1 s: 2 s.
        assert_eq!(counts, [2, 1, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(h.count(), 7);
        assert_eq!(h.sum_us.load(Ordering::Relaxed), 100 + 101 + 4_999 + 5_000 + 5_001 + 2_000_000);
        assert_eq!(h.max_us.load(Ordering::Relaxed), 2_000_000);
    }
}
