//! `uswim eval`: clean (noise-free) test accuracy of a model file.

use super::args::NormalizeArg;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use uswim::nn::{Split, model_file};

/// Arguments of `uswim eval`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim eval --model models/lenet_mnist.safetensors\n  \
uswim eval --model my_net.safetensors --arch convnet --data fashion-mnist --json")]
pub struct EvalArgs {
    /// Model file (safetensors with PyTorch state_dict names).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Architecture (mlp, lenet, convnet, resnet18); defaults to the `arch` recorded in the file by
    /// `uswim train`.
    #[arg(long, value_name = "NAME")]
    arch: Option<String>,
    /// Dataset name (mnist, fashion-mnist) or folder of IDX files; the test split is used.
    #[arg(long, value_name = "NAME|DIR", alias = "dataset", default_value = "mnist")]
    data: String,
    #[command(flatten)]
    normalize: NormalizeArg,
    /// Also print one JSON object on the last line (accuracy_pct in percent, images, correct, ...).
    #[arg(long)]
    json: bool,
}

/// Runs `uswim eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let (net, _) = model_file::load(args.arch.as_deref(), &args.model)?;
    let arch = net.arch();
    let test_set = args.normalize.load(&args.data, Split::Test)?;
    super::process::require_images(&test_set, "test", &args.data)?;
    let start = Instant::now();
    let acc = net.accuracy(&test_set)?;
    let seconds = start.elapsed().as_secs_f64();
    outln!(
        "{arch} on {} (test): accuracy {:.2}% ({} of {} images) in {seconds:.3} s",
        test_set.name(),
        100.0 * acc.fraction(),
        acc.correct,
        acc.images
    )?;
    if args.json {
        let json = serde_json::json!({
            "model": args.model.display().to_string(),
            "arch": arch,
            "dataset": test_set.name(),
            "split": "test",
            "accuracy_pct": 100.0 * acc.fraction(),
            "correct": acc.correct,
            "images": acc.images,
            "seconds": seconds,
        });
        outln!("{json}")?;
    }
    Ok(())
}
