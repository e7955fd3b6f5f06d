//! `uswim plot`: a chart of two (or more) columns of any CSV: sweep results, traces, layer tables.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use uswim::plot::{self, CsvPlot, SeriesStyle};

/// Arguments of `uswim plot`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim plot out/sweep/results.csv --x array.rows --y total_time_ns --log-x -o time.svg\n  \
uswim plot out/program/layers.csv --x layer --y energy_pj --style points -o layers.png")]
pub struct PlotArgs {
    /// The CSV file (with a header row).
    #[arg(value_name = "CSV")]
    csv: PathBuf,
    /// Column for the horizontal axis.
    #[arg(long, value_name = "KEY")]
    x: String,
    /// Column(s) for the vertical axis (repeat, or separate with commas, for several).
    #[arg(long, value_name = "KEY", required = true, value_delimiter = ',')]
    y: Vec<String>,
    /// Column whose values split the rows into series (e.g. program.scheme.kind).
    #[arg(long, value_name = "KEY")]
    group: Option<String>,
    /// Output file; `.png` or `.svg`.
    #[arg(short, long, value_name = "FILE", alias = "out")]
    output: PathBuf,
    /// Logarithmic x axis.
    #[arg(long)]
    log_x: bool,
    /// Logarithmic y axis.
    #[arg(long)]
    log_y: bool,
    /// Chart title (default: "Y vs X").
    #[arg(long)]
    title: Option<String>,
    /// How to draw the series (default: line with markers, plain line beyond 60 points per series).
    #[arg(long, value_enum)]
    style: Option<StyleArg>,
}

/// `--style` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StyleArg {
    /// A line through the points, sorted by x.
    Line,
    /// Markers only (scatter).
    Points,
    /// A line with markers.
    LinePoints,
}

/// Runs `uswim plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let spec = CsvPlot {
        x: args.x,
        y: args.y,
        group: args.group,
        log_x: args.log_x,
        log_y: args.log_y,
        title: args.title,
        style: args.style.map(|s| match s {
            StyleArg::Line => SeriesStyle::Line,
            StyleArg::Points => SeriesStyle::Points,
            StyleArg::LinePoints => SeriesStyle::LinePoints,
        }),
    };
    let chart = plot::chart_from_csv(&args.csv, &spec).map_err(classify)?;
    plot::render(&chart, &args.output)
        .map_err(classify)
        .with_context(|| format!("cannot plot {}", args.csv.display()))?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

/// Marks bad-input plot errors so that they exit with code 2.
pub fn classify(e: plot::PlotError) -> anyhow::Error {
    if e.is_bad_input() {
        anyhow::Error::new(super::BadInput(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}
