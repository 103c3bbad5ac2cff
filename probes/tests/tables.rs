//! The `table` format against real output of bpftrace 0.17's shipped
//! per-event tools, saved under `tests/fixtures/tables/` (captured as
//! `capture.sh` there says): snapshots of every parse, and the rows the
//! capture's own calls must have produced.

use std::path::PathBuf;
use tracecheck_model::ToolOutput;
use tracecheck_probes::{parse, OutputFormat};

fn table(stem: &str) -> ToolOutput {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tables")
        .join(format!("{stem}.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format: OutputFormat = "table".parse().unwrap();
    parse(format, &text).unwrap_or_else(|e| panic!("{stem}: {e}"))
}

#[test]
fn snapshots() {
    for stem in [
        "opensnoop_bt",
        "execsnoop_bt",
        "disktop_stp",
        "iotop_stp",
        "biopattern_bpfcc",
        "setuids_bt",
        "syncsnoop_bt",
        "syncsnoop_bpfcc",
    ] {
        insta::assert_yaml_snapshot!(format!("table_{stem}"), table(stem));
    }
}

#[test]
fn opensnoop_rows_hold_the_captured_calls() {
    let o = table("opensnoop_bt");
    assert_eq!(o.tables.len(), 1);
    let t = &o.tables[0];
    assert_eq!(t.header, ["PID", "COMM", "FD", "ERR", "PATH"]);
    let path = t.column("PATH").unwrap();
    let comm = t.column("COMM").unwrap();
    let hostname = t
        .rows
        .iter()
        .filter(|r| r[comm] == "cat" && r[path] == "/etc/hostname")
        .count();
    assert_eq!(hostname, 3, "three cat runs each opened /etc/hostname once");
    let failed = t
        .rows
        .iter()
        .filter(|r| r[path] == "/nonexistent")
        .map(|r| {
            (
                r[t.column("FD").unwrap()].as_str(),
                r[t.column("ERR").unwrap()].as_str(),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(failed, [("-1", "2"); 3], "ENOENT is errno 2");
    // The banners are not rows.
    assert!(o.unparsed.iter().any(|l| l.starts_with("Attaching")));
}

#[test]
fn execsnoop_rows_keep_the_whole_argument_list() {
    let o = table("execsnoop_bt");
    let t = &o.tables[0];
    assert_eq!(t.header, ["TIME(ms)", "PID", "ARGS"]);
    let args: Vec<&str> = t.rows.iter().map(|r| r[2].as_str()).collect();
    assert!(
        args.contains(&"sh -c /bin/echo hi a b >/dev/null"),
        "{args:?}"
    );
    // A failed exec is printed like any other: the tool traces the call.
    assert!(args.contains(&"/nonexistent-cmd"), "{args:?}");
}

/// SystemTap 4.8's disktop.stp in a debian-6.1 guest, two 5 s intervals
/// (dd writing 4 MiB with fsync, then two cats reading it after a cache
/// drop): each interval's blank line and banner close the table before, and
/// its rows hold the bytes each process moved.
#[test]
fn disktop_intervals_are_tables_of_their_own() {
    let o = table("disktop_stp");
    assert_eq!(o.tables.len(), 2, "{:?}", o.tables);
    let bytes = |t: usize, cmd: &str, dir: &str| -> u64 {
        let t = &o.tables[t];
        let (c, d, b) = (
            t.column("CMD").unwrap(),
            t.column("T").unwrap(),
            t.column("BYTES").unwrap(),
        );
        t.rows
            .iter()
            .filter(|r| r[c] == cmd && r[d] == dir)
            .map(|r| r[b].parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(bytes(0, "dd", "W"), 4 << 20);
    assert_eq!(bytes(1, "cat", "R"), 8 << 20);
    assert!(o.unparsed.iter().any(|l| l.contains("Average:")));
}

/// SystemTap 4.8's iotop.stp in a debian-6.1 guest (the stdout of a
/// tracecheck check's record): tab-separated columns under titles with
/// blanks, two 5 s intervals; the second, with no I/O, still prints rows.
#[test]
fn iotop_columns_are_titles_between_tabs() {
    let o = table("iotop_stp");
    assert_eq!(o.tables.len(), 2);
    let t = &o.tables[0];
    assert_eq!(t.header, ["Process", "KB Read", "KB Written"]);
    let read = t.column("KB Read").unwrap();
    let row = t.rows.iter().find(|r| r[0] == "tcw-84040d").unwrap();
    // 184,549,376 B read by read() and pread64(), in KiB.
    assert_eq!(row[read], "180224");
}

/// bcc's biopattern prints one row per disk at Ctrl-C; its `%RND` and
/// `%SEQ` columns lead with a percent sign. Captured in a debian-6.1 guest
/// (the stdout in the record of `tracecheck check
/// expectations/catalog/bcc/biopattern --vm debian-6.1`, direct-read: a
/// 16 MiB O_DIRECT read in 128 KiB requests): KBYTES is 16 MiB less one
/// request, because a disk's first request only sets where the next one
/// must start to be sequential.
#[test]
fn biopattern_reads_its_percent_columns() {
    let o = table("biopattern_bpfcc");
    let t = &o.tables[0];
    assert_eq!(
        t.header,
        ["TIME", "DISK", "%RND", "%SEQ", "COUNT", "KBYTES"]
    );
    assert_eq!(t.rows.len(), 1);
    let r = &t.rows[0];
    assert_eq!(r[t.column("DISK").unwrap()], "vda");
    assert_eq!(r[t.column("COUNT").unwrap()], "129");
    assert_eq!(r[t.column("KBYTES").unwrap()], "16256");
}

/// bpftrace's setuids.bt ends its header in a title with a blank, `ARGS
/// (RET)`: one column, which takes the rest of each row.
#[test]
fn setuids_last_title_has_a_blank() {
    let o = table("setuids_bt");
    let t = &o.tables[0];
    assert_eq!(
        t.header,
        ["TIME", "PID", "COMM", "UID", "SYSCALL", "ARGS (RET)"]
    );
    let args = t.column("ARGS (RET)").unwrap();
    assert_eq!(t.rows[0][args], "uid=0 (0)");
    assert_eq!(t.rows.len(), 12, "{:?}", t.rows);
}
