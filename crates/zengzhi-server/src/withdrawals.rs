//! The withdrawal queue (提现审核): a member asks, an operator pays or rejects.
//!
//! SPEC's `withdraw` takes the cash at once and has no inverse, so a request is not journaled
//! when it is made. It waits in the queue as `pending`, and its amount is *reserved*: later
//! requests may only use the cash not already asked for. Paying it journals the `withdraw`
//! command (the engine takes the cash and the fee); rejecting it releases the reservation, which
//! is the money going back to the member's withdrawable cash. Nothing is journaled for a
//! rejection because the ledger never moved.
//!
//! The reservation is the service's promise, not the engine's: an order paid with cash between
//! request and payment may use reserved cash. Paying then fails with `insufficient_cash` and the
//! withdrawal stays `pending` for the operator to reject; money is never paid out that the ledger
//! did not take.
//!
//! Decisions are serialised by one lock (also held by rule changes, so the fee quoted is the fee
//! the engine takes) and are idempotent: paying a paid withdrawal answers as before. A payment
//! is marked `paying` with the journal head before it is submitted; after a crash, the entries
//! after that head say whether the command was journaled ([`resume`]).

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::store::{Withdrawal, WithdrawalFilter};
use zengzhi_core::command::parse_line;
use zengzhi_core::num::Fen;
use zengzhi_core::Command;

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::views::{Id, Money, WithdrawalPage, WithdrawalStatus, WithdrawalView};
use crate::AppState;

/// The withdrawal as JSON. `fee` and `payout` are the engine's once paid, else a quote at the
/// current rules.
pub fn withdrawal_json(w: &Withdrawal, quoted_fee_fen: Option<i64>) -> ApiResult<WithdrawalView> {
    let fee = w.fee_fen.or(quoted_fee_fen);
    let status = WithdrawalStatus::parse(&w.status)
        .ok_or_else(|| ApiError::internal(format!("withdrawal {} has the unknown status {:?}", w.id, w.status)))?;
    Ok(WithdrawalView {
        id: w.id.clone(),
        member: Id(w.member.clone()),
        amount: Money::fen(w.amount_fen),
        fee: fee.map(Money::fen),
        payout: fee.map(|f| Money::fen(w.amount_fen - f)),
        status,
        requested_at: w.requested_at.clone(),
        decided_at: w.decided_at.clone(),
        decided_by: w.decided_by.clone(),
        reason: w.reason.clone(),
        seq: w.seq,
    })
}

fn new_id() -> ApiResult<String> {
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(ApiError::internal)?.as_millis();
    Ok(format!("w{ms:013}{:08x}", u32::from_be_bytes(bytes)))
}

/// A member's request: checked against the cash not already reserved, then queued.
pub async fn request(state: &Arc<AppState>, member: String, amount_fen: i64) -> ApiResult<WithdrawalView> {
    let _one_at_a_time = state.withdrawal_lock.lock().await;
    let m = member.clone();
    let reserved = state.read(move |b| b.withdrawals_reserved(&m)).await?;
    let m = member.clone();
    let quote = state.query(move |e| e.withdraw_quote(&m, Fen::from_fen(amount_fen), Fen::from_fen(reserved))).await??;
    let w = Withdrawal::pending(new_id()?, member, amount_fen, zengzhi_journal::time_fmt::now_rfc3339());
    let stored = w.clone();
    if !state.read(move |b| b.withdrawal_insert(&stored)).await? {
        return Err(ApiError::internal("a fresh withdrawal id was already used"));
    }
    withdrawal_json(&w, Some(quote.fee_fen.to_fen()))
}

async fn get(state: &Arc<AppState>, id: &str) -> ApiResult<Withdrawal> {
    let key = id.to_string();
    state.read(move |b| b.withdrawal_get(&key)).await?.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            ApiCode::UnknownWithdrawal,
            format!("no withdrawal {id} / 提现申请不存在"),
        )
    })
}

/// One withdrawal, with a fee quote if it is still open.
pub async fn show(state: &Arc<AppState>, id: &str) -> ApiResult<WithdrawalView> {
    let w = get(state, id).await?;
    let quote = fee_quote(state, &w).await?;
    withdrawal_json(&w, quote)
}

async fn fee_quote(state: &Arc<AppState>, w: &Withdrawal) -> ApiResult<Option<i64>> {
    if w.fee_fen.is_some() {
        return Ok(None);
    }
    let amount = w.amount_fen;
    Ok(Some(state.query(move |e| e.withdraw_fee_fen(Fen::from_fen(amount)).to_fen()).await?))
}

/// A page of withdrawals (oldest first) and the cursor of the next page.
pub async fn list(
    state: &Arc<AppState>,
    status: Option<WithdrawalStatus>,
    member: Option<String>,
    after: Option<String>,
    limit: usize,
) -> ApiResult<WithdrawalPage> {
    let rows = state
        .read(move |b| {
            b.withdrawals(&WithdrawalFilter {
                status: status.map(WithdrawalStatus::as_str),
                member: member.as_deref(),
                after: after.as_deref(),
                limit,
            })
        })
        .await?;
    let amounts: Vec<i64> = rows.iter().map(|w| w.amount_fen).collect();
    let fees = state.query(move |e| amounts.iter().map(|a| e.withdraw_fee_fen(Fen::from_fen(*a)).to_fen()).collect::<Vec<_>>()).await?;
    let items = rows.iter().zip(fees).map(|(w, fee)| withdrawal_json(w, Some(fee))).collect::<ApiResult<Vec<_>>>()?;
    let next_after = (rows.len() >= limit).then(|| rows.last().map(|w| w.id.clone())).flatten();
    Ok(WithdrawalPage { items, next_after })
}

fn now() -> String {
    zengzhi_journal::time_fmt::now_rfc3339()
}

/// Pays a pending withdrawal: journals `withdraw`. Idempotent; a rejected one cannot be paid.
pub async fn pay(state: &Arc<AppState>, id: &str, who: String) -> ApiResult<WithdrawalView> {
    let _one_at_a_time = state.withdrawal_lock.lock().await;
    let w = get(state, id).await?;
    match w.status.as_str() {
        "paid" => return withdrawal_json(&w, None),
        "rejected" => {
            return Err(ApiError::conflict(
                ApiCode::WithdrawalRejected,
                format!("withdrawal {id} was rejected / 该提现已被拒绝"),
            ))
        }
        "pending" => {}
        _ => {
            return Err(ApiError::conflict(
                ApiCode::WithdrawalInProgress,
                format!("withdrawal {id} is being paid / 该提现正在处理"),
            ))
        }
    }
    let (member, amount) = (w.member.clone(), w.amount_fen);
    let fee = state.query(move |e| e.withdraw_quote(&member, Fen::from_fen(amount), Fen::ZERO).map(|q| q.fee_fen.to_fen())).await??;
    let paying = Withdrawal {
        status: "paying".into(),
        decided_by: Some(who),
        // Exact: rule changes wait for the lock, so the engine takes this fee.
        fee_fen: Some(fee),
        head_before: Some(state.writer.stats().head().0),
        ..w.clone()
    };
    move_to(state, &paying, "pending").await?;
    let command = Command::Withdraw { member: w.member.clone().into(), amount_fen: Fen::from_fen(w.amount_fen) };
    match state.submit_one(command).await.and_then(|o| o.result.map(|_| o.seq).map_err(ApiError::from)) {
        Ok(seq) => {
            let paid = Withdrawal { status: "paid".into(), decided_at: Some(now()), seq, ..paying };
            move_to(state, &paid, "paying").await?;
            withdrawal_json(&paid, None)
        }
        Err(e) => {
            // Not journaled (rejected by the engine, or not stored): back in the queue.
            move_to(state, &w, "paying").await?;
            Err(e)
        }
    }
}

/// Rejects a pending withdrawal (the reservation ends; the cash is withdrawable again).
/// Idempotent; a paid one cannot be rejected.
pub async fn reject(state: &Arc<AppState>, id: &str, who: String, reason: Option<String>) -> ApiResult<WithdrawalView> {
    let _one_at_a_time = state.withdrawal_lock.lock().await;
    let w = get(state, id).await?;
    match w.status.as_str() {
        "rejected" => return withdrawal_json(&w, None),
        "paid" => {
            return Err(ApiError::conflict(ApiCode::AlreadyPaid, format!("withdrawal {id} was paid / 该提现已打款")))
        }
        "pending" => {}
        _ => {
            return Err(ApiError::conflict(
                ApiCode::WithdrawalInProgress,
                format!("withdrawal {id} is being paid / 该提现正在处理"),
            ))
        }
    }
    let rejected =
        Withdrawal { status: "rejected".into(), decided_at: Some(now()), decided_by: Some(who), reason, ..w };
    move_to(state, &rejected, "pending").await?;
    withdrawal_json(&rejected, None)
}

async fn move_to(state: &Arc<AppState>, w: &Withdrawal, from: &'static str) -> ApiResult<()> {
    let next = w.clone();
    if state.read(move |b| b.withdrawal_update(&next, from)).await? {
        Ok(())
    } else {
        // Only this process decides, under the lock: another writer of the table is a fault.
        Err(ApiError::internal(format!("withdrawal {} was not {from}", w.id)))
    }
}

/// Payments a crash interrupted (`paying`): paid if a matching `withdraw` was journaled after
/// the head recorded when payment began, else pending again. Runs before the server serves.
pub async fn resume(state: &Arc<AppState>) -> ApiResult<usize> {
    let paying = state
        .read(|b| b.withdrawals(&WithdrawalFilter { status: Some("paying"), limit: 10_000, ..Default::default() }))
        .await?;
    let mut claimed = Vec::new();
    for w in &paying {
        let found = find_journaled(state, w, claimed.clone()).await?;
        let next = match found {
            Some(seq) => {
                claimed.push(seq);
                Withdrawal { status: "paid".into(), decided_at: Some(now()), seq: Some(seq), ..w.clone() }
            }
            None => {
                Withdrawal { status: "pending".into(), decided_by: None, fee_fen: None, head_before: None, ..w.clone() }
            }
        };
        move_to(state, &next, "paying").await?;
        tracing::info!(withdrawal = %w.id, status = %next.status, "interrupted payment resolved");
    }
    Ok(paying.len())
}

/// The first `withdraw` of `w`'s member and amount journaled after `w.head_before` and not in
/// `claimed`.
async fn find_journaled(state: &Arc<AppState>, w: &Withdrawal, claimed: Vec<u64>) -> ApiResult<Option<u64>> {
    let after = w.head_before.unwrap_or(0);
    let (member, amount) = (w.member.clone(), w.amount_fen);
    state
        .read(move |b| {
            let mut found = None;
            zengzhi_journal::recovery::scan_entries(b, after, |entry| {
                if claimed.contains(&entry.seq) {
                    return Ok(ControlFlow::Continue(()));
                }
                if let Ok(parsed) = parse_line(entry.command.as_bytes()) {
                    if let Command::Withdraw { member: m, amount_fen } = parsed.command {
                        if m == member.as_str() && amount_fen == Fen::from_fen(amount) {
                            found = Some(entry.seq);
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                }
                Ok(ControlFlow::Continue(()))
            })?;
            Ok(found)
        })
        .await
}
