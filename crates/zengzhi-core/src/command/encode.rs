//! The canonical JSON line of a command.

use super::{Command, SellQty};
use crate::num::{format_money, format_points, format_rate};
use crate::rules::RuleDoc;

/// A JSON object being written, one `"key":"value"` pair after another.
struct Line(String);

impl Line {
    /// `,"key":"value"` with the value escaped.
    fn put(&mut self, key: &str, value: &str) {
        self.0.push_str(",\"");
        self.0.push_str(key);
        self.0.push_str("\":\"");
        push_escaped(&mut self.0, value);
        self.0.push('"');
    }

    fn put_opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.put(key, v);
        }
    }

    /// `"text"` with the text escaped, or `null`.
    fn string_or_null(&mut self, value: Option<&str>) {
        match value {
            None => self.0.push_str("null"),
            Some(v) => {
                self.0.push('"');
                push_escaped(&mut self.0, v);
                self.0.push('"');
            }
        }
    }

    /// `,"rules":{…}`: sections and keys in the document's order.
    fn put_rules(&mut self, rules: &RuleDoc) {
        self.0.push_str(",\"rules\":{");
        for (n, (section, keys)) in rules.iter().enumerate() {
            if n > 0 {
                self.0.push(',');
            }
            self.string_or_null(Some(section));
            self.0.push(':');
            let Some(keys) = keys else {
                self.0.push_str("null");
                continue;
            };
            self.0.push('{');
            for (k, (key, value)) in keys.iter().enumerate() {
                if k > 0 {
                    self.0.push(',');
                }
                self.string_or_null(Some(key));
                self.0.push(':');
                self.string_or_null(value.as_deref());
            }
            self.0.push('}');
        }
        self.0.push('}');
    }
}

impl Command<'_> {
    /// The canonical JSON line of this command (no newline): keys in a fixed order, money with
    /// 2 decimals, points with 8, rates with as few decimals as needed, optional fields left
    /// out when absent. `parse_line` reads it back to an equal command.
    pub fn to_json(&self, at: Option<&str>) -> String {
        let mut line = Line(String::with_capacity(96));
        line.0.push_str("{\"op\":\"");
        line.0.push_str(self.op());
        line.0.push('"');
        self.put_fields(&mut line);
        line.put_opt("at", at);
        line.0.push('}');
        line.0
    }

    /// The fields after `op`, in their canonical order.
    fn put_fields(&self, line: &mut Line) {
        match self {
            Command::RegisterMember { member, referrer } => {
                line.put("member", member);
                line.put_opt("referrer", referrer.as_deref());
            }
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region } => {
                line.put("merchant", merchant);
                line.put_opt("commission", commission_ppm.map(format_rate).as_deref());
                line.put_opt("owner", owner.as_deref());
                line.put_opt("recruiter", recruiter.as_deref());
                line.put_opt("region", region.map(|r| format!("{r:06}")).as_deref());
            }
            Command::AppointAgent { member, level, region } => {
                line.put("member", member);
                line.put("level", level.as_str());
                line.put("region", &format!("{region:06}"));
            }
            Command::SetShareholder { member, weight } => {
                line.put("member", member);
                line.0.push_str(&format!(",\"weight\":{weight}"));
            }
            Command::GrantCoins { member, amount_fen }
            | Command::Redeem { member, amount_fen }
            | Command::Withdraw { member, amount_fen } => {
                line.put("member", member);
                line.put("amount", &format_money(*amount_fen));
            }
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => {
                line.put("order", order);
                line.put("member", member);
                line.put_opt("merchant", merchant.as_deref());
                line.put("amount", &format_money(*amount_fen));
                line.put_opt("commission", commission_fen.map(format_money).as_deref());
                for (key, fen) in [("pay_cash", pay_cash_fen), ("pay_coins", pay_coins_fen)] {
                    if fen.is_positive() {
                        line.put(key, &format_money(*fen));
                    }
                }
            }
            Command::Sell { member, points } => {
                line.put("member", member);
                match points {
                    SellQty::All => line.put("points", "all"),
                    SellQty::Units(q) => line.put("points", &format_points(*q)),
                }
            }
            Command::Inject { amount_fen } => line.put("amount", &format_money(*amount_fen)),
            Command::StartCampaign { campaign, rate_ppm, budget_fen } => {
                line.put("campaign", campaign);
                line.put("rate", &format_rate(*rate_ppm));
                line.put("budget", &format_money(*budget_fen));
            }
            Command::EndCampaign | Command::ReleaseLocked | Command::DistributeDividends => {}
            Command::UpdateRules { rules } => line.put_rules(rules),
        }
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
