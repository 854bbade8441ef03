//! The TUI's flow index: a compact row per exchange, filtered and ordered views, marks and
//! comments, and access to full exchanges on demand.
