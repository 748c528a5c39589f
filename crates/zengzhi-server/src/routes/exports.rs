//! CSV exports for operators (a `readonly` key, or admin): members now, settled orders,
//! holdings at the end of a record date. See [`crate::exports`].

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use zengzhi_core::num::{format_money, format_points, Fen, Units};
use zengzhi_journal::time_fmt::parse_at;

use super::{ApiRouter, Q};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::exports::{csv_headers, end_of_day, member_row, parse_date, stream, BLOCK, MEMBER_HEADER};
use crate::guards::CanRead;
use crate::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> ApiRouter {
    crate::routes![members_csv, orders_csv, holdings_csv]
}

/// 导出会员 CSV / Members as CSV
///
/// With any of the member list's filters or sort (`GET /v1/admin/members`; pages ignored), the
/// matching members in the list's order with the list's columns.
#[utoipa::path(get, path = "/v1/admin/export/members.csv", tag = "exports", params(super::members::MembersQuery),
    responses((status = 200, description = "member,points,locked,cash,coins,cycle_consumption,cycle_realized,lifetime_consumption,exits,rewards; filtered: member,points,locked,value_now,cash,coins,cycle_consumption,cycle_realized,cap,cap_progress,exits,referrer,direct_referrals,joined_at,store,status", body = String, content_type = "text/csv")))]
pub async fn members_csv(_: CanRead, State(state): S, Q(q): Q<super::members::MembersQuery>) -> ApiResult<Response> {
    let text = if q.filtered() {
        super::members::members_csv_text(&state, &q).await?
    } else {
        crate::exports::members_text(&state).await?
    };
    Ok((csv_headers("members.csv")?, text).into_response())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Only orders journaled after this entry.
    after_seq: Option<u64>,
    /// First day (YYYY-MM-DD, Beijing time) of the orders' `at`.
    from: Option<String>,
    /// Last day (YYYY-MM-DD, Beijing time), inclusive.
    to: Option<String>,
    /// Only this store's orders.
    store: Option<String>,
    /// Only this member's orders.
    member: Option<String>,
}

/// 导出订单 CSV / Settled orders as CSV, by journal position
#[utoipa::path(get, path = "/v1/admin/export/orders.csv", tag = "exports", params(OrdersQuery),
    responses((status = 200, description = "seq,order,member,merchant,amount,commission,points_minted,at", body = String, content_type = "text/csv")))]
pub async fn orders_csv(_: CanRead, State(state): S, Q(q): Q<OrdersQuery>) -> ApiResult<Response> {
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
                if start.is_some_and(|s| t.is_some_and(|t| t < s))
                    || end.is_some_and(|e| t.is_some_and(|t| t >= e))
                    || q.member.as_ref().is_some_and(|m| r.member != *m)
                    || q.store.as_ref().is_some_and(|s| r.merchant.as_deref() != Some(s.as_str()))
                {
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HoldingsQuery {
    /// The record date, YYYY-MM-DD (Beijing time). Required.
    date: Option<String>,
}

/// 导出登记日持仓 CSV / Every member's balances at the end of a record date
///
/// The header `x-zengzhi-through-seq` names the last journal entry included.
#[utoipa::path(get, path = "/v1/admin/export/holdings.csv", tag = "exports", params(HoldingsQuery),
    responses((status = 200, description = "The members' columns and value", body = String, content_type = "text/csv")))]
pub async fn holdings_csv(_: CanRead, State(state): S, Q(q): Q<HoldingsQuery>) -> ApiResult<Response> {
    let text = q
        .date
        .ok_or_else(|| ApiError::bad_request(ApiCode::InvalidQuery, "date=YYYY-MM-DD is required / 需要 date 参数"))?;
    let date = parse_date(&text, "date")?;
    let cutoff = end_of_day(date)?;
    let config = state.config.clone();
    let (engine, through) = tokio::task::spawn_blocking(move || -> zengzhi_journal::Result<_> {
        let mut backend = config.open_backend()?;
        zengzhi_journal::recovery::engine_before(backend.as_mut(), cutoff)
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
