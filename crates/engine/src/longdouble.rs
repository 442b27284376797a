//! x87 80-bit extended precision (C `long double` on x86-64 Linux), emulated exactly, for
//! INCRBYFLOAT.
//!
//! Redis parses both operands with `strtold`, adds them in long double and prints the sum with
//! `%.17Lf` before dropping trailing zeros. Rust has no 80-bit float, so this module does the same
//! with integers: a value is a sign, a 64-bit mantissa (explicit integer bit) and a binary
//! exponent, parsing and addition compute the exact result as a big integer and round it once to
//! the nearest representable value (ties to even), and printing expands the binary value exactly.
//!
//! The format: `value = mantissa * 2^exponent`, with `mantissa >= 2^63` for normal numbers and
//! `exponent` in `EXP_MIN..=EXP_MAX`; subnormal numbers (and zero) have `exponent == EXP_MIN` and
//! a smaller mantissa. That is the x87 range: 15-bit exponent, the smallest normal number is
//! 2^-16382, the smallest subnormal one 2^-16445 and the largest finite one (2^64-1) * 2^16320.
//!
//! Every expected reply in the tests was taken from redis-server 7.0.15 (Debian, glibc, x86-64),
//! including one glibc quirk that is reproduced: see `parse_hex`.

use std::cmp::Ordering;

/// Exponent (of the mantissa's lowest bit) of the smallest normal and of every subnormal number.
const EXP_MIN: i64 = -16445;
/// Exponent (of the mantissa's lowest bit) of the largest finite numbers.
const EXP_MAX: i64 = 16320;
/// Redis copies the text into a buffer of 5 KiB with a NUL terminator: 5120 bytes or more are
/// rejected before parsing.
const TEXT_MAX: usize = 5 * 1024;

/// An x87 extended-precision value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LongDouble {
    negative: bool,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `mantissa * 2^exponent`, normalized as the module doc says.
    Finite {
        mantissa: u64,
        exponent: i64,
    },
    Infinite,
    Nan,
}

impl LongDouble {
    fn zero(negative: bool) -> LongDouble {
        LongDouble {
            negative,
            kind: Kind::Finite {
                mantissa: 0,
                exponent: EXP_MIN,
            },
        }
    }

    fn infinite(negative: bool) -> LongDouble {
        LongDouble {
            negative,
            kind: Kind::Infinite,
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self.kind, Kind::Finite { mantissa: 0, .. })
    }

    /// Neither infinite nor NaN.
    pub(crate) fn is_finite(&self) -> bool {
        matches!(self.kind, Kind::Finite { .. })
    }

    /// The nearest double (a value past double's range is infinite, one below it zero).
    pub(crate) fn to_f64(self) -> f64 {
        let magnitude = match self.kind {
            // The mantissa rounds to 53 bits; the power of two is exact until it under- or
            // overflows, which the clamp keeps in i32 without changing the outcome.
            Kind::Finite { mantissa, exponent } => {
                mantissa as f64 * 2f64.powi(exponent.clamp(-2200, 2200) as i32)
            }
            Kind::Infinite => f64::INFINITY,
            Kind::Nan => f64::NAN,
        };
        if self.negative { -magnitude } else { magnitude }
    }
}

/// Parses `text` as Redis does for a float argument: glibc's `strtold` must consume all of it (so
/// no surrounding whitespace), and NaN, overflow to infinity and underflow to zero are rejected.
/// Accepted are decimal numbers (`1`, `-1.5`, `.5`, `5.`, `1e5`, `+1E-5`), hexadecimal ones
/// (`0x1.8p3`) and `inf` / `infinity` in any case, each with an optional sign.
pub(crate) fn parse(text: &[u8]) -> Option<LongDouble> {
    if text.is_empty() || text.len() >= TEXT_MAX {
        return None;
    }
    let (negative, rest) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(LongDouble::infinite(negative));
    }
    match rest {
        [b'0', b'x' | b'X', hex @ ..] => parse_hex(negative, hex),
        _ => parse_decimal(negative, rest),
    }
}

/// A nonzero number rounded: strtold reports ERANGE when it overflows to infinity or underflows
/// to zero, and Redis rejects both.
fn in_range(value: LongDouble) -> Option<LongDouble> {
    (value.is_finite() && !value.is_zero()).then_some(value)
}

/// Digits with an optional point, then an optional exponent (`e` and decimal digits, or `p` for
/// hexadecimal); everything must be consumed.
struct Number {
    /// Significant digits, as digit values, without leading zeros.
    digits: Vec<u8>,
    /// Whether any digit was seen (`0` has no significant digits but is a number).
    seen: bool,
    /// Digits after the point.
    fraction: i64,
    /// The exponent, clamped to ±10^12 (far beyond any range that does not overflow).
    exponent: i64,
}

fn scan(text: &[u8], radix: u32, marker: u8) -> Option<Number> {
    let mut number = Number {
        digits: Vec::new(),
        seen: false,
        fraction: 0,
        exponent: 0,
    };
    let mut i = 0;
    let mut point = false;
    while i < text.len() {
        let c = text[i];
        if c == b'.' && !point {
            point = true;
        } else if let Some(d) = (c as char).to_digit(radix) {
            number.seen = true;
            if point {
                number.fraction += 1;
            }
            if d != 0 || !number.digits.is_empty() {
                number.digits.push(d as u8);
            }
        } else {
            break;
        }
        i += 1;
    }
    if !number.seen {
        return None;
    }
    if i == text.len() {
        return Some(number);
    }
    if text[i].to_ascii_lowercase() != marker {
        return None;
    }
    let mut exponent = &text[i + 1..];
    let negative = exponent.first() == Some(&b'-');
    if matches!(exponent.first(), Some(b'-' | b'+')) {
        exponent = &exponent[1..];
    }
    if exponent.is_empty() || !exponent.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &c in exponent {
        value = (value * 10 + i64::from(c - b'0')).min(1_000_000_000_000);
    }
    number.exponent = if negative { -value } else { value };
    Some(number)
}

fn parse_decimal(negative: bool, text: &[u8]) -> Option<LongDouble> {
    let mut number = scan(text, 10, b'e')?;
    let mut exponent = number.exponent - number.fraction;
    while number.digits.last() == Some(&0) {
        number.digits.pop();
        exponent += 1;
    }
    if number.digits.is_empty() {
        return Some(LongDouble::zero(negative));
    }
    // The value is in [10^(n-1+exponent), 10^(n+exponent)). The largest finite long double is
    // about 1.19e4932 and half the smallest subnormal one about 1.8e-4951.
    let n = number.digits.len() as i64;
    if n - 1 + exponent >= 4933 || n + exponent <= -4952 {
        return None;
    }
    let digits = Big::from_digits(&number.digits, 10);
    // value = digits * 10^exponent = digits * 5^exponent * 2^exponent.
    if exponent >= 0 {
        let mut n = digits;
        n.mul_pow5(exponent as u64);
        return in_range(round(negative, &n, exponent, false));
    }
    let mut den = Big::from_u128(1);
    den.mul_pow5(exponent.unsigned_abs());
    // Scale so that the quotient has 66 or 67 bits: more than the 64 kept and the rounding bit,
    // the remainder telling whether anything lies below.
    let scale = 66 - (digits.bit_len() as i64 - den.bit_len() as i64);
    let (num, den) = if scale >= 0 {
        (digits.shl(scale as u64), den)
    } else {
        (digits, den.shl(scale.unsigned_abs()))
    };
    let (quotient, inexact) = divide(&num, &den, 68);
    in_range(round(
        negative,
        &Big::from_u128(quotient),
        exponent - scale,
        inexact,
    ))
}

fn parse_hex(negative: bool, text: &[u8]) -> Option<LongDouble> {
    let number = scan(text, 16, b'p')?;
    if number.digits.is_empty() {
        return Some(LongDouble::zero(negative));
    }
    let digits = Big::from_digits(&number.digits, 16);
    let shift = number.exponent - 4 * number.fraction;
    // The value is in [2^(len-1+shift), 2^(len+shift)).
    let len = digits.bit_len() as i64;
    if len - 1 + shift >= 16384 || len + shift <= -16446 {
        return None;
    }
    let mut digits = digits;
    if shift + len - 64 < EXP_MIN && len > 64 {
        // glibc reads hexadecimal input as 64 bits, a rounding bit and whether anything is set
        // below it; for a subnormal result it shifts the 64 bits right and rounds again, and the
        // old rounding bit is lost. Only 2^-16446 * (1 + 2^-64) shows it: rejected as zero.
        digits.clear_bit((len - 65) as u64);
    }
    in_range(round(negative, &digits, shift, false))
}

/// Rounds `n * 2^shift` (plus a little more if `inexact`: the exact value lies strictly between
/// `n` and `n + 1` units) to the nearest long double, ties to even, overflowing to infinity.
/// `inexact` requires that at least one bit of `n` is dropped.
fn round(negative: bool, n: &Big, shift: i64, inexact: bool) -> LongDouble {
    let len = n.bit_len() as i64;
    if len == 0 {
        return LongDouble::zero(negative);
    }
    let mut exponent = (shift + len - 64).max(EXP_MIN);
    let drop = exponent - shift;
    let mut mantissa;
    if drop <= 0 {
        debug_assert!(!inexact);
        mantissa = (n.bits_from(0) as u64) << drop.unsigned_abs();
    } else {
        let drop = drop as u64;
        mantissa = n.bits_from(drop) as u64;
        let half = n.bit(drop - 1);
        let below = inexact || n.any_below(drop - 1);
        if half && (below || mantissa & 1 == 1) {
            mantissa = match mantissa.checked_add(1) {
                Some(m) => m,
                None => {
                    exponent += 1;
                    1 << 63
                }
            };
        }
    }
    if exponent > EXP_MAX {
        return LongDouble::infinite(negative);
    }
    if mantissa == 0 {
        return LongDouble::zero(negative);
    }
    LongDouble {
        negative,
        kind: Kind::Finite { mantissa, exponent },
    }
}

/// The correctly rounded sum, as the FPU computes it in round-to-nearest mode.
pub(crate) fn add(a: LongDouble, b: LongDouble) -> LongDouble {
    let ((ma, ea), (mb, eb)) = match (a.kind, b.kind) {
        (Kind::Nan, _) | (_, Kind::Nan) => {
            return LongDouble {
                negative: false,
                kind: Kind::Nan,
            };
        }
        (Kind::Infinite, Kind::Infinite) if a.negative != b.negative => {
            return LongDouble {
                negative: false,
                kind: Kind::Nan,
            };
        }
        (Kind::Infinite, _) => return a,
        (_, Kind::Infinite) => return b,
        (
            Kind::Finite {
                mantissa: ma,
                exponent: ea,
            },
            Kind::Finite {
                mantissa: mb,
                exponent: eb,
            },
        ) => ((ma, ea), (mb, eb)),
    };
    if a.is_zero() && b.is_zero() {
        // -0 + -0 is -0; any other sum of zeros is +0.
        return LongDouble::zero(a.negative && b.negative);
    }
    if a.is_zero() {
        return b;
    }
    if b.is_zero() {
        return a;
    }
    let low = ea.min(eb);
    let x = Big::from_u128(u128::from(ma)).shl((ea - low) as u64);
    let y = Big::from_u128(u128::from(mb)).shl((eb - low) as u64);
    if a.negative == b.negative {
        return round(a.negative, &x.add(&y), low, false);
    }
    match x.cmp(&y) {
        // x - x is +0 when rounding to nearest.
        Ordering::Equal => LongDouble::zero(false),
        Ordering::Greater => round(a.negative, &x.sub(&y), low, false),
        Ordering::Less => round(b.negative, &y.sub(&x), low, false),
    }
}

/// Formats as Redis's "human" long double mode does: `%.17Lf` (the exact binary value rounded to
/// 17 fractional digits, ties to even), then trailing zeros and a trailing point dropped, and
/// `-0` printed as `0`. Infinities print as `inf` / `-inf` (Redis never stores them).
pub(crate) fn format_human(value: LongDouble) -> String {
    let (mantissa, exponent) = match value.kind {
        Kind::Nan => return "nan".to_string(),
        Kind::Infinite if value.negative => return "-inf".to_string(),
        Kind::Infinite => return "inf".to_string(),
        Kind::Finite { mantissa, exponent } => (mantissa, exponent),
    };
    let mut out = String::new();
    if value.negative {
        out.push('-');
    }
    if exponent >= 0 {
        // An integer: the 17 fractional digits are zeros, all dropped.
        let n = Big::from_u128(u128::from(mantissa)).shl(exponent as u64);
        out.push_str(&n.to_decimal());
    } else {
        const SCALE: u128 = 100_000_000_000_000_000;
        // mantissa * 10^17 < 2^121; below 2^-127 every value rounds to 0.
        let bits = exponent.unsigned_abs();
        let scaled = u128::from(mantissa) * SCALE;
        let rounded = if bits >= 127 {
            0
        } else {
            let q = scaled >> bits;
            let rest = scaled & ((1 << bits) - 1);
            let half = 1 << (bits - 1);
            if rest > half || (rest == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        };
        let fraction = format!("{:017}", rounded % SCALE);
        out.push_str(&(rounded / SCALE).to_string());
        let fraction = fraction.trim_end_matches('0');
        if !fraction.is_empty() {
            out.push('.');
            out.push_str(fraction);
        }
    }
    if out == "-0" {
        out.remove(0);
    }
    out
}

/// `num / den` for a quotient known to be below `2^bits` (at most 128): the quotient and whether
/// a remainder was left.
fn divide(num: &Big, den: &Big, bits: u32) -> (u128, bool) {
    debug_assert!(num.cmp(&den.shl(u64::from(bits))) == Ordering::Less);
    let mut rest = num.clone();
    let mut step = den.shl(u64::from(bits - 1));
    let mut quotient = 0u128;
    for i in (0..bits).rev() {
        if rest.cmp(&step) != Ordering::Less {
            rest = rest.sub(&step);
            quotient |= 1 << i;
        }
        step.shr1();
    }
    (quotient, !rest.is_zero())
}

/// A non-negative big integer: little-endian 32-bit limbs, without high zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big(limbs)
    }

    /// From digit values in `radix` (10 or 16), most significant first.
    fn from_digits(digits: &[u8], radix: u32) -> Big {
        let per_chunk = if radix == 10 { 9 } else { 7 };
        let mut n = Big(Vec::new());
        for chunk in digits.chunks(per_chunk) {
            let mut factor = 1u32;
            let mut value = 0u32;
            for &d in chunk {
                factor *= radix;
                value = value * radix + u32::from(d);
            }
            n.mul_add_small(factor, value);
        }
        n
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => 32 * self.0.len() as u64 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        limb < self.0.len() && self.0[limb] >> (i % 32) & 1 == 1
    }

    /// Whether any of the bits below `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = ((i / 32) as usize).min(self.0.len());
        if self.0[..whole].iter().any(|&l| l != 0) {
            return true;
        }
        let partial = i % 32;
        whole < self.0.len() && partial != 0 && self.0[whole] & ((1 << partial) - 1) != 0
    }

    /// The 128 bits starting at bit `start`.
    fn bits_from(&self, start: u64) -> u128 {
        let first = (start / 32) as usize;
        let offset = (start % 32) as i64;
        let mut out = 0u128;
        for (k, &limb) in self.0.iter().skip(first).take(5).enumerate() {
            let at = 32 * k as i64 - offset;
            if at < 0 {
                out |= u128::from(limb >> offset);
            } else if at < 128 {
                out |= u128::from(limb) << at;
            }
        }
        out
    }

    fn clear_bit(&mut self, i: u64) {
        if let Some(limb) = self.0.get_mut((i / 32) as usize) {
            *limb &= !(1 << (i % 32));
        }
        self.trim();
    }

    fn mul_add_small(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(factor) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_pow5(&mut self, mut k: u64) {
        // 5^13 is the largest power of 5 below 2^32.
        while k > 0 {
            let step = k.min(13);
            self.mul_add_small(5u32.pow(step as u32), 0);
            k -= step;
        }
    }

    fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return Big(Vec::new());
        }
        let limbs = (bits / 32) as usize;
        let rest = (bits % 32) as u32;
        let mut out = vec![0u32; limbs];
        if rest == 0 {
            out.extend_from_slice(&self.0);
        } else {
            let mut carry = 0u32;
            for &l in &self.0 {
                out.push(l << rest | carry);
                carry = l >> (32 - rest);
            }
            out.push(carry);
        }
        let mut out = Big(out);
        out.trim();
        out
    }

    fn shr1(&mut self) {
        let mut carry = 0u32;
        for limb in self.0.iter_mut().rev() {
            let next = *limb & 1;
            *limb = *limb >> 1 | carry << 31;
            carry = next;
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let (long, short) = if self.0.len() >= other.0.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = Vec::with_capacity(long.0.len() + 1);
        let mut carry = 0u64;
        for (i, &l) in long.0.iter().enumerate() {
            let v = u64::from(l) + u64::from(short.0.get(i).copied().unwrap_or(0)) + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry != 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut v = i64::from(l) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        debug_assert_eq!(borrow, 0);
        let mut out = Big(out);
        out.trim();
        out
    }

    /// Divides in place, returning the remainder.
    fn div_small(&mut self, divisor: u32) -> u32 {
        let mut rest = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = rest << 32 | u64::from(*limb);
            *limb = (v / u64::from(divisor)) as u32;
            rest = v % u64::from(divisor);
        }
        self.trim();
        rest as u32
    }

    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut out = match chunks.pop() {
            None => return "0".to_string(),
            Some(top) => top.to_string(),
        };
        for chunk in chunks.iter().rev() {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What INCRBYFLOAT replies: the new value, or the error text.
    fn reply(stored: &str, increment: &str) -> String {
        let (Some(a), Some(b)) = (parse(stored.as_bytes()), parse(increment.as_bytes())) else {
            return "ERR value is not a valid float".to_string();
        };
        let sum = add(a, b);
        if !sum.is_finite() {
            return "ERR increment would produce NaN or Infinity".to_string();
        }
        format_human(sum)
    }

    fn check(table: &[(&str, &str, &str)]) {
        for &(stored, increment, expected) in table {
            assert_eq!(
                reply(stored, increment),
                expected,
                "{stored:?} + {increment:?}"
            );
            // Addition commutes, and the stored value is parsed like the increment.
            assert_eq!(
                reply(increment, stored),
                expected,
                "{increment:?} + {stored:?}"
            );
        }
    }

    #[test]
    fn matches_redis_on_chosen_cases() {
        check(CURATED);
    }

    #[test]
    fn matches_redis_on_random_cases() {
        check(RANDOM);
    }

    #[test]
    fn matches_redis_on_ties_and_range_edges() {
        check(ADVERSARIAL);
    }

    #[test]
    fn prints_the_whole_integer_part_of_huge_values() {
        let max = Big::from_u128(u128::from(u64::MAX)).shl(16320).to_decimal();
        assert_eq!(max, MAX_TEXT);
        // (2^65 - 1) * 2^16319 lies halfway between the largest value and 2^16384: it rounds to
        // even, which overflows; anything below it rounds to the largest value.
        let tie = Big::from_u128((1 << 65) - 1).shl(16319);
        let below = tie.sub(&Big::from_u128(1)).to_decimal();
        let tie = tie.to_decimal();
        let negative_max = format!("-{MAX_TEXT}");
        check(&[
            ("0", MAX_TEXT, MAX_TEXT),
            ("0", &below, MAX_TEXT),
            ("0", &tie, "ERR value is not a valid float"),
            ("0", "0x1.fffffffffffffffep16383", MAX_TEXT),
            ("-0x1.fffffffffffffffep16383", "0", &negative_max),
            (
                MAX_TEXT,
                MAX_TEXT,
                "ERR increment would produce NaN or Infinity",
            ),
            (MAX_TEXT, &negative_max, "0"),
            ("0", "1e4000", E4000_TEXT),
        ]);
    }

    #[test]
    fn rejects_texts_of_5120_bytes_or_more() {
        let fits = format!("{}1", "0".repeat(5118));
        let too_long = format!("{}1", "0".repeat(5119));
        check(&[
            ("1", &fits, "2"),
            ("1", &too_long, "ERR value is not a valid float"),
        ]);
    }

    #[test]
    fn parses_into_the_x87_format() {
        let finite = |text: &str| match parse(text.as_bytes()).map(|v| (v.negative, v.kind)) {
            Some((negative, Kind::Finite { mantissa, exponent })) => (negative, mantissa, exponent),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(finite("1"), (false, 1 << 63, -63));
        assert_eq!(finite("-0.75"), (true, 3 << 62, -64));
        assert_eq!(finite("-0"), (true, 0, EXP_MIN));
        // The smallest subnormal and the smallest normal number.
        assert_eq!(finite("0x1p-16445"), (false, 1, EXP_MIN));
        assert_eq!(finite("0x1p-16382"), (false, 1 << 63, EXP_MIN));
        assert_eq!(
            finite("0x1.fffffffffffffffep16383"),
            (false, u64::MAX, EXP_MAX)
        );
        // 0.1 is 0xc.ccccccccccccccdp-7 in long double (rounded up).
        assert_eq!(finite("0.1"), (false, 0xcccc_cccc_cccc_cccd, -67));
        assert_eq!(parse(b"-inf"), Some(LongDouble::infinite(true)));
    }

    /// Hand-picked cases, `(stored, increment, reply)`: the reply (new value or error) is
    /// redis-server 7.0.15's.
    #[rustfmt::skip]
    pub(crate) const CURATED: &[(&str, &str, &str)] = &[
        ("0", "1", "1"),
        ("5", "-5", "0"),
        ("10", "20", "30"),
        ("-7", "3", "-4"),
        ("100", "-250", "-150"),
        ("9223372036854775807", "1", "9223372036854775808"),
        ("-9223372036854775808", "-1", "-9223372036854775809"),
        ("18446744073709551615", "1", "18446744073709551616"),
        ("18446744073709551616", "1", "18446744073709551616"),
        ("18446744073709551616", "3", "18446744073709551620"),
        ("18446744073709551617", "0", "18446744073709551616"),
        ("18446744073709551619", "0", "18446744073709551620"),
        ("18446744073709551617.0000000000000000000001", "0", "18446744073709551618"),
        ("36893488147419103231", "0", "36893488147419103232"),
        ("0.1", "0.2", "0.3"),
        ("10.5", "0.1", "10.6"),
        ("0.1", "0.7", "0.8"),
        ("1.1", "2.2", "3.3"),
        ("0.3", "-0.1", "0.2"),
        ("3.0e3", "200", "3200"),
        ("0", "123456.789", "123456.78900000000000148"),
        ("123456.789", "0", "123456.78900000000000148"),
        ("1", "0.1", "1.1"),
        ("0.1", "0.1", "0.2"),
        ("1.23", "4.56", "5.79"),
        ("99.99", "0.01", "100"),
        ("3.14159265358979323846", "0", "3.14159265358979324"),
        ("2.718281828459045", "1", "3.718281828459045"),
        ("1000000.1", "-0.1", "1000000"),
        ("0.3", "0.6", "0.9"),
        ("-1.5", "0.25", "-1.25"),
        ("-123456.789", "0", "-123456.78900000000000148"),
        ("1", "-2.5", "-1.5"),
        ("-0.1", "-0.2", "-0.3"),
        ("-1e10", "1", "-9999999999"),
        ("5", "-5.5", "-0.5"),
        ("-0", "0", "0"),
        ("-0", "-0", "0"),
        ("0", "-0", "0"),
        ("-1e-20", "0", "0"),
        ("0", "-1e-20", "0"),
        ("-0.000000000000000005", "0", "0"),
        ("-0.000000000000000015", "0", "-0.00000000000000002"),
        ("1", "-1", "0"),
        ("-0.0", "0.0", "0"),
        ("-0.0", "-0.0", "0"),
        ("0.1", "-0.1", "0"),
        ("0", "1e17", "100000000000000000"),
        ("0", "1e20", "100000000000000000000"),
        ("1e20", "1", "100000000000000000000"),
        ("1e17", "0.5", "100000000000000000.5"),
        ("1e17", "1", "100000000000000001"),
        ("0", "1e300", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
        ("1e300", "-1e300", "0"),
        ("0", "-1e300", "-1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
        ("1e300", "1", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
        ("1e4932", "-1e4932", "0"),
        ("1.18e4932", "1.18e4932", "ERR increment would produce NaN or Infinity"),
        ("0", "1.19e4932", "ERR value is not a valid float"),
        ("1e308", "1e308", "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"),
        ("12345678901234567890123456789", "0", "12345678901234567890421678080"),
        ("1.5e30", "-1", "1500000000000000000002684354560"),
        ("1", "1e-20", "1"),
        ("0", "1e-20", "0"),
        ("0", "5e-324", "0"),
        ("0", "2.2250738585072014e-308", "0"),
        ("1", "1e-4940", "1"),
        ("0", "1e-4940", "0"),
        ("0", "3.6e-4951", "0"),
        ("0", "1.9e-4951", "0"),
        ("0", "1.8e-4951", "ERR value is not a valid float"),
        ("0", "1e-4951", "ERR value is not a valid float"),
        ("1", "1e-5000", "ERR value is not a valid float"),
        ("0", "0x1p-16445", "0"),
        ("0", "0x1p-16446", "ERR value is not a valid float"),
        ("0", "0x1.0000000000000001p-16446", "ERR value is not a valid float"),
        ("0", "1e-17", "0.00000000000000001"),
        ("0", "5e-18", "0"),
        ("0", "6e-18", "0.00000000000000001"),
        ("1e-17", "1e-17", "0.00000000000000002"),
        ("0", "0.000000000000000015", "0.00000000000000002"),
        ("0", "0.000000000000000025", "0.00000000000000002"),
        ("0", "0.000000000000000005", "0"),
        ("1", "3.814697265625e-06", "1.00000381469726562"),
        ("0", "0.000003814697265625", "0.00000381469726562"),
        ("0", "0.000011444091796875", "0.00001144409179688"),
        ("0", "0.999999999999999999", "1"),
        ("0", "9.9999999999999999999", "10"),
        ("0", "0.99999999999999999", "0.99999999999999999"),
        ("0", "-0.999999999999999999", "-1"),
        ("0.5", "0.000000000000000005", "0.5"),
        (".5", "1", "1.5"),
        ("5.", "1", "6"),
        ("1E5", "1", "100001"),
        ("+1.5", "1", "2.5"),
        ("1", "+1.5", "2.5"),
        ("00012", "1", "13"),
        ("1.e5", "1", "100001"),
        ("1e+2", "1", "101"),
        ("1e-2", "1", "1.01"),
        ("1e0005", "0", "100000"),
        ("-.5", "0", "-0.5"),
        ("+.5e1", "0", "5"),
        ("0x1p3", "1", "9"),
        ("0x.8", "1", "1.5"),
        ("0X1P3", "1", "9"),
        ("0x1.8p1", "0", "3"),
        ("-0x1p-2", "0", "-0.25"),
        ("0x1.", "1", "2"),
        ("0x1p+2", "1", "5"),
        ("0xA", "0", "10"),
        ("0xfffffffffffffffff", "0", "295147905179352825856"),
        ("0e99999", "1", "1"),
        ("0e99999999999999999999", "1", "1"),
        ("0x0p99999999999", "1", "1"),
        ("1", "inf", "ERR increment would produce NaN or Infinity"),
        ("1", "-inf", "ERR increment would produce NaN or Infinity"),
        ("inf", "0", "ERR increment would produce NaN or Infinity"),
        ("-inf", "1", "ERR increment would produce NaN or Infinity"),
        ("INFINITY", "1", "ERR increment would produce NaN or Infinity"),
        ("inf", "-inf", "ERR increment would produce NaN or Infinity"),
        ("+Inf", "0", "ERR increment would produce NaN or Infinity"),
        ("1", "-Infinity", "ERR increment would produce NaN or Infinity"),
        ("abc", "1", "ERR value is not a valid float"),
        ("1", "abc", "ERR value is not a valid float"),
        ("abc", "abc", "ERR value is not a valid float"),
        ("nan", "1", "ERR value is not a valid float"),
        ("1", "nan", "ERR value is not a valid float"),
        ("1", "-nan", "ERR value is not a valid float"),
        ("1", "nan(1)", "ERR value is not a valid float"),
        ("1", " 1", "ERR value is not a valid float"),
        ("1", "1 ", "ERR value is not a valid float"),
        (" 1", "1", "ERR value is not a valid float"),
        ("1", "", "ERR value is not a valid float"),
        ("1", "1e", "ERR value is not a valid float"),
        ("1", "1e+", "ERR value is not a valid float"),
        ("1", ".", "ERR value is not a valid float"),
        ("1", "+", "ERR value is not a valid float"),
        ("1", "-", "ERR value is not a valid float"),
        ("1", ".e5", "ERR value is not a valid float"),
        ("1", "0x", "ERR value is not a valid float"),
        ("1", "0x1p", "ERR value is not a valid float"),
        ("1", "0x.p1", "ERR value is not a valid float"),
        ("1", "1e5000", "ERR value is not a valid float"),
        ("1", "1e99999999999999999999", "ERR value is not a valid float"),
        ("1", "1e-99999999999999999999", "ERR value is not a valid float"),
        ("1", "infinit", "ERR value is not a valid float"),
        ("1", "infx", "ERR value is not a valid float"),
        ("1", "1\x002", "ERR value is not a valid float"),
        ("1", "--1", "ERR value is not a valid float"),
        ("1", "+-1", "ERR value is not a valid float"),
        ("1", "1_0", "ERR value is not a valid float"),
        ("1", "\t1", "ERR value is not a valid float"),
        ("1", "1\n", "ERR value is not a valid float"),
        ("1", "1.5.5", "ERR value is not a valid float"),
        ("1", "1e5.5", "ERR value is not a valid float"),
        ("1", "0x1p16384", "ERR value is not a valid float"),
        ("1", "0x1.ffffffffffffffffp16383", "ERR value is not a valid float"),
        ("1", "1,5", "ERR value is not a valid float"),
        ("1", "١", "ERR value is not a valid float"),
        ("1", "0x-1", "ERR value is not a valid float"),
        ("0", "0x1.00000000000000008p-16446", "0"),
        ("0", "0x1.0000000000000002p-16446", "0"),
        ("0", "-0x2.0000000000000002p-16447", "ERR value is not a valid float"),
        ("0", "0x1.1p-16446", "0"),
        ("0", "0x1.00000000000000011p100", "1267650600228229401634142158848"),
        ("0", "0x1.00000000000000008p100", "1267650600228229401496703205376"),
    ];

    /// 200 of 2000 seeded random pairs (integers, decimals, exponents up to ±4950, `.5` / `5.` forms,
    /// dyadic fractions that tie in the 17th digit, hex floats, near-cancellations) and redis-server
    /// 7.0.15's replies.
    #[rustfmt::skip]
    pub(crate) const RANDOM: &[(&str, &str, &str)] = &[
        ("-8786203.63144429481733", "46479.98", "-8739723.65144429481733823"),
        ("315112483.08239182", "1.29198e36", "1291980000000000000021145622941794304"),
        ("-0x5.eea043p16", "0x5.eea043p16", "0"),
        ("-9.7113", "9.71131", "0.00001"),
        ("642.9", "+2.8508076566112594e37", "28508076566112594000714081258619011072"),
        ("+3.700169e-40", "+521672779.40702999759176", "521672779.40702999758650549"),
        ("1088.4469", "26665.1481718742806074963956", "27753.59507187428060604"),
        ("-10186462", "+1.742317858676e-30", "-10186462"),
        ("+7822146919942263071886544131708614757967.809226993997393081", "+9.93788152718416e0", "7822146919942263071753273845405622206464"),
        ("3.858033018475291062311e-110", "1589087407315.81173706054687500", "1589087407315.811737060546875"),
        ("93398051607", "31", "93398051638"),
        ("5.8934445004983770025E1", "51.770137843123193", "110.70458284810696303"),
        ("44.24433238018", "0.0000000000003710053098071597332818782888352870941162109375", "44.244332380180371"),
        ("72145.04148187038627", "4.27202551860259590219e-4273", "72145.04148187038627071"),
        ("-3.5091869754478376E-38", "+2.85675339932668341100651e-3447", "0"),
        ("7.8376E-25", "-7.8376E-25", "0"),
        ("0.9322436", "+.3372", "1.2694436"),
        ("4.3122e-2863", "1234.5532122548", "1234.55321225480000003"),
        ("-1.38965299547e-23", "14.59132", "14.59132"),
        ("98917.1356", "53320844", "53419761.13560000000143191"),
        ("8.24881993455E-13", "3143618094858893787", "3143618094858893787"),
        ("9.2083524072e16", "5524657048607385192551511425486.3857771358", "5524657048607477276368344973312"),
        ("0xc.1fb8be7b8p15", "-0xc.1fb8be7b8p15", "0"),
        ("81011888.87", "-81011888.871", "-0.00099999999656575"),
        ("+440431091.3708038926124572753906250", "7.4167399", "440431098.7875437926268205"),
        ("-.7343", "0x4.959282p-30", "-0.73429999573056886"),
        ("0xd.5dfbcp146", "-0xd.5dfbcp146", "0"),
        ("2.7433e-7", "85084151133036", "85084151133036"),
        ("92008763738037801738", "530863382.30598757128", "92008763738568665120"),
        ("-9.7539220566623482E23", "814413.", "-975392205666234819215360"),
        ("0.0000000000000799360577730112709105014801025390625", "9.4926641e5", "949266.41000000000008185"),
        ("-83.261", "-988", "-1071.26100000000000001"),
        ("1.75966614960", "428", "429.75966614960000001"),
        ("-5740", "2.6985e4", "21245"),
        ("-783129999", "9.435020038762941826580e20", "943502003875511052672"),
        ("4.56e28", "1.0576375e-24", "45599999999999999999463129088"),
        ("1.344209403484229284E-21", "3592609653714632", "3592609653714632"),
        ("0x9.9068ad6c1bap95", "0xd.e667dbfd1c49p159", "10157452651533162495358426125070741511270658211840"),
        ("7979371495735", "+0.9", "7979371495735.90000009536743164"),
        ("+3766498038.761124187037597035718", "0.01462454094144050031900405883789062500000", "3766498038.77574872807599604"),
        ("3.53622717103470170e16", "-748142300794040", "34614129409552977"),
        ("+479949378721100", "154", "479949378721254"),
        ("7.1932215737E-9", "-24", "-23.99999999280677843"),
        ("+16.1603392", "0xa.fdeafc22ap70", "12976905881528641257472"),
        ("4064334.9549235", "105974809926", "105978874260.95492350310087204"),
        ("-1.61070175174", "1.610701751741", "0.000000000001"),
        ("2.844E37", "-2.844E37", "0"),
        ("72034.801587401668282627389", "4.74171334863446129233E40", "47417133486344612921856811702391287054336"),
        ("+453.736", "-8.039416105969703694E12", "-8039416105515.96769380569458008"),
        ("+50.2851864", "-50.28518641", "-0.00000001"),
        ("860661503785875611", "14246492196202", "860675750278071813"),
        ("375.1772102113803457605", "9.677E5", "968075.17721021138032711"),
        ("-6.0367350568737672E9", "7E-19", "-6036735056.87376719992607832"),
        ("85973.", "0xc.6c9a76634b4ap105", "503986721218045830171755785748480"),
        ("+97.81844", "+8.828E-34", "97.81844"),
        ("1.446209135972529689", "1.235137275822e14", "123513727582201.4462127685546875"),
        (".0765", "2293695786.26475908569271557", "2293695786.34125908557325602"),
        ("-3.04929337897685689183772e2373", "3.04929337897685689183772e2373", "0"),
        ("-1.239616432", "1.8e-2481", "-1.239616432"),
        ("-2.398424717990E31", "2.398424717990E31", "0"),
        ("5.37195339898", "+.5158", "5.88775339898"),
        ("7.94269171216338054629674E-23", "+18.254484045281027746809", "18.25448404528102775"),
        ("04146414110341582253144479531140.6503710851720", "4.655291866548E7", "4146414110341582253240226938880"),
        ("5.48213E25", "7.94690635567984310134E33", "7946906410501143101375390404313088"),
        (".31", "6.3e-3301", "0.31"),
        ("922721893.66832", "7.0639307922411679E35", "706393079224116790009080900237656064"),
        ("-578751.682875014218690465", "653", "-578098.68287501421866637"),
        ("+9.968472413213e-283", "9e0", "9"),
        ("-2074.6538729", "7.20297e-32", "-2074.65387290000000009"),
        ("0x0.7p-1", "3.6836441363705e-2", "0.255586441363705"),
        ("8105027676.88462", "5.03134228810E30", "5031342288100000000067560800256"),
        ("0.80086798806125739585", "6.72E-17", "0.80086798806125746"),
        ("992794206.6865541876318", "5629395750", "6622189956.68655418744310737"),
        ("0.000003814697265625", "338043764.07458265161649", "338043764.07458646630402654"),
        ("+1689753873.5787", "3.7429124418433168954e28", "37429124418433168956773629952"),
        ("100.59189696", "32174.", "32274.59189695999999969"),
        ("971.29881176686430236322", "-10.46327575410", "960.83553601276430239"),
        ("+2291527742.338", "53586129798916941332.79452168110837993407819367508907000161", "53586129801208469076"),
        ("04257904486187921383.86512538379233874061010235380", "-104", "4257904486187921279.75"),
        ("+1598.754256603783780161", "8511881835.3459355865034630795", "8511883434.10019219014793634"),
        ("320812597.13238005", "+1.84171490605e9", "2162527503.18238004995509982"),
        ("550997.", "3.8e-15", "550997"),
        ("0x4.5a101p50", "4271.090693", "4899699765022895.0908203125"),
        ("-4.4690102113738488e4", "0.046882087964865061", "-44690.05523165052313672"),
        ("2.1766954E10", "-3.31E5", "21766623000"),
        ("13.607727050781250", ".992", "14.59972705078125"),
        ("972182.5482206", "792", "972974.54822059999997919"),
        ("301", "7273033.72847382219301", "7273334.72847382219288193"),
        ("-788403009400985570577146.433307724052", "788403009400985570577146.4333077240521", "0"),
        ("0xe.eb7fe392ep-163", "3.86498825784676e27", "3864988257846759999884230656"),
        ("+6.7860E11", "2413397827.248026126059223855", "681013397827.24802613258361816"),
        ("77494412575462240307571859820530398361803.34448991", "214", "77494412575462240306644739230509891059712"),
        ("550775.7978881885006726", "77.", "550852.79788818850067855"),
        ("5.7147336838408036372e-2965", "+0x4.71e58bf0f9d10a62ap-22", "0.00000105974885317"),
        ("90.719", "5.", "95.719"),
        ("67908470941005", "-4.74669479824744615E-24", "67908470941005"),
        ("-2.4", "+9.70107350e-27", "-2.4"),
        ("-6791103788.998205", "1.7141045946242951223", "-6791103787.28410040540620685"),
        ("1847598.3037", "-1847598.30371", "-0.00000999999997475"),
        ("5.2422e-17", "9840.31249962834123", "9840.31249962834122957"),
        ("158903614", "5.4460889425E-33", "158903614"),
        ("8", "163", "171"),
        ("54248.3016745783388614654541015625000", "+1.828129587513598838", "54250.12980416585245891"),
        ("0x3.c9d8c588p-90", "+730264153.6639814", "730264153.66398140002274886"),
        ("8.755162167129", "-8.7551621671291", "-0.0000000000001"),
        ("-94690.611275337470704", "94690.6112753374707041", "0"),
        ("+5.960348207710188384868067E40", "6.39635030461586514819E6", "59603482077101883846957735701227927240704"),
        ("0x5.fefa6a4b99p20", "-0x5.fefa6a4b99p20", "0"),
        ("64723334.59", "-64723334.591", "-0.00100000000020373"),
        ("64332089.253821486179947895287", "0.93291401139", "64332090.18673549757295405"),
        ("+.161544", "-817197619.8547", "-817197619.69315600005211309"),
        ("-.3282", "9", "8.6718"),
        ("0x3.fp-48", "-545262.6767762", "-545262.67677620000000616"),
        ("723757701840702", "789", "723757701841491"),
        ("0x0.e1c85f874f7ebp-166", "-1.9472384319699698442E-34", "0"),
        ("-1969923618.97392471891553306914", "-.720984", "-1969923619.6949087189277634"),
        ("+36639543209441011691", "7.077329433281e38", "707732943328100000007251544691940786176"),
        ("5.66879540961085386538259E-34", "848.5477800572", "848.5477800572"),
        ("814.0871139", "-5.23323872401009181E-6", "814.08710866676127599"),
        ("0.001739852237281791502709893393330276012420654296875", "0.0000000047216417442541569471359252929687500", "0.00173985695892354"),
        ("4.2666536E-5", "-696", "-695.99995733346400001"),
        ("656856296717796437318183019056356594307.804292095", "0x5.a238p97", "656856297610486605338021522635839504384"),
        ("+5.6e21", "3927541.10464983916096893145", "5600000000000003927552"),
        ("52728660943530711", "7.78e-887", "52728660943530711"),
        ("0xc.81p74", "957335.6717110188060027013307", "236192111119777099841536"),
        (".357388", "9291048026911492", "9291048026911492.357421875"),
        ("62059822.895422", "7.84952022924", "62059830.74494222924113274"),
        ("5.6898e37", "8", "56897999999999999998933732570146275328"),
        ("3090817", "+5.029023287E13", "50290235960817"),
        ("0x3.p-2", "234697.42766320705413818359375", "234698.17766320705413818"),
        ("7.67156690244254", "-2.89683590525957e39", "-2896835905259570000017012789108822507520"),
        ("42216258018417604052030070557149049.201333073658", "1.2146346240820927", "42216258018417604053917233993220096"),
        ("0xf.59b78d4a723cfp-83", "-90505394702724", "-90505394702724"),
        ("5544713831", "1.2673268597638447e-343", "5544713831"),
        ("-16994656769510030331329.51593994210887152", "4.1792901E3", "-16994656769510030326784"),
        ("79980060405077", "06.", "79980060405083"),
        ("67.028477549809525", "0.522094721", "67.550572270809525"),
        ("-348951537392", "+2.073489184710432782412872E-32", "-348951537392"),
        ("19", "3.92341861380E19", "39234186138000000020"),
        ("0.000000001862645149230957031250", ".331", "0.33100000186264515"),
        ("7.2706696308315188E34", "897", "72706696308315187998895296556826624"),
        ("5.878976753e-1226", "-50145235.519656546413898468017578125", "-50145235.51965654641389847"),
        ("645499787036", "7697740.39175415409", "645507484776.391754150390625"),
        ("-2.604564056829384094687933e0", "9.237613e15", "9237612999999997.3955078125"),
        ("+569.49921455858704", "427.1514120205", "996.65062657908704002"),
        ("30545312648825412736182074888055104396040887390351.44", "283273231.0", "30545312648825412736884694074345202549890926772224"),
        ("66.157", "60", "126.157"),
        ("1100780312", "8438956785.71984569979534", "9539737097.71984569914638996"),
        ("66", "32567.0190197", "32633.01901969999999942"),
        ("8.76837818772700350941021E-38", "2.569262475083908105E11", "256926247508.39081050455570221"),
        ("43.9100176475810172142", "+2.0876802e-3944", "43.91001764758101721"),
        ("2.4548145E-17", "+1.416997507021", "1.41699750702100002"),
        ("41515.7626078454", "-720992526345845665", "-720992526345804149.25"),
        ("+357.729822303491334414", "0.534866800973905152435", "358.26468910446523958"),
        ("9.582635431416731033267192e3957", "-9.582635431416731033267192e3957", "0"),
        ("-4.86520164379e-1", "90380447.824179031", "90380447.33765886662149569"),
        ("0x4.9f3a2ba3cdp-61", "-0x4.9f3a2ba3cdp-61", "0"),
        ("0.0001171118346974253654479980468750", "-0.00011711183469742536544799804687501", "0"),
        ("2.967950623E-25", "480401.", "480401"),
        ("40747883.392651807628", "0x7.437p-86", "40747883.39265180762959062"),
        ("1186581917", "-71", "1186581846"),
        ("1.4610903744620088", "0xa.2a5b3260536a2dp-59", "1.46109037446200882"),
        ("4.3871673453924e-1431", "-4.3871673453924e-1431", "0"),
        ("26429241.6515330186741864", "+2752284", "29181525.65153301867394475"),
        ("7729402859500508876", "729418490966", "7729403588918999842"),
        (".9516", "-.95161", "-0.00001"),
        ("4.02975083948887e-2671", "+446228460.207293883703916", "446228460.20729388369363733"),
        ("69423062149918668555946.44315544", "-69423062149918668555946.443155441", "0"),
        ("71", "+9.4449129e-9", "71.0000000094449129"),
        ("480.3", "185281660579096150", "185281660579096630.296875"),
        ("8907577.6007019", "7.2286821678434709353e-38", "8907577.60070189999987633"),
        ("1.990883E-23", "-8273763.93632793426513671875000000", "-8273763.93632793426513672"),
        ("2998667.09", "48", "2998715.08999999999991815"),
        (".878", "-.8781", "-0.0001"),
        ("995476693", "946.0399414275862538607109", "995477639.03994142758892849"),
        ("6.289169491846551E-13", "8.1125529728341e1", "81.12552972834162891"),
        ("0x6.p55", "28412039395739178822790308730724.0598852763363", "28412039395739394996517388419072"),
        ("9.697854685e-641", "524210943.465530", "524210943.46552999998675659"),
        ("0.29333", "1.8694245542840913285518", "2.16275455428409133"),
        ("782692250.9937369357", "-151", "782692099.99373693572124466"),
        ("517503083480693", "0x8.0411e8f66e378cp34", "517640795564622.722137451171875"),
        ("0.72028861282", "10.2690", "10.98928861282"),
        ("+244765871.7420913049697120705", "-9.77486e-37", "244765871.74209130497183651"),
        ("+96823.963073304990", "6.7673e-30", "96823.96307330498999733"),
        ("513209.17103", "634", "513843.17103000000000179"),
        ("47908378664065372", "-1.30663688492909647", "47908378664065370.6953125"),
        ("32.43607330322265625", "-249507.2500", "-249474.81392669677734375"),
        ("64254.7755", "6899791661.1370946488647359528", "6899855915.91259464900940657"),
        ("+774490069.936587023006", "6.179255e34", "61792549999999999998239740134424576"),
        ("-6.206872981112E-18", "948403310", "948403310"),
        ("4577696326.610508967914119", "4.10035396361551E7", "4618699866.24666406819596887"),
        ("479688928130709", "-9.", "479688928130700"),
        ("6788.1847", "6.321954373637e4", "70007.72843637000000427"),
        ("0x2.bc823030adcb93a75p11", "4249669850800", "4249669856404.06838250160217285"),
        ("520802.645031", "67152553171979", "67152553692781.64503097534179688"),
        ("739638", "-.04", "739637.95999999999997954"),
        ("0x2.0d7989be48301p-71", "897111", "897111"),
        ("5072783.5211115771386", "264895781.70388610068593", "269968565.22499767784029245"),
        ("9e-2381", "150355714.86816406250000000000", "150355714.8681640625"),
        ("-0xa.c925ep101", "+1.40500e-2690", "-27345084805828852442531599745024"),
    ];

    /// Rounding ties of integers near 2^62..2^130 and sums of them, long digit strings, the edges
    /// of the range, and hexadecimal input (long, near ties, near zero), with redis-server
    /// 7.0.15's replies.
    #[rustfmt::skip]
    pub(crate) const ADVERSARIAL: &[(&str, &str, &str)] = &[
        ("-302231454903657293671288.9", "4", "-302231454903657293676544"),
        ("10141204801825835209992260282995.5", "0.5", "10141204801825835209774602387456"),
        ("10141204801825835211077084062921.5", "5", "10141204801825835210874114015232"),
        ("81129638414606681699023760564342", "0", "81129638414606681695789005144064"),
        ("-590295810358705651794.9", "128", "-590295810358705651648"),
        ("39614081257132168803321153314.0000000000000000000001", "3", "39614081257132168805361909760"),
        ("158456325028528675167197364026", "16384", "158456325028528675169908031488"),
        ("4722366482869645214612", "-256", "4722366482869645214720"),
        ("-4951760157141521099168966386.5", "0.5", "-4951760157141521099059625984"),
        ("309485009821345068744986032", "0", "309485009821345068758335488"),
        ("-4951760157141521099178800728.4999999999999999999999", "0.5", "-4951760157141521099059625984"),
        ("-19807040628566084395977774647", "-0.5", "-19807040628566084396238503936"),
        ("-79228162514264337606920881250.5", "8388608", "-79228162514264337610723819520"),
        ("41538374868278621032169087995411339", "1.5", "41538374868278621032747570261131264"),
        ("170141183460469231745594882628079736821.9", "-0.5", "170141183460469231750134047789593657344"),
        ("151115727451828646808654.4999999999999999999999", "-32768", "151115727451828646772736"),
        ("147573952589676412905.0000000000000000000001", "1.5", "147573952589676412904"),
        ("41538374868278621029364241773936195.9", "1.5", "41538374868278621028243970633760768"),
        ("83076749736557242059839756486364081.5", "-2", "83076749736557242056487941267521536"),
        ("19807040628566084401508355288.9", "0.5", "19807040628566084400533471232"),
        ("-42535295865117307935687522162160168978.5", "-4398046511104", "-42535295865117307937533511947398414336"),
        ("5316911983139663490792333370197657996.0000000000000000000001", "0.5", "5316911983139663490750537112666243072"),
        ("-340282366920938463476642665621419782351.9", "0.5", "-340282366920938463463374607431768211456"),
        ("19807040628566084399633820021.0000000000000000000001", "0.5", "19807040628566084400533471232"),
        ("-18446744073709551616", "2", "-18446744073709551614"),
        ("1267650600228229401438553454704.5", "4", "1267650600228229401427983728640"),
        ("324518553658426726813634464977106.4999999999999999999999", "0.5", "324518553658426726818340392665088"),
        ("5070602400912917606635429597229.0000000000000000000001", "-0.5", "5070602400912917606536568635392"),
        ("-332306998946228968206937891498341788.0000000000000000000001", "0.5", "-332306998946228968207937366560604160"),
        ("1361129467683753853773583281015175049648.9", "1.5", "1361129467683753853779711453432234639360"),
        ("79228162514264337593171498941.0000000000000000000001", "0.5", "79228162514264337593543950336"),
        ("-4722366482869645212688.9", "-0.5", "-4722366482869645212672"),
        ("-664613997892457936492885222544795476.0000000000000000000001", "0.5", "-664613997892457936523961124178100224"),
        ("-5070602400912917606127160914866.5", "1", "-5070602400912917605986812821504"),
        ("5192296858534827628249121708014347.5", "-0.5", "5192296858534827628249021352509440"),
        ("618970019642690137325286226", "-131072", "618970019642690137315344384"),
        ("-618970019642690137356627774.0000000000000000000001", "0.5", "-618970019642690137348898816"),
        ("83076749736557242045122765147466115", "2199023255552", "83076749736557242042977142385410048"),
        ("-19342813113834066794679391.0000000000000000000001", "0.5", "-19342813113834066794250240"),
        ("10141204801825835210855949771627.4999999999999999999999", "131072", "10141204801825835210874114015232"),
        ("-9671406556917033397653798.4999999999999999999999", "0.5", "-9671406556917033397649408"),
        ("-81129638414606681684734641390306.9", "0.5", "-81129638414606681682594865610752"),
        ("162259276829213363380124022380125", "0", "162259276829213363382781917265920"),
        ("1298074214633706907204996814562093", "-4194304", "1298074214633706907273361570660352"),
        ("10384593717069655256144834781304078.5", "0.5", "10384593717069655255935092751597568"),
        ("649037107316853453541011663359557.9", "5", "649037107316853453531127669063680"),
        ("81129638414606681692896114756357.9", "137438953472", "81129638414606681691390958632960"),
        ("-316912650057057350417907430117.5", "2097152", "-316912650057057350408535539712"),
        ("19807040628566084398724328113.5", "0.5", "19807040628566084398385987584"),
        ("154742504910672534391087439.5", "0.5", "154742504910672534395944960"),
        ("332306998946228968223857008699339950", "0.5", "332306998946228968225951765070086144"),
        ("-42535295865117307924646044769298966769", "-0.5", "-42535295865117307923698453892116250624"),
        ("-21267647932558653970169871613257960979.5", "32", "-21267647932558653971072598982912901120"),
        ("-158456325028528675211307447998.5", "2", "-158456325028528675204267769856"),
        ("-37778931862957161708545.9", "-0.5", "-37778931862957161709568"),
        ("0", "1.822599765941237301264202966809710145348916553e-4951", "0"),
        ("0", "1.822599924746724287419932634451357870186402332e-4951", "0"),
        ("0", "1.189731495416094087673511501774926740676926482e+4932", "ERR value is not a valid float"),
        ("0", "1.189731495357255566908533119345384397075833445e+4932", "ERR value is not a valid float"),
        ("6.016710118320592482065535557548e+4931", "6.016710118320592482065535557548e+4931", "ERR increment would produce NaN or Infinity"),
        ("0", "0x1.ffffffffffffffffp16383", "ERR value is not a valid float"),
        ("0", "0x2.0000000000000fp-16448", "ERR value is not a valid float"),
        ("0", "-0x8.00000000cp-16450", "ERR value is not a valid float"),
        ("0", "0xc7b943170.9541ba4f32e057e8a915p-10110", "0"),
        ("0", "0x2.p-16447", "ERR value is not a valid float"),
        ("0", "-0x4.00000000000000000000000000000dp-16448", "0"),
        ("0", "0x1.ffffffffffffffff00001p16383", "ERR value is not a valid float"),
        ("0", "0x1.ffffffffffffffff7fffffp16383", "ERR value is not a valid float"),
        ("0", "0x8.0000000000000001p-16449", "0"),
        ("0", "-0x8.0000000000000001p-16449", "0"),
        ("0", "0x1.00000000000000000000000000000bp-16446", "0"),
        ("0", "0x1.cadf9c46d7edaf8080p96", "142014462951952801858156756992"),
        ("0", "-0x8.0000000000000001p-16449", "0"),
        ("1", "0xe6cf9a3d3d1fd.7101b2db13f14a725adbp-7494", "1"),
        ("0", "0x1.60491a2d07000cff8p138", "479506250851376019685235423820991288049664"),
        ("0", "0x535e3af3369df880dc26f26.5p-8835", "0"),
        ("0", "0x1.ffffffffffffffff00001p16383", "ERR value is not a valid float"),
        ("0", "0x1.e4b9f3f68f556eaf7ffffffffffffffffffffffffffffffffp175", "90678834728990584633434253580708565058746181794922496"),
        ("0", "0x1.6f6dc983732da6ee80000001p64", "26476039350791284462"),
        ("0", "-0x1.p-16446", "ERR value is not a valid float"),
        ("0", "0x1.ffffffffffffffff00001p16383", "ERR value is not a valid float"),
        ("0", "0x1.2f98148c1e597ee08000001p157", "216651963344423945290143672581550526454351003648"),
        ("0", "0x1.0072f009835bafff8000000000000000000001p84", "19376736719028892395896832"),
        ("0", "0x1.54c62649a311619080p187", "261117334366785979733629711464880765870593732375646044160"),
        ("0", "0x1.3d7974c32ed38c508p93", "12281697441567632373644787712"),
        ("0", "0x1.44c63a53ffb48b01800000p124", "26981195527945879985619710488319361024"),
        ("0", "0x4.9p-16448", "0"),
        ("0", "-0x8.0000000000000001p-16449", "0"),
        ("0", "0x4.0000000000000001p-16447", "0"),
        ("0", "-0x8.p-16450", "ERR value is not a valid float"),
    ];

    /// The largest finite long double, (2^64 - 1) * 2^16320, as redis-server prints it.
    const MAX_TEXT: &str = "\
        118973149535723176502126385303097020516906332229462420044032373389173700552297072261641029\
        033652888285354569780749557731442744315367028843419812557385374367867359320070697326320191\
        591828296152436552951064679108661431179063216977883889613478656060039914875343321145491116\
        008867984515486651285234014977303760000912547939396622315138362241783854274391783813871780\
        588948754057516822634765923557697480511372564902088485522249479139937758502601177354918009\
        979622602685950855888360815984690023564513234659447638493985927645628457966177293040780660\
        922910271504608538808795932778162298682754783076808004015069494230341172895777710033571401\
        055977524212405734700738625166011082837911962300846927720096515350020847447079244384854591\
        288672300061908512647211195136146752763351956292759795725027800298079590419313960302147099\
        703527646744553092202267965628099149823208332964124103850923918473478612192169721054348428\
        704835340811304257300221642134891734717423480071488075100206439051723424765600472176809648\
        610799494341570347632064355862420744350442438056613601760883747816538902780957697597728686\
        007148702828795556714140463261583262360276289631617397848425448686060994827086796804807870\
        251185893083854658422304090880599629459458620190376604844679092600222541053077590106576067\
        134720012584640695703025713896098375799892695455305236856075868317922311363951946885088077\
        187210470520395758748001314313144425494391994017575316933939236688185618912993172910425292\
        123683515992232205099800167710278403536014082929639811512287776813570604578934353545169653\
        956125404884644716978689321167108722908808277835051822885764606221873970285165508372099234\
        948333443522898475123275372663606621390228126470623407535207172405866507951821730346378263\
        135339370677490195019784169044182473806316282858685774143258116536404021840272491339332094\
        921949842244273042701987304453662035026238695780468200360144729199712309553005720614186697\
        485284685618651483271597448120312194675168637934309618961510733006555242148519520176285859\
        509105183947250286387163249416761380499631979144187025430270675849519200883791516940158174\
        004671147787720145964446117520405945350476472180797576111172084627363927960033967047003761\
        337450955318415007379641260504792325166135484129188421134082301547330475406707281876350361\
        733290800595189632520707167390454777712968226520622565143991937680440029238090311243791261\
        477625596469422198137514696707944687035800439250765945161837981185939204954403611491531078\
        225107269148697980924094677214272701240437718740921675661363493890045123235166814608932240\
        069799317601780533819184998193300841098599393876029260139091141452600372028487213241195542\
        428210183120421610446740462163533690058366460659115629876474552506814500393294140413149540\
        067760295100596225302282300363147382468105964844244132486457313743759509641616804802412935\
        187620466813563687753281467553879887177183651289394719533506188500326760735438867336800207\
        438784965701457609034985757124304510203873049485425670247933932280911052604153852899484920\
        399109194612991249163328991799809438033787952209313146694614970593966415237594928589096048\
        991612194498998638483702248667224914892467841020618336462741696957630763248023558797524525\
        373703543388296086275342774001633343405508353704850737454481975472222897528108302089868263\
        302028525992308416805453968791141829762998896457648276528750456285492426516521775079951625\
        966922911497778896235667095662713848201819134832168799586365263762097828507009933729439678\
        463987902491451422274252700636394232799848397673998715441855420156224415492665301451550468\
        548925862027608576183712976335876121538256512963353814166394951655600026415918655485005705\
        261143195291991880795452239464962763563017858089669222640623538289853586759599064700838568\
        712381032959192649484625076899225841930548076362021508902214922052806984201835084058693849\
        381549890944546197789302911357651677540623227829831403347327660395223160342282471752818181\
        884430488092132193355086987339586127607367086665237555567580317149010847732009642431878007\
        000879734603290627894355374356444885190719161645514115576193939969076741515640282654366402\
        676009508752394550734155613586793306603174472092444651353236664764973540085196704077110364\
        053815007348689179836404957060618953500508984091382686953509006678332447257871219660441528\
        492484004185093281190896363417573989716659600075948780061916409485433875852065711654107226\
        099628815012314437794400874930194474433078438899570184271000480830501217712356062289507626\
        904285680004771889315808935851559386317665294808903126774702966254511086154895839508779675\
        546413794489596052797520987481383976257859210575628440175934932416214833956535018919681138\
        909184379573470326940634289008780584694035245347939808067427323629788710086717580253156130\
        235606487870925986528841635097252953709111431720488774740553905400942537542411931794417513\
        706468964386151771884986701034153254238591108962471088538580868883777725864856414593426212\
        1086647588489260031762345960769508849149662444156604419552086811989770240";

    /// `1e4000` as redis-server prints it (0 + 1e4000).
    const E4000_TEXT: &str = "\
        999999999999999999996546387309962378493249258350695763130150833304326194330634235548182164\
        186550927986276445207312367354021760221736759234417212588195052799996142858243435475450187\
        095821429074130114301467044502626084944345627533374234082255914622044077450269914711681830\
        777556677357120649203631296339736876182607953816161203672468102798041894507185733380201957\
        318437640797473774210058296343958130247474660582807106816226609535024910936098193169594212\
        325387236235572071786785993199711696782353517534488641743594882749266842422451493159696512\
        492842655731300727200365418160663782964871802633262344596465959941168867361240121701259812\
        055748928873533443711847934559082701316042663433403614597161129409449926793009764515831692\
        424208444400504627578931685426469896253751960480464820255883181332019908227481067854696666\
        210627249700699618652920204661219792796503066301605361205568206085517098902106999847630466\
        816686879832784930554451695863054570543626786812396309041984072078629509329792323316698930\
        718549346800596351355605227392652481506453586303495117711566598560617166670824275619896230\
        386187135471918138196137967176193898470450507392161890714427244982891583908397803799328045\
        255958696550419936825613465027146884424717482364627866356743713273930651694331128514456889\
        581781152127023433502320280992343931353716868579231427277166784731040245945314918349069276\
        953832951624324292710544717597495656594985925988025726662343243166098675125860081634832083\
        772785235237181889664834370094785299105896943354170513234512252404843468832513832293308518\
        372165567213786539635847103506721416736061711952760527235477144743756093290878935518104108\
        197897176234655756823076757402730229346054496875208176865682487999437635516392030038509591\
        968867867090776098718766179343471717576035065141953795610318291012136488463726210226320429\
        532927962036053620376131519455405318893421840931624641073865620385213899249244440402634221\
        049961914087685592127798877867694789215280685495078506801472712553673970265696261196440143\
        618793488580342061128674513483866541536569140911046403869466889934487984582294276337303971\
        968860281044443992803713546889827456535363005944625616997868906559342084845603827436656722\
        529954935268365077016055190811601172388031517638139082174408719115901484046640842203646326\
        418292843478018116774697739874304244941310521546388412380157872674696772133455872452047111\
        533586251643528328239383214050025976237079590719541812226030833100603021010496251168945891\
        286948052102543013404738222814135055439439021018832686353875308319032957814961739273532534\
        560729380401978961310720443972905532410692112632267102006670931701283593692569559469491012\
        129199113304035245402941589542133062792457606820047089253679243514307913738277444034619600\
        259399968366935317655368005431792164842358163978166423171645953951045675326533799825666452\
        920085293904946885541928909778530329494644975225879188295479455875333874823517517373007317\
        846625968391643704488907528287791686962799128979218358684967929118907413640552698863210473\
        761320595915047363159961659256484295243985803317970236819975330669836220140150647940769923\
        639652151965466159713230973738197390314188954803171318177196896586136000705584679127671259\
        261147561284797464789860158552766622773892968912821261968114440990558897494398092794843195\
        009826834645964923030568997854202993279243648645289673592500419478258751647345762435263948\
        009010950729573502046045672563814595702231739778420903399872125496106089091663409488098355\
        275050888166934930834777283450438830308711334187810414161221578833020683598118389550166550\
        202002064058921084890241600315636162687316083622556634775026951259974678686017132680683102\
        908765366034116470880880245402288169904939213957401675614619264441582083959079789705055192\
        233494740600473887233204284408928530233441790599638119017161016884531643553346123590208606\
        793593500506300145052217458177244309653838919998912873167932654534827895778806176201880701\
        760251518685320558987590991070807933360504701011573847810547675055015002062986435782554344\
        1956972190272729951206648276349901340672";
}
