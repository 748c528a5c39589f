//! Start-up, verification and export.
//!
//! Recovery takes the newest snapshot that checks out (its bytes match their SHA-256, its chain
//! hash matches the journal entry it was taken after, the bytes decode), replays the journal
//! tail through the engine, and verifies every tail entry's sequence number, chain hash and
//! that it still applies. Anything that does not verify stops the start with the entry's
//! position: data is never dropped silently.

use std::ops::ControlFlow;

use zengzhi_core::command::{parse_line, Command};
use zengzhi_core::engine::CascadeMode;
use zengzhi_core::invariants::Checker;
use zengzhi_core::num::{Fen, Units};
use zengzhi_core::{Applied, Engine, Rules};

use crate::backend::Backend;
use crate::{chain_hash, hex, sha256, Entry, Error, Hash, Result, GENESIS};

/// Entries read from storage per round trip.
pub const PAGE: usize = 20_000;

/// An engine brought back from storage.
pub struct Recovered {
    pub engine: Engine,
    /// The last entry: its sequence number and hash (`(0, GENESIS)` for an empty journal).
    pub head: (u64, Hash),
    /// The snapshot recovery started from, if any.
    pub snapshot: Option<u64>,
    /// Entries replayed after the snapshot.
    pub replayed: u64,
    /// Snapshots skipped because they did not check out, with why.
    pub skipped: Vec<String>,
}

/// Checks one entry against the chain and applies it; `Corrupt` when it does not verify.
fn apply_entry(engine: &mut Engine, prev: &Hash, expected_seq: u64, e: &Entry) -> Result<Hash> {
    if e.seq != expected_seq {
        return Err(Error::Corrupt {
            seq: expected_seq,
            what: format!("entry {expected_seq} is missing (the next stored entry is {})", e.seq),
        });
    }
    let hash = chain_hash(prev, e.seq, e.command.as_bytes());
    if hash != e.hash {
        return Err(Error::Corrupt {
            seq: e.seq,
            what: format!(
                "hash mismatch: stored {}, computed {} (the entry or one before it was changed)",
                hex(&e.hash),
                hex(&hash)
            ),
        });
    }
    reapply(engine, e.seq, &e.command)?;
    Ok(hash)
}

/// Reads a journaled command and applies it again; `Corrupt` (naming the entry) when it no
/// longer reads or is now rejected. Returns the command and what it did.
pub fn reapply<'a>(engine: &mut Engine, seq: u64, command: &'a str) -> Result<(Command<'a>, Applied)> {
    let parsed = parse_line(command.as_bytes())
        .map_err(|r| Error::Corrupt { seq, what: format!("the command no longer reads ({r})") })?;
    let applied = engine
        .apply_at(&parsed.command, parsed.at.as_deref())
        .map_err(|r| Error::Corrupt { seq, what: format!("the accepted command is now rejected ({r})") })?;
    Ok((parsed.command, applied))
}

/// Calls `f` with every entry with `seq > after`, in order, a page at a time.
pub fn for_each_entry(backend: &mut dyn Backend, after: u64, mut f: impl FnMut(&Entry) -> Result<()>) -> Result<()> {
    scan_entries(backend, after, |e| f(e).map(|()| ControlFlow::Continue(())))
}

/// Calls `f` with the entries with `seq > after`, in order, a page at a time, until `f` answers
/// `Break` (then reads no further).
pub fn scan_entries(
    backend: &mut dyn Backend,
    after: u64,
    mut f: impl FnMut(&Entry) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let mut from = after + 1;
    loop {
        let page = backend.read(from, PAGE)?;
        let Some(last) = page.last() else { return Ok(()) };
        from = last.seq + 1;
        for e in &page {
            if f(e)?.is_break() {
                return Ok(());
            }
        }
        if page.len() < PAGE {
            return Ok(());
        }
    }
}

/// Calls `f` with every entry with `after < seq ≤ through`, in order, a page at a time; stops
/// reading at `through`.
pub fn for_each_entry_through(
    backend: &mut dyn Backend,
    after: u64,
    through: u64,
    mut f: impl FnMut(&Entry) -> Result<()>,
) -> Result<()> {
    let mut from = after + 1;
    while from <= through {
        let page = backend.read(from, PAGE.min(usize::try_from(through - from + 1).unwrap_or(PAGE)))?;
        let Some(last) = page.last() else { return Ok(()) };
        from = last.seq + 1;
        for e in page.iter().filter(|e| e.seq <= through) {
            f(e)?;
        }
        if page.len() < PAGE {
            return Ok(());
        }
    }
    Ok(())
}

/// The engine of the newest snapshot at or before entry `through` whose bytes check out, that
/// loads, and whose chain hash is the journal's at its entry (a snapshot of another journal, or
/// of entries since lost, is passed over), with its metadata; `None` if there is none.
pub fn newest_snapshot_through(
    backend: &mut dyn Backend,
    through: u64,
) -> Result<Option<(Engine, crate::backend::SnapshotMeta)>> {
    for meta in backend.snapshots()?.into_iter().filter(|m| m.seq <= through) {
        let Some(s) = backend.load_snapshot(meta.seq)? else { continue };
        if sha256(&s.state) != s.meta.sha256 {
            continue;
        }
        if backend.read(meta.seq, 1)?.first().is_none_or(|e| e.seq != meta.seq || e.hash != meta.chain) {
            continue;
        }
        if let Ok(engine) = Engine::from_snapshot(&s.state, CascadeMode::Indexed) {
            return Ok(Some((engine, meta)));
        }
    }
    Ok(None)
}

/// The engine at the journal's head as it is now, read on `backend` while a writer may be
/// appending (the service's full-state reads, off the writer's thread): the newest snapshot at
/// or before the head whose bytes check out, plus the entries after it up to that head. The
/// chain is not verified again (the writer did at its start). Returns the head's seq too.
pub fn engine_at_head(backend: &mut dyn Backend) -> Result<(Engine, u64)> {
    let head = backend.head()?.map_or(0, |h| h.0);
    Ok((engine_through(backend, head)?, head))
}

/// The engine after entry `through`: the newest snapshot at or before it whose bytes check
/// out, plus the entries after that snapshot up to `through`.
pub fn engine_through(backend: &mut dyn Backend, through: u64) -> Result<Engine> {
    let (mut engine, after) = newest_snapshot_through(backend, through)?
        .map_or_else(|| (Engine::new(Rules::default()), 0), |(engine, meta)| (engine, meta.seq));
    for_each_entry_through(backend, after, through, |e| reapply(&mut engine, e.seq, &e.command).map(|_| ()))?;
    Ok(engine)
}

/// The engine as it was before the first entry journaled at or after `cutoff` (a record
/// date's balances), and the last entry it includes: the entries' times are scanned without
/// their commands, then [`engine_through`] starts from the newest snapshot before that entry
/// instead of replaying the journal from its first entry. An entry whose time does not read
/// counts as before the cutoff.
pub fn engine_before(backend: &mut dyn Backend, cutoff: time::OffsetDateTime) -> Result<(Engine, u64)> {
    let head = backend.head()?.map_or(0, |h| h.0);
    let mut through = head;
    let mut from = 1;
    'pages: while from <= head {
        let page = backend.entry_times(from, PAGE)?;
        let Some(&(last, _)) = page.last() else { break };
        for (seq, at) in &page {
            if *seq > head {
                break 'pages;
            }
            if crate::time_fmt::parse_at(at).is_some_and(|t| t >= cutoff) {
                through = seq - 1;
                break 'pages;
            }
        }
        from = last + 1;
    }
    Ok((engine_through(backend, through)?, through))
}

/// Brings the engine back: newest valid snapshot plus the verified journal tail.
/// A truncated tail shows only in what points past the journal's end: a snapshot or the query
/// tables' watermark. Both start-up and `verify` refuse such a store.
fn check_tail(backend: &mut dyn Backend, head: u64) -> Result<Vec<crate::backend::SnapshotMeta>> {
    let watermark = backend.watermark()?;
    if watermark > head {
        return Err(Error::Corrupt {
            seq: head + 1,
            what: format!(
                "the journal ends at entry {head} but the query tables cover entry {watermark}: entries were lost \
                 (or the query tables come from another journal; they can be rebuilt: `zengzhi project --rebuild`)"
            ),
        });
    }
    let snapshots = backend.snapshots()?;
    if let Some(meta) = snapshots.iter().find(|m| m.seq > head) {
        return Err(Error::Corrupt {
            seq: head + 1,
            what: format!(
                "the journal ends at entry {head} but a snapshot was taken after entry {}: entries were lost",
                meta.seq
            ),
        });
    }
    Ok(snapshots)
}

pub fn recover(backend: &mut dyn Backend) -> Result<Recovered> {
    let head = backend.head()?.unwrap_or((0, GENESIS));
    let snapshots = check_tail(backend, head.0)?;
    let mut skipped = Vec::new();
    let mut start: Option<(Engine, u64, Hash)> = None;
    for meta in snapshots {
        if start.is_some() {
            continue;
        }
        let why = match backend.load_snapshot(meta.seq)? {
            None => "vanished while loading".to_string(),
            Some(s) if sha256(&s.state) != s.meta.sha256 => "its bytes do not match their SHA-256".to_string(),
            Some(s) => match backend.read(meta.seq, 1)?.first() {
                Some(e) if e.seq == meta.seq && e.hash == meta.chain => {
                    match Engine::from_snapshot(&s.state, CascadeMode::Indexed) {
                        Ok(engine) => {
                            start = Some((engine, meta.seq, meta.chain));
                            continue;
                        }
                        Err(e) => e.to_string(),
                    }
                }
                _ => "its chain hash does not match the journal".to_string(),
            },
        };
        skipped.push(format!("snapshot after entry {}: {why}", meta.seq));
    }
    let (mut engine, snap_seq, mut prev) = match start {
        Some((engine, seq, chain)) => (engine, Some(seq), chain),
        None => (Engine::new(Rules::default()), None, GENESIS),
    };
    let mut expected = snap_seq.unwrap_or(0) + 1;
    let mut replayed = 0;
    for_each_entry(backend, snap_seq.unwrap_or(0), |e| {
        prev = apply_entry(&mut engine, &prev, expected, e)?;
        expected += 1;
        replayed += 1;
        Ok(())
    })?;
    if expected != head.0 + 1 {
        return Err(Error::Corrupt {
            seq: expected,
            what: format!("entry {expected} is missing (the head is {})", head.0),
        });
    }
    Ok(Recovered { engine, head, snapshot: snap_seq, replayed, skipped })
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    pub entries: u64,
    pub head: Hash,
    pub snapshots_checked: usize,
    pub snapshots_bad: Vec<String>,
    pub engine_summary: String,
}

/// SHA-256 of the state JSON (without results): equal for equal states, whatever the order in
/// which sets were stored.
pub fn state_digest(engine: &Engine) -> Hash {
    struct HashWriter(sha2::Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            sha2::Digest::update(&mut self.0, buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 16, HashWriter(<sha2::Sha256 as sha2::Digest>::new()));
    zengzhi_core::state::write_state(engine, None, &mut w).expect("hashing cannot fail");
    let inner = w.into_inner().unwrap_or_else(|_| unreachable!("hashing cannot fail"));
    sha2::Digest::finalize(inner.0).into()
}

/// Verifies everything: the whole chain from the first entry, every entry re-applied, every
/// invariant of SPEC §7 (price monotonicity after every entry; the full check every
/// `check_every` entries and at the end), and every snapshot against the replayed state.
pub fn verify(backend: &mut dyn Backend, check_every: u64, mut progress: impl FnMut(u64)) -> Result<Verified> {
    let head = backend.head()?.unwrap_or((0, GENESIS));
    let mut snapshots = check_tail(backend, head.0)?;
    snapshots.sort_by_key(|m| m.seq);
    let mut snapshots = snapshots.into_iter().peekable();
    let mut engine = Engine::new(Rules::default());
    let mut checker = Checker::new();
    let mut prev = GENESIS;
    let mut expected = 1;
    let mut snapshots_checked = 0;
    let mut snapshots_bad = Vec::new();
    let mut price = (Fen::ZERO, Units::ZERO);
    loop {
        let page = backend.read(expected, PAGE)?;
        for e in &page {
            prev = apply_entry(&mut engine, &prev, expected, e)?;
            let now = (engine.pool_fen(), engine.supply_units());
            if price.1.is_positive() && now.1.is_positive() && i128::from(now.0) * i128::from(price.1) < i128::from(price.0) * i128::from(now.1) {
                return Err(Error::Corrupt { seq: e.seq, what: "invariant 7.1 broken: the price fell".into() });
            }
            price = now;
            if check_every > 0 && e.seq % check_every == 0 {
                checker.check(&engine).map_err(|v| Error::Corrupt { seq: e.seq, what: v.to_string() })?;
            }
            if snapshots.peek().is_some_and(|m| m.seq == e.seq) {
                let meta = snapshots.next().expect("peeked");
                snapshots_checked += 1;
                let verdict = match backend.load_snapshot(meta.seq)? {
                    _ if meta.chain != prev => Some("its chain hash does not match the journal"),
                    None => Some("vanished while loading"),
                    Some(s) if sha256(&s.state) != meta.sha256 => Some("its bytes do not match their SHA-256"),
                    Some(s) => match Engine::from_snapshot(&s.state, CascadeMode::Indexed) {
                        Ok(restored) if state_digest(&restored) == state_digest(&engine) => None,
                        Ok(_) => Some("its state differs from the replayed state"),
                        Err(_) => Some("its bytes do not decode"),
                    },
                };
                if let Some(why) = verdict {
                    snapshots_bad.push(format!("snapshot after entry {}: {why}", meta.seq));
                }
            }
            expected += 1;
            if e.seq % 100_000 == 0 {
                progress(e.seq);
            }
        }
        if page.len() < PAGE {
            break;
        }
    }
    if expected != head.0 + 1 {
        return Err(Error::Corrupt {
            seq: expected,
            what: format!("entry {expected} is missing (the head is {})", head.0),
        });
    }
    for meta in snapshots {
        snapshots_bad.push(format!("snapshot after entry {}: past the end of the journal", meta.seq));
    }
    checker.check(&engine).map_err(|v| Error::Corrupt { seq: head.0, what: v.to_string() })?;
    progress(head.0);
    Ok(Verified {
        entries: head.0,
        head: prev,
        snapshots_checked,
        snapshots_bad,
        engine_summary: format!(
            "{} members, pool {} fen, supply {} units, {} orders, {} exits",
            engine.member_count(),
            engine.pool_fen(),
            engine.supply_units(),
            engine.totals().orders,
            engine.totals().exits
        ),
    })
}

/// Writes every entry's command line (with its `at`) to `out`: the replay format of SPEC §8.
pub fn export(backend: &mut dyn Backend, out: &mut dyn std::io::Write) -> Result<u64> {
    let mut n = 0;
    for_each_entry(backend, 0, |e| {
        out.write_all(e.command.as_bytes())?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}
