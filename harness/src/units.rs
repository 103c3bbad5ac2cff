//! Number formatting shared by diagnoses and reports: thousands separators,
//! so "352,321,536 B" reads at a glance.

pub fn num(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `lo..hi` as "16,777,216" when exact, else "16,777,216–16,908,288".
pub fn range(lo: u64, hi: u64) -> String {
    if lo == hi {
        num(lo)
    } else {
        format!("{}–{}", num(lo), num(hi))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn separators() {
        assert_eq!(super::num(0), "0");
        assert_eq!(super::num(999), "999");
        assert_eq!(super::num(1000), "1,000");
        assert_eq!(super::num(352321536), "352,321,536");
        assert_eq!(super::range(5, 5), "5");
        assert_eq!(super::range(5, 6), "5–6");
    }
}
