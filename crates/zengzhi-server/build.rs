//! Builds the web front end (`web/` → `web/dist/`) that `zengzhi serve` embeds, when the built
//! files are missing or older than their sources: `npm ci` (when `node_modules` is missing or
//! older than `package-lock.json`), then `npm run build`. Needs Node 20 and npm; without them the
//! build fails with a message saying so. `ZENGZHI_SKIP_WEB_BUILD=1` builds the service without
//! building the console (it then serves a page saying how to build it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The sources of the front end: a change to any of them rebuilds it.
const SOURCES: &[&str] =
    &["src", "public", "admin", "m", "store", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "tsconfig.app.json", "tsconfig.node.json"];

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let dist = web.join("dist");
    println!("cargo:rerun-if-env-changed=ZENGZHI_SKIP_WEB_BUILD");
    println!("cargo:rerun-if-changed={}", dist.display());
    for source in SOURCES {
        let path = web.join(source);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    if !web.join("package.json").is_file() || std::env::var_os("ZENGZHI_SKIP_WEB_BUILD").is_some_and(|v| v != "0") {
        // The embedded folder must exist; an empty one means "console not built".
        std::fs::create_dir_all(&dist).expect("create web/dist");
        return;
    }
    let newest_source = SOURCES.iter().map(|s| web.join(s)).filter_map(|p| newest(&p)).max();
    let built = modified(&dist.join(".built"));
    if built.is_some() && built >= newest_source {
        return;
    }
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(&web.join("package-lock.json")) {
        npm(&web, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(&web, &["run", "build"]);
    std::fs::create_dir_all(&dist).expect("create web/dist");
    std::fs::write(dist.join(".built"), b"built by crates/zengzhi-server/build.rs\n").expect("write web/dist/.built");
}

fn npm(dir: &Path, args: &[&str]) {
    let status = Command::new("npm").args(args).current_dir(dir).status().unwrap_or_else(|e| {
        panic!(
            "\n\nThe web console (web/) is built with npm, which cannot be run here ({e}).\n\
             Install Node 20 and npm (Debian: apt-get install nodejs npm), or set ZENGZHI_SKIP_WEB_BUILD=1\n\
             to build the service without its console.\n\n"
        )
    });
    assert!(status.success(), "`npm {}` in {} failed ({status}); see its output above", args.join(" "), dir.display());
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file or of anything below a folder.
fn newest(path: &PathBuf) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path).ok()?.flatten().filter_map(|e| newest(&e.path())).chain(meta.modified().ok()).max()
}
