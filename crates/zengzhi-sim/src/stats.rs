//! Percentiles and bands over Monte-Carlo runs.

use zengzhi_report::model::Band;

/// The `p` quantile (0 ..= 1) of sorted values, interpolating linearly between the closest
/// ranks (the common "type 7" definition: rank `h = (n − 1) · p`). `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// p5 / p50 / p95 of `values` (any order); all 0 when empty.
pub fn band(values: impl IntoIterator<Item = f64>) -> Band {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    Band {
        p5: percentile(&v, 0.05).unwrap_or(0.0),
        p50: percentile(&v, 0.5).unwrap_or(0.0),
        p95: percentile(&v, 0.95).unwrap_or(0.0),
    }
}

/// The band of the values that are present; `None` when none is.
pub fn band_of_some(values: impl IntoIterator<Item = Option<f64>>) -> Option<Band> {
    let v: Vec<f64> = values.into_iter().flatten().collect();
    (!v.is_empty()).then(|| band(v))
}

/// The median of `values` (any order); 0 when empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    band(values).p50
}
