//! witness (stub)
