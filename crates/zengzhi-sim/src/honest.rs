//! The honest metrics: the figures no summary or report may leave out, and the plain
//! statements written from them. There is no option to turn them off: [`honest`] is called for
//! every simulation and its result is part of both `summary.json` and the report.

use zengzhi_report::model::{Band, Honest, Statement};

use crate::run::RunResult;
use crate::scenario::Loaded;
use crate::stats::{band, band_of_some, median};

/// The pool's share of commission for the scenario's store mix: the bound the members' net
/// rebate (what sales and exits pay back, as a share of consumption) can never exceed without
/// injections or subsidies, because every payout comes out of the pool.
pub fn net_rebate_bound(loaded: &Loaded) -> f64 {
    let total: f64 = loaded.scenario.stores.iter().map(|c| c.share).sum();
    let pool_share = loaded.rules.pool_share_ppm.to_ppm() as f64 / 1e6;
    loaded
        .scenario
        .stores
        .iter()
        .zip(&loaded.store_commission_ppm)
        .map(|(c, &ppm)| c.share / total * ppm as f64 / 1e6 * pool_share)
        .sum()
}

/// A share as a percentage: one decimal, more for small non-zero shares (so 0.004% is not
/// shown as 0.0%).
fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p != 0.0 && p.abs() < 0.1 {
        format!("{p:.3}%")
    } else {
        format!("{p:.1}%")
    }
}

/// What wash-trading owners got per yuan of commission their orders cost (0 without cost).
pub fn wash_return(m: &crate::run::RunMetrics) -> f64 {
    if m.wash_commission_fen > 0 {
        m.wash_received_fen as f64 / m.wash_commission_fen as f64
    } else {
        0.0
    }
}

/// Computes the honest metrics over the runs of the base scenario.
pub fn honest(loaded: &Loaded, runs: &[RunResult]) -> Honest {
    let m = |get: &dyn Fn(&RunResult) -> f64| band(runs.iter().map(get));
    let retention = loaded.rules.retention_ppm.to_ppm() as f64 / 1e6;
    let mut h = Honest {
        cap_reached_share: m(&|r| r.metrics.cap_reached_share),
        avg_net_rebate_share: m(&|r| r.metrics.avg_net_rebate_share),
        net_rebate_bound: net_rebate_bound(loaded),
        late_vs_early_wait_ratio: band_of_some(runs.iter().map(|r| r.metrics.late_vs_early_wait_ratio)),
        still_waiting_share: m(&|r| r.metrics.still_waiting_share),
        sell_value_per_point_at_end: m(&|r| r.metrics.final_price * (1.0 - retention)),
        retention,
        price_growth_last_30_days: m(&|r| r.metrics.price_growth_last_30_days),
        rewards_to_non_buyers_share: m(&|r| r.metrics.rewards_to_non_buyers_share),
        honest_cap_reached_share: m(&|r| r.metrics.honest_cap_reached_share),
        honest_net_rebate_share: m(&|r| r.metrics.honest_net_rebate_share),
        honest_value_share: m(&|r| r.metrics.honest_value_share),
        honest_median_days_to_exit: band_of_some(runs.iter().map(|r| r.metrics.honest_median_days_to_exit)),
        wash_return_on_commission: (loaded.scenario.attacks.wash_stores > 0)
            .then(|| m(&|r| wash_return(&r.metrics)))
            .filter(|_| runs.iter().any(|r| r.metrics.wash_commission_fen > 0)),
        statements: Vec::new(),
    };
    h.statements = statements(loaded, runs, &h);
    h
}

fn statements(loaded: &Loaded, runs: &[RunResult], h: &Honest) -> Vec<Statement> {
    let days = loaded.scenario.horizon_days;
    let mut out = vec![
        Statement {
            zh: format!(
                "{days} 天内，{} 的会员至少封顶出局一次；期末仍有 {} 的会员在当前周期内等待封顶。",
                pct(h.cap_reached_share.p50),
                pct(h.still_waiting_share.p50)
            ),
            en: format!(
                "Within {days} days, {} of members reached the cap at least once; at the end {} of members are still waiting for their cap in the current cycle.",
                pct(h.cap_reached_share.p50),
                pct(h.still_waiting_share.p50)
            ),
        },
        Statement {
            zh: format!(
                "会员通过卖出和出局拿回的现金平均为其消费额的 {}。所有兑付都来自盈利池，没有融资注入和补贴时，这一比例永远不会超过盈利池占佣金的份额 {}（佣金率 × 进池比例）。",
                pct(h.avg_net_rebate_share.p50),
                pct(h.net_rebate_bound)
            ),
            en: format!(
                "Sales and exits paid members back on average {} of what they spent. Every payout comes from the pool, so without injections and subsidies this can never exceed the pool's share of commission, {} (commission rate × pool share).",
                pct(h.avg_net_rebate_share.p50),
                pct(h.net_rebate_bound)
            ),
        },
    ];
    let extra = median(runs.iter().map(|r| r.metrics.injected_fen as f64 + r.metrics.subsidies_fen as f64));
    if extra > 0.0 {
        out.push(Statement {
            zh: format!("本情景中有 {:.2} 元融资注入和补贴进入盈利池：这部分兑付并非来自消费。", extra / 100.0),
            en: format!("In this scenario {:.2} yuan of injections and subsidies entered the pool: that part of the payouts does not come from consumption.", extra / 100.0),
        });
    }
    let rewards = median(runs.iter().map(|r| r.metrics.rewards_share));
    out.push(Statement {
        zh: format!("推荐与区域奖励另计，占消费额的 {}（来自分销预算，不来自盈利池）。", pct(rewards)),
        en: format!("Referral and regional rewards come on top, {} of consumption (from the distribution budget, not the pool).", pct(rewards)),
    });
    out.push(match h.late_vs_early_wait_ratio {
        Some(ratio) => Statement {
            zh: format!("后来者等得更久：最后一批有人出局的入会月份，出局所需天数的中位数是第 1 个月入会者的 {:.1} 倍。", ratio.p50),
            en: format!("Later joiners wait longer: the last join month with any exit waited {:.1}× as many days (median) to exit as members who joined in month 1.", ratio.p50),
        },
        None => Statement {
            zh: "后来者与早期会员的等待时间无法比较：只有一个入会月份（或没有）有人出局。".into(),
            en: "Later and early joiners' waits cannot be compared: members of at most one join month exited.".into(),
        },
    });
    let months = runs.first().map_or(0, |r| r.cohorts.len());
    let last_with_exits = (0..months).rev().find(|&c| runs.iter().any(|r| r.cohorts[c].reached_cap > 0));
    let later_members =
        |from: usize| median(runs.iter().map(|r| r.cohorts[from..].iter().map(|c| c.members as f64).sum::<f64>()));
    match last_with_exits {
        Some(c) if c + 1 < months && later_members(c + 1) > 0.0 => out.push(Statement {
            zh: format!("第 {} 个月之后入会的约 {:.0} 名会员，在期内没有一人封顶出局。", c + 1, later_members(c + 1)),
            en: format!(
                "Of the about {:.0} members who joined after month {}, none reached the cap within the horizon.",
                later_members(c + 1),
                c + 1
            ),
        }),
        None if later_members(0) > 0.0 => out.push(Statement {
            zh: format!("期内没有任何会员封顶出局（共约 {:.0} 名会员）。", later_members(0)),
            en: format!("No member reached the cap within the horizon (about {:.0} members).", later_members(0)),
        }),
        _ => {}
    }
    out.push(Statement {
        zh: format!(
            "奖励中有 {} 付给了从未消费过的会员（只拉人、自己不买）。",
            pct(h.rewards_to_non_buyers_share.p50)
        ),
        en: format!(
            "{} of the reward money went to members who never bought anything themselves (they only brought others in).",
            pct(h.rewards_to_non_buyers_share.p50)
        ),
    });
    if loaded.scenario.attacks.any() {
        out.push(attackers(loaded, h));
    }
    out.push(growth_stops(h));
    out
}

/// What the scenario's attackers did to the honest members, and what wash trading paid.
fn attackers(loaded: &Loaded, h: &Honest) -> Statement {
    let a = &loaded.scenario.attacks;
    let days = |b: &Option<Band>| b.map_or("—".to_string(), |b| format!("{:.0}", b.p50));
    let mut who: Vec<(String, String)> = Vec::new();
    if a.wash_stores > 0 {
        who.push((
            format!("{} 家门店的店主在本店刷单", a.wash_stores),
            format!("{} store owners wash-trading at their own store", a.wash_stores),
        ));
    }
    if a.farmers > 0 {
        who.push((
            format!("{} 个刷奖励的推荐人各带 {} 个假会员", a.farmers, a.fake_referees),
            format!("{} referral farmers with {} fake members each", a.farmers, a.fake_referees),
        ));
    }
    let (who_zh, who_en): (Vec<String>, Vec<String>) = who.into_iter().unzip();
    let (mut zh, mut en) = (
        format!(
            "本情景含攻击者（{}）。诚实会员中 {} 封顶出局，出局天数中位数 {}，现金拿回消费额的 {}，连同期末积分价值共 {}。",
            who_zh.join("，"),
            pct(h.honest_cap_reached_share.p50),
            days(&h.honest_median_days_to_exit),
            pct(h.honest_net_rebate_share.p50),
            pct(h.honest_value_share.p50)
        ),
        format!(
            "This scenario has attackers ({}). Of the honest members {} reached the cap, after {} days (median), and got back {} of what they spent in cash, {} with the value of their points at the end.",
            who_en.join(", "),
            pct(h.honest_cap_reached_share.p50),
            days(&h.honest_median_days_to_exit),
            pct(h.honest_net_rebate_share.p50),
            pct(h.honest_value_share.p50)
        ),
    );
    if let Some(r) = h.wash_return_on_commission {
        zh.push_str(&format!(
            "刷单店主每付 1 元佣金拿回 {:.2} 元（现金、奖励和期末积分价值）；规则 self_dealing = \"{}\"。",
            r.p50,
            loaded.rules.self_dealing.as_str()
        ));
        en.push_str(&format!(
            " Wash-trading owners got {:.2} yuan back (cash, rewards and the value of their points at the end) per yuan of commission paid; rules: self_dealing = \"{}\".",
            r.p50,
            loaded.rules.self_dealing.as_str()
        ));
    }
    Statement { zh, en }
}

/// What happens when growth stops: the price stays flat and anyone can still sell at the
/// retention discount, but nobody is exited any more.
fn growth_stops(h: &Honest) -> Statement {
    let Band { p50: value, .. } = h.sell_value_per_point_at_end;
    let keep = 1.0 - h.retention;
    Statement {
        zh: format!(
            "如果增长停止（没有新订单），价格不会下跌，但也不再上涨；任何人仍可按价格的 {} 卖出（期末约每积分 {:.2} 元），而等待封顶的会员将不会再出局。最后 30 天价格上涨 {}。",
            pct(keep),
            value,
            pct(h.price_growth_last_30_days.p50)
        ),
        en: format!(
            "If growth stops (no new orders), the price does not fall but stops rising; anyone can still sell at {} of it (about {:.2} yuan per point at the end), and members waiting for their cap will no longer exit. The price rose {} over the last 30 days.",
            pct(keep),
            value,
            pct(h.price_growth_last_30_days.p50)
        ),
    }
}
