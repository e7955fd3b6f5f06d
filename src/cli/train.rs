//! `uswim train`: train a zoo architecture on a dataset and save it as safetensors.

use super::args::{GlobalArgs, NormalizeArg, SeedArg};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use uswim::nn::train::{TrainConfig, Trainer};
use uswim::nn::{Split, model_file, zoo};

/// Arguments of `uswim train`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim train --arch lenet --data mnist --epochs 8 -o models/lenet_mnist.safetensors\n  \
uswim train --arch mlp --data fashion-mnist -o out/mlp_fashion.safetensors")]
pub struct TrainArgs {
    /// Architecture: mlp, lenet, convnet or resnet18.
    #[arg(long, value_name = "NAME", default_value = "lenet")]
    arch: String,
    /// Dataset name (mnist, fashion-mnist) or folder of IDX files.
    #[arg(long, value_name = "NAME|DIR", alias = "dataset", default_value = "mnist")]
    data: String,
    #[command(flatten)]
    normalize: NormalizeArg,
    /// Passes over the training set.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Seed of the initialisation and the shuffles.
    #[command(flatten)]
    seed: SeedArg,
    /// Images per mini-batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam step size.
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    /// Output model file (safetensors, PyTorch state_dict names).
    #[arg(short, long, value_name = "FILE", alias = "out")]
    output: PathBuf,
}

/// Runs `uswim train`.
pub fn run(args: TrainArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let seed = args.seed.seed;
    let mut net = zoo::build(&args.arch)?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed,
    };
    config.validate()?;
    let train_set = args.normalize.load(&args.data, Split::Train)?;
    let test_set = args.normalize.load(&args.data, Split::Test)?;
    net.check_dataset(&test_set)?;
    net.initialize(seed);
    let mut trainer = Trainer::new(&net, &train_set, &config)?;
    let batches = train_set.len().div_ceil(config.batch_size);
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((batches * config.epochs) as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let mut test_accuracy = 0.0;
    for e in 1..=config.epochs {
        let p = trainer.epoch(&mut net, &train_set, |p| {
            bar.inc(1);
            if p.batch % 10 == 0 || p.batch == p.batches {
                bar.set_message(format!(
                    "epoch {}/{} loss {:.4} acc {:.2}%",
                    p.epoch,
                    config.epochs,
                    p.loss,
                    100.0 * p.accuracy
                ));
            }
        });
        uswim::nn::train::check_finite(&net, &p, &config)?;
        test_accuracy = net.accuracy(&test_set)?.fraction();
        bar.suspend(|| {
            outln!(
                "epoch {e}/{}: train loss {:.4}, train accuracy {:.2}%, test accuracy {:.2}% ({:.1} s)",
                config.epochs,
                p.loss,
                100.0 * p.accuracy,
                100.0 * test_accuracy,
                start.elapsed().as_secs_f64()
            )
        })?;
    }
    bar.finish_and_clear();
    let metadata = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("arch".to_string(), args.arch.clone()),
        ("dataset".to_string(), train_set.name().to_string()),
        ("epochs".to_string(), args.epochs.to_string()),
        ("seed".to_string(), seed.to_string()),
        ("batch_size".to_string(), args.batch_size.to_string()),
        ("learning_rate".to_string(), args.lr.to_string()),
        (
            "test_accuracy_pct".to_string(),
            format!("{:.2}", 100.0 * test_accuracy),
        ),
        (
            "trained_by".to_string(),
            format!("uswim {}", env!("CARGO_PKG_VERSION")),
        ),
    ]);
    model_file::save(&net, &args.output, &metadata)
        .with_context(|| format!("writing {}", args.output.display()))?;
    outln!(
        "saved {} ({} test accuracy {:.2}%)",
        args.output.display(),
        args.arch,
        100.0 * test_accuracy
    )?;
    Ok(())
}
