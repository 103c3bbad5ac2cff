//! vm (stub)
