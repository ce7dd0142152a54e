//! Parsers of the numeric options. Each takes what looks like a number, negative ones included
//! (its option sets `allow_negative_numbers`), and says the valid range when the value is
//! outside it: clap's own parsing calls `--top -1` an unexpected argument and suggests `-- -1`,
//! which would make it a positional argument.

/// A whole number of at least `MIN` (`--top`, `--epochs`, `--seeds`, `--threads`, ...).
pub(crate) fn at_least<const MIN: usize>(s: &str) -> Result<usize, String> {
    let expected = || format!("expected a whole number of at least {MIN}");
    match s.trim().parse::<i128>() {
        Ok(v) if v >= MIN as i128 => usize::try_from(v).map_err(|_| format!("{v} is too large")),
        Ok(v) => Err(format!("{v} is too small: {}", expected())),
        Err(_) => Err(format!("not a whole number: {}", expected())),
    }
}

/// A seed: a whole number from 0 to 2^64 - 1.
pub(crate) fn seed(s: &str) -> Result<u64, String> {
    s.trim().parse::<u64>().map_err(|_| format!("a seed is a whole number from 0 to {}", u64::MAX))
}

/// A share strictly between 0 and 1 (`--test-fraction`).
pub(crate) fn fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not between 0 and 1 (both excluded)")),
        Err(_) => Err("expected a number between 0 and 1 (both excluded)".into()),
    }
}

/// A finite number of seconds: positive, or with `POSITIVE = false` also 0.
pub(crate) fn seconds<const POSITIVE: bool>(s: &str) -> Result<f64, String> {
    let range = if POSITIVE { "a positive number of seconds" } else { "a number of seconds >= 0" };
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (v > 0.0 || (!POSITIVE && v == 0.0)) => Ok(v),
        Ok(v) => Err(format!("{v} is not {range}")),
        Err(_) => Err(format!("expected {range}")),
    }
}

/// A worker's lease: seconds, at least 0.3 (its heartbeat comes every third of it).
pub(crate) fn lease(s: &str) -> Result<f64, String> {
    match seconds::<true>(s) {
        Ok(v) if v >= 0.3 => Ok(v),
        _ => Err(format!("{} is not a lease (seconds, at least 0.3)", s.trim())),
    }
}

/// A TCP port, 0 to 65535 (0: any free port).
pub(crate) fn port(s: &str) -> Result<u16, String> {
    s.trim().parse::<u16>().map_err(|_| "expected a port number from 0 to 65535 (0: any free port)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_named() {
        assert_eq!(at_least::<1>("3"), Ok(3));
        assert_eq!(at_least::<0>("0"), Ok(0));
        assert_eq!(at_least::<1>("-1").expect_err("refused"), "-1 is too small: expected a whole number of at least 1");
        assert_eq!(at_least::<1>("0").expect_err("refused"), "0 is too small: expected a whole number of at least 1");
        assert!(at_least::<1>("1.5").expect_err("refused").starts_with("not a whole number"));
        assert_eq!(seed("42"), Ok(42));
        assert!(seed("-1").expect_err("refused").contains("from 0 to 18446744073709551615"));
        assert_eq!(fraction("0.2"), Ok(0.2));
        assert_eq!(fraction("-0.1").expect_err("refused"), "-0.1 is not between 0 and 1 (both excluded)");
        assert!(fraction("1").is_err() && fraction("0").is_err() && fraction("NaN").is_err());
        assert_eq!(seconds::<true>("0.5"), Ok(0.5));
        assert!(seconds::<true>("0").is_err() && seconds::<true>("inf").is_err());
        assert_eq!(seconds::<false>("0"), Ok(0.0));
        assert_eq!(seconds::<false>("-2").expect_err("refused"), "-2 is not a number of seconds >= 0");
        assert_eq!(lease("30"), Ok(30.0));
        assert_eq!(lease("0.1").expect_err("refused"), "0.1 is not a lease (seconds, at least 0.3)");
        assert_eq!(port("0"), Ok(0));
        assert!(port("-1").is_err() && port("65536").is_err());
    }
}
