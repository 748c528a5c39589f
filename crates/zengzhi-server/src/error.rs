//! The one error type of the API: `{"error": "<stable code>", "message": "…"}` with a fitting
//! HTTP status. Internal failures say only "internal" to the caller; the detail goes to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use zengzhi_core::Rejection;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Each problem of an invalid rules document (`path`, `zh`, `en`), when there are several.
    pub problems: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), problems: None }
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn busy() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "the writer's queue is full; retry shortly / 系统繁忙，请稍后重试")
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error / 内部错误")
    }
}

/// The status and a bilingual message for each engine rejection.
pub fn rejection(r: Rejection) -> ApiError {
    use Rejection::*;
    let (status, zh, en) = match r {
        InvalidCommand => (StatusCode::BAD_REQUEST, "请求字段不正确", "the request's fields are not a valid command"),
        InvalidAmount => (StatusCode::UNPROCESSABLE_ENTITY, "金额或数量格式不正确或超出范围", "an amount is malformed or out of range"),
        InvalidRules => (StatusCode::UNPROCESSABLE_ENTITY, "规则无效", "the rules are invalid"),
        InvalidRegion => (StatusCode::UNPROCESSABLE_ENTITY, "地区代码必须是 6 位数字", "a region code must be 6 digits"),
        DuplicateId => (StatusCode::CONFLICT, "编号已存在", "the id is already used"),
        UnknownMember => (StatusCode::NOT_FOUND, "会员不存在", "unknown member"),
        UnknownMerchant => (StatusCode::NOT_FOUND, "门店不存在", "unknown merchant"),
        InsufficientCash => (StatusCode::CONFLICT, "零钱余额不足", "not enough cash"),
        InsufficientCoins => (StatusCode::CONFLICT, "消费币不足", "not enough coins"),
        InsufficientPoints => (StatusCode::CONFLICT, "可用积分不足", "not enough free points"),
        BelowSellThreshold => (StatusCode::CONFLICT, "累计消费未达到卖出门槛", "lifetime consumption is below the sell threshold"),
        BelowMinimum => (StatusCode::CONFLICT, "低于最低提现金额", "below the minimum withdrawal"),
        AmountTooSmall => (StatusCode::CONFLICT, "数量太小，价值为 0", "too small: worth nothing"),
        RegionTaken => (StatusCode::CONFLICT, "该地区该级别已有代理", "that region already has an agent of that level"),
        CampaignActive => (StatusCode::CONFLICT, "已有进行中的补贴活动", "a campaign is already active"),
        NoCampaign => (StatusCode::CONFLICT, "没有进行中的补贴活动", "no campaign is active"),
        Overflow => (StatusCode::UNPROCESSABLE_ENTITY, "数值超出上限", "a 64-bit bound would be exceeded"),
    };
    ApiError::new(status, r.code(), format!("{zh} / {en}"))
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
        let mut body = serde_json::json!({"error": self.code, "message": self.message});
        if let Some(problems) = self.problems {
            body["problems"] = problems;
        }
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
