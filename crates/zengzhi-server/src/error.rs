//! The one error type of the API: `{"error": "<stable code>", "message": "…"}` with a fitting
//! HTTP status. Internal failures say only "internal" to the caller; the detail goes to the log.
//!
//! Every code the API can answer with is a variant of [`ApiCode`], with one stable string each
//! (the engine's rejections keep the strings of SPEC §7).

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use zengzhi_core::Rejection;

/// Declares [`ApiCode`] with its stable strings, once.
macro_rules! api_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)*) => {
        /// The stable error codes of the API (the `error` field of every error body).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ApiCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ApiCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ApiCode] = &[$(ApiCode::$variant,)*];

            /// The code's stable string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ApiCode::$variant => $text,)*
                }
            }
        }
    };
}

api_codes! {
    /// No valid key or member token.
    Unauthorized = "unauthorized",
    /// A valid caller without the right for this route.
    Forbidden = "forbidden",
    /// No such route or object.
    NotFound = "not_found",
    /// The writer's queue is full, or a result is not readable yet: retry.
    Busy = "busy",
    Internal = "internal",
    /// The body is not UTF-8 or not JSON.
    InvalidJson = "invalid_json",
    /// The query string is not valid.
    InvalidQuery = "invalid_query",
    /// A request the router could not read (not made by a handler).
    InvalidRequest = "invalid_request",
    PayloadTooLarge = "payload_too_large",
    /// The request's body did not arrive in time (`limits.body_timeout_s`).
    RequestTimeout = "request_timeout",
    /// As many connections as the service takes are open (`limits.max_connections`).
    TooManyConnections = "too_many_connections",
    /// Too many requests from this key, token, session or address lately (see `Retry-After`).
    RateLimited = "rate_limited",
    MethodNotAllowed = "method_not_allowed",
    UnsupportedMediaType = "unsupported_media_type",
    /// Any other failure outside the handlers.
    Error = "error",
    BatchTooLarge = "batch_too_large",
    /// An order id already used with another body.
    IdempotencyConflict = "idempotency_conflict",
    AlreadySettled = "already_settled",
    NotRefundable = "not_refundable",
    UnknownWithdrawal = "unknown_withdrawal",
    WithdrawalRejected = "withdrawal_rejected",
    WithdrawalInProgress = "withdrawal_in_progress",
    AlreadyPaid = "already_paid",
    /// A wrong user name or password (which one is not said).
    InvalidCredentials = "invalid_credentials",
    /// Too many failed sign-ins of this account or from this address lately (see `Retry-After`).
    TooManyAttempts = "too_many_attempts",
    /// A user name that is not 1 to 32 letters, digits, `.`, `_` or `-`.
    InvalidUsername = "invalid_username",
    /// A password shorter than 10 characters.
    WeakPassword = "weak_password",
    UnknownUser = "unknown_user",
    UserExists = "user_exists",
    UnknownKey = "unknown_key",
    /// More than one key has that fingerprint: nothing was revoked.
    AmbiguousKey = "ambiguous_key",
    /// A simulator scenario that does not load (its problems name the key).
    InvalidScenario = "invalid_scenario",
    /// As many simulations as may run at once are running: wait for one or cancel it.
    TooManyJobs = "too_many_jobs",
    /// A job's result asked for before it is done.
    NotReady = "not_ready",
    // The engine's rejections (SPEC §7).
    InvalidCommand = "invalid_command",
    InvalidAmount = "invalid_amount",
    InvalidRules = "invalid_rules",
    InvalidRegion = "invalid_region",
    DuplicateId = "duplicate_id",
    UnknownMember = "unknown_member",
    UnknownMerchant = "unknown_merchant",
    InsufficientCash = "insufficient_cash",
    InsufficientCoins = "insufficient_coins",
    InsufficientPoints = "insufficient_points",
    BelowSellThreshold = "below_sell_threshold",
    BelowMinimum = "below_minimum",
    AmountTooSmall = "amount_too_small",
    RegionTaken = "region_taken",
    CampaignActive = "campaign_active",
    NoCampaign = "no_campaign",
    /// An order at a store by its own owner or recruiter, refused by `limits.self_dealing`.
    SelfDealing = "self_dealing",
    Overflow = "overflow",
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Rejection> for ApiCode {
    fn from(r: Rejection) -> ApiCode {
        use Rejection::*;
        match r {
            InvalidCommand => ApiCode::InvalidCommand,
            InvalidAmount => ApiCode::InvalidAmount,
            InvalidRules => ApiCode::InvalidRules,
            InvalidRegion => ApiCode::InvalidRegion,
            DuplicateId => ApiCode::DuplicateId,
            UnknownMember => ApiCode::UnknownMember,
            UnknownMerchant => ApiCode::UnknownMerchant,
            InsufficientCash => ApiCode::InsufficientCash,
            InsufficientCoins => ApiCode::InsufficientCoins,
            InsufficientPoints => ApiCode::InsufficientPoints,
            BelowSellThreshold => ApiCode::BelowSellThreshold,
            BelowMinimum => ApiCode::BelowMinimum,
            AmountTooSmall => ApiCode::AmountTooSmall,
            RegionTaken => ApiCode::RegionTaken,
            CampaignActive => ApiCode::CampaignActive,
            NoCampaign => ApiCode::NoCampaign,
            SelfDealing => ApiCode::SelfDealing,
            Overflow => ApiCode::Overflow,
        }
    }
}

/// One problem of an invalid rules document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleProblem {
    /// `section.key` of the problem.
    pub path: String,
    pub zh: String,
    pub en: String,
}

impl RuleProblem {
    pub fn list(problems: &[zengzhi_core::rules::RuleProblem]) -> Vec<RuleProblem> {
        problems
            .iter()
            .map(|p| RuleProblem { path: p.path.to_string(), zh: p.zh.to_string(), en: p.en.to_string() })
            .collect()
    }
}

/// The body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ApiCode,
    /// `中文 / English`.
    pub message: String,
    /// Each problem of an invalid rules document, when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub problems: Option<Vec<RuleProblem>>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ApiCode,
    pub message: String,
    /// Each problem of an invalid rules document, when there are several.
    pub problems: Option<Vec<RuleProblem>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ApiCode, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), problems: None }
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ApiCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ApiCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ApiCode::NotFound, message)
    }
    pub fn bad_request(code: ApiCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn conflict(code: ApiCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ApiCode::Busy,
            "the writer's queue is full; retry shortly / 系统繁忙，请稍后重试",
        )
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ApiCode::Internal, "internal error / 内部错误")
    }
    /// The same error with another code.
    pub fn with_code(mut self, code: ApiCode) -> Self {
        self.code = code;
        self
    }
    /// The error's response, telling the client to wait `secs` seconds (`Retry-After`).
    pub fn retry_after(self, secs: u64) -> Response {
        let mut r = self.into_response();
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        r
    }
    /// The error as its JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: self.code, message: self.message.clone(), problems: self.problems.clone() }
    }
}

/// The status and a bilingual message for each engine rejection.
pub fn rejection(r: Rejection) -> ApiError {
    use Rejection::*;
    let (status, zh, en) = match r {
        InvalidCommand => (StatusCode::BAD_REQUEST, "请求字段不正确", "the request's fields are not a valid command"),
        InvalidAmount => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "金额或数量格式不正确或超出范围",
            "an amount is malformed or out of range",
        ),
        InvalidRules => (StatusCode::UNPROCESSABLE_ENTITY, "规则无效", "the rules are invalid"),
        InvalidRegion => {
            (StatusCode::UNPROCESSABLE_ENTITY, "地区代码必须是 6 位数字", "a region code must be 6 digits")
        }
        DuplicateId => (StatusCode::CONFLICT, "编号已存在", "the id is already used"),
        UnknownMember => (StatusCode::NOT_FOUND, "会员不存在", "unknown member"),
        UnknownMerchant => (StatusCode::NOT_FOUND, "门店不存在", "unknown merchant"),
        InsufficientCash => (StatusCode::CONFLICT, "零钱余额不足", "not enough cash"),
        InsufficientCoins => (StatusCode::CONFLICT, "消费币不足", "not enough coins"),
        InsufficientPoints => (StatusCode::CONFLICT, "可用积分不足", "not enough free points"),
        BelowSellThreshold => {
            (StatusCode::CONFLICT, "累计消费未达到卖出门槛", "lifetime consumption is below the sell threshold")
        }
        BelowMinimum => (StatusCode::CONFLICT, "低于最低提现金额", "below the minimum withdrawal"),
        AmountTooSmall => (StatusCode::CONFLICT, "数量太小，价值为 0", "too small: worth nothing"),
        RegionTaken => (StatusCode::CONFLICT, "该地区该级别已有代理", "that region already has an agent of that level"),
        CampaignActive => (StatusCode::CONFLICT, "已有进行中的补贴活动", "a campaign is already active"),
        NoCampaign => (StatusCode::CONFLICT, "没有进行中的补贴活动", "no campaign is active"),
        SelfDealing => (
            StatusCode::CONFLICT,
            "门店的店主或招商人不能在本店下单（刷单）",
            "a store's owner or recruiter may not order at that store (self-dealing)",
        ),
        Overflow => (StatusCode::UNPROCESSABLE_ENTITY, "数值超出上限", "a 64-bit bound would be exceeded"),
    };
    ApiError::new(status, r.into(), format!("{zh} / {en}"))
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        rejection(r)
    }
}

impl From<zengzhi_journal::Error> for ApiError {
    fn from(e: zengzhi_journal::Error) -> Self {
        match e {
            zengzhi_journal::Error::Busy => ApiError::busy(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        (status, Json(ErrorBody { error: self.code, message: self.message, problems: self.problems })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_stable_strings_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ApiCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }

    #[test]
    fn every_engine_rejection_keeps_its_spec_code() {
        for r in Rejection::ALL {
            assert_eq!(ApiCode::from(r).as_str(), r.code());
            assert_eq!(rejection(r).code.as_str(), r.code());
        }
    }
}
