//! The `uswim` command line: parsing and dispatch only; all work is done by the library.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = uswim::trace::cleanup::install_signal_handlers() {
        eprintln!("warning: cannot watch for interruptions ({e}); temporary files may remain on Ctrl-C");
    }
    cli::run(cli::Cli::parse())
}
