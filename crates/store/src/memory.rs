//! Allocator settings for a process that runs the store.
//!
//! Every block allocates and frees tens of megabytes: the execution's maps and the trie
//! update on the Rust side (mimalloc in bevm-node), RocksDB's write batches and memtables on
//! the C++ side (glibc). With the allocators' defaults that memory goes back to the kernel
//! between blocks and is faulted in again, page by page, by the next one: on one core, 13%
//! of the consensus thread and a quarter of the writer (docs/PERFORMANCE.md). Both
//! allocators read their settings from the environment before `main` runs, so a process
//! sets them by executing itself again once.

use std::{os::unix::process::CommandExt as _, process::Command};

/// Set in the environment of a process that already runs with [`ALLOCATOR_ENV`].
const APPLIED: &str = "BEVM_ALLOCATOR_ENV";

/// mimalloc keeps freed memory 10 s before returning it (default 10 ms); glibc serves up to
/// 32 MB from its heap instead of fresh mappings and keeps up to 256 MB free there.
pub const ALLOCATOR_ENV: [(&str, &str); 2] = [
    ("MIMALLOC_PURGE_DELAY", "10000"),
    (
        "GLIBC_TUNABLES",
        "glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432",
    ),
];

/// Executes the current program again, with the same arguments, and [`ALLOCATOR_ENV`] added
/// to its environment (a value the operator set wins). Returns at once in a process that
/// already has them; if executing fails, warns and returns, and the process goes on with the
/// allocators' defaults. Call it first thing in `main`, before any thread starts.
pub fn reexec_with_allocator_settings() {
    if std::env::var_os(APPLIED).is_some() {
        return;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return warn(&e),
    };
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1)).env(APPLIED, "1");
    for (name, value) in ALLOCATOR_ENV {
        if std::env::var_os(name).is_none() {
            cmd.env(name, value);
        }
    }
    // `exec` returns only when it failed.
    warn(&cmd.exec());
}

fn warn(e: &std::io::Error) {
    eprintln!("warning: allocator settings not applied ({e}); running with the defaults");
}
