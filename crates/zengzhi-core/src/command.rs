//! Commands (SPEC §6) and their strict reading from one JSON line (SPEC §10).

use std::borrow::Cow;

use crate::error::Rejection;
use crate::json::{self, Json};
use crate::num::{format_money, format_points, format_rate, parse_money, parse_points, parse_rate, PPM};
use crate::rules::{doc_from_json, RuleDoc};

/// An agent level; the discriminant is the bit used in a member's set of held levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    District = 1,
    City = 2,
    Province = 4,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "district" => Some(Level::District),
            "city" => Some(Level::City),
            "province" => Some(Level::Province),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::City => "city",
            Level::Province => "province",
        }
    }

    /// The region code normalised to this level: province `PP0000`, city `PPCC00`,
    /// district `PPCCDD`.
    pub fn normalise(self, region: u32) -> u32 {
        match self {
            Level::District => region,
            Level::City => region / 100 * 100,
            Level::Province => region / 10_000 * 10_000,
        }
    }
}

/// How many points a sale is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SellQty {
    All,
    Units(i64),
}

/// One command, with every value already in exact units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    RegisterMember {
        member: Cow<'a, str>,
        referrer: Option<Cow<'a, str>>,
    },
    RegisterMerchant {
        merchant: Cow<'a, str>,
        commission_ppm: Option<i64>,
        owner: Option<Cow<'a, str>>,
        recruiter: Option<Cow<'a, str>>,
        region: Option<u32>,
    },
    AppointAgent {
        member: Cow<'a, str>,
        level: Level,
        region: u32,
    },
    SetShareholder {
        member: Cow<'a, str>,
        weight: u32,
    },
    GrantCoins {
        member: Cow<'a, str>,
        amount_fen: i64,
    },
    Order {
        order: Cow<'a, str>,
        member: Cow<'a, str>,
        merchant: Option<Cow<'a, str>>,
        amount_fen: i64,
        commission_fen: Option<i64>,
        pay_cash_fen: i64,
        pay_coins_fen: i64,
    },
    Sell {
        member: Cow<'a, str>,
        points: SellQty,
    },
    Redeem {
        member: Cow<'a, str>,
        amount_fen: i64,
    },
    Withdraw {
        member: Cow<'a, str>,
        amount_fen: i64,
    },
    Inject {
        amount_fen: i64,
    },
    StartCampaign {
        campaign: Cow<'a, str>,
        rate_ppm: i64,
        budget_fen: i64,
    },
    EndCampaign,
    ReleaseLocked,
    DistributeDividends,
    UpdateRules {
        rules: RuleDoc,
    },
}

impl Command<'_> {
    /// This command with every borrowed string copied: it no longer borrows its input.
    pub fn into_owned(self) -> Command<'static> {
        fn o(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Command::RegisterMember { member, referrer } => Command::RegisterMember { member: o(member), referrer: referrer.map(o) },
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region } => Command::RegisterMerchant {
                merchant: o(merchant),
                commission_ppm,
                owner: owner.map(o),
                recruiter: recruiter.map(o),
                region,
            },
            Command::AppointAgent { member, level, region } => Command::AppointAgent { member: o(member), level, region },
            Command::SetShareholder { member, weight } => Command::SetShareholder { member: o(member), weight },
            Command::GrantCoins { member, amount_fen } => Command::GrantCoins { member: o(member), amount_fen },
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => Command::Order {
                order: o(order),
                member: o(member),
                merchant: merchant.map(o),
                amount_fen,
                commission_fen,
                pay_cash_fen,
                pay_coins_fen,
            },
            Command::Sell { member, points } => Command::Sell { member: o(member), points },
            Command::Redeem { member, amount_fen } => Command::Redeem { member: o(member), amount_fen },
            Command::Withdraw { member, amount_fen } => Command::Withdraw { member: o(member), amount_fen },
            Command::Inject { amount_fen } => Command::Inject { amount_fen },
            Command::StartCampaign { campaign, rate_ppm, budget_fen } => {
                Command::StartCampaign { campaign: o(campaign), rate_ppm, budget_fen }
            }
            Command::EndCampaign => Command::EndCampaign,
            Command::ReleaseLocked => Command::ReleaseLocked,
            Command::DistributeDividends => Command::DistributeDividends,
            Command::UpdateRules { rules } => Command::UpdateRules { rules },
        }
    }

    /// Checks the values a command read from a line is guaranteed to have (ids, amount ranges,
    /// rates, regions), with the codes the reader gives. Commands built in code go through the
    /// same gate in `Engine::apply`, so no value the replay format cannot carry is ever applied.
    pub fn check(&self) -> Result<(), Rejection> {
        use crate::num::{MAX_MONEY_ARG_FEN, MAX_POINTS_ARG_UNITS};
        let id = |s: &str| if valid_id(s) { Ok(()) } else { Err(Rejection::InvalidCommand) };
        let opt_id = |s: &Option<Cow<'_, str>>| s.as_deref().map_or(Ok(()), id);
        let money = |v: i64, min: i64| if (min..=MAX_MONEY_ARG_FEN).contains(&v) { Ok(()) } else { Err(Rejection::InvalidAmount) };
        let rate = |v: i64| if (0..=PPM).contains(&v) { Ok(()) } else { Err(Rejection::InvalidAmount) };
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
            Command::GrantCoins { member, amount_fen } | Command::Redeem { member, amount_fen } | Command::Withdraw { member, amount_fen } => {
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
                    SellQty::Units(q) if !(1..=MAX_POINTS_ARG_UNITS).contains(q) => Err(Rejection::InvalidAmount),
                    _ => Ok(()),
                }
            }
            Command::Inject { amount_fen } => money(*amount_fen, 1),
            Command::StartCampaign { campaign, rate_ppm, budget_fen } => {
                id(campaign)?;
                rate(*rate_ppm)?;
                money(*budget_fen, 1)
            }
            Command::EndCampaign | Command::ReleaseLocked | Command::DistributeDividends | Command::UpdateRules { .. } => Ok(()),
        }
    }

    /// The `op` name of this command.
    pub fn op(&self) -> &'static str {
        match self {
            Command::RegisterMember { .. } => "register_member",
            Command::RegisterMerchant { .. } => "register_merchant",
            Command::AppointAgent { .. } => "appoint_agent",
            Command::SetShareholder { .. } => "set_shareholder",
            Command::GrantCoins { .. } => "grant_coins",
            Command::Order { .. } => "order",
            Command::Sell { .. } => "sell",
            Command::Redeem { .. } => "redeem",
            Command::Withdraw { .. } => "withdraw",
            Command::Inject { .. } => "inject",
            Command::StartCampaign { .. } => "start_campaign",
            Command::EndCampaign => "end_campaign",
            Command::ReleaseLocked => "release_locked",
            Command::DistributeDividends => "distribute_dividends",
            Command::UpdateRules { .. } => "update_rules",
        }
    }
}

impl Command<'_> {
    /// The canonical JSON line of this command (no newline): keys in a fixed order, money with
    /// 2 decimals, points with 8, rates with as few decimals as needed, optional fields left
    /// out when absent. `parse_line` reads it back to an equal command.
    pub fn to_json(&self, at: Option<&str>) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("{\"op\":\"");
        out.push_str(self.op());
        out.push('"');
        let mut put = |key: &str, value: &str| {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":\"");
            push_escaped(&mut out, value);
            out.push('"');
        };
        let money = |fen: i64| format_money(fen);
        match self {
            Command::RegisterMember { member, referrer } => {
                put("member", member);
                if let Some(r) = referrer {
                    put("referrer", r);
                }
            }
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region } => {
                put("merchant", merchant);
                if let Some(c) = commission_ppm {
                    put("commission", &format_rate(*c));
                }
                if let Some(o) = owner {
                    put("owner", o);
                }
                if let Some(r) = recruiter {
                    put("recruiter", r);
                }
                if let Some(r) = region {
                    put("region", &format!("{r:06}"));
                }
            }
            Command::AppointAgent { member, level, region } => {
                put("member", member);
                put("level", level.as_str());
                put("region", &format!("{region:06}"));
            }
            Command::SetShareholder { member, weight } => {
                put("member", member);
                out.push_str(&format!(",\"weight\":{weight}"));
            }
            Command::GrantCoins { member, amount_fen }
            | Command::Redeem { member, amount_fen }
            | Command::Withdraw { member, amount_fen } => {
                put("member", member);
                put("amount", &money(*amount_fen));
            }
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => {
                put("order", order);
                put("member", member);
                if let Some(m) = merchant {
                    put("merchant", m);
                }
                put("amount", &money(*amount_fen));
                if let Some(c) = commission_fen {
                    put("commission", &money(*c));
                }
                if *pay_cash_fen > 0 {
                    put("pay_cash", &money(*pay_cash_fen));
                }
                if *pay_coins_fen > 0 {
                    put("pay_coins", &money(*pay_coins_fen));
                }
            }
            Command::Sell { member, points } => {
                put("member", member);
                match points {
                    SellQty::All => put("points", "all"),
                    SellQty::Units(q) => put("points", &format_points(*q)),
                }
            }
            Command::Inject { amount_fen } => put("amount", &money(*amount_fen)),
            Command::StartCampaign { campaign, rate_ppm, budget_fen } => {
                put("campaign", campaign);
                put("rate", &format_rate(*rate_ppm));
                put("budget", &money(*budget_fen));
            }
            Command::EndCampaign | Command::ReleaseLocked | Command::DistributeDividends => {}
            Command::UpdateRules { rules } => {
                out.push_str(",\"rules\":{");
                for (n, (section, keys)) in rules.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    push_escaped(&mut out, section);
                    out.push_str("\":");
                    match keys {
                        None => out.push_str("null"),
                        Some(keys) => {
                            out.push('{');
                            for (k, (key, value)) in keys.iter().enumerate() {
                                if k > 0 {
                                    out.push(',');
                                }
                                out.push('"');
                                push_escaped(&mut out, key);
                                out.push_str("\":");
                                match value {
                                    None => out.push_str("null"),
                                    Some(v) => {
                                        out.push('"');
                                        push_escaped(&mut out, v);
                                        out.push('"');
                                    }
                                }
                            }
                            out.push('}');
                        }
                    }
                }
                out.push('}');
            }
        }
        if let Some(at) = at {
            out.push_str(",\"at\":\"");
            push_escaped(&mut out, at);
            out.push('"');
        }
        out.push('}');
        out
    }
}

/// Appends `s` as the inside of a JSON string (ASCII output: non-ASCII is `\u` escaped).
fn push_escaped(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
}

/// A command read from a line, with its optional `at` time (recorded, never used by the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub command: Command<'a>,
    pub at: Option<Cow<'a, str>>,
}

/// Is `id` a valid id: 1 to 64 characters of `[A-Za-z0-9_.:-]`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Is `at` an RFC 3339 date-time as SPEC §10 reads it.
pub fn valid_at(at: &str) -> bool {
    let b = at.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        s.iter().all(u8::is_ascii_digit).then(|| s.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19))
    else {
        return false;
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            if b.len() != i + 6 || b[i + 3] != b':' {
                return false;
            }
            matches!((num(i + 1..i + 3), num(i + 4..i + 6)), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

/// The fields of one command object, checked against the names its op allows.
struct Fields<'j, 'a> {
    obj: &'j [(Cow<'a, str>, Json<'a>)],
}

type Step<T> = Result<T, Rejection>;

impl<'j, 'a> Fields<'j, 'a> {
    fn raw(&self, name: &str) -> Option<&'j Json<'a>> {
        self.obj.iter().find(|(k, _)| k == name).map(|(_, v)| v).filter(|v| **v != Json::Null)
    }

    /// An optional string field (`null` = absent); another JSON type → `invalid_command`.
    fn opt_str(&self, name: &str) -> Step<Option<Cow<'a, str>>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Json::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Rejection::InvalidCommand),
        }
    }

    fn str(&self, name: &str) -> Step<Cow<'a, str>> {
        self.opt_str(name)?.ok_or(Rejection::InvalidCommand)
    }

    fn opt_id(&self, name: &str) -> Step<Option<Cow<'a, str>>> {
        match self.opt_str(name)? {
            Some(id) if !valid_id(&id) => Err(Rejection::InvalidCommand),
            other => Ok(other),
        }
    }

    fn id(&self, name: &str) -> Step<Cow<'a, str>> {
        self.opt_id(name)?.ok_or(Rejection::InvalidCommand)
    }
}

/// A money argument that must be > 0.
fn positive_money(text: &str) -> Step<i64> {
    parse_money(text).filter(|&v| v > 0).ok_or(Rejection::InvalidAmount)
}

fn money(text: &str) -> Step<i64> {
    parse_money(text).ok_or(Rejection::InvalidAmount)
}

fn rate(text: &str) -> Step<i64> {
    parse_rate(text, PPM).ok_or(Rejection::InvalidAmount)
}

fn region(text: &str) -> Step<u32> {
    if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().map_err(|_| Rejection::InvalidRegion)
    } else {
        Err(Rejection::InvalidRegion)
    }
}

/// A shareholder weight: a JSON integer from 0 to 2^32 − 1. Any other number is
/// `invalid_amount`; the type check (`invalid_command`) has already passed.
fn weight(number: &str) -> Step<u32> {
    let digits = number.strip_prefix('-').unwrap_or(number);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::InvalidAmount);
    }
    let negative = number.starts_with('-') && digits.bytes().any(|b| b != b'0');
    if negative {
        return Err(Rejection::InvalidAmount);
    }
    digits.parse::<u32>().map_err(|_| Rejection::InvalidAmount)
}

/// Reads one line (without its newline; a trailing `\r` is dropped) into a command.
pub fn parse_line(line: &[u8]) -> Result<Parsed<'_>, Rejection> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| Rejection::InvalidCommand)?;
    let value = json::parse(text).map_err(|_| Rejection::InvalidCommand)?;
    let Json::Obj(obj) = value else {
        return Err(Rejection::InvalidCommand);
    };
    // Commands borrow from `text`; the parsed object is dropped after reading.
    let parsed = read_object(&obj)?;
    Ok(parsed)
}

fn read_object<'a>(obj: &[(Cow<'a, str>, Json<'a>)]) -> Result<Parsed<'a>, Rejection> {
    let op = Fields { obj }.str("op")?;
    read_fields(&op, obj)
}

/// Reads the fields of an already parsed JSON object as the command `op` (the object must not
/// name an `op` of its own): what an API request body holds. Same rules as [`parse_line`].
pub fn parse_fields<'a>(op: &str, obj: &[(Cow<'a, str>, Json<'a>)]) -> Result<Parsed<'a>, Rejection> {
    if obj.iter().any(|(k, _)| k == "op") {
        return Err(Rejection::InvalidCommand);
    }
    read_fields(op, obj)
}

fn read_fields<'a>(op: &str, obj: &[(Cow<'a, str>, Json<'a>)]) -> Result<Parsed<'a>, Rejection> {
    let f = Fields { obj };
    let allowed: &[&str] = match op {
        "register_member" => &["member", "referrer"],
        "register_merchant" => &["merchant", "commission", "owner", "recruiter", "region"],
        "appoint_agent" => &["member", "level", "region"],
        "set_shareholder" => &["member", "weight"],
        "grant_coins" | "redeem" | "withdraw" => &["member", "amount"],
        "order" => &["order", "member", "merchant", "amount", "commission", "pay_cash", "pay_coins"],
        "sell" => &["member", "points"],
        "inject" => &["amount"],
        "start_campaign" => &["campaign", "rate", "budget"],
        "end_campaign" | "release_locked" | "distribute_dividends" => &[],
        "update_rules" => &["rules"],
        _ => return Err(Rejection::InvalidCommand),
    };
    if obj.iter().any(|(k, _)| k != "op" && k != "at" && !allowed.contains(&&**k)) {
        return Err(Rejection::InvalidCommand);
    }
    let at = f.opt_str("at")?;
    if at.as_deref().is_some_and(|a| !valid_at(a)) {
        return Err(Rejection::InvalidCommand);
    }
    let command = match op {
        "register_member" => Command::RegisterMember { member: f.id("member")?, referrer: f.opt_id("referrer")? },
        "register_merchant" => {
            let (merchant, commission, owner, recruiter, reg) = (
                f.id("merchant")?,
                f.opt_str("commission")?,
                f.opt_id("owner")?,
                f.opt_id("recruiter")?,
                f.opt_str("region")?,
            );
            Command::RegisterMerchant {
                merchant,
                commission_ppm: commission.as_deref().map(rate).transpose()?,
                owner,
                recruiter,
                region: reg.as_deref().map(region).transpose()?,
            }
        }
        "appoint_agent" => {
            let member = f.id("member")?;
            let level = Level::parse(&f.str("level")?).ok_or(Rejection::InvalidCommand)?;
            let reg = f.str("region")?;
            Command::AppointAgent { member, level, region: level.normalise(region(&reg)?) }
        }
        "set_shareholder" => {
            let member = f.id("member")?;
            let Some(Json::Num(n)) = f.raw("weight") else {
                return Err(Rejection::InvalidCommand);
            };
            Command::SetShareholder { member, weight: weight(n)? }
        }
        "grant_coins" | "redeem" | "withdraw" => {
            let member = f.id("member")?;
            let amount_fen = positive_money(&f.str("amount")?)?;
            match op {
                "grant_coins" => Command::GrantCoins { member, amount_fen },
                "redeem" => Command::Redeem { member, amount_fen },
                _ => Command::Withdraw { member, amount_fen },
            }
        }
        "order" => {
            let (order, member, merchant, amount, commission, pay_cash, pay_coins) = (
                f.id("order")?,
                f.id("member")?,
                f.opt_id("merchant")?,
                f.str("amount")?,
                f.opt_str("commission")?,
                f.opt_str("pay_cash")?,
                f.opt_str("pay_coins")?,
            );
            if merchant.is_none() && commission.is_none() {
                return Err(Rejection::InvalidCommand);
            }
            Command::Order {
                order,
                member,
                merchant,
                amount_fen: positive_money(&amount)?,
                commission_fen: commission.as_deref().map(money).transpose()?,
                pay_cash_fen: pay_cash.as_deref().map(money).transpose()?.unwrap_or(0),
                pay_coins_fen: pay_coins.as_deref().map(money).transpose()?.unwrap_or(0),
            }
        }
        "sell" => {
            let member = f.id("member")?;
            let points = f.str("points")?;
            let points = if points == "all" {
                SellQty::All
            } else {
                SellQty::Units(parse_points(&points).filter(|&q| q > 0).ok_or(Rejection::InvalidAmount)?)
            };
            Command::Sell { member, points }
        }
        "inject" => Command::Inject { amount_fen: positive_money(&f.str("amount")?)? },
        "start_campaign" => {
            let (campaign, r, budget) = (f.id("campaign")?, f.str("rate")?, f.str("budget")?);
            Command::StartCampaign { campaign, rate_ppm: rate(&r)?, budget_fen: positive_money(&budget)? }
        }
        "end_campaign" => Command::EndCampaign,
        "release_locked" => Command::ReleaseLocked,
        "distribute_dividends" => Command::DistributeDividends,
        "update_rules" => {
            let rules = f.raw("rules").and_then(doc_from_json).ok_or(Rejection::InvalidCommand)?;
            Command::UpdateRules { rules }
        }
        _ => unreachable!("op names are matched above"),
    };
    Ok(Parsed { command, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> Result<Command<'_>, &'static str> {
        parse_line(line.as_bytes()).map(|p| p.command).map_err(Rejection::code)
    }

    #[test]
    fn at_calendar() {
        for ok in [
            "2026-11-25T08:00:00+08:00",
            "2026-11-25 08:00:00.125+08:00",
            "2026-11-25t08:00:00z",
            "2024-02-29T23:59:60Z",
            "2000-02-29T00:00:00-23:59",
        ] {
            assert!(valid_at(ok), "{ok}");
        }
        for bad in [
            "yesterday",
            "2026-02-30T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T08:00:61Z",
            "2026-11-25T08:00:00",
            "2026-11-25T08:00:00.Z",
            "2026-11-25T08:00:00+24:00",
            "2026-11-25T08:00:00+08:60",
            "2026-11-25T08:00:00+0800",
            "2026-11-25T08:00:00Zx",
            "٢٠٢٦-11-25T08:00:00Z",
        ] {
            assert!(!valid_at(bad), "{bad}");
        }
    }

    #[test]
    fn field_rules() {
        assert_eq!(code(r#"{"op":"register_member","member":"u1","nickname":"Li"}"#), Err("invalid_command"));
        assert_eq!(code(r#"{"op":"inject","amount":100}"#), Err("invalid_command"));
        assert_eq!(code(r#"{"op":"inject","amount":"1e3"}"#), Err("invalid_amount"));
        assert_eq!(code(r#"{"op":"order","order":"o","member":"u","amount":"1"}"#), Err("invalid_command"));
        assert_eq!(code(r#"{"op":"set_shareholder","member":"u","weight":"2"}"#), Err("invalid_command"));
        assert_eq!(code(r#"{"op":"set_shareholder","member":"u","weight":1e2}"#), Err("invalid_amount"));
        assert_eq!(
            code(r#"{"op":"set_shareholder","member":"u","weight":-0}"#).unwrap(),
            Command::SetShareholder { member: "u".into(), weight: 0 }
        );
        assert_eq!(
            code(r#"{"op":"appoint_agent","member":"u","level":"city","region":"440305"}"#).unwrap(),
            Command::AppointAgent { member: "u".into(), level: Level::City, region: 440300 }
        );
        assert_eq!(
            code(r#"{"op":"register_member","member":"u\u0031"}"#).unwrap(),
            Command::RegisterMember { member: "u1".into(), referrer: None }
        );
        assert_eq!(code("{\"op\":\"end_campaign\"}\r").unwrap(), Command::EndCampaign);
        assert_eq!(
            code(r#"{"op":"sell","member":"u","points":"all"}"#).unwrap(),
            Command::Sell { member: "u".into(), points: SellQty::All }
        );
    }

    #[test]
    fn canonical_json_reads_back() {
        for line in [
            r#"{"op":"register_member","member":"u1","referrer":"u0"}"#,
            r#"{"op":"register_merchant","merchant":"s","commission":"0.15","owner":"a","recruiter":"b","region":"441900"}"#,
            r#"{"op":"appoint_agent","member":"u","level":"province","region":"440000"}"#,
            r#"{"op":"set_shareholder","member":"u","weight":7}"#,
            r#"{"op":"order","order":"o","member":"u","merchant":"s","amount":"10.50","commission":"1.00","pay_cash":"0.01","pay_coins":"2.00"}"#,
            r#"{"op":"sell","member":"u","points":"1.50000000"}"#,
            r#"{"op":"start_campaign","campaign":"c","rate":"0.1","budget":"5.00"}"#,
            r#"{"op":"update_rules","rules":{"exit":{"multiple":"2"},"sell":{"retention":"0.1"}}}"#,
            r#"{"op":"release_locked","at":"2026-11-25T08:00:00+08:00"}"#,
        ] {
            let parsed = parse_line(line.as_bytes()).unwrap();
            let again = parsed.command.to_json(parsed.at.as_deref());
            assert_eq!(again, line);
            assert_eq!(parse_line(again.as_bytes()).unwrap(), parsed);
        }
    }

    #[test]
    fn commands_built_in_code_are_checked() {
        let bad = [
            Command::RegisterMember { member: "bad id".into(), referrer: None },
            Command::GrantCoins { member: "u".into(), amount_fen: -100 },
            Command::Inject { amount_fen: 0 },
            Command::Sell { member: "u".into(), points: SellQty::Units(0) },
            Command::RegisterMerchant { merchant: "s".into(), commission_ppm: Some(PPM + 1), owner: None, recruiter: None, region: None },
            Command::AppointAgent { member: "u".into(), level: Level::City, region: 1_000_000 },
        ];
        let codes: Vec<_> = bad.iter().map(|c| c.check().unwrap_err().code()).collect();
        assert_eq!(codes, ["invalid_command", "invalid_amount", "invalid_amount", "invalid_amount", "invalid_amount", "invalid_region"]);
        // Whatever passes the check reads back from its canonical line.
        let ok = Command::Order {
            order: "o".into(),
            member: "u".into(),
            merchant: None,
            amount_fen: 1,
            commission_fen: Some(0),
            pay_cash_fen: 0,
            pay_coins_fen: 0,
        };
        assert!(ok.check().is_ok());
        assert_eq!(parse_line(ok.to_json(None).as_bytes()).unwrap().command, ok);
    }

    #[test]
    fn type_errors_come_before_format_errors() {
        // A bad amount format and a wrong type elsewhere: the type error wins.
        assert_eq!(
            code(r#"{"op":"order","order":"o","member":"u","merchant":"s","amount":"x","pay_cash":5}"#),
            Err("invalid_command")
        );
        assert_eq!(
            code(r#"{"op":"register_merchant","merchant":"s","region":"1","owner":"bad id"}"#),
            Err("invalid_command")
        );
    }
}
