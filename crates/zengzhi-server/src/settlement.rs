//! The settlement delay (refund window): with `settlement_delay_s > 0`, an order is held as
//! pending and only becomes an engine command when the window has passed; until then
//! `POST /v1/orders/{id}/refund` cancels it. A task settles due orders every half second, each
//! run one group commit through the writer.
//!
//! An order taken for settlement is marked `settling` first, so a refund and a settlement never
//! both happen. A crash between taking and recording leaves `settling` rows: on start they are
//! resolved against the engine (the journal decides: settled if the engine has the order id).

use std::sync::Arc;
use std::time::Duration;

use crate::store::{PendingDone, PendingOrder};
use zengzhi_core::command::parse_line;
use zengzhi_core::{Command, Rejection};

use crate::auth::now_unix;
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::views::{Id, PendingOrderView, PendingStatus};
use crate::AppState;

/// Orders settled per run at most.
const PER_RUN: usize = 10_000;

/// The canonical line of a command without its `at`, for comparisons.
pub fn without_at(line: &str) -> &str {
    match line.rfind(",\"at\":\"") {
        Some(i) if line.ends_with("\"}") => &line[..i],
        _ => line.strip_suffix('}').unwrap_or(line),
    }
}

/// A stored pending order as the API shows it.
pub fn pending_view(p: &PendingOrder) -> ApiResult<PendingOrderView> {
    let status = PendingStatus::parse(&p.status).ok_or_else(|| {
        ApiError::internal(format!("pending order {} has the unknown status {:?}", p.order_id, p.status))
    })?;
    Ok(PendingOrderView {
        ok: true,
        order: Id(p.order_id.clone()),
        status,
        received_at: p.received_at.clone(),
        settle_after_unix: p.settle_after_unix,
        seq: p.seq,
        error: p.error.clone(),
        idempotent_replay: None,
    })
}

/// Holds an order as pending (idempotent on the order id). Checks now what can be checked now
/// (known member and store, unused id), so a bad order fails at once rather than at settlement.
pub async fn hold(state: &Arc<AppState>, command: Command<'static>) -> ApiResult<(bool, PendingOrderView)> {
    let Command::Order { order, member, merchant, .. } = &command else { return Err(Rejection::InvalidCommand.into()) };
    let line = command.to_json(None);
    let (o, m, s) = (order.to_string(), member.to_string(), merchant.as_ref().map(|x| x.to_string()));
    let known = state.query(move |e| {
        if e.has_order(&o) {
            return Err(Rejection::DuplicateId);
        }
        if e.member(&m).is_none() {
            return Err(Rejection::UnknownMember);
        }
        if s.as_deref().is_some_and(|s| e.merchant(s).is_none()) {
            return Err(Rejection::UnknownMerchant);
        }
        Ok(())
    });
    let fresh = PendingOrder {
        order_id: order.to_string(),
        command: line.clone(),
        received_at: zengzhi_journal::time_fmt::now_rfc3339(),
        settle_after_unix: now_unix() + state.config.settlement_delay_s,
        status: "pending".into(),
        seq: None,
        error: None,
    };
    let id = order.to_string();
    let existing = state.read(move |b| b.pending_get(&id)).await?;
    if let Some(p) = existing {
        return same_or_conflict(&p, &line).map(|v| (false, v));
    }
    match known.await? {
        Err(Rejection::DuplicateId) => return Err(Rejection::DuplicateId.into()),
        Err(r) => return Err(r.into()),
        Ok(()) => {}
    }
    let f = fresh.clone();
    let inserted = state.read(move |b| b.pending_insert(&f)).await?;
    if inserted {
        return Ok((true, pending_view(&fresh)?));
    }
    // Another request with the same id won the race.
    let id = order.to_string();
    let p =
        state.read(move |b| b.pending_get(&id)).await?.ok_or_else(|| ApiError::internal("pending order vanished"))?;
    same_or_conflict(&p, &line).map(|v| (false, v))
}

fn same_or_conflict(p: &PendingOrder, line: &str) -> ApiResult<PendingOrderView> {
    if without_at(&p.command) == without_at(line) {
        Ok(PendingOrderView { idempotent_replay: Some(true), ..pending_view(p)? })
    } else {
        Err(ApiError::conflict(
            ApiCode::IdempotencyConflict,
            format!("order {} exists with a different body / 订单号 {} 已用于不同的订单", p.order_id, p.order_id),
        ))
    }
}

/// Starts the settlement task.
pub fn spawn(state: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    if state.config.settlement_delay_s == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        if let Err(e) = resume(&state).await {
            tracing::error!(code = e.code.as_str(), message = %e.message, "resuming settlements failed");
        }
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match settle_due(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(orders = n, "settled"),
                Err(e) => tracing::error!(code = e.code.as_str(), message = %e.message, "settlement run failed"),
            }
        }
    }))
}

/// Orders left `settling` by a crash: settled if the journal has them, else pending again.
async fn resume(state: &Arc<AppState>) -> ApiResult<()> {
    let settling = state.read(|b| b.pending_settling()).await?;
    for p in settling {
        let id = p.order_id.clone();
        let journaled = state.query(move |e| e.has_order(&id)).await?;
        let (id, status) = (p.order_id.clone(), if journaled { "settled" } else { "pending" });
        state.read(move |b| b.pending_finish(&id, status, None, None)).await?;
    }
    Ok(())
}

/// Settles every due order (one group commit); returns how many were taken.
pub async fn settle_due(state: &Arc<AppState>) -> ApiResult<usize> {
    let due = state.read(|b| b.pending_take_due(now_unix(), PER_RUN)).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut commands = Vec::with_capacity(due.len());
    for p in &due {
        // Stored lines are canonical lines the service wrote; one that no longer reads is
        // recorded as rejected rather than blocking the queue.
        commands.push(parse_line(p.command.as_bytes()).map(|c| c.command.into_owned()));
    }
    let valid: Vec<Command<'static>> = commands.iter().filter_map(|c| c.as_ref().ok().cloned()).collect();
    let outcomes = match state.submit(valid).await {
        Ok(o) => o,
        Err(e) => {
            // Not stored: back to pending, tried again next run.
            let back: Vec<PendingDone> =
                due.iter().map(|p| done(&p.order_id, PendingStatus::Pending, None, None)).collect();
            state.read(move |b| b.pending_finish_all(&back)).await?;
            return Err(e);
        }
    };
    let mut outcomes = outcomes.into_iter();
    let results: Vec<PendingDone> = due
        .iter()
        .zip(&commands)
        .map(|(p, c)| match c {
            Err(r) => done(&p.order_id, PendingStatus::Rejected, None, Some(r.code())),
            Ok(_) => match outcomes.next().map(|o| (o.result, o.seq)) {
                Some((Ok(_), seq)) => done(&p.order_id, PendingStatus::Settled, seq, None),
                Some((Err(r), _)) => done(&p.order_id, PendingStatus::Rejected, None, Some(r.code())),
                None => done(&p.order_id, PendingStatus::Pending, None, None),
            },
        })
        .collect();
    let n = results.len();
    // One transaction (one commit) for the whole run.
    state.read(move |b| b.pending_finish_all(&results)).await?;
    Ok(n)
}

fn done(order_id: &str, status: PendingStatus, seq: Option<u64>, error: Option<&'static str>) -> PendingDone {
    PendingDone { order_id: order_id.to_string(), status: status.as_str(), seq, error }
}
