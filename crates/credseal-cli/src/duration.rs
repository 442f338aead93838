//! Duration arguments: `90s`, `15m`, `2h`, `30d`, `1h 30m` (humantime's forms), or a bare
//! number of seconds (the spelling every seconds flag had before). Parsed by clap, so a bad
//! value is a usage error (exit 2) naming the flag.

/// Ten years in seconds: the longest validity the CLI signs (credentials, consents).
pub(crate) const TEN_YEARS: u64 = 3650 * 86_400;

/// A duration in whole seconds.
pub(crate) fn secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("a duration is needed, e.g. `300`, `15m`, `2h` or `30d`".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map_err(|_| format!("`{s}` is too large a number of seconds"));
    }
    // humantime reads `M` as months; someone writing `15M` almost surely meant minutes.
    let b = s.as_bytes();
    if b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'M' && !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic))
    {
        return Err(format!("`{s}`: `M` would be months; write `m` for minutes or `months`"));
    }
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. `300`, `15m`, `2h` or `30d`"))?;
    if d.subsec_nanos() != 0 {
        return Err(format!("`{s}` is not a whole number of seconds"));
    }
    Ok(d.as_secs())
}

/// A point in time: Unix seconds, or an RFC 3339 time (`2026-12-07T12:00:00Z`; an offset
/// other than `Z` is refused rather than guessed).
pub(crate) fn unix_time(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map_err(|_| format!("`{s}` is too large a Unix time"));
    }
    let t = humantime::parse_rfc3339(s)
        .map_err(|e| format!("`{s}` is not a time ({e}); write Unix seconds or e.g. `2026-12-07T12:00:00Z`"))?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("`{s}` is before 1970"))
}

/// [`secs`], limited to `min..=max` seconds.
pub(crate) fn secs_in(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |s| {
        let v = secs(s)?;
        if v < min || v > max {
            return Err(format!("`{s}` is {v} s; the range is {} to {}", show(min), show(max)));
        }
        Ok(v)
    }
}

/// `n` seconds the way a user writes them (`300s`, `15m`, `30d`): the engine's spelling of
/// intervals, so that the CLI and the policy texts agree.
pub(crate) fn show(n: u64) -> String {
    credseal_engine::interval_text(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(secs("300"), Ok(300));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("30d"), Ok(30 * 86_400));
        assert_eq!(secs("1h 30m"), Ok(5400));
        assert_eq!(secs("1.5h"), Ok(5400));
        assert_eq!(secs("1months"), Ok(2_630_016));
        assert_eq!(secs(" 45s "), Ok(45));
        for bad in [
            "",
            "m",
            "-5",
            "0.5s",
            "15M",
            "1M 2d",
            "15 minutes ago",
            "300ms",
            "99999999999999999999",
        ] {
            assert!(secs(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(secs_in(1, 3600)("1h"), Ok(3600));
        assert!(secs_in(1, 3600)("0").is_err());
        assert!(secs_in(1, 3600)("61m").unwrap_err().contains("1h"));
        assert_eq!(show(30 * 86_400), "30d");
        assert_eq!(show(366 * 86_400), "366d");
        assert_eq!(show(90), "90s");
        assert_eq!(unix_time("1796644800"), Ok(1_796_644_800));
        assert_eq!(unix_time("2026-12-07T12:00:00Z"), Ok(1_796_644_800));
        for bad in ["", "yesterday", "2026-12-07", "2026-12-07T12:00:00+08:00", "-1"] {
            assert!(unix_time(bad).is_err(), "{bad:?} accepted");
        }
    }
}
