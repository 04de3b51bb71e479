//! Integration tests live in `tests/it`, one binary that starts the real server on
//! SQLite and on PostgreSQL.
