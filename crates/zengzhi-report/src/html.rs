//! `report.html`: one self-contained page (inline CSS, inline SVG charts, inline JS; no
//! external resource of any kind), Simplified Chinese first with a button that switches every
//! text to English.
//!
//! Every text is written twice, `<span class="zh" lang="zh-CN">` and `<span class="en"
//! lang="en">`; the `lang` attribute of `<html>` decides which one shows. Every string that
//! comes from [`ReportData`] goes through [`esc`]. The honest-metrics section is always written,
//! first after the title: there is deliberately no way to leave it out.

use std::fmt::Write as _;

use crate::format::{self, esc};
use crate::model::{Band, Honest, ReportData};

/// A chart as it is embedded: file stem, Chinese and English captions, the SVG text.
pub struct Figure<'a> {
    pub stem: &'a str,
    pub title_zh: &'a str,
    pub title_en: &'a str,
    pub svg: &'a str,
}

/// Both languages of a text, escaped.
fn bi(zh: &str, en: &str) -> String {
    format!("<span class=\"zh\" lang=\"zh-CN\">{}</span><span class=\"en\" lang=\"en\">{}</span>", esc(zh), esc(en))
}

/// A band for a card: the median large, the p5–p95 range small ("p50 (p5–p95)" as text).
fn band_big(b: &Band, f: fn(f64) -> String) -> String {
    let (lo, mid, hi) = (f(b.p5), f(b.p50), f(b.p95));
    if lo == mid && mid == hi {
        esc(&mid)
    } else {
        format!("{} <small class=\"band\">({}–{})</small>", esc(&mid), esc(&lo), esc(&hi))
    }
}

fn band_or(b: Option<&Band>, f: fn(f64) -> String, zh: &str, en: &str) -> String {
    match b {
        Some(b) => esc(&format::band(b, f)),
        None => format!("<span class=\"none\">{}</span>", bi(zh, en)),
    }
}

const CSS: &str = r#"
:root{--ink:#212529;--muted:#6c757d;--line:#dee2e6;--bg:#f6f7f9;--accent:#1f5fa6;--warn:#b45309;--warnbg:#fff8eb}
*{box-sizing:border-box}
html[lang="zh-CN"] .en{display:none}
html[lang="en"] .zh{display:none}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.6 "PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.page{max-width:1120px;margin:0 auto;padding:0 24px 48px}
header.top{background:#1b2a41;color:#fff;padding:28px 0 24px}
header.top .page{padding-bottom:0}
.kicker{font-size:13px;letter-spacing:.08em;text-transform:uppercase;color:#aeb9c9}
h1{margin:6px 0 8px;font-size:30px;line-height:1.25}
.desc{margin:0 0 16px;color:#d7dee8;max-width:860px;white-space:pre-line}
.facts{display:flex;flex-wrap:wrap;gap:10px 28px;margin:0;padding:0;list-style:none;font-size:14px;color:#d7dee8}
.facts b{color:#fff;font-weight:600;margin-left:6px}
#lang-toggle{float:right;margin-top:2px;border:1px solid #8fa3bf;background:transparent;color:#fff;border-radius:6px;padding:6px 14px;font:inherit;font-size:14px;cursor:pointer}
#lang-toggle:hover{background:rgba(255,255,255,.12)}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:22px 26px;margin-top:22px}
h2{margin:0 0 14px;font-size:21px}
h3{margin:22px 0 10px;font-size:17px}
.sub{color:var(--muted);font-size:14px;margin:-8px 0 16px}
section.honest{border:2px solid #e0a33a;background:var(--warnbg)}
section.honest h2{color:var(--warn)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
.card{background:#fff;border:1px solid #f0d9ae;border-radius:8px;padding:14px 16px}
.card .label{font-size:13px;color:var(--muted)}
.card .value{font-size:22px;font-weight:600;margin:4px 0 2px;font-variant-numeric:tabular-nums}
.card .value small{font-size:14px;font-weight:400;color:var(--muted);white-space:nowrap}
.card .bound{font-size:13px;font-weight:400;color:#9a3412;margin-top:2px}
.meter{height:6px;background:#fde2c4;border-radius:3px;margin:6px 0 2px;overflow:hidden}
.meter div{height:100%;background:#c2410c}
.card .hint{font-size:13px;color:#495057}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:14px;background:#fff}
th,td{border-bottom:1px solid var(--line);padding:7px 10px;text-align:right;vertical-align:top}
th{background:#f1f3f5;font-weight:600}
th:first-child,td:first-child{text-align:left}
.none{color:var(--muted);font-style:italic}
ul.statements{margin:0;padding-left:20px}
ul.statements li{margin:6px 0;font-size:15px}
figure{margin:0 0 26px}
figure svg{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:6px}
figcaption{font-size:13px;color:var(--muted);margin-top:6px}
pre{background:#f8f9fa;border:1px solid var(--line);border-radius:6px;padding:12px 14px;overflow:auto;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre}
details summary{cursor:pointer;font-weight:600;margin:10px 0}
footer{color:var(--muted);font-size:12px;margin-top:28px;text-align:center}
@media print{body{background:#fff}#lang-toggle{display:none}section{break-inside:avoid-page;border-color:#ccc}header.top{background:#fff;color:#000}header.top .desc,header.top .facts,.kicker{color:#333}.facts b{color:#000}}
"#;

const JS: &str = r#"
(function(){
  var b=document.getElementById('lang-toggle');
  if(!b)return;
  b.addEventListener('click',function(){
    var h=document.documentElement;
    h.setAttribute('lang',h.getAttribute('lang')==='en'?'zh-CN':'en');
  });
})();
"#;

/// The whole page.
pub fn page(data: &ReportData, figures: &[Figure<'_>]) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = if data.name.is_empty() { "zengzhi".to_string() } else { data.name.clone() };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · 消费增值模拟报告 Simulation report</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut h, data);
    h.push_str("<main class=\"page\">\n");
    honest(&mut h, data);
    overview(&mut h, data);
    charts(&mut h, figures);
    sweep(&mut h, data);
    appendix(&mut h, data);
    let _ = write!(
        h,
        "<footer>{}</footer>\n</main>\n<script>{JS}</script>\n</body>\n</html>\n",
        bi(
            &format!("由 zengzhi {} 模拟器生成。模拟结果不构成收益承诺。", env!("CARGO_PKG_VERSION")),
            &format!(
                "Generated by the zengzhi {} simulator. Simulated results are not a promise of returns.",
                env!("CARGO_PKG_VERSION")
            ),
        )
    );
    h
}

fn header(h: &mut String, d: &ReportData) {
    let _ = write!(
        h,
        "<header class=\"top\"><div class=\"page\">\n\
         <button id=\"lang-toggle\" type=\"button\" title=\"切换语言 Switch language\">{}</button>\n\
         <div class=\"kicker\">{}</div>\n<h1>{}</h1>\n",
        bi("English", "中文"),
        bi("消费增值 · 模拟报告", "Consumption appreciation · simulation report"),
        esc(&d.name)
    );
    if !d.description.is_empty() {
        let _ = writeln!(h, "<p class=\"desc\">{}</p>", esc(&d.description));
    }
    let _ = write!(
        h,
        "<ul class=\"facts\"><li>{}<b>{}</b></li><li>{}<b>{}</b></li><li>{}<b>{}</b></li></ul>\n</div></header>\n",
        bi("模拟天数", "Horizon (days)"),
        d.horizon_days,
        bi("模拟次数", "Runs"),
        d.runs,
        bi("随机种子", "Seed"),
        d.seed
    );
}

/// A bar: how much of the bound the average uses.
fn meter(value: f64, bound: f64) -> String {
    let share = if bound > 0.0 && value.is_finite() { (value / bound).clamp(0.0, 1.0) } else { 0.0 };
    format!(
        "<div class=\"meter\" role=\"img\" aria-label=\"{:.0}%\"><div style=\"width:{:.1}%\"></div></div>",
        share * 100.0,
        share * 100.0
    )
}

fn card(h: &mut String, label: String, value: String, hint: String) {
    let _ = writeln!(
        h,
        "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
         <div class=\"hint\">{hint}</div></div>"
    );
}

/// The honest metrics: always present, whatever the data.
fn honest(h: &mut String, d: &ReportData) {
    let _ = write!(
        h,
        "<section id=\"honest\" class=\"honest\">\n<h2>{}</h2>\n<p class=\"sub\">{}</p>\n<div class=\"cards\">\n",
        bi("诚实指标", "Honest metrics"),
        bi(
            "以下数字每份报告都必须展示，无法隐藏。数值为中位数，括号内为 p5–p95 区间。",
            "Every report shows these figures; they cannot be hidden. Values are medians, p5–p95 in brackets."
        )
    );
    honest_cards(h, &d.honest);
    h.push_str("</div>\n");
    honest_cohorts(h, d);
    honest_statements(h, &d.honest);
    h.push_str("</section>\n");
}

/// The six cards of the honest metrics.
fn honest_cards(h: &mut String, m: &Honest) {
    card(
        h,
        bi("封顶出局会员比例", "Members who reached the cap"),
        band_big(&m.cap_reached_share, format::pct),
        bi(
            "模拟期内至少一次达到封顶并出局的会员占全部会员的比例。",
            "Share of all members who reached the cap at least once in the horizon.",
        ),
    );
    card(
        h,
        bi("平均净返利 / 上限", "Average net rebate vs its bound"),
        format!(
            "{} <div class=\"bound\">{} <b>{}</b></div>{}",
            band_big(&m.avg_net_rebate_share, format::pct),
            bi("上限（不可能超过）", "bound, never exceeded"),
            esc(&format::pct(m.net_rebate_bound)),
            meter(m.avg_net_rebate_share.p50, m.net_rebate_bound),
        ),
        bi(
            "会员所得现金占其消费的平均比例；它永远不会超过盈利池占消费的比例（上限）。",
            "Cash members received as a share of what they consumed, on average; it can never exceed the pool's share of consumption (the bound).",
        ),
    );
    card(
        h,
        bi("后入会者等待倍数", "Late-vs-early wait ratio"),
        match &m.late_vs_early_wait_ratio {
            Some(b) => band_big(b, format::ratio),
            None => band_or(None, format::ratio, "无法测算", "not measurable"),
        },
        bi(
            "最后一个有人出局的入会月份的中位等待天数，除以第 1 个月的。大于 1 表示后来者等得更久。",
            "Median days to exit of the last cohort with exits divided by that of cohort 1; above 1 means latecomers wait longer.",
        ),
    );
    card(
        h,
        bi("期末仍在等待的会员", "Still waiting at the end"),
        band_big(&m.still_waiting_share, format::pct),
        bi(
            "模拟结束时仍未达到封顶的会员占全部会员的比例。",
            "Share of all members who had not reached the cap when the horizon ended.",
        ),
    );
    card(
        h,
        bi("增长停止时：近 30 天价格涨幅", "If growth stops: price growth, last 30 days"),
        band_big(&m.price_growth_last_30_days, format::pct),
        bi(
            "没有新消费时积分价格不再上涨，只会持平。",
            "Without new consumption the point price stops rising: it stays flat.",
        ),
    );
    let keep = 1.0 - m.retention;
    card(
        h,
        bi("增长停止时：每积分卖出可得", "If growth stops: cash per point sold"),
        format!("¥{}", band_big(&m.sell_value_per_point_at_end, format::price)),
        bi(
            &format!("期末价格 × {}（卖出时 {} 留在盈利池）。", format::pct(keep), format::pct(m.retention)),
            &format!(
                "End price × {} ({} of each sale stays in the pool).",
                format::pct(keep),
                format::pct(m.retention)
            ),
        ),
    );
    attack_cards(h, m);
}

/// The cards of the economy's own attacks: rewards to members who never bought (always), and,
/// with wash traders, the honest members' figures and what wash trading paid.
fn attack_cards(h: &mut String, m: &Honest) {
    card(
        h,
        bi("奖励流向从未消费的会员", "Rewards to members who never bought"),
        band_big(&m.rewards_to_non_buyers_share, format::pct),
        bi(
            "全部奖励中付给自己从未消费的会员（只拉人不消费，包括刷奖励的假推荐链）的比例。",
            "Share of all reward money paid to members who never bought anything (they only brought others in; referral farmers included).",
        ),
    );
    let Some(wash) = &m.wash_return_on_commission else { return };
    card(
        h,
        bi("诚实会员：封顶比例 / 所得占消费", "Honest members: reached the cap / got back"),
        format!(
            "{} / {}",
            band_big(&m.honest_cap_reached_share, format::pct),
            band_big(&m.honest_value_share, format::pct)
        ),
        {
            let days = m.honest_median_days_to_exit.map_or_else(|| "—".to_string(), |b| format::band(&b, format::days));
            bi(
                &format!("不含刷单店主等攻击者；所得 = 卖出与出局现金 + 期末积分价值；出局天数中位数 {days}。"),
                &format!("Attackers left out; got back = cash from sales and exits + the value of points at the end; median days to exit {days}."),
            )
        },
    );
    card(
        h,
        bi("刷单回报：每元佣金拿回", "Wash trading: back per yuan of commission"),
        band_big(wash, format::ratio),
        bi(
            "刷单店主所得（卖出与出局现金、奖励、期末积分价值）除以其刷单订单的佣金。大于 1 表示刷单有利可图。",
            "What wash-trading owners got (cash from sales and exits, rewards, the value of their points at the end) divided by the commission of their own-store orders. Above 1: wash trading paid.",
        ),
    );
}

/// The table of days to exit by join cohort.
fn honest_cohorts(h: &mut String, d: &ReportData) {
    let _ = writeln!(h, "<h3>{}</h3>", bi("各入会月份的出局等待天数", "Days to exit by join cohort"));
    if d.cohorts.is_empty() {
        let _ = writeln!(h, "<p class=\"none\">{}</p>", bi("没有入会批次数据。", "No cohort data."));
    } else {
        let _ = writeln!(
            h,
            "<table class=\"cohorts\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            bi("入会月份", "Join cohort"),
            bi("会员数", "Members"),
            bi("封顶比例", "Reached cap"),
            bi("中位等待天数", "Median days to exit"),
            bi("P90 等待天数", "P90 days to exit"),
        );
        for c in &d.cohorts {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                bi(
                    &format!("第 {} 月（第 {}–{} 天）", c.month, c.month.saturating_sub(1) * 30 + 1, c.month * 30),
                    &format!("Month {} (days {}–{})", c.month, c.month.saturating_sub(1) * 30 + 1, c.month * 30)
                ),
                esc(&format::count(c.members)),
                esc(&format::band(&c.reached_cap, format::pct)),
                band_or(c.median_days_to_exit.as_ref(), format::days, "无人出局", "no exits"),
                band_or(c.p90_days_to_exit.as_ref(), format::days, "无人出局", "no exits"),
            );
        }
        h.push_str("</tbody></table>\n");
    }
}

/// The statements drawn from the honest metrics.
fn honest_statements(h: &mut String, m: &Honest) {
    let _ = writeln!(h, "<h3>{}</h3>", bi("结论", "Statements"));
    if m.statements.is_empty() {
        let _ = writeln!(h, "<p class=\"none\">{}</p>", bi("（无）", "(none)"));
    } else {
        h.push_str("<ul class=\"statements\">\n");
        for s in &m.statements {
            let _ = writeln!(h, "<li>{}</li>", bi(&s.zh, &s.en));
        }
        h.push_str("</ul>\n");
    }
}

fn overview(h: &mut String, d: &ReportData) {
    let _ = writeln!(h, "<section id=\"overview\">\n<h2>{}</h2>", bi("概览", "Overview"));
    let _ = writeln!(
        h,
        "<p class=\"sub\">{}</p>",
        bi(
            &format!("{} 天，{} 次模拟，随机种子 {}。期末合计（中位数那次模拟）：", d.horizon_days, d.runs, d.seed),
            &format!(
                "{} days, {} runs, seed {}. Totals at the end of the horizon (median run):",
                d.horizon_days, d.runs, d.seed
            ),
        )
    );
    if d.totals.is_empty() {
        let _ = writeln!(h, "<p class=\"none\">{}</p>", bi("没有合计数据。", "No totals."));
    } else {
        let _ = writeln!(
            h,
            "<table class=\"totals\"><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>",
            bi("项目", "Item"),
            bi("数值", "Value")
        );
        for (k, v) in &d.totals {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
}

fn charts(h: &mut String, figures: &[Figure<'_>]) {
    let _ = writeln!(h, "<section id=\"charts\">\n<h2>{}</h2>", bi("图表", "Charts"));
    let _ = writeln!(
        h,
        "<p class=\"sub\">{}</p>",
        bi(
            "实线为各次模拟的中位数 (p50)，阴影或误差线为 p5–p95 区间。每张图另存为同名 PNG 与 SVG 文件。",
            "Lines are the median (p50) of the runs; shading or whiskers the p5–p95 band. Each chart is also saved as PNG and SVG."
        )
    );
    for f in figures {
        // The SVG comes from the chart renderer, which escapes every text it writes.
        let svg = f.svg.trim_start();
        let svg = svg.strip_prefix("<svg").map_or_else(
            || svg.to_string(),
            |rest| format!("<svg role=\"img\" aria-label=\"{} {}\"{rest}", esc(f.title_zh), esc(f.title_en)),
        );
        let _ = write!(
            h,
            "<figure id=\"chart-{}\">\n{}\n<figcaption>{} · {}.png / {}.svg</figcaption>\n</figure>\n",
            esc(f.stem),
            svg,
            bi(f.title_zh, f.title_en),
            esc(f.stem),
            esc(f.stem)
        );
    }
    h.push_str("</section>\n");
}

fn sweep(h: &mut String, d: &ReportData) {
    let Some(s) = &d.sweep else { return };
    let _ = writeln!(
        h,
        "<section id=\"sweep\">\n<h2>{}</h2>\n<p class=\"sub\">{}</p>",
        bi("参数扫描", "Parameter sweep"),
        bi(&format!("扫描参数：{}", s.parameter), &format!("Swept parameter: {}", s.parameter))
    );
    let _ = writeln!(
        h,
        "<table class=\"sweep\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        bi("取值", "Value"),
        bi("期末价格（元）", "Final price (yuan)"),
        bi("封顶比例", "Reached cap"),
        bi("平均净返利", "Avg net rebate"),
        bi("中位出局天数", "Median days to exit"),
    );
    for r in &s.rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.value),
            esc(&format::band(&r.final_price, format::price)),
            esc(&format::band(&r.cap_reached_share, format::pct)),
            esc(&format::band(&r.avg_net_rebate_share, format::pct)),
            band_or(r.median_days_to_exit.as_ref(), format::days, "无人出局", "no exits"),
        );
    }
    h.push_str("</tbody></table>\n</section>\n");
}

fn appendix(h: &mut String, d: &ReportData) {
    let _ = writeln!(h, "<section id=\"appendix\">\n<h2>{}</h2>", bi("附录", "Appendix"));
    for (zh, en, text) in [
        ("场景文件 (TOML)", "Scenario (TOML)", &d.scenario_toml),
        ("生效规则 (TOML)", "Effective rules (TOML)", &d.rules_toml),
    ] {
        let body = if text.trim().is_empty() { "#".to_string() } else { esc(text) };
        let _ = writeln!(h, "<details open><summary>{}</summary><pre>{}</pre></details>", bi(zh, en), body);
    }
    h.push_str("</section>\n");
}
