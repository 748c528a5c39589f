//! Exact numbers: money in fen ([`Fen`]), points in units of 10^-8 ([`Units`]), rates in ppm
//! ([`Ppm`]).
//!
//! Everything here is integer arithmetic. Each quantity is a newtype over `i64` with a private
//! field, in the manner of rust-bitcoin's `Amount`: the constructor and the accessor name the
//! unit (`Fen::from_fen`, `Fen::to_fen`), sums are `checked_*` (or panic on overflow through
//! the operators: the engine checks every sum a command could overflow before it writes, so an
//! operator overflow is a programmer error), and every product that rounds has its rounding
//! direction in its name. Narrowing from the `i128` intermediates goes through `TryFrom`.
//!
//! Parsing is strict (SPEC §3, §10): a value that has a sign, an exponent, blanks, too many
//! decimals or non-ASCII digits is rejected, never rounded.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

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

/// The narrowing of an `i128` intermediate that is known to fit (a part of a stored value).
#[inline(always)]
#[track_caller]
fn narrow(v: i128) -> i64 {
    i64::try_from(v).expect("a bounded intermediate fits in i64")
}

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $from:ident, $to:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const ZERO: $name = $name(0);
            pub const MAX: $name = $name(i64::MAX);

            #[inline(always)]
            pub const fn $from(value: i64) -> $name {
                $name(value)
            }
            #[inline(always)]
            pub const fn $to(self) -> i64 {
                self.0
            }
            #[inline(always)]
            pub const fn checked_add(self, rhs: $name) -> Option<$name> {
                match self.0.checked_add(rhs.0) {
                    Some(v) => Some($name(v)),
                    None => None,
                }
            }
            #[inline(always)]
            pub const fn checked_sub(self, rhs: $name) -> Option<$name> {
                match self.0.checked_sub(rhs.0) {
                    Some(v) => Some($name(v)),
                    None => None,
                }
            }
            #[inline(always)]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
            #[inline(always)]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }
            #[inline(always)]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }
            /// The value as an `i128` intermediate.
            #[inline(always)]
            pub const fn wide(self) -> i128 {
                self.0 as i128
            }
            /// A value from an `i128` intermediate, `None` when it does not fit.
            #[inline(always)]
            pub fn from_wide(value: i128) -> Option<$name> {
                i64::try_from(value).ok().map($name)
            }
        }

        impl Add for $name {
            type Output = $name;
            #[inline(always)]
            #[track_caller]
            fn add(self, rhs: $name) -> $name {
                self.checked_add(rhs).expect(concat!($what, " overflow"))
            }
        }
        impl Sub for $name {
            type Output = $name;
            #[inline(always)]
            #[track_caller]
            fn sub(self, rhs: $name) -> $name {
                self.checked_sub(rhs).expect(concat!($what, " overflow"))
            }
        }
        impl AddAssign for $name {
            #[inline(always)]
            #[track_caller]
            fn add_assign(&mut self, rhs: $name) {
                *self = *self + rhs;
            }
        }
        impl SubAssign for $name {
            #[inline(always)]
            #[track_caller]
            fn sub_assign(&mut self, rhs: $name) {
                *self = *self - rhs;
            }
        }
        impl Neg for $name {
            type Output = $name;
            #[inline(always)]
            #[track_caller]
            fn neg(self) -> $name {
                $name(self.0.checked_neg().expect(concat!($what, " overflow")))
            }
        }
        impl From<$name> for i128 {
            #[inline(always)]
            fn from(v: $name) -> i128 {
                i128::from(v.0)
            }
        }
    };
}

quantity!(
    /// Money, in fen (0.01 yuan). Signed: a balance is never negative, a change may be.
    Fen, from_fen, to_fen, "fen"
);
quantity!(
    /// Points, in units of 10^-8 point. Signed: a balance is never negative, a change may be.
    Units, from_units, to_units, "units"
);
quantity!(
    /// A rate (or the exit multiple), in parts per million.
    Ppm, from_ppm, to_ppm, "ppm"
);

impl Ppm {
    /// A rate of 1.
    pub const ONE: Ppm = Ppm(PPM);
}

impl Fen {
    /// `⌊self · rate⌋` for a non-negative amount.
    #[inline(always)]
    pub fn mul_rate_floor(self, rate: Ppm) -> Fen {
        Fen(mul_rate_floor(self.0, rate.0))
    }

    /// `⌈self · rate⌉` for a non-negative amount.
    #[inline(always)]
    pub fn mul_rate_ceil(self, rate: Ppm) -> Fen {
        Fen(mul_rate_ceil(self.0, rate.0))
    }

    /// `⌊self · rate⌋` as an `i128`, for products that may exceed `i64` (a cap at a multiple).
    #[inline(always)]
    pub fn mul_rate_floor_wide(self, rate: Ppm) -> i128 {
        mul_div_floor(i128::from(self.0), i128::from(rate.0), i128::from(PPM))
    }

    /// `⌊self · num / den⌋` for a non-negative amount and a ratio `num / den ≤ 1` (a share).
    #[inline(always)]
    pub fn mul_share_floor(self, num: i128, den: i128) -> Fen {
        debug_assert!(num <= den);
        Fen(narrow(mul_div_floor(i128::from(self.0), num, den)))
    }

    /// The points worth this much at price `pool / supply`, rounded down: `⌊self · supply /
    /// pool⌋`; `None` when that does not fit in `i64`.
    #[inline(always)]
    pub fn to_units_floor(self, pool: Fen, supply: Units) -> Option<Units> {
        Units::from_wide(mul_div_floor(i128::from(self.0), i128::from(supply.0), i128::from(pool.0)))
    }

    /// The points worth this much at price `pool / supply`, rounded up: `⌈self · supply /
    /// pool⌉`; `None` when that does not fit in `i64`.
    #[inline(always)]
    pub fn to_units_ceil(self, pool: Fen, supply: Units) -> Option<Units> {
        Units::from_wide(mul_div_ceil(i128::from(self.0), i128::from(supply.0), i128::from(pool.0)))
    }
}

impl Units {
    /// The value of these points at price `pool / supply`, rounded down: `⌊self · pool /
    /// supply⌋`. The points must be a part of the supply, so the value is a part of the pool.
    #[inline(always)]
    #[track_caller]
    pub fn value_floor(self, pool: Fen, supply: Units) -> Fen {
        debug_assert!(self <= supply);
        Fen(narrow(mul_div_floor(i128::from(self.0), i128::from(pool.0), i128::from(supply.0))))
    }

    /// `⌊self · num / den⌋` for non-negative points and a ratio `num / den ≤ 1` (a share).
    #[inline(always)]
    #[track_caller]
    pub fn mul_share_floor(self, num: Fen, den: Fen) -> Units {
        debug_assert!(num <= den);
        Units(narrow(mul_div_floor(i128::from(self.0), i128::from(num.0), i128::from(den.0))))
    }

    /// `⌊self · rate⌋` for non-negative points.
    #[inline(always)]
    pub fn mul_rate_floor(self, rate: Ppm) -> Units {
        Units(mul_rate_floor(self.0, rate.0))
    }

    /// Half of these points, rounded down.
    #[inline(always)]
    pub const fn half_floor(self) -> Units {
        Units(self.0 / 2)
    }
}

impl fmt::Display for Fen {
    /// Yuan with exactly 2 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_fixed(i128::from(self.0), 2))
    }
}

impl fmt::Display for Units {
    /// Points with exactly 8 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_fixed(i128::from(self.0), 8))
    }
}

impl fmt::Display for Ppm {
    /// A decimal with as few decimals as needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rate(*self))
    }
}

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

/// `text` scaled by `10^decimals`, at most `max`.
fn parse_bounded(text: &str, decimals: u32, max: i64) -> Option<i64> {
    let v = parse_scaled(text, decimals)?;
    (v <= i128::from(max)).then(|| i64::try_from(v).ok()).flatten()
}

/// Money text (yuan, at most 2 decimals) → fen, at most `MAX_MONEY_ARG_FEN`.
pub fn parse_money(text: &str) -> Option<Fen> {
    parse_bounded(text, 2, MAX_MONEY_ARG_FEN).map(Fen)
}

/// Points text (at most 8 decimals) → units, at most `MAX_POINTS_ARG_UNITS`.
pub fn parse_points(text: &str) -> Option<Units> {
    parse_bounded(text, 8, MAX_POINTS_ARG_UNITS).map(Units)
}

/// Rate text (at most 6 decimals) → ppm, at most `max`.
pub fn parse_rate(text: &str, max: Ppm) -> Option<Ppm> {
    parse_bounded(text, 6, max.0).map(Ppm)
}

fn format_fixed(value: i128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = decimals as usize)
}

/// Fen → yuan text with exactly 2 decimals.
pub fn format_money(fen: Fen) -> String {
    format_fixed(i128::from(fen.0), 2)
}

/// Money held in an `i128` sum → yuan text with exactly 2 decimals.
pub fn format_money_wide(fen: i128) -> String {
    format_fixed(fen, 2)
}

/// Units → points text with exactly 8 decimals.
pub fn format_points(units: Units) -> String {
    format_fixed(i128::from(units.0), 8)
}

/// ppm → decimal text with as few decimals as needed (for messages).
pub fn format_rate(rate: Ppm) -> String {
    let s = format_fixed(i128::from(rate.0), 6);
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// The shown price, yuan per point with 8 decimals rounded down:
/// `⌊pool_fen · 10^14 / supply_units⌋ / 10^8`.
pub fn format_price(pool: Fen, supply: Units) -> String {
    let scaled =
        if supply.0 <= 0 { 0 } else { mul_div_floor(i128::from(pool.0), 100_000_000_000_000, i128::from(supply.0)) };
    format_fixed(scaled, 8)
}

/// `⌊a · b / c⌋` for non-negative `a`, `b` and positive `c`.
#[inline(always)]
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
#[inline(always)]
pub fn mul_div_ceil(a: i128, b: i128, c: i128) -> i128 {
    debug_assert!(a >= 0 && b >= 0 && c > 0);
    let p = a * b;
    (p + c - 1) / c
}

/// `⌊amount · rate⌋` for a rate in ppm of at most 1 (the result is at most `amount`).
#[inline(always)]
fn mul_rate_floor(amount: i64, rate_ppm: i64) -> i64 {
    if let Some(p) = amount.checked_mul(rate_ppm) {
        return p / PPM;
    }
    narrow(mul_div_floor(i128::from(amount), i128::from(rate_ppm), i128::from(PPM)))
}

/// `⌈amount · rate⌉` for a rate in ppm of at most 1 (the result is at most `amount`).
#[inline(always)]
fn mul_rate_ceil(amount: i64, rate_ppm: i64) -> i64 {
    if let Some(p) = amount.checked_mul(rate_ppm).and_then(|p| p.checked_add(PPM - 1)) {
        return p / PPM;
    }
    narrow(mul_div_ceil(i128::from(amount), i128::from(rate_ppm), i128::from(PPM)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(v: i64) -> Fen {
        Fen::from_fen(v)
    }

    #[test]
    fn money_parsing_is_strict() {
        assert_eq!(parse_money("1000"), Some(fen(100_000)));
        assert_eq!(parse_money("1000.5"), Some(fen(100_050)));
        assert_eq!(parse_money("0.01"), Some(fen(1)));
        assert_eq!(parse_money("007"), Some(fen(700)));
        assert_eq!(parse_money("100000000"), Some(fen(MAX_MONEY_ARG_FEN)));
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
        assert_eq!(parse_points("1.12345678"), Some(Units::from_units(112_345_678)));
        assert_eq!(parse_points("1.123456789"), None);
        assert_eq!(parse_points("10000000000"), Some(Units::from_units(MAX_POINTS_ARG_UNITS)));
        assert_eq!(parse_points("10000000000.00000001"), None);
        assert_eq!(parse_rate("0.003", Ppm::ONE), Some(Ppm::from_ppm(3_000)));
        assert_eq!(parse_rate("1", Ppm::ONE), Some(Ppm::ONE));
        assert_eq!(parse_rate("1.000001", Ppm::ONE), None);
        assert_eq!(parse_rate("0.0000001", Ppm::ONE), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_money(fen(96_000)), "960.00");
        assert_eq!(format_money(fen(5)), "0.05");
        assert_eq!(format_money(fen(-5)), "-0.05");
        assert_eq!(fen(-12_345).to_string(), "-123.45");
        assert_eq!(format_points(Units::from_units(11_200_000_000)), "112.00000000");
        assert_eq!(format_price(fen(16_000), Units::from_units(11_200_000_000)), "1.42857142");
        assert_eq!(format_rate(Ppm::from_ppm(3_000)), "0.003");
        assert_eq!(Ppm::from_ppm(1_200_000).to_string(), "1.2");
        assert_eq!(format_rate(Ppm::ZERO), "0");
    }

    #[test]
    fn rounding_directions() {
        let r = Ppm::from_ppm(200_000);
        assert_eq!(fen(999).mul_rate_floor(r), fen(199));
        assert_eq!(fen(999).mul_rate_ceil(r), fen(200));
        assert_eq!(fen(1000).mul_rate_ceil(r), fen(200));
        assert_eq!(mul_div_ceil(7, 1, 7), 1);
        assert_eq!(mul_div_ceil(0, 5, 7), 0);
        // 1 fen buys ⌊1 · 3 / 2⌋ = 1 unit rounded down and ⌈1.5⌉ = 2 rounded up.
        let (pool, supply) = (fen(2), Units::from_units(3));
        assert_eq!(fen(1).to_units_floor(pool, supply), Some(Units::from_units(1)));
        assert_eq!(fen(1).to_units_ceil(pool, supply), Some(Units::from_units(2)));
        assert_eq!(Units::from_units(2).value_floor(fen(3), Units::from_units(4)), fen(1));
        // The 64-bit fast paths and the 128-bit paths agree at the edge.
        assert_eq!(
            Fen::MAX.mul_rate_floor(Ppm::from_ppm(999_999)),
            fen((i128::from(i64::MAX) * 999_999 / 1_000_000) as i64)
        );
        assert_eq!(Fen::MAX.mul_rate_ceil(Ppm::from_ppm(1)), fen(9_223_372_036_855));
        assert_eq!(mul_div_floor(1 << 62, 1 << 62, 1 << 61), 1 << 63);
        assert_eq!(Fen::MAX.mul_rate_floor_wide(Ppm::from_ppm(2 * PPM)), 2 * i128::from(i64::MAX));
        assert_eq!(fen(1).to_units_floor(fen(1), Units::MAX).map(Units::to_units), Some(i64::MAX));
        assert_eq!(fen(2).to_units_floor(fen(1), Units::MAX), None);
    }

    #[test]
    fn sums_are_checked() {
        assert_eq!(Fen::MAX.checked_add(fen(1)), None);
        assert_eq!(fen(5).checked_sub(fen(7)), Some(fen(-2)));
        assert_eq!(fen(5) + fen(7) - fen(2), fen(10));
        assert!(std::panic::catch_unwind(|| Fen::MAX + fen(1)).is_err());
        assert_eq!(Units::from_wide(i128::from(i64::MAX) + 1), None);
    }
}
