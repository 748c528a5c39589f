//! The types of the API's JSON: every response body is one of these (serialized as is), and the
//! request bodies are documented by them. Request bodies are *read* by the engine's own strict
//! reader (`zengzhi_core::command::parse_fields`), never by these types: they only describe
//! the fields, so the OpenAPI document and the reader cannot weaken each other.
//!
//! Money, points, prices and rates are decimal strings (SPEC §3), named schemas of their own.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use zengzhi_core::num::{format_money, format_money_wide, format_points, format_rate, Fen, Ppm, Units};

/// Declares a decimal-string scalar: a transparent `String` with a named schema.
macro_rules! scalar {
    ($(#[doc = $doc:literal])* $name:ident, $pattern:literal, $example:literal) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some($pattern))
                    .examples([serde_json::json!($example)])
                    .description(Some(concat!($($doc, "\n",)*).trim()))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

scalar!(
    /// Money: yuan with exactly two decimals (fen), e.g. "12.30"; negative only where a balance moves down.
    Money,
    "^-?[0-9]+\\.[0-9]{2}$",
    "100.00"
);
scalar!(
    /// Points: a quantity with eight decimals (units of 10^-8), e.g. "10.50000000".
    Points,
    "^-?[0-9]+\\.[0-9]{8}$",
    "10.50000000"
);
scalar!(
    /// A price in yuan per point, eight decimals, rounded down.
    Price,
    "^[0-9]+\\.[0-9]{8}$",
    "1.00000000"
);
scalar!(
    /// A rate as a decimal fraction (parts per million), e.g. "0.2" for 20%.
    Rate,
    "^[0-9]+(\\.[0-9]{1,6})?$",
    "0.2"
);
scalar!(
    /// Money in a request: yuan with at most two decimals.
    MoneyIn,
    "^[0-9]+(\\.[0-9]{1,2})?$",
    "100.00"
);
scalar!(
    /// Points in a request: a quantity with at most eight decimals, or "all".
    PointsIn,
    "^([0-9]+(\\.[0-9]{1,8})?|all)$",
    "10.5"
);
scalar!(
    /// A member, store, order or campaign id.
    Id,
    "^[A-Za-z0-9_.:-]{1,64}$",
    "alice"
);

/// A quantity from the engine's newtype or from a stored integer of the same unit (the query
/// and service tables keep `BIGINT` fen, units and ppm).
pub trait Quantity<T> {
    fn quantity(self) -> T;
}

macro_rules! quantity_from {
    ($t:ty, $from:path) => {
        impl Quantity<$t> for $t {
            fn quantity(self) -> $t {
                self
            }
        }
        impl Quantity<$t> for i64 {
            fn quantity(self) -> $t {
                $from(self)
            }
        }
    };
}
quantity_from!(Fen, Fen::from_fen);
quantity_from!(Units, Units::from_units);
quantity_from!(Ppm, Ppm::from_ppm);

impl Money {
    pub fn fen(fen: impl Quantity<Fen>) -> Money {
        Money(format_money(fen.quantity()))
    }
}

impl Money {
    /// A sum that may exceed 64 bits (totals of totals).
    pub fn wide(fen: i128) -> Money {
        Money(format_money_wide(fen))
    }
}

impl Points {
    pub fn units(units: impl Quantity<Units>) -> Points {
        Points(format_points(units.quantity()))
    }
}

impl Rate {
    pub fn ppm(ppm: impl Quantity<Ppm>) -> Rate {
        Rate(format_rate(ppm.quantity()))
    }
}

// ---- statuses ------------------------------------------------------------------------------

/// Declares a status enum stored and sent as its lower-case name.
macro_rules! status {
    ($(#[doc = $doc:literal])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The status of a stored name.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status!(
    /// Where an order held for the settlement delay is.
    PendingStatus { Pending = "pending", Settling = "settling", Settled = "settled", Rejected = "rejected", Refunded = "refunded" }
);
status!(
    /// Where a withdrawal request is.
    WithdrawalStatus { Pending = "pending", Paying = "paying", Paid = "paid", Rejected = "rejected" }
);
status!(
    /// A candle interval.
    Interval { Minute = "minute", Hour = "hour", Day = "day" }
);

impl From<Interval> for zengzhi_journal::backend::Interval {
    fn from(i: Interval) -> Self {
        match i {
            Interval::Minute => zengzhi_journal::backend::Interval::Minute,
            Interval::Hour => zengzhi_journal::backend::Interval::Hour,
            Interval::Day => zengzhi_journal::backend::Interval::Day,
        }
    }
}

/// The status of a settled order (`GET /v1/orders/{id}` of a journaled order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettledStatus {
    Settled,
}

// ---- responses -----------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// A journaled command: its entry and when it was accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Applied {
    /// Always true.
    pub ok: bool,
    /// The journal entry.
    pub seq: u64,
    /// When the writer accepted it (RFC 3339).
    pub at: String,
    /// Members the cascade exited.
    pub exits: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCreated {
    pub ok: bool,
    pub seq: u64,
    pub at: String,
    pub member: Id,
    /// The referrer bound (given, or the owner of the store scanned).
    #[schema(required = true)]
    pub referrer: Option<Id>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberTokenIssued {
    pub member: Id,
    /// `mt.<payload>.<signature>`: send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_unix: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsTotals {
    pub commissions: Money,
    pub injected: Money,
    pub subsidies: Money,
    pub withdrawn: Money,
    pub redeemed: Money,
    pub coins_issued: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub pool: Money,
    pub supply: Points,
    pub price: Price,
    pub members: u64,
    /// Members holding free or locked points.
    pub members_holding: u64,
    pub merchants: u64,
    pub orders: u64,
    pub exits: u64,
    pub totals: StatsTotals,
    pub platform_revenue: Money,
    pub dividend_pool: Money,
}

/// One price candle (Beijing-time buckets).
#[derive(Debug, Serialize, ToSchema)]
pub struct CandleView {
    /// The interval's start (RFC 3339).
    pub start: String,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Pool and supply at the close.
    pub pool: Money,
    pub supply: Points,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceHistory {
    pub interval: Interval,
    /// Always `Asia/Shanghai`.
    pub timezone: String,
    pub candles: Vec<CandleView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyInflow {
    pub commissions: Money,
    pub injected: Money,
    pub subsidies: Money,
    pub total: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyWhere {
    pub pool: Money,
    pub member_cash: Money,
    pub platform_revenue: Money,
    pub dividend_pool: Money,
    pub withdrawn: Money,
    pub cash_spent: Money,
    pub redeemed: Money,
    pub total: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoinTotals {
    pub issued: Money,
    pub held: Money,
    pub spent: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointTotals {
    pub supply: Points,
    pub held_by_members: Points,
}

/// Money conservation: everything that came in is somewhere.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conservation {
    pub money_in: MoneyInflow,
    pub money_where: MoneyWhere,
    pub coins: CoinTotals,
    pub points: PointTotals,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Proof {
    pub journal_length: u64,
    /// The chain hash of the last entry (hex).
    pub head_hash: String,
    pub conservation: Conservation,
}

/// The result of an order journaled now (or, `idempotent_replay`, earlier with the same body).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResult {
    pub ok: bool,
    pub order: Id,
    pub seq: u64,
    pub at: String,
    pub minted: Points,
    pub commission: Money,
    pub exits: u32,
    pub idempotent_replay: bool,
}

/// An order held for the settlement delay, or done waiting.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingOrderView {
    pub ok: bool,
    pub order: Id,
    pub status: PendingStatus,
    pub received_at: String,
    pub settle_after_unix: u64,
    /// The journal entry, once settled.
    #[schema(required = true)]
    pub seq: Option<u64>,
    /// The rejection code, if settlement was rejected.
    #[schema(required = true)]
    pub error: Option<String>,
    /// Present (true) when the same order was posted again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub idempotent_replay: Option<bool>,
}

/// One failed item of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemError {
    /// Always false.
    pub ok: bool,
    pub error: crate::error::ApiCode,
    pub message: String,
}

/// One item of a batch's results.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Order(OrderResult),
    Pending(PendingOrderView),
    Error(BatchItemError),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBatchResult {
    /// One per order, in the order sent.
    pub results: Vec<BatchItem>,
    pub accepted: usize,
    pub rejected: usize,
}

/// A settled order from the query tables.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettledOrder {
    pub order: Id,
    pub seq: u64,
    pub at: String,
    pub member: Id,
    #[schema(required = true)]
    pub merchant: Option<Id>,
    pub amount: Money,
    pub commission: Money,
    pub minted: Points,
    pub status: SettledStatus,
}

/// An order: settled, or held for the settlement delay.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OrderView {
    Settled(SettledOrder),
    Pending(PendingOrderView),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CapView {
    /// The exit multiple (e.g. "1.2").
    pub multiple: Rate,
    pub cap: Money,
    /// Realised plus held value over the cap (1 = the cap).
    pub progress: Rate,
    pub exit_would_pay_now: Money,
}

/// A member's own view.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub member: Id,
    pub points: Points,
    pub locked: Points,
    pub value_now: Money,
    pub price: Price,
    pub cash: Money,
    pub pending_withdrawals: Money,
    pub withdrawable: Money,
    pub coins: Money,
    pub cycle_consumption: Money,
    pub cycle_realized: Money,
    pub lifetime_consumption: Money,
    pub exits: u64,
    pub rewards: Money,
    pub cap: CapView,
    pub referral_link: String,
    /// The referral link as an SVG QR code.
    pub referral_qr_svg: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SellPreview {
    pub points: Points,
    pub gross: Money,
    pub kept_in_pool: Money,
    pub payout: Money,
    pub retention: Rate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    pub points: Points,
    pub cash: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberApplied {
    pub ok: bool,
    pub seq: u64,
    pub at: String,
    pub exits: u32,
    pub member: Id,
    /// The member's balances after the command (null if the cascade removed nothing… never
    /// null for a registered member).
    #[schema(required = true)]
    pub balances: Option<Balances>,
}

/// A withdrawal request and what became of it. `fee` and `payout` are the engine's once paid,
/// else a quote at the current rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalView {
    pub id: String,
    pub member: Id,
    pub amount: Money,
    #[schema(required = true)]
    pub fee: Option<Money>,
    #[schema(required = true)]
    pub payout: Option<Money>,
    pub status: WithdrawalStatus,
    pub requested_at: String,
    #[schema(required = true)]
    pub decided_at: Option<String>,
    #[schema(required = true)]
    pub decided_by: Option<String>,
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub seq: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalResult {
    pub ok: bool,
    pub withdrawal: WithdrawalView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalPage {
    pub items: Vec<WithdrawalView>,
    /// The `after` of the next page, if there may be one.
    #[schema(required = true)]
    pub next_after: Option<String>,
}

/// One row of a member's ledger: what one journal entry changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerItem {
    pub seq: u64,
    /// `order`, a reward by kind (`reward_direct`, `reward_indirect`, `reward_recruiter`,
    /// `reward_district`, `reward_city`, `reward_province`, `reward_peer`), `sell`, `redeem`,
    /// `withdraw`, `exit`, `release`, `dividend` or `coins`.
    pub reason: String,
    pub points: Points,
    pub locked: Points,
    pub cash: Money,
    pub coins: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub member: Id,
    pub items: Vec<LedgerItem>,
    /// The `before` of the next page, if there may be one.
    #[schema(required = true)]
    pub next_before: Option<u64>,
}

/// The rules as sections of keys (the TOML document's shape).
pub type RulesDoc = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    /// Sections of keys, as in the rules TOML file.
    #[schema(value_type = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>)]
    pub rules: RulesDoc,
    /// Compliance warnings.
    pub warnings: Vec<crate::error::RuleProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RulesApplied {
    pub ok: bool,
    pub seq: u64,
    pub at: String,
    pub exits: u32,
    #[schema(value_type = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>)]
    pub rules: RulesDoc,
    pub warnings: Vec<crate::error::RuleProblem>,
}

// ---- request bodies (documentation of what the strict reader takes) -------------------------

/// `POST /v1/members`: `referrer`, or `store` (the store whose QR code or link was used: binds
/// to its owner), not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RegisterMember {
    pub member: Id,
    pub referrer: Option<Id>,
    pub store: Option<Id>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RegisterMerchant {
    pub merchant: Id,
    /// The commission rate (default: the rules').
    pub commission: Option<Rate>,
    /// The owner member.
    pub owner: Option<Id>,
    /// The promoter who recruited the store.
    pub recruiter: Option<Id>,
    /// A 6-digit region code.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AgentLevel {
    District,
    City,
    Province,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AppointAgent {
    pub member: Id,
    pub level: AgentLevel,
    /// A 6-digit region code.
    pub region: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SetShareholder {
    pub member: Id,
    /// 0 removes the shareholder.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub weight: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct GrantCoins {
    pub member: Id,
    pub amount: MoneyIn,
}

/// A settled order (idempotent on `order`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewOrder {
    pub order: Id,
    /// The buyer.
    pub member: Id,
    pub merchant: Option<Id>,
    pub amount: MoneyIn,
    /// An explicit commission (self-operated goods).
    pub commission: Option<MoneyIn>,
    pub pay_cash: Option<MoneyIn>,
    pub pay_coins: Option<MoneyIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OrderBatch {
    /// At most 10,000 orders.
    pub orders: Vec<NewOrder>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SellPoints {
    /// A quantity or "all".
    pub points: PointsIn,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AmountBody {
    pub amount: MoneyIn,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct StartCampaign {
    pub campaign: Id,
    pub rate: Rate,
    pub budget: MoneyIn,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RejectWithdrawal {
    /// Shown to the member, at most 500 characters.
    pub reason: Option<String>,
}

/// A body without fields (`{}` or empty).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NoFields {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_their_names() {
        for s in PendingStatus::ALL {
            assert_eq!(PendingStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        for s in WithdrawalStatus::ALL {
            assert_eq!(WithdrawalStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        for s in Interval::ALL {
            assert_eq!(Interval::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Interval::parse("week"), None);
        assert_eq!(serde_json::from_str::<Interval>("\"week\"").ok(), None);
    }
}
