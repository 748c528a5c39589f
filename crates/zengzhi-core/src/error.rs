//! Why a command was rejected: the stable error codes of SPEC §8.

/// A business rejection. The state is unchanged whenever one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    InvalidCommand,
    InvalidAmount,
    InvalidRules,
    InvalidRegion,
    DuplicateId,
    UnknownMember,
    UnknownMerchant,
    InsufficientCash,
    InsufficientCoins,
    InsufficientPoints,
    BelowSellThreshold,
    BelowMinimum,
    AmountTooSmall,
    RegionTaken,
    CampaignActive,
    NoCampaign,
    /// An order at a store by its own owner or recruiter, under `limits.self_dealing = "reject"`.
    SelfDealing,
    Overflow,
}

impl Rejection {
    /// Every code, for documentation and tests.
    pub const ALL: [Rejection; 18] = [
        Rejection::InvalidCommand,
        Rejection::InvalidAmount,
        Rejection::InvalidRules,
        Rejection::InvalidRegion,
        Rejection::DuplicateId,
        Rejection::UnknownMember,
        Rejection::UnknownMerchant,
        Rejection::InsufficientCash,
        Rejection::InsufficientCoins,
        Rejection::InsufficientPoints,
        Rejection::BelowSellThreshold,
        Rejection::BelowMinimum,
        Rejection::AmountTooSmall,
        Rejection::RegionTaken,
        Rejection::CampaignActive,
        Rejection::NoCampaign,
        Rejection::SelfDealing,
        Rejection::Overflow,
    ];

    /// The stable code written to `results` and API errors.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::InvalidCommand => "invalid_command",
            Rejection::InvalidAmount => "invalid_amount",
            Rejection::InvalidRules => "invalid_rules",
            Rejection::InvalidRegion => "invalid_region",
            Rejection::DuplicateId => "duplicate_id",
            Rejection::UnknownMember => "unknown_member",
            Rejection::UnknownMerchant => "unknown_merchant",
            Rejection::InsufficientCash => "insufficient_cash",
            Rejection::InsufficientCoins => "insufficient_coins",
            Rejection::InsufficientPoints => "insufficient_points",
            Rejection::BelowSellThreshold => "below_sell_threshold",
            Rejection::BelowMinimum => "below_minimum",
            Rejection::AmountTooSmall => "amount_too_small",
            Rejection::RegionTaken => "region_taken",
            Rejection::CampaignActive => "campaign_active",
            Rejection::NoCampaign => "no_campaign",
            Rejection::SelfDealing => "self_dealing",
            Rejection::Overflow => "overflow",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Rejection {}
