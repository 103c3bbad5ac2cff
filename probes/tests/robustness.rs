//! Neither parser panics, whatever it is fed: arbitrary strings, and real
//! fixtures with a line replaced or cut short.

use proptest::prelude::*;
use tracecheck_probes::{parse_bpftrace_json, parse_bpftrace_text};

const FIXTURES: &[&str] = &[
    include_str!("fixtures/bpftrace/forms.txt"),
    include_str!("fixtures/bpftrace/stacks_and_text.txt"),
    include_str!("fixtures/bpftrace/rwbs_dup.txt"),
    include_str!("fixtures/bpftrace/forms.jsonl"),
    include_str!("fixtures/bpftrace/stacks_and_text.jsonl"),
    include_str!("fixtures/bpftrace/rwbs_dup.jsonl"),
];

fn both(s: &str) {
    let _ = parse_bpftrace_text(s);
    let _ = parse_bpftrace_json(s);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        both(&s);
    }

    #[test]
    fn map_shaped_text_never_panics(s in r"(@[a-z_]{0,3}[\[:]?[ -~\n]{0,40}\n?){1,6}") {
        both(&s);
    }

    #[test]
    fn bucket_shaped_text_never_panics(s in r"@h: \n([\[(][-0-9KMGTPE., ]{0,12}[\])] {0,3}[0-9]{0,21} ?\|[@ x]{0,4}\|?\n){1,5}") {
        both(&s);
    }

    #[test]
    fn damaged_fixtures_never_panic(f in 0..FIXTURES.len(), line in 0usize..80, cut in 0usize..200, junk in any::<String>()) {
        let lines: Vec<&str> = FIXTURES[f].lines().collect();
        let mut replaced = lines.clone();
        if !replaced.is_empty() {
            let i = line % replaced.len();
            replaced[i] = &junk;
        }
        both(&replaced.join("\n"));
        let l = lines.get(line % lines.len().max(1)).copied().unwrap_or("");
        let c = l.char_indices().map(|(i, _)| i).nth(cut % (l.chars().count() + 1)).unwrap_or(l.len());
        let mut cut_lines = lines.clone();
        if !cut_lines.is_empty() {
            let i = line % cut_lines.len();
            cut_lines[i] = &l[..c];
        }
        both(&cut_lines.join("\n"));
    }
}
