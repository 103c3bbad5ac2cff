//! The lines tracers print when they drop events: bpftrace's `Lost N
//! events` and bcc's `Possibly lost N samples` (perf ring buffer overruns,
//! bcc#3476). A per-event tool that says this has told its reader that its
//! rows are short; the judge needs the number.

/// The number of events a loss notice says were dropped, or `None` for
/// any other line.
pub fn loss_notice(line: &str) -> Option<u64> {
    let l = line.trim();
    let rest = l
        .strip_prefix("Possibly lost ")
        .or_else(|| l.strip_prefix("Lost "))?;
    let mut words = rest.split_whitespace();
    let n = words.next()?.parse().ok()?;
    matches!(words.next(), Some("samples" | "events")).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tracers_notices_are_read_and_nothing_else() {
        assert_eq!(loss_notice("Possibly lost 24 samples"), Some(24));
        assert_eq!(loss_notice("Lost 3 events"), Some(3));
        assert_eq!(loss_notice("  Lost 1 events\r"), Some(1));
        assert_eq!(loss_notice("Lost in space"), None);
        assert_eq!(loss_notice("PID COMM FD ERR PATH"), None);
        assert_eq!(loss_notice("Lost 3 sheep"), None);
    }
}
