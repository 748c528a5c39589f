//! The rules of a program (SPEC §4): loading from TOML or a JSON `update_rules` object,
//! whole-object validation, and the compliance lint of `zengzhi check-rules`.

use crate::json::Json;
use crate::num::{
    format_money, format_rate, parse_money, parse_rate, Fen, Ppm, MAX_MONEY_ARG_FEN, MAX_MULTIPLE_PPM, PPM,
};

/// All rules, in exact units: money in fen, rates and the exit multiple in ppm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub initial_price_fen: Fen,
    pub mint_ratio_ppm: Ppm,
    pub default_rate_ppm: Ppm,
    pub pool_share_ppm: Ppm,
    pub distribution_share_ppm: Ppm,
    pub retention_ppm: Ppm,
    pub min_lifetime_consumption_fen: Fen,
    pub exit_multiple_ppm: Ppm,
    pub referral_direct_ppm: Ppm,
    pub referral_indirect_ppm: Ppm,
    pub referral_merchant_recruiter_ppm: Ppm,
    pub agent_district_ppm: Ppm,
    pub agent_city_ppm: Ppm,
    pub agent_province_ppm: Ppm,
    pub agent_peer_ppm: Ppm,
    pub dividend_share_of_platform_ppm: Ppm,
    pub vesting_release_ppm: Ppm,
    pub withdraw_min_fen: Fen,
    pub withdraw_fee_ppm: Ppm,
    pub max_mint_value_per_order_fen: Fen,
    /// What an order whose buyer is the store's owner or recruiter does (刷单).
    pub self_dealing: SelfDealing,
    /// Most value minted to one member per Beijing calendar day; 0 = no cap.
    pub max_mint_value_per_member_day_fen: Fen,
}

/// `limits.self_dealing`: what an order whose buyer is the store's own owner or recruiter does
/// (wash trading through one's own store, 刷单).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelfDealing {
    /// An order like any other (the seed's behaviour).
    #[default]
    Allow,
    /// Accepted and its commission split as usual, but it mints no points, draws no subsidy,
    /// pays no referral or recruiter reward and does not count as consumption.
    NoMint,
    /// Rejected with `self_dealing`.
    Reject,
}

impl SelfDealing {
    /// Every mode, in the order of its snapshot value (0, 1, 2).
    const ALL: [SelfDealing; 3] = [SelfDealing::Allow, SelfDealing::NoMint, SelfDealing::Reject];

    pub fn as_str(self) -> &'static str {
        match self {
            SelfDealing::Allow => "allow",
            SelfDealing::NoMint => "no_mint",
            SelfDealing::Reject => "reject",
        }
    }

    pub fn parse(text: &str) -> Option<SelfDealing> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

impl Default for Rules {
    /// The seed's numbers (SPEC §4).
    fn default() -> Self {
        Rules {
            initial_price_fen: Fen::from_fen(100),
            mint_ratio_ppm: Ppm::from_ppm(700_000),
            default_rate_ppm: Ppm::from_ppm(200_000),
            pool_share_ppm: Ppm::from_ppm(800_000),
            distribution_share_ppm: Ppm::from_ppm(100_000),
            retention_ppm: Ppm::from_ppm(200_000),
            min_lifetime_consumption_fen: Fen::from_fen(0),
            exit_multiple_ppm: Ppm::from_ppm(1_200_000),
            referral_direct_ppm: Ppm::from_ppm(3_000),
            referral_indirect_ppm: Ppm::from_ppm(2_000),
            referral_merchant_recruiter_ppm: Ppm::from_ppm(5_000),
            agent_district_ppm: Ppm::from_ppm(1_000),
            agent_city_ppm: Ppm::from_ppm(2_000),
            agent_province_ppm: Ppm::from_ppm(3_000),
            agent_peer_ppm: Ppm::from_ppm(0),
            dividend_share_of_platform_ppm: Ppm::from_ppm(0),
            vesting_release_ppm: Ppm::from_ppm(10_000),
            withdraw_min_fen: Fen::from_fen(0),
            withdraw_fee_ppm: Ppm::from_ppm(0),
            max_mint_value_per_order_fen: Fen::from_fen(0),
            self_dealing: SelfDealing::Allow,
            max_mint_value_per_member_day_fen: Fen::from_fen(0),
        }
    }
}

/// A rule's field, by kind.
#[derive(Clone, Copy)]
enum Field {
    /// A rate in [0, 1].
    Rate(fn(&mut Rules) -> &mut Ppm),
    /// `exit.multiple`, in [0, 100].
    Multiple(fn(&mut Rules) -> &mut Ppm),
    /// A money value, at most 100,000,000.00.
    Money(fn(&mut Rules) -> &mut Fen),
    /// `limits.self_dealing`: one of its words.
    SelfDealing(fn(&mut Rules) -> &mut SelfDealing),
}

impl Field {
    /// The largest value, in the field's unit.
    fn max(self) -> i64 {
        match self {
            Field::Rate(_) => PPM,
            Field::Multiple(_) => MAX_MULTIPLE_PPM,
            Field::Money(_) => MAX_MONEY_ARG_FEN,
            Field::SelfDealing(_) => SelfDealing::ALL.len() as i64 - 1,
        }
    }

    /// Sets the field from its text; `false` (and nothing set) when the text is not valid.
    fn parse_into(self, rules: &mut Rules, text: &str) -> bool {
        match self {
            Field::Rate(f) | Field::Multiple(f) => parse_rate(text, Ppm::from_ppm(self.max())).map(|v| *f(rules) = v),
            Field::Money(f) => parse_money(text).map(|v| *f(rules) = v),
            Field::SelfDealing(f) => SelfDealing::parse(text).map(|v| *f(rules) = v),
        }
        .is_some()
    }

    /// The value in the field's unit (fen or ppm), for snapshots.
    fn raw(self, rules: &mut Rules) -> i64 {
        match self {
            Field::Rate(f) | Field::Multiple(f) => f(rules).to_ppm(),
            Field::Money(f) => f(rules).to_fen(),
            Field::SelfDealing(f) => SelfDealing::ALL.iter().position(|m| m == f(rules)).expect("a mode") as i64,
        }
    }

    /// Sets the field from a value in its unit; `false` when out of range.
    fn set_raw(self, rules: &mut Rules, v: i64) -> bool {
        if !(0..=self.max()).contains(&v) {
            return false;
        }
        match self {
            Field::Rate(f) | Field::Multiple(f) => *f(rules) = Ppm::from_ppm(v),
            Field::Money(f) => *f(rules) = Fen::from_fen(v),
            Field::SelfDealing(f) => *f(rules) = SelfDealing::ALL[v as usize],
        }
        true
    }

    /// The value as rules text.
    fn text(self, rules: &mut Rules) -> String {
        match self {
            Field::Rate(f) | Field::Multiple(f) => format_rate(*f(rules)),
            Field::Money(f) => format_money(*f(rules)),
            Field::SelfDealing(f) => f(rules).as_str().to_string(),
        }
    }

    /// The problem with a text that does not parse.
    fn problem(self, path: &str, text: &str) -> RuleProblem {
        match self {
            Field::Rate(_) => problem(
                path,
                format!("“{text}” 不是 0 到 1 之间、最多 6 位小数的比例"),
                format!("{text:?} is not a rate from 0 to 1 with at most 6 decimals"),
            ),
            Field::Multiple(_) => problem(
                path,
                format!("“{text}” 不是 0 到 100 之间、最多 6 位小数的倍数"),
                format!("{text:?} is not a multiple from 0 to 100 with at most 6 decimals"),
            ),
            Field::Money(_) => problem(
                path,
                format!("“{text}” 不是最多 2 位小数、不超过 100,000,000.00 的金额"),
                format!("{text:?} is not an amount with at most 2 decimals, at most 100,000,000.00"),
            ),
            Field::SelfDealing(_) => problem(
                path,
                format!("“{text}” 不是 allow、no_mint 或 reject"),
                format!("{text:?} is not allow, no_mint or reject"),
            ),
        }
    }
}

/// Every rule key: section, key, and the field it sets.
const KEYS: &[(&str, &str, Field)] = &[
    ("points", "initial_price", Field::Money(|r| &mut r.initial_price_fen)),
    ("points", "mint_ratio", Field::Rate(|r| &mut r.mint_ratio_ppm)),
    ("commission", "default_rate", Field::Rate(|r| &mut r.default_rate_ppm)),
    ("commission", "pool_share", Field::Rate(|r| &mut r.pool_share_ppm)),
    ("commission", "distribution_share", Field::Rate(|r| &mut r.distribution_share_ppm)),
    ("sell", "retention", Field::Rate(|r| &mut r.retention_ppm)),
    ("sell", "min_lifetime_consumption", Field::Money(|r| &mut r.min_lifetime_consumption_fen)),
    ("exit", "multiple", Field::Multiple(|r| &mut r.exit_multiple_ppm)),
    ("referral", "direct", Field::Rate(|r| &mut r.referral_direct_ppm)),
    ("referral", "indirect", Field::Rate(|r| &mut r.referral_indirect_ppm)),
    ("referral", "merchant_recruiter", Field::Rate(|r| &mut r.referral_merchant_recruiter_ppm)),
    ("agents", "district", Field::Rate(|r| &mut r.agent_district_ppm)),
    ("agents", "city", Field::Rate(|r| &mut r.agent_city_ppm)),
    ("agents", "province", Field::Rate(|r| &mut r.agent_province_ppm)),
    ("agents", "peer", Field::Rate(|r| &mut r.agent_peer_ppm)),
    ("dividends", "share_of_platform", Field::Rate(|r| &mut r.dividend_share_of_platform_ppm)),
    ("vesting", "release", Field::Rate(|r| &mut r.vesting_release_ppm)),
    ("withdraw", "min", Field::Money(|r| &mut r.withdraw_min_fen)),
    ("withdraw", "fee", Field::Rate(|r| &mut r.withdraw_fee_ppm)),
    ("limits", "max_mint_value_per_order", Field::Money(|r| &mut r.max_mint_value_per_order_fen)),
    ("limits", "self_dealing", Field::SelfDealing(|r| &mut r.self_dealing)),
    ("limits", "max_mint_value_per_member_day", Field::Money(|r| &mut r.max_mint_value_per_member_day_fen)),
];

/// How many keys the first snapshot format (which had no `limits.self_dealing` and
/// `limits.max_mint_value_per_member_day`) stored: the first keys of [`KEYS`].
pub(crate) const KEYS_V1: usize = 20;

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
            next.apply_section(section, keys.as_deref(), &mut problems);
        }
        problems.extend(next.whole_problems());
        if problems.is_empty() {
            Ok(next)
        } else {
            Err(problems)
        }
    }

    /// Sets the keys of one section of a document, pushing a problem for each bad one.
    fn apply_section(
        &mut self,
        section: &str,
        keys: Option<&[(String, Option<String>)]>,
        problems: &mut Vec<RuleProblem>,
    ) {
        if !KEYS.iter().any(|(s, ..)| *s == section) {
            problems.push(problem(section, "未知的规则分组", "unknown section"));
            return;
        }
        let Some(keys) = keys else {
            problems.push(problem(section, "规则分组必须是表", "a section must be a table"));
            return;
        };
        for (key, value) in keys {
            if let Err(p) = self.apply_key(section, key, value.as_deref()) {
                problems.push(p);
            }
        }
    }

    /// Sets one key from its text.
    fn apply_key(&mut self, section: &str, key: &str, value: Option<&str>) -> Result<(), RuleProblem> {
        let path = format!("{section}.{key}");
        let Some((_, _, field)) = KEYS.iter().find(|(s, k, _)| *s == section && *k == key) else {
            return Err(problem(&path, "未知的规则项", "unknown key"));
        };
        let Some(text) = value else {
            return Err(problem(&path, "取值必须是字符串", "the value must be a string"));
        };
        if field.parse_into(self, text) {
            Ok(())
        } else {
            Err(field.problem(&path, text))
        }
    }

    /// Every rule value in a fixed order, in fen or ppm (for snapshots).
    pub fn to_values(&self) -> Vec<i64> {
        let mut copy = self.clone();
        KEYS.iter().map(|(_, _, field)| field.raw(&mut copy)).collect()
    }

    /// Rules from [`to_values`](Self::to_values) output; `None` if the values do not make valid
    /// rules.
    pub fn from_values(values: &[i64]) -> Option<Rules> {
        if values.len() != KEYS.len() {
            return None;
        }
        Self::from_first_values(values)
    }

    /// Rules from the values of the first `values.len()` keys, the later keys at their
    /// defaults (for snapshots of an older format); `None` if the values do not make valid rules.
    pub(crate) fn from_first_values(values: &[i64]) -> Option<Rules> {
        if values.len() > KEYS.len() {
            return None;
        }
        let mut rules = Rules::default();
        for ((_, _, field), &v) in KEYS.iter().zip(values) {
            if !field.set_raw(&mut rules, v) {
                return None;
            }
        }
        rules.whole_problems().is_empty().then_some(rules)
    }

    /// The whole rules as a document of strings (every key), e.g. for an `update_rules` command
    /// that recreates them on top of the defaults.
    pub fn to_doc(&self) -> RuleDoc {
        let mut copy = self.clone();
        let mut doc: RuleDoc = Vec::new();
        for (section, key, field) in KEYS {
            let text = field.text(&mut copy);
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
        if self.pool_share_ppm + self.distribution_share_ppm > Ppm::ONE {
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
        if !self.initial_price_fen.is_positive() {
            problems.push(problem("points.initial_price", "积分起盘价必须大于 0", "initial_price must be above 0"));
        }
        debug_assert!(self.mint_ratio_ppm <= Ppm::ONE && self.exit_multiple_ppm.to_ppm() <= MAX_MULTIPLE_PPM);
        debug_assert!(self.withdraw_min_fen.to_fen() <= MAX_MONEY_ARG_FEN);
        problems
    }

    /// The compliance lint of `zengzhi check-rules`: legal but risky settings.
    pub fn warnings(&self) -> Vec<RuleProblem> {
        let mut warnings = Vec::new();
        let net_exit = i128::from(self.exit_multiple_ppm) * i128::from(Ppm::ONE - self.retention_ppm);
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
        let reward_sum = (i128::from(self.referral_direct_ppm)
            + i128::from(self.referral_indirect_ppm)
            + i128::from(self.referral_merchant_recruiter_ppm)
            + i128::from(self.agent_province_ppm))
            * i128::from(PPM)
            + i128::from(self.agent_province_ppm) * i128::from(self.agent_peer_ppm);
        let budget = i128::from(self.default_rate_ppm) * i128::from(self.distribution_share_ppm);
        if reward_sum > budget {
            warnings.push(problem(
                "referral",
                "直推 + 间推 + 招商 + 省代（含平级奖）的比例之和超过分销预算（门店抽成 × distribution_share）：超出部分会被截断，靠后的奖励可能拿不到",
                "direct + indirect + merchant_recruiter + province (plus the peer share) exceeds the reward budget (default_rate × distribution_share): later rewards will be cut",
            ));
        }
        if self.mint_ratio_ppm == Ppm::ONE {
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
    fn self_dealing_and_the_daily_cap() {
        let r = Rules::from_toml("[limits]\nself_dealing = \"no_mint\"\nmax_mint_value_per_member_day = \"500.5\"")
            .unwrap();
        assert_eq!(r.self_dealing, SelfDealing::NoMint);
        assert_eq!(r.max_mint_value_per_member_day_fen, Fen::from_fen(50_050));
        assert_eq!(Rules::from_values(&r.to_values()), Some(r.clone()));
        assert_eq!(Rules::default().updated(&r.to_doc()), Ok(r.clone()));
        for bad in ["\"No_mint\"", "\"\"", "\"deny\"", "1"] {
            let err = Rules::from_toml(&format!("[limits]\nself_dealing = {bad}")).unwrap_err();
            assert_eq!(err[0].path, "limits.self_dealing", "{bad}");
        }
        assert!(Rules::from_toml("[limits]\nmax_mint_value_per_member_day = \"100000000.01\"").is_err());
        // A mode's snapshot value is 0, 1 or 2; 3 is refused.
        let mut values = r.to_values();
        let at = KEYS.iter().position(|(_, k, _)| *k == "self_dealing").unwrap();
        values[at] = 3;
        assert_eq!(Rules::from_values(&values), None);
    }

    #[test]
    fn partial_update_keeps_other_keys() {
        let r = Rules::from_toml("[exit]\nmultiple = \"2.0\"").unwrap();
        assert_eq!(r.exit_multiple_ppm, Ppm::from_ppm(2_000_000));
        assert_eq!(r.retention_ppm, Ppm::from_ppm(200_000));
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
