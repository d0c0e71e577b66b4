//! A float written as `{:?}` writes it (the shortest digits that read back as the same float,
//! `1.0`, `0.1`, `1e16`, `-inf`), without the standard library's float formatting: that code
//! (Grisu and Dragon with their tables, about 15 KB of wasm) was in the browser engine for this
//! one use, the value in a unique-index violation's message.
//!
//! The digits come from the free-format algorithm of Burger and Dybvig ("Printing Floating-Point
//! Numbers Quickly and Accurately", 1996) on exact big integers: the shortest digit string
//! within the float's rounding interval, the closest one to the float when several are as short,
//! upwards on a tie, as the standard library's Dragon4 picks. Slow next to Grisu, which is of no
//! matter for an error message.

use core::cmp::Ordering;

/// An unsigned integer of up to 40 × 32 bits, little-endian: enough for every value the
/// algorithm scales (at most about 2^1090, for the smallest subnormals).
#[derive(Clone)]
struct Big {
    limbs: [u32; 40],
}

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut limbs = [0; 40];
        limbs[0] = v as u32;
        limbs[1] = (v >> 32) as u32;
        Big { limbs }
    }

    fn mul_small(&mut self, m: u32) -> &mut Big {
        let mut carry = 0u64;
        for l in &mut self.limbs {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        self
    }

    fn mul_pow2(&mut self, mut bits: u32) -> &mut Big {
        while bits > 0 {
            let step = bits.min(31);
            self.mul_small(1 << step);
            bits -= step;
        }
        self
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = self.clone();
        let mut carry = 0u64;
        for (o, b) in out.limbs.iter_mut().zip(&other.limbs) {
            let v = u64::from(*o) + u64::from(*b) + carry;
            *o = v as u32;
            carry = v >> 32;
        }
        out
    }

    /// `self -= other`, for `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (s, o) in self.limbs.iter_mut().zip(&other.limbs) {
            let v = i64::from(*s) - i64::from(*o) - borrow;
            *s = v as u32;
            borrow = i64::from(v < 0);
        }
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs.iter().rev().cmp(other.limbs.iter().rev())
    }
}

/// Whether `a < b`, or `a <= b` when `inclusive`.
fn below(a: &Big, b: &Big, inclusive: bool) -> bool {
    match a.cmp(b) {
        Ordering::Less => true,
        Ordering::Equal => inclusive,
        Ordering::Greater => false,
    }
}

/// The shortest digits of a finite, positive `v` and its decimal exponent `k`:
/// `v ≈ 0.d1d2d3… × 10^k`.
fn digits(v: f64) -> (Vec<u8>, i32) {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (f, e) = if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    // The interval of reals that read back as `v` is closed when its mantissa is even.
    let inclusive = f % 2 == 0;
    // `v = r / s`; its rounding interval is `(r - m_minus, r + m_plus) / s`, all doubled so that
    // the half-gaps are whole. The gap below a power of two is half the gap above it.
    let uneven = f == 1 << 52 && biased > 1;
    let (mut r, mut s, mut m_plus, mut m_minus) = if e >= 0 {
        let mut r = Big::from_u64(f);
        r.mul_pow2(e as u32 + 1 + u32::from(uneven));
        let mut gap = Big::from_u64(1);
        gap.mul_pow2(e as u32);
        let mut plus = gap.clone();
        plus.mul_pow2(u32::from(uneven));
        (r, Big::from_u64(2 << u32::from(uneven)), plus, gap)
    } else {
        let mut r = Big::from_u64(f);
        r.mul_pow2(1 + u32::from(uneven));
        let mut s = Big::from_u64(2);
        s.mul_pow2(-e as u32 + u32::from(uneven));
        (r, s, Big::from_u64(1 << u32::from(uneven)), Big::from_u64(1))
    };
    // Scale so that the interval's top is in (0.1, 1] × s (ends as the interval is open or not).
    let mut k = 0;
    while !below(&r.add(&m_plus), &s, !inclusive) {
        s.mul_small(10);
        k += 1;
    }
    loop {
        let mut top = r.add(&m_plus);
        top.mul_small(10);
        if !below(&top, &s, !inclusive) {
            break;
        }
        r.mul_small(10);
        m_plus.mul_small(10);
        m_minus.mul_small(10);
        k -= 1;
    }
    let mut out = Vec::new();
    loop {
        r.mul_small(10);
        m_plus.mul_small(10);
        m_minus.mul_small(10);
        let mut d = 0u8;
        while r.cmp(&s) != Ordering::Less {
            r.sub(&s);
            d += 1;
        }
        let low = below(&r, &m_minus, inclusive);
        let high = !below(&r.add(&m_plus), &s, !inclusive);
        if !low && !high {
            out.push(d);
            continue;
        }
        // Within reach of the interval's end: the nearer of `d` and `d + 1` (up on a tie).
        let mut twice = r.clone();
        twice.mul_small(2);
        let up = if low && high { twice.cmp(&s) != Ordering::Less } else { high };
        out.push(d + u8::from(up));
        return (out, k);
    }
}

/// Writes `v` as `format!("{v:?}")` does.
pub(crate) fn write_float(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    let v = v.abs();
    if v.is_infinite() {
        out.push_str("inf");
        return;
    }
    if v == 0.0 {
        out.push_str("0.0");
        return;
    }
    let (ds, k) = digits(v);
    let digit = |d: &u8| char::from(b'0' + d);
    if (1e-4..1e16).contains(&v) {
        if k <= 0 {
            out.push_str("0.");
            out.extend((0..-k).map(|_| '0'));
            out.extend(ds.iter().map(digit));
        } else if (k as usize) < ds.len() {
            let (int, frac) = ds.split_at(k as usize);
            out.extend(int.iter().map(digit));
            out.push('.');
            out.extend(frac.iter().map(digit));
        } else {
            out.extend(ds.iter().map(digit));
            out.extend((ds.len()..k as usize).map(|_| '0'));
            out.push_str(".0");
        }
    } else {
        out.push(digit(&ds[0]));
        if ds.len() > 1 {
            out.push('.');
            out.extend(ds[1..].iter().map(digit));
        }
        out.push('e');
        let exp = k - 1;
        if exp < 0 {
            out.push('-');
        }
        // At most three digits (the exponents of f64 are within ±324).
        let exp = exp.unsigned_abs();
        for (i, div) in [100, 10, 1].into_iter().enumerate() {
            if exp >= div || i == 2 {
                out.push(char::from(b'0' + (exp / div % 10) as u8));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: f64) -> String {
        let mut s = String::new();
        write_float(v, &mut s);
        s
    }

    #[test]
    fn writes_as_debug_does() {
        let special = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            0.3,
            1.0 / 3.0,
            2.0 / 3.0,
            100.0,
            123456.789,
            1e-4,
            9.999e-5,
            1e-5,
            1e15,
            9_999_999_999_999_998.0,
            1e16,
            1.5e16,
            1e21,
            1e22,
            1e23,
            5e-324,
            1e-323,
            2.2250738585072014e-308,
            2.225073858507201e-308,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            9_007_199_254_740_993.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            0.000123,
            4.35,
            2.5,
            0.5e-300,
        ];
        for v in special {
            assert_eq!(text(v), format!("{v:?}"), "{v:e}");
        }
        // Powers of two across the range, and their neighbours (the uneven gaps below them).
        for e in (-1074..1024).step_by(5) {
            let v = 2f64.powi(e);
            for w in [v, f64::from_bits(v.to_bits() + 1), f64::from_bits(v.to_bits().saturating_sub(1))] {
                if w.is_finite() {
                    assert_eq!(text(w), format!("{w:?}"));
                }
            }
        }
        // Random bit patterns (xorshift, fixed seed), and random numbers of a few digits. (Checked
        // once for 200,000 of each; a few here, the algorithm being slow in a debug build.)
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1_500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            assert_eq!(text(v), format!("{v:?}"), "{:#x}", x);
            let short = (x % 100_000) as f64 / 10f64.powi((x >> 40) as i32 % 12);
            assert_eq!(text(short), format!("{short:?}"));
        }
    }
}
