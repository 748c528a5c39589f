#!/usr/bin/env bash
# Every test of the project, as CI runs them: the Rust workspace (unit, conformance, property,
# storage on SQLite and PostgreSQL, crash, command-line and API tests), schemathesis over the API
# of the binary built there, then the web front end
# (type check, unit tests, and the browser tests: the real `zengzhi serve --demo` built above,
# serving its embedded console, driven in Debian's headless Chromium). Fails on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --locked
# Schema-driven API testing (schemathesis, from PyPI) against the binary just built: a short run.
bash scripts/schemathesis.sh "${ZENGZHI_SCHEMATHESIS_SECONDS:-20}"
cd web
# The server's build script has run `npm ci` already unless ZENGZHI_SKIP_WEB_BUILD was set.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run typecheck
npm test
ZENGZHI_E2E_SAME_ORIGIN=1 ZENGZHI_BIN=../target/release/zengzhi npm run e2e
