//! Subcommands of the `uswim` binary, one file each.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[macro_use]
mod process;

mod analyze;
mod args;
mod compare;
mod completions;
mod device;
mod device_fit;
mod eval;
mod hw;
mod merge;
mod plot;
mod program;
mod program_accuracy;
mod reproduce;
mod sweep;
mod train;

/// Exit codes and logging, documented in `--help`.
const AFTER_HELP: &str = "Start here: `uswim reproduce` runs the U-SWIM experiment on the shipped LeNet and MNIST \
(`cargo run --release -- reproduce` from the source tree).\n\n\
Examples:\n  \
uswim reproduce                                   # the main experiment, results in out/reproduce\n  \
uswim program --shape resnet18 --mask random:0.1  # programming time and energy of a network\n  \
uswim hw list                                     # the hardware presets\n  \
uswim completions bash > ~/.local/share/bash-completion/completions/uswim\n\n\
Exit codes: 0 success; 1 runtime failure (I/O, internal error); \
2 bad input (malformed or out-of-range configuration, model, data or arguments). \
A closed stdout pipe ends the command quietly with 0; a full stdout is 1.\n\
Logging: -v (info), -vv (debug), -vvv (trace), or RUST_LOG=uswim=debug.";

/// uswim: how long, and how much energy, programming a neural network into NVM crossbars takes,
/// and how much accuracy selective write-verify keeps.
#[derive(Debug, Parser)]
#[command(name = "uswim", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Options of every command.
    #[command(flatten)]
    global: args::GlobalArgs,
    /// What to do (none: print this help).
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// The U-SWIM experiment: Monte-Carlo accuracy, time, energy, headline and plots (start here).
    Reproduce(reproduce::ReproduceArgs),
    /// Simulate programming a network into crossbars: time, energy, traces.
    Program(program::ProgramArgs),
    /// Sensitivity analysis: score every weight and write the write-verify mask.
    Analyze(analyze::AnalyzeArgs),
    /// Device-level report: write-verify many devices per level (`uswim device [report] ...`).
    Device(device::DeviceArgs),
    /// Run a parameter sweep (or one shard of it) from a spec file.
    Sweep(sweep::SweepArgs),
    /// Join the shard outputs of a sweep into one results CSV.
    Merge(merge::MergeArgs),
    /// Compare two hardware configurations or two result folders, metric by metric, with ratios.
    Compare(compare::CompareArgs),
    /// Chart columns of any CSV (sweep results, traces) as PNG or SVG.
    Plot(plot::PlotArgs),
    /// Train a built-in architecture on a dataset and save it as safetensors.
    Train(train::TrainArgs),
    /// Clean (noise-free) test accuracy of a model file.
    Eval(eval::EvalArgs),
    /// Hardware configurations: check and print presets and files.
    #[command(subcommand)]
    Hw(hw::HwCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(completions::CompletionsArgs),
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
    let global = cli.global;
    init_logging(global.verbose);
    if let Some(threads) = global.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(process::clamp_threads(threads))
            .build_global()
        {
            eprintln!("error: cannot start {threads} threads: {e}");
            return ExitCode::from(1);
        }
    }
    let Some(command) = cli.command else {
        return print_help();
    };
    let result = match command {
        Command::Reproduce(args) => reproduce::run(args, &global),
        Command::Program(args) => program::run(args, &global),
        Command::Analyze(args) => analyze::run(args),
        Command::Device(args) => device::run(args),
        Command::Sweep(args) => sweep::run(args, &global),
        Command::Merge(args) => merge::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Train(args) => train::run(args, &global),
        Command::Eval(args) => eval::run(args),
        Command::Hw(cmd) => hw::run(cmd),
        Command::Completions(args) => completions::run(args, &mut Cli::command()),
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

/// Bare `uswim`: the help (which points at `uswim reproduce`), exit code 0.
fn print_help() -> ExitCode {
    match Cli::command().print_help() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot print the help: {e}");
            ExitCode::from(1)
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
