//! Test helpers of the SQLite backend.
