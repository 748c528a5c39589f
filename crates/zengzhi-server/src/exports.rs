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
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderName, HeaderValue};
use time::{Date, OffsetDateTime};
use zengzhi_core::num::{format_money, format_points};
use zengzhi_core::Engine;

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::AppState;

/// Bytes per streamed block.
pub(crate) const BLOCK: usize = 64 * 1024;

pub const MEMBER_HEADER: &str =
    "member,points,locked,cash,coins,cycle_consumption,cycle_realized,lifetime_consumption,exits,rewards";

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

pub(crate) fn csv_headers(filename: &str) -> ApiResult<[(HeaderName, HeaderValue); 2]> {
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")).map_err(ApiError::internal)?;
    Ok([
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, disposition),
    ])
}

/// A streamed body: `produce` runs on a blocking thread and hands over text with `send`, which
/// returns `false` once the client has gone (then `produce` should stop).
pub(crate) fn stream(
    produce: impl FnOnce(&mut dyn FnMut(String) -> bool) -> Result<(), String> + Send + 'static,
) -> Body {
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

pub(crate) fn parse_date(text: &str, name: &str) -> ApiResult<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).map_err(|_| {
        ApiError::bad_request(
            ApiCode::InvalidQuery,
            format!("{name} must be a date YYYY-MM-DD / {name} 须为 YYYY-MM-DD 日期"),
        )
    })
}

/// The first instant after `date` in Beijing time.
pub(crate) fn end_of_day(date: Date) -> ApiResult<OffsetDateTime> {
    let next = date
        .next_day()
        .ok_or_else(|| ApiError::bad_request(ApiCode::InvalidQuery, "date out of range / 日期超出范围"))?;
    Ok(next.midnight().assume_offset(time::macros::offset!(+8)))
}

/// The engine at the journal's head, rebuilt on a pooled connection from the newest snapshot
/// and the journal after it: full reads never pause the writer.
async fn engine_now(state: &Arc<AppState>) -> ApiResult<Engine> {
    Ok(state.read(|b| zengzhi_journal::recovery::engine_at_head(b)).await?.0)
}

/// `members.csv`: every member's balances at the journal's head.
pub async fn members_text(state: &Arc<AppState>) -> ApiResult<String> {
    let engine = engine_now(state).await?;
    tokio::task::spawn_blocking(move || {
        let mut out = format!("{MEMBER_HEADER}\n");
        for i in engine.members_by_id() {
            member_row(&engine, i, false, &mut out);
        }
        out
    })
    .await
    .map_err(ApiError::internal)
}

/// The full state (SPEC §8, without results) at the journal's head, as JSON text.
pub async fn state_text(state: &Arc<AppState>) -> ApiResult<Vec<u8>> {
    let engine = engine_now(state).await?;
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        zengzhi_core::state::write_state(&engine, None, &mut out).map(|()| out)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}
