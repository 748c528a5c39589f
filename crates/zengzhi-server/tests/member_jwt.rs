//! Member tokens the platform mints itself (JWTs: HS256 with the shared secret, EdDSA or RS256
//! with a configured public key), the member page's own routes (referrals, rules, the `/join`
//! landing data) and the demo-only way in (`/v1/demo/members`, `/v1/demo/join`).
//!
//! The keys below are throwaway test keys made for this file only.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use zengzhi_server::config::Secret;
use zengzhi_testkit::app::{spawn_app, spawn_app_with, Backend, TestApp};

const SECRET: &str = "a-shared-secret-of-32-bytes-long";
const ED_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPyM9BNKQcjSPKr0XgQ8c/EN0s5u0/cfaqBLV99eyW6y
-----END PRIVATE KEY-----";
const ED_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEABPrZZ2oPdlwGHZ7jvGoPbUJ5aitpyVRFYGFrrOExRM0=
-----END PUBLIC KEY-----";
const ED_OTHER_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINF2dZ16x/D8Tun4sZ9FeTWaPeT8xQwXk3jc/6zsWT3b
-----END PRIVATE KEY-----";
const RSA_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCyghbLjmHyZQ9w
XeBD/qZaHi++P2+vZ7oc195J3zdrc1+nTyQElPT5VC4Eb3J47TSmS0VocXWZR1NK
G2F+IkToNMl0DBlPA93G5eUrbc4VYDyfoaFE6mKT/RhuxpnN6tF6dKMd8RnD5KmV
biHSopuHttfganjcmBY6SVRX7wbD8LED+XaaXHR+rOQ+8aelIXOf6c7mIwvA4tGI
+pN/3ydFIqHgMteU3QIG7yrnEhATntQSVaqarTjSPKOGIZDGek9Yjet0/8Xtg/hR
pdw5vDY7esh+7UeAXpH1TzYKdHfl2VtCfNuNxOe7Hft1lMpuNsLI8p1des2Egm4l
gbGeFxy7AgMBAAECggEACyX+wHXC/j17ilwCjpyPzR8Hgk057219/SEqO9jaADbz
aWKS8EpRRmUQfqxrLMw7tosK6av0WT9QH1e4bgU74nixgDLlPb8TEcH33w97iHA7
OQkCJmixAWcUKI70uhyJOqmgKlWNc2OLh86aBCqtpfswXk6n/7br5HYB83/1HzWF
LkW9klrOdGYIznm8xLuJqZKAQVoMt1a4frSaki/tfKUJPcgNELncCYD9M6ho2Ps8
mgWDYA4kRWM/QjycBf5m4Sm64cDmnk7XDSyojwMUUYwm/lSlTnRy3hUsMpvpkMbS
rnRHO1ctmisSu6cGCoEsaW4l+6D/aAgr6eCCrOJgkQKBgQDtxBnZJ0H1P1zMfWN/
XognDjze4f0Awi45EE1hfPefvSqYwKK4lgNfQxf18V1pIB7cw/N0L6+1TWNdVHaS
xnz8XRV8F6Mxk8onGBVGw1jL4iBx/ZwVALxfmsh43l1HB+dOjjzYWtVbGENlr+CT
MctBNmA5w+8XIWLckYWcmaf76QKBgQDAMp5jtsEhinZbpiBPxnxg07a0m12ETzy0
pyRT7JtedxyByRs7h8SCl/6RDJ8q1fkUr8KiJhhTU1ezjm5+fm46Lcgdlkq7DaQ3
bH7GZNXqh1tuDgFZVU4tcRpUW+5mbPamPJo5IyYHxGYRgUtIdzMYVS3qJlZr1Kuc
tUuLFEFBAwKBgETB2Ne7So+paySXfhZvN+BTdbbek1OM0+EcncP7Z4CCK7dQvb2z
Y/ZAaMVurxyfdU1SPSz0PVOotXtf2YpIbAxuvq/MBh1oJ6V2iXCVPTB4i/lq5aAN
PmxHToHljAPmfTVyXJYUbm6RbawSWFc4pxaMqvcJejKuLPCsBH9sz+9BAoGAAro1
KTEUuIcgeth2qOsmJLGcbB+wSgpd0Cp3B4HaCpMiIm1aJ5Qbo8bIZAKL163FpReB
aY+k1LngCrpAsybUJZs0tcbGNLVS2T5+5g3UQ0m8cGled4gQXfC28O+FCIsPTPib
L6hiB8YvtJvjF5opbXT3+9SjcVBJRyYDdmvJKUUCgYEA4ECU+bxMAkhMy1goLo6d
sp9Aw1Vimh54SotJu+tY9yhsm7dV88duCFTR0vJ8zUfAEwrqlT+XJiZVW3hWKwp7
5//XRqu5qlPvqMuWw3PKT1ZMFAHhHY1NC2rfWk/FvAc/0bVsfwCOJD+kVyor8sv7
8GwHoLnDH+DMJDR65vdVU3g=
-----END PRIVATE KEY-----";
const RSA_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsoIWy45h8mUPcF3gQ/6m
Wh4vvj9vr2e6HNfeSd83a3Nfp08kBJT0+VQuBG9yeO00pktFaHF1mUdTShthfiJE
6DTJdAwZTwPdxuXlK23OFWA8n6GhROpik/0YbsaZzerRenSjHfEZw+SplW4h0qKb
h7bX4Gp43JgWOklUV+8Gw/CxA/l2mlx0fqzkPvGnpSFzn+nO5iMLwOLRiPqTf98n
RSKh4DLXlN0CBu8q5xIQE57UElWqmq040jyjhiGQxnpPWI3rdP/F7YP4UaXcObw2
O3rIfu1HgF6R9U82CnR35dlbQnzbjcTnux37dZTKbjbCyPKdXXrNhIJuJYGxnhcc
uwIDAQAB
-----END PUBLIC KEY-----";

fn now() -> i64 {
    zengzhi_server::auth::now_unix() as i64
}

fn hs256(secret: &str, claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn seeded(app: &TestApp) {
    app.submit(&[
        r#"{"op":"register_merchant","merchant":"shop"}"#,
        r#"{"op":"register_member","member":"alice"}"#,
        r#"{"op":"register_member","member":"bob","referrer":"alice"}"#,
        r#"{"op":"register_member","member":"carol","referrer":"bob"}"#,
        r#"{"op":"register_member","member":"dave","referrer":"alice"}"#,
        r#"{"op":"order","order":"o1","member":"alice","merchant":"shop","amount":"1000"}"#,
        r#"{"op":"order","order":"o2","member":"bob","merchant":"shop","amount":"300"}"#,
        r#"{"op":"order","order":"o3","member":"carol","merchant":"shop","amount":"200"}"#,
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_member_jwts() {
    let app = spawn_app_with(Backend::Sqlite, "jwt-hs", |c| c.member_jwt.secret = Some(Secret::new(SECRET))).await;
    seeded(&app).await;
    // A valid token opens the member's own page: the same view as the service's own token.
    let t = hs256(SECRET, &json!({"sub": "alice", "exp": now() + 600}));
    let me = app.get("/v1/me", Some(&t)).await.ok();
    assert_eq!(me["member"], "alice");
    let own = app.member_token("alice").await;
    assert_eq!(app.get("/v1/me", Some(&own)).await.ok()["points"], me["points"], "either kind of token, one member");
    // The member acts for itself with it.
    let sold = app.post("/v1/me/sell", Some(&t), &json!({"points": "1"})).await.ok();
    assert_eq!(sold["member"], "alice");

    // Another key, an expired token, no signature, an unknown member, no exp, no sub.
    let wrong = hs256("another-secret-also-32-bytes-lon", &json!({"sub": "alice", "exp": now() + 600}));
    let v = app.get("/v1/me", Some(&wrong)).await.err(401, "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("会员令牌无效"), "{v}");
    let expired = hs256(SECRET, &json!({"sub": "alice", "exp": now() - 3600}));
    let v = app.get("/v1/me", Some(&expired)).await.err(401, "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(json!({"sub": "alice", "exp": now() + 600}).to_string().as_bytes())
    );
    app.get("/v1/me", Some(&none)).await.err(401, "unauthorized");
    // alg none with the signature of the right key is still refused (the header decides nothing).
    let (body, sig) = t.rsplit_once('.').unwrap();
    let (_, payload) = body.split_once('.').unwrap();
    let none_signed = format!("{}.{payload}.{sig}", b64(br#"{"alg":"none","typ":"JWT"}"#));
    app.get("/v1/me", Some(&none_signed)).await.err(401, "unauthorized");
    let stranger = hs256(SECRET, &json!({"sub": "nobody", "exp": now() + 600}));
    let v = app.get("/v1/me", Some(&stranger)).await.err(401, "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("未注册"), "{v}");
    let no_exp = hs256(SECRET, &json!({"sub": "alice"}));
    app.get("/v1/me", Some(&no_exp)).await.err(401, "unauthorized");
    let no_sub = hs256(SECRET, &json!({"exp": now() + 600}));
    app.get("/v1/me", Some(&no_sub)).await.err(401, "unauthorized");
    // A member JWT is no key: console routes refuse it.
    app.get("/v1/admin/rules", Some(&t)).await.err(403, "forbidden");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = spawn_app_with(Backend::Sqlite, "jwt-iss", |c| {
        c.member_jwt.secret = Some(Secret::new(SECRET));
        c.member_jwt.issuer = Some("platform".into());
        c.member_jwt.audience = Some("zengzhi".into());
    })
    .await;
    seeded(&app).await;
    let exp = now() + 600;
    let ok = hs256(SECRET, &json!({"sub": "bob", "exp": exp, "iss": "platform", "aud": "zengzhi"}));
    assert_eq!(app.get("/v1/me", Some(&ok)).await.ok()["member"], "bob");
    for claims in [
        json!({"sub": "bob", "exp": exp, "aud": "zengzhi"}),
        json!({"sub": "bob", "exp": exp, "iss": "other", "aud": "zengzhi"}),
        json!({"sub": "bob", "exp": exp, "iss": "platform"}),
        json!({"sub": "bob", "exp": exp, "iss": "platform", "aud": "elsewhere"}),
    ] {
        app.get("/v1/me", Some(&hs256(SECRET, &claims))).await.err(401, "unauthorized");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_and_rs256_with_a_public_key() {
    let claims = json!({"sub": "alice", "exp": now() + 600});
    let ed = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap();
    let ed_other = EncodingKey::from_ed_pem(ED_OTHER_PRIVATE.as_bytes()).unwrap();
    let app = spawn_app_with(Backend::Sqlite, "jwt-ed", |c| c.member_jwt.public_key_pem = Some(ED_PUBLIC.into())).await;
    seeded(&app).await;
    let t = encode(&Header::new(Algorithm::EdDSA), &claims, &ed).unwrap();
    assert_eq!(app.get("/v1/me", Some(&t)).await.ok()["member"], "alice");
    let other = encode(&Header::new(Algorithm::EdDSA), &claims, &ed_other).unwrap();
    app.get("/v1/me", Some(&other)).await.err(401, "unauthorized");
    // No shared secret configured: an HS256 token is not accepted (no algorithm confusion).
    app.get("/v1/me", Some(&hs256(SECRET, &claims))).await.err(401, "unauthorized");
    app.shutdown().await;

    let app =
        spawn_app_with(Backend::Sqlite, "jwt-rs", |c| c.member_jwt.public_key_pem = Some(RSA_PUBLIC.into())).await;
    seeded(&app).await;
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let t = encode(&Header::new(Algorithm::RS256), &claims, &rsa).unwrap();
    assert_eq!(app.get("/v1/me", Some(&t)).await.ok()["member"], "alice");
    // The public key used as an HMAC secret (the classic confusion) is refused.
    let confused = hs256(RSA_PUBLIC, &claims);
    app.get("/v1/me", Some(&confused)).await.err(401, "unauthorized");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_configuration_jwts_are_refused_and_a_bad_key_stops_the_start() {
    let app = spawn_app(Backend::Sqlite, "jwt-off").await;
    seeded(&app).await;
    let v = app
        .get("/v1/me", Some(&hs256(SECRET, &json!({"sub": "alice", "exp": now() + 600}))))
        .await
        .err(401, "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("not configured"), "{v}");
    app.shutdown().await;
    let bad =
        zengzhi_server::config::MemberJwtConfig { public_key_pem: Some("not a key".into()), ..Default::default() };
    assert!(zengzhi_server::auth::MemberJwt::from_config(&bad).is_err());
    let short = zengzhi_server::config::MemberJwtConfig { secret: Some(Secret::new("short")), ..Default::default() };
    assert!(zengzhi_server::auth::MemberJwt::from_config(&short).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_rules_and_the_join_landing() {
    let app =
        spawn_app_with(Backend::Sqlite, "member-pages", |c| c.join_url = Some("https://shop.example/signup".into()))
            .await;
    seeded(&app).await;
    let alice = app.member_token("alice").await;
    let r = app.get("/v1/me/referrals", Some(&alice)).await.ok();
    let ids = |k: &str| -> Vec<(String, bool)> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|x| (x["member"].as_str().unwrap().to_string(), x["bought"].as_bool().unwrap()))
            .collect()
    };
    let mut direct = ids("direct");
    direct.sort();
    // bob and dave directly (dave has not bought), carol through bob.
    assert_eq!(direct, vec![("bob".into(), true), ("dave".into(), false)]);
    assert_eq!(ids("indirect"), vec![("carol".into(), true)]);
    assert_eq!(r["indirect"][0]["referrer"], "bob");
    assert_eq!((r["direct_count"].as_u64(), r["indirect_count"].as_u64()), (Some(2), Some(1)));
    assert_eq!(
        r["direct"].as_array().unwrap().iter().find(|x| x["member"] == "bob").unwrap()["lifetime_consumption"],
        "300.00"
    );
    assert_eq!(r["referral_link"], "http://in-process.test/join?ref=alice");
    // carol referred nobody.
    let carol = app.member_token("carol").await;
    let c = app.get("/v1/me/referrals", Some(&carol)).await.ok();
    assert_eq!((c["direct"].as_array().unwrap().len(), c["indirect"].as_array().unwrap().len()), (0, 0));

    // The rules in numbers, as configured now: a change shows at once.
    assert_eq!(app.get("/v1/me/rules", Some(&alice)).await.ok()["retention"], "0.2", "the default retention");
    let r = app
        .request("PUT", "/v1/admin/rules", Some(&app.admin), Some(br#"{"sell":{"retention":"0.25"}}"#.to_vec()))
        .await;
    r.ok();
    let rules = app.get("/v1/me/rules", Some(&alice)).await.ok();
    assert_eq!(rules["retention"], "0.25");
    app.get("/v1/me/rules", None).await.err(401, "unauthorized");

    // /v1/join: who invites, and where sign-up continues (ref passed on, escaped).
    let j = app.get("/v1/join?ref=alice", None).await.ok();
    assert_eq!((j["referrer"].clone(), j["store"].clone()), (json!("alice"), Value::Null));
    assert_eq!(j["forward_url"], "https://shop.example/signup?ref=alice");
    assert_eq!(j["demo"], false);
    let j = app.get("/v1/join?store=shop", None).await.ok();
    assert_eq!(j["store"], "shop");
    assert_eq!(j["forward_url"], "https://shop.example/signup?store=shop");
    let j = app.get("/v1/join?ref=no%20body", None).await.ok();
    assert_eq!(j["referrer"], Value::Null, "an unknown referrer is not named");
    assert_eq!(j["forward_url"], "https://shop.example/signup?ref=no%20body");
    app.get("/v1/join?nope=1", None).await.err(400, "invalid_query");
    // Not the demo: its way in is not routed.
    app.get("/v1/demo/members", None).await.err(404, "not_found");
    app.post("/v1/demo/join", None, &json!({"ref": "alice"})).await.err(404, "not_found");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_lists_members_and_registers_new_ones() {
    let app = spawn_app_with(Backend::Sqlite, "demo-join", |c| c.demo = true).await;
    let list = app.get("/v1/demo/members", None).await.ok();
    let list = list.as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 6, "{list:?}");
    for m in list {
        let me = app.get("/v1/me", m["token"].as_str()).await.ok();
        assert_eq!(me["member"], m["member"]);
        assert_eq!(me["points"], m["points"]);
    }
    let referrer = list[0]["member"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/v1/join?ref={referrer}"), None).await.ok()["demo"], true);
    let joined = app.post("/v1/demo/join", None, &json!({"ref": referrer})).await.ok();
    assert_eq!(joined["referrer"], referrer.as_str());
    let me = app.get("/v1/me", joined["token"].as_str()).await.ok();
    assert_eq!(me["member"], joined["member"]);
    assert!(me["points"].as_str().unwrap().chars().all(|c| c == '0' || c == '.'), "a new member has no points: {me}");
    let theirs = app.get("/v1/me/referrals", list[0]["token"].as_str()).await.ok();
    assert!(theirs["direct"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["member"] == joined["member"] && x["bought"] == false));
    app.post("/v1/demo/join", None, &json!({"ref": "nobody-here"})).await.err(404, "unknown_member");
    app.post("/v1/demo/join", None, &json!({"store": "nowhere"})).await.err(404, "unknown_merchant");
    app.shutdown().await;
}

/// `rewards_by_kind` on the invite page's referrals: one member earns every kind, each equal to
/// what the rules' rates give (derived here from the rates, not pasted), and the kinds add up to
/// the member's `rewards`. The ledger names each kind, and `reasons=reward` takes them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewards_by_kind_follow_the_rules_and_add_up() {
    use zengzhi_core::num::{format_money, parse_rate, Fen, Ppm};
    let app = spawn_app(Backend::Sqlite, "rewards-by-kind").await;
    app.submit(&[
        r#"{"op":"update_rules","rules":{"agents":{"peer":"0.5"}}}"#,
        r#"{"op":"register_member","member":"me"}"#,
        r#"{"op":"register_member","member":"b1","referrer":"me"}"#,
        r#"{"op":"register_member","member":"x","referrer":"me"}"#,
        r#"{"op":"register_member","member":"b2","referrer":"x"}"#,
        r#"{"op":"register_member","member":"d2","referrer":"me"}"#,
        r#"{"op":"register_member","member":"y"}"#,
        r#"{"op":"appoint_agent","member":"me","level":"district","region":"440305"}"#,
        r#"{"op":"appoint_agent","member":"me","level":"city","region":"440300"}"#,
        r#"{"op":"appoint_agent","member":"me","level":"province","region":"440000"}"#,
        r#"{"op":"appoint_agent","member":"d2","level":"district","region":"440306"}"#,
        r#"{"op":"register_merchant","merchant":"shop","recruiter":"me","region":"440305"}"#,
        r#"{"op":"register_merchant","merchant":"shop2","region":"440306"}"#,
        r#"{"op":"register_merchant","merchant":"plain"}"#,
        // me: direct, recruiter, district, city, province.
        r#"{"op":"order","order":"o1","member":"b1","merchant":"shop","amount":"1000"}"#,
        // me: indirect (x gets the direct reward).
        r#"{"op":"order","order":"o2","member":"b2","merchant":"plain","amount":"1000"}"#,
        // d2: district; me: peer (d2's referrer, a district agent too), city, province.
        r#"{"op":"order","order":"o3","member":"y","merchant":"shop2","amount":"1000"}"#,
    ])
    .await;
    let r =
        zengzhi_core::Rules { agent_peer_ppm: parse_rate("0.5", Ppm::ONE).unwrap(), ..zengzhi_core::Rules::default() };
    let amount = Fen::from_fen(100_000);
    let due = |rate: Ppm| amount.mul_rate_floor(rate);
    let district = due(r.agent_district_ppm);
    let city = due(r.agent_city_ppm - r.agent_district_ppm);
    let province = due(r.agent_province_ppm - r.agent_city_ppm);
    // Each order's rewards stay within its budget (nothing is cut).
    let budget = due(r.default_rate_ppm).mul_rate_floor(r.distribution_share_ppm);
    let o1 = due(r.referral_direct_ppm) + due(r.referral_merchant_recruiter_ppm) + district + city + province;
    assert!(o1 <= budget && district + district.mul_rate_floor(r.agent_peer_ppm) + city + province <= budget);
    let want = [
        ("direct", due(r.referral_direct_ppm)),
        ("indirect", due(r.referral_indirect_ppm)),
        ("recruiter", due(r.referral_merchant_recruiter_ppm)),
        ("district", district),
        ("city", city + city),
        ("province", province + province),
        ("peer", district.mul_rate_floor(r.agent_peer_ppm)),
    ];
    let me = app.member_token("me").await;
    let refs = app.get("/v1/me/referrals", Some(&me)).await.ok();
    let got: Vec<(String, String)> = refs["rewards_by_kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kind"].as_str().unwrap().to_string(), k["amount"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = want.iter().map(|(k, x)| (k.to_string(), format_money(*x))).collect();
    assert_eq!(got, expected);
    let total = want.iter().fold(Fen::ZERO, |a, (_, x)| a + *x);
    assert_eq!(refs["rewards"], format_money(total).as_str(), "the kinds add up to my rewards");
    assert_eq!(app.get("/v1/me", Some(&me)).await.ok()["rewards"], refs["rewards"]);

    // d2: the district reward only; a member without rewards has every kind at 0.00.
    let d2 = app.get("/v1/me/referrals", Some(&app.member_token("d2").await)).await.ok();
    for k in d2["rewards_by_kind"].as_array().unwrap() {
        let x = if k["kind"] == "district" { district } else { Fen::ZERO };
        assert_eq!(k["amount"], format_money(x).as_str(), "d2 {k}");
    }

    // The ledger names each kind; `reward` filters every kind, a kind filters itself.
    let history = app.get("/v1/me/history", Some(&me)).await.ok();
    let mut reasons: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|i| i["reason"].as_str().unwrap()).collect();
    reasons.sort();
    let mut kinds: Vec<String> =
        ["direct", "indirect", "recruiter", "district", "city", "city", "province", "province", "peer"]
            .iter()
            .map(|k| format!("reward_{k}"))
            .collect();
    kinds.sort();
    assert_eq!(reasons, kinds);
    let all = app.admin_get("/v1/admin/members/me/ledger?reasons=reward").await;
    assert_eq!(all["items"].as_array().unwrap().len(), kinds.len());
    let peer = app.admin_get("/v1/admin/members/me/ledger?reasons=reward_peer,order").await;
    let peer: Vec<(&str, &str)> = peer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["reason"].as_str().unwrap(), i["cash"].as_str().unwrap()))
        .collect();
    assert_eq!(peer, vec![("reward_peer", format_money(want[6].1).as_str())]);
    app.get("/v1/admin/members/me/ledger?reasons=reward_gift", Some(&app.admin)).await.err(400, "invalid_query");
    app.shutdown().await;
}
