//! The simulator workbench of the console: presets, scenario validation (problems by key),
//! Monte-Carlo simulations as background jobs (progress, cancel, result, the report folder as a
//! zip), the seed's projection (SPEC §9), and what-if replays of this program's own journal under
//! edited rules.
//!
//! Simulations run on blocking threads (rayon under `spawn_blocking`), never on the async
//! runtime and never in the engine's writer; at most [`MAX_RUNNING`] run at once (what-if
//! replays included). A cancelled job stops before its next simulated day. Nothing here writes
//! to the journal: the what-if reads the journal through a connection of its own and replays it
//! in engines of its own.
//!
//! Simulator statistics are floats (they are bands over runs, never balances); money of the
//! seed's projection and of the what-if is exact (decimal strings from integer fen).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zengzhi_core::json::Json as J;
use zengzhi_core::num::{format_money, format_points, format_price, parse_money, Fen, Units};
use zengzhi_core::Rules;
use zengzhi_report::model::ReportData;
use zengzhi_sim::montecarlo::{simulate_until, total_runs, SimError};
use zengzhi_sim::scenario::{load_str, Loaded, Scenario, ScenarioError};

use super::{object, ApiRouter, Q};
use crate::error::{ApiCode, ApiError, ApiResult, RuleProblem};
use crate::guards::{CanOperate, CanRead};
use crate::views::{Money, Points, Price};
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![
        presets,
        validate,
        start_job,
        list_sim_jobs,
        get_sim_job,
        cancel_job,
        job_zip,
        seed,
        whatif
    ]
}

/// Simulations (and what-if replays) running at once, at most.
pub const MAX_RUNNING: usize = 2;
/// Monte-Carlo runs of one simulation, at most.
pub const MAX_RUNS: u32 = 1000;
/// Finished jobs kept (with their reports), newest.
const KEEP: usize = 10;
/// The seed's projection stops after this many orders at most.
pub const SEED_MAX_ORDERS: u64 = 100_000;
/// Members listed by a what-if, at most (the largest differences first).
pub const WHATIF_MAX_MEMBERS: usize = 10_000;

fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ApiCode::TooManyJobs,
        format!(
            "at most {MAX_RUNNING} simulations run at once; wait for one or cancel it / 最多同时运行 {MAX_RUNNING} 个模拟，请等待或取消一个"
        ),
    )
}

fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(ApiCode::InvalidCommand, format!("{e} / 请求字段不正确")))
}

// ---- presets -------------------------------------------------------------------------------------

/// A built-in scenario.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimPreset {
    pub name: String,
    /// `scenario` (run as a simulation) or `seed` (the projection of SPEC §9: `GET /v1/admin/sim/seed`).
    pub kind: String,
    /// The scenario's own name and description (`中文 English`).
    pub title: String,
    pub description: String,
    /// The scenario TOML (empty for `seed`).
    pub toml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimPresets {
    pub items: Vec<SimPreset>,
    /// Runs of one simulation, at most.
    pub max_runs: u32,
    /// Simulations running at once, at most.
    pub max_running: u32,
}

/// 模拟预设 / The simulator's built-in scenarios (TOML) and the seed's projection
#[utoipa::path(get, path = "/v1/admin/sim/presets", tag = "sim", responses((status = 200, body = SimPresets)))]
pub async fn presets(_: CanRead) -> ApiResult<Json<SimPresets>> {
    let mut items = vec![SimPreset {
        name: "seed".into(),
        kind: "seed".into(),
        title: "种子示例 the seed".into(),
        description: "每笔订单由一名新会员消费 1000 元，门店抽成 20%，直到第一次封顶出局。Each order a new member buying 1000 at a 20% commission, to the first capped exit.".into(),
        toml: String::new(),
    }];
    for (name, text) in zengzhi_sim::presets::PRESETS {
        let table: toml::Table = toml::from_str(text).map_err(ApiError::internal)?;
        let get = |k: &str| table.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        items.push(SimPreset {
            name: (*name).into(),
            kind: "scenario".into(),
            title: get("name"),
            description: get("description"),
            toml: (*text).into(),
        });
    }
    Ok(Json(SimPresets { items, max_runs: MAX_RUNS, max_running: MAX_RUNNING as u32 }))
}

// ---- validation ----------------------------------------------------------------------------------

/// A scenario's TOML text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioText {
    pub toml: String,
}

/// One problem of a scenario.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScenarioProblem {
    /// The key's path, e.g. `arrivals.rate` or `stores[1].share`; empty for the whole file.
    pub path: String,
    /// The line (1-based), when known.
    #[schema(required = true)]
    pub line: Option<u32>,
    /// What is wrong (`中文 / English` where the simulator words it so).
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioCheck {
    pub ok: bool,
    pub problems: Vec<ScenarioProblem>,
    /// The scenario's name, horizon, runs and seed as written (when valid).
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub horizon_days: Option<u32>,
    #[schema(required = true)]
    pub runs: Option<u32>,
    #[schema(required = true)]
    pub seed: Option<u64>,
    /// The values of its sweep, if any.
    #[schema(required = true)]
    pub sweep_parameter: Option<String>,
}

/// The line (1-based) of byte `offset` and the key path there: the table header above it
/// (`[[x]]` counted, so `x[1]`) and the key before `=` on that line.
fn key_at(text: &str, offset: usize) -> (u32, String) {
    let mut table = String::new();
    let mut arrays: HashMap<String, usize> = HashMap::new();
    let mut start = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let end = start + line.len();
        let t = line.trim();
        let header = if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = arrays.entry(name.clone()).and_modify(|n| *n += 1).or_insert(0);
            Some(format!("{name}[{n}]"))
        } else {
            t.strip_prefix('[').and_then(|r| r.split(']').next()).map(|n| n.trim().to_string())
        };
        if let Some(h) = &header {
            table = h.clone();
        }
        if offset < end || end == text.len() {
            let key = if header.is_some() {
                String::new()
            } else {
                t.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_string()).unwrap_or_default()
            };
            let path = match (table.is_empty(), key.is_empty()) {
                (true, _) => key,
                (false, true) => table,
                (false, false) => format!("{table}.{key}"),
            };
            return (i as u32 + 1, path);
        }
        start = end;
    }
    (1, String::new())
}

fn toml_problem(text: &str, e: &toml::de::Error) -> ScenarioProblem {
    let (line, path) = e.span().map_or((None, String::new()), |s| {
        let (line, path) = key_at(text, s.start);
        (Some(line), path)
    });
    ScenarioProblem { path, line, message: e.message().trim().to_string() }
}

fn scenario_problem(e: ScenarioError) -> ScenarioProblem {
    ScenarioProblem { path: e.field, line: None, message: e.message }
}

/// Reads a scenario written in the console: typed first (so a problem names its key and line),
/// then checked by the simulator. `rules_file` is refused (the server reads no files for it).
fn load_scenario(text: &str) -> Result<Loaded, ScenarioProblem> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| toml_problem(text, &e))?;
    if doc.contains_key("rules_file") {
        let (line, _) = text.find("rules_file").map_or((1, String::new()), |at| key_at(text, at));
        return Err(ScenarioProblem {
            path: "rules_file".into(),
            line: Some(line),
            message: "工作台中请直接写 [rules] / in the workbench write the rules as [rules], not a file".into(),
        });
    }
    toml::from_str::<Scenario>(text).map_err(|e| toml_problem(text, &e))?;
    load_str(text, FsPath::new(".")).map_err(scenario_problem)
}

fn invalid_scenario(p: ScenarioProblem) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiCode::InvalidScenario,
        format!(
            "invalid scenario / 情景无效: {}{}",
            if p.path.is_empty() { String::new() } else { format!("{}: ", p.path) },
            p.message
        ),
    );
    let (zh, en) = p.message.split_once(" / ").map_or((p.message.clone(), p.message.clone()), |(a, b)| (a.into(), b.into()));
    e.problems = Some(vec![RuleProblem { path: p.path, zh, en }]);
    e
}

/// 校验情景 / Check a scenario's TOML: ok, or its problems by key
#[utoipa::path(post, path = "/v1/admin/sim/validate", tag = "sim", request_body = ScenarioText,
    responses((status = 200, body = ScenarioCheck)))]
pub async fn validate(_: CanRead, body: Bytes) -> ApiResult<Json<ScenarioCheck>> {
    let ScenarioText { toml } = body_json(&body)?;
    let check = tokio::task::spawn_blocking(move || match load_scenario(&toml) {
        Ok(l) => ScenarioCheck {
            ok: true,
            problems: Vec::new(),
            name: Some(l.scenario.name.clone()),
            horizon_days: Some(l.scenario.horizon_days),
            runs: l.scenario.runs,
            seed: l.scenario.seed,
            sweep_parameter: l.scenario.sweep.as_ref().map(|s| s.parameter.clone()),
        },
        Err(p) => ScenarioCheck {
            ok: false,
            problems: vec![p],
            name: None,
            horizon_days: None,
            runs: None,
            seed: None,
            sweep_parameter: None,
        },
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(check))
}

// ---- simulation jobs -----------------------------------------------------------------------------

/// What to simulate: a scenario's TOML or a preset's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSimulation {
    /// The scenario (TOML); or give `preset`.
    #[serde(default)]
    pub toml: Option<String>,
    /// A scenario preset's name (not `seed`: that is `GET /v1/admin/sim/seed`).
    #[serde(default)]
    pub preset: Option<String>,
    /// Monte-Carlo runs (default: the scenario's `runs`, else 1), 1 to 1000.
    #[serde(default)]
    pub runs: Option<u32>,
    /// Seed (default: the scenario's `seed`, else 1).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// A simulation job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SimState {
    Running,
    Done,
    Cancelled,
    Failed,
}

/// A simulation job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimJob {
    pub id: u64,
    pub state: SimState,
    /// Runs finished so far (of the base scenario and every sweep value).
    pub done: u64,
    /// Runs in all.
    pub total: u64,
    /// The scenario's name.
    pub name: String,
    /// The preset it came from, if any.
    #[schema(required = true)]
    pub preset: Option<String>,
    pub runs: u32,
    pub seed: u64,
    pub horizon_days: u32,
    pub started_at: String,
    #[schema(required = true)]
    pub finished_at: Option<String>,
    pub started_by: String,
    /// Why it failed, when failed.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// A job with its report once done.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimJobView {
    pub job: SimJob,
    /// The report's data (zengzhi-report's ReportData: days with p5/p50/p95 bands, honest
    /// metrics, cohorts, histogram, sweep, totals), when done. Statistics are floats.
    #[schema(required = true, value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// The scenario as run (TOML).
    pub scenario_toml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimJobList {
    /// Newest first.
    pub items: Vec<SimJob>,
    pub max_running: u32,
}

struct Entry {
    job: SimJob,
    progress: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
    report: Option<Arc<ReportData>>,
    scenario_toml: Arc<String>,
}

#[derive(Default)]
struct Registry {
    jobs: Vec<Entry>,
    next_id: u64,
    /// What-if replays running now (they count against [`MAX_RUNNING`] too).
    whatifs: usize,
}

impl Registry {
    fn running(&self) -> usize {
        self.jobs.iter().filter(|e| e.job.state == SimState::Running).count() + self.whatifs
    }
    fn view(&self, e: &Entry) -> SimJob {
        let mut job = e.job.clone();
        if job.state == SimState::Running {
            job.done = e.progress.load(Ordering::Relaxed).min(job.total);
        }
        job
    }
}

type Jobs = Arc<Mutex<Registry>>;

fn registry(state: &Arc<AppState>) -> Jobs {
    static ALL: OnceLock<Mutex<HashMap<usize, Jobs>>> = OnceLock::new();
    let key = Arc::as_ptr(state) as usize;
    let mut all = ALL.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    all.entry(key).or_default().clone()
}

fn lock(jobs: &Jobs) -> std::sync::MutexGuard<'_, Registry> {
    jobs.lock().unwrap_or_else(|e| e.into_inner())
}

fn no_job() -> ApiError {
    ApiError::not_found("no such simulation / 没有这个模拟任务")
}

fn job_id(id: &str) -> ApiResult<u64> {
    id.parse().map_err(|_| no_job())
}

/// 开始模拟 / Start a simulation in the background (at most 2 at once: a third is 429 too_many_jobs)
#[utoipa::path(post, path = "/v1/admin/sim/jobs", tag = "sim", request_body = StartSimulation,
    responses((status = 200, body = SimJob), (status = 422, description = "Invalid scenario (problems by key)", body = crate::error::ErrorBody),
        (status = 429, description = "Two simulations are running", body = crate::error::ErrorBody)))]
pub async fn start_job(who: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<SimJob>> {
    let req: StartSimulation = body_json(&body)?;
    let (text, preset) = match (req.toml, req.preset) {
        (Some(t), None) => (t, None),
        (None, Some(name)) => match zengzhi_sim::presets::PRESETS.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => ((*text).to_string(), Some(name)),
            None => {
                return Err(ApiError::bad_request(
                    ApiCode::InvalidCommand,
                    format!(
                        "unknown scenario preset {name:?} (the seed is GET /v1/admin/sim/seed) / 没有这个情景预设；种子示例请用 GET /v1/admin/sim/seed"
                    ),
                ))
            }
        },
        _ => {
            return Err(ApiError::bad_request(
                ApiCode::InvalidCommand,
                "give either toml or preset / 请给出 toml 或 preset 之一",
            ))
        }
    };
    let checked = {
        let text = text.clone();
        tokio::task::spawn_blocking(move || load_scenario(&text)).await.map_err(ApiError::internal)?
    };
    let loaded = checked.map_err(invalid_scenario)?;
    let runs = req.runs.or(loaded.scenario.runs).unwrap_or(1);
    if runs == 0 || runs > MAX_RUNS {
        return Err(invalid_scenario(ScenarioProblem {
            path: "runs".into(),
            line: None,
            message: format!("模拟次数须为 1 到 {MAX_RUNS} / runs must be 1 to {MAX_RUNS}"),
        }));
    }
    let seed = req.seed.or(loaded.scenario.seed).unwrap_or(1);
    let jobs = registry(&state);
    let progress = Arc::new(AtomicU64::new(0));
    let cancel = Arc::new(AtomicBool::new(false));
    let job = {
        let mut reg = lock(&jobs);
        if reg.running() >= MAX_RUNNING {
            return Err(too_many());
        }
        reg.next_id += 1;
        let job = SimJob {
            id: reg.next_id,
            state: SimState::Running,
            done: 0,
            total: total_runs(&loaded, runs),
            name: loaded.scenario.name.clone(),
            preset,
            runs,
            seed,
            horizon_days: loaded.scenario.horizon_days,
            started_at: zengzhi_journal::time_fmt::now_rfc3339(),
            finished_at: None,
            started_by: who.actor().who(),
            error: None,
        };
        reg.jobs.push(Entry {
            job: job.clone(),
            progress: progress.clone(),
            cancel: cancel.clone(),
            report: None,
            scenario_toml: Arc::new(text),
        });
        // Keep the running ones and the newest finished ones.
        while reg.jobs.len() > KEEP + MAX_RUNNING {
            match reg.jobs.iter().position(|e| e.job.state != SimState::Running) {
                Some(i) => drop(reg.jobs.remove(i)),
                None => break,
            }
        }
        job
    };
    state
        .audit(who.actor(), "simulate", format!("job {} {} runs {runs} seed {seed}", job.id, job.preset.as_deref().unwrap_or("toml")))
        .await;
    let id = job.id;
    tokio::task::spawn_blocking(move || {
        let tick = || {
            progress.fetch_add(1, Ordering::Relaxed);
        };
        let stop = || cancel.load(Ordering::Relaxed);
        let outcome = simulate_until(&loaded, runs, seed, &tick, &stop);
        let mut reg = lock(&jobs);
        let done = progress.load(Ordering::Relaxed);
        if let Some(e) = reg.jobs.iter_mut().find(|e| e.job.id == id) {
            e.job.finished_at = Some(zengzhi_journal::time_fmt::now_rfc3339());
            e.job.done = done.min(e.job.total);
            match outcome {
                Ok(sim) => {
                    e.job.state = SimState::Done;
                    e.job.done = e.job.total;
                    e.report = Some(Arc::new(sim.report));
                }
                Err(SimError::Cancelled) => e.job.state = SimState::Cancelled,
                Err(err) => {
                    e.job.state = SimState::Failed;
                    e.job.error = Some(err.to_string());
                }
            }
        }
    });
    Ok(Json(job))
}

/// 模拟任务列表 / Recent simulations, newest first
#[utoipa::path(get, path = "/v1/admin/sim/jobs", tag = "sim", responses((status = 200, body = SimJobList)))]
pub async fn list_sim_jobs(_: CanRead, State(state): S) -> ApiResult<Json<SimJobList>> {
    let jobs = registry(&state);
    let reg = lock(&jobs);
    Ok(Json(SimJobList { items: reg.jobs.iter().rev().map(|e| reg.view(e)).collect(), max_running: MAX_RUNNING as u32 }))
}

/// 模拟任务 / One simulation: state, progress (runs done of total) and, when done, the report's data
#[utoipa::path(get, path = "/v1/admin/sim/jobs/{id}", tag = "sim", params(("id" = u64, Path, description = "job id")),
    responses((status = 200, body = SimJobView)))]
pub async fn get_sim_job(_: CanRead, State(state): S, Path(id): Path<String>) -> ApiResult<Json<SimJobView>> {
    let id = job_id(&id)?;
    let (job, report, scenario_toml) = {
        let jobs = registry(&state);
        let reg = lock(&jobs);
        let e = reg.jobs.iter().find(|e| e.job.id == id).ok_or_else(no_job)?;
        (reg.view(e), e.report.clone(), e.scenario_toml.clone())
    };
    let report = report.map(|r| serde_json::to_value(&*r)).transpose().map_err(ApiError::internal)?;
    Ok(Json(SimJobView { job, report, scenario_toml: (*scenario_toml).clone() }))
}

/// 取消模拟 / Cancel a running simulation (it stops before its next simulated day)
#[utoipa::path(post, path = "/v1/admin/sim/jobs/{id}/cancel", tag = "sim", params(("id" = u64, Path, description = "job id")),
    responses((status = 200, body = SimJob)))]
pub async fn cancel_job(who: CanOperate, State(state): S, Path(id): Path<String>) -> ApiResult<Json<SimJob>> {
    let id = job_id(&id)?;
    let job = {
        let jobs = registry(&state);
        let reg = lock(&jobs);
        let e = reg.jobs.iter().find(|e| e.job.id == id).ok_or_else(no_job)?;
        e.cancel.store(true, Ordering::Relaxed);
        reg.view(e)
    };
    state.audit(who.actor(), "cancel_simulation", format!("job {id}")).await;
    Ok(Json(job))
}

/// The report folder of a simulation, zipped (deflate).
fn report_zip(data: &ReportData, scenario: &str) -> std::io::Result<Vec<u8>> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("scenario.toml".into(), scenario.as_bytes().to_vec()),
        ("summary.json".into(), zengzhi_sim::output::summary_json(data).into_bytes()),
        ("timeseries.csv".into(), zengzhi_sim::output::timeseries_csv(data).into_bytes()),
    ];
    if let Some(csv) = zengzhi_sim::output::sweep_csv(data) {
        files.push(("sweep.csv".into(), csv.into_bytes()));
    }
    // The charts and report.html, drawn by zengzhi-report (it needs a font with Chinese glyphs).
    let dir = std::env::temp_dir().join(format!(
        "zengzhi-sim-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    ));
    match zengzhi_report::render(data, &dir) {
        Ok(written) => {
            for path in written {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                files.push((name, std::fs::read(&path)?));
            }
        }
        Err(e) => {
            let json = serde_json::to_string_pretty(data).map_err(std::io::Error::other)? + "\n";
            files.push((zengzhi_report::REPORT_DATA.into(), json.into_bytes()));
            files.push((
                "REPORT-NOT-DRAWN.txt".into(),
                format!(
                    "报告图表未绘制 / the charts and report.html were not drawn: {e}\n\
                     安装中文字体后运行 `zengzhi report .` / install a Chinese font and run `zengzhi report .` in this folder.\n"
                )
                .into_bytes(),
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name, options).map_err(std::io::Error::other)?;
        zip.write_all(&bytes)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(out.into_inner())
}

/// 下载报告 / The report folder of a finished simulation as a zip: scenario.toml, summary.json, timeseries.csv, sweep.csv, report-data.json, and the charts and report.html when a Chinese font is installed
#[utoipa::path(get, path = "/v1/admin/sim/jobs/{id}/report.zip", tag = "sim", params(("id" = u64, Path, description = "job id")),
    responses((status = 200, content_type = "application/zip", description = "The report folder", body = Vec<u8>)))]
pub async fn job_zip(_: CanRead, State(state): S, Path(id): Path<String>) -> ApiResult<Response> {
    let id = job_id(&id)?;
    let (report, scenario) = {
        let jobs = registry(&state);
        let reg = lock(&jobs);
        let e = reg.jobs.iter().find(|e| e.job.id == id).ok_or_else(no_job)?;
        let report = e.report.clone().ok_or_else(|| {
            ApiError::conflict(ApiCode::NotReady, "the simulation has no report (not done) / 模拟尚未完成，没有报告")
        })?;
        (report, e.scenario_toml.clone())
    };
    let bytes =
        tokio::task::spawn_blocking(move || report_zip(&report, &scenario)).await.map_err(ApiError::internal)?.map_err(ApiError::internal)?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"simulation-{id}.zip\""))
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/zip")), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

// ---- the seed's projection -----------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeedQuery {
    /// The amount of every order, yuan (default 1000).
    pub amount: Option<String>,
}

/// One order of the projection.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedRowView {
    pub order: u64,
    pub minted: Points,
    pub pool: Money,
    pub supply: Points,
    pub price: Price,
}

/// The first capped exit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedExitView {
    /// The order after which it happened.
    pub order: u64,
    pub member: String,
    /// What the points were force-sold for (the cap).
    pub gross: Money,
    /// What the member was paid.
    pub paid: Money,
    /// What stayed in the pool.
    pub retained: Money,
}

/// The seed's projection (SPEC §9): each order a new member buying `amount` at a store with the
/// default 20% commission, to the first capped exit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedView {
    pub amount: Money,
    pub orders: u64,
    #[schema(required = true)]
    pub exit: Option<SeedExitView>,
    /// Every order up to the exit.
    pub rows: Vec<SeedRowView>,
}

/// 种子示例 / The seed's projection (SPEC §9): order by order to the first capped exit
#[utoipa::path(get, path = "/v1/admin/sim/seed", tag = "sim", params(SeedQuery), responses((status = 200, body = SeedView)))]
pub async fn seed(_: CanRead, Q(q): Q<SeedQuery>) -> ApiResult<Json<SeedView>> {
    let amount = match q.amount.as_deref() {
        None => Fen::from_fen(100_000),
        Some(text) => parse_money(text).filter(|a| *a > Fen::ZERO && *a <= Fen::from_fen(100_000_000)).ok_or_else(|| {
            ApiError::bad_request(
                ApiCode::InvalidQuery,
                "amount must be a positive yuan amount up to 1000000 with at most 2 decimals / amount 须为不超过 1000000 的正数，至多两位小数",
            )
        })?,
    };
    let view = tokio::task::spawn_blocking(move || {
        let p = zengzhi_sim::presets::seed_projection(amount.to_fen(), SEED_MAX_ORDERS, |_, _| {});
        SeedView {
            amount: Money::fen(amount),
            orders: p.rows.len() as u64,
            exit: p.exit.map(|e| SeedExitView {
                order: e.order,
                member: e.member,
                gross: Money::fen(e.gross_fen),
                paid: Money::fen(e.payout_fen),
                retained: Money::fen(e.retained_fen),
            }),
            rows: p
                .rows
                .iter()
                .map(|r| SeedRowView {
                    order: r.order,
                    minted: Points::units(r.minted_units),
                    pool: Money::fen(r.pool_fen),
                    supply: Points::units(r.supply_units),
                    price: Price(format_price(Fen::from_fen(r.pool_fen), Units::from_units(r.supply_units))),
                })
                .collect(),
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(view))
}

// ---- what-if on this program's journal -----------------------------------------------------------

/// One aggregate figure under both rule sets.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfFigure {
    /// `accepted`, `rejected`, `orders`, `exits`, `pool`, `supply`, `price`, `payouts`,
    /// `rewards`, `platform_revenue`, `held_value`.
    pub key: String,
    /// `count`, `money`, `points` or `price`.
    pub unit: String,
    pub original: String,
    pub alternative: String,
    /// alternative − original (empty for the price).
    pub change: String,
}

/// One member under both rule sets (money exact, yuan).
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfMember {
    pub member: String,
    pub exits_original: u32,
    pub exits_alternative: u32,
    pub cash_original: Money,
    pub cash_alternative: Money,
    pub points_value_original: Money,
    pub points_value_alternative: Money,
    /// Cash plus the value of points held.
    pub total_original: Money,
    pub total_alternative: Money,
    /// total_alternative − total_original.
    pub difference: Money,
}

/// A rule key the alternative changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfRuleChange {
    pub key: String,
    pub live: String,
    pub alternative: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfView {
    /// Journal lines replayed.
    pub lines: u64,
    /// The original side follows the journal from the program's initial rules, with its own rule
    /// changes; the alternative starts from the live rules with the edits and skips them.
    pub skipped_rule_updates: u64,
    pub changes: Vec<WhatIfRuleChange>,
    pub aggregate: Vec<WhatIfFigure>,
    /// Members better off and worse off under the alternative (cash plus points value).
    pub better: u64,
    pub worse: u64,
    pub members_total: u64,
    /// The members, largest difference first (at most 10000).
    pub members: Vec<WhatIfMember>,
}

fn whatif_view(w: &zengzhi_sim::whatif::WhatIf, changes: Vec<WhatIfRuleChange>) -> WhatIfView {
    let [a, b] = &w.sides;
    let money = |x: i64| format_money(Fen::from_fen(x));
    let count = |key: &str, x: u64, y: u64| WhatIfFigure {
        key: key.into(),
        unit: "count".into(),
        original: x.to_string(),
        alternative: y.to_string(),
        change: (i128::from(y) - i128::from(x)).to_string(),
    };
    let fen = |key: &str, x: i64, y: i64| WhatIfFigure {
        key: key.into(),
        unit: "money".into(),
        original: money(x),
        alternative: money(y),
        change: money(y - x),
    };
    let aggregate = vec![
        count("accepted", a.accepted, b.accepted),
        count("rejected", a.rejected, b.rejected),
        count("orders", a.orders, b.orders),
        count("exits", a.exits, b.exits),
        fen("pool", a.pool_fen, b.pool_fen),
        WhatIfFigure {
            key: "supply".into(),
            unit: "points".into(),
            original: format_points(Units::from_units(a.supply_units)),
            alternative: format_points(Units::from_units(b.supply_units)),
            change: format_points(Units::from_units(b.supply_units - a.supply_units)),
        },
        WhatIfFigure {
            key: "price".into(),
            unit: "price".into(),
            original: a.price.clone(),
            alternative: b.price.clone(),
            change: String::new(),
        },
        fen("payouts", a.payouts_fen, b.payouts_fen),
        fen("rewards", a.rewards_fen, b.rewards_fen),
        fen("platform_revenue", a.platform_revenue_fen, b.platform_revenue_fen),
        fen("held_value", a.held_value_fen, b.held_value_fen),
    ];
    let (better, worse) = zengzhi_sim::whatif::better_and_worse(w);
    let mut members: Vec<&zengzhi_sim::whatif::MemberDiff> = w.members.iter().collect();
    members.sort_by(|x, y| {
        y.difference_fen().unsigned_abs().cmp(&x.difference_fen().unsigned_abs()).then_with(|| x.member.cmp(&y.member))
    });
    let members = members
        .into_iter()
        .take(WHATIF_MAX_MEMBERS)
        .map(|m| WhatIfMember {
            member: m.member.clone(),
            exits_original: m.exits[0],
            exits_alternative: m.exits[1],
            cash_original: Money::fen(m.cash_fen[0]),
            cash_alternative: Money::fen(m.cash_fen[1]),
            points_value_original: Money::fen(m.points_value_fen[0]),
            points_value_alternative: Money::fen(m.points_value_fen[1]),
            total_original: Money::fen(m.total_fen(0)),
            total_alternative: Money::fen(m.total_fen(1)),
            difference: Money::fen(m.difference_fen()),
        })
        .collect();
    WhatIfView {
        lines: w.lines,
        skipped_rule_updates: b.skipped_rule_updates,
        changes,
        aggregate,
        better: better as u64,
        worse: worse as u64,
        members_total: w.members.len() as u64,
        members,
    }
}

/// Releases a what-if's slot when dropped.
struct WhatIfSlot(Jobs);

impl Drop for WhatIfSlot {
    fn drop(&mut self) {
        let mut reg = lock(&self.0);
        reg.whatifs = reg.whatifs.saturating_sub(1);
    }
}

/// 假设分析 / What-if: replay this program's journal under the live rules with edits (sections of keys, as for PUT /v1/admin/rules) and compare with what happened, in aggregate and per member; read-only
#[utoipa::path(post, path = "/v1/admin/sim/whatif", tag = "sim",
    request_body(content = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>, description = "Sections of keys, as for PUT /v1/admin/rules"),
    responses((status = 200, body = WhatIfView), (status = 429, description = "Two simulations are running", body = crate::error::ErrorBody)))]
pub async fn whatif(_: CanOperate, State(state): S, body: Bytes) -> ApiResult<Json<WhatIfView>> {
    let fields = object(&body)?;
    let doc = zengzhi_core::rules::doc_from_json(&J::Obj(fields))
        .ok_or_else(|| ApiError::bad_request(ApiCode::InvalidCommand, "rules must be an object / 规则必须是对象"))?;
    let live = state.query(|e| e.rules().clone()).await?;
    let alternative = live.updated(&doc).map_err(|problems| super::admin::invalid_rules(&problems))?;
    let base = state.config.initial_rules().map_err(ApiError::internal)?.unwrap_or_else(Rules::default);
    let (before, after) = (super::insight::flat_rules(&live), super::insight::flat_rules(&alternative));
    let changes = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| WhatIfRuleChange { key: k.clone(), live: before.get(k).cloned().unwrap_or_default(), alternative: v.clone() })
        .collect();
    let jobs = registry(&state);
    let slot = {
        let mut reg = lock(&jobs);
        if reg.running() >= MAX_RUNNING {
            return Err(too_many());
        }
        reg.whatifs += 1;
        WhatIfSlot(jobs.clone())
    };
    let config = state.config.clone();
    let w = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut backend = config.open_backend()?;
        let mut input = Vec::new();
        zengzhi_journal::recovery::export(backend.as_mut(), &mut input)?;
        Ok::<_, zengzhi_journal::Error>(zengzhi_sim::whatif::compare(&input, base, alternative))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(whatif_view(&w, changes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_its_key_and_line() {
        let text = "horizon_days = 30\n[arrivals]\nrate = \"fast\"\n[[stores]]\ncount = 1\n[[stores]]\nshare = 2\n";
        let e = toml::from_str::<Scenario>(text).unwrap_err();
        let p = toml_problem(text, &e);
        assert_eq!((p.path.as_str(), p.line), ("arrivals.rate", Some(3)), "{p:?}");
        assert_eq!(key_at(text, text.find("share").unwrap()), (7, "stores[1].share".to_string()));
        assert_eq!(key_at(text, 0), (1, "horizon_days".to_string()));
    }

    #[test]
    fn a_rules_file_is_refused() {
        let p = load_scenario("rules_file = \"/etc/passwd\"\n").unwrap_err();
        assert_eq!(p.path, "rules_file");
    }
}
