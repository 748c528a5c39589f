//! The strict reading of a command from a JSON line or an API request body (SPEC §10).

use std::borrow::Cow;

use super::{valid_at, valid_id, Command, Level, Parsed, SellQty};
use crate::error::Rejection;
use crate::json::{self, Json};
use crate::num::{parse_money, parse_points, parse_rate, Fen, Ppm};
use crate::rules::doc_from_json;

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
fn positive_money(text: &str) -> Step<Fen> {
    parse_money(text).filter(|v| v.is_positive()).ok_or(Rejection::InvalidAmount)
}

fn money(text: &str) -> Step<Fen> {
    parse_money(text).ok_or(Rejection::InvalidAmount)
}

fn rate(text: &str) -> Step<Ppm> {
    parse_rate(text, Ppm::ONE).ok_or(Rejection::InvalidAmount)
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

/// The fields an op allows (besides `op` and `at`); `None` for an unknown op.
fn allowed_fields(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
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
        _ => return None,
    })
}

fn read_fields<'a>(op: &str, obj: &[(Cow<'a, str>, Json<'a>)]) -> Result<Parsed<'a>, Rejection> {
    let f = Fields { obj };
    let allowed = allowed_fields(op).ok_or(Rejection::InvalidCommand)?;
    if obj.iter().any(|(k, _)| k != "op" && k != "at" && !allowed.contains(&&**k)) {
        return Err(Rejection::InvalidCommand);
    }
    let at = f.opt_str("at")?;
    if at.as_deref().is_some_and(|a| !valid_at(a)) {
        return Err(Rejection::InvalidCommand);
    }
    let command = match op {
        "register_member" => Command::RegisterMember { member: f.id("member")?, referrer: f.opt_id("referrer")? },
        "register_merchant" => f.register_merchant()?,
        "appoint_agent" => f.appoint_agent()?,
        "set_shareholder" => f.set_shareholder()?,
        "grant_coins" | "redeem" | "withdraw" => f.member_amount(op)?,
        "order" => f.order()?,
        "sell" => f.sell()?,
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

/// The commands with more than two fields. Every field's type is read before any value's
/// format, so a type error wins over a format error (SPEC §10).
impl<'a> Fields<'_, 'a> {
    fn register_merchant(&self) -> Step<Command<'a>> {
        let (merchant, commission, owner, recruiter, reg) = (
            self.id("merchant")?,
            self.opt_str("commission")?,
            self.opt_id("owner")?,
            self.opt_id("recruiter")?,
            self.opt_str("region")?,
        );
        Ok(Command::RegisterMerchant {
            merchant,
            commission_ppm: commission.as_deref().map(rate).transpose()?,
            owner,
            recruiter,
            region: reg.as_deref().map(region).transpose()?,
        })
    }

    fn appoint_agent(&self) -> Step<Command<'a>> {
        let member = self.id("member")?;
        let level = Level::parse(&self.str("level")?).ok_or(Rejection::InvalidCommand)?;
        let reg = self.str("region")?;
        Ok(Command::AppointAgent { member, level, region: level.normalise(region(&reg)?) })
    }

    fn set_shareholder(&self) -> Step<Command<'a>> {
        let member = self.id("member")?;
        let Some(Json::Num(n)) = self.raw("weight") else {
            return Err(Rejection::InvalidCommand);
        };
        Ok(Command::SetShareholder { member, weight: weight(n)? })
    }

    /// `grant_coins`, `redeem` or `withdraw`.
    fn member_amount(&self, op: &str) -> Step<Command<'a>> {
        let member = self.id("member")?;
        let amount_fen = positive_money(&self.str("amount")?)?;
        Ok(match op {
            "grant_coins" => Command::GrantCoins { member, amount_fen },
            "redeem" => Command::Redeem { member, amount_fen },
            _ => Command::Withdraw { member, amount_fen },
        })
    }

    fn order(&self) -> Step<Command<'a>> {
        let (order, member, merchant, amount, commission, pay_cash, pay_coins) = (
            self.id("order")?,
            self.id("member")?,
            self.opt_id("merchant")?,
            self.str("amount")?,
            self.opt_str("commission")?,
            self.opt_str("pay_cash")?,
            self.opt_str("pay_coins")?,
        );
        if merchant.is_none() && commission.is_none() {
            return Err(Rejection::InvalidCommand);
        }
        Ok(Command::Order {
            order,
            member,
            merchant,
            amount_fen: positive_money(&amount)?,
            commission_fen: commission.as_deref().map(money).transpose()?,
            pay_cash_fen: pay_cash.as_deref().map(money).transpose()?.unwrap_or(Fen::ZERO),
            pay_coins_fen: pay_coins.as_deref().map(money).transpose()?.unwrap_or(Fen::ZERO),
        })
    }

    fn sell(&self) -> Step<Command<'a>> {
        let member = self.id("member")?;
        let points = self.str("points")?;
        let points = if points == "all" {
            SellQty::All
        } else {
            SellQty::Units(parse_points(&points).filter(|q| q.is_positive()).ok_or(Rejection::InvalidAmount)?)
        };
        Ok(Command::Sell { member, points })
    }
}
