//! How much memory the allocator may keep: the `api` and `mailer` programs call
//! [`bound_allocator_arenas`] first thing, before any thread starts.

/// The environment variable glibc's allocator reads, once, when a process starts.
pub const ARENA_VARIABLE: &str = "MALLOC_ARENA_MAX";

/// The arenas the programs run with unless [`ARENA_VARIABLE`] says otherwise: one per
/// core of the machines the service is sized for.
pub const ARENAS: &str = "2";

/// On Linux with glibc, starts this program again in place of itself (same process,
/// same arguments) with [`ARENA_VARIABLE`] set to [`ARENAS`], unless it is set already.
///
/// glibc gives a thread that allocates while the others hold their arenas an arena of
/// its own, up to eight per core, and an arena keeps what was freed in it for its own
/// thread. The server's threads (the HTTP workers, the runtime's, each SQLite
/// connection's, those typesetting PDFs) each kept their own: in the load suite's
/// year-end statement run at 100,000 donors the server's live heap peaked at 13 MB while
/// its resident memory reached 111 MiB. glibc reads the variable only when a process
/// starts, so it is set by starting again; an operator who sets it chooses another value.
///
/// Returns at once where there is nothing to do, and after a warning on standard error
/// when the program cannot be started again (it then runs with glibc's default).
pub fn bound_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        if std::env::var_os(ARENA_VARIABLE).is_some() {
            return;
        }
        let error = match std::env::current_exe() {
            Ok(program) => std::process::Command::new(program)
                .args(std::env::args_os().skip(1))
                .env(ARENA_VARIABLE, ARENAS)
                .exec(),
            Err(error) => error,
        };
        eprintln!(
            "warning: cannot start again with {ARENA_VARIABLE}={ARENAS} ({error}); \
             running with the allocator's default arenas"
        );
    }
}

/// The [`ARENA_VARIABLE`] a running process `pid` was started with, as Linux shows it in
/// `/proc/<pid>/environ`; `None` if it was started without it or cannot be read.
pub fn arenas_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|&byte| byte == 0)
        .filter_map(|variable| std::str::from_utf8(variable).ok())
        .find_map(|variable| {
            let (name, value) = variable.split_once('=')?;
            (name == ARENA_VARIABLE).then(|| value.to_owned())
        })
}
