//! The OpenAPI document, generated from the route table below (no build step, no download).
//! A test checks every route here is served by the router.

use serde_json::{json, Map, Value};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// An `integration` key (or admin).
    Integration,
    /// A `readonly` key, an integration key where noted, or admin.
    Read,
    /// A member token.
    Member,
    /// An `admin` key.
    Admin,
}

/// One route: method, path, access, summary (English / 中文), request fields
/// (name, type, required, description).
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub summary_zh: &'static str,
    pub fields: &'static [(&'static str, &'static str, bool, &'static str)],
}

const MONEY: &str = "money";
const POINTS: &str = "points";
const ID: &str = "id";

pub const ROUTES: &[RouteDoc] = &[
    RouteDoc { method: "get", path: "/healthz", access: Access::Public, summary: "Liveness", summary_zh: "健康检查", fields: &[] },
    RouteDoc { method: "get", path: "/metrics", access: Access::Public, summary: "Prometheus metrics", summary_zh: "监控指标", fields: &[] },
    RouteDoc { method: "get", path: "/v1/openapi.json", access: Access::Public, summary: "This document", summary_zh: "接口文档", fields: &[] },
    RouteDoc { method: "get", path: "/v1/stats", access: Access::Public, summary: "Pool, supply, price, members, exits, totals", summary_zh: "盈利池、流通积分、价格、会员、出局、合计", fields: &[] },
    RouteDoc { method: "get", path: "/v1/price/history", access: Access::Public, summary: "Price candles (query: interval=minute|hour|day, limit)", summary_zh: "价格 K 线", fields: &[] },
    RouteDoc { method: "get", path: "/v1/proof", access: Access::Public, summary: "Journal length, head hash, money-conservation totals", summary_zh: "日志长度、链头哈希、资金守恒", fields: &[] },
    RouteDoc { method: "post", path: "/v1/members", access: Access::Integration, summary: "Register a member (referrer, or the store whose QR code was scanned: binds to its owner)", summary_zh: "注册会员（推荐人，或扫码门店绑定店主）", fields: &[("member", ID, true, "member id"), ("referrer", ID, false, "referrer id"), ("store", ID, false, "store whose QR code / link was used")] },
    RouteDoc { method: "post", path: "/v1/members/{id}/token", access: Access::Integration, summary: "Issue a signed, expiring member token", summary_zh: "签发会员令牌", fields: &[] },
    RouteDoc { method: "post", path: "/v1/merchants", access: Access::Integration, summary: "Register a store", summary_zh: "注册门店", fields: &[("merchant", ID, true, "store id"), ("commission", "rate", false, "commission rate, default rules"), ("owner", ID, false, "owner member"), ("recruiter", ID, false, "promoter who recruited the store"), ("region", "string", false, "6-digit region code")] },
    RouteDoc { method: "post", path: "/v1/agents", access: Access::Integration, summary: "Appoint a regional agent", summary_zh: "任命区域代理", fields: &[("member", ID, true, ""), ("level", "string", true, "district | city | province"), ("region", "string", true, "6-digit region code")] },
    RouteDoc { method: "post", path: "/v1/shareholders", access: Access::Integration, summary: "Set a shareholder's weight (0 removes)", summary_zh: "设置股东权重", fields: &[("member", ID, true, ""), ("weight", "integer", true, "0 to 4294967295")] },
    RouteDoc { method: "post", path: "/v1/coins", access: Access::Integration, summary: "Grant legacy coins", summary_zh: "发放消费币", fields: &[("member", ID, true, ""), ("amount", MONEY, true, "")] },
    RouteDoc { method: "post", path: "/v1/orders", access: Access::Integration, summary: "A settled order (idempotent on the order id)", summary_zh: "结算订单（订单号幂等）", fields: &[("order", ID, true, "unique order id"), ("member", ID, true, "buyer"), ("merchant", ID, false, "store"), ("amount", MONEY, true, ""), ("commission", MONEY, false, "explicit commission (self-operated goods)"), ("pay_cash", MONEY, false, ""), ("pay_coins", MONEY, false, "")] },
    RouteDoc { method: "post", path: "/v1/orders/batch", access: Access::Integration, summary: "Up to 10,000 orders, one result each", summary_zh: "批量订单（最多 10,000 笔）", fields: &[("orders", "array", true, "order objects as for POST /v1/orders")] },
    RouteDoc { method: "get", path: "/v1/orders/{id}", access: Access::Read, summary: "One order (pending, settled, rejected or refunded)", summary_zh: "查询订单", fields: &[] },
    RouteDoc { method: "post", path: "/v1/orders/{id}/refund", access: Access::Integration, summary: "Refund a pending order within the settlement delay (refused after settlement)", summary_zh: "结算前退款", fields: &[] },
    RouteDoc { method: "get", path: "/v1/me", access: Access::Member, summary: "My points, value, price, cap progress, what exiting would pay, cash, coins, referral link and QR code", summary_zh: "我的积分、价值、价格、封顶进度、出局可得、零钱、消费币、推广链接和二维码", fields: &[] },
    RouteDoc { method: "post", path: "/v1/me/sell/preview", access: Access::Member, summary: "Preview a sale: gross, kept in the pool, payout", summary_zh: "卖出预览", fields: &[("points", POINTS, true, "a quantity or \"all\"")] },
    RouteDoc { method: "post", path: "/v1/me/sell", access: Access::Member, summary: "Sell points for cash", summary_zh: "卖出积分", fields: &[("points", POINTS, true, "a quantity or \"all\"")] },
    RouteDoc { method: "post", path: "/v1/me/redeem", access: Access::Member, summary: "Pay for goods with points", summary_zh: "积分兑换", fields: &[("amount", MONEY, true, "")] },
    RouteDoc { method: "post", path: "/v1/me/withdraw", access: Access::Member, summary: "Ask to withdraw cash (202: queued for an operator; the amount is reserved until paid or rejected)", summary_zh: "申请零钱提现（待审核，金额冻结至打款或驳回）", fields: &[("amount", MONEY, true, "")] },
    RouteDoc { method: "get", path: "/v1/me/withdrawals", access: Access::Member, summary: "My withdrawal requests (query: status, after, limit)", summary_zh: "我的提现申请", fields: &[] },
    RouteDoc { method: "get", path: "/v1/me/history", access: Access::Member, summary: "My ledger, newest first (query: before, limit)", summary_zh: "我的明细", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/rules", access: Access::Read, summary: "The rules and their compliance warnings", summary_zh: "规则与合规提示", fields: &[] },
    RouteDoc { method: "put", path: "/v1/admin/rules", access: Access::Admin, summary: "Change rules (partial; validated as a whole)", summary_zh: "修改规则", fields: &[] },
    RouteDoc { method: "post", path: "/v1/admin/inject", access: Access::Admin, summary: "Financing injection into the pool", summary_zh: "融资注入", fields: &[("amount", MONEY, true, "")] },
    RouteDoc { method: "post", path: "/v1/admin/campaigns", access: Access::Admin, summary: "Start a subsidy campaign", summary_zh: "开始补贴活动", fields: &[("campaign", ID, true, ""), ("rate", "rate", true, ""), ("budget", MONEY, true, "")] },
    RouteDoc { method: "post", path: "/v1/admin/campaigns/end", access: Access::Admin, summary: "End the campaign", summary_zh: "结束补贴活动", fields: &[] },
    RouteDoc { method: "post", path: "/v1/admin/release-locked", access: Access::Admin, summary: "Release a batch of locked points", summary_zh: "分批释放", fields: &[] },
    RouteDoc { method: "post", path: "/v1/admin/dividends", access: Access::Admin, summary: "Distribute shareholder dividends", summary_zh: "股东分红", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/state", access: Access::Read, summary: "The full state (SPEC §8, without results)", summary_zh: "完整状态", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/export/members.csv", access: Access::Read, summary: "Members as CSV", summary_zh: "导出会员 CSV", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/export/orders.csv", access: Access::Read, summary: "Settled orders as CSV (query: from, to = YYYY-MM-DD Beijing time; after_seq)", summary_zh: "导出订单 CSV", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/export/holdings.csv", access: Access::Read, summary: "Every member's balances at the end of a record date (query: date = YYYY-MM-DD, Beijing time)", summary_zh: "导出登记日持仓 CSV", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/withdrawals", access: Access::Read, summary: "The withdrawal queue (query: status = pending|paying|paid|rejected, member, after, limit)", summary_zh: "提现审核队列", fields: &[] },
    RouteDoc { method: "get", path: "/v1/admin/withdrawals/{id}", access: Access::Read, summary: "One withdrawal", summary_zh: "查询提现申请", fields: &[] },
    RouteDoc { method: "post", path: "/v1/admin/withdrawals/{id}/pay", access: Access::Admin, summary: "Pay a withdrawal: journals the withdraw command (idempotent)", summary_zh: "提现打款（幂等）", fields: &[] },
    RouteDoc { method: "post", path: "/v1/admin/withdrawals/{id}/reject", access: Access::Admin, summary: "Reject a withdrawal: the reserved cash is withdrawable again (idempotent)", summary_zh: "驳回提现，冻结金额退回零钱（幂等）", fields: &[("reason", "string", false, "shown to the member, at most 500 characters")] },
];

fn schema_of(kind: &str) -> Value {
    match kind {
        MONEY => json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$", "example": "100.00"}),
        POINTS => json!({"type": "string", "pattern": "^([0-9]+(\\.[0-9]{1,8})?|all)$", "example": "10.5"}),
        "rate" => json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,6})?$", "example": "0.20"}),
        ID => json!({"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}),
        "integer" => json!({"type": "integer", "minimum": 0, "maximum": 4294967295u64}),
        "array" => json!({"type": "array", "items": {"type": "object"}}),
        _ => json!({"type": "string"}),
    }
}

/// The OpenAPI 3.0 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut op = json!({
            "summary": format!("{} / {}", r.summary_zh, r.summary),
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        match r.access {
            Access::Public => {}
            Access::Member => op["security"] = json!([{"memberToken": []}]),
            _ => op["security"] = json!([{"apiKey": []}]),
        }
        op["x-access"] = json!(format!("{:?}", r.access).to_lowercase());
        if !r.fields.is_empty() {
            let mut props = Map::new();
            let mut required = Vec::new();
            for (name, kind, req, desc) in r.fields {
                let mut s = schema_of(kind);
                if !desc.is_empty() {
                    s["description"] = json!(desc);
                }
                props.insert((*name).to_string(), s);
                if *req {
                    required.push(*name);
                }
            }
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": false, "properties": props, "required": required}}}});
        }
        if r.path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": schema_of(ID)}]);
        }
        paths.entry(r.path.to_string()).or_insert_with(|| json!({}))[r.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "zengzhi 增值 API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Money is a string of yuan with at most 2 decimals; points a string with at most 8. Errors are {\"error\": code, \"message\": text}."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "API key (admin, integration or readonly)"},
                "memberToken": {"type": "http", "scheme": "bearer", "description": "Member token from POST /v1/members/{id}/token"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
        },
    })
}
