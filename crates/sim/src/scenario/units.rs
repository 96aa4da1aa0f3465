//! Values with units in scenario files. Rates, percentages and durations are parsed by the
//! link's impairment spec parser ([`tcplab_link::impair::ImpairConfig`]), so `tcplab sim`
//! and `--impair` accept exactly the same spellings; byte sizes are parsed here.

use tcplab_link::impair::ImpairConfig;
use tcplab_stack::Duration;

/// Parse one `key=value` impairment item; the error is the link parser's, without the key.
pub(crate) fn impair_item(key: &str, value: &str) -> Result<ImpairConfig, String> {
    if value.contains([',', '=']) {
        return Err(format!("`{value}`: one value expected"));
    }
    format!("{key}={value}")
        .parse::<ImpairConfig>()
        .map_err(|e| {
            let msg = e.to_string();
            // "bad impairment spec: delay=abc: expected ..." -> "`abc`: expected ..."
            match msg.split_once(&format!("{key}={value}")) {
                Some((_, rest)) => format!("`{value}`{rest}"),
                None => msg,
            }
        })
}

/// A duration such as `20ms`, `1.5s`, `300us` or `0` (at most 3600 s).
pub(crate) fn duration(value: &str) -> Result<Duration, String> {
    impair_item("delay", value).map(|c| c.delay)
}

/// A byte count: a plain integer, or a number with `B`, `KB`, `MB`, `GB` (powers of 1000) or
/// `KiB`, `MiB`, `GiB` (powers of 1024); at most `max`.
pub(crate) fn bytes(value: &str, max: u64) -> Result<u64, String> {
    let v = value.trim();
    let idx = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = (&v[..idx], v[idx..].trim());
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "`{value}`: expected a size like `1500`, `64KiB`, `10MB` or `1GiB`"
            ))
        }
    };
    let x: f64 = num
        .parse()
        .map_err(|_| format!("`{value}`: expected a size like `1500`, `64KiB`, `10MB`"))?;
    let n = (x * scale as f64).round();
    if !n.is_finite() || n > max as f64 {
        return Err(format!("`{value}`: at most {max} bytes"));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("1500", 1 << 30), Ok(1500));
        assert_eq!(bytes("64KiB", 1 << 30), Ok(65536));
        assert_eq!(bytes("10MB", 1 << 30), Ok(10_000_000));
        assert_eq!(bytes("1.5 KB", 1 << 30), Ok(1500));
        assert!(bytes("2GiB", 1 << 30).unwrap_err().contains("at most"));
        assert!(bytes("ten", 1 << 30).is_err());
        assert!(bytes("10 parsecs", 1 << 30).is_err());
        assert!(bytes("-1", 1 << 30).is_err());
    }

    #[test]
    fn durations_use_the_link_parser() {
        assert_eq!(duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(duration("20").unwrap_err().contains("`20`"));
        assert!(duration("2h").is_err());
        assert!(duration("1ms,loss=5%").is_err());
    }
}
