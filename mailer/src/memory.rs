//! The allocator of the `api` and `mailer` programs: each declares
//! `#[global_allocator] static ALLOCATOR: Allocator = Allocator;` in its `main.rs`.
//!
//! It is jemalloc, built to answer to `malloc` and `free` themselves, so that it serves
//! the C code in the program too (SQLite's pages and statements), not only Rust's
//! allocations. glibc's allocator, which served both before, made the server's threads
//! either wait for one another on a few arenas' locks or keep an arena each: in the load
//! suite, a staff query on SQLite took a fifth to three quarters more processor time
//! with two arenas than with sixteen (glibc's default on two cores), and sixteen held
//! 134 MiB where two held 87 at the year-end statement run (README, Performance).
//!
//! jemalloc gives each thread a cache of its own in front of a few shared arenas. Its
//! settings are built in (`JEMALLOC_SYS_WITH_MALLOC_CONF` in `.cargo/config.toml`): two
//! arenas, one per core of the machines the service is sized for, where jemalloc's
//! default is four per core; and freed pages handed back to the system within about a
//! second rather than ten. An operator's `MALLOC_CONF` overrides them as the program
//! starts.

pub use tikv_jemallocator::Jemalloc as Allocator;
