//! `uswim device fit`: fit the pulse-level device to measured pulse-response data and write a hardware
//! configuration with it.

use super::BadInput;
use super::args::{HwArgs, SeedArg};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use uswim::calibrate::data::{self, ColumnPolarity, Measured, Quantity};
use uswim::calibrate::export::ReadNoiseSource;
use uswim::calibrate::fit::{FitSettings, LawKind};
use uswim::calibrate::{self, Calibration, Options, PulseChoice};
use uswim::pulse::Polarity;
use uswim::trace::atomic;

/// Layout of the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One column per measured ramp, one row per pulse (conductance or read current after each pulse).
    Ramps,
    /// Two columns (up, down): conductance change of each pulse; the down pulses follow the up pulses.
    Deltas,
}

/// Unit of conductance cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    /// Siemens.
    S,
    /// Millisiemens.
    Ms,
    /// Microsiemens.
    Us,
    /// Normalised (dimensionless): the fitted window is mapped onto --window-us.
    Norm,
}

/// The device's state dependence f_s(G) to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LawArg {
    /// The saturation law ((headroom) / R)^nu with a signed exponent (negative: accelerating ramps).
    Power,
    /// A step table over the measured span (--table-nodes nodes per polarity, linearly interpolated):
    /// follows any monotone ramp shape, such as a fast transient followed by a linear tail.
    Table,
}

/// Arguments of `uswim device fit`.
///
/// Fits the pulse-level device (step size, saturation exponents, window, cycle-to-cycle noise, read noise,
/// device-to-device spread) by least squares and moments, prints the parameters with bootstrap
/// uncertainties and the goodness of fit (measured versus simulated ramps), checks that write-verify
/// converges on the fitted device (tuning the scheme's voltages if it does not), and writes the base
/// configuration with the fitted device.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim device fit --format ramps --set-ramps set.csv --reset-ramps reset.csv -o fitted.toml --plot fit.png\n  \
uswim device fit --format deltas --data deltas.csv --unit norm --window-us 5,100 -o fitted.toml\n  \
uswim device --hw fitted.toml                # write-verify on the fitted device")]
pub struct FitArgs {
    /// Data file. Ramps format: each column's polarity follows its trend (rising: SET, falling: RESET).
    /// Deltas format: the two columns up, down.
    #[arg(long, value_name = "FILE.csv", required_unless_present_any = ["set_ramps", "reset_ramps"])]
    data: Option<PathBuf>,
    /// SET ramps, one column per ramp (ramps format).
    #[arg(long, value_name = "FILE.csv", conflicts_with = "data")]
    set_ramps: Option<PathBuf>,
    /// RESET ramps, one column per ramp (ramps format).
    #[arg(long, value_name = "FILE.csv", alias = "reset", conflicts_with = "data")]
    reset_ramps: Option<PathBuf>,
    /// Layout of the data: `ramps` or `deltas`.
    #[arg(long, value_enum)]
    format: Format,
    /// Cells are read currents in A, read at this voltage: G = I / V.
    #[arg(long, value_name = "V", conflicts_with = "unit")]
    read_voltage: Option<f64>,
    /// Unit of conductance cells (default: us for ramps, norm for deltas).
    #[arg(long, value_enum)]
    unit: Option<Unit>,
    /// The window, in uS, that normalised data is mapped onto (default: the base configuration's).
    #[arg(long, value_name = "LO,HI")]
    window_us: Option<String>,
    /// Base configuration (a pulse-device preset or TOML file, with --set overrides): the written file
    /// is it with the fitted device.
    #[command(flatten)]
    hw: HwArgs,
    /// Amplitude of the measured SET pulses, in V (default: the base scheme's first SET pulse).
    #[arg(long, value_name = "V")]
    set_v: Option<f64>,
    /// Amplitude of the measured RESET pulses, in V (default: the base scheme's first RESET pulse).
    #[arg(long, value_name = "V")]
    reset_v: Option<f64>,
    /// Width of the measured pulses, in ns (default: the base scheme's).
    #[arg(long, value_name = "NS")]
    width_ns: Option<f64>,
    /// Write the measurement's read noise into device.read_noise (default: keep the base configuration's,
    /// the chip's verify read path).
    #[arg(long)]
    read_noise_from_data: bool,
    /// State dependence of the step: `power` (saturation law) or `table` (step table).
    #[arg(long, value_enum, default_value_t = LawArg::Power)]
    law: LawArg,
    /// Nodes per step table with --law table (2-64).
    #[arg(long, value_name = "N", default_value_t = 9)]
    table_nodes: usize,
    /// Bootstrap replicates for the uncertainties (0: none).
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Seed of every simulation (bootstrap, write-verify check, measured versus simulated).
    #[command(flatten)]
    seed: SeedArg,
    /// The hardware configuration to write.
    #[arg(short, long, value_name = "FILE.toml", alias = "out")]
    output: PathBuf,
    /// Also plot measured versus simulated ramps (PNG or SVG, from the extension).
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
}

fn bad(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}

fn quantity(args: &FitArgs) -> anyhow::Result<Quantity> {
    if let Some(v) = args.read_voltage {
        if !(v > 0.0 && v.is_finite()) {
            return Err(bad(format!(
                "--read-voltage: {v} is out of range; allowed: > 0 V"
            )));
        }
        return Ok(Quantity::Current { read_voltage_v: v });
    }
    let default = match args.format {
        Format::Ramps => Unit::Us,
        Format::Deltas => Unit::Norm,
    };
    Ok(match args.unit.unwrap_or(default) {
        Unit::S => Quantity::Siemens,
        Unit::Ms => Quantity::Millisiemens,
        Unit::Us => Quantity::Microsiemens,
        Unit::Norm => Quantity::Normalized,
    })
}

fn load(args: &FitArgs, quantity: Quantity) -> anyhow::Result<Measured> {
    let mut ramps = Vec::new();
    let mut files = Vec::new();
    let mut add = |path: &Path, ramps_of: Vec<data::Ramp>| {
        files.push(path.display().to_string());
        ramps.extend(ramps_of);
    };
    match (args.format, &args.data) {
        (Format::Deltas, Some(path)) => add(
            path,
            data::load_deltas(path, quantity).map_err(|e| bad(e.to_string()))?,
        ),
        (Format::Deltas, None) => return Err(bad("--format deltas reads one file: give it with --data")),
        (Format::Ramps, Some(path)) => add(
            path,
            data::load_ramps(path, ColumnPolarity::FromTrend, quantity).map_err(|e| bad(e.to_string()))?,
        ),
        (Format::Ramps, None) => {
            for (path, polarity) in [
                (&args.set_ramps, Polarity::Set),
                (&args.reset_ramps, Polarity::Reset),
            ] {
                if let Some(path) = path {
                    let loaded = data::load_ramps(path, ColumnPolarity::All(polarity), quantity)
                        .map_err(|e| bad(e.to_string()))?;
                    add(path, loaded);
                }
            }
        }
    }
    Ok(Measured {
        ramps,
        quantity,
        files,
    })
}

fn window(text: &str) -> anyhow::Result<(f64, f64)> {
    let parsed = text
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)));
    parsed.ok_or_else(|| bad(format!("--window-us: `{text}` is not LO,HI (two numbers in uS)")))
}

fn check_plot_path(path: &Path) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "png" || ext == "svg" {
        Ok(())
    } else {
        Err(bad(format!(
            "--plot: {}: unsupported extension; allowed: .png, .svg",
            path.display()
        )))
    }
}

/// Runs `uswim device fit`.
pub fn run(args: FitArgs) -> anyhow::Result<()> {
    if args.format == Format::Deltas && (args.set_ramps.is_some() || args.reset_ramps.is_some()) {
        return Err(bad(
            "--set-ramps/--reset-ramps take ramps files; a deltas file is given with --data",
        ));
    }
    if let Some(path) = &args.plot {
        check_plot_path(path)?;
    }
    let base = args.hw.load()?;
    let quantity = quantity(&args)?;
    if args.window_us.is_some() && !quantity.is_normalized() {
        return Err(bad(
            "--window-us maps normalised data (--unit norm) onto a window; physical data keeps its own",
        ));
    }
    let measured = load(&args, quantity)?;
    if !(2..=64).contains(&args.table_nodes) {
        return Err(bad(format!(
            "--table-nodes: {} is out of range; allowed: 2 to 64",
            args.table_nodes
        )));
    }
    let law = match args.law {
        LawArg::Power => LawKind::Power,
        LawArg::Table => LawKind::Table {
            nodes: args.table_nodes,
        },
    };
    let options = Options {
        pulse: PulseChoice {
            set_v: args.set_v,
            reset_v: args.reset_v,
            width_ns: args.width_ns,
        },
        window_us: args.window_us.as_deref().map(window).transpose()?,
        read_noise: if args.read_noise_from_data {
            ReadNoiseSource::Data
        } else {
            ReadNoiseSource::Base
        },
        bootstrap: args.bootstrap,
        seed: args.seed.seed,
        settings: FitSettings {
            law,
            ..FitSettings::default()
        },
        ..Options::default()
    };
    let cal = calibrate::calibrate(&measured, &base, &options).map_err(|e| bad(e.to_string()))?;
    atomic::write_bytes(&args.output, calibrate::config_text(&cal).as_bytes())
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.plot {
        uswim::plot::render_panels(&calibrate::charts(&cal), 2, path)
            .with_context(|| format!("plotting {}", path.display()))?;
    }
    print_report(&cal, &args);
    Ok(())
}

fn print_report(cal: &Calibration, args: &FitArgs) {
    let mut out = std::io::stdout().lock();
    let set = cal.measured.count(Polarity::Set);
    let reset = cal.measured.count(Polarity::Reset);
    let _ = writeln!(
        out,
        "{}: {set} SET and {reset} RESET ramps ({} unit); measurement pulse SET {} V, RESET {} V, {} ns",
        cal.measured.files.join(", "),
        cal.measured.quantity.unit(),
        cal.pulse.amplitudes.set_v,
        cal.pulse.amplitudes.reset_v,
        cal.pulse.width_ns
    );
    let _ = writeln!(
        out,
        "\nfitted device (± std: {}, {} replicates):",
        cal.uncertainty.method.describe(),
        cal.uncertainty.replicates
    );
    for line in calibrate::parameter_lines(cal) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "\ngoodness of fit (measured vs simulated with the written device):"
    );
    for line in calibrate::goodness_lines(cal) {
        let _ = writeln!(out, "  {line}");
    }
    let c = &cal.convergence;
    let _ = writeln!(
        out,
        "\nwrite-verify (uswim device report, {} devices): {:.2}% converge ({:.2}% at the worst level), {:.1} \
         open-loop + {:.1} verify pulses per device",
        c.devices,
        100.0 * c.success(),
        100.0 * c.worst_level_success,
        c.mean_open_loop_pulses,
        c.mean_pulses
    );
    if !cal.notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for note in &cal.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    let _ = writeln!(out, "\nwrote {}", args.output.display());
    if let Some(path) = &args.plot {
        let _ = writeln!(out, "wrote {}", path.display());
    }
}
