//! Commands (SPEC §6): their values in exact units, their strict reading from one JSON line
//! (SPEC §10, `decode`), their canonical line (`encode`) and the checks of their values
//! (`validate`).

use std::borrow::Cow;

use crate::num::{Fen, Ppm, Units};
use crate::rules::RuleDoc;

mod decode;
mod encode;
mod validate;

pub use decode::{parse_fields, parse_line};
pub use validate::{beijing_day, valid_at, valid_id};

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
    Units(Units),
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
        commission_ppm: Option<Ppm>,
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
        amount_fen: Fen,
    },
    Order {
        order: Cow<'a, str>,
        member: Cow<'a, str>,
        merchant: Option<Cow<'a, str>>,
        amount_fen: Fen,
        commission_fen: Option<Fen>,
        pay_cash_fen: Fen,
        pay_coins_fen: Fen,
    },
    Sell {
        member: Cow<'a, str>,
        points: SellQty,
    },
    Redeem {
        member: Cow<'a, str>,
        amount_fen: Fen,
    },
    Withdraw {
        member: Cow<'a, str>,
        amount_fen: Fen,
    },
    Inject {
        amount_fen: Fen,
    },
    StartCampaign {
        campaign: Cow<'a, str>,
        rate_ppm: Ppm,
        budget_fen: Fen,
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
            Command::RegisterMember { member, referrer } => {
                Command::RegisterMember { member: o(member), referrer: referrer.map(o) }
            }
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region } => {
                Command::RegisterMerchant {
                    merchant: o(merchant),
                    commission_ppm,
                    owner: owner.map(o),
                    recruiter: recruiter.map(o),
                    region,
                }
            }
            Command::AppointAgent { member, level, region } => {
                Command::AppointAgent { member: o(member), level, region }
            }
            Command::SetShareholder { member, weight } => Command::SetShareholder { member: o(member), weight },
            Command::GrantCoins { member, amount_fen } => Command::GrantCoins { member: o(member), amount_fen },
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => {
                Command::Order {
                    order: o(order),
                    member: o(member),
                    merchant: merchant.map(o),
                    amount_fen,
                    commission_fen,
                    pay_cash_fen,
                    pay_coins_fen,
                }
            }
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

/// A command read from a line, with its optional `at` time (recorded; the engine reads it only
/// for `limits.max_mint_value_per_member_day`, see [`Engine::apply_at`](crate::Engine::apply_at)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub command: Command<'a>,
    pub at: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Rejection;

    fn code(line: &str) -> Result<Command<'_>, &'static str> {
        parse_line(line.as_bytes()).map(|p| p.command).map_err(Rejection::code)
    }

    #[test]
    fn beijing_days_of_at_times() {
        // 2026-12-01 is day 20,788 since 1970-01-01 (56 years · 365 + 14 leap days = 20,454 to
        // 2026-01-01, plus the 334 days of January to November).
        let d = |at: &str| beijing_day(at).unwrap();
        assert_eq!(d("2026-12-01T00:00:00+08:00"), 20_788);
        assert_eq!(d("2026-12-01T23:59:59+08:00"), 20_788);
        // 16:00 UTC is midnight in Beijing: the next day; 15:59:59.999 UTC is still the same.
        assert_eq!(d("2026-11-30T16:00:00Z"), 20_788);
        assert_eq!(d("2026-11-30T15:59:59.999Z"), 20_787);
        // 08:00 at UTC−8 is 16:00 UTC: midnight of the next Beijing day.
        assert_eq!(d("2026-12-01 08:00:00-08:00"), 20_789);
        // A leap second at Beijing midnight counts as the next day's first second.
        assert_eq!(d("2026-12-01T23:59:60+08:00"), 20_789);
        assert_eq!(d("1970-01-01T00:00:00+08:00"), 0);
        assert_eq!(d("1969-12-31T15:59:59Z"), -1);
        assert_eq!(beijing_day("2026-02-29T00:00:00Z"), None);
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
            Command::GrantCoins { member: "u".into(), amount_fen: Fen::from_fen(-100) },
            Command::Inject { amount_fen: Fen::ZERO },
            Command::Sell { member: "u".into(), points: SellQty::Units(Units::ZERO) },
            Command::RegisterMerchant {
                merchant: "s".into(),
                commission_ppm: Some(Ppm::from_ppm(Ppm::ONE.to_ppm() + 1)),
                owner: None,
                recruiter: None,
                region: None,
            },
            Command::AppointAgent { member: "u".into(), level: Level::City, region: 1_000_000 },
        ];
        let codes: Vec<_> = bad.iter().map(|c| c.check().unwrap_err().code()).collect();
        assert_eq!(
            codes,
            [
                "invalid_command",
                "invalid_amount",
                "invalid_amount",
                "invalid_amount",
                "invalid_amount",
                "invalid_region"
            ]
        );
        // Whatever passes the check reads back from its canonical line.
        let ok = Command::Order {
            order: "o".into(),
            member: "u".into(),
            merchant: None,
            amount_fen: Fen::from_fen(1),
            commission_fen: Some(Fen::ZERO),
            pay_cash_fen: Fen::ZERO,
            pay_coins_fen: Fen::ZERO,
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
