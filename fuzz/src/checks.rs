//! The properties the fuzz targets check, one function per target.
//!
//! Each function takes the fuzzer's bytes and panics when a property fails. The fuzz targets
//! call them, and so does the stable regression test of `zengzhi-core`
//! (`tests/fuzz_regressions.rs`), which runs every kept input of `fuzz/regressions/<target>/`
//! through the same function: a finding, once fixed, stays fixed.
//!
//! Only `zengzhi-core`'s public API is used.

use std::borrow::Cow;
use std::sync::OnceLock;

use zengzhi_core::command::{parse_fields, parse_line, Command, SellQty};
use zengzhi_core::engine::{CascadeMode, Engine};
use zengzhi_core::invariants::{check_state, Checker};
use zengzhi_core::json::{self, Json};
use zengzhi_core::num::{
    format_money, format_points, format_rate, parse_money, parse_points, parse_rate, Fen, Ppm, Units,
    MAX_MONEY_ARG_FEN, MAX_MULTIPLE_PPM, MAX_POINTS_ARG_UNITS,
};
use zengzhi_core::rules::{doc_from_json, doc_from_toml, RuleDoc, Rules};
use zengzhi_core::state::write_state;
use zengzhi_core::Rejection;

/// At most this many commands are applied per input (keeps one execution short).
const MAX_COMMANDS: usize = 64;

/// The commands of the small engine every input starts from: two stores (one with a region
/// and a recruiter), a referral chain `u1 ← u2 ← u3`, agents, a shareholder, coins and a first
/// order, so that the fuzzer's commands can name ids that exist.
const BASE: &[&str] = &[
    r#"{"op":"register_member","member":"u1"}"#,
    r#"{"op":"register_member","member":"u2","referrer":"u1"}"#,
    r#"{"op":"register_member","member":"u3","referrer":"u2"}"#,
    r#"{"op":"register_merchant","merchant":"s"}"#,
    r#"{"op":"register_merchant","merchant":"s2","commission":"0.3","owner":"u1","recruiter":"u2","region":"440305"}"#,
    r#"{"op":"appoint_agent","member":"u1","level":"city","region":"440300"}"#,
    r#"{"op":"appoint_agent","member":"u2","level":"district","region":"440305"}"#,
    r#"{"op":"set_shareholder","member":"u1","weight":3}"#,
    r#"{"op":"grant_coins","member":"u3","amount":"50"}"#,
    r#"{"op":"order","order":"o1","member":"u3","merchant":"s2","amount":"1000","pay_coins":"20"}"#,
    r#"{"op":"order","order":"o2","member":"u2","merchant":"s","amount":"300"}"#,
];

fn build(mode: CascadeMode, extra: &[&str]) -> Engine {
    let mut e = Engine::with_mode(Rules::default(), mode);
    for line in BASE.iter().chain(extra) {
        e.apply(&parse_line(line.as_bytes()).expect("a base line parses").command).expect("a base line applies");
    }
    e
}

/// The base engine in both cascade modes.
fn base() -> &'static (Engine, Engine) {
    static BASE_ENGINES: OnceLock<(Engine, Engine)> = OnceLock::new();
    BASE_ENGINES.get_or_init(|| (build(CascadeMode::Indexed, &[]), build(CascadeMode::NaiveScan, &[])))
}

/// The same engine in both cascade modes, fed the same commands: they must agree.
struct Twin {
    indexed: Engine,
    naive: Engine,
    checker: Checker,
}

impl Twin {
    fn new(indexed: Engine, naive: Engine) -> Twin {
        let mut checker = Checker::new();
        checker.check(&indexed).unwrap_or_else(|v| panic!("the start state is inconsistent: {v}"));
        Twin { indexed, naive, checker }
    }

    fn from_base() -> Twin {
        let (a, b) = base();
        Twin::new(a.clone(), b.clone())
    }

    /// Applies `command` to both; a rejection leaves the state byte-identical, an accepted
    /// command leaves every invariant holding.
    fn apply(&mut self, command: &Command<'_>) -> Result<(), Rejection> {
        let before = self.indexed.to_snapshot();
        let r = self.indexed.apply(command).map(|_| ());
        let r2 = self.naive.apply(command).map(|_| ());
        assert_eq!(r, r2, "indexed and naive cascades disagree on {command:?}");
        let after = self.indexed.to_snapshot();
        match r {
            Err(_) => assert!(before == after, "a rejected {command:?} changed the state"),
            Ok(()) => {
                if let Err(v) = self.checker.check(&self.indexed) {
                    panic!("{command:?} broke an invariant: {v}");
                }
            }
        }
        r
    }

    /// Both cascade modes reached the same state (compared once, at the end, to keep an
    /// execution short), and it survives a snapshot: the bytes decode to the same state.
    fn check_snapshot(&self) {
        let bytes = self.indexed.to_snapshot();
        let print = fingerprint(&self.indexed);
        assert!(print == fingerprint(&self.naive), "indexed and naive cascades reached different states");
        for mode in [CascadeMode::Indexed, CascadeMode::NaiveScan] {
            let back = Engine::from_snapshot(&bytes, mode).unwrap_or_else(|e| panic!("own snapshot rejected: {e}"));
            assert!(fingerprint(&back) == print, "a snapshot does not read back to the same state");
            assert_eq!(back.to_snapshot().len(), bytes.len());
        }
    }
}

/// The whole state of an engine as text, independent of the order in which its hash sets
/// happen to list order and campaign ids (snapshot bytes list them in that order, which
/// differs between two engines holding the same ids).
fn fingerprint(e: &Engine) -> String {
    let mut out = Vec::new();
    write_state(e, None, &mut out).expect("writing to memory");
    let mut text = String::from_utf8(out).expect("the state JSON is UTF-8");
    let members: Vec<_> = (0..e.member_count() as u32)
        .map(|i| {
            let m = &e.members()[i as usize];
            (e.member_id(i).to_string(), m.referrer, m.agent_levels, m.exits)
        })
        .collect();
    let merchants: Vec<_> = e.merchants().map(|(id, m)| (id.to_string(), m.clone())).collect();
    let mut agents: Vec<_> = e.agents().collect();
    agents.sort_unstable();
    text.push_str(&format!(
        "{:?}\n{members:?}\n{merchants:?}\n{agents:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
        e.rules(),
        e.shareholders(),
        e.campaign(),
        e.totals(),
        e.aggregates(),
        e.reference_price(),
    ));
    text
}

/// A parsed command's canonical line reads back to the same command.
fn round_trip(command: &Command<'_>, at: Option<&str>) {
    let line = command.to_json(at);
    let again = parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("canonical line {line} rejected: {e:?}"));
    assert_eq!(&again.command, command, "canonical line {line} reads back differently");
    assert_eq!(again.at.as_deref(), at, "{line}: the time changed");
    assert_eq!(again.command.to_json(at), line, "the canonical line is not stable");
    assert_eq!(command.check(), Ok(()), "a command the reader accepted fails its own check: {command:?}");
}

/// `command_line`: the bytes are up to 64 command lines, read one by one and applied to the
/// base engine.
pub fn command_line(data: &[u8]) {
    let mut twin = Twin::from_base();
    for line in data.split(|&b| b == b'\n').take(MAX_COMMANDS) {
        let Ok(parsed) = parse_line(line) else {
            continue;
        };
        round_trip(&parsed.command, parsed.at.as_deref());
        let _ = twin.apply(&parsed.command);
    }
    twin.check_snapshot();
}

/// What `text` means as a `digits[.digits]` amount with at most `decimals` decimals and at
/// most `max` (scaled), worked out the slow obvious way.
fn oracle(text: &str, decimals: usize, max: i64) -> Option<i64> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f) || f.len() > decimals) {
        return None;
    }
    let mut v: u128 = 0;
    let frac = frac.unwrap_or("");
    for b in int.bytes().chain(frac.bytes()).chain(std::iter::repeat_n(b'0', decimals - frac.len())) {
        v = v.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    i64::try_from(v).ok().filter(|&v| v <= max)
}

/// `amounts`: the bytes as text for every amount reader.
pub fn amounts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let money = parse_money(text);
    assert_eq!(money.map(Fen::to_fen), oracle(text, 2, MAX_MONEY_ARG_FEN), "money {text:?}");
    if let Some(v) = money {
        assert_eq!(parse_money(&format_money(v)), Some(v), "money {text:?} does not format back");
    }
    let points = parse_points(text);
    assert_eq!(points.map(Units::to_units), oracle(text, 8, MAX_POINTS_ARG_UNITS), "points {text:?}");
    if let Some(v) = points {
        assert_eq!(parse_points(&format_points(v)), Some(v), "points {text:?} does not format back");
    }
    for max in [Ppm::ONE, Ppm::from_ppm(MAX_MULTIPLE_PPM)] {
        let rate = parse_rate(text, max);
        assert_eq!(rate.map(Ppm::to_ppm), oracle(text, 6, max.to_ppm()), "rate {text:?}");
        if let Some(v) = rate {
            assert_eq!(parse_rate(&format_rate(v), max), Some(v), "rate {text:?} does not format back");
        }
    }
    // Any stored value formats, and a value in range reads back.
    if let Some(raw) = data.get(..8) {
        let v = i64::from_le_bytes(raw.try_into().expect("8 bytes"));
        let m = format_money(Fen::from_fen(v));
        assert_eq!(parse_money(&m).map(Fen::to_fen), (0..=MAX_MONEY_ARG_FEN).contains(&v).then_some(v), "{m}");
        let p = format_points(Units::from_units(v));
        assert_eq!(parse_points(&p).map(Units::to_units), (0..=MAX_POINTS_ARG_UNITS).contains(&v).then_some(v), "{p}");
        let r = format_rate(Ppm::from_ppm(v));
        assert_eq!(
            parse_rate(&r, Ppm::from_ppm(MAX_MULTIPLE_PPM)).map(Ppm::to_ppm),
            (0..=MAX_MULTIPLE_PPM).contains(&v).then_some(v),
            "{r}"
        );
    }
}

/// A TOML rules file holding `doc`.
fn doc_to_toml(doc: &RuleDoc) -> String {
    let quote = |s: &str| {
        let mut q = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                c if c.is_control() => q.push_str(&format!("\\u{:04X}", c as u32)),
                c => q.push(c),
            }
        }
        q.push('"');
        q
    };
    let mut text = String::new();
    for (section, keys) in doc {
        text.push_str(&format!("[{}]\n", quote(section)));
        for (key, value) in keys.iter().flatten() {
            text.push_str(&format!("{} = {}\n", quote(key), quote(value.as_deref().unwrap_or(""))));
        }
    }
    text
}

/// `rules_toml`: the bytes as a rules file.
pub fn rules_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = Rules::from_toml(text);
    match &loaded {
        Ok(rules) => {
            let _ = rules.warnings();
            let again = doc_to_toml(&rules.to_doc());
            assert_eq!(Rules::from_toml(&again).as_ref(), Ok(rules), "the rules' own TOML {again:?} reads differently");
            assert_eq!(Rules::from_values(&rules.to_values()).as_ref(), Some(rules), "rules do not survive a snapshot");
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "rejected rules with no problem given");
            assert!(problems.iter().all(|p| !p.en.is_empty() && !p.zh.is_empty()), "{problems:?}");
        }
    }
    // The same document as the `rules` of an `update_rules` command: the same verdict.
    if let Ok(doc) = doc_from_toml(text) {
        let command = Command::UpdateRules { rules: doc.clone() };
        round_trip(&command, None);
        assert_eq!(Rules::default().updated(&doc).is_ok(), loaded.is_ok(), "TOML and JSON rules disagree");
        let mut twin = Twin::from_base();
        // The base engine runs the default rules, so the command does what loading did.
        match (twin.apply(&command), &loaded) {
            (Ok(()), Ok(rules)) => assert_eq!(twin.indexed.rules(), rules),
            (Err(r), Err(_)) => assert_eq!(r, Rejection::InvalidRules),
            (r, l) => panic!("update_rules gave {r:?}, loading the file {l:?}"),
        }
    }
}

/// A few commands of every kind for a state decoded from a snapshot, naming its own ids.
fn probe_commands(e: &Engine) -> Vec<Command<'static>> {
    let mut out = vec![
        Command::ReleaseLocked,
        Command::DistributeDividends,
        Command::Inject { amount_fen: Fen::from_fen(12_345) },
        Command::EndCampaign,
        Command::StartCampaign {
            campaign: "fz-c".into(),
            rate_ppm: Ppm::from_ppm(100_000),
            budget_fen: Fen::from_fen(500),
        },
        Command::RegisterMember { member: "fz-new".into(), referrer: None },
    ];
    let merchant = e.merchants().next().map(|(id, _)| Cow::Owned(id.to_string()));
    for i in 0..e.member_count().min(3) {
        let member: Cow<'static, str> = Cow::Owned(e.member_id(i as u32).to_string());
        out.extend([
            Command::Order {
                order: Cow::Owned(format!("fz-o{i}")),
                member: member.clone(),
                merchant: merchant.clone(),
                amount_fen: Fen::from_fen(100_000),
                commission_fen: merchant.is_none().then_some(Fen::from_fen(20_000)),
                pay_cash_fen: Fen::ZERO,
                pay_coins_fen: Fen::ZERO,
            },
            Command::Sell { member: member.clone(), points: SellQty::Units(Units::from_units(1_000_000)) },
            Command::Redeem { member: member.clone(), amount_fen: Fen::from_fen(100) },
            Command::Withdraw { member: member.clone(), amount_fen: Fen::from_fen(100) },
            Command::GrantCoins { member: member.clone(), amount_fen: Fen::from_fen(MAX_MONEY_ARG_FEN) },
            Command::Sell { member: member.clone(), points: SellQty::All },
            Command::SetShareholder { member, weight: u32::MAX },
        ]);
    }
    out
}

/// `snapshot`: the bytes as a snapshot. A snapshot that decodes holds a consistent state, the
/// same in both cascade modes, that reads back from its own bytes and takes commands.
pub fn snapshot(data: &[u8]) {
    let indexed = Engine::from_snapshot(data, CascadeMode::Indexed);
    let naive = Engine::from_snapshot(data, CascadeMode::NaiveScan);
    let (indexed, naive) = match (indexed, naive) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert!(!a.0.is_empty());
            return;
        }
        (a, b) => panic!("the cascade mode changed the verdict: {:?} vs {:?}", a.err(), b.err()),
    };
    if let Err(v) = check_state(&indexed) {
        panic!("a snapshot decoded to an inconsistent state: {v}");
    }
    let mut twin = Twin::new(indexed, naive);
    twin.check_snapshot();
    for command in probe_commands(&twin.indexed) {
        let _ = twin.apply(&command);
    }
    twin.check_snapshot();
}

/// The valid snapshot `snapshot_mutate` starts from: the base engine with locked points, a
/// sale, an active campaign and an exit behind it.
fn base_snapshot() -> &'static [u8] {
    static SNAP: OnceLock<Vec<u8>> = OnceLock::new();
    SNAP.get_or_init(|| {
        let e = build(
            CascadeMode::Indexed,
            &[
                r#"{"op":"start_campaign","campaign":"c1","rate":"0.05","budget":"100"}"#,
                r#"{"op":"order","order":"o3","member":"u1","merchant":"s2","amount":"200"}"#,
                r#"{"op":"sell","member":"u2","points":"10"}"#,
                r#"{"op":"inject","amount":"5000"}"#,
                r#"{"op":"release_locked"}"#,
            ],
        );
        // The order ids are listed in hash-set order, which differs from one engine to the
        // next: list them sorted, so that an edit means the same byte on every run.
        let ids: [&[u8]; 3] = [b"\x02o1", b"\x02o2", b"\x02o3"];
        let mut bytes = e.to_snapshot();
        let at = (0..bytes.len() - 9)
            .find(|&i| ids.iter().all(|id| bytes[i..i + 9].chunks(3).any(|c| c == *id)))
            .expect("the base snapshot lists o1, o2 and o3");
        bytes[at..at + 9].copy_from_slice(b"\x02o1\x02o2\x02o3");
        bytes
    })
}

/// Values worth writing over an `i64` or `u32` field.
const INTERESTING: [i64; 12] =
    [0, 1, -1, i64::MAX, i64::MIN, u32::MAX as i64, 1 << 32, 999_999, 1_000_000, MAX_MONEY_ARG_FEN, 100, 2];

/// `snapshot_mutate`: the bytes are edits to a valid snapshot, 4 bytes each: a 16-bit offset,
/// a kind (set a byte, flip bits, write an interesting 64-bit or 32-bit value, cut the rest)
/// and a value. The edited bytes must hold to the `snapshot` properties.
pub fn snapshot_mutate(data: &[u8]) {
    snapshot(&mutated(data));
}

/// The base snapshot with the edits of `data` (see [`snapshot_mutate`]).
pub fn mutated(data: &[u8]) -> Vec<u8> {
    let mut bytes = base_snapshot().to_vec();
    for edit in data.chunks_exact(4).take(16) {
        if bytes.is_empty() {
            break;
        }
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % bytes.len();
        let v = edit[3];
        match edit[2] % 5 {
            0 => bytes[at] = v,
            1 => bytes[at] ^= v.max(1),
            2 => {
                let w = INTERESTING[usize::from(v) % INTERESTING.len()].to_le_bytes();
                let end = (at + 8).min(bytes.len());
                bytes[at..end].copy_from_slice(&w[..end - at]);
            }
            3 => {
                let w = (INTERESTING[usize::from(v) % INTERESTING.len()] as u32).to_le_bytes();
                let end = (at + 4).min(bytes.len());
                bytes[at..end].copy_from_slice(&w[..end - at]);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// The API's write routes that turn a body into commands: the op, the field the route fills
/// in from the caller's token (a member route), and how the body is read.
#[derive(Clone, Copy)]
enum Body {
    /// One command of this op made of the body's fields (an empty body is `{}`).
    Command(&'static str, Option<&'static str>),
    /// `POST /v1/orders/batch`: `{"orders":[{…},…]}`.
    Batch,
    /// `PUT /v1/admin/rules` and the dry run: sections of keys.
    Rules,
}

const ROUTES: &[Body] = &[
    Body::Command("register_member", None),
    Body::Command("register_merchant", None),
    Body::Command("appoint_agent", None),
    Body::Command("set_shareholder", None),
    Body::Command("grant_coins", None),
    Body::Command("order", None),
    Body::Command("sell", Some("u2")),
    Body::Command("redeem", Some("u2")),
    Body::Command("withdraw", Some("u1")),
    Body::Command("inject", None),
    Body::Command("start_campaign", None),
    Body::Command("end_campaign", None),
    Body::Command("release_locked", None),
    Body::Command("distribute_dividends", None),
    Body::Batch,
    Body::Rules,
];

/// The body's members, as the routes read them: strict JSON, an object.
fn object(body: &[u8]) -> Option<Vec<(Cow<'_, str>, Json<'_>)>> {
    match json::parse(std::str::from_utf8(body).ok()?).ok()? {
        Json::Obj(members) => Some(members),
        _ => None,
    }
}

/// The command `op` of `fields` with `member` filled in; a body naming it is refused.
fn command_of<'a>(
    op: &str,
    mut fields: Vec<(Cow<'a, str>, Json<'a>)>,
    member: Option<&'static str>,
) -> Option<Command<'static>> {
    if let Some(m) = member {
        if fields.iter().any(|(k, _)| k == "member") {
            return None;
        }
        fields.push((Cow::Borrowed("member"), Json::Str(Cow::Borrowed(m))));
    }
    let parsed = parse_fields(op, &fields).ok()?;
    assert_eq!(parsed.command.op(), op, "a body of {op} read as another command");
    if let Some(m) = member {
        assert!(parsed.command.to_json(None).contains(&format!("\"member\":\"{m}\"")), "the token's member was lost");
    }
    round_trip(&parsed.command, parsed.at.as_deref());
    Some(parsed.command.into_owned())
}

/// `http_bodies`: the first byte picks a write route, the rest is its request body.
pub fn http_bodies(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let mut twin = Twin::from_base();
    match ROUTES[usize::from(pick) % ROUTES.len()] {
        Body::Command(op, member) => {
            let fields = if body.iter().all(u8::is_ascii_whitespace) { Some(Vec::new()) } else { object(body) };
            if let Some(command) = fields.and_then(|f| command_of(op, f, member)) {
                let _ = twin.apply(&command);
            }
        }
        Body::Batch => {
            let Some(mut fields) = object(body) else {
                return;
            };
            let items = match fields.as_mut_slice() {
                [(k, Json::Arr(items))] if k == "orders" => std::mem::take(items),
                _ => return,
            };
            for item in items.into_iter().take(MAX_COMMANDS) {
                if let Json::Obj(members) = item {
                    if let Some(command) = command_of("order", members, None) {
                        let _ = twin.apply(&command);
                    }
                }
            }
        }
        Body::Rules => {
            let Some(fields) = object(body) else {
                return;
            };
            let doc = doc_from_json(&Json::Obj(fields)).expect("an object is a rules document");
            let verdict = twin.indexed.rules().updated(&doc);
            let command = Command::UpdateRules { rules: doc };
            round_trip(&command, None);
            match (verdict, twin.apply(&command)) {
                (Ok(next), Ok(())) => assert_eq!(twin.indexed.rules(), &next),
                (Err(problems), Err(r)) => {
                    assert!(!problems.is_empty());
                    assert_eq!(r, Rejection::InvalidRules);
                }
                (v, r) => panic!("the dry run said {v:?}, the command {r:?}"),
            }
        }
    }
    twin.check_snapshot();
}
