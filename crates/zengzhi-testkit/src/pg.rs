//! The PostgreSQL server of the storage tests: `ZENGZHI_TEST_DATABASE_URL`, else
//! [`DEFAULT_DATABASE_URL`]; when neither answers, a throwaway cluster started from the
//! installed binaries (once per test binary, stopped when the test process ends). When that fails
//! too the PostgreSQL tests panic with both reasons: they are never skipped silently.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

/// The server tried first.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The URL of the test server: `ZENGZHI_TEST_DATABASE_URL`, else [`DEFAULT_DATABASE_URL`];
/// when that cannot be reached, a throwaway cluster (started once per test binary). Panics with
/// both reasons when neither works.
pub fn url() -> &'static str {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    let url = URL.get_or_init(|| {
        let wanted = std::env::var("ZENGZHI_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string());
        let first = match can_connect(&wanted) {
            Ok(()) => return Ok(wanted),
            Err(e) => e,
        };
        eprintln!("PostgreSQL at {wanted} cannot be reached ({first}); starting a throwaway cluster");
        match start_throwaway_cluster() {
            Ok(url) => {
                eprintln!("throwaway PostgreSQL cluster at {url}");
                Ok(url)
            }
            Err(second) => Err(format!(
                "no PostgreSQL server for the tests: {wanted} cannot be reached ({first}), and a throwaway cluster \
                 could not be started ({second}). Start a server and set ZENGZHI_TEST_DATABASE_URL, or install \
                 PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)."
            )),
        }
    });
    match url {
        Ok(url) => url,
        Err(why) => panic!("{why}"),
    }
}

pub fn can_connect(url: &str) -> Result<(), String> {
    let mut config = postgres::Config::from_str(url).map_err(|e| e.to_string())?;
    config.connect_timeout(Duration::from_secs(5));
    let mut client = config.connect(postgres::NoTls).map_err(|e| e.to_string())?;
    client.simple_query("SELECT 1").map_err(|e| e.to_string())?;
    Ok(())
}

/// The directory with `initdb`, `pg_ctl` and `postgres`: the newest under
/// /usr/lib/postgresql/*/bin, else one on the PATH.
fn find_pg_bin() -> Result<PathBuf, String> {
    let has_all = |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| dir.join(b).is_file());
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().split('.').next()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_all(dir))
        .ok_or_else(|| "no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin or on the PATH".to_string())
}

fn run(cmd: &mut Process) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Starts a cluster with trust auth on a free loopback port, in a temp dir, as the `postgres`
/// user when running as root (initdb and postgres refuse root). A watchdog shell stops it and
/// removes the dir when this test process ends.
fn start_throwaway_cluster() -> Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    let bin = find_pg_bin()?;
    let root = std::fs::metadata("/proc/self").map_err(|e| e.to_string())?.uid() == 0;
    let dir = std::env::temp_dir().join(format!("zengzhi-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    if root {
        let uid: u32 =
            run(Process::new("id").args(["-u", "postgres"]))?.parse().map_err(|e| format!("uid of postgres: {e}"))?;
        let gid: u32 =
            run(Process::new("id").args(["-g", "postgres"]))?.parse().map_err(|e| format!("gid of postgres: {e}"))?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    // Runs a PostgreSQL program, as `postgres` when we are root.
    let pg = |program: &str, args: &[String]| -> Result<String, String> {
        let program = bin.join(program);
        if root {
            let runuser =
                ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].into_iter().find(|p| Path::new(p).exists());
            match runuser {
                Some(runuser) => run(Process::new(runuser).args(["-u", "postgres", "--"]).arg(&program).args(args)),
                None => {
                    let quoted: Vec<String> = std::iter::once(program.display().to_string())
                        .chain(args.iter().cloned())
                        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
                        .collect();
                    run(Process::new("su").args(["postgres", "-s", "/bin/sh", "-c", &quoted.join(" ")]))
                }
            }
        } else {
            run(Process::new(&program).args(args))
        }
    };
    let data = dir.join("data");
    let d = |p: &Path| p.display().to_string();
    pg(
        "initdb",
        &[
            "-D".into(),
            d(&data),
            "-A".into(),
            "trust".into(),
            "-U".into(),
            "postgres".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-sync".into(),
        ],
    )?;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", d(&dir));
    pg(
        "pg_ctl",
        &[
            "-D".into(),
            d(&data),
            "-l".into(),
            d(&dir.join("log")),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "-o".into(),
            options,
            "start".into(),
        ],
    )?;
    // Stop the server (fast shutdown, by the postmaster's pid) and remove the dir once this
    // process has ended.
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill -INT $(head -n 1 '{data}/postmaster.pid') 2>/dev/null; \
         for _ in 1 2 3 4 5 6 7 8 9 10; do [ -f '{data}/postmaster.pid' ] || break; sleep 1; done; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        data = d(&data),
        dir = d(&dir),
    );
    Process::new("sh")
        .args(["-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("start the watchdog: {e}"))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    can_connect(&url).map_err(|e| format!("the throwaway cluster does not answer at {url}: {e}"))?;
    Ok(url)
}
