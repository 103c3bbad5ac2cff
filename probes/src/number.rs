//! Numbers as bpftrace prints them: plain integers, and histogram bucket
//! bounds with binary suffixes (`4K` = 4096, `1M` = 1048576, up to `E`).

/// Parse `-?[0-9]+` exactly into an i64 (no `+`, no spaces, no overflow).
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse `[0-9]+` exactly into a u64.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse a bucket bound such as `512`, `4K`, `2G`, `-5` (1024 multipliers).
pub(crate) fn parse_suffixed(s: &str) -> Option<i64> {
    let shift = match s.as_bytes().last()? {
        b'K' => 10,
        b'M' => 20,
        b'G' => 30,
        b'T' => 40,
        b'P' => 50,
        b'E' => 60,
        _ => return parse_int(s),
    };
    let n = parse_int(&s[..s.len() - 1])?;
    n.checked_mul(1i64 << shift)
}

/// True when `s` starts like a number (`7`, `-7`) and so must be one.
pub(crate) fn looks_numeric(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    d.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_use_1024_multipliers() {
        assert_eq!(parse_suffixed("0"), Some(0));
        assert_eq!(parse_suffixed("512"), Some(512));
        assert_eq!(parse_suffixed("1K"), Some(1024));
        assert_eq!(parse_suffixed("128K"), Some(131072));
        assert_eq!(parse_suffixed("1M"), Some(1 << 20));
        assert_eq!(parse_suffixed("4G"), Some(4 << 30));
        assert_eq!(parse_suffixed("2T"), Some(2 << 40));
        assert_eq!(parse_suffixed("-5"), Some(-5));
        assert_eq!(parse_suffixed("7E"), Some(7 << 60));
    }

    #[test]
    fn malformed_or_overflowing_bounds_are_none() {
        for s in [
            "",
            "K",
            "-",
            "1.5K",
            "1k",
            "8E",
            "+3",
            " 3",
            "3 ",
            "99999999999999999999",
        ] {
            assert_eq!(parse_suffixed(s), None, "{s:?}");
        }
    }

    #[test]
    fn integers_are_exact() {
        assert_eq!(parse_int("-42"), Some(-42));
        assert_eq!(parse_int("1099511627776"), Some(1 << 40));
        assert_eq!(parse_int("12abc"), None);
        assert_eq!(parse_int("--1"), None);
        assert_eq!(parse_uint("-1"), None);
        assert!(
            looks_numeric("12abc")
                && looks_numeric("-1x")
                && !looks_numeric("abc")
                && !looks_numeric("-")
        );
    }
}
