//! Exact numbers: money in fen, points in units of 10^-8, rates in ppm.
//!
//! Everything here is integer arithmetic. Parsing is strict (SPEC §3, §10): a value that has a
//! sign, an exponent, blanks, too many decimals or non-ASCII digits is rejected, never rounded.
//! The rounding direction of every helper is in its name.

/// One point is this many units.
pub const UNITS_PER_POINT: i64 = 100_000_000;
/// One yuan is this many fen.
pub const FEN_PER_YUAN: i64 = 100;
/// A rate of 1 is this many ppm.
pub const PPM: i64 = 1_000_000;
/// The largest money argument a command may carry: 100,000,000.00 yuan.
pub const MAX_MONEY_ARG_FEN: i64 = 10_000_000_000;
/// The largest points argument a command may carry: 10,000,000,000 points.
pub const MAX_POINTS_ARG_UNITS: i64 = 1_000_000_000_000_000_000;
/// The largest `exit.multiple`: 100.
pub const MAX_MULTIPLE_PPM: i64 = 100 * PPM;

/// Parses `digits[.digits]` with at most `max_decimals` decimals and returns the value scaled by
/// `10^max_decimals`. `None` for anything else, and for values too large to matter (they are
/// rejected by the caller's range check anyway).
fn parse_scaled(text: &str, max_decimals: u32) -> Option<i128> {
    let bytes = text.as_bytes();
    let (int_part, frac_part) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) => (&bytes[..dot], Some(&bytes[dot + 1..])),
        None => (bytes, None),
    };
    if int_part.is_empty() || !int_part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let frac = frac_part.unwrap_or(&[]);
    if let Some(f) = frac_part {
        if f.is_empty() || f.len() > max_decimals as usize || !f.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    // Leading zeros are allowed ("007"); skip them so long inputs cannot overflow.
    let significant = &int_part[int_part.iter().position(|&b| b != b'0').unwrap_or(int_part.len())..];
    if significant.len() > 20 {
        return None;
    }
    let mut value: i128 = 0;
    for &b in significant {
        value = value * 10 + i128::from(b - b'0');
    }
    for i in 0..max_decimals as usize {
        let digit = frac.get(i).map_or(0, |&b| i128::from(b - b'0'));
        value = value * 10 + digit;
    }
    Some(value)
}

/// Money text (yuan, at most 2 decimals) → fen, at most `MAX_MONEY_ARG_FEN`.
pub fn parse_money(text: &str) -> Option<i64> {
    let v = parse_scaled(text, 2)?;
    (v <= i128::from(MAX_MONEY_ARG_FEN)).then_some(v as i64)
}

/// Points text (at most 8 decimals) → units, at most `MAX_POINTS_ARG_UNITS`.
pub fn parse_points(text: &str) -> Option<i64> {
    let v = parse_scaled(text, 8)?;
    (v <= i128::from(MAX_POINTS_ARG_UNITS)).then_some(v as i64)
}

/// Rate text (at most 6 decimals) → ppm, at most `max_ppm`.
pub fn parse_rate(text: &str, max_ppm: i64) -> Option<i64> {
    let v = parse_scaled(text, 6)?;
    (v <= i128::from(max_ppm)).then_some(v as i64)
}

fn format_fixed(value: i128, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let scale = scale as u128;
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = decimals as usize)
}

/// Fen → yuan text with exactly 2 decimals.
pub fn format_money(fen: i64) -> String {
    format_fixed(i128::from(fen), 2)
}

/// Units → points text with exactly 8 decimals.
pub fn format_points(units: i64) -> String {
    format_fixed(i128::from(units), 8)
}

/// ppm → decimal text with as few decimals as needed (for messages).
pub fn format_rate(ppm: i64) -> String {
    let s = format_fixed(i128::from(ppm), 6);
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// The shown price, yuan per point with 8 decimals rounded down:
/// `⌊pool_fen · 10^14 / supply_units⌋ / 10^8`.
pub fn format_price(pool_fen: i64, supply_units: i64) -> String {
    let scaled = if supply_units <= 0 {
        0
    } else {
        mul_div_floor(i128::from(pool_fen), 100_000_000_000_000, i128::from(supply_units))
    };
    format_fixed(scaled, 8)
}

/// `⌊a · b / c⌋` for non-negative `a`, `b` and positive `c`.
#[inline]
pub fn mul_div_floor(a: i128, b: i128, c: i128) -> i128 {
    debug_assert!(a >= 0 && b >= 0 && c > 0);
    // 64-bit division is several times faster than 128-bit; use it when the product fits.
    if let (Ok(a), Ok(b), Ok(c)) = (u64::try_from(a), u64::try_from(b), u64::try_from(c)) {
        if let Some(p) = a.checked_mul(b) {
            return i128::from(p / c);
        }
    }
    a * b / c
}

/// `⌈a · b / c⌉` for non-negative `a`, `b` and positive `c`.
#[inline]
pub fn mul_div_ceil(a: i128, b: i128, c: i128) -> i128 {
    debug_assert!(a >= 0 && b >= 0 && c > 0);
    let p = a * b;
    (p + c - 1) / c
}

/// `⌊amount · rate⌋` for a rate in ppm.
#[inline]
pub fn mul_rate_floor(amount: i64, rate_ppm: i64) -> i64 {
    if let Some(p) = amount.checked_mul(rate_ppm) {
        return p / PPM;
    }
    mul_div_floor(i128::from(amount), i128::from(rate_ppm), i128::from(PPM)) as i64
}

/// `⌈amount · rate⌉` for a rate in ppm.
#[inline]
pub fn mul_rate_ceil(amount: i64, rate_ppm: i64) -> i64 {
    if let Some(p) = amount.checked_mul(rate_ppm).and_then(|p| p.checked_add(PPM - 1)) {
        return p / PPM;
    }
    mul_div_ceil(i128::from(amount), i128::from(rate_ppm), i128::from(PPM)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parsing_is_strict() {
        assert_eq!(parse_money("1000"), Some(100_000));
        assert_eq!(parse_money("1000.5"), Some(100_050));
        assert_eq!(parse_money("0.01"), Some(1));
        assert_eq!(parse_money("007"), Some(700));
        assert_eq!(parse_money("100000000"), Some(MAX_MONEY_ARG_FEN));
        for bad in [
            "-1",
            "1.234",
            "1e3",
            " 5",
            "5 ",
            "٣",
            "",
            "12.",
            ".5",
            "+5",
            "1,5",
            "100000000.01",
            "99999999999999999999999999999999",
        ] {
            assert_eq!(parse_money(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn points_and_rates() {
        assert_eq!(parse_points("1.12345678"), Some(112_345_678));
        assert_eq!(parse_points("1.123456789"), None);
        assert_eq!(parse_points("10000000000"), Some(MAX_POINTS_ARG_UNITS));
        assert_eq!(parse_points("10000000000.00000001"), None);
        assert_eq!(parse_rate("0.003", PPM), Some(3_000));
        assert_eq!(parse_rate("1", PPM), Some(PPM));
        assert_eq!(parse_rate("1.000001", PPM), None);
        assert_eq!(parse_rate("0.0000001", PPM), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_money(96_000), "960.00");
        assert_eq!(format_money(5), "0.05");
        assert_eq!(format_points(11_200_000_000), "112.00000000");
        assert_eq!(format_price(16_000, 11_200_000_000), "1.42857142");
        assert_eq!(format_rate(3_000), "0.003");
        assert_eq!(format_rate(1_200_000), "1.2");
        assert_eq!(format_rate(0), "0");
    }

    #[test]
    fn rounding_directions() {
        assert_eq!(mul_rate_floor(999, 200_000), 199);
        assert_eq!(mul_rate_ceil(999, 200_000), 200);
        assert_eq!(mul_rate_ceil(1000, 200_000), 200);
        assert_eq!(mul_div_ceil(7, 1, 7), 1);
        assert_eq!(mul_div_ceil(0, 5, 7), 0);
        // The 64-bit fast paths and the 128-bit paths agree at the edge.
        assert_eq!(mul_rate_floor(i64::MAX, 999_999), (i128::from(i64::MAX) * 999_999 / 1_000_000) as i64);
        assert_eq!(mul_rate_ceil(i64::MAX, 1), 9_223_372_036_855);
        assert_eq!(mul_div_floor(1 << 62, 1 << 62, 1 << 61), 1 << 63);
    }
}
