//! The storage contract suite.
