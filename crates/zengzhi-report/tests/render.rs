//! Renders a small hand-made report and checks every file it writes.
//!
//! Needs a font with Chinese glyphs (Debian package `fonts-wqy-microhei`, or `ZENGZHI_FONT`).
//! Set `ZENGZHI_REPORT_KEEP` to a folder to keep the sample report for a look.

use std::path::{Path, PathBuf};

use zengzhi_report::model::*;
use zengzhi_report::{charts, font, render};

const STATEMENT_ZH: &str = "增长停止后价格持平；任何人仍可按 80% 卖出 <b>&amp;</b> 无需担心";
const STATEMENT_EN: &str =
    "When growth stops the price stays flat; anyone can still sell at 80% <script>x</script> & more";

fn band(p5: f64, p50: f64, p95: f64) -> Band {
    Band { p5, p50, p95 }
}

fn spread(v: f64, s: f64) -> Band {
    band(v * (1.0 - s), v, v * (1.0 + s))
}

/// A small but realistic report: 120 days, 4 cohorts (the last without exits), a histogram,
/// statements with markup characters, a sweep.
fn sample() -> ReportData {
    let days = (1..=120u32)
        .map(|day| {
            let t = f64::from(day);
            let growth = if day <= 90 { t } else { 90.0 };
            let pool = 5_000.0 * growth + 300.0 * t;
            let supply = 3_800.0 * growth;
            let exits = if day > 20 { 3.0 + (t * 0.7).sin() * 2.0 + t / 30.0 } else { 0.0 };
            DayBand {
                day,
                orders: spread(200.0, 0.1),
                gmv: spread(30_000.0, 0.1),
                pool: spread(pool, 0.08),
                supply: spread(supply, 0.05),
                price: band(1.0 + t * 0.0021, 1.0 + t * 0.0025, 1.0 + t * 0.0029),
                exits: band((exits - 2.0).max(0.0), exits, exits + 2.5),
                payouts: spread(1_000.0, 0.2),
                holding: spread(500.0, 0.1),
                waiting: spread(40.0, 0.2),
                exited: spread(3.0 * t, 0.1),
            }
        })
        .collect();
    let cohorts = vec![
        Cohort {
            month: 1,
            members: 410.0,
            reached_cap: band(0.55, 0.62, 0.70),
            median_days_to_exit: Some(band(34.0, 38.0, 43.0)),
            p90_days_to_exit: Some(band(61.0, 66.0, 72.0)),
        },
        Cohort {
            month: 2,
            members: 395.0,
            reached_cap: band(0.30, 0.36, 0.41),
            median_days_to_exit: Some(band(47.0, 52.0, 58.0)),
            p90_days_to_exit: Some(band(70.0, 76.0, 83.0)),
        },
        Cohort {
            month: 3,
            members: 402.0,
            reached_cap: band(0.05, 0.08, 0.12),
            median_days_to_exit: Some(band(22.0, 25.0, 28.0)),
            p90_days_to_exit: None,
        },
        Cohort {
            month: 4,
            members: 388.0,
            reached_cap: band(0.0, 0.0, 0.0),
            median_days_to_exit: None,
            p90_days_to_exit: None,
        },
    ];
    let net_rebate_histogram = (0..20)
        .map(|i| {
            let from = f64::from(i) * 0.025;
            let centre = f64::from(i) - 5.0;
            Bin { from, to: from + 0.025, members: (600.0 * (-centre * centre / 12.0).exp()).round() + 4.0 }
        })
        .collect();
    ReportData {
        name: "华东门店试点 <试算> & 对照".into(),
        description: "两百家门店、每日两百单的试点方案。\nPilot: 200 stores, 200 orders a day.".into(),
        horizon_days: 120,
        runs: 50,
        seed: 42,
        scenario_toml: "name = \"华东门店试点 <试算> & 对照\"\n[arrivals]\nrate = 12 # <members> & more\n".into(),
        rules_toml: "[exit]\nmultiple = \"1.2\"\n[sell]\nretention = \"0.20\"\n".into(),
        days,
        cohorts,
        net_rebate_histogram,
        honest: Honest {
            cap_reached_share: band(0.24, 0.267, 0.29),
            avg_net_rebate_share: band(0.091, 0.1034, 0.112),
            net_rebate_bound: 0.16,
            late_vs_early_wait_ratio: Some(band(1.9, 2.37, 2.8)),
            still_waiting_share: band(0.69, 0.733, 0.77),
            sell_value_per_point_at_end: band(1.18, 1.2345, 1.29),
            retention: 0.2,
            price_growth_last_30_days: band(0.0, 0.004, 0.009),
            rewards_to_non_buyers_share: band(0.05, 0.061, 0.07),
            honest_cap_reached_share: band(0.2, 0.25, 0.3),
            honest_net_rebate_share: band(0.09, 0.1, 0.11),
            honest_value_share: band(0.12, 0.134, 0.15),
            honest_median_days_to_exit: Some(band(50.0, 60.0, 70.0)),
            wash_return_on_commission: Some(band(1.2, 1.38, 1.5)),
            statements: vec![
                Statement { zh: STATEMENT_ZH.into(), en: STATEMENT_EN.into() },
                Statement {
                    zh: "后入会的会员等待时间是首月会员的 2.37 倍".into(),
                    en: "Late joiners wait 2.37× as long as the first month's".into(),
                },
            ],
        },
        sweep: Some(Sweep {
            parameter: "rules.exit.multiple".into(),
            rows: ["1.2", "1.5", "2.0"]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let k = i as f64;
                    SweepRow {
                        value: (*v).into(),
                        final_price: spread(1.30 + 0.05 * k, 0.03),
                        cap_reached_share: spread(0.27 - 0.08 * k, 0.1),
                        avg_net_rebate_share: spread(0.10 - 0.01 * k, 0.1),
                        median_days_to_exit: if i < 2 { Some(spread(40.0 + 30.0 * k, 0.1)) } else { None },
                    }
                })
                .collect(),
        }),
        totals: vec![
            ("订单数 Orders".into(), "24,000".into()),
            ("会员数 Members".into(), "1,595".into()),
            ("盈利池 Pool (yuan)".into(), "486,000.00".into()),
            ("标记 <tag> & co".into(), "1 < 2".into()),
        ],
    }
}

fn out_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    (tmp, dir)
}

fn keep(dir: &Path) {
    if let Some(keep) = std::env::var_os("ZENGZHI_REPORT_KEEP") {
        let keep = PathBuf::from(keep).join(dir.file_name().unwrap());
        std::fs::create_dir_all(&keep).unwrap();
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), keep.join(entry.file_name())).unwrap();
        }
    }
}

const STEMS: [(&str, u32); 6] =
    [("price", 640), ("pool-supply", 900), ("exits", 640), ("days-to-exit", 640), ("net-rebate", 640), ("sweep", 640)];

const TITLES: [&str; 6] =
    ["积分价格走势", "盈利池与流通积分", "每日封顶出局人数", "各入会月份的出局等待天数", "会员净返利分布", "参数扫描"];

#[test]
fn writes_every_file() {
    let (_tmp, dir) = out_dir("report");
    let data = sample();
    let written = render(&data, &dir).unwrap();
    keep(&dir);
    let mut expected = vec![dir.join("report-data.json"), dir.join("report.html")];
    for (stem, _) in STEMS {
        expected.push(dir.join(format!("{stem}.png")));
        expected.push(dir.join(format!("{stem}.svg")));
    }
    for path in &expected {
        assert!(written.contains(path), "{} not reported as written", path.display());
        let len = std::fs::metadata(path).unwrap().len();
        assert!(len > 100, "{} is too small: {len} bytes", path.display());
    }
    assert_eq!(written.len(), expected.len(), "{written:?}");
    // The data round-trips, so the report can be drawn again.
    let back: ReportData = serde_json::from_slice(&std::fs::read(dir.join("report-data.json")).unwrap()).unwrap();
    assert_eq!((&back.name, &back.honest.statements, &back.cohorts.len()), (&data.name, &data.honest.statements, &4));
    assert_eq!(back.days.len(), data.days.len());
    assert!((back.days[119].price.p50 - data.days[119].price.p50).abs() < 1e-12);
}

#[test]
fn no_sweep_no_sweep_chart() {
    let (_tmp, dir) = out_dir("nosweep");
    let mut data = sample();
    data.sweep = None;
    let written = render(&data, &dir).unwrap();
    assert!(!dir.join("sweep.png").exists() && !dir.join("sweep.svg").exists());
    assert_eq!(written.len(), 2 + 2 * 5);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("id=\"sweep\""));
}

#[test]
fn pngs_decode_with_the_right_size_and_are_not_blank() {
    let (_tmp, dir) = out_dir("png");
    render(&sample(), &dir).unwrap();
    for (stem, height) in STEMS {
        let path = dir.join(format!("{stem}.png"));
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1200, height), "{stem}");
        let px = info.color_type.samples();
        let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
        let distinct: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
        assert!(distinct.len() > 20, "{stem}.png has only {} colours", distinct.len());
        let non_white = pixels.iter().filter(|p| p.iter().take(3).any(|&c| c < 200)).count();
        assert!(non_white > 2_000, "{stem}.png is almost blank ({non_white} dark pixels)");
    }
}

#[test]
fn chinese_glyphs_are_rasterised_from_a_real_font() {
    let loaded = font::load().expect("a CJK font (apt-get install fonts-wqy-microhei)");
    assert!(loaded.path.is_file());
    let notdef = font::rasterize(None, 48.0).unwrap();
    for c in ['积', '分', '价', '格', '元'] {
        let glyph = font::rasterize(Some(c), 48.0).unwrap();
        assert_ne!(glyph.glyph_id, 0, "{c} maps to .notdef");
        assert!(glyph.ink() > 100, "{c} has no ink: {}", glyph.ink());
        assert_ne!(glyph, notdef, "{c} looks like .notdef");
    }
    // Two different characters are two different pictures.
    assert_ne!(font::rasterize(Some('积'), 48.0).unwrap(), font::rasterize(Some('价'), 48.0).unwrap());
}

#[test]
fn the_chinese_title_is_drawn_into_the_png() {
    let data = sample();
    let mut chart = charts::charts(&data).remove(0);
    assert_eq!(chart.title, "积分价格走势");
    let with = chart.rgb().unwrap();
    chart.title = String::new();
    let without = chart.rgb().unwrap();
    chart.title = "积分价格走势走势".into();
    let longer = chart.rgb().unwrap();
    // Only the title band (top 50 rows) differs, and by a glyph's worth of pixels.
    let row = 1200 * 3;
    let diff = |a: &[u8], b: &[u8]| a.iter().zip(b).filter(|(x, y)| x != y).count();
    assert_eq!(diff(&with[50 * row..], &without[50 * row..]), 0);
    let title_ink = diff(&with[..50 * row], &without[..50 * row]);
    assert!(title_ink > 6 * 150, "the title drew only {title_ink} sub-pixels");
    assert!(diff(&with[..50 * row], &longer[..50 * row]) > 2 * 150, "more characters, more ink");
}

#[test]
fn svgs_parse_and_carry_the_chinese_title() {
    let (_tmp, dir) = out_dir("svg");
    render(&sample(), &dir).unwrap();
    for ((stem, height), title) in STEMS.iter().zip(TITLES) {
        let text = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{stem}.svg: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("height"), Some(height.to_string().as_str()));
        let texts: Vec<&str> =
            doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).map(str::trim).collect();
        assert!(texts.iter().any(|t| t.starts_with(title)), "{stem}.svg lacks {title}: {texts:?}");
        let families: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("font-family")).collect();
        assert!(
            !families.is_empty()
                && families.iter().all(|f| f.contains("WenQuanYi Micro Hei") && f.ends_with("sans-serif"))
        );
    }
}

fn text_of(el: scraper::ElementRef<'_>) -> String {
    el.text().collect::<Vec<_>>().join("")
}

#[test]
fn report_html_is_self_contained_bilingual_and_honest() {
    let (_tmp, dir) = out_dir("html");
    render(&sample(), &dir).unwrap();
    let raw = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let doc = scraper::Html::parse_document(&raw);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();

    let html = doc.select(&sel("html")).next().unwrap();
    assert_eq!(html.value().attr("lang"), Some("zh-CN"));
    assert!(raw.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\">"));

    // No external resource of any kind.
    let lower = raw.to_lowercase();
    for bad in [
        "src=\"http",
        "href=\"http",
        "<link",
        "src='http",
        "href='http",
        "url(http",
        "@import",
        "<img src=\"/",
        "<iframe",
    ] {
        assert!(!lower.contains(bad), "external reference {bad}");
    }
    assert!(doc.select(&sel("script[src]")).next().is_none());
    assert_eq!(doc.select(&sel("style")).count(), 1);
    assert!(doc.select(&sel("button#lang-toggle")).next().is_some());

    // The honest metrics come first, with the given figures.
    let sections: Vec<_> = doc.select(&sel("main section")).map(|s| s.value().id().unwrap_or("").to_string()).collect();
    assert_eq!(sections, ["honest", "overview", "charts", "sweep", "appendix"]);
    let honest = doc.select(&sel("section#honest")).next().unwrap();
    let h = text_of(honest);
    for figure in [
        "26.7% (24.0%–29.0%)",     // cap reached
        "10.3% (9.1%–11.2%)",      // average net rebate
        "16.0%",                   // its bound
        "2.37× (1.90×–2.80×)",     // late vs early
        "73.3% (69.0%–77.0%)",     // still waiting
        "0.40% (0.0%–0.90%)",      // price growth, last 30 days
        "¥1.2345 (1.1800–1.2900)", // sell value per point
        "80.0%",                   // 1 − retention
        "诚实指标",
        "Honest metrics",
        "封顶出局会员比例",
        "Members who reached the cap",
        "38 (34–43)", // cohort 1 median days
        "66 (61–72)", // cohort 1 p90
        "无人出局",
        "no exits",
        "6.1% (5.0%–7.0%)", // rewards to members who never bought
        "Rewards to members who never bought",
        "25.0% (20.0%–30.0%) / 13.4% (12.0%–15.0%)", // honest: reached the cap / got back
        "1.38× (1.20×–1.50×)",                       // wash trading's return on commission
        "Wash trading: back per yuan of commission",
    ] {
        assert!(h.contains(figure), "honest section lacks {figure:?}: {h}");
    }
    let cohort_rows = honest.select(&sel("table.cohorts tbody tr")).count();
    assert_eq!(cohort_rows, 4);

    // Statements verbatim, in both languages, escaped (the markup is text, not elements).
    let items: Vec<String> = honest.select(&sel("ul.statements li")).map(text_of).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].contains(STATEMENT_ZH) && items[0].contains(STATEMENT_EN), "{items:?}");
    assert!(honest.select(&sel("ul.statements b, ul.statements script")).next().is_none());
    assert!(raw.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;"));
    assert!(raw.contains("&lt;script&gt;x&lt;/script&gt; &amp; more"));
    assert_eq!(doc.select(&sel("script")).count(), 1, "only the page's own script");

    // Both languages present for headings.
    for (zh, en) in [("概览", "Overview"), ("图表", "Charts"), ("参数扫描", "Parameter sweep"), ("附录", "Appendix")]
    {
        let h2: Vec<String> = doc.select(&sel("h2")).map(text_of).collect();
        assert!(h2.iter().any(|t| t.contains(zh) && t.contains(en)), "{zh}/{en} missing in {h2:?}");
    }
    let zh_spans = doc.select(&sel("span.zh[lang=zh-CN]")).count();
    let en_spans = doc.select(&sel("span.en[lang=en]")).count();
    assert_eq!(zh_spans, en_spans);
    assert!(zh_spans > 40, "{zh_spans}");

    // Name, description, totals and TOML escaped.
    assert!(text_of(doc.select(&sel("h1")).next().unwrap()).contains("华东门店试点 <试算> & 对照"));
    assert!(raw.contains("华东门店试点 &lt;试算&gt; &amp; 对照"));
    let overview = text_of(doc.select(&sel("section#overview")).next().unwrap());
    assert!(overview.contains("标记 <tag> & co") && overview.contains("1 < 2"));
    let pres: Vec<String> = doc.select(&sel("section#appendix pre")).map(text_of).collect();
    assert_eq!(pres.len(), 2);
    assert!(pres[0].contains("rate = 12 # <members> & more"));
    assert!(pres[1].contains("retention = \"0.20\""));

    // The charts are embedded inline, each with its Chinese title.
    let svgs: Vec<_> = doc.select(&sel("section#charts figure svg")).collect();
    assert_eq!(svgs.len(), 6);
    for (svg, title) in svgs.iter().zip(TITLES) {
        assert!(text_of(*svg).contains(title), "inline chart lacks {title}");
    }

    // The sweep table.
    let sweep_rows: Vec<String> = doc.select(&sel("table.sweep tbody tr")).map(text_of).collect();
    assert_eq!(sweep_rows.len(), 3);
    assert!(sweep_rows[0].starts_with("1.2") && sweep_rows[0].contains("1.3000 (1.2610–1.3390)"), "{sweep_rows:?}");
}

#[test]
fn honest_metrics_are_there_even_without_data() {
    let (_tmp, dir) = out_dir("empty");
    let data = ReportData {
        name: "空场景".into(),
        honest: Honest {
            cap_reached_share: band(0.0, 0.0, 0.0),
            net_rebate_bound: 0.16,
            retention: 0.2,
            statements: vec![Statement { zh: "没有任何订单".into(), en: "No orders at all".into() }],
            ..Honest::default()
        },
        ..ReportData::default()
    };
    let written = render(&data, &dir).unwrap();
    keep(&dir);
    assert_eq!(written.len(), 2 + 2 * 5);
    let raw = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let doc = scraper::Html::parse_document(&raw);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let honest = text_of(doc.select(&sel("main > section#honest:first-child")).next().expect("honest section first"));
    for needle in [
        "诚实指标",
        "Honest metrics",
        "无法测算",
        "not measurable",
        "没有入会批次数据",
        "No cohort data",
        "16.0%",
        "没有任何订单",
        "No orders at all",
        "¥0.0000",
    ] {
        assert!(honest.contains(needle), "{needle:?} missing: {honest}");
    }
    // Charts of nothing still say so instead of failing.
    let svg = std::fs::read_to_string(dir.join("price.svg")).unwrap();
    assert!(svg.contains("无数据"));
}

#[test]
fn odd_shapes_render_and_markup_is_escaped_everywhere() {
    let (_tmp, dir) = out_dir("odd");
    let mut data = sample();
    data.days.truncate(1);
    data.cohorts = (1..=24)
        .map(|month| Cohort {
            month,
            members: 10.0,
            reached_cap: band(0.0, 0.0, 0.0),
            median_days_to_exit: (month % 3 == 0).then(|| band(5.0, 6.0, 7.0)),
            p90_days_to_exit: None,
        })
        .collect();
    data.net_rebate_histogram.truncate(1);
    data.honest.late_vs_early_wait_ratio = None;
    data.sweep = Some(Sweep { parameter: "scenario.a<b&c>\"d'".into(), rows: vec![] });
    let written = render(&data, &dir).unwrap();
    keep(&dir);
    assert_eq!(written.len(), 2 + 2 * 6);
    for (stem, _) in STEMS {
        let text = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{stem}.svg: {e}"));
    }
    let sweep = std::fs::read_to_string(dir.join("sweep.svg")).unwrap();
    assert!(sweep.contains("无数据"));
    let raw = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!raw.contains("a<b&c>"));
    let doc = scraper::Html::parse_document(&raw);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let sel = scraper::Selector::parse("section#sweep p.sub").unwrap();
    assert!(text_of(doc.select(&sel).next().unwrap()).contains("scenario.a<b&c>\"d'"));
    let sel = scraper::Selector::parse("table.cohorts tbody tr").unwrap();
    assert_eq!(doc.select(&sel).count(), 24);
}
