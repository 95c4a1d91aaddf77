//! Value parsers for the numeric flags: every number a user types is checked here, so that
//! `inf`, `NaN`, negative and absurd values end in a clear usage error (exit 2), never in a
//! panic or a silent wrap-around.

use std::time::Duration;

/// The longest run a `--duration` may ask for: a year.
const MAX_RUN_SECS: f64 = 366.0 * 24.0 * 3600.0;

/// A number of seconds, as a decimal: finite, not negative.
fn seconds_between(text: &str, min: f64, max: f64, what: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !value.is_finite() {
        return Err(format!("{text:?} is not a finite number of seconds"));
    }
    if value < min || value > max {
        return Err(format!(
            "{value} s is outside {} to {} s ({what})",
            trim(min),
            trim(max)
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `--duration`: how long to run, more than 0 and at most a year.
pub fn run_time(text: &str) -> Result<Duration, String> {
    let d = seconds_between(text, 0.0, MAX_RUN_SECS, "leave it out to run until Ctrl-C")?;
    if d.is_zero() {
        return Err("0 s would stop at once; give more than 0".into());
    }
    Ok(d)
}

/// `--fqdn NAME=IP`.
pub fn domain(text: &str) -> Result<String, String> {
    crate::policy::engine::Domains::parse(&[text.to_string()])?;
    Ok(text.to_string())
}

/// `--request-timeout`: 1 s to an hour.
pub fn request_timeout(text: &str) -> Result<std::time::Duration, String> {
    seconds_between(
        text,
        1.0,
        3600.0,
        "how long the cluster may take to be read",
    )
}

/// `--round`: seconds between traffic rounds of the lab, 0.05 to 3600.
pub fn round(text: &str) -> Result<Duration, String> {
    seconds_between(
        text,
        0.05,
        3600.0,
        "a round every 50 ms at most, every hour at least",
    )
}

/// `--ring-bytes`: 4 KiB to 1 GiB; the probe rounds it up to a power of two.
pub fn ring_bytes(text: &str) -> Result<u32, String> {
    const MIN: u64 = 4096;
    const MAX: u64 = 1 << 30;
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of bytes"))?;
    if !(MIN..=MAX).contains(&value) {
        return Err(format!(
            "{value} bytes is outside 4096 (4 KiB) to {MAX} (1 GiB)"
        ));
    }
    Ok(value as u32)
}

/// A port number, 1 to 65535.
pub fn port(text: &str) -> Result<u16, String> {
    let value: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a port number"))?;
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{value} is not a valid port: must be between 1 and 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_numbers_are_refused() {
        for bad in ["inf", "-inf", "NaN", "1e300", "-1", "0", "x", ""] {
            assert!(run_time(bad).is_err(), "{bad}");
        }
        assert_eq!(run_time("1.5"), Ok(Duration::from_millis(1500)));
        assert!(round("0.01").is_err());
        assert!(round("inf").is_err());
        assert_eq!(round("0.05"), Ok(Duration::from_millis(50)));
        for bad in ["0", "4095", "4294967295", "-4096", "1e6"] {
            assert!(ring_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(ring_bytes("4194304"), Ok(4 << 20));
        for bad in ["0", "65536", "-1", "http"] {
            assert!(port(bad).is_err(), "{bad}");
        }
        assert_eq!(port("443"), Ok(443));
    }
}
