//! The scheduler: daily `release_locked` and `distribute_dividends` at configured Beijing times.
//! Each run is an ordinary journaled command.

use std::sync::Arc;
use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};
use zengzhi_core::Command;

use crate::AppState;

/// Beijing time now, as (date, "HH:MM").
fn beijing_now() -> (time::Date, String) {
    let offset = UtcOffset::from_hms(8, 0, 0).expect("valid offset");
    let now = OffsetDateTime::now_utc().to_offset(offset);
    (now.date(), format!("{:02}:{:02}", now.hour(), now.minute()))
}

/// Starts the scheduler task (checks every 20 seconds; runs each job at most once a day).
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
        let mut last_run: Vec<Option<time::Date>> = vec![None; jobs.len()];
        loop {
            let (today, hhmm) = beijing_now();
            for (i, (at, job)) in jobs.iter().enumerate() {
                if *at == hhmm && last_run[i] != Some(today) {
                    last_run[i] = Some(today);
                    let command = match *job {
                        "release_locked" => Command::ReleaseLocked,
                        _ => Command::DistributeDividends,
                    };
                    match state.submit_one(command).await {
                        Ok(o) => tracing::info!(job, seq = ?o.seq, "scheduled job ran"),
                        Err(e) => tracing::error!(job, code = e.code, "scheduled job failed"),
                    }
                    state.audit("scheduler".into(), job, format!("daily at {at} Asia/Shanghai")).await;
                }
            }
            tokio::time::sleep(Duration::from_secs(20)).await;
        }
    }))
}
