//! The arguments the subcommands share, one small struct each, flattened into every subcommand that
//! takes them: a flag has one name, one meaning and one default everywhere.
//!
//! - [`GlobalArgs`]: `-v`, `-q/--quiet`, `--threads`, accepted before or after the subcommand.
//! - [`HwArgs`]: `--hw FILE|PRESET` (default: the [`DEFAULT_PRESET`]) and `--set KEY=VALUE`.
//! - [`SeedArg`]: `--seed` (default [`DEFAULT_SEED`]).
//! - [`NormalizeArg`]: `--normalize MEANS,STDS` on every command that loads a dataset.
//! - [`OutDir`]: `--out DIR`, always a folder (default `out/COMMAND`); commands that write one file take
//!   `-o/--output FILE` instead.

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::path::PathBuf;
use uswim::config::{self, ConfigError, DEFAULT_PRESET, HwConfig, Override};
use uswim::error::InputError;
use uswim::nn::normalize::{self, Normalization};
use uswim::nn::{Dataset, Split};
use uswim::sensitivity::Method;

/// The seed of every command that draws random numbers, unless `--seed` says otherwise (the sweep specs'
/// `seed` default too).
pub const DEFAULT_SEED: u64 = 1;

/// The folder under which each command writes by default (`out/program`, `out/reproduce`, ...).
pub const DEFAULT_OUT_ROOT: &str = "out";

/// Options of every command.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bars (results and errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N", global = true)]
    pub threads: Option<usize>,
}

/// The hardware configuration a command runs on.
#[derive(Debug, Clone, Args)]
pub struct HwArgs {
    /// Hardware configuration: a TOML file or a preset name (see `uswim hw list`).
    #[arg(long, value_name = "FILE|PRESET", default_value = DEFAULT_PRESET)]
    pub hw: String,
    /// Override a hardware key before validation, e.g. `--set program.tolerance=0.02` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl HwArgs {
    /// The parsed `--set` overrides.
    pub fn overrides(&self) -> Result<Vec<Override>, ConfigError> {
        parse_overrides(&self.overrides)
    }

    /// The configuration `--hw` names with the `--set` overrides applied, validated.
    pub fn load(&self) -> Result<HwConfig, ConfigError> {
        config::load(&self.hw, &self.overrides()?)
    }
}

/// Parses `--set KEY=VALUE` arguments.
pub fn parse_overrides(texts: &[String]) -> Result<Vec<Override>, ConfigError> {
    texts
        .iter()
        .map(|t| config::parse_override(t).map_err(|e| e.in_file("--set")))
        .collect()
}

/// The seed of every random draw of a command.
#[derive(Debug, Clone, Copy, Args)]
pub struct SeedArg {
    /// Seed of every random draw; the same seed gives the same results for any thread count.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// Per-channel normalisation of the images of a command's dataset.
#[derive(Debug, Clone, Args)]
pub struct NormalizeArg {
    /// Normalise the images per channel after scaling bytes to [0, 1], (x - mean) / std as torchvision's
    /// Normalize: the C means then the C stds (two numbers apply to every channel), e.g. 0.1307,0.3081.
    #[arg(long, value_name = "MEANS,STDS", value_parser = parse_normalization)]
    pub normalize: Option<Normalization>,
}

impl NormalizeArg {
    /// Loads `split` of the dataset `spec`, normalised if asked.
    pub fn load(&self, spec: &str, split: Split) -> Result<Dataset, InputError> {
        normalize::load(spec, split, self.normalize.as_ref())
    }
}

/// Parses `--normalize` (clap reports a bad value with the flag's name and exit status 2).
pub fn parse_normalization(text: &str) -> Result<Normalization, String> {
    Normalization::parse(text, "--normalize").map_err(|e| e.problem)
}

/// The output folder of a command.
#[derive(Debug, Clone, Args)]
pub struct OutDir {
    /// Output folder, created if missing (default: out/COMMAND, e.g. out/program).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

impl OutDir {
    /// The folder given, or `out/<command>`.
    pub fn resolve(&self, command: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT_ROOT).join(command))
    }
}

/// The parser of a selection method (`--method`, `--methods`): `--help` lists the possible values.
pub fn method_parser() -> impl TypedValueParser<Value = Method> {
    PossibleValuesParser::new(Method::ALL.map(Method::name)).try_map(|name| name.parse::<Method>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_defaults_to_a_folder_per_command() {
        let none = OutDir { out: None };
        assert_eq!(none.resolve("program"), PathBuf::from("out/program"));
        let given = OutDir {
            out: Some("x/y".into()),
        };
        assert_eq!(given.resolve("program"), PathBuf::from("x/y"));
    }
}

/// `--knowledge`: what the device-aware scores know of each device's variation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KnowledgeArg {
    /// The variation map's expectation, known before programming (the default).
    Prior,
    /// Each device's sigma estimated from --characterise-cycles programming cycles of the chip.
    #[value(alias = "characterized")]
    Characterised,
    /// The chip's true sigmas: an upper bound, labelled so in every table and plot.
    Oracle,
}

impl KnowledgeArg {
    /// The knowledge, with `cycles` characterisation cycles (checked: at least 2).
    pub fn knowledge(self, cycles: u32) -> Result<uswim::experiment::selection::Knowledge, InputError> {
        use uswim::experiment::selection::Knowledge;
        match self {
            Self::Prior => Ok(Knowledge::Prior),
            Self::Oracle => Ok(Knowledge::Oracle),
            Self::Characterised => Knowledge::parse("characterised", cycles),
        }
    }
}
