//! Fast number formatting for large CSV traces: integers and fixed-point decimals without going through
//! `fmt` machinery (a phase trace of a ResNet-18 has tens of millions of rows).

/// "00" to "99": two digits per division (half the divisions of one digit at a time).
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal digits of `v`. Single digits, the most common values of a trace's counts, are one
/// push; longer numbers are written two digits at a time and copied once.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Appends `v` rounded to `decimals` (at most 9) decimal places, trailing zeros dropped (`12.5`, `3`,
/// `-0.0021`). Values too large for exact fixed point, and NaN or infinities, use Rust's shortest form.
/// Always inlined: callers pass `decimals` as a constant, which turns the divisions by 10^decimals into
/// multiplications.
#[inline(always)]
pub fn push_fixed(out: &mut Vec<u8>, v: f64, decimals: usize) {
    let p = POW10[decimals];
    let scaled = (v.abs() * p).round();
    if !scaled.is_finite() || scaled >= 9.0e15 {
        out.extend_from_slice(format!("{v}").as_bytes());
        return;
    }
    let scaled = scaled as u64;
    if scaled == 0 {
        out.push(b'0');
        return;
    }
    if v < 0.0 {
        out.push(b'-');
    }
    let unit = p as u64;
    push_u64(out, scaled / unit);
    let mut frac = scaled % unit;
    if frac != 0 {
        let mut digits = decimals;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        out.push(b'.');
        let mut buf = [b'0'; 9];
        let mut i = digits;
        while frac > 0 {
            i -= 1;
            buf[i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        out.extend_from_slice(&buf[..digits]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(v: f64, d: usize) -> String {
        let mut out = Vec::new();
        push_fixed(&mut out, v, d);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers_match_rust_formatting() {
        let mut values: Vec<u64> = (0..1000).collect();
        values.extend((1..20).map(|k| 10u64.pow(k) - 1));
        values.extend((1..20).map(|k| 10u64.pow(k)));
        values.extend([123_456_789, 9_876_543_210_123, u64::MAX]);
        for v in values {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    #[test]
    fn fixed_point_matches_rust_formatting_with_trailing_zeros_dropped() {
        assert_eq!(fixed(12.5, 3), "12.5");
        assert_eq!(fixed(3.0, 6), "3");
        assert_eq!(fixed(-0.00214, 4), "-0.0021");
        assert_eq!(fixed(0.0000004, 6), "0");
        assert_eq!(fixed(-0.0000004, 6), "0");
        assert_eq!(fixed(1.0005, 3), "1.001");
        assert_eq!(fixed(0.050, 6), "0.05");
        assert_eq!(fixed(f64::NAN, 3), "NaN");
        assert_eq!(fixed(1e20, 3), "100000000000000000000");
        for (v, d) in [(123.456789, 6), (0.1, 9), (99.999, 2), (7.0625, 4)] {
            let want: f64 = format!("{v:.d$}").parse().unwrap();
            assert_eq!(fixed(v, d).parse::<f64>().unwrap(), want);
        }
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        push_u64(&mut out, u64::MAX);
        assert_eq!(String::from_utf8(out).unwrap(), format!("0{}", u64::MAX));
    }
}
