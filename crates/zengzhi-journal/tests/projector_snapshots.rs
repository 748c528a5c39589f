//! Snapshots taken from the projector's engine (the service takes its periodic snapshots there,
//! off the writer's thread) are the writer's snapshots: the same state and chain hash after the
//! same entry, accepted by recovery and by `verify`.

mod common;

use common::{digest, script, Store};
use zengzhi_core::engine::CascadeMode;
use zengzhi_core::{Engine, Rules};
use zengzhi_journal::projector::Projector;
use zengzhi_journal::recovery::{recover, verify};
use zengzhi_journal::writer::{Writer, WriterConfig};

/// A store holding a script's commands; returns the reference engine after all of them.
fn filled(store: &Store, seed: u64) -> Engine {
    let s = script(Engine::new(Rules::default()), "", 40, 400, seed, 0);
    let config = WriterConfig { snapshot_every: 0, ..WriterConfig::default() };
    let writer = Writer::start(store.open(), config).expect("writer");
    writer.handle().submit_many(s.commands.clone()).expect("submit");
    writer.shutdown().expect("shutdown");
    s.engine
}

#[test]
fn the_projectors_snapshot_is_the_writers_snapshot_of_the_same_entry() {
    let store = Store::sqlite("projector-snapshot-bytes");
    filled(&store, 11);
    // The writer's snapshot after its head.
    let writer = Writer::start(store.open(), WriterConfig { snapshot_every: 0, ..WriterConfig::default() }).expect("writer");
    let seq = writer.handle().snapshot().expect("snapshot");
    writer.shutdown().expect("shutdown");
    let mut b = store.open();
    let from_writer = b.load_snapshot(seq).expect("load").expect("the writer's snapshot");
    assert!(seq > 100, "a journal of some length: {seq}");

    let mut p = Projector::start(b.as_mut()).expect("projector");
    assert!(p.snapshot().is_none(), "nothing to snapshot before the first entry");
    p.catch_up(b.as_mut(), 37).expect("catch up");
    let from_projector = p.snapshot().expect("a snapshot");
    assert_eq!((from_projector.meta.seq, from_projector.meta.chain), (from_writer.meta.seq, from_writer.meta.chain));
    assert_eq!(from_projector.meta.sha256, zengzhi_journal::sha256(&from_projector.state));
    // The bytes may differ (hash sets are written in their own iteration order); the state
    // they decode to may not.
    let decode = |bytes: &[u8]| Engine::from_snapshot(bytes, CascadeMode::Indexed).expect("decodes");
    assert_eq!(digest(&decode(&from_projector.state)), digest(&decode(&from_writer.state)));
}

#[test]
fn recovery_and_verify_accept_a_projector_snapshot_taken_mid_journal() {
    let store = Store::sqlite("projector-snapshot-recovery");
    let reference = filled(&store, 12);
    let mut b = store.open();
    let head = b.head().expect("head").expect("a journal").0;
    let mut p = Projector::start(b.as_mut()).expect("projector");
    // Stop part-way, as the service does when it is behind.
    p.project_page(b.as_mut(), (head / 2) as usize).expect("a page");
    let mid = p.watermark();
    assert!(mid > 0 && mid < head);
    b.save_snapshot(&p.snapshot().expect("a snapshot")).expect("saved");
    drop(b);

    let mut b = store.open();
    let r = recover(b.as_mut()).expect("recovery");
    assert_eq!(r.snapshot, Some(mid), "recovery starts from the projector's snapshot");
    assert_eq!(r.replayed, head - mid);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(digest(&r.engine), digest(&reference), "the recovered state is the journal's");
    let v = verify(b.as_mut(), 50, |_| {}).expect("verify");
    assert_eq!(v.snapshots_checked, 1);
    assert!(v.snapshots_bad.is_empty(), "{:?}", v.snapshots_bad);
}
