//! tracecheck's harness: specs, the check runner (host scratch disk),
//! comparison, diagnosis and reports. The `tracecheck` binary only wires
//! these together.

pub mod card;
pub mod cli;
pub mod env;
pub mod error;
pub mod establish;
pub mod html;
pub mod judge;
pub mod junit;
pub mod loss;
pub mod progress;
pub mod record;
pub mod report;
pub mod results;
pub mod schema;
pub mod select;
pub mod shard;
pub mod spec;
pub mod testing;
pub mod tool;
pub mod tracefs;
pub mod units;
pub mod verdict;
