//! The simulator's behaviour: the seed preset against the conformance cases, reproducibility,
//! Monte-Carlo and sweep aggregation checked against independent computations, money that
//! adds up, honest metrics, scenario errors and what-if replays.

use std::path::Path;

use zengzhi_core::num::{format_money, format_price, Fen, Ppm, Units};
use zengzhi_core::Rules;
use zengzhi_sim::montecarlo::simulate;
use zengzhi_sim::presets::{preset, seed_projection, PRESETS};
use zengzhi_sim::random::run_seed;
use zengzhi_sim::run::{run_once, run_with_engine, RunResult};
use zengzhi_sim::scenario::{load_str, with_parameter, Loaded};
use zengzhi_testkit::conformance::dir as conformance;

fn load(text: &str) -> Loaded {
    load_str(text, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

/// A small scenario that exercises every behaviour in a fraction of a second.
const SMALL: &str = r#"
name = "small"
horizon_days = 120

[arrivals]
model = "exponential"
initial_members = 30
rate = 10.0
growth = 0.04
referred_share = 0.8

[[stores]]
category = "a"
count = 3
commission = "0.20"
share = 0.7

[[stores]]
category = "b"
count = 2
commission = "0.10"
share = 0.3

[buying]
orders_per_day = 0.01
amount = { dist = "lognormal", median = 120.0, sigma = 0.5, min = 5.0, max = 2000.0 }

[selling]
hold_to_cap = 0.6
take_profit = 0.2
pessimist = 0.2
take_profit_gain = 0.3
pessimism_window_days = 7
pessimism_growth_below = 0.02
pessimism_sell_probability = 0.3

[reentry]
probability = 0.5
"#;

/// SMALL with a financing injection that takes the price up and exits many members at once.
const INJECTED: &str = "\n[[injections]]\nday = 60\namount = \"300000\"\n";

// ---- the seed preset --------------------------------------------------------------------------

#[test]
fn seed_preset_writes_the_state_of_seed_three_orders() {
    let expected = std::fs::read_to_string(conformance().join("seed-three-orders.expected.json")).unwrap();
    let mut state = Vec::new();
    seed_projection(100_000, 3, |n, engine| {
        if n == 3 {
            // The preset's commands are the case's seven lines (one store, three members, three
            // orders), all accepted.
            let results = vec![Ok(()); 7];
            zengzhi_core::state::write_state(engine, Some(&results), &mut state).unwrap();
        }
    });
    assert_eq!(String::from_utf8(state).unwrap(), expected);
}

/// The seed's arithmetic done again with plain integers (SPEC §6 for one store at 20%, no
/// referrers): returns per order (minted, pool, supply) and the order after which the first
/// buyer's points reach 1.2 × 1000.
fn seed_by_hand(amount_fen: i64) -> (Vec<(i64, i64, i64)>, u64) {
    let (mut pool, mut supply, mut first_units) = (0i64, 0i64, 0i64);
    let mut rows = Vec::new();
    for n in 1.. {
        let commission = amount_fen * 20 / 100;
        let inflow = commission * 80 / 100;
        let value = inflow * 70 / 100;
        let (p_ref, n_ref) = if supply > 0 { (pool, supply) } else { (100, 100_000_000) };
        let minted = (i128::from(value) * i128::from(n_ref) / i128::from(p_ref)) as i64;
        pool += inflow;
        supply += minted;
        if n == 1 {
            first_units = minted;
        }
        rows.push((minted, pool, supply));
        let held = (i128::from(first_units) * i128::from(pool) / i128::from(supply)) as i64;
        if held >= amount_fen * 12 / 10 {
            return (rows, n);
        }
    }
    unreachable!()
}

#[test]
fn seed_preset_continues_to_the_first_exit_like_the_conformance_cases() {
    let projection = seed_projection(100_000, 100_000, |_, _| {});
    let (by_hand, exit_order) = seed_by_hand(100_000);
    let exit = projection.exit.expect("the first buyer exits");
    assert_eq!(exit.order, exit_order);
    assert_eq!(exit.member, "u1");
    assert_eq!(projection.rows.len() as u64, exit_order);
    // Every row before the exit is the seed's arithmetic (the exit's row has the exit applied).
    for (row, (minted, pool, supply)) in projection.rows.iter().zip(&by_hand).take(exit_order as usize - 1) {
        assert_eq!(
            (row.minted_units, row.pool_fen, row.supply_units),
            (*minted, *pool, *supply),
            "order {}",
            row.order
        );
    }
    // SPEC §9's table.
    let prices: Vec<String> = projection.rows[..3].iter().map(|r| format_price(Fen::from_fen(r.pool_fen), Units::from_units(r.supply_units))).collect();
    assert_eq!(prices, ["1.42857142", "1.68067226", "1.86741363"]);
    // The exit pays what the conformance case seed-first-exit pays u1: 1.2 × 1000 gross, 20% kept.
    let case = std::fs::read_to_string(conformance().join("seed-first-exit.expected.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&case).unwrap();
    assert_eq!(format_money(Fen::from_fen(exit.payout_fen)), state["members"]["u1"]["cash"].as_str().unwrap());
    assert_eq!(exit.gross_fen, 120_000);
    assert_eq!(exit.retained_fen, 120_000 - exit.payout_fen);
    zengzhi_core::invariants::check_state(&projection.engine).unwrap();
}

// ---- reproducibility --------------------------------------------------------------------------

#[test]
fn a_fixed_seed_gives_byte_identical_outputs() {
    let loaded = load(SMALL);
    let a = simulate(&loaded, 3, 11, &|| {}).unwrap().report;
    let b = simulate(&loaded, 3, 11, &|| {}).unwrap().report;
    assert_eq!(zengzhi_sim::output::summary_json(&a), zengzhi_sim::output::summary_json(&b));
    assert_eq!(zengzhi_sim::output::timeseries_csv(&a), zengzhi_sim::output::timeseries_csv(&b));
    let c = simulate(&loaded, 3, 12, &|| {}).unwrap().report;
    assert_ne!(
        zengzhi_sim::output::timeseries_csv(&a),
        zengzhi_sim::output::timeseries_csv(&c),
        "another seed, another history"
    );
}

// ---- aggregation ------------------------------------------------------------------------------

/// Linear interpolation between closest ranks, written out for this test.
fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pos = q * (v.len() as f64 - 1.0);
    let below = pos.floor() as usize;
    let frac = pos - below as f64;
    if below + 1 < v.len() {
        v[below] * (1.0 - frac) + v[below + 1] * frac
    } else {
        v[below]
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

fn sequential_runs(loaded: &Loaded, runs: u32, seed: u64) -> Vec<RunResult> {
    (0..runs).map(|i| run_once(loaded, run_seed(seed, i)).unwrap()).collect()
}

#[test]
fn monte_carlo_bands_are_the_percentiles_of_the_runs() {
    let loaded = load(SMALL);
    let sim = simulate(&loaded, 5, 3, &|| {}).unwrap();
    let runs = sequential_runs(&loaded, 5, 3);
    // Parallel runs are the same as the runs made one after another.
    assert_eq!(sim.runs, runs);
    let day = 44;
    let pools: Vec<f64> = runs.iter().map(|r| r.days[day].pool_fen as f64 / 100.0).collect();
    let band = sim.report.days[day].pool;
    assert!(close(band.p5, quantile(pools.clone(), 0.05)), "{band:?} vs {pools:?}");
    assert!(close(band.p50, quantile(pools.clone(), 0.5)));
    assert!(close(band.p95, quantile(pools.clone(), 0.95)));
    // With five runs the median is the third smallest.
    let mut sorted = pools.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(band.p50, sorted[2]);
    let shares: Vec<f64> = runs.iter().map(|r| r.metrics.cap_reached_share).collect();
    assert!(close(sim.report.honest.cap_reached_share.p95, quantile(shares, 0.95)));
    // The cohort of month 1: members who exited ÷ members, per run, then the band.
    let reached: Vec<f64> =
        runs.iter().map(|r| r.cohorts[0].reached_cap as f64 / r.cohorts[0].members as f64).collect();
    assert!(close(sim.report.cohorts[0].reached_cap.p50, quantile(reached, 0.5)));
    // Histogram: the median count per bin, and every member with consumption is in one bin.
    let bin0: Vec<f64> = runs.iter().map(|r| r.histogram[0] as f64).collect();
    assert_eq!(sim.report.net_rebate_histogram[0].members, quantile(bin0, 0.5));
}

#[test]
fn one_run_has_equal_band_edges() {
    let loaded = load(SMALL);
    let sim = simulate(&loaded, 1, 9, &|| {}).unwrap();
    for d in &sim.report.days {
        assert_eq!((d.price.p5, d.price.p50), (d.price.p50, d.price.p95));
    }
}

#[test]
fn sweep_rows_aggregate_the_runs_of_each_value() {
    let text = format!("{SMALL}{INJECTED}\n[sweep]\nparameter = \"rules.exit.multiple\"\nvalues = [\"1.2\", \"2\"]\n");
    let loaded = load(&text);
    let sim = simulate(&loaded, 3, 5, &|| {}).unwrap();
    let sweep = sim.report.sweep.expect("a sweep was asked for");
    assert_eq!(sweep.parameter, "rules.exit.multiple");
    assert_eq!(sweep.rows.len(), 2);
    // The value 2 by hand: the same scenario with the rule written inline.
    let by_hand = load(&format!("{SMALL}{INJECTED}\n[rules.exit]\nmultiple = \"2\"\n"));
    assert_eq!(by_hand.rules.exit_multiple_ppm, Ppm::from_ppm(2_000_000));
    let runs = sequential_runs(&by_hand, 3, 5);
    let prices: Vec<f64> = runs.iter().map(|r| r.metrics.final_price).collect();
    let row = &sweep.rows[1];
    assert_eq!(row.value, "2");
    assert!(close(row.final_price.p5, quantile(prices.clone(), 0.05)));
    assert!(close(row.final_price.p50, quantile(prices.clone(), 0.5)));
    assert!(close(row.final_price.p95, quantile(prices, 0.95)));
    let rebates: Vec<f64> = runs.iter().map(|r| r.metrics.avg_net_rebate_share).collect();
    assert!(close(row.avg_net_rebate_share.p50, quantile(rebates, 0.5)));
    // A higher cap is reached by fewer members.
    assert!(row.cap_reached_share.p50 < sweep.rows[0].cap_reached_share.p50, "{:?}", sweep.rows);
}

#[test]
fn a_scenario_parameter_can_be_swept() {
    let loaded = load(SMALL);
    let more = with_parameter(&loaded, "arrivals.rate", "30").unwrap();
    assert_eq!(more.scenario.arrivals.rate, 30.0);
    let fewer = with_parameter(&loaded, "scenario.arrivals.rate", "2").unwrap();
    let m = |l: &Loaded| run_once(l, 1).unwrap().metrics.members;
    assert!(m(&more) > m(&fewer));
    let err = with_parameter(&loaded, "arrivals.speed", "3").unwrap_err();
    assert!(err.message.contains("speed"), "{err}");
}

// ---- money and invariants ---------------------------------------------------------------------

#[test]
fn the_money_of_a_run_adds_up() {
    let text = format!(
        "{SMALL}{INJECTED}\n[[campaigns]]\nstart_day = 10\nend_day = 30\nrate = \"0.05\"\nbudget = \"2000\"\n\n[legacy]\nday = 5\nmembers = 20\ncoins = {{ dist = \"fixed\", value = 300.0 }}\n"
    );
    let loaded = load(&text);
    let (result, engine) = run_with_engine(&loaded, 77);
    zengzhi_core::invariants::check_state(&engine).unwrap();
    let t = engine.totals();
    assert_eq!(t.injected_fen, Fen::from_fen(30_000_000));
    assert!(t.exits > 50, "the injection exits many members: {}", t.exits);
    assert!(t.subsidies_fen > Fen::ZERO && t.subsidies_fen <= Fen::from_fen(200_000));
    assert_eq!(t.subsidies_fen + t.subsidy_returned_fen, Fen::from_fen(200_000), "the campaign ended and returned the rest");
    assert_eq!(t.coins_issued_fen, Fen::from_fen(20 * 30_000));
    // Members spend no cash in the simulation, so their cash is exactly rewards + payouts.
    let cash: i64 = engine.members().iter().map(|m| m.cash_fen.to_fen()).sum();
    let rewards: i64 = engine.members().iter().map(|m| m.rewards_fen.to_fen()).sum();
    let payouts: i64 = result.days.iter().map(|d| d.payouts_fen).sum();
    assert_eq!(cash, rewards + payouts);
    // The day figures add up to the engine's totals.
    assert_eq!(result.days.iter().map(|d| d.orders).sum::<u64>(), t.orders);
    assert_eq!(result.days.iter().map(|d| d.exits).sum::<u64>(), t.exits);
    let gmv: i64 = engine.members().iter().map(|m| m.lifetime_consumption_fen.to_fen()).sum();
    assert_eq!(result.days.iter().map(|d| d.gmv_fen).sum::<i64>(), gmv);
    // Members are counted in exactly one of holding / waiting / exited.
    let last = result.days.last().unwrap();
    assert_eq!(last.holding + last.waiting + last.exited, engine.member_count() as u64);
    let exited = engine.members().iter().filter(|m| m.exits > 0).count() as u64;
    assert_eq!(last.exited, exited);
    let holding = engine.members().iter().filter(|m| m.exits == 0 && m.held_units() > Units::ZERO).count() as u64;
    assert_eq!(last.holding, holding);
}

// ---- honest metrics ---------------------------------------------------------------------------

#[test]
fn the_net_rebate_never_exceeds_the_pools_share_of_commission() {
    let loaded = load(SMALL);
    // 70% of purchases at 20%, 30% at 10%, 80% of commission to the pool.
    let bound = (0.7 * 0.20 + 0.3 * 0.10) * 0.8;
    let sim = simulate(&loaded, 4, 21, &|| {}).unwrap();
    let h = &sim.report.honest;
    assert!(close(h.net_rebate_bound, bound), "{} vs {bound}", h.net_rebate_bound);
    assert!(h.avg_net_rebate_share.p95 <= bound);
    assert!(h.avg_net_rebate_share.p50 > 0.0, "members do get something back");
    assert_eq!(h.retention, 0.2);
    assert!(h.statements.len() >= 4);
    assert!(h.statements.iter().all(|s| !s.zh.is_empty() && !s.en.is_empty()));
    // The summary always carries them.
    let summary: serde_json::Value = serde_json::from_str(&zengzhi_sim::output::summary_json(&sim.report)).unwrap();
    for key in ["cap_reached_share", "avg_net_rebate_share", "net_rebate_bound", "still_waiting_share", "statements"] {
        assert!(summary["honest"].get(key).is_some(), "summary lacks honest.{key}");
    }
}

#[test]
fn when_growth_stops_the_price_stays_flat_and_selling_is_still_possible() {
    // Everybody arrives on day 1 and buys once; no orders after that.
    let loaded = load(
        "horizon_days = 70\n[arrivals]\nrate = 0.0\ninitial_members = 200\n[buying]\norders_per_day = 0.0\nfirst_purchase = 1.0\n",
    );
    let sim = simulate(&loaded, 1, 1, &|| {}).unwrap();
    let days = &sim.report.days;
    assert!(days.iter().skip(1).all(|d| d.price.p50 == days[1].price.p50), "flat after day 1");
    let h = &sim.report.honest;
    assert_eq!(h.price_growth_last_30_days.p50, 0.0);
    assert!(close(h.sell_value_per_point_at_end.p50, days[69].price.p50 * 0.8));
    assert!(h.still_waiting_share.p50 > 0.9, "nobody new buys, so almost everyone waits: {:?}", h.still_waiting_share);
}

#[test]
fn the_wait_of_later_joiners_is_compared_with_month_one() {
    let loaded = load(&format!("{SMALL}{INJECTED}"));
    let sim = simulate(&loaded, 1, 4, &|| {}).unwrap();
    let run = &sim.runs[0];
    let first = run.cohorts[0].median_days_to_exit.expect("month 1 exits after the injection");
    let (later, last) = run
        .cohorts
        .iter()
        .enumerate()
        .skip(1)
        .rev()
        .find_map(|(c, k)| k.median_days_to_exit.map(|d| (c, d)))
        .expect("a later month exits too");
    let ratio = sim.report.honest.late_vs_early_wait_ratio.expect("measurable");
    assert!(close(ratio.p50, last / first), "{ratio:?} vs {last}/{first}");
    // Nobody who joined after the last month with exits exited: the report says so.
    let after: u64 = run.cohorts[later + 1..].iter().map(|k| k.members).sum();
    if after > 0 {
        let said = format!("第 {} 个月之后入会的约 {after} 名会员", later + 1);
        assert!(sim.report.honest.statements.iter().any(|s| s.zh.contains(&said)), "{said}");
    }
}

#[test]
fn a_world_without_exits_says_so() {
    // Constant arrivals of members who buy often: the price never grows 10.7-fold after
    // anybody's purchase within 60 days.
    let loaded = load(
        "horizon_days = 60
[buying]
orders_per_day = 0.5
",
    );
    let sim = simulate(&loaded, 1, 1, &|| {}).unwrap();
    let h = &sim.report.honest;
    assert_eq!(h.cap_reached_share.p50, 0.0);
    assert!(h.late_vs_early_wait_ratio.is_none());
    assert!(h.statements.iter().any(|s| s.en.starts_with("No member reached the cap")));
}

// ---- scenarios --------------------------------------------------------------------------------

#[test]
fn every_preset_loads_and_runs() {
    for (name, _) in PRESETS {
        let loaded = preset(name).unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
        let short = with_parameter(&loaded, "horizon_days", "120").unwrap();
        let result = run_once(&short, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.days.len(), 120, "{name}");
        assert!(result.metrics.orders > 0, "{name}");
    }
    assert!(preset("nonsense").is_none());
}

#[test]
fn the_example_scenario_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/example.toml");
    let loaded = zengzhi_sim::scenario::load_file(&path).unwrap();
    assert_eq!(loaded.rules.exit_multiple_ppm, Ppm::from_ppm(1_200_000));
    assert_eq!(loaded.scenario.sweep.as_ref().unwrap().values.len(), 3);
}

#[test]
fn invalid_scenarios_name_the_field() {
    let cases = [
        ("horizon_days = 10\nspeed = 3\n", "speed"),
        ("horizon_days = 10\n[arrivals]\nrte = 3.0\n", "rte"),
        ("horizon_days = 0\n", "horizon_days"),
        ("horizon_days = 10\n[selling]\nhold_to_cap = 0.5\n", "selling"),
        ("horizon_days = 10\n[rules.exit]\nmultiple = \"200\"\n", "rules.exit.multiple"),
        ("horizon_days = 10\n[rules.exit]\nmultipl = \"2\"\n", "rules.exit.multipl"),
        ("horizon_days = 10\n[buying]\namount = { dist = \"gamma\" }\n", "buying.amount.dist"),
        ("horizon_days = 10\n[[injections]]\nday = 11\namount = \"5\"\n", "injections[0].day"),
        ("horizon_days = 10\n[[injections]]\nday = 2\namount = \"5.001\"\n", "injections[0].amount"),
        ("[arrivals]\nrate = 1.0\n", "horizon_days"),
    ];
    for (text, field) in cases {
        let err = load_str(text, Path::new(".")).expect_err(text);
        let shown = err.to_string();
        assert!(shown.contains(field), "{text:?}: {shown}");
    }
}

#[test]
fn rules_come_from_a_file_beside_the_scenario() {
    let dir = std::env::temp_dir().join(format!("zengzhi-sim-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("alt.toml"), "[exit]\nmultiple = \"2\"\n").unwrap();
    let loaded = load_str("horizon_days = 10\nrules_file = \"alt.toml\"\n", &dir).unwrap();
    assert_eq!(loaded.rules.exit_multiple_ppm, Ppm::from_ppm(2_000_000));
    let both = load_str("horizon_days = 10\nrules_file = \"alt.toml\"\n[rules.exit]\nmultiple = \"1.5\"\n", &dir);
    assert!(both.unwrap_err().to_string().contains("rules_file"));
    let missing = load_str("horizon_days = 10\nrules_file = \"nope.toml\"\n", &dir);
    assert!(missing.unwrap_err().to_string().contains("nope.toml"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- what-if ------------------------------------------------------------------------------------

#[test]
fn whatif_replays_a_history_under_other_rules() {
    let input = std::fs::read(conformance().join("seed-first-exit.jsonl")).unwrap();
    let alt = Rules::from_toml("[exit]\nmultiple = \"2\"\n").unwrap();
    let w = zengzhi_sim::whatif::compare(&input, Rules::default(), alt);
    // The original side is the conformance case itself.
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(conformance().join("seed-first-exit.expected.json")).unwrap())
            .unwrap();
    assert_eq!(format_money(Fen::from_fen(w.sides[0].pool_fen)), case["pool"].as_str().unwrap());
    assert_eq!(w.sides[0].price, case["price"].as_str().unwrap());
    assert_eq!(w.sides[0].exits, case["totals"]["exits"].as_u64().unwrap());
    // Under a 2× cap the injections take u1's 112 points (all the supply) to 1200 yuan, below
    // the cap of 2000, so u1 never exits; after the second order u1 holds all the points and
    // so the whole pool, 1200 + 160.
    let u1 = w.members.iter().find(|m| m.member == "u1").unwrap();
    assert_eq!(u1.exits, [1, 0]);
    assert_eq!(u1.cash_fen, [96_000, 0]);
    assert_eq!(u1.points_value_fen[1], 120_000 + 16_000);
    assert_eq!(w.sides[1].exits, 0);
    assert_eq!(w.sides[1].payouts_fen, 0);
    let csv = zengzhi_sim::whatif::members_csv(&w);
    assert!(csv.lines().nth(1).unwrap().starts_with("u1,1,0,960.00,0.00,400.00,1360.00,"), "{csv}");
}

// ---- the economy's own attacks ----------------------------------------------------------------

/// SMALL with the owner of one store in five buying 2000 yuan a day at their own store.
const WASH: &str =
    "\n[attacks]\nwash_stores = 1\nwash_orders_per_day = 1.0\nwash_amount = { dist = \"fixed\", value = 2000.0 }\n";

/// What members got from the pool: cash of sales and exits, and the value of what they hold.
fn payouts_plus_held(r: &RunResult) -> i64 {
    r.metrics.payouts_fen + r.metrics.held_value_fen
}

#[test]
fn wash_trading_pays_the_owner_and_costs_honest_members_and_no_mint_ends_it() {
    let plain = load(SMALL);
    let washed = load(&format!("{SMALL}{WASH}"));
    let no_mint = load(&format!("{SMALL}{WASH}\n[rules.limits]\nself_dealing = \"no_mint\"\n"));
    let (r0, e0) = run_with_engine(&plain, 3);
    let (rw, ew) = run_with_engine(&washed, 3);
    let (rn, en) = run_with_engine(&no_mint, 3);
    for (r, e) in [(&r0, &e0), (&rw, &ew), (&rn, &en)] {
        // What members got from the pool (cash of sales and exits, the value of what they
        // hold) is what entered it: the pool parts of the commissions. Rounding: each member's
        // held value is floored, so the sum may fall short by less than 1 fen per member.
        let inflow = e.totals().commissions_fen.to_fen() - e.platform_revenue_fen().to_fen() - r.metrics.rewards_fen;
        let got = payouts_plus_held(r);
        assert!(got <= inflow && inflow - got < r.metrics.members as i64, "{got} vs {inflow}");
    }
    // The owner's only cost is the commission (the rest of each order comes back as the
    // store's takings); with points minted on each order, what they get back is more.
    assert!(rw.metrics.wash_commission_fen > 0);
    assert!(rw.metrics.wash_received_fen > rw.metrics.wash_commission_fen, "{:?}", rw.metrics);
    // What the pool pays the owner comes out of what the honest members would get: per fen
    // consumed, honest members get back less than without the wash trader.
    assert!(rw.metrics.honest_value_share < r0.metrics.honest_value_share, "{:?} vs {:?}", rw.metrics, r0.metrics);
    // `no_mint`: the owner's orders mint nothing and pay no referral reward, so the owner holds
    // no points and is paid no sale or exit: all they can get is rewards as someone else's
    // referrer, far below the commission their orders cost.
    assert_eq!(en.members()[0].held_units(), zengzhi_core::num::Units::ZERO);
    assert_eq!(en.members()[0].lifetime_consumption_fen.to_fen(), 0);
    assert!(rn.metrics.wash_commission_fen > 0);
    assert!(rn.metrics.wash_received_fen * 10 < rn.metrics.wash_commission_fen, "{:?}", rn.metrics);
    // And the pool parts of those commissions stay with the honest members.
    assert!(rn.metrics.honest_value_share > rw.metrics.honest_value_share);
}

#[test]
fn referral_farming_shows_rewards_paid_to_members_who_never_bought() {
    let farmed = load(&format!(
        "{SMALL}\n[attacks]\nfarmers = 2\nfake_referees = 20\nfake_orders_per_day = 0.2\nfake_amount = {{ dist = \"fixed\", value = 100.0 }}\n"
    ));
    let (r, e) = run_with_engine(&farmed, 5);
    // Farmers are members 0 and 21 (each followed by its 20 fakes): they never bought, and
    // each earned the direct reward ⌊10000 · 0.003⌋ = 30 fen on every fake order of theirs
    // (fake orders are all 100.00, so a fake's orders are its consumption ÷ 10000 fen), and
    // more when an honest newcomer happened to name them as referrer.
    for farmer in [0usize, 21] {
        let m = &e.members()[farmer];
        assert_eq!(m.lifetime_consumption_fen.to_fen(), 0);
        let fakes: i64 = e.members()[farmer + 1..farmer + 21].iter().map(|f| f.lifetime_consumption_fen.to_fen()).sum();
        assert!(fakes > 0);
        assert!(m.rewards_fen.to_fen() >= fakes / 10_000 * 30, "{} vs {fakes}", m.rewards_fen);
    }
    let non_buyers: i64 =
        e.members().iter().filter(|m| m.lifetime_consumption_fen.is_zero()).map(|m| m.rewards_fen.to_fen()).sum();
    assert_eq!(r.metrics.rewards_to_non_buyers_fen, non_buyers);
    assert!(r.metrics.rewards_to_non_buyers_share > 0.0 && r.metrics.rewards_to_non_buyers_share < 1.0);
    assert_eq!(r.metrics.rewards_to_non_buyers_share, non_buyers as f64 / r.metrics.rewards_fen as f64);
    // Attackers are left out of the honest members.
    assert_eq!(r.metrics.honest_members, r.metrics.members - 42);
}

#[test]
fn attacks_are_validated_by_name() {
    for (extra, field) in [
        ("wash_stores = 6", "attacks.wash_stores"),
        ("wash_orders_per_day = -1.0", "attacks.wash_orders_per_day"),
        ("fake_orders_per_day = 21.0", "attacks.fake_orders_per_day"),
        ("fake_referees = 3", "attacks.farmers"),
        ("farmers = 1001\nfake_referees = 1000", "attacks.fake_referees"),
        ("wash_amount = { dist = \"fixed\" }", "attacks.wash_amount.value"),
    ] {
        let e = load_str(&format!("{SMALL}\n[attacks]\n{extra}\n"), Path::new(".")).unwrap_err();
        assert_eq!(e.field, field, "{extra}: {e}");
    }
    assert!(load_str(&format!("{SMALL}\n[attacks]\nnope = 1\n"), Path::new(".")).is_err());
}
