//! Table cells for listings of thousands of rows: padded text and
//! fixed-point numbers, appended to one `String` without `format!`.
//!
//! `lsload` prints seven numbers per host; at 10,000 hosts the generic
//! formatting machinery (exact float printing, padding one fill character
//! at a time, a `String` per cell) was most of the command's run time.
//! What these append is exactly what `{:<w}`, `{:>w}` and `{:.N}` print.

use std::fmt::Write;

/// Which side of its column a cell's text keeps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

const SPACES: &str = "                                                                ";

/// Appends `text` padded to `width` characters (as `{:<w}` / `{:>w}`:
/// longer text is not cut), after a space unless it starts the line.
pub fn push_cell(out: &mut String, text: &str, width: usize, align: Align) {
    if !(out.is_empty() || out.ends_with('\n')) {
        out.push(' ');
    }
    let pad = width.saturating_sub(text.chars().count());
    if align == Align::Right {
        push_spaces(out, pad);
    }
    out.push_str(text);
    if align == Align::Left {
        push_spaces(out, pad);
    }
}

fn push_spaces(out: &mut String, mut n: usize) {
    while n > 0 {
        let run = n.min(SPACES.len());
        out.push_str(&SPACES[..run]);
        n -= run;
    }
}

/// Appends `value` with `decimals` decimals, exactly as `{:.N}` prints it.
///
/// std decides every last digit from the number's full binary value
/// (~1 µs a number). Scaling and rounding gives the same digits whenever
/// the scaled number is not within rounding error of a half; the rest
/// (and negative, huge or non-finite numbers) still go through std.
pub fn push_fixed(out: &mut String, value: f64, decimals: usize) {
    match by_integers(value, decimals) {
        Some((whole, frac)) => {
            push_digits(out, whole, 1);
            if decimals > 0 {
                out.push('.');
                push_digits(out, frac, decimals);
            }
        }
        None => {
            let _ = write!(out, "{value:.decimals$}");
        }
    }
}

/// `value`'s digits as (whole part, fraction in `decimals` digits), when
/// integer rounding is sure to agree with std's exact rounding.
fn by_integers(value: f64, decimals: usize) -> Option<(u64, u64)> {
    let scale = 10u64.checked_pow(u32::try_from(decimals).ok()?)?;
    let scaled = value * scale as f64;
    // The product is off by at most half an ulp (~1e-16 relative); a
    // margin of 1e-9 from a half is far wider than that below 1e15.
    // Without decimals nothing is scaled, so a half is a true tie, which
    // std rounds to even.
    let sure = value.is_sign_positive()
        && scaled < 1e15
        && (decimals == 0 || (scaled - scaled.trunc() - 0.5).abs() > 1e-9 * scaled.max(1.0));
    let rounded = sure.then(|| scaled.round_ties_even() as u64)?;
    Some((rounded / scale, rounded % scale))
}

/// Appends `n` in decimal, zero-padded to at least `min_digits` digits.
fn push_digits(out: &mut String, mut n: u64, min_digits: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while n > 0 || digits.len() - start < min_digits {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `push_fixed` then `push_cell` append is what `{:>8.N}` prints.
    fn same_as_std(value: f64, decimals: usize) {
        let mut text = String::new();
        push_fixed(&mut text, value, decimals);
        text.push('%');
        let mut cell = String::new();
        push_cell(&mut cell, &text, 8, Align::Right);
        let std = format!("{:>8}", format!("{value:.decimals$}%"));
        assert_eq!(cell, std, "{value:e} with {decimals} decimals");
    }

    #[test]
    fn numbers_print_as_std_prints_them() {
        let odd = [
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            0.5,
            1.5,
            2.5,
            0.95,
            9.95,
            99.95,
            1e15,
            1e16,
            1e300,
            -1.25,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            4503599627370495.5,
            0.049999999999999996,
        ];
        for value in odd {
            for decimals in [0, 1, 2, 3, 19, 20] {
                same_as_std(value, decimals);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_number_prints_as_std_prints_it(
            bits in proptest::num::u64::ANY,
            hundredths in 0u64..10_000_000,
            decimals in 0usize..4,
        ) {
            same_as_std(f64::from_bits(bits), decimals);
            // Loads as lim sends them: few decimals, many exact halves.
            same_as_std(hundredths as f64 / 100.0, decimals);
            same_as_std(hundredths as f64 / 8.0, decimals);
        }
    }

    #[test]
    fn cells_pad_as_std_pads_and_are_spaced_on_a_line() {
        let mut out = String::new();
        push_cell(&mut out, "node01", 8, Align::Left);
        push_cell(&mut out, "ok", 4, Align::Right);
        push_cell(&mut out, "toolongforit", 4, Align::Left);
        out.push('\n');
        push_cell(&mut out, "é", 3, Align::Right);
        push_cell(&mut out, "", 70, Align::Left);
        let expected = format!(
            "{:<8} {:>4} {:<4}\n{:>3} {:<70}",
            "node01", "ok", "toolongforit", "é", ""
        );
        assert_eq!(out, expected);
    }
}
