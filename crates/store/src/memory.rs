//! Allocator settings for a process that runs the store.
//!
//! Every block allocates and frees tens of megabytes: the execution's maps and the trie
//! update on the Rust side (mimalloc in bevm-node), RocksDB's write batches and memtables on
//! the C++ side (glibc). With the allocators' defaults that memory goes back to the kernel
//! between blocks and is faulted in again, page by page, by the next one: on one core, 13%
//! of the consensus thread and a quarter of the writer (docs/PERFORMANCE.md). At run time
//! they could only be changed through C calls (`mi_option_set`, `mallopt`), which need the
//! `unsafe` this workspace forbids; both allocators also read them from the environment when
//! the process starts, so a process sets them by executing itself again once.

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

/// Executes the current program again (the same binary, even if its file was replaced or
/// deleted since, with the same arguments, `argv[0]` included) with [`ALLOCATOR_ENV`] added
/// to its environment. An operator's own values win: a set `MIMALLOC_PURGE_DELAY` is kept,
/// and a set `GLIBC_TUNABLES` is appended to ours, so its entries, parsed last, override.
/// Returns at once in a process that already has them; if executing fails, warns and
/// returns, and the process goes on with the allocators' defaults. Call it first thing in
/// `main`, before any thread starts.
pub fn reexec_with_allocator_settings() {
    if std::env::var_os(APPLIED).is_some() {
        return;
    }
    let mut args = std::env::args_os();
    let mut cmd = Command::new("/proc/self/exe");
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    cmd.args(args).env(APPLIED, "1");
    for (name, ours) in ALLOCATOR_ENV {
        match std::env::var_os(name) {
            None => {
                cmd.env(name, ours);
            }
            Some(theirs) if name == "GLIBC_TUNABLES" => {
                let mut merged = std::ffi::OsString::from(format!("{ours}:"));
                merged.push(theirs);
                cmd.env(name, merged);
            }
            Some(_) => {}
        }
    }
    // `exec` returns only when it failed.
    warn(&cmd.exec());
}

fn warn(e: &std::io::Error) {
    eprintln!("warning: allocator settings not applied ({e}); running with the defaults");
}
