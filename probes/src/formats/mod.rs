//! The registry: every output format tracecheck can read, one file each.
//! [`OutputFormat`](crate::OutputFormat)'s names, parsing, printing, serde
//! names and [`parse`](crate::parse) dispatch are all taken from [`ALL`].

pub(crate) mod bcc_hist;
pub(crate) mod bcc_json;
pub(crate) mod bpftrace_json;
pub(crate) mod bpftrace_text;
pub(crate) mod folded;
pub(crate) mod perf_report;
pub(crate) mod perf_stat;
pub(crate) mod perf_tools_hist;
pub(crate) mod stap_hist;
pub(crate) mod table;

use crate::format::Format;

/// Every registered format, in the order [`OutputFormat::NAMES`] lists
/// them. Names must be unique (a test checks).
///
/// [`OutputFormat::NAMES`]: crate::OutputFormat::NAMES
pub(crate) const ALL: &[Format] = &[
    bpftrace_text::FORMAT,
    bpftrace_json::FORMAT,
    table::FORMAT,
    bcc_hist::FORMAT,
    bcc_json::FORMAT,
    stap_hist::FORMAT,
    perf_tools_hist::FORMAT,
    perf_report::FORMAT,
    perf_stat::FORMAT,
    folded::FORMAT,
];
