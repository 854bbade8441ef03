//! Integration tests: filter.
