//! The `uswim` command line: parsing and dispatch only; all work is done by the library.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run(cli::Cli::parse())
}
