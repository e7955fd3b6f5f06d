//! `uswim hw`: list, check and print hardware configurations.

use super::args::parse_overrides;
use clap::{Args, Subcommand};
use uswim::config::{self, HwConfig, area::PeriphCost};

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
            out!("{}", config::to_toml_string(&hw))?;
            out!("{}", derived(&hw))?;
            Ok(())
        }
        HwCommand::List => {
            for name in config::preset_names() {
                let hw = config::load(name, &[])?;
                outln!("{name:24} {}", hw.name)?;
            }
            Ok(())
        }
    }
}

/// What the peripherals' numbers come to at the configured bits ([`config::area`]), as TOML comments
/// (so that the output still loads as a configuration).
fn derived(hw: &HwConfig) -> String {
    let cost = PeriphCost::of(hw);
    format!(
        "\n# Derived at the configured bits (src/config/area.rs):\n\
         #   energy per conversion: ADC {:.4} pJ at adc.bits = {} (adc.energy_pj {} at ref_bits {}, \
         x 2^(bits - ref_bits)), DAC {:.4} pJ at dac.bits = {} (dac.energy_pj {} at ref_bits {}, \
         x (2^bits - 1) / (2^ref_bits - 1))\n\
         #   peripherals of one array: ADCs {:.1} um^2, DACs {:.1} um^2, drivers {:.1} um^2, \
         leakage {:.1} uW while it programs\n",
        cost.adc_conversion_pj,
        hw.adc.bits,
        hw.adc.energy_pj,
        hw.adc.ref_bits,
        cost.dac_conversion_pj,
        hw.dac.bits,
        hw.dac.energy_pj,
        hw.dac.ref_bits,
        cost.adc_area_um2,
        cost.dac_area_um2,
        cost.driver_area_um2,
        cost.leakage_uw,
    )
}
