//! The rules of a program (SPEC §4): loading from TOML or a JSON `update_rules` object,
//! whole-object validation, and the compliance lint of `zengzhi check-rules`.

use crate::json::Json;
use crate::num::{format_rate, parse_money, parse_rate, MAX_MONEY_ARG_FEN, MAX_MULTIPLE_PPM, PPM};

/// All rules, in exact units: money in fen, rates and the exit multiple in ppm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub initial_price_fen: i64,
    pub mint_ratio_ppm: i64,
    pub default_rate_ppm: i64,
    pub pool_share_ppm: i64,
    pub distribution_share_ppm: i64,
    pub retention_ppm: i64,
    pub min_lifetime_consumption_fen: i64,
    pub exit_multiple_ppm: i64,
    pub referral_direct_ppm: i64,
    pub referral_indirect_ppm: i64,
    pub referral_merchant_recruiter_ppm: i64,
    pub agent_district_ppm: i64,
    pub agent_city_ppm: i64,
    pub agent_province_ppm: i64,
    pub agent_peer_ppm: i64,
    pub dividend_share_of_platform_ppm: i64,
    pub vesting_release_ppm: i64,
    pub withdraw_min_fen: i64,
    pub withdraw_fee_ppm: i64,
    pub max_mint_value_per_order_fen: i64,
}

impl Default for Rules {
    /// The seed's numbers (SPEC §4).
    fn default() -> Self {
        Rules {
            initial_price_fen: 100,
            mint_ratio_ppm: 700_000,
            default_rate_ppm: 200_000,
            pool_share_ppm: 800_000,
            distribution_share_ppm: 100_000,
            retention_ppm: 200_000,
            min_lifetime_consumption_fen: 0,
            exit_multiple_ppm: 1_200_000,
            referral_direct_ppm: 3_000,
            referral_indirect_ppm: 2_000,
            referral_merchant_recruiter_ppm: 5_000,
            agent_district_ppm: 1_000,
            agent_city_ppm: 2_000,
            agent_province_ppm: 3_000,
            agent_peer_ppm: 0,
            dividend_share_of_platform_ppm: 0,
            vesting_release_ppm: 10_000,
            withdraw_min_fen: 0,
            withdraw_fee_ppm: 0,
            max_mint_value_per_order_fen: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A rate in [0, 1].
    Rate,
    /// `exit.multiple`, in [0, 100].
    Multiple,
    /// A money value, at most 100,000,000.00.
    Money,
}

/// Every rule key: section, key, kind, and the field it sets.
const KEYS: &[(&str, &str, Kind, fn(&mut Rules) -> &mut i64)] = &[
    ("points", "initial_price", Kind::Money, |r| &mut r.initial_price_fen),
    ("points", "mint_ratio", Kind::Rate, |r| &mut r.mint_ratio_ppm),
    ("commission", "default_rate", Kind::Rate, |r| &mut r.default_rate_ppm),
    ("commission", "pool_share", Kind::Rate, |r| &mut r.pool_share_ppm),
    ("commission", "distribution_share", Kind::Rate, |r| &mut r.distribution_share_ppm),
    ("sell", "retention", Kind::Rate, |r| &mut r.retention_ppm),
    ("sell", "min_lifetime_consumption", Kind::Money, |r| &mut r.min_lifetime_consumption_fen),
    ("exit", "multiple", Kind::Multiple, |r| &mut r.exit_multiple_ppm),
    ("referral", "direct", Kind::Rate, |r| &mut r.referral_direct_ppm),
    ("referral", "indirect", Kind::Rate, |r| &mut r.referral_indirect_ppm),
    ("referral", "merchant_recruiter", Kind::Rate, |r| &mut r.referral_merchant_recruiter_ppm),
    ("agents", "district", Kind::Rate, |r| &mut r.agent_district_ppm),
    ("agents", "city", Kind::Rate, |r| &mut r.agent_city_ppm),
    ("agents", "province", Kind::Rate, |r| &mut r.agent_province_ppm),
    ("agents", "peer", Kind::Rate, |r| &mut r.agent_peer_ppm),
    ("dividends", "share_of_platform", Kind::Rate, |r| &mut r.dividend_share_of_platform_ppm),
    ("vesting", "release", Kind::Rate, |r| &mut r.vesting_release_ppm),
    ("withdraw", "min", Kind::Money, |r| &mut r.withdraw_min_fen),
    ("withdraw", "fee", Kind::Rate, |r| &mut r.withdraw_fee_ppm),
    ("limits", "max_mint_value_per_order", Kind::Money, |r| &mut r.max_mint_value_per_order_fen),
];

/// One problem found in a rules document, in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// `section.key`, or the section, or empty for the whole document.
    pub path: String,
    pub zh: String,
    pub en: String,
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{} / {}", self.zh, self.en)
        } else {
            write!(f, "{}: {} / {}", self.path, self.zh, self.en)
        }
    }
}

fn problem(path: &str, zh: impl Into<String>, en: impl Into<String>) -> RuleProblem {
    RuleProblem { path: path.to_string(), zh: zh.into(), en: en.into() }
}

/// A rules document reduced to what validation needs: sections, keys and string values.
/// `None` marks a section that is not a table, or a value that is not a string.
pub type RuleDoc = Vec<(String, Option<Vec<(String, Option<String>)>>)>;

/// Reads a TOML rules file into a [`RuleDoc`].
pub fn doc_from_toml(text: &str) -> Result<RuleDoc, RuleProblem> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let msg = e.message().to_string();
        problem("", format!("TOML 格式错误：{msg}"), format!("not valid TOML: {msg}"))
    })?;
    Ok(table
        .into_iter()
        .map(|(section, value)| {
            let keys = match value {
                toml::Value::Table(t) => Some(
                    t.into_iter()
                        .map(|(k, v)| match v {
                            toml::Value::String(s) => (k, Some(s)),
                            _ => (k, None),
                        })
                        .collect(),
                ),
                _ => None,
            };
            (section, keys)
        })
        .collect())
}

/// Reads the `rules` object of an `update_rules` command into a [`RuleDoc`]; `None` when it is
/// not an object.
pub fn doc_from_json(value: &Json<'_>) -> Option<RuleDoc> {
    let Json::Obj(sections) = value else {
        return None;
    };
    Some(
        sections
            .iter()
            .map(|(section, v)| {
                let keys = match v {
                    Json::Obj(keys) => Some(
                        keys.iter()
                            .map(|(k, v)| match v {
                                Json::Str(s) => (k.to_string(), Some(s.to_string())),
                                _ => (k.to_string(), None),
                            })
                            .collect(),
                    ),
                    _ => None,
                };
                (section.to_string(), keys)
            })
            .collect(),
    )
}

impl Rules {
    /// These rules with `doc` applied on top, validated as a whole. Every problem is reported.
    pub fn updated(&self, doc: &RuleDoc) -> Result<Rules, Vec<RuleProblem>> {
        let mut next = self.clone();
        let mut problems = Vec::new();
        for (section, keys) in doc {
            if !KEYS.iter().any(|(s, ..)| s == section) {
                problems.push(problem(section, "未知的规则分组", "unknown section"));
                continue;
            }
            let Some(keys) = keys else {
                problems.push(problem(section, "规则分组必须是表", "a section must be a table"));
                continue;
            };
            for (key, value) in keys {
                let path = format!("{section}.{key}");
                let Some((_, _, kind, field)) = KEYS.iter().find(|(s, k, ..)| s == section && k == key) else {
                    problems.push(problem(&path, "未知的规则项", "unknown key"));
                    continue;
                };
                let Some(text) = value else {
                    problems.push(problem(&path, "取值必须是字符串", "the value must be a string"));
                    continue;
                };
                let parsed = match kind {
                    Kind::Rate => parse_rate(text, PPM),
                    Kind::Multiple => parse_rate(text, MAX_MULTIPLE_PPM),
                    Kind::Money => parse_money(text),
                };
                match parsed {
                    Some(v) => *field(&mut next) = v,
                    None => problems.push(match kind {
                        Kind::Rate => problem(
                            &path,
                            format!("“{text}” 不是 0 到 1 之间、最多 6 位小数的比例"),
                            format!("{text:?} is not a rate from 0 to 1 with at most 6 decimals"),
                        ),
                        Kind::Multiple => problem(
                            &path,
                            format!("“{text}” 不是 0 到 100 之间、最多 6 位小数的倍数"),
                            format!("{text:?} is not a multiple from 0 to 100 with at most 6 decimals"),
                        ),
                        Kind::Money => problem(
                            &path,
                            format!("“{text}” 不是最多 2 位小数、不超过 100,000,000.00 的金额"),
                            format!("{text:?} is not an amount with at most 2 decimals, at most 100,000,000.00"),
                        ),
                    }),
                }
            }
        }
        problems.extend(next.whole_problems());
        if problems.is_empty() {
            Ok(next)
        } else {
            Err(problems)
        }
    }

    /// Every rule value in a fixed order (for snapshots).
    pub fn to_values(&self) -> Vec<i64> {
        let mut copy = self.clone();
        KEYS.iter().map(|(_, _, _, field)| *field(&mut copy)).collect()
    }

    /// Rules from [`to_values`](Self::to_values) output; `None` if the values do not make valid
    /// rules.
    pub fn from_values(values: &[i64]) -> Option<Rules> {
        if values.len() != KEYS.len() {
            return None;
        }
        let mut rules = Rules::default();
        for ((_, _, kind, field), &v) in KEYS.iter().zip(values) {
            let max = match kind {
                Kind::Rate => PPM,
                Kind::Multiple => MAX_MULTIPLE_PPM,
                Kind::Money => MAX_MONEY_ARG_FEN,
            };
            if !(0..=max).contains(&v) {
                return None;
            }
            *field(&mut rules) = v;
        }
        rules.whole_problems().is_empty().then_some(rules)
    }

    /// The whole rules as a document of strings (every key), e.g. for an `update_rules` command
    /// that recreates them on top of the defaults.
    pub fn to_doc(&self) -> RuleDoc {
        let mut copy = self.clone();
        let mut doc: RuleDoc = Vec::new();
        for (section, key, kind, field) in KEYS {
            let v = *field(&mut copy);
            let text = match kind {
                Kind::Money => crate::num::format_money(v),
                Kind::Rate | Kind::Multiple => format_rate(v),
            };
            match doc.iter_mut().find(|(s, _)| s == section) {
                Some((_, Some(keys))) => keys.push((key.to_string(), Some(text))),
                _ => doc.push((section.to_string(), Some(vec![(key.to_string(), Some(text))]))),
            }
        }
        doc
    }

    /// Loads rules from TOML text on top of the defaults.
    pub fn from_toml(text: &str) -> Result<Rules, Vec<RuleProblem>> {
        let doc = doc_from_toml(text).map_err(|p| vec![p])?;
        Rules::default().updated(&doc)
    }

    /// The checks on the whole rules object (SPEC §4).
    fn whole_problems(&self) -> Vec<RuleProblem> {
        let mut problems = Vec::new();
        if self.pool_share_ppm + self.distribution_share_ppm > PPM {
            problems.push(problem(
                "commission",
                "pool_share 与 distribution_share 之和超过 1",
                "pool_share + distribution_share exceeds 1",
            ));
        }
        if !(self.agent_district_ppm <= self.agent_city_ppm && self.agent_city_ppm <= self.agent_province_ppm) {
            problems.push(problem(
                "agents",
                "区代、市代、省代比例必须满足 区代 ≤ 市代 ≤ 省代",
                "agent rates must satisfy district ≤ city ≤ province",
            ));
        }
        if self.initial_price_fen <= 0 {
            problems.push(problem("points.initial_price", "积分起盘价必须大于 0", "initial_price must be above 0"));
        }
        debug_assert!(self.mint_ratio_ppm <= PPM && self.exit_multiple_ppm <= MAX_MULTIPLE_PPM);
        debug_assert!(self.withdraw_min_fen <= MAX_MONEY_ARG_FEN);
        problems
    }

    /// The compliance lint of `zengzhi check-rules`: legal but risky settings.
    pub fn warnings(&self) -> Vec<RuleProblem> {
        let mut warnings = Vec::new();
        let net_exit = i128::from(self.exit_multiple_ppm) * i128::from(PPM - self.retention_ppm);
        if net_exit > i128::from(PPM) * i128::from(PPM) {
            warnings.push(problem(
                "exit.multiple",
                format!(
                    "封顶出局净回报 {} × (1 − {}) 超过 1：会员拿回的钱多于消费金额，原始方案明确提示这有非法集资风险（静态盈利不要超过消费金额）",
                    format_rate(self.exit_multiple_ppm),
                    format_rate(self.retention_ppm)
                ),
                format!(
                    "net exit return {} × (1 − {}) exceeds 1: a member would be paid more than they consumed, which the original plan itself calls an illegal-fundraising risk",
                    format_rate(self.exit_multiple_ppm),
                    format_rate(self.retention_ppm)
                ),
            ));
        }
        let reward_sum = i128::from(
            self.referral_direct_ppm
                + self.referral_indirect_ppm
                + self.referral_merchant_recruiter_ppm
                + self.agent_province_ppm,
        ) * i128::from(PPM)
            + i128::from(self.agent_province_ppm) * i128::from(self.agent_peer_ppm);
        let budget = i128::from(self.default_rate_ppm) * i128::from(self.distribution_share_ppm);
        if reward_sum > budget {
            warnings.push(problem(
                "referral",
                "直推 + 间推 + 招商 + 省代（含平级奖）的比例之和超过分销预算（门店抽成 × distribution_share）：超出部分会被截断，靠后的奖励可能拿不到",
                "direct + indirect + merchant_recruiter + province (plus the peer share) exceeds the reward budget (default_rate × distribution_share): later rewards will be cut",
            ));
        }
        if self.mint_ratio_ppm == PPM {
            warnings.push(problem(
                "points.mint_ratio",
                "mint_ratio = 1：订单不再推高积分价格",
                "mint_ratio = 1: orders no longer raise the point price",
            ));
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed() {
        let r = Rules::from_toml("").unwrap();
        assert_eq!(r, Rules::default());
        assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "[nope]\nx = \"1\"",
            "[exit]\nmultiple = 2",
            "[exit]\nmultiple = \"100.000001\"",
            "[points]\nmint_ratio = \"1.01\"",
            "[points]\ninitial_price = \"0\"",
            "[commission]\npool_share = \"0.95\"",
            "[agents]\ndistrict = \"0.01\"",
            "[withdraw]\nmin = \"100000000.01\"",
            "exit = \"2\"",
            "[sell]\nretention = \"0.1234567\"",
            "not toml [",
        ] {
            assert!(Rules::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_and_doc_round_trip() {
        let r = Rules::from_toml("[exit]\nmultiple = \"2.5\"\n[withdraw]\nmin = \"10.5\"\nfee = \"0.006\"").unwrap();
        assert_eq!(Rules::from_values(&r.to_values()), Some(r.clone()));
        assert_eq!(Rules::default().updated(&r.to_doc()), Ok(r.clone()));
        let mut bad = r.to_values();
        bad[0] = 0; // initial price 0
        assert_eq!(Rules::from_values(&bad), None);
    }

    #[test]
    fn partial_update_keeps_other_keys() {
        let r = Rules::from_toml("[exit]\nmultiple = \"2.0\"").unwrap();
        assert_eq!(r.exit_multiple_ppm, 2_000_000);
        assert_eq!(r.retention_ppm, 200_000);
    }

    #[test]
    fn warns_on_net_exit_above_consumption() {
        let r = Rules::from_toml("[exit]\nmultiple = \"2\"").unwrap();
        let w = r.warnings();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].path, "exit.multiple");
        // 1.25 × 0.8 = 1 exactly: no warning.
        assert!(Rules::from_toml("[exit]\nmultiple = \"1.25\"").unwrap().warnings().is_empty());
    }

    #[test]
    fn warns_on_reward_budget_and_flat_price() {
        let r = Rules::from_toml("[referral]\ndirect = \"0.05\"\n[points]\nmint_ratio = \"1\"").unwrap();
        let paths: Vec<_> = r.warnings().into_iter().map(|w| w.path).collect();
        assert_eq!(paths, ["referral", "points.mint_ratio"]);
    }
}
