//! # zengzhi-server — the HTTP service
//!
//! `build_app(state) -> Router` serves the API of one program over its writer
//! ([`zengzhi_journal::writer`]): writes go through the writer's queue and are answered after
//! their batch is durable; current balances are read from the writer's engine (between batches,
//! so only durable state is seen); history comes from the query tables, which a projector thread
//! keeps up to date behind its watermark.
//!
//! Modules: [`config`] (file + environment, secrets redacted), [`auth`] (API keys, member
//! tokens), [`guards`] (who may call a route, as extractors), [`routes`] (one module per area;
//! the router and the OpenAPI document built together), [`views`] (the JSON types),
//! [`metrics`], [`scheduler`], [`settlement`], [`withdrawals`], [`exports`], [`demo`] (a
//! believable demo economy), [`error`] (the one `ApiError` and its `ApiCode`s).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zengzhi_core::{Command, Engine};
use zengzhi_journal::backend::Backend;
use zengzhi_journal::projector::{Projector, CATCH_UP_PAGE};
use zengzhi_journal::writer::{Outcome, Writer, WriterConfig, WriterHandle};

pub mod accounts;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod exports;
pub mod guards;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod routes;
pub mod scheduler;
pub mod settlement;
pub mod store;
pub mod views;
pub mod web;
pub mod withdrawals;

pub use config::Config;
pub use routes::build_app;

use error::{ApiError, ApiResult};

/// Opens a backend (a new connection to the program's store).
pub type Opener = Arc<dyn Fn() -> zengzhi_journal::Result<Box<dyn Backend>> + Send + Sync>;

/// Opens a connection with the service's tables too.
pub type ConnOpener = Arc<dyn Fn() -> zengzhi_journal::Result<Box<dyn store::Conn>> + Send + Sync>;

/// Connections of the program's store for r2d2.
pub struct Connections(ConnOpener);

impl r2d2::ManageConnection for Connections {
    type Connection = Box<dyn store::Conn>;
    type Error = zengzhi_journal::Error;

    fn connect(&self) -> zengzhi_journal::Result<Box<dyn store::Conn>> {
        (self.0)()
    }

    fn is_valid(&self, conn: &mut Box<dyn store::Conn>) -> zengzhi_journal::Result<()> {
        conn.head().map(|_| ())
    }

    fn has_broken(&self, _: &mut Box<dyn store::Conn>) -> bool {
        false
    }
}

/// The pool of the service's reads and of its own tables.
pub type Pool = r2d2::Pool<Connections>;

/// Connections in the pool at most.
const POOL_SIZE: u32 = 4;

/// A pool of connections made by `open`.
fn pool(open: ConnOpener) -> zengzhi_journal::Result<Pool> {
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        // Opened as needed (a SQLite connection attaches the query file; PostgreSQL's are
        // sessions): one at the start.
        .min_idle(Some(1))
        // A connection is checked when it is made; a request does not pay for a test query.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(Connections(open))
        .map_err(|e| zengzhi_journal::Error::Config(format!("cannot open the connection pool: {e}")))
}

/// A value whose drop may block — the pool's synchronous database clients (PostgreSQL's closes
/// its connection with a runtime of its own, which panics on an async worker). The last owner of
/// the state can be any task (a keep-alive connection ending after a graceful shutdown, say), so
/// when it is dropped on an async runtime the value is dropped on a thread of its own instead.
pub struct OffRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> OffRuntime<T> {
    pub fn new(value: T) -> Self {
        OffRuntime(Some(value))
    }
}

impl<T: Send + 'static> std::ops::Deref for OffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send + 'static> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            let closer = std::thread::Builder::new().name("zengzhi-close".into()).spawn(move || drop(value));
            if let Err(e) = closer {
                tracing::warn!(error = %e, "cannot start a thread to close the storage connections");
            }
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub writer: WriterHandle,
    /// A small pool of connections for the query tables and the service's own tables (never
    /// the writer's).
    pub reads: OffRuntime<Pool>,
    /// SHA-256 of the bootstrap admin token, if one is configured.
    pub admin_token_hash: Option<[u8; 32]>,
    /// The member-token signing secret.
    pub token_secret: Vec<u8>,
    /// The verifier of JWT member tokens, when configured.
    pub member_jwt: Option<auth::MemberJwt>,
    pub config: Config,
    /// The base of referral links (configured, or the address actually listened on).
    pub public_url: String,
    pub metrics: metrics::Metrics,
    /// The last entry the query tables cover.
    pub watermark: Arc<AtomicU64>,
    /// Serialises withdrawal requests and decisions, and rule changes (the fee a payment
    /// quotes is the fee the engine takes).
    pub withdrawal_lock: tokio::sync::Mutex<()>,
    /// API keys verified recently.
    pub keys: guards::KeyCache,
    /// Recent failed logins by account and by address.
    pub login_limiter: std::sync::Mutex<accounts::LoginLimiter>,
    /// Requests per credential and per address (`[limits.rate]`).
    pub rate_limiter: limits::RateLimiter,
    /// The per-day figures and the background jobs of the insight routes.
    pub insight: routes::insight::InsightState,
}

/// What an audited action changed: the member or store it affected, and the value before and
/// after (where the handler knows them).
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub target: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl AppState {
    /// Applies commands durably and returns one outcome each; `busy` (503) when the queue is full.
    pub async fn submit(&self, commands: Vec<Command<'static>>) -> ApiResult<Vec<Outcome>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let commands = commands.into_iter().map(|c| (c, None)).collect();
        self.writer.try_submit_with(commands, Box::new(move |r| drop(tx.send(r))))?;
        let outcomes = rx.await.map_err(|_| ApiError::internal("the writer dropped a reply"))??;
        Ok(outcomes)
    }

    /// Applies one command durably.
    pub async fn submit_one(&self, command: Command<'static>) -> ApiResult<Outcome> {
        let mut outcomes = self.submit(vec![command]).await?;
        outcomes.pop().ok_or_else(|| ApiError::internal("no outcome"))
    }

    /// Reads the engine (on the writer thread, between batches).
    pub async fn query<T: Send + 'static>(&self, f: impl FnOnce(&Engine) -> T + Send + 'static) -> ApiResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writer.try_query_with(Box::new(move |e| drop(tx.send(f(e)))))?;
        rx.await.map_err(|_| ApiError::internal("the writer dropped a query"))
    }

    /// Runs blocking storage work on a pooled connection (the query tables, the service's
    /// tables; never the writer's connection).
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn store::Conn) -> zengzhi_journal::Result<T> + Send + 'static,
    ) -> ApiResult<T> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = state
                .reads
                .get()
                .map_err(|e| zengzhi_journal::Error::Config(format!("no connection from the pool: {e}")))?;
            f(conn.as_mut())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
    }

    /// Waits (up to `limit`) until the query tables cover the journal's current head.
    pub async fn wait_projected(&self, limit: Duration) -> bool {
        let head = self.writer.stats().head().0;
        let deadline = tokio::time::Instant::now() + limit;
        while self.watermark.load(Ordering::Acquire) < head {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// When operator sessions end.
    pub fn session_limits(&self) -> store::SessionLimits {
        store::SessionLimits { idle_s: self.config.session_idle_s, max_s: self.config.session_max_s }
    }

    /// Records an administrative action in the operation log (best effort: a failure is
    /// logged, not returned).
    pub async fn audit(self: &Arc<Self>, actor: &guards::Actor, action: &'static str, detail: String) {
        self.audit_change(actor, action, detail, Change::default()).await;
    }

    /// [`audit`](Self::audit) with what changed.
    pub async fn audit_change(
        self: &Arc<Self>,
        actor: &guards::Actor,
        action: &'static str,
        detail: String,
        change: Change,
    ) {
        let record = store::AuditRecord {
            id: 0,
            at: zengzhi_journal::time_fmt::now_rfc3339(),
            who: actor.who(),
            action: action.into(),
            detail,
            address: Some(actor.address.clone()),
            target: change.target,
            before: change.before,
            after: change.after,
        };
        self.write_audit(record).await;
    }

    /// Records an action of the service itself (the scheduler): no caller, no address.
    pub async fn audit_system(self: &Arc<Self>, who: &str, action: &'static str, detail: String) {
        let at = zengzhi_journal::time_fmt::now_rfc3339();
        self.write_audit(store::AuditRecord {
            at,
            who: who.into(),
            action: action.into(),
            detail,
            ..Default::default()
        })
        .await;
    }

    async fn write_audit(self: &Arc<Self>, record: store::AuditRecord) {
        if let Err(e) = self.read(move |b| b.audit(&record)).await {
            tracing::warn!(code = e.code.as_str(), "audit log write failed");
        }
    }
}

/// Lowers the calling thread's scheduling priority to `nice` (Linux; elsewhere, and for 0, a
/// no-op). The projector runs at low priority: on a machine with few cores it otherwise takes
/// CPU from the HTTP workers and the journal writer exactly when they are busiest, which shows
/// as request tail latency. The query tables may then lag under saturation and catch up after.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        tracing::warn!(nice, error = %e, "cannot lower the projector's priority");
    }
    #[cfg(not(target_os = "linux"))]
    tracing::debug!(nice, "thread priorities are set on Linux only");
}

/// The service's periodic snapshots: one every this many journal entries. The projector takes
/// them from its own engine (the same state the writer has after that entry), so the writer
/// never pauses to serialize the state; when the projector lags, so do the snapshots, and a
/// restart replays that much more of the journal.
const SNAPSHOT_EVERY: u64 = 1_000_000;

/// Entries per projection transaction while the query tables keep up with the journal.
const FOLLOW_PAGE: usize = 500;

/// How long a graceful shutdown spends bringing the query tables up to the journal.
const SHUTDOWN_CATCH_UP: Duration = Duration::from_secs(10);

fn save_snapshot(projector: &Projector, backend: &mut dyn Backend) {
    let Some(snapshot) = projector.snapshot() else { return };
    let seq = snapshot.meta.seq;
    // A failed snapshot costs only start-up time: the journal has it all.
    match backend.save_snapshot(&snapshot) {
        Ok(()) => tracing::info!(seq, bytes = snapshot.state.len(), "snapshot saved"),
        Err(e) => tracing::warn!(seq, error = %e, "snapshot failed"),
    }
}

/// The projector thread: keeps the query tables up to the journal and takes the snapshots.
pub struct ProjectorThread {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProjectorThread {
    /// `nice`: the thread's niceness (0 leaves it alone); see [`lower_priority`].
    pub fn start(
        open: Opener,
        watermark: Arc<AtomicU64>,
        interval: Duration,
        nice: i32,
    ) -> zengzhi_journal::Result<ProjectorThread> {
        let mut backend = open()?;
        let mut projector = Projector::start(backend.as_mut())?;
        watermark.store(projector.watermark(), Ordering::Release);
        let mut snapshot_at = backend.snapshots()?.first().map_or(0, |s| s.seq);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("zengzhi-projector".into()).spawn(move || {
            lower_priority(nice);
            // The journal's WAL is checkpointed here, never by the writer: when the projector is
            // idle, and at least every CHECKPOINT_EVERY while a backlog lasts, so the WAL stays
            // bounded under sustained load (a passive checkpoint does not block the writer).
            const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);
            let mut checkpointed = std::time::Instant::now();
            // Empty tables and a long journal (a first start after an upgrade, a rebuild): one
            // bulk load first, its indexes built at the end.
            if projector.watermark() == 0 {
                match projector.catch_up_while(backend.as_mut(), CATCH_UP_PAGE, || !stopping.load(Ordering::Acquire)) {
                    Ok(n) if n > 0 => tracing::info!(entries = n, "query tables loaded"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "loading the query tables failed; following the journal instead"),
                }
                watermark.store(projector.watermark(), Ordering::Release);
            }
            // Small transactions while the tables keep up; while a backlog lasts each page is
            // twice the last (to CATCH_UP_PAGE): fewer, larger transactions write each index page
            // once for more rows. A pause between pages: on a machine with few cores the
            // journal's appends and the requests come first (the thread also runs at low
            // priority).
            let mut page = FOLLOW_PAGE;
            while !stopping.load(Ordering::Acquire) {
                match projector.project_page(backend.as_mut(), page) {
                    Ok(n) => {
                        page = if n as usize == page { (page * 2).min(CATCH_UP_PAGE) } else { FOLLOW_PAGE };
                        watermark.store(projector.watermark(), Ordering::Release);
                        if projector.watermark() >= snapshot_at + SNAPSHOT_EVERY {
                            snapshot_at = projector.watermark();
                            save_snapshot(&projector, backend.as_mut());
                        }
                        if n == 0 || checkpointed.elapsed() >= CHECKPOINT_EVERY {
                            if let Err(e) = backend.checkpoint() {
                                tracing::warn!(error = %e, "checkpoint failed");
                            }
                            checkpointed = std::time::Instant::now();
                        }
                        std::thread::sleep(if n == 0 { interval } else { Duration::from_millis(2) });
                    }
                    Err(e) => {
                        // The engine may be ahead of the stored watermark now: start again
                        // from what the store holds.
                        tracing::error!(error = %e, "projector failed; retrying");
                        std::thread::sleep(interval);
                        match Projector::start(backend.as_mut()) {
                            Ok(p) => projector = p,
                            Err(e) => tracing::error!(error = %e, "projector restart failed"),
                        }
                    }
                }
            }
            // A last pass so the tables cover everything committed before shutdown, bounded in
            // time: after a long saturation the backlog can take minutes, and the tables resume
            // after their watermark at the next start anyway.
            if projector
                .catch_up_until(backend.as_mut(), CATCH_UP_PAGE, Some(std::time::Instant::now() + SHUTDOWN_CATCH_UP))
                .is_ok()
            {
                watermark.store(projector.watermark(), Ordering::Release);
            }
            if projector.watermark() < backend.head().ok().flatten().map_or(0, |h| h.0) {
                tracing::info!(
                    watermark = projector.watermark(),
                    "query tables behind at shutdown; they catch up at the next start"
                );
            }
        })?;
        Ok(ProjectorThread { stop, thread: Some(thread) })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The service without its listener: the writer, the projector, the background tasks and the
/// shared state. [`start`] serves it over TCP; tests call [`Service::router`] in process.
pub struct Service {
    writer: Writer,
    projector: ProjectorThread,
    state: Arc<AppState>,
    /// Background tasks holding the state (scheduler, settlement).
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The password of the demo's `admin` user, when this start created it.
    demo_admin_password: Option<String>,
}

impl Service {
    /// Recovery, the writer, the projector, the demo data (if asked and the store is empty),
    /// interrupted payments resolved, the scheduler and the settlement task. `public_url` is
    /// the base of referral links when the configuration names none.
    pub async fn open(config: Config, public_url: String) -> anyhow_like::Result<Service> {
        let open: Opener = {
            let config = config.clone();
            Arc::new(move || config.open_backend())
        };
        // Storage clients are synchronous (and PostgreSQL's runs its own runtime inside): all the
        // storage work of the start runs on a blocking thread, never on the async runtime.
        let setup = {
            let (config, open) = (config.clone(), open.clone());
            tokio::task::spawn_blocking(move || -> anyhow_like::Result<_> {
                let mut backend = open()?;
                // The projector thread checkpoints the write-ahead log, so commits never stall on it.
                backend.checkpoint_elsewhere()?;
                let initial_rules = config.initial_rules()?;
                let writer = Writer::start(
                    backend,
                    WriterConfig { initial_rules, snapshot_every: 0, ..WriterConfig::default() },
                )?;
                if config.demo && writer.recovered_head <= 1 {
                    let n = demo::load(&writer.handle())?;
                    tracing::info!(commands = n, "demo economy loaded");
                }
                let reads = {
                    let config = config.clone();
                    pool(Arc::new(move || config.open_service()))?
                };
                let token_secret = match &config.token_secret {
                    Some(s) => s.expose().as_bytes().to_vec(),
                    None => {
                        let mut fresh = [0u8; 32];
                        getrandom::getrandom(&mut fresh).map_err(|e| anyhow_like::msg(e.to_string()))?;
                        let mut conn = reads
                            .get()
                            .map_err(|e| zengzhi_journal::Error::Config(format!("no connection from the pool: {e}")))?;
                        conn.setting_or_insert("member_token_secret", &fresh)?
                    }
                };
                let watermark = Arc::new(AtomicU64::new(0));
                let projector = ProjectorThread::start(
                    open.clone(),
                    watermark.clone(),
                    Duration::from_millis(config.projector_interval_ms),
                    config.projector_nice,
                )?;
                let demo_admin_password = if config.demo {
                    let mut conn = reads
                        .get()
                        .map_err(|e| zengzhi_journal::Error::Config(format!("no connection from the pool: {e}")))?;
                    demo::admin_user(conn.as_mut(), config.demo_password.as_ref().map(|p| p.expose()))?
                } else {
                    None
                };
                Ok((writer, reads, token_secret, watermark, projector, demo_admin_password))
            })
        };
        let member_jwt = auth::MemberJwt::from_config(&config.member_jwt).map_err(anyhow_like::msg)?;
        let (writer, reads, token_secret, watermark, projector, demo_admin_password) =
            setup.await.map_err(|e| anyhow_like::msg(e.to_string()))??;
        let state = Arc::new(AppState {
            writer: writer.handle(),
            reads: OffRuntime::new(reads),
            admin_token_hash: config.admin_token.as_ref().map(|t| auth::sha256(t.expose().as_bytes())),
            token_secret,
            member_jwt,
            metrics: metrics::Metrics::new(),
            watermark,
            public_url: config.public_url.clone().unwrap_or(public_url),
            config: config.clone(),
            withdrawal_lock: tokio::sync::Mutex::new(()),
            keys: guards::KeyCache::default(),
            login_limiter: std::sync::Mutex::new(accounts::LoginLimiter::default()),
            rate_limiter: limits::RateLimiter::new(&config.limits.rate),
            insight: Default::default(),
        });
        let resumed =
            withdrawals::resume(&state).await.map_err(|e| anyhow_like::msg(format!("{}: {}", e.code, e.message)))?;
        if resumed > 0 {
            tracing::warn!(
                withdrawals = resumed,
                "payments interrupted by the last stop were resolved against the journal"
            );
        }
        let tasks: Vec<_> =
            [scheduler::spawn(state.clone()), settlement::spawn(state.clone())].into_iter().flatten().collect();
        Ok(Service { writer, projector, state, tasks, demo_admin_password })
    }

    /// The shared state.
    /// The password of the demo's `admin` user (superadmin), when this start created it.
    pub fn demo_admin_password(&self) -> Option<&str> {
        self.demo_admin_password.as_deref()
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The whole API over this service.
    pub fn router(&self) -> axum::Router {
        build_app(self.state.clone())
    }

    /// Stops the background tasks, drains the writer's queue (every accepted command
    /// committed) and brings the query tables up to date. Routers made by
    /// [`router`](Self::router) should be dropped first (they hold the state).
    pub async fn shutdown(self) -> anyhow_like::Result<()> {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        // The state holds a synchronous storage client: it is closed on a blocking thread too.
        let (state, writer, projector) = (self.state, self.writer, self.projector);
        tokio::task::spawn_blocking(move || {
            drop(state);
            let done = writer.shutdown();
            projector.stop();
            done
        })
        .await
        .map_err(|e| anyhow_like::msg(e.to_string()))??;
        Ok(())
    }
}

/// A running service: the [`Service`] and the HTTP server.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    service: Service,
}

impl Running {
    /// See [`Service::demo_admin_password`].
    pub fn demo_admin_password(&self) -> Option<&str> {
        self.service.demo_admin_password()
    }

    /// Graceful shutdown: stop taking requests, let in-flight ones finish, drain the writer's
    /// queue (every accepted command committed), bring the query tables up to date.
    pub async fn shutdown(self) -> anyhow_like::Result<()> {
        let _ = self.shutdown.send(());
        self.server.await.map_err(|e| anyhow_like::msg(e.to_string()))?.map_err(|e| anyhow_like::msg(e.to_string()))?;
        self.service.shutdown().await
    }
}

/// A tiny error type for `Running` (the binary uses `anyhow`; this crate stays without it).
pub mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Error {}
    impl From<zengzhi_journal::Error> for Error {
        fn from(e: zengzhi_journal::Error) -> Self {
            Error(e.to_string())
        }
    }
    pub fn msg(s: String) -> Error {
        Error(s)
    }
    pub type Result<T> = std::result::Result<T, Error>;
}

/// Starts everything ([`Service::open`]) and serves the API on `config.listen`.
pub async fn start(config: Config) -> anyhow_like::Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow_like::msg(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| anyhow_like::msg(e.to_string()))?;
    let service = Service::open(config, format!("http://{addr}")).await?;
    // The API, and the web pages embedded in the binary (the console at /admin/, / redirects there).
    let app = service.router().merge(web::router());
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let state = service.state().clone();
    let server = tokio::spawn(listen::serve(listener, app, state, async {
        let _ = rx.await;
    }));
    Ok(Running { addr, shutdown, server, service })
}

#[cfg(test)]
mod off_runtime_tests {
    use super::OffRuntime;

    /// Panics when dropped on an async runtime's worker, as a PostgreSQL client does.
    struct BlockingClose(std::sync::mpsc::Sender<bool>);
    impl Drop for BlockingClose {
        fn drop(&mut self) {
            let _ = self.0.send(tokio::runtime::Handle::try_current().is_ok());
        }
    }

    #[test]
    fn a_value_dropped_on_a_runtime_is_closed_off_it() {
        let (tx, rx) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let value = OffRuntime::new(BlockingClose(tx.clone()));
        runtime.block_on(async move { tokio::spawn(async move { drop(value) }).await.unwrap() });
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(false), "closed on a thread without a runtime");
        // Off a runtime it is dropped in place.
        drop(OffRuntime::new(BlockingClose(tx)));
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(false));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn lower_priority_sets_the_calling_threads_niceness_only() {
        let tid_nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let before = tid_nice();
        let inside = std::thread::spawn(move || {
            super::lower_priority(19);
            tid_nice()
        })
        .join()
        .unwrap();
        assert_eq!(inside, 19);
        assert_eq!(tid_nice(), before, "the caller's thread keeps its priority");
    }
}
