//! `uswim device`: device-level characterisation. `uswim device [report] ...` write-verifies many
//! independent devices per level and reports what it takes; `uswim device fit ...` (calibration against
//! measured pulse responses) is added beside `Report` in [`DeviceCommand`].

use super::BadInput;
use super::args::{HwArgs, SeedArg};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use uswim::config::HwConfig;
use uswim::device::report::{self, LevelReport};
use uswim::trace::atomic::AtomicFile;

/// Device-level reports. Without a subcommand, runs `report` with the given arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DeviceArgs {
    /// A device command (default: `report`).
    #[command(subcommand)]
    command: Option<DeviceCommand>,
    /// Arguments of the default `report`.
    #[command(flatten)]
    report: ReportArgs,
}

/// The `uswim device` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Write-verify N independent devices at each level and report pulses, verify reads, success rate,
    /// final error and energy per device (the default).
    ///
    /// Each device is made with the sigma its variation map gives it, written open-loop, then
    /// write-verified (the `open_loop` scheme has no verify). Pulses count the open-loop write and the
    /// verify corrections; success means the last verify read was inside the band within
    /// max_iterations (for `open_loop`: the true error is within the tolerance); the final error is
    /// G - G* over all devices; energy per device adds the device's pulses and reads (V^2 G t), its ADC
    /// conversions and its write-driver overhead (row-level DAC settling is a row cost, left out).
    Report(ReportArgs),
    /// Fit the pulse-level device to measured pulse-response ramps and write a hardware configuration.
    Fit(super::device_fit::FitArgs),
}

/// Arguments of `uswim device report`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim device --hw rram_1t1r_256                           # 10,000 devices per level\n  \
uswim device --set program.scheme.v_step_v=0.1 --level 3 --trials 1000 --csv level3.csv")]
pub struct ReportArgs {
    /// The hardware.
    #[command(flatten)]
    hw: HwArgs,
    /// Only this level (0..2^bits_per_cell); default: every level.
    #[arg(long, value_name = "L")]
    level: Option<u32>,
    /// Devices per level.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    trials: u32,
    /// Seed of every device draw.
    #[command(flatten)]
    seed: SeedArg,
    /// Also write the report as CSV (one row per level, with a header).
    #[arg(long, value_name = "FILE.csv", alias = "out")]
    csv: Option<PathBuf>,
}

/// Runs a `uswim device` command.
pub fn run(args: DeviceArgs) -> anyhow::Result<()> {
    match args.command {
        Some(DeviceCommand::Report(r)) => run_report(r),
        Some(DeviceCommand::Fit(f)) => super::device_fit::run(f),
        None => run_report(args.report),
    }
}

fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let hw = args.hw.load()?;
    let levels: Vec<u32> = match args.level {
        Some(level) if level >= hw.device.levels() => {
            return Err(BadInput(format!(
                "--level: {level} is out of range; allowed: 0..={} (device.bits_per_cell = {})",
                hw.device.levels() - 1,
                hw.device.bits_per_cell
            ))
            .into());
        }
        Some(level) => vec![level],
        None => (0..hw.device.levels()).collect(),
    };
    let reports = report::run(&hw, &levels, args.trials, args.seed.seed);
    let mut rows: Vec<(String, LevelReport)> =
        reports.iter().map(|r| (r.level.to_string(), r.clone())).collect();
    if reports.len() > 1 {
        // Every level equally likely, as random data programs them.
        let mut all = LevelReport::default();
        for r in &reports {
            all.merge(r);
        }
        rows.push(("all".to_string(), all));
    }
    let reports = rows;
    print_table(&hw, &args, &reports);
    if let Some(path) = &args.csv {
        write_csv(&hw, path, &reports).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The CSV columns, in order.
const COLUMNS: &[&str] = &[
    "level",
    "target_us",
    "trials",
    "success_rate",
    "pulses_mean",
    "pulses_median",
    "pulses_p90",
    "pulses_p99",
    "pulses_max",
    "reads_mean",
    "reads_median",
    "reads_p90",
    "reads_p99",
    "reads_max",
    "open_loop_pulses_mean",
    "one_shot_error_std_us",
    "one_shot_error_std_frac",
    "error_mean_us",
    "error_std_us",
    "error_mean_frac",
    "error_std_frac",
    "pulse_energy_pj",
    "read_energy_pj",
    "adc_energy_pj",
    "driver_energy_pj",
    "energy_pj",
];

fn csv_row(hw: &HwConfig, label: &str, r: &LevelReport) -> Vec<String> {
    let n = r.trials().max(1) as f64;
    let range = hw.range_us();
    let mut row = vec![
        label.to_string(),
        if label == "all" {
            String::new()
        } else {
            format!("{}", r.target_us)
        },
        r.trials().to_string(),
        format!("{}", r.success_rate()),
    ];
    for h in [&r.pulses, &r.reads] {
        row.push(format!("{}", h.mean()));
        for q in [0.5, 0.9, 0.99] {
            row.push(h.quantile(q).to_string());
        }
        row.push(h.max().to_string());
    }
    row.push(format!("{}", r.open_loop_pulses.mean()));
    row.push(format!("{}", r.one_shot_error_std_us()));
    row.push(format!("{}", r.one_shot_error_std_us() / range));
    row.push(format!("{}", r.error_mean_us()));
    row.push(format!("{}", r.error_std_us()));
    row.push(format!("{}", r.error_mean_us() / range));
    row.push(format!("{}", r.error_std_us() / range));
    for e in [
        r.pulse_energy_pj,
        r.read_energy_pj,
        r.adc_energy_pj,
        r.driver_energy_pj,
    ] {
        row.push(format!("{}", e / n));
    }
    row.push(format!("{}", r.energy_per_device_pj()));
    row
}

fn write_csv(hw: &HwConfig, path: &PathBuf, reports: &[(String, LevelReport)]) -> anyhow::Result<()> {
    let file = AtomicFile::create(path)?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(COLUMNS)?;
    for (label, r) in reports {
        w.write_record(csv_row(hw, label, r))?;
    }
    let file = w.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error()))?;
    file.commit()?;
    Ok(())
}

fn print_table(hw: &HwConfig, args: &ReportArgs, reports: &[(String, LevelReport)]) {
    let range = hw.range_us();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} ({}): {} devices per level, seed {}, tolerance +-{:.3} uS, max {} iterations",
        if hw.name.is_empty() { &args.hw.hw } else { &hw.name },
        args.hw.hw,
        args.trials,
        args.seed.seed,
        hw.program.tolerance * range,
        hw.program.max_iterations,
    );
    let _ = writeln!(
        out,
        "{:>5} {:>9} {:>8} | {:>30} | {:>30} | {:>14} | {:>17} {:>17} | {:>11}",
        "level",
        "target_uS",
        "success",
        "pulses mean/med/p90/p99/max",
        "reads mean/med/p90/p99/max",
        "one-shot std uS",
        "final error mean/std uS",
        "(% of range)",
        "pJ/device"
    );
    for (label, r) in reports {
        let dist = |h: &report::CountHistogram| {
            format!(
                "{:.2}/{}/{}/{}/{}",
                h.mean(),
                h.quantile(0.5),
                h.quantile(0.9),
                h.quantile(0.99),
                h.max()
            )
        };
        let _ = writeln!(
            out,
            "{:>5} {:>9} {:>7.2}% | {:>30} | {:>30} | {:>15} | {:>23} {:>17} | {:>11.2}",
            label,
            if label == "all" {
                String::new()
            } else {
                format!("{:.3}", r.target_us)
            },
            100.0 * r.success_rate(),
            dist(&r.pulses),
            dist(&r.reads),
            format!("{:.3}", r.one_shot_error_std_us()),
            format!("{:+.3}/{:.3}", r.error_mean_us(), r.error_std_us()),
            format!(
                "{:+.3}/{:.3}",
                100.0 * r.error_mean_us() / range,
                100.0 * r.error_std_us() / range
            ),
            r.energy_per_device_pj(),
        );
    }
}
