//! Times: the writer's clock stamp, and candle buckets.
//!
//! Candle intervals are cut in China Standard Time (UTC+08:00, no daylight saving), the time
//! the platforms and their members live in: a day candle runs from 00:00 to 24:00 Beijing time.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// Now, UTC, RFC 3339 with milliseconds (`2026-11-26T01:02:03.456Z`).
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let ms = now.millisecond();
    let now = now.replace_nanosecond(u32::from(ms) * 1_000_000).unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Parses an `at` the engine accepted (SPEC §10: `T`, `t` or a space, `z`, second 60).
pub fn parse_at(at: &str) -> Option<OffsetDateTime> {
    let mut s: Vec<u8> = at.as_bytes().to_vec();
    if s.len() > 10 && matches!(s[10], b' ' | b't') {
        s[10] = b'T';
    }
    if s.last() == Some(&b'z') {
        *s.last_mut()? = b'Z';
    }
    // A leap second counts as the last second of its minute.
    if s.get(17..19) == Some(b"60") {
        s[17] = b'5';
        s[18] = b'9';
    }
    OffsetDateTime::parse(std::str::from_utf8(&s).ok()?, &Rfc3339).ok()
}

/// The start of the minute, hour or day (Beijing time) containing `t`, as RFC 3339 with
/// `+08:00`.
pub fn bucket_start(t: OffsetDateTime, interval: crate::backend::Interval) -> String {
    use crate::backend::Interval;
    // Near the end of the calendar (9999-12-31 after 16:00 UTC) Beijing time does not exist in
    // the library's range: such times are bucketed in UTC instead of panicking.
    let local = t.checked_to_offset(CST).unwrap_or(t);
    let start = match interval {
        Interval::Minute => local.replace_second(0).and_then(|x| x.replace_nanosecond(0)),
        Interval::Hour => {
            local.replace_minute(0).and_then(|x| x.replace_second(0)).and_then(|x| x.replace_nanosecond(0))
        }
        Interval::Day => local.replace_time(time::Time::MIDNIGHT).replace_nanosecond(0),
    }
    .unwrap_or(local);
    start.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Interval;

    #[test]
    fn buckets_in_beijing_time() {
        let t = parse_at("2026-11-25 23:30:15.5z").unwrap();
        assert_eq!(bucket_start(t, Interval::Minute), "2026-11-26T07:30:00+08:00");
        assert_eq!(bucket_start(t, Interval::Hour), "2026-11-26T07:00:00+08:00");
        assert_eq!(bucket_start(t, Interval::Day), "2026-11-26T00:00:00+08:00");
        assert!(parse_at("2024-02-29T23:59:60Z").is_some());
        assert!(parse_at(&now_rfc3339()).is_some());
        assert!(zengzhi_core::command::valid_at(&now_rfc3339()));
        let end = parse_at("9999-12-31T20:00:00Z").unwrap();
        assert_eq!(bucket_start(end, Interval::Day), "9999-12-31T00:00:00Z");
    }
}
