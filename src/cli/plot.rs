//! `uswim plot`: a chart of columns of any CSV (sweep results, traces, layer tables), or the Gantt chart
//! of a programming run's `arrays.csv`.

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use uswim::plot::{self, CsvPlot, FigureSize, Filter, Interval, SeriesStyle};

/// Arguments of `uswim plot`.
///
/// Axis labels are the column names in words with their units, scaled to fit (`total_time_ns` becomes
/// "total time (ms)", `_pj` energies pJ to mJ, `_us` conductances µS); `--raw-units` keeps the names and
/// values as they are. Log axes have a tick at every decade and minor ticks between.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim plot out/sweep/results.csv --x array.rows --y total_time_ns --log-x -o time.svg\n  \
uswim plot results.csv --x fraction --y accuracy_mean_pct --err accuracy_ci95_pct --group method --facet variation -o acc.png\n  \
uswim plot results.csv --x adc.adcs_per_array --y total_time_ns --filter array.rows=256 --size one-column -o adc.png\n  \
uswim plot out/program/arrays.csv --gantt -o gantt.svg      # channels x time, arrays coloured by layer")]
pub struct PlotArgs {
    /// The CSV file (with a header row); with --gantt an arrays.csv of `uswim program`.
    #[arg(value_name = "CSV")]
    csv: PathBuf,
    /// The Gantt chart of a programming run: one lane per programming channel, one bar per array,
    /// coloured by layer (names from the layers.csv beside the arrays.csv).
    #[arg(long, conflicts_with_all = ["x", "y", "group", "facet", "filters", "err", "err_bounds"])]
    gantt: bool,
    /// Column for the horizontal axis.
    #[arg(long, value_name = "COL", required_unless_present = "gantt")]
    x: Option<String>,
    /// Column(s) for the vertical axis (repeat, or separate with commas, for several).
    #[arg(
        long,
        value_name = "COL",
        value_delimiter = ',',
        required_unless_present = "gantt"
    )]
    y: Vec<String>,
    /// One or two columns whose values split the rows into series (e.g. `method` or `method,variation`).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    group: Vec<String>,
    /// A column whose values each get a panel, side by side with the same axes.
    #[arg(long, value_name = "COL")]
    facet: Option<String>,
    /// Panels per row with --facet.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    columns: u32,
    /// Keep only the rows where COL equals VALUE (as text or as a number; repeatable, all must hold).
    #[arg(long = "filter", value_name = "COL=VALUE", value_parser = parse_filter)]
    filters: Vec<Filter>,
    /// Column with the half width of each y value's interval (e.g. accuracy_ci95_pct): a band around lines,
    /// error bars on points.
    #[arg(long, value_name = "COL", conflicts_with = "err_bounds")]
    err: Option<String>,
    /// Columns with the low and high ends of each y value's interval.
    #[arg(long, value_name = "LO,HI", value_delimiter = ',', num_args = 1)]
    err_bounds: Vec<String>,
    /// Output file; `.png` or `.svg`.
    #[arg(short, long, value_name = "FILE", alias = "out")]
    output: PathBuf,
    /// Figure size: for the screen, or one or two columns of a paper (3.5 in or 7.16 in wide, 8 pt text;
    /// PNG at 300 dpi).
    #[arg(long, value_enum, default_value_t = SizeArg::Screen)]
    size: SizeArg,
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
    /// Column names and raw values on the axes instead of words and scaled units.
    #[arg(long)]
    raw_units: bool,
}

/// `--style` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StyleArg {
    /// A line through the points, sorted by x.
    Line,
    /// Markers only (scatter).
    Points,
    /// A line with markers.
    LinePoints,
}

/// `--size` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum SizeArg {
    /// 1024x720 pixels (720x520 per panel).
    Screen,
    /// One column of a two-column paper: 3.5 in wide.
    OneColumn,
    /// Both columns: 7.16 in wide.
    TwoColumn,
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    text.parse()
}

/// Runs `uswim plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let size = match args.size {
        SizeArg::Screen => FigureSize::Screen,
        SizeArg::OneColumn => FigureSize::OneColumn,
        SizeArg::TwoColumn => FigureSize::TwoColumn,
    };
    let context = || format!("cannot plot {}", args.csv.display());
    if args.gantt {
        let mut gantt = plot::gantt_from_arrays_csv(&args.csv).map_err(classify)?;
        gantt.title = args.title.clone().unwrap_or_default();
        plot::render_gantt(&gantt, size, &args.output)
            .map_err(classify)
            .with_context(context)?;
        eprintln!("wrote {}", args.output.display());
        return Ok(());
    }
    let interval = match (&args.err, args.err_bounds.as_slice()) {
        (Some(c), _) => Some(Interval::HalfWidth(c.clone())),
        (None, []) => None,
        (None, [lo, hi]) => Some(Interval::Bounds(lo.clone(), hi.clone())),
        (None, other) => {
            return Err(super::BadInput(format!(
                "--err-bounds: {} columns given; expected LO,HI",
                other.len()
            ))
            .into());
        }
    };
    let spec = CsvPlot {
        x: args.x.clone().unwrap_or_default(),
        y: args.y.clone(),
        group: args.group.clone(),
        facet: args.facet.clone(),
        filters: args.filters.clone(),
        interval,
        log_x: args.log_x,
        log_y: args.log_y,
        title: args.title.clone(),
        style: args.style.map(|s| match s {
            StyleArg::Line => SeriesStyle::Line,
            StyleArg::Points => SeriesStyle::Points,
            StyleArg::LinePoints => SeriesStyle::LinePoints,
        }),
        raw_units: args.raw_units,
    };
    let charts = plot::charts_from_csv(&args.csv, &spec).map_err(classify)?;
    plot::render_panels_sized(&charts, args.columns as usize, size, &args.output)
        .map_err(classify)
        .with_context(context)?;
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
