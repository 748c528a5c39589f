//! The OpenAPI document: valid OpenAPI 3.1 (parsed by `oas3`), every operation with named,
//! resolvable request and response schemas.

use serde_json::Value;

fn doc() -> &'static Value {
    zengzhi_server::routes::openapi()
}

#[test]
fn the_document_parses_as_openapi_3_1() {
    let text = serde_json::to_string(doc()).unwrap();
    if let Ok(path) = std::env::var("ZENGZHI_OPENAPI_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(doc()).unwrap()).unwrap();
    }
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let ops: Vec<_> = spec.operations().collect();
    assert_eq!(ops.len(), zengzhi_server::routes::table().len(), "every route is an operation");
}

/// Every `$ref` in the document names a component that exists.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().unwrap().to_string());
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_every_json_response_has_a_named_schema() {
    let d = doc();
    let mut all = Vec::new();
    refs(d, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r} is a schema reference"));
        assert!(d["components"]["schemas"][name].is_object(), "{r} resolves");
    }
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let ok = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(s, _)| s.starts_with('2'))
                .expect("a success response");
            let content = ok.1["content"].as_object().unwrap_or_else(|| panic!("{method} {path}: success has content"));
            for (ctype, media) in content {
                let schema = &media["schema"];
                if ctype == "application/json" && path != "/v1/openapi.json" && path != "/v1/admin/state" {
                    assert!(schema["$ref"].is_string(), "{method} {path}: a named response schema, got {schema}");
                }
            }
            if method != "get" {
                if let Some(body) = op.get("requestBody") {
                    let schema = &body["content"]["application/json"]["schema"];
                    assert!(schema.is_object(), "{method} {path}: a request schema");
                }
            }
        }
    }
    // Named components with required fields, e.g. the order result and the error body.
    let result = &d["components"]["schemas"]["OrderResult"];
    let required: Vec<&str> = result["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for f in ["ok", "order", "seq", "at", "minted", "commission", "exits", "idempotent_replay"] {
        assert!(required.contains(&f), "OrderResult.{f} is required");
    }
    let error = &d["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error", "message"]));
    assert!(error["properties"]["error"]["$ref"].as_str().unwrap().ends_with("/ApiCode"));
    let codes = &d["components"]["schemas"]["ApiCode"]["enum"];
    assert_eq!(codes.as_array().unwrap().len(), zengzhi_server::error::ApiCode::ALL.len());
}

#[test]
fn an_unknown_interval_is_documented_as_an_enum() {
    let op = &doc()["paths"]["/v1/price/history"]["get"];
    let interval = op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "interval").unwrap();
    let text = interval["schema"].to_string();
    for v in ["minute", "hour", "day"] {
        assert!(text.contains(v), "{text}");
    }
}
