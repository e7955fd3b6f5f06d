//! Subcommands of the `uswim` binary, one file each.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[macro_use]
mod process;

mod analyze;
mod device;
mod device_fit;
mod eval;
mod hw;
mod merge;
mod plot;
mod program;
mod reproduce;
mod sweep;
mod train;

/// Exit codes, documented in `--help`.
const AFTER_HELP: &str = "Exit codes: 0 success; 1 runtime failure (I/O, internal error); \
2 bad input (malformed or out-of-range configuration, model, data or arguments). \
A closed stdout pipe ends the command quietly with 0; a full stdout is 1.\n\
Logging: -v (info), -vv (debug), -vvv (trace), or RUST_LOG=uswim=debug.";

/// uswim: how long, and how much energy, programming a neural network into NVM crossbars takes,
/// and how much accuracy selective write-verify keeps.
#[derive(Debug, Parser)]
#[command(name = "uswim", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// What to do (default: `reproduce` with every default).
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Hardware configurations: check and print presets and files.
    #[command(subcommand)]
    Hw(hw::HwCommand),
    /// Device-level report: write-verify many devices per level (`uswim device [report] ...`).
    Device(device::DeviceArgs),
    /// Chart columns of any CSV (sweep results, traces) as PNG or SVG.
    Plot(plot::PlotArgs),
    /// Run a parameter sweep (or one shard of it) from a spec file.
    Sweep(sweep::SweepArgs),
    /// Join the shard outputs of a sweep into one results CSV.
    Merge(merge::MergeArgs),
    /// Simulate programming a network into crossbars: time, energy, traces.
    Program(program::ProgramArgs),
    /// Train a built-in architecture on a dataset and save it as safetensors.
    Train(train::TrainArgs),
    /// Clean (noise-free) test accuracy of a model file.
    Eval(eval::EvalArgs),
    /// Sensitivity analysis: score every weight and write the write-verify mask.
    Analyze(analyze::AnalyzeArgs),
    /// The U-SWIM experiment with Monte-Carlo accuracy, time, energy, headline and plots (the default).
    Reproduce(reproduce::ReproduceArgs),
}

/// An error that came from bad user input (exit code 2) rather than a runtime failure (exit code 1).
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "uswim=warn",
        1 => "uswim=info",
        2 => "uswim=debug",
        _ => "uswim=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the parsed command line and maps errors to exit codes.
pub fn run(cli: Cli) -> ExitCode {
    init_logging(cli.verbose);
    if let Some(threads) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(process::clamp_threads(threads))
            .build_global()
        {
            eprintln!("error: cannot start {threads} threads: {e}");
            return ExitCode::from(1);
        }
    }
    let command = cli
        .command
        .unwrap_or_else(|| Command::Reproduce(reproduce::ReproduceArgs::defaults()));
    let result = match command {
        Command::Hw(cmd) => hw::run(cmd),
        Command::Device(args) => device::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Program(args) => program::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Reproduce(args) => reproduce::run(args),
    };
    let result = result.and_then(|()| Ok(process::flush_stdout()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if process::is_closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            process::report_error(&e);
            if is_bad_input(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Whether an error chain comes from bad user input.
fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<BadInput>()
            || c.is::<uswim::config::ConfigError>()
            || c.downcast_ref::<uswim::error::InputError>().is_some()
    })
}
