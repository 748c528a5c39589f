//! `zengzhi backup` and `zengzhi restore`: an online, consistent copy of a store in one file,
//! and putting it back with the journal's chain verified before anything is replaced.
//!
//! The file: a header line (`zengzhi-backup 1`), a description line (JSON: the backend, the
//! journal's length and head, the tables, the payload's length), the payload, and a trailer line
//! `sha256 HEX` over every byte before it. A changed or missing byte is found before anything is
//! written to the target.
//!
//! - SQLite: the payload is `zengzhi.db` as `VACUUM INTO` copies it: one read transaction, so a
//!   consistent state while the writer appends (WAL mode). It holds the journal, the snapshots
//!   and the service's tables. The query tables (`zengzhi.query.db`) are derived and not copied.
//! - PostgreSQL: the payload is the `COPY … TO STDOUT` text of every table of the program's
//!   schema but the query tables, read in one `REPEATABLE READ READ ONLY` transaction (one
//!   snapshot). A restore makes a new schema with this program's migrations, copies the rows
//!   in, verifies the chain, then swaps it in for the target in one transaction.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoreArgs;

/// The first line of every backup file.
const MAGIC: &[u8] = b"zengzhi-backup 1\n";

/// The trailer: `sha256 ` + 64 hex digits + `\n`.
const TRAILER_PREFIX: &[u8] = b"sha256 ";
const TRAILER_LEN: u64 = 7 + 64 + 1;

/// The longest description line read.
const MAX_MANIFEST: u64 = 1 << 20;

/// PostgreSQL tables not copied: the query tables (the projector rebuilds them from the
/// journal) and the migration counters (a restore makes the schema with this program's
/// migrations and checks the backup's counts equal them).
const PG_SKIPPED: [&str; 6] = ["orders", "ledger", "candles", "projection", "schema_version", "service_schema_version"];

/// Tables whose rows do not make a store "hold data": the migration counters and the
/// projection's watermark row.
const NOT_DATA: [&str; 3] = ["schema_version", "service_schema_version", "projection"];

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The backup file to write (replaced if it exists).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file written by `zengzhi backup`.
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Replace a target store that holds data (stop the service using it first).
    #[arg(long)]
    force: bool,
}

/// The description line of a backup file.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Manifest {
    /// `sqlite` or `postgres`.
    backend: String,
    /// The program version that wrote it.
    program: String,
    created_at: String,
    /// The store it was taken from (no password: the PostgreSQL schema's name only).
    source: String,
    /// Journal entries in the backup, and the last one's hash (hex; empty for none).
    entries: u64,
    head: String,
    snapshots: u64,
    /// The payload's length in bytes.
    payload_bytes: u64,
    /// PostgreSQL: how many of the journal's and the service's migrations the schema had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    journal_schema_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_schema_version: Option<u64>,
    /// PostgreSQL: the tables, in payload order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tables: Vec<TablePart>,
}

/// One PostgreSQL table's part of the payload: `COPY` text of these columns.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct TablePart {
    name: String,
    columns: Vec<String>,
    bytes: u64,
}

/// A temporary file (with the files SQLite keeps beside it) removed when dropped.
struct TempPath {
    path: PathBuf,
    also: Vec<PathBuf>,
}

impl TempPath {
    fn new(path: PathBuf) -> TempPath {
        let also = ["-wal", "-shm", "-journal"].iter().map(|s| suffixed(&path, s)).collect();
        let t = TempPath { path, also };
        t.remove();
        t
    }

    /// A temporary SQLite store: also its query file.
    fn store(path: PathBuf) -> TempPath {
        let mut t = TempPath::new(path);
        t.also = sqlite_files(&t.path).split_off(1);
        t.remove();
        t
    }

    fn remove(&self) {
        for p in std::iter::once(&self.path).chain(&self.also) {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `path` with `suffix` appended to its name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A database file with its write-ahead log, shared memory and (the journal's) query file.
fn sqlite_files(db: &Path) -> Vec<PathBuf> {
    let query = zengzhi_journal::sqlite::query_path(db);
    let mut all = vec![db.to_path_buf()];
    for file in [db, query.as_path()] {
        if file != db {
            all.push(file.to_path_buf());
        }
        all.extend(["-wal", "-shm", "-journal"].iter().map(|s| suffixed(file, s)));
    }
    all
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync the directory {}", dir.display()))
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temporary name beside `path`.
fn beside(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    parent(path).join(format!(".{name}.{what}{}", std::process::id()))
}

/// Writes the backup file: header, description, the payload read from `payload`, trailer;
/// through a temporary file, fsynced, then renamed into place. Returns the file's size.
fn write_backup_file(out: &Path, manifest: &Manifest, payload: &mut dyn Read) -> Result<u64> {
    let tmp = TempPath::new(beside(out, "tmp"));
    // Readable by the owner only: it holds the password and key hashes of the service's tables.
    let file = {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&tmp.path).with_context(|| format!("cannot create {}", tmp.path.display()))?
    };
    let mut w = Hashing { inner: BufWriter::with_capacity(1 << 20, file), hash: Sha256::new() };
    w.write_all(MAGIC)?;
    serde_json::to_writer(&mut w, manifest)?;
    w.write_all(b"\n")?;
    let copied = std::io::copy(payload, &mut w).with_context(|| format!("cannot write {}", tmp.path.display()))?;
    if copied != manifest.payload_bytes {
        bail!("the payload changed while it was copied ({copied} bytes, {} expected)", manifest.payload_bytes);
    }
    let Hashing { mut inner, hash } = w;
    let digest = zengzhi_journal::hex(&hash.finalize().into());
    inner.write_all(TRAILER_PREFIX)?;
    inner.write_all(digest.as_bytes())?;
    inner.write_all(b"\n")?;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all().with_context(|| format!("cannot sync {}", tmp.path.display()))?;
    let size = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp.path, out).with_context(|| format!("cannot write {}", out.display()))?;
    sync_dir(&parent(out))?;
    Ok(size)
}

/// A backup file that has been checked: its description, where its payload starts, its size.
struct Opened {
    file: File,
    manifest: Manifest,
    payload_at: u64,
    size: u64,
}

impl Opened {
    /// The payload bytes from `offset` within it, `len` of them.
    fn part(&mut self, offset: u64, len: u64) -> Result<std::io::Take<&mut File>> {
        self.file.seek(SeekFrom::Start(self.payload_at + offset))?;
        Ok(Read::by_ref(&mut self.file).take(len))
    }
}

/// Opens a backup file and checks it whole: the header, the description, the length and the
/// checksum. Every refusal names the file and says what is wrong.
fn open_backup(path: &Path) -> Result<Opened> {
    let shown = path.display();
    let mut file = File::open(path).with_context(|| format!("cannot open the backup {shown}"))?;
    let size = file.metadata()?.len();
    let mut magic = Vec::new();
    Read::by_ref(&mut file).take(MAGIC.len() as u64).read_to_end(&mut magic)?;
    if magic != MAGIC {
        bail!("not a zengzhi backup: {shown} does not begin with the line \"zengzhi-backup 1\"");
    }
    let mut line = Vec::new();
    BufReader::new(Read::by_ref(&mut file).take(MAX_MANIFEST)).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        bail!("the backup {shown} is damaged: its description line is cut off or too long (truncated?)");
    }
    let manifest: Manifest = serde_json::from_slice(&line[..line.len() - 1])
        .with_context(|| format!("the backup {shown} is damaged: its description line does not read"))?;
    let payload_at = (MAGIC.len() + line.len()) as u64;
    let expected = payload_at.checked_add(manifest.payload_bytes).and_then(|n| n.checked_add(TRAILER_LEN));
    match expected {
        Some(expected) if expected == size => {}
        Some(expected) if size < expected => {
            bail!("the backup {shown} is damaged: it is truncated ({size} bytes, {expected} expected)")
        }
        Some(expected) => bail!("the backup {shown} is damaged: it is {size} bytes, {expected} expected"),
        None => bail!("the backup {shown} is damaged: its description gives an impossible length"),
    }
    let declared: u64 = manifest.tables.iter().map(|t| t.bytes).sum();
    if !manifest.tables.is_empty() && declared != manifest.payload_bytes {
        bail!(
            "the backup {shown} is damaged: its tables add up to {declared} bytes, the payload is {}",
            manifest.payload_bytes
        );
    }
    // The checksum over everything before the trailer.
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = Hashing { inner: std::io::sink(), hash: Sha256::new() };
    std::io::copy(&mut Read::by_ref(&mut file).take(size - TRAILER_LEN), &mut hasher)
        .with_context(|| format!("cannot read the backup {shown}"))?;
    let mut trailer = Vec::new();
    Read::by_ref(&mut file).read_to_end(&mut trailer)?;
    let computed = zengzhi_journal::hex(&hasher.hash.finalize().into());
    let stored = trailer
        .strip_prefix(TRAILER_PREFIX)
        .and_then(|t| t.strip_suffix(b"\n"))
        .and_then(|t| std::str::from_utf8(t).ok())
        .ok_or_else(|| anyhow::anyhow!("the backup {shown} is damaged: its checksum line is missing (truncated?)"))?;
    if stored != computed {
        bail!(
            "the backup {shown} is damaged: its checksum does not match (stored sha256 {stored}, computed {computed}); \
             some bytes were changed"
        );
    }
    Ok(Opened { file, manifest, payload_at, size })
}

fn short(head: &str) -> &str {
    head.get(..12).unwrap_or(head)
}

pub fn backup(args: BackupArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (manifest, size) = match &args.store.database_url {
        None => backup_sqlite(&args.store.data_dir, &args.out)?,
        Some(url) => backup_postgres(url, &args.store.pg_schema, &args.out)?,
    };
    out!(
        "备份 backup {} → {}: {} entries (head {}), {} snapshots, {size} bytes, {:.2} s",
        manifest.source,
        args.out.display(),
        manifest.entries,
        short(&manifest.head),
        manifest.snapshots,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn new_manifest(backend: &str, source: String) -> Manifest {
    Manifest {
        backend: backend.into(),
        program: env!("CARGO_PKG_VERSION").into(),
        created_at: zengzhi_journal::time_fmt::now_rfc3339(),
        source,
        entries: 0,
        head: String::new(),
        snapshots: 0,
        payload_bytes: 0,
        journal_schema_version: None,
        service_schema_version: None,
        tables: Vec::new(),
    }
}

fn sqlite_path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not a UTF-8 path", path.display()))
}

/// The journal's length, head and snapshot count of a SQLite database file.
fn sqlite_journal_summary(conn: &rusqlite::Connection) -> Result<(u64, String, u64)> {
    use rusqlite::OptionalExtension;
    let head: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let snapshots: i64 = conn.query_row("SELECT COUNT(*) FROM snapshots", [], |r| r.get(0))?;
    let (entries, head) = match head {
        Some((seq, hash)) => (seq as u64, hash.iter().map(|b| format!("{b:02x}")).collect()),
        None => (0, String::new()),
    };
    Ok((entries, head, snapshots as u64))
}

fn backup_sqlite(data_dir: &Path, out: &Path) -> Result<(Manifest, u64)> {
    let db = data_dir.join("zengzhi.db");
    if !db.is_file() {
        bail!("no store in {} (zengzhi.db not found)", data_dir.display());
    }
    let copy = TempPath::new(beside(out, "sqlite"));
    {
        // Read-write without create: an existing file only. `VACUUM INTO` reads in one
        // transaction (a consistent state while the writer appends) and writes a new file.
        let conn = rusqlite::Connection::open_with_flags(
            &db,
            rusqlite::OpenFlags::default() & !rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
        )
        .with_context(|| format!("cannot open {}", db.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let is_ours: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'journal'",
            [],
            |r| r.get(0),
        )?;
        if !is_ours {
            bail!("{} is not a zengzhi store (it has no journal table)", db.display());
        }
        conn.execute("VACUUM INTO ?1", [sqlite_path_str(&copy.path)?])
            .with_context(|| format!("cannot copy {} into {}", db.display(), copy.path.display()))?;
    }
    let mut manifest = new_manifest("sqlite", format!("sqlite:{}", db.display()));
    {
        let conn = rusqlite::Connection::open_with_flags(&copy.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        (manifest.entries, manifest.head, manifest.snapshots) = sqlite_journal_summary(&conn)?;
    }
    let mut payload = File::open(&copy.path)?;
    manifest.payload_bytes = payload.metadata()?.len();
    let size = write_backup_file(out, &manifest, &mut payload)?;
    Ok((manifest, size))
}

/// A schema name as the journal crate accepts it (lower-case letters, digits, `_`); it is
/// spelled into SQL.
fn check_schema(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !ok {
        bail!("invalid schema name {name:?} (lower-case letters, digits and _ only)");
    }
    Ok(())
}

/// Quotes an identifier for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn pg_connect(url: &str) -> Result<postgres::Client> {
    postgres::Client::connect(url, postgres::NoTls).context("cannot connect to PostgreSQL")
}

fn pg_schema_exists(client: &mut impl postgres::GenericClient, schema: &str) -> Result<bool> {
    Ok(client.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])?.is_some())
}

fn pg_tables(client: &mut impl postgres::GenericClient, schema: &str) -> Result<Vec<String>> {
    let rows = client.query(
        "SELECT table_name::TEXT FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
        &[&schema],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn pg_columns(client: &mut impl postgres::GenericClient, schema: &str, table: &str) -> Result<Vec<String>> {
    let rows = client.query(
        "SELECT column_name::TEXT FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        &[&schema, &table],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A migration counter of a schema (0 when its table is missing).
fn pg_version(client: &mut impl postgres::GenericClient, schema: &str, table: &str) -> Result<u64> {
    if !pg_tables(client, schema)?.iter().any(|t| t == table) {
        return Ok(0);
    }
    let row = client.query_opt(&format!("SELECT version FROM {}.{}", ident(schema), ident(table)), &[])?;
    Ok(row.map_or(0, |r| r.get::<_, i32>(0).max(0) as u64))
}

fn backup_postgres(url: &str, schema: &str, out: &Path) -> Result<(Manifest, u64)> {
    check_schema(schema)?;
    let mut client = pg_connect(url)?;
    if !pg_schema_exists(&mut client, schema)? {
        bail!("no PostgreSQL schema {schema}: nothing to back up");
    }
    let payload = TempPath::new(beside(out, "postgres"));
    let mut manifest = new_manifest("postgres", format!("postgres (schema {schema})"));
    {
        let mut file = BufWriter::with_capacity(
            1 << 20,
            File::create(&payload.path).with_context(|| format!("cannot create {}", payload.path.display()))?,
        );
        // One snapshot for every table: what the service had committed at one moment.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let tables = pg_tables(&mut tx, schema)?;
        if !tables.iter().any(|t| t == "journal") {
            bail!("the PostgreSQL schema {schema} is not a zengzhi store (it has no journal table)");
        }
        manifest.journal_schema_version = Some(pg_version(&mut tx, schema, "schema_version")?);
        manifest.service_schema_version = Some(pg_version(&mut tx, schema, "service_schema_version")?);
        let q = |t: &str| format!("{}.{}", ident(schema), ident(t));
        let head = tx.query_opt(&format!("SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1", q("journal")), &[])?;
        if let Some(row) = head {
            manifest.entries = row.get::<_, i64>(0) as u64;
            manifest.head = row.get::<_, Vec<u8>>(1).iter().map(|b| format!("{b:02x}")).collect();
        }
        manifest.snapshots =
            tx.query_one(&format!("SELECT COUNT(*) FROM {}", q("snapshots")), &[])?.get::<_, i64>(0) as u64;
        for table in tables.iter().filter(|t| !PG_SKIPPED.contains(&t.as_str())) {
            let columns = pg_columns(&mut tx, schema, table)?;
            let list = columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
            let mut reader = tx.copy_out(&format!("COPY {} ({list}) TO STDOUT", q(table)))?;
            let bytes =
                std::io::copy(&mut reader, &mut file).with_context(|| format!("cannot copy the table {table}"))?;
            drop(reader);
            manifest.payload_bytes += bytes;
            manifest.tables.push(TablePart { name: table.clone(), columns, bytes });
        }
        tx.commit()?;
        file.flush()?;
    }
    let mut payload_file = File::open(&payload.path)?;
    let size = write_backup_file(out, &manifest, &mut payload_file)?;
    Ok((manifest, size))
}

pub fn restore(args: RestoreArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let mut opened = open_backup(&args.file)?;
    let shown = args.file.display().to_string();
    let target_is_pg = args.store.database_url.is_some();
    match (opened.manifest.backend.as_str(), target_is_pg) {
        ("sqlite", false) | ("postgres", true) => {}
        ("sqlite", true) => bail!(
            "{shown} is a backup of a SQLite store: it restores into a data directory (--data-dir), not into \
             PostgreSQL (leave out --database-url and ZENGZHI_DATABASE_URL)"
        ),
        ("postgres", false) => bail!(
            "{shown} is a backup of a PostgreSQL store: it restores into a PostgreSQL schema (--database-url URL \
             --pg-schema NAME), not into a SQLite data directory"
        ),
        (other, _) => bail!("{shown} is a backup of an unknown backend {other:?}: this program cannot restore it"),
    }
    let (target, verified) = match &args.store.database_url {
        None => restore_sqlite(&mut opened, &args.store.data_dir, args.force, &shown)?,
        Some(url) => restore_postgres(&mut opened, url, &args.store.pg_schema, args.force, &shown)?,
    };
    // The operation log of the restored store says where it came from (the store is restored
    // already: a failure here is reported, not fatal).
    let detail = format!(
        "from {} (taken {} of {}): {} entries, head {}",
        shown, opened.manifest.created_at, opened.manifest.source, verified.entries, verified.head
    );
    if let Err(e) = args
        .store
        .open_service()
        .and_then(|mut service| Ok(service.audit(&crate::serve::cli_audit("restore", detail, None))?))
    {
        eprintln!("zengzhi: restored, but the operation log entry could not be written: {e:#}");
    }
    out!(
        "恢复 restore {shown} → {target}: {} entries, chain verified (head {}), {} snapshots checked, {} bytes, {:.2} s",
        verified.entries,
        short(&verified.head),
        verified.snapshots_checked,
        opened.size,
        started.elapsed().as_secs_f64()
    );
    out!("  查询表 the query tables are rebuilt from the journal at the next start (or `zengzhi project`)");
    Ok(ExitCode::SUCCESS)
}

/// What the chain verification of a restored copy found.
struct RestoredCheck {
    entries: u64,
    head: String,
    snapshots_checked: usize,
}

/// Verifies a restored copy as `zengzhi verify` does and compares it with the backup's
/// description.
fn verify_copy(backend: &mut dyn zengzhi_journal::Backend, manifest: &Manifest, shown: &str) -> Result<RestoredCheck> {
    let v = zengzhi_journal::recovery::verify(backend, 100_000, |_| {})
        .map_err(|e| anyhow::anyhow!("the journal in the backup {shown} does not verify: {e}; nothing was restored"))?;
    if let Some(bad) = v.snapshots_bad.first() {
        bail!("the backup {shown} has a bad snapshot: {bad}; nothing was restored");
    }
    let head = if v.entries == 0 { String::new() } else { zengzhi_journal::hex(&v.head) };
    if v.entries != manifest.entries || head != manifest.head {
        bail!(
            "the backup {shown} holds {} entries (head {}), its description says {} (head {}); nothing was restored",
            v.entries,
            short(&head),
            manifest.entries,
            short(&manifest.head)
        );
    }
    Ok(RestoredCheck { entries: v.entries, head, snapshots_checked: v.snapshots_checked })
}

/// The tables of a SQLite store that hold rows (besides migration counters), the journal's
/// entry count first.
fn sqlite_holds_data(db: &Path) -> Result<Option<String>> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::default() & !rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
    )
    .with_context(|| format!("cannot open {}", db.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut full = Vec::new();
    for t in tables.iter().filter(|t| !NOT_DATA.contains(&t.as_str())) {
        let any: bool = conn.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {})", ident(t)), [], |r| r.get(0))?;
        if any {
            full.push(t.clone());
        }
    }
    if full.is_empty() {
        return Ok(None);
    }
    let entries: i64 = if tables.iter().any(|t| t == "journal") {
        conn.query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))?
    } else {
        0
    };
    Ok(Some(format!("{entries} journal entries; rows in {}", full.join(", "))))
}

fn restore_sqlite(opened: &mut Opened, data_dir: &Path, force: bool, shown: &str) -> Result<(String, RestoredCheck)> {
    let db = data_dir.join("zengzhi.db");
    let target = format!("sqlite:{}", db.display());
    if db.exists() && !force {
        match sqlite_holds_data(&db) {
            Ok(None) => {}
            Ok(Some(what)) => bail!(
                "the target {target} already holds a store ({what}); restore replaces it only with --force \
                 (stop the service using it first)"
            ),
            // A damaged store is what a restore is for, but only when asked.
            Err(e) => bail!("the target {target} cannot be read ({e:#}); restore replaces it only with --force"),
        }
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let copy = TempPath::store(data_dir.join(format!("zengzhi.restore-{}.db", std::process::id())));
    {
        let mut out = File::create(&copy.path).with_context(|| format!("cannot create {}", copy.path.display()))?;
        let len = opened.manifest.payload_bytes;
        std::io::copy(&mut opened.part(0, len)?, &mut out)?;
        out.sync_all()?;
    }
    {
        let conn = rusqlite::Connection::open_with_flags(
            &copy.path,
            rusqlite::OpenFlags::default() & !rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
        )
        .with_context(|| format!("not a zengzhi backup: the database in {shown} does not open"))?;
        let check: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| anyhow::anyhow!("not a zengzhi backup: the database in {shown} does not read ({e})"))?;
        if check != ["ok"] {
            bail!("the database in the backup {shown} is damaged: {}; nothing was restored", check.join("; "));
        }
        let is_ours: bool = conn.query_row(
            "SELECT COUNT(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN ('journal', 'snapshots')",
            [],
            |r| r.get(0),
        )?;
        if !is_ours {
            bail!("not a zengzhi backup: the database in {shown} has no journal");
        }
    }
    let checked = {
        let mut backend = zengzhi_journal::sqlite::Sqlite::open(&copy.path)
            .with_context(|| format!("the database in the backup {shown} does not open as a store"))?;
        verify_copy(&mut backend, &opened.manifest, shown)?
    };
    {
        // Fold the write-ahead log in and leave one self-contained file to rename.
        let conn = rusqlite::Connection::open(&copy.path)?;
        conn.pragma_update(None, "journal_mode", "DELETE")?;
    }
    File::open(&copy.path)?.sync_all()?;
    // The target's old files go first: an old write-ahead log beside the new file would be
    // applied to it; the query tables are rebuilt from the restored journal.
    for old in sqlite_files(&db) {
        match std::fs::remove_file(&old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", old.display())),
        }
    }
    std::fs::rename(&copy.path, &db).with_context(|| format!("cannot move the restored store to {}", db.display()))?;
    sync_dir(data_dir)?;
    Ok((target, checked))
}

/// The tables of a schema that hold rows (besides migration counters and the watermark row),
/// with the journal's entry count; `None` when there are none or the schema does not exist.
fn pg_holds_data(client: &mut impl postgres::GenericClient, schema: &str) -> Result<Option<String>> {
    if !pg_schema_exists(client, schema)? {
        return Ok(None);
    }
    let tables = pg_tables(client, schema)?;
    let mut full = Vec::new();
    for t in tables.iter().filter(|t| !NOT_DATA.contains(&t.as_str())) {
        let any: bool =
            client.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {}.{})", ident(schema), ident(t)), &[])?.get(0);
        if any {
            full.push(t.clone());
        }
    }
    if full.is_empty() {
        return Ok(None);
    }
    let entries: i64 = if tables.iter().any(|t| t == "journal") {
        client.query_one(&format!("SELECT COUNT(*) FROM {}.journal", ident(schema)), &[])?.get(0)
    } else {
        0
    };
    Ok(Some(format!("{entries} journal entries; rows in {}", full.join(", "))))
}

/// A staging schema dropped when this goes out of scope, unless it was renamed.
struct Staging<'a> {
    url: &'a str,
    schema: String,
    done: bool,
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = zengzhi_journal::postgres::Postgres::drop_schema(self.url, &self.schema);
        }
    }
}

fn restore_postgres(
    opened: &mut Opened,
    url: &str,
    schema: &str,
    force: bool,
    shown: &str,
) -> Result<(String, RestoredCheck)> {
    check_schema(schema)?;
    let target = format!("postgres (schema {schema})");
    let manifest = opened.manifest.clone();
    let journal_version = zengzhi_journal::schema::migrations(zengzhi_journal::schema::Dialect::Postgres).len() as u64;
    let service_version = zengzhi_server::store::schema::MIGRATIONS.len() as u64;
    // A store the service never opened has no service tables (version 0): they are made empty.
    let service_ok = matches!(manifest.service_schema_version, Some(v) if v == service_version || v == 0);
    if manifest.journal_schema_version != Some(journal_version) || !service_ok {
        bail!(
            "the backup {shown} was taken at schema version {} (journal) / {} (service), this program's are \
             {journal_version} / {service_version}: restore it with the program version that took it ({})",
            manifest.journal_schema_version.unwrap_or(0),
            manifest.service_schema_version.unwrap_or(0),
            manifest.program
        );
    }
    let mut client = pg_connect(url)?;
    if !force {
        if let Some(what) = pg_holds_data(&mut client, schema)? {
            bail!(
                "the target {target} already holds a store ({what}); restore replaces it only with --force \
                 (stop the service using it first)"
            );
        }
    }
    // A fresh schema made by this program's migrations, filled, verified, then renamed.
    let mut staging = Staging { url, schema: format!("zengzhi_restore_{}", std::process::id()), done: false };
    if staging.schema == schema {
        staging.schema.push_str("_b");
    }
    zengzhi_journal::postgres::Postgres::drop_schema(url, &staging.schema)?;
    drop(
        zengzhi_server::store::open(Path::new("."), Some(url), &staging.schema)
            .with_context(|| format!("cannot create the schema {}", staging.schema))?,
    );
    {
        let mut tx = client.transaction()?;
        let known = pg_tables(&mut tx, &staging.schema)?;
        let mut offset = 0;
        for part in &manifest.tables {
            if !known.contains(&part.name) {
                bail!("the backup {shown} has a table {} this program does not know", part.name);
            }
            let name = format!("{}.{}", ident(&staging.schema), ident(&part.name));
            let list = part.columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
            tx.batch_execute(&format!("TRUNCATE {name}"))?;
            let mut writer = tx.copy_in(&format!("COPY {name} ({list}) FROM STDIN"))?;
            std::io::copy(&mut opened.part(offset, part.bytes)?, &mut writer)
                .with_context(|| format!("cannot restore the table {}", part.name))?;
            writer.finish().with_context(|| format!("cannot restore the table {}", part.name))?;
            offset += part.bytes;
        }
        // Serial columns continue after the restored rows.
        let serials = tx.query(
            "SELECT table_name::TEXT, column_name::TEXT, pg_get_serial_sequence(format('%I.%I', table_schema, table_name), column_name)
             FROM information_schema.columns WHERE table_schema = $1
               AND pg_get_serial_sequence(format('%I.%I', table_schema, table_name), column_name) IS NOT NULL",
            &[&staging.schema],
        )?;
        for row in serials {
            let (table, column, sequence): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            tx.execute(
                &format!(
                    "SELECT setval($1::TEXT::regclass, COALESCE((SELECT MAX({}) FROM {}.{}), 0) + 1, false)",
                    ident(&column),
                    ident(&staging.schema),
                    ident(&table)
                ),
                &[&sequence],
            )?;
        }
        tx.commit()?;
    }
    let checked = {
        let mut backend = zengzhi_journal::postgres::Postgres::connect_schema(url, &staging.schema)?;
        verify_copy(&mut backend, &manifest, shown)?
    };
    let mut tx = client.transaction()?;
    if !force {
        if let Some(what) = pg_holds_data(&mut tx, schema)? {
            bail!("the target {target} was written to during the restore ({what}); nothing was restored");
        }
    }
    tx.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {0} CASCADE; ALTER SCHEMA {1} RENAME TO {0};",
        ident(schema),
        ident(&staging.schema)
    ))?;
    tx.commit()?;
    staging.done = true;
    Ok((target, checked))
}
