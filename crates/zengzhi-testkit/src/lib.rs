//! # zengzhi-testkit — fixtures shared by the workspace's tests
//!
//! - [`conformance`]: the conformance cases kept in the repository's `conformance/` folder
//!   (or `ZENGZHI_CONFORMANCE_DIR`), discovered by name, so a new case is picked up by every
//!   test that walks them.
//! - [`pg`]: the PostgreSQL server the storage tests use — `ZENGZHI_TEST_DATABASE_URL`, else
//!   the local default, else a throwaway cluster from the installed binaries; never skipped
//!   silently.
//! - [`scratch_dir`]: a fresh, empty directory for one test.
//! - [`cmd`], [`owned`], [`state_json`]: commands from JSON lines and the state JSON of an engine.
//! - [`http`]: the API tests' response type and client calls, shared by the in-process and the
//!   black-box suites.
//! - `app` (feature `server`): the HTTP service in process over a throwaway store (SQLite in a
//!   scratch directory, or a fresh PostgreSQL schema), called with tower's `oneshot`.
//!
//! Only tests depend on this crate.

use std::path::PathBuf;

use zengzhi_core::command::{parse_line, Command};
use zengzhi_core::Engine;

#[cfg(feature = "server")]
pub mod app;
pub mod conformance;
pub mod http;
pub mod pg;

/// A fresh, empty directory under the system's temp dir, named after the test and this process
/// (so parallel test binaries do not collide). Left in place after the test for inspection; the
/// next run of the same test empties it first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zengzhi-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A command with `'static` lifetime from its JSON line (the line is leaked: tests only).
pub fn cmd(line: &str) -> Command<'static> {
    let line: &'static str = Box::leak(line.to_string().into_boxed_str());
    parse_line(line.as_bytes()).unwrap_or_else(|r| panic!("test line does not read ({r}): {line}")).command
}

/// An owned copy of any command (through its canonical line).
pub fn owned(command: &Command<'_>) -> Command<'static> {
    cmd(&command.to_json(None))
}

/// The state JSON of SPEC §8 (without results) of an engine.
pub fn state_json(engine: &Engine) -> String {
    let mut out = Vec::new();
    zengzhi_core::state::write_state(engine, None, &mut out).expect("the state JSON writes");
    String::from_utf8(out).expect("the state JSON is UTF-8")
}
