//! `uswim hw`: list, check and print hardware configurations.

use super::args::parse_overrides;
use clap::{Args, Subcommand};
use uswim::config;

/// Hardware configuration commands.
#[derive(Debug, Subcommand)]
pub enum HwCommand {
    /// Validate a configuration file or preset and print it resolved (defaults filled in), as TOML.
    #[command(after_help = "Examples:\n  \
uswim hw check rram_1t1r_256\n  \
uswim hw check my_chip.toml --set adc.bits=6 > resolved.toml")]
    Check(CheckArgs),
    /// List the built-in presets.
    #[command(after_help = "Example:\n  uswim hw list")]
    List,
}

/// Arguments of `uswim hw check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A TOML file or a preset name (see `uswim hw list`).
    #[arg(value_name = "FILE|PRESET")]
    hw: String,
    /// Override a key, e.g. `--set program.tolerance=0.02` (repeatable; applied before validation).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// Runs a `uswim hw` command.
pub fn run(cmd: HwCommand) -> anyhow::Result<()> {
    match cmd {
        HwCommand::Check(args) => {
            let overrides = parse_overrides(&args.overrides)?;
            let hw = config::load(&args.hw, &overrides)?;
            print!("{}", config::to_toml_string(&hw));
            Ok(())
        }
        HwCommand::List => {
            for name in config::preset_names() {
                let hw = config::load(name, &[])?;
                println!("{name:24} {}", hw.name);
            }
            Ok(())
        }
    }
}
