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

fn main() -> ExitCode {
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
