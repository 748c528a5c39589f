//! The API tests' calls, shared by the in-process suite (the router in the test's process) and
//! the black-box suite (a `zengzhi serve` over TCP): a [`Client`] only sends a request; the
//! checks on what comes back are [`Resp`]'s.

use serde_json::Value;

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub ctype: String,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{} {}: not JSON ({e}): {:?}", self.method, self.path, self.text))
    }

    /// Expects 200 with a JSON body; returns it.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{} {} → {} {}", self.method, self.path, self.status, self.text);
        assert!(self.ctype.starts_with("application/json"), "{} {}: content-type {}", self.method, self.path, self.ctype);
        self.json()
    }

    /// Expects the API's JSON error: `status`, `{"error": code, "message": non-empty}` and
    /// nothing else (an invalid rules document also lists each problem: path, zh, en).
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{} {} → {} {}",
            self.method,
            self.path,
            self.status,
            self.text
        );
        assert!(self.ctype.starts_with("application/json"), "{} {}: an error is JSON, got {}", self.method, self.path, self.ctype);
        let v = self.json();
        let obj = v.as_object().expect("an object");
        let expected = if code == "invalid_rules" && obj.contains_key("problems") { 3 } else { 2 };
        assert_eq!(obj.len(), expected, "an error has exactly error and message (and problems for rules): {v}");
        if let Some(problems) = obj.get("problems") {
            let each = |x: &Value| x["path"].is_string() && x["zh"].is_string() && x["en"].is_string();
            assert!(problems.as_array().is_some_and(|p| !p.is_empty() && p.iter().all(each)), "{v}");
        }
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        v
    }

    pub fn error_code(&self) -> String {
        serde_json::from_str::<Value>(&self.text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| format!("<no JSON error: {:?}>", self.text.chars().take(200).collect::<String>()))
    }
}

/// What the API tests call; an implementation only sends a request.
pub trait Client {
    /// The admin token.
    fn admin_token(&self) -> &str;

    /// One request (`body` sent as JSON when given).
    fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> Resp;

    fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("GET", path, token, None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &str) -> Resp {
        self.request("POST", path, token, Some(body.as_bytes().to_vec()))
    }

    fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.request("POST", path, token, Some(body.to_string().into_bytes()))
    }

    /// GET, expecting 200 and JSON.
    #[track_caller]
    fn get_ok(&self, path: &str, token: Option<&str>) -> Value {
        self.get(path, token).ok()
    }

    /// POST a JSON value, expecting 200.
    #[track_caller]
    fn post_ok(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        self.post_json(path, token, body).ok()
    }

    /// The full state as the service writes it (`GET /v1/admin/state`, SPEC §8 without results).
    fn state_text(&self) -> String {
        let r = self.get("/v1/admin/state", Some(self.admin_token()));
        assert_eq!(r.status, 200, "{}", r.text);
        r.text
    }

    fn state(&self) -> Value {
        serde_json::from_str(&self.state_text()).expect("the state is JSON")
    }

    /// A member token for `member` (through the admin key).
    fn member_token(&self, member: &str) -> String {
        let v = self.post_ok(&format!("/v1/members/{member}/token"), Some(self.admin_token()), &Value::Null);
        v["token"].as_str().expect("a token").to_string()
    }

    fn journal_length(&self) -> u64 {
        self.get_ok("/v1/proof", None)["journal_length"].as_u64().expect("a length")
    }
}
