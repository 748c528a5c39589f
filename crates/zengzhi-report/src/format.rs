//! Number formatting and HTML escaping for the report.

use crate::model::Band;

/// Escapes text for HTML element content and (double- or single-quoted) attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1234567.891` → `"1,234,567.89"`: yuan with 2 decimals and thousands separators.
pub fn yuan(v: f64) -> String {
    grouped(v, 2)
}

/// A per-point price: 4 decimals (a price moves by fractions of a fen).
pub fn price(v: f64) -> String {
    grouped(v, 4)
}

/// A count (members, orders, points) with thousands separators, no decimals unless small.
pub fn count(v: f64) -> String {
    if v.is_finite() && v.abs() < 10.0 && v.fract() != 0.0 {
        grouped(v, 1)
    } else {
        grouped(v, 0)
    }
}

/// Days, rounded to whole days.
pub fn days(v: f64) -> String {
    grouped(v, 0)
}

/// A share in [0, 1] as a percentage: `0.1234` → `"12.3%"` (2 decimals below 1 %).
pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let p = v * 100.0;
    if p != 0.0 && p.abs() < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A ratio: `2.345` → `"2.35×"`.
pub fn ratio(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    format!("{v:.2}×")
}

/// A band as `"p50 (p5–p95)"`, or just `"p50"` when the runs agree (one run).
pub fn band(b: &Band, f: fn(f64) -> String) -> String {
    let (lo, mid, hi) = (f(b.p5), f(b.p50), f(b.p95));
    if lo == mid && mid == hi {
        mid
    } else {
        format!("{mid} ({lo}–{hi})")
    }
}

fn grouped(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = match s.find('.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s.as_str(), ""),
    };
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out.push_str(frac);
    // No "-0.00".
    if v < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(yuan(1234567.891), "1,234,567.89");
        assert_eq!(yuan(-0.001), "0.00");
        assert_eq!(yuan(-12.5), "-12.50");
        assert_eq!(yuan(999.999), "1,000.00");
        assert_eq!(price(1.23456), "1.2346");
        assert_eq!(pct(0.1234), "12.3%");
        assert_eq!(pct(0.0012), "0.12%");
        assert_eq!(pct(0.0), "0.0%");
        assert_eq!(count(12345.0), "12,345");
        assert_eq!(ratio(2.345), "2.35×");
        assert_eq!(band(&Band { p5: 0.1, p50: 0.2, p95: 0.3 }, pct), "20.0% (10.0%–30.0%)");
        assert_eq!(band(&Band { p5: 0.2, p50: 0.2, p95: 0.2 }, pct), "20.0%");
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
