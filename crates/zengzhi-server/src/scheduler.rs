//! The scheduler: daily `release_locked` and `distribute_dividends` at configured Beijing times.
//! Each run is an ordinary journaled command.
//!
//! A job runs once a day, at its time or, if the service was down then, as soon as it is up
//! again that day. The day of its last run is stored (setting `scheduler.JOB`) *before* the
//! command is submitted, so a restart — even within the same minute — never runs it twice; a
//! submission that fails clears the mark so the next check tries again.

use std::sync::Arc;
use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};
use zengzhi_core::Command;

use crate::error::ApiResult;
use crate::AppState;

/// Beijing time now, as (date, "HH:MM").
fn beijing_now() -> (time::Date, String) {
    let offset = UtcOffset::from_hms(8, 0, 0).expect("valid offset");
    let now = OffsetDateTime::now_utc().to_offset(offset);
    (now.date(), format!("{:02}:{:02}", now.hour(), now.minute()))
}

/// Whether a job scheduled at `at` ("HH:MM") and last run on `last` is due at (`today`, `hhmm`).
pub fn due(at: &str, last: Option<&str>, today: &str, hhmm: &str) -> bool {
    hhmm >= at && last.map_or(true, |last| last < today)
}

fn setting_name(job: &str) -> String {
    format!("scheduler.{job}")
}

async fn last_run(state: &Arc<AppState>, job: &'static str) -> ApiResult<Option<String>> {
    let v = state.read(move |b| b.setting(&setting_name(job))).await?;
    Ok(v.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

async fn mark(state: &Arc<AppState>, job: &'static str, day: String) -> ApiResult<()> {
    state.read(move |b| b.put_setting(&setting_name(job), day.as_bytes())).await
}

async fn run_if_due(state: &Arc<AppState>, at: &str, job: &'static str) -> ApiResult<()> {
    let (today, hhmm) = beijing_now();
    let today = today.to_string();
    let last = last_run(state, job).await?;
    if !due(at, last.as_deref(), &today, &hhmm) {
        return Ok(());
    }
    mark(state, job, today.clone()).await?;
    let command = match job {
        "release_locked" => Command::ReleaseLocked,
        _ => Command::DistributeDividends,
    };
    match state.submit_one(command).await {
        Ok(o) => {
            tracing::info!(job, seq = ?o.seq, "scheduled job ran");
            state.audit_system("scheduler", job, format!("daily at {at} Asia/Shanghai, {today}")).await;
            Ok(())
        }
        Err(e) => {
            // Not journaled: unmark, so the next check runs it.
            mark(state, job, last.unwrap_or_default()).await?;
            Err(e)
        }
    }
}

/// The next run of a job at `at` ("HH:MM") last run on `last`, as Beijing "YYYY-MM-DD HH:MM"
/// (today when it is due or still to come today, else tomorrow).
pub fn next_run(at: &str, last: Option<&str>, today: time::Date, _hhmm: &str) -> String {
    let today_text = today.to_string();
    let ran_today = last.is_some_and(|l| l >= today_text.as_str());
    let day = if ran_today { today.next_day().unwrap_or(today) } else { today };
    format!("{day} {at}")
}

/// The configured scheduled jobs, with their last and next runs and the last result (from the
/// operation log).
pub async fn scheduled(state: &Arc<AppState>) -> ApiResult<Vec<crate::routes::insight::ScheduledJob>> {
    let (today, hhmm) = beijing_now();
    let mut out = Vec::new();
    for (at, job) in [
        (state.config.release_locked_at.clone(), "release_locked"),
        (state.config.dividends_at.clone(), "distribute_dividends"),
    ] {
        let Some(at) = at else { continue };
        let last = last_run(state, job).await?.filter(|l| !l.is_empty());
        let last_result = state
            .read(move |b| {
                b.audit_entries(&crate::store::AuditFilter {
                    who: Some("scheduler"),
                    action: Some(job),
                    limit: 100_000,
                    ..Default::default()
                })
            })
            .await?
            .pop()
            .map(|r| format!("ok: {}", r.detail));
        out.push(crate::routes::insight::ScheduledJob {
            name: job.to_string(),
            interval: format!("daily at {at} Asia/Shanghai"),
            next_run: next_run(&at, last.as_deref(), today, &hhmm),
            at,
            last_run: last,
            last_result,
        });
    }
    Ok(out)
}

/// Starts the scheduler task (checks at once, then every 20 seconds).
pub fn spawn(state: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    let jobs: Vec<(String, &'static str)> = [
        (state.config.release_locked_at.clone(), "release_locked"),
        (state.config.dividends_at.clone(), "distribute_dividends"),
    ]
    .into_iter()
    .filter_map(|(at, job)| at.map(|at| (at, job)))
    .collect();
    if jobs.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            for (at, job) in &jobs {
                if let Err(e) = run_if_due(&state, at, job).await {
                    tracing::error!(job, code = e.code.as_str(), message = %e.message, "scheduled job failed");
                }
            }
            tokio::time::sleep(Duration::from_secs(20)).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::{due, next_run};

    #[test]
    fn the_next_run_is_today_until_it_ran_today() {
        let today = time::Date::from_calendar_date(2026, time::Month::December, 1).unwrap();
        assert_eq!(next_run("09:30", None, today, "08:00"), "2026-12-01 09:30");
        assert_eq!(next_run("09:30", Some("2026-11-30"), today, "10:00"), "2026-12-01 09:30", "due now");
        assert_eq!(next_run("09:30", Some("2026-12-01"), today, "10:00"), "2026-12-02 09:30");
    }

    #[test]
    fn a_job_is_due_once_a_day_at_or_after_its_time() {
        assert!(!due("09:30", None, "2026-12-01", "09:29"), "not before its time");
        assert!(due("09:30", None, "2026-12-01", "09:30"));
        assert!(due("09:30", None, "2026-12-01", "23:59"), "late, after a stop, the same day");
        assert!(!due("09:30", Some("2026-12-01"), "2026-12-01", "09:30"), "not twice a day");
        assert!(due("09:30", Some("2026-11-30"), "2026-12-01", "09:31"));
        assert!(!due("09:30", Some("2026-11-30"), "2026-12-01", "00:05"), "a new day waits for the time");
        assert!(due("00:00", Some(""), "2026-12-01", "00:00"), "an unmarked failure is due again");
    }
}
