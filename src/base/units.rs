//! Sizes and durations as people type them: `512m`, `16g`, `2GiB` (binary units, as Docker reads
//! them); `90s`, `30m`, `2h`, `1d`. Pure; floor 0.

use crate::base::error::{Error, Result};

const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;

/// A duration in seconds, kept in the settings file as the text a flag takes (`"2h"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Seconds(pub u64);

/// A size for `flag` (`--memory`, `--shm-size`): a number of bytes, or with k, m, g, t (binary,
/// as `docker run` reads them; `gb`, `GiB` alike).
pub fn parse_size(text: &str, flag: &str) -> Result<u64> {
    let bad = || {
        Error::usage(format!("invalid {flag} `{text}`"))
            .hint("give a size such as 512m, 8g or 16GiB (binary units)")
    };
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => KIB,
        "m" => MIB,
        "g" => GIB,
        "t" => 1024 * GIB,
        _ => return Err(bad()),
    };
    let bytes = (number * scale as f64).round();
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// A duration for `flag` (`--idle-timeout`): seconds, or with s, m, h, d.
pub fn parse_duration(text: &str, flag: &str) -> Result<u64> {
    let bad = || {
        Error::usage(format!("invalid {flag} `{text}`")).hint("give a duration such as 90s, 30m, 2h or 1d")
    };
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match number.checked_mul(scale) {
        Some(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(bad()),
    }
}

/// A size as `parse_size` reads it back, in the largest unit that divides it ("8g", "512m").
pub fn size_text(bytes: u64) -> String {
    for (unit, scale) in [("t", 1024 * GIB), ("g", GIB), ("m", MIB), ("k", KIB)] {
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{}{unit}", bytes / scale);
        }
    }
    bytes.to_string()
}

/// A duration as `parse_duration` reads it back ("2h", "30m", "90s").
pub fn duration_text(seconds: u64) -> String {
    for (unit, scale) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds >= scale && seconds.is_multiple_of(scale) {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_reads_them_and_back() {
        assert_eq!(parse_size("512m", "--memory").unwrap(), 512 * MIB);
        assert_eq!(parse_size("16g", "--memory").unwrap(), 16 * GIB);
        assert_eq!(parse_size("2GiB", "--memory").unwrap(), 2 * GIB);
        assert_eq!(parse_size("1.5gb", "--memory").unwrap(), 3 * GIB / 2);
        assert_eq!(parse_size("1048576", "--memory").unwrap(), MIB);
        for bad in ["", "g", "lots", "-1g", "0", "3x"] {
            let err = parse_size(bad, "--memory").unwrap_err();
            assert!(err.message.starts_with("invalid --memory") && err.hint.is_some(), "{bad}");
        }
        assert_eq!(size_text(8 * GIB), "8g");
        assert_eq!(size_text(1536 * MIB), "1536m");
        assert_eq!(size_text(1000), "1000");
    }

    #[test]
    fn durations_read_and_back() {
        assert_eq!(parse_duration("90s", "--idle-timeout").unwrap(), 90);
        assert_eq!(parse_duration("30m", "--idle-timeout").unwrap(), 1800);
        assert_eq!(parse_duration("2h", "--idle-timeout").unwrap(), 7200);
        assert_eq!(parse_duration("1d", "--idle-timeout").unwrap(), 86_400);
        assert_eq!(parse_duration("45", "--idle-timeout").unwrap(), 45);
        for bad in ["", "0", "2w", "h", "1.5h"] {
            assert!(parse_duration(bad, "--idle-timeout").is_err(), "{bad}");
        }
        assert_eq!(
            (duration_text(7200), duration_text(1800), duration_text(90)),
            ("2h".into(), "30m".into(), "90s".into())
        );
    }
}
