//! `uswim merge`: join the shard outputs of a sweep into one results CSV.

use clap::Args;
use std::path::PathBuf;
use uswim::experiment::shard_merge;

/// Arguments of `uswim merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Folders holding shard-I-of-N.csv/.json files (all shards of one sweep, in any of them).
    #[arg(value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// The merged CSV (default: results.csv in the first folder): byte-identical to a single run's.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `uswim merge`.
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(|| args.dirs[0].join("results.csv"));
    let report = shard_merge::merge(&args.dirs, &out).map_err(|e| {
        if e.is_bad_input() {
            anyhow::Error::new(super::BadInput(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    eprintln!(
        "wrote {} ({} rows from {} shards, spec hash {})",
        report.out.display(),
        report.rows,
        report.shards,
        report.spec_hash
    );
    Ok(())
}
