//! The small set of types every tracecheck crate speaks: the metric
//! vocabulary ([`metric`]), what a workload or witness knows to be true
//! ([`truth`]), and what a tool under test printed once parsed ([`output`]).
//!
//! Nothing here does I/O; it is data and the rules that define it.

pub mod metric;
pub mod neighbour;
pub mod output;
pub mod requests;
pub mod truth;

pub use metric::{Directed, Direction, Layer, Metric, Quantity};
pub use neighbour::{Mistake, Separation};
pub use output::{Bucket, MapEntry, ParsedMap, Table, ToolOutput, Value};
pub use requests::{CallSample, ClockedCall, Measure, PairedCall, RequestSample, RequestSamples};
pub use truth::{CallTally, GroundTruth, Source, Tallies, Truth, Who};
