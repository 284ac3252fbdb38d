//! Owns the human duration syntax of the command line (`90s`, `15m`, `1h`, `250ms`, `1h30m`).

use std::time::Duration;

/// The longest duration accepted: far beyond any wait wamig makes, and small enough that adding
/// it to the clock can never overflow.
pub const MAX: Duration = Duration::from_secs(365 * 86_400);

/// Parses `<number><unit>` groups with units `ms`, `s`, `m`, `h`, `d`; a bare number is seconds.
/// Anything longer than [`MAX`] is refused.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let total = parse_unbounded(text)?;
    if total > MAX {
        return Err(format!("`{text}` is too long: at most {}d", MAX.as_secs() / 86_400));
    }
    Ok(total)
}

fn parse_unbounded(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration: write it like 90s, 15m or 1h");
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still a number, only a far too long one.
        return Ok(text.parse::<u64>().map_or(Duration::MAX, Duration::from_secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().unwrap_or(u64::MAX);
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.saturating_mul(60)),
            "h" => Duration::from_secs(value.saturating_mul(3600)),
            "d" => Duration::from_secs(value.saturating_mul(86_400)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Formats a duration the way it is written on the command line (`14m05s`, `45s`, `250ms`).
pub fn display(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let millis = duration.subsec_millis();
    // Short waits (retries, polling) would otherwise all read `0s` or `1s`.
    if seconds == 0 {
        return format!("{}ms", millis);
    }
    if seconds < 10 && millis >= 100 {
        return format!("{seconds}.{}s", millis / 100);
    }
    match (seconds / 3600, (seconds % 3600) / 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// Formats a countdown in whole seconds, rounded up, so it reads `1s` until time is truly up.
pub fn display_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    if seconds == 0 { "0s".to_owned() } else { display(Duration::from_secs(seconds)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("3d"), Ok(Duration::from_secs(3 * 86_400)));
        for bad in ["", "m", "15x", "1.5h", "-1s", "s15"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_past_a_year_are_refused_not_overflowed() {
        assert_eq!(parse("365d"), Ok(MAX));
        for long in [
            "9223372036854775807s",
            "18446744073709551615ms",
            "99999999999999999999999",
            "99999999999999999999999m",
            "366d",
            "18446744073709551615h1s",
        ] {
            let error = parse(long).unwrap_err();
            assert!(error.contains("too long"), "{long}: {error}");
        }
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(display(Duration::from_secs(45)), "45s");
        assert_eq!(display(Duration::from_secs(845)), "14m05s");
        assert_eq!(display(Duration::from_secs(5400)), "1h30m");
        assert_eq!(display(Duration::from_millis(50)), "50ms");
        assert_eq!(display(Duration::ZERO), "0ms");
        assert_eq!(display(Duration::from_millis(1500)), "1.5s");
        assert_eq!(display(Duration::from_millis(2000)), "2s");
        assert_eq!(display(Duration::from_millis(2050)), "2s");
        assert_eq!(display(Duration::from_millis(12_345)), "12s");
        assert_eq!(display_seconds(Duration::from_millis(400)), "1s");
        assert_eq!(display_seconds(Duration::ZERO), "0s");
        assert_eq!(display_seconds(Duration::from_secs(845)), "14m05s");
    }
}
