//! Splitting a printed map key into its fields, shared by the text and
//! JSON parsers: bpftrace joins multi-keys with `, ` in text output and `,`
//! in JSON, and prints stack keys over several indented lines.

/// `a, 123` (text, `sep = ", "`) or `a,123` / `a, 123` (JSON, `sep = ","`)
/// → `["a", "123"]`. A multi-line part (a stack) has each frame trimmed and
/// joined by `\n`. After a `,` split, one leading space is dropped.
pub(crate) fn split_keys(key: &str, sep: &str) -> Vec<String> {
    key.split(sep)
        .map(|part| {
            if part.contains('\n') {
                part.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            } else if sep == "," {
                part.strip_prefix(' ').unwrap_or(part).to_string()
            } else {
                part.to_string()
            }
        })
        .collect()
}
