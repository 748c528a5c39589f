//! CSV exports for operators (scope `readonly` or `admin`):
//!
//! - `members.csv` — every member's balances now;
//! - `orders.csv` — the settled orders from the query tables, by journal position, optionally
//!   between two dates (Beijing time, inclusive) or after a journal position;
//! - `holdings.csv?date=YYYY-MM-DD` — every member's balances at the end of a record date
//!   (Beijing time): the journal is re-applied up to, not including, its first entry stamped
//!   after that day, on a connection of its own, so the service keeps running meanwhile.
//!   The response header `x-zengzhi-through-seq` names the last entry included.
//!
//! Orders and holdings are streamed a block at a time; a failure halfway ends the response
//! early (the client sees a truncated body, never a made-up row).

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::{Date, OffsetDateTime};
use zengzhi_core::num::{format_money, format_points, Fen, Units};
use zengzhi_core::{Engine, Rules};
use zengzhi_journal::backend::Backend;
use zengzhi_journal::time_fmt::parse_at;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Bytes per streamed block.
const BLOCK: usize = 64 * 1024;

pub const MEMBER_HEADER: &str = "member,points,locked,cash,coins,cycle_consumption,cycle_realized,lifetime_consumption,exits,rewards";

/// One member's CSV row (the columns of [`MEMBER_HEADER`]), with the held value at the end
/// when `value` is set.
pub fn member_row(e: &Engine, index: u32, value: bool, out: &mut String) {
    let m = &e.members()[index as usize];
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{}",
        e.member_id(index),
        format_points(m.points),
        format_points(m.locked),
        format_money(m.cash_fen),
        format_money(m.coins_fen),
        format_money(m.cycle_consumption_fen),
        format_money(m.cycle_realized_fen),
        format_money(m.lifetime_consumption_fen),
        m.exits,
        format_money(m.rewards_fen)
    );
    if value {
        let _ = write!(out, ",{}", format_money(e.held_value_fen(m)));
    }
    out.push('\n');
}

fn csv_headers(filename: &str) -> ApiResult<[(HeaderName, HeaderValue); 2]> {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")).map_err(ApiError::internal)?;
    Ok([
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, disposition),
    ])
}

/// A streamed body: `produce` runs on a blocking thread and hands over text with `send`, which
/// returns `false` once the client has gone (then `produce` should stop).
fn stream(produce: impl FnOnce(&mut dyn FnMut(String) -> bool) -> Result<(), String> + Send + 'static) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut send = |text: String| tx.blocking_send(Ok(Bytes::from(text))).is_ok();
        if let Err(why) = produce(&mut send) {
            tracing::error!(%why, "CSV export failed halfway");
            let _ = tx.blocking_send(Err(std::io::Error::other(why)));
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Members now.
pub async fn members_csv(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Response> {
    crate::api::read_key(&state, &headers).await?;
    let text = state
        .query(|e| {
            let mut out = format!("{MEMBER_HEADER}\n");
            for i in e.members_by_id() {
                member_row(e, i, false, &mut out);
            }
            out
        })
        .await?;
    Ok((csv_headers("members.csv")?, text).into_response())
}

fn parse_date(text: &str, name: &str) -> ApiResult<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .map_err(|_| ApiError::bad_request("invalid_query", format!("{name} must be a date YYYY-MM-DD / {name} 须为 YYYY-MM-DD 日期")))
}

/// The first instant after `date` in Beijing time.
fn end_of_day(date: Date) -> ApiResult<OffsetDateTime> {
    let next = date.next_day().ok_or_else(|| ApiError::bad_request("invalid_query", "date out of range / 日期超出范围"))?;
    Ok(next.midnight().assume_offset(time::macros::offset!(+8)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only orders journaled after this entry.
    after_seq: Option<u64>,
    /// First and last day (Beijing time) of the orders' `at`.
    from: Option<String>,
    to: Option<String>,
}

/// Settled orders, by journal position.
pub async fn orders_csv(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<OrdersQuery>) -> ApiResult<Response> {
    crate::api::read_key(&state, &headers).await?;
    let from = q.from.as_deref().map(|d| parse_date(d, "from")).transpose()?;
    let to = q.to.as_deref().map(|d| parse_date(d, "to")).transpose()?;
    let start = from.map(|d| d.midnight().assume_offset(time::macros::offset!(+8)));
    let end = to.map(end_of_day).transpose()?;
    // The rows of the query tables, which trail the journal by a moment.
    state.wait_projected(std::time::Duration::from_secs(2)).await;
    let config = state.config.clone();
    let body = stream(move |send| {
        let mut backend = config.open_backend().map_err(|e| e.to_string())?;
        let mut out = String::from("seq,order,member,merchant,amount,commission,points_minted,at\n");
        let mut after = q.after_seq.unwrap_or(0);
        loop {
            let page = backend.orders_after(after, 5_000).map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for r in &page {
                let t = parse_at(&r.at);
                if start.is_some_and(|s| t.is_some_and(|t| t < s)) || end.is_some_and(|e| t.is_some_and(|t| t >= e)) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    r.seq,
                    r.order_id,
                    r.member,
                    r.merchant.as_deref().unwrap_or(""),
                    format_money(Fen::from_fen(r.amount_fen)),
                    format_money(Fen::from_fen(r.commission_fen)),
                    format_points(Units::from_units(r.minted_units)),
                    r.at
                );
                if out.len() >= BLOCK && !send(std::mem::take(&mut out)) {
                    return Ok(());
                }
            }
        }
        send(out);
        Ok(())
    });
    Ok((csv_headers("orders.csv")?, body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldingsQuery {
    date: Option<String>,
}

/// The engine after the journal's prefix stamped before `cutoff`, and that prefix's last seq.
fn state_before(backend: &mut dyn Backend, cutoff: OffsetDateTime) -> zengzhi_journal::Result<(Engine, u64)> {
    let mut engine = Engine::new(Rules::default());
    let mut through = 0;
    zengzhi_journal::recovery::scan_entries(backend, 0, |entry| {
        if parse_at(&entry.at).is_some_and(|t| t >= cutoff) {
            return Ok(ControlFlow::Break(()));
        }
        zengzhi_journal::recovery::reapply(&mut engine, entry.seq, &entry.command)?;
        through = entry.seq;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok((engine, through))
}

/// Every member's balances at the end of a record date.
pub async fn holdings_csv(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Query<HoldingsQuery>) -> ApiResult<Response> {
    crate::api::read_key(&state, &headers).await?;
    let text = q.date.ok_or_else(|| ApiError::bad_request("invalid_query", "date=YYYY-MM-DD is required / 需要 date 参数"))?;
    let date = parse_date(&text, "date")?;
    let cutoff = end_of_day(date)?;
    let config = state.config.clone();
    let (engine, through) = tokio::task::spawn_blocking(move || -> zengzhi_journal::Result<_> {
        let mut backend = config.open_backend()?;
        state_before(backend.as_mut(), cutoff)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)?;
    let body = stream(move |send| {
        let mut out = format!("{MEMBER_HEADER},value\n");
        for i in engine.members_by_id() {
            member_row(&engine, i, true, &mut out);
            if out.len() >= BLOCK && !send(std::mem::take(&mut out)) {
                return Ok(());
            }
        }
        send(out);
        Ok(())
    });
    let mut response = (csv_headers(&format!("holdings-{text}.csv"))?, body).into_response();
    response.headers_mut().insert("x-zengzhi-through-seq", HeaderValue::from(through));
    Ok(response)
}
