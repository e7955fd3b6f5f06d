//! `uswim merge`: join the shard outputs of a sweep into one results CSV.

use clap::Args;
use std::path::PathBuf;
use uswim::experiment::{shard_merge, shard_reproduce};

/// Arguments of `uswim merge`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim merge out/sweep                       # every shard in one folder -> out/sweep/results.csv\n  \
uswim merge node1/ node2/ -o results.csv\n  \
uswim merge out/rep                         # reproduce shards -> out/rep/results.csv, headline.md, plots")]
pub struct MergeArgs {
    /// Folders holding shard-I-of-N.csv/.json files (all shards of one sweep, in any of them).
    #[arg(value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// The merged CSV, alone. Default: results.csv and sweep.json in the first folder, added as one set
    /// (both or neither), as a single run writes them; the CSV is byte-identical to a single run's.
    #[arg(short, long, value_name = "FILE", alias = "out")]
    output: Option<PathBuf>,
}

/// Runs `uswim merge`: a sweep's shards into its results CSV, or `uswim reproduce` shards into the
/// outputs of the whole experiment (results.csv, headline.md and the plots, in the first folder).
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let classify = |e: shard_merge::MergeError| {
        if e.is_bad_input() {
            anyhow::Error::new(super::BadInput(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    };
    let format = shard_merge::format_of(&args.dirs).map_err(classify)?;
    if format == shard_reproduce::FORMAT && args.output.is_none() {
        let merged = shard_reproduce::merge_into_folder(&args.dirs, &args.dirs[0]).map_err(classify)?;
        out!("{}", merged.headline)?;
        let report = merged.report;
        eprintln!(
            "wrote {}, headline.md and the plots ({} rows from {} shards, spec hash {})",
            report.out.display(),
            report.rows,
            report.shards,
            report.spec_hash
        );
        return Ok(());
    }
    let merged = match &args.output {
        Some(out) => shard_merge::merge(&args.dirs, out),
        None => shard_merge::merge_into_folder(&args.dirs, &args.dirs[0]),
    };
    let report = merged.map_err(classify)?;
    eprintln!(
        "wrote {} ({} rows from {} shards, spec hash {})",
        report.out.display(),
        report.rows,
        report.shards,
        report.spec_hash
    );
    Ok(())
}
