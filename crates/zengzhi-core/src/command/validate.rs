//! The checks of a command's values, ids and `at` times.

use std::borrow::Cow;

use super::{Command, SellQty};
use crate::error::Rejection;
use crate::num::{Fen, Ppm, MAX_MONEY_ARG_FEN, MAX_POINTS_ARG_UNITS};

impl Command<'_> {
    /// Checks the values a command read from a line is guaranteed to have (ids, amount ranges,
    /// rates, regions), with the codes the reader gives. Commands built in code go through the
    /// same gate in `Engine::apply`, so no value the replay format cannot carry is ever applied.
    pub fn check(&self) -> Result<(), Rejection> {
        let id = |s: &str| if valid_id(s) { Ok(()) } else { Err(Rejection::InvalidCommand) };
        let opt_id = |s: &Option<Cow<'_, str>>| s.as_deref().map_or(Ok(()), id);
        let money = |v: Fen, min: i64| {
            if (min..=MAX_MONEY_ARG_FEN).contains(&v.to_fen()) {
                Ok(())
            } else {
                Err(Rejection::InvalidAmount)
            }
        };
        let rate = |v: Ppm| if (Ppm::ZERO..=Ppm::ONE).contains(&v) { Ok(()) } else { Err(Rejection::InvalidAmount) };
        let region = |v: u32| if v <= 999_999 { Ok(()) } else { Err(Rejection::InvalidRegion) };
        match self {
            Command::RegisterMember { member, referrer } => {
                id(member)?;
                opt_id(referrer)
            }
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region: r } => {
                id(merchant)?;
                opt_id(owner)?;
                opt_id(recruiter)?;
                commission_ppm.map_or(Ok(()), rate)?;
                r.map_or(Ok(()), region)
            }
            Command::AppointAgent { member, region: r, .. } => {
                id(member)?;
                region(*r)
            }
            Command::SetShareholder { member, .. } => id(member),
            Command::GrantCoins { member, amount_fen }
            | Command::Redeem { member, amount_fen }
            | Command::Withdraw { member, amount_fen } => {
                id(member)?;
                money(*amount_fen, 1)
            }
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => {
                id(order)?;
                id(member)?;
                opt_id(merchant)?;
                if merchant.is_none() && commission_fen.is_none() {
                    return Err(Rejection::InvalidCommand);
                }
                money(*amount_fen, 1)?;
                commission_fen.map_or(Ok(()), |c| money(c, 0))?;
                money(*pay_cash_fen, 0)?;
                money(*pay_coins_fen, 0)
            }
            Command::Sell { member, points } => {
                id(member)?;
                match points {
                    SellQty::Units(q) if !(1..=MAX_POINTS_ARG_UNITS).contains(&q.to_units()) => {
                        Err(Rejection::InvalidAmount)
                    }
                    _ => Ok(()),
                }
            }
            Command::Inject { amount_fen } => money(*amount_fen, 1),
            Command::StartCampaign { campaign, rate_ppm, budget_fen } => {
                id(campaign)?;
                rate(*rate_ppm)?;
                money(*budget_fen, 1)
            }
            Command::EndCampaign
            | Command::ReleaseLocked
            | Command::DistributeDividends
            | Command::UpdateRules { .. } => Ok(()),
        }
    }
}

/// Is `id` a valid id: 1 to 64 characters of `[A-Za-z0-9_.:-]`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Is `at` an RFC 3339 date-time as SPEC §10 reads it.
pub fn valid_at(at: &str) -> bool {
    unix_seconds(at).is_some()
}

/// Seconds from Beijing midnight to UTC midnight: Beijing time is UTC+8 all year.
const BEIJING_OFFSET_S: i64 = 8 * 3600;

/// The Beijing calendar day of `at` (days since 1970-01-01 in Beijing time); `None` when `at`
/// is not a date-time that SPEC §10 reads. A leap second (`:60`) counts as the next second.
pub fn beijing_day(at: &str) -> Option<i64> {
    Some((unix_seconds(at)? + BEIJING_OFFSET_S).div_euclid(86_400))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 date-time as SPEC §10 reads it (the
/// fraction dropped); `None` when it is not one.
fn unix_seconds(at: &str) -> Option<i64> {
    let b = at.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        s.iter().all(u8::is_ascii_digit).then(|| s.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19))
    else {
        return None;
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_s = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            if b.len() != i + 6 || b[i + 3] != b':' {
                return None;
            }
            let (Some(h), Some(m)) = (num(i + 1..i + 3), num(i + 4..i + 6)) else {
                return None;
            };
            if h > 23 || m > 59 {
                return None;
            }
            let s = i64::from(h * 3600 + m * 60);
            if sign == b'-' {
                -s
            } else {
                s
            }
        }
        _ => return None,
    };
    let local = days_from_civil(i64::from(year), i64::from(month), i64::from(day)) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second);
    Some(local - offset_s)
}
