//! `zengzhi backup` and `zengzhi restore` on both backends: a backup taken while a writer
//! process appends restores into a fresh target that `zengzhi verify` passes, holding a prefix
//! of the source's journal at least as long as what was acknowledged before the backup began,
//! with the service's tables; damaged files, a journal that does not verify, a target that
//! holds data and a backend mismatch are refused and leave the target as it was.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

use zengzhi_journal::backend::Backend;
use zengzhi_journal::postgres::Postgres;
use zengzhi_journal::Entry;
use zengzhi_testkit::scratch_dir;

/// The binary with these arguments (and the password on standard input when given), the
/// store's environment variables cleared.
fn zengzhi_with(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zengzhi"))
        .args(args)
        .env_remove("ZENGZHI_DATABASE_URL")
        .env_remove("ZENGZHI_DATA_DIR")
        .env_remove("ZENGZHI_PG_SCHEMA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn zengzhi(args: &[&str]) -> Output {
    zengzhi_with(args, None)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "expected success: {}", text(&o));
    text(&o)
}

/// A refusal: exit status 2 and the message on stderr; returns the message.
fn refused(o: Output) -> String {
    assert_eq!(o.status.code(), Some(2), "expected a refusal: {}", text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A store on one of the backends: its command-line arguments and how to open it.
struct Store {
    args: Vec<String>,
    pg: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl Store {
    fn sqlite(dir: &Path) -> Store {
        Store { args: vec!["--data-dir".into(), dir.display().to_string()], pg: None, dir: Some(dir.to_path_buf()) }
    }

    fn postgres(schema: &str) -> Store {
        let url = zengzhi_testkit::pg::url().to_string();
        Postgres::drop_schema(&url, schema).expect("PostgreSQL answers");
        Store {
            args: vec!["--database-url".into(), url.clone(), "--pg-schema".into(), schema.into()],
            pg: Some((url, schema.into())),
            dir: None,
        }
    }

    /// `args` followed by this store's arguments.
    fn run(&self, args: &[&str]) -> Output {
        let all: Vec<&str> = args.iter().copied().chain(self.args.iter().map(String::as_str)).collect();
        zengzhi(&all)
    }

    fn service(&self) -> Box<dyn zengzhi_server::store::Conn> {
        match &self.pg {
            Some((url, schema)) => zengzhi_server::store::open(Path::new("."), Some(url), schema).unwrap(),
            None => zengzhi_server::store::open(self.dir.as_ref().unwrap(), None, "zengzhi").unwrap(),
        }
    }

    /// Whether the target holds a store at all (SQLite: the file; PostgreSQL: the schema).
    fn exists(&self) -> bool {
        match &self.pg {
            Some((url, schema)) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema]).unwrap().is_some()
            }
            None => self.dir.as_ref().unwrap().join("zengzhi.db").exists(),
        }
    }

    /// Every journal entry, in order.
    fn entries(&self) -> Vec<Entry> {
        let mut backend: Box<dyn Backend> = match &self.pg {
            Some((url, schema)) => Box::new(Postgres::connect_schema(url, schema).unwrap()),
            None => zengzhi_journal::open(self.dir.as_ref().unwrap(), None).unwrap(),
        };
        let mut all = Vec::new();
        zengzhi_journal::recovery::for_each_entry(backend.as_mut(), 0, |e| {
            all.push(e.clone());
            Ok(())
        })
        .unwrap();
        all
    }

    fn drop_pg(&self) {
        if let Some((url, schema)) = &self.pg {
            Postgres::drop_schema(url, schema).unwrap();
        }
    }
}

/// The hidden `crash-load` command: a writer process appending orders, sells and injections
/// until killed, printing each durable acknowledgement.
struct Loader {
    child: Child,
    acks: mpsc::Receiver<(u64, String)>,
    seen: BTreeMap<u64, String>,
}

impl Loader {
    fn start(store: &Store, run: u64) -> Loader {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zengzhi"))
            .arg("crash-load")
            .args(&store.args)
            .args(["--run", &run.to_string()])
            .env_remove("ZENGZHI_DATABASE_URL")
            .env_remove("ZENGZHI_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the loader starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, acks) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (seq, command) = line.strip_prefix("ack ").expect("ack lines only").split_once(' ').unwrap();
                if tx.send((seq.parse().unwrap(), command.to_string())).is_err() {
                    break;
                }
            }
        });
        Loader { child, acks, seen: BTreeMap::new() }
    }

    /// Waits until `n` acknowledgements have arrived in all (panics if the loader stops).
    fn wait_for(&mut self, n: usize) {
        while self.seen.len() < n {
            let (seq, line) = self.acks.recv().expect("the loader stopped before it was killed");
            assert!(self.seen.insert(seq, line).is_none(), "entry {seq} acknowledged twice");
        }
    }

    /// Kills the loader; every acknowledgement it printed.
    fn stop(mut self) -> BTreeMap<u64, String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        while let Ok((seq, line)) = self.acks.recv() {
            self.seen.insert(seq, line);
        }
        self.seen
    }
}

fn flip_byte_in_the_middle(from: &Path, to: &Path) {
    let mut bytes = std::fs::read(from).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(to, bytes).unwrap();
}

fn truncate(from: &Path, to: &Path, keep: usize) {
    let bytes = std::fs::read(from).unwrap();
    std::fs::write(to, &bytes[..keep]).unwrap();
}

/// The whole story on one backend: `src` gets an API key and an operator, then a writer
/// process appends while `zengzhi backup` runs; the backup restores into `dst` (fresh), which
/// verifies and holds a prefix of `src`; refusals leave `dst` and `empty` as they were.
fn backup_under_load_and_restore(src: &Store, dst: &Store, empty: &Store, dir: &Path, other_backend: &[&str]) {
    ok(src.run(&["keys", "create", "--scope", "admin", "--label", "backup-test"]));
    let mut add: Vec<&str> = vec!["users", "add", "lina", "--role", "finance", "--password-stdin"];
    add.extend(src.args.iter().map(String::as_str));
    ok(zengzhi_with(&add, Some("a long password\n")));

    let mut loader = Loader::start(src, 1);
    loader.wait_for(300);
    // Every acknowledgement received so far came before the backup started.
    let acked_before: BTreeMap<u64, String> = loader.seen.clone();
    let backup = dir.join("store.zzb");
    let b = backup.to_str().unwrap();
    let said = ok(src.run(&["backup", "--out", b]));
    assert!(said.contains("entries"), "{said}");
    // Readable by its owner only (it holds the password and key hashes).
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&backup).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // The writer went on after the backup (it was running all along).
    loader.wait_for(acked_before.len() + 100);
    let acked = loader.stop();
    let source = src.entries();
    assert!(source.len() >= acked.len());
    for (seq, line) in &acked {
        assert_eq!(&source[*seq as usize - 1].command, line, "the source holds what was acknowledged");
    }

    // Restore into a fresh target; `zengzhi verify` passes on it.
    let said = ok(dst.run(&["restore", b]));
    assert!(said.contains("chain verified"), "{said}");
    ok(dst.run(&["verify"]));
    let restored = dst.entries();
    let last_acked_before = *acked_before.keys().last().unwrap();
    assert!(
        restored.len() as u64 >= last_acked_before,
        "the backup holds everything acknowledged before it began ({} < {last_acked_before})",
        restored.len()
    );
    assert!(restored.len() <= source.len());
    assert_eq!(restored[..], source[..restored.len()], "every restored entry equals the source's");
    assert!(said.contains(&format!(": {} entries", restored.len())), "{said}");
    // The service's tables came along; the restore is in the operation log.
    let mut service = dst.service();
    let keys = service.api_keys().unwrap();
    assert!(keys.iter().any(|k| k.label == "backup-test" && k.scope == "admin"), "{keys:?}");
    let lina = service.user_get("lina").unwrap().expect("the operator was restored");
    assert!(zengzhi_server::accounts::verify_password("a long password", &lina.password_hash));
    let log = service.audit_entries(&zengzhi_server::store::AuditFilter { limit: 100, ..Default::default() }).unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for action in ["keys_create", "users_create", "restore"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    drop(service);
    // The query tables are rebuilt from the restored journal.
    let said = ok(dst.run(&["project"]));
    assert!(said.contains(&format!("watermark {}", restored.len())), "{said}");

    // A target that holds data is refused without --force, and left as it is.
    let err = refused(dst.run(&["restore", b]));
    assert!(err.contains("already holds a store") && err.contains("--force"), "{err}");
    assert_eq!(dst.entries(), restored);

    // Damaged files: refused with a clear message; the targets are left as they were.
    let flipped = dir.join("flipped.zzb");
    flip_byte_in_the_middle(&backup, &flipped);
    let cut = dir.join("cut.zzb");
    truncate(&backup, &cut, std::fs::metadata(&backup).unwrap().len() as usize / 2);
    let header_only = dir.join("header.zzb");
    truncate(&backup, &header_only, 10);
    let garbage = dir.join("garbage.zzb");
    std::fs::write(&garbage, "SQLite format 3\0 or anything else\n").unwrap();
    let cases = [
        (&flipped, "checksum does not match"),
        (&cut, "truncated"),
        (&header_only, "not a zengzhi backup"),
        (&garbage, "not a zengzhi backup"),
        (&dir.join("missing.zzb"), "cannot open the backup"),
    ];
    for (file, why) in cases {
        let f = file.to_str().unwrap();
        let err = refused(empty.run(&["restore", f]));
        assert!(err.contains(why) && err.contains(f), "{f}: {err}");
        assert!(!empty.exists(), "a refused restore leaves no store behind");
        let err = refused(dst.run(&["restore", f, "--force"]));
        assert!(err.contains(why), "{f}: {err}");
        assert_eq!(dst.entries(), restored, "a refused restore leaves the target as it was");
    }
    // A backup of the other backend is refused.
    let mut args: Vec<&str> = vec!["restore", b];
    args.extend_from_slice(other_backend);
    let err = refused(zengzhi(&args));
    assert!(err.contains("is a backup of a"), "{err}");

    // With --force the target is replaced (here by the same backup).
    ok(dst.run(&["restore", b, "--force"]));
    assert_eq!(dst.entries(), restored);
    ok(dst.run(&["verify"]));
}

#[test]
fn sqlite_backup_under_load_restores_and_verifies() {
    let dir = scratch_dir("backup-sqlite");
    let src = Store::sqlite(&dir.join("src"));
    let dst = Store::sqlite(&dir.join("dst"));
    let empty = Store::sqlite(&dir.join("empty"));
    // The mismatch is found in the file: the server is never asked.
    let nowhere = "postgres://nobody@127.0.0.1:1/none";
    backup_under_load_and_restore(&src, &dst, &empty, &dir, &["--database-url", nowhere, "--pg-schema", "unused"]);
    // The backup file reads as a SQLite database after its two header lines (documented).
    let bytes = std::fs::read(dir.join("store.zzb")).unwrap();
    let newline = |from: usize| from + bytes[from..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = newline(newline(0));
    assert!(bytes[payload..].starts_with(b"SQLite format 3\0"));
}

#[test]
fn postgres_backup_under_load_restores_and_verifies() {
    let pid = std::process::id();
    let dir = scratch_dir("backup-postgres");
    let src = Store::postgres(&format!("backup_src_{pid}"));
    let dst = Store::postgres(&format!("backup_dst_{pid}"));
    let empty = Store::postgres(&format!("backup_empty_{pid}"));
    let data = dir.join("data");
    backup_under_load_and_restore(&src, &dst, &empty, &dir, &["--data-dir", data.to_str().unwrap()]);
    assert!(!data.join("zengzhi.db").exists());
    // No staging schema is left behind.
    let mut c = postgres::Client::connect(zengzhi_testkit::pg::url(), postgres::NoTls).unwrap();
    let staging: i64 = c
        .query_one("SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 'zengzhi\\_restore\\_%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(staging, 0);
    for s in [src, dst, empty] {
        s.drop_pg();
    }
}

/// A backup whose journal was changed before it was taken (the file itself is intact) is
/// refused by the chain verification, naming the entry; nothing is left in the target.
fn changed_journal_is_refused(src: &Store, dst: &Store, dir: &Path, change: impl FnOnce()) {
    let mut loader = Loader::start(src, 7);
    loader.wait_for(60);
    loader.stop();
    ok(src.run(&["verify"]));
    change();
    let backup = dir.join("changed.zzb");
    ok(src.run(&["backup", "--out", backup.to_str().unwrap()]));
    let err = refused(dst.run(&["restore", backup.to_str().unwrap()]));
    assert!(err.contains("does not verify") && err.contains("journal corrupt at entry 10"), "{err}");
    assert!(err.contains("nothing was restored"), "{err}");
    assert!(!dst.exists(), "nothing is left in the target");
}

#[test]
fn sqlite_changed_journal_is_refused_at_its_entry() {
    let dir = scratch_dir("backup-changed-sqlite");
    let src = Store::sqlite(&dir.join("src"));
    let dst = Store::sqlite(&dir.join("dst"));
    let db = dir.join("src").join("zengzhi.db");
    changed_journal_is_refused(&src, &dst, &dir, || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("UPDATE journal SET command = command || ' ' WHERE seq = 10", []).unwrap();
    });
    let files: Vec<_> =
        std::fs::read_dir(dir.join("dst")).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(files.is_empty(), "no temporary files are left: {files:?}");
}

#[test]
fn postgres_changed_journal_is_refused_at_its_entry() {
    let pid = std::process::id();
    let dir = scratch_dir("backup-changed-postgres");
    let src = Store::postgres(&format!("backup_csrc_{pid}"));
    let dst = Store::postgres(&format!("backup_cdst_{pid}"));
    let schema = format!("backup_csrc_{pid}");
    changed_journal_is_refused(&src, &dst, &dir, || {
        let mut c = postgres::Client::connect(zengzhi_testkit::pg::url(), postgres::NoTls).unwrap();
        c.batch_execute(&format!("UPDATE {schema}.journal SET command = command || ' ' WHERE seq = 10")).unwrap();
    });
    src.drop_pg();
    dst.drop_pg();
}

/// A target whose `zengzhi.db` is not a database (a damaged store) is replaced only with
/// --force.
#[test]
fn sqlite_damaged_target_is_replaced_only_with_force() {
    let dir = scratch_dir("backup-damaged-target");
    let src = Store::sqlite(&dir.join("src"));
    let dst = Store::sqlite(&dir.join("dst"));
    let mut loader = Loader::start(&src, 3);
    loader.wait_for(40);
    loader.stop();
    let backup = dir.join("b.zzb");
    ok(src.run(&["backup", "--out", backup.to_str().unwrap()]));
    std::fs::create_dir_all(dir.join("dst")).unwrap();
    let garbage = vec![0x42u8; 8192];
    std::fs::write(dir.join("dst").join("zengzhi.db"), &garbage).unwrap();
    let err = refused(dst.run(&["restore", backup.to_str().unwrap()]));
    assert!(err.contains("cannot be read") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(dir.join("dst").join("zengzhi.db")).unwrap(), garbage);
    ok(dst.run(&["restore", backup.to_str().unwrap(), "--force"]));
    ok(dst.run(&["verify"]));
    assert_eq!(dst.entries(), src.entries());
}
