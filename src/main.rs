//! The `logsieve` binary: parses the command line and runs it. See the library for the stages.

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;
use logsieve::{cli::Cli, pipeline, Error};

// Records are allocated on the reading thread and freed on the learning one (see
// `pipeline::for_each_event`); glibc's malloc serialises such frees on its arena lock (measured:
// 40,000 context switches and 60% more CPU for 200k lines), mimalloc frees them without a lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h; the Rust bindings
/// name the options of mimalloc 2 only).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed is given back to the system after 10 ms instead of mimalloc 3's 1 s. The stages
/// free on other threads what they allocated, so a second's worth of freed memory stayed resident:
/// peak RSS of `score` on 1M lines is 14 to 24 MiB lower (benches/README.md), for about 2 % more
/// time.
#[allow(unsafe_code)]
fn give_back_freed_memory_sooner() {
    // SAFETY: sets one integer option, which mimalloc reads atomically wherever it purges; the
    // option exists in the mimalloc 3 that libmimalloc-sys builds (see the constant).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
}

fn main() -> ExitCode {
    give_back_freed_memory_sooner();
    let cli = Cli::parse();
    match pipeline::run(cli) {
        Ok(outcome) => outcome.into(),
        // A closed pipe (`logsieve normalize x | head`) is how the reader says it has enough.
        Err(Error::Stdout(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            // Each message already carries its cause.
            eprintln!("logsieve: error: {}", logsieve::error::printable(&e.to_string()));
            ExitCode::from(2)
        }
    }
}
