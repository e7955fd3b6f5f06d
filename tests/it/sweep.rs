//! Sweeps: spec errors, grid rows and order, sharding and merge, Monte-Carlo accuracy columns, and the
//! shipped array-size example.

use std::path::{Path, PathBuf};
use std::process::Command;
use uswim::experiment::shard::Shard;
use uswim::experiment::shard_merge::{self, MergeError};
use uswim::experiment::sweep::{self, SweepOptions};
use uswim::experiment::sweep_error::SweepError;
use uswim::experiment::sweep_point::{ACCURACY_COLUMNS, FIXED_COLUMNS, metric_columns};
use uswim::experiment::sweep_spec::SweepSpec;
use uswim::plot::{self, CsvPlot};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn parse(text: &str) -> Result<SweepSpec, SweepError> {
    SweepSpec::parse(text, "spec.toml", Path::new("."))
}

/// The first point whose configuration fails, as the error a run would report.
fn first_point_error(spec: &SweepSpec) -> SweepError {
    sweep::check_grid(spec, Shard::WHOLE).expect_err("a point must fail")
}

/// A small, fast two-axis sweep: the statistical device (no pulse physics), the MLP with 4-bit weights,
/// 128x128 arrays.
const TWO_AXIS: &str = r#"
name = "two-axis"
hw = "paper_statistical"
set = ["array.rows=128", "array.cols=128", "program.write_drivers_per_array=32", "mapping.weight_bits=4"]
model = "mlp"
seed = 7

[[axis]]
key = "program.tolerance"
values = [0.02, 0.06]

[[axis]]
key = "adc.adcs_per_array"
values = [2, 8, 32]
"#;

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn malformed_spec_is_an_error_naming_file_and_line() {
    let err = parse("hw = \"rram_1t1r_256\"\n[[axis]\nkey = 1\n").unwrap_err();
    assert!(err.is_bad_input());
    let text = err.to_string();
    assert!(text.starts_with("spec.toml: line 2"), "{text}");
}

#[test]
fn unknown_spec_fields_and_bad_axes_are_named() {
    let err = parse("hw = \"rram_1t1r_256\"\n[[axes]]\nkey = \"array.rows\"\nvalues = [64]\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `axes`"), "{err}");
    let err = parse("hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"array.rows\"\nvalues = []\n").unwrap_err();
    assert!(err.to_string().contains("axis[0].values: empty"), "{err}");
    let err = parse(
        "hw = \"rram_1t1r_256\"\n[[axis]]\nkeys = [\"array.rows\", \"array.cols\"]\n\
                     values = [[64, 64], [128]]\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("axis[0].values[1]") && err.to_string().contains("list of 2"),
        "{err}"
    );
    let err = parse(
        "hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"array.rows\"\nvalues = [64]\nlabels = [\"a\", \"b\"]\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("axis[0].labels: 2 labels for 1 values"),
        "{err}"
    );
    let err = parse(
        "hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"array.rows\"\nvalues = [64]\n\
         [[axis]]\nkey = \"array.rows\"\nvalues = [128]\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("swept by more than one axis"), "{err}");
    let err = parse("hw = \"no_such_preset\"\n").unwrap_err();
    assert!(
        err.to_string().contains("spec.toml: hw:") && err.to_string().contains("not a preset"),
        "{err}"
    );
    let err = parse("hw = \"rram_1t1r_256\"\nmethod = \"best\"\n").unwrap_err();
    assert!(err.to_string().contains("method: unknown method `best`"), "{err}");
}

#[test]
fn unknown_key_path_is_the_configs_own_error_naming_the_point() {
    let spec = parse("hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"array.rowz\"\nvalues = [64, 128]\n").unwrap();
    let err = first_point_error(&spec);
    assert!(err.is_bad_input());
    let text = err.to_string();
    assert!(text.contains("point 0 (array.rowz=64)"), "{text}");
    assert!(
        text.contains("array.rowz") && text.contains("unknown field `rowz`"),
        "{text}"
    );
}

#[test]
fn wrong_value_type_is_the_configs_own_error_naming_the_point() {
    let spec =
        parse("hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"program.tolerance\"\nvalues = [0.02, \"tight\"]\n")
            .unwrap();
    let text = first_point_error(&spec).to_string();
    assert!(text.contains("point 1 (program.tolerance=tight)"), "{text}");
    assert!(
        text.contains("program.tolerance") && text.contains("invalid type"),
        "{text}"
    );
    // A value of the right type but out of range is named with its allowed range.
    let spec =
        parse("hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"adc.adcs_per_array\"\nvalues = [8, 512]\n").unwrap();
    let text = first_point_error(&spec).to_string();
    assert!(
        text.contains("point 1 (adc.adcs_per_array=512)") && text.contains("1..=256"),
        "{text}"
    );
}

#[test]
fn two_axis_sweep_writes_one_row_per_point_in_grid_order() {
    let dir = scratch("two-axis");
    let spec = parse(TWO_AXIS).unwrap();
    assert_eq!(spec.len(), 6);
    let report = sweep::run(&spec, &dir, &SweepOptions::default()).unwrap();
    assert_eq!(report.rows, 6);
    let (header, rows) = read_csv(&report.csv);

    let mut expected: Vec<String> = FIXED_COLUMNS.iter().map(|s| s.to_string()).collect();
    expected.extend(["program.tolerance".to_string(), "adc.adcs_per_array".to_string()]);
    expected.extend(metric_columns());
    assert_eq!(header, expected);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let num = |row: &Vec<String>, name: &str| row[col(name)].parse::<f64>().unwrap();

    // Stable order: point 0..6, the first axis slowest.
    let grid: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[0].clone(),
                r[col("program.tolerance")].clone(),
                r[col("adc.adcs_per_array")].clone(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("0", "0.02", "2"),
        ("1", "0.02", "8"),
        ("2", "0.02", "32"),
        ("3", "0.06", "2"),
        ("4", "0.06", "8"),
        ("5", "0.06", "32"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(grid, want);

    for row in &rows {
        assert_eq!(row[col("model")], "mlp");
        // Full write-verify: every device selected; MLP 784-256-128-10 weights.
        assert_eq!(num(row, "weights"), (784 * 256 + 256 * 128 + 128 * 10) as f64);
        assert_eq!(num(row, "selected_devices"), num(row, "devices"));
        assert!(num(row, "total_time_ns") > 0.0 && num(row, "total_energy_pj") > 0.0);
        // Every conversion belongs to a verify read.
        assert_eq!(num(row, "adc_conversions"), num(row, "verify_reads"));
        let parts: f64 = metric_columns()
            .iter()
            .filter(|c| c.starts_with("energy_"))
            .map(|c| num(row, c))
            .sum();
        assert!(
            (parts - num(row, "total_energy_pj")).abs() <= 1e-9 * parts,
            "energy components sum"
        );
    }
    // A looser tolerance needs fewer verify reads; fewer ADCs never make programming faster.
    assert!(num(&rows[4], "verify_reads") < num(&rows[1], "verify_reads"));
    assert!(num(&rows[0], "total_time_ns") >= num(&rows[1], "total_time_ns"));
    assert!(num(&rows[1], "total_time_ns") >= num(&rows[2], "total_time_ns"));
    // Common random numbers by default: every point programs the chips of the spec seed.
    assert_eq!(rows[0][col("seed")], rows[1][col("seed")]);

    // Deterministic: the same spec gives the same bytes.
    let first = std::fs::read(&report.csv).unwrap();
    let again = sweep::run(&spec, &dir, &SweepOptions::default()).unwrap();
    assert_eq!(std::fs::read(&again.csv).unwrap(), first);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run_shard(spec: &SweepSpec, dir: &Path, index: u32, count: u32) {
    let options = SweepOptions {
        shard: Some(Shard::new(index, count, "test").unwrap()),
        ..SweepOptions::default()
    };
    sweep::run(spec, dir, &options).unwrap();
}

#[test]
fn one_shard_and_three_shards_merge_to_the_single_run_byte_for_byte() {
    let root = scratch("shards");
    let spec = parse(TWO_AXIS).unwrap();
    let whole = sweep::run(&spec, &root.join("whole"), &SweepOptions::default()).unwrap();
    let whole = std::fs::read(whole.csv).unwrap();

    // One shard, on one thread: neither the sharding nor the thread count changes a byte.
    let single_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    single_thread.install(|| run_shard(&spec, &root.join("one"), 0, 1));
    shard_merge::merge(&[root.join("one")], &root.join("one.csv")).unwrap();
    assert_eq!(std::fs::read(root.join("one.csv")).unwrap(), whole);

    // Three shards, spread over two folders, as a job array on several nodes might leave them.
    run_shard(&spec, &root.join("a"), 0, 3);
    run_shard(&spec, &root.join("b"), 1, 3);
    run_shard(&spec, &root.join("a"), 2, 3);
    let report = shard_merge::merge(&[root.join("a"), root.join("b")], &root.join("three.csv")).unwrap();
    assert_eq!((report.shards, report.rows), (3, 6));
    assert_eq!(std::fs::read(root.join("three.csv")).unwrap(), whole);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn missing_duplicated_mismatched_or_truncated_shards_are_errors() {
    let root = scratch("bad-shards");
    let spec = parse(TWO_AXIS).unwrap();
    let a = root.join("a");
    run_shard(&spec, &a, 0, 3);
    run_shard(&spec, &a, 2, 3);
    let out = root.join("merged.csv");

    let err = shard_merge::merge(std::slice::from_ref(&a), &out).unwrap_err();
    assert!(
        matches!(&err, MergeError::Missing { missing, .. } if missing == &[1]),
        "{err}"
    );
    assert!(err.to_string().contains("shard-1-of-3.json"), "{err}");
    assert!(!out.exists(), "no partial merged file");

    // The missing shard appears, but another folder also holds a copy of shard 0.
    run_shard(&spec, &a, 1, 3);
    let b = root.join("b");
    std::fs::create_dir_all(&b).unwrap();
    for ext in ["csv", "json"] {
        std::fs::copy(
            a.join(format!("shard-0-of-3.{ext}")),
            b.join(format!("shard-0-of-3.{ext}")),
        )
        .unwrap();
    }
    let err = shard_merge::merge(&[a.clone(), b.clone()], &out).unwrap_err();
    assert!(matches!(err, MergeError::Duplicate { .. }), "{err}");
    assert!(err.to_string().contains("shard 0/3 appears twice"), "{err}");

    // A shard of another sweep (another seed): different spec hash.
    let other = parse(&TWO_AXIS.replace("seed = 7", "seed = 8")).unwrap();
    let c = root.join("c");
    run_shard(&spec, &c, 0, 3);
    run_shard(&spec, &c, 2, 3);
    run_shard(&other, &c, 1, 3);
    let err = shard_merge::merge(std::slice::from_ref(&c), &out).unwrap_err();
    assert!(
        matches!(&err, MergeError::Mismatch { field, .. } if *field == "spec_hash"),
        "{err}"
    );

    // A truncated CSV (a node died while copying).
    let csv = a.join("shard-1-of-3.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(&csv, format!("{}\n", cut[..cut.len() - 1].join("\n"))).unwrap();
    let err = shard_merge::merge(std::slice::from_ref(&a), &out).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");

    // Nothing to merge.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        shard_merge::merge(&[empty], &out),
        Err(MergeError::NoShards { .. })
    ));
    assert!(!out.exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn cli_exit_codes_and_slurm_sharding() {
    let root = scratch("cli");
    let spec_path = root.join("spec.toml");
    std::fs::write(&spec_path, TWO_AXIS).unwrap();
    let bin = env!("CARGO_BIN_EXE_uswim");

    // Shards from the Slurm job-array variables (task ids 1..=2 with --array=1-2).
    for task in ["1", "2"] {
        let status = Command::new(bin)
            .args(["sweep", "--spec"])
            .arg(&spec_path)
            .arg("--out")
            .arg(root.join("out"))
            .env("SLURM_ARRAY_TASK_ID", task)
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert!(root.join("out/shard-0-of-2.csv").exists() && root.join("out/shard-1-of-2.csv").exists());
    let status = Command::new(bin)
        .arg("merge")
        .arg(root.join("out"))
        .status()
        .unwrap();
    assert!(status.success());
    let (_, rows) = read_csv(&root.join("out/results.csv"));
    assert_eq!(rows.len(), 6);

    // Bad input exits with 2 and names the problem.
    std::fs::write(
        &spec_path,
        "hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"array.rowz\"\nvalues = [64]\n",
    )
    .unwrap();
    let output = Command::new(bin)
        .args(["sweep", "--check", "--spec"])
        .arg(&spec_path)
        .arg("--out")
        .arg(root.join("bad"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown field `rowz`"));
    let output = Command::new(bin)
        .arg("merge")
        .arg(root.join("bad"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn array_size_example_reports_latency_for_every_size_and_plots() {
    let dir = scratch("array-size");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("hw_configs/sweeps/array_size.toml");
    let spec = SweepSpec::load(&path).unwrap();
    assert_eq!(spec.len(), 20);
    let report = sweep::run(&spec, &dir, &SweepOptions::default()).unwrap();
    let (header, rows) = read_csv(&report.csv);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 20);
    let sizes: Vec<u32> = rows
        .iter()
        .map(|r| r[col("array.rows")].parse().unwrap())
        .collect();
    assert_eq!((sizes[0], sizes[19]), (64, 1024));
    assert!(sizes.windows(2).all(|w| w[0] < w[1]));
    let mut arrays_before = u32::MAX;
    for row in &rows {
        assert_eq!(row[col("array.rows")], row[col("array.cols")]);
        let t: f64 = row[col("total_time_ns")].parse().unwrap();
        assert!(t > 0.0, "latency at size {}", row[col("array.rows")]);
        // The same network (LeNet, 105,918 weights) at every size, on fewer and fewer arrays.
        assert_eq!(row[col("weights")], "105918");
        let arrays: u32 = row[col("arrays")].parse().unwrap();
        assert!(arrays <= arrays_before);
        arrays_before = arrays;
    }
    // The largest arrays program slower than the default 256x256: rows are programmed one at a time.
    let at = |size: u32| -> f64 {
        rows[sizes.iter().position(|&s| s == size).unwrap()][col("total_time_ns")]
            .parse()
            .unwrap()
    };
    assert!(at(1024) > at(256));

    let chart = plot::chart_from_csv(
        &report.csv,
        &CsvPlot {
            x: "array.rows".into(),
            y: vec!["total_time_ns".into()],
            log_x: true,
            log_y: true,
            ..CsvPlot::default()
        },
    )
    .unwrap();
    assert_eq!(chart.series[0].points.len(), 20);
    plot::render(&chart, dir.join("latency.png")).unwrap();
    assert!(std::fs::metadata(dir.join("latency.png")).unwrap().len() > 10_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scored_selection_verifies_the_budget_and_common_seeds_repeat_rows() {
    let dir = scratch("scored");
    let axes = TWO_AXIS.find("[[axis]]").unwrap();
    let text = format!(
        "{}{}",
        &TWO_AXIS[..axes],
        r#"common_seed = true
calib_samples = 200

[[axis]]
key = "method"
values = ["magnitude", "swim", "uswim"]

[[axis]]
key = "fraction"
values = [0.0, 0.1, 0.5, 1.0]
"#
    );
    let spec = parse(&text).unwrap();
    assert_eq!(spec.len(), 12);
    let report = sweep::run(&spec, &dir, &SweepOptions::default()).unwrap();
    let (header, rows) = read_csv(&report.csv);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let num = |row: &Vec<String>, name: &str| row[col(name)].parse::<f64>().unwrap();
    let weights = num(&rows[0], "weights");
    for row in &rows {
        let fraction = num(row, "fraction");
        // The global top-k holds exactly round(fraction x weights) weights.
        assert_eq!(
            num(row, "selected_weights"),
            (fraction * weights).round(),
            "{row:?}"
        );
    }
    for m in 0..3 {
        let at = |f: usize| &rows[4 * m + f];
        // More verified weights never program faster, and cost more verify reads.
        assert!(num(at(1), "verify_reads") < num(at(2), "verify_reads"));
        assert!(num(at(2), "verify_reads") < num(at(3), "verify_reads"));
        // Common random numbers: no and full write-verify do not depend on the method.
        assert_eq!(
            rows[4 * m][col("total_time_ns")..],
            rows[0][col("total_time_ns")..]
        );
        assert_eq!(
            rows[4 * m + 3][col("total_time_ns")..],
            rows[3][col("total_time_ns")..]
        );
    }
    // Different scores choose different weights (and so different devices to verify).
    assert_ne!(rows[1][col("verify_reads")], rows[5][col("verify_reads")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn accuracy_spec_keys_are_checked() {
    let err = parse("hw = \"rram_1t1r_256\"\nmc_runs = 4\n").unwrap_err();
    assert!(err.is_bad_input());
    assert!(
        err.to_string()
            .starts_with("spec.toml: mc_runs: 4 Monte-Carlo accuracy runs need the test set")
            && err.to_string().contains("add `data`"),
        "{err}"
    );
    let err = parse("hw = \"rram_1t1r_256\"\ndata = \"mnist\"\nmc_runs = -1\n").unwrap_err();
    assert!(err.to_string().starts_with("spec.toml: mc_runs"), "{err}");
    let err = parse("hw = \"rram_1t1r_256\"\ndata = \"mnist\"\nmc_runs = 1000000\n").unwrap_err();
    assert!(
        err.to_string().contains("mc_runs: 1000000 is out of range"),
        "{err}"
    );
    let err = parse("hw = \"rram_1t1r_256\"\ndata = \"mnist\"\nmc_runs = 2\ntest_images = 0\n").unwrap_err();
    assert!(
        err.to_string().contains("test_images: 0 is out of range"),
        "{err}"
    );
    let err = parse("hw = \"rram_1t1r_256\"\ntest_images = 100\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("test_images: only used by the accuracy runs"),
        "{err}"
    );
    // The accuracy columns are reserved even in a sweep that does not write them.
    let err = parse(
        "hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"array.rows\"\nvalues = [64]\nlabels = [\"a\"]\n\
         name = \"accuracy_mean_pct\"\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("column `accuracy_mean_pct`"), "{err}");
    // Without `mc_runs` the columns and the spec hash are those of a spec that never heard of accuracy.
    let plain = parse("hw = \"rram_1t1r_256\"\n").unwrap();
    let zero = parse("hw = \"rram_1t1r_256\"\nmc_runs = 0\ndata = \"mnist\"\n").unwrap();
    assert_eq!(plain.hash_hex(), zero.hash_hex());
    assert_eq!(sweep::header(&plain), sweep::header(&zero));
    let asked = parse("hw = \"rram_1t1r_256\"\nmc_runs = 2\ndata = \"mnist\"\n").unwrap();
    assert_ne!(asked.hash_hex(), plain.hash_hex());
    assert_eq!(
        sweep::header(&asked)[sweep::header(&plain).len()..],
        ACCURACY_COLUMNS
    );
}

/// LeNet trained on MNIST, on the statistical programmer: no and full write-verify, two Monte-Carlo
/// runs each over 500 test images.
const ACCURACY: &str = r#"
hw = "paper_statistical"
model = "models/lenet_mnist.safetensors"
data = "mnist"
test_images = 500
mc_runs = 2
seed = 3

[[axis]]
key = "fraction"
values = [0, 1]
"#;

#[test]
fn accuracy_columns_follow_the_summary_and_match_the_evaluator() {
    use std::borrow::Cow;
    use uswim::eval::Evaluator;
    use uswim::map::{LayerWeights, Mapped};
    use uswim::nn::{Dataset, Split};
    use uswim::sim::Mask;

    let root = scratch("accuracy");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = SweepSpec::parse(ACCURACY, "accuracy.toml", manifest).unwrap();
    let report = sweep::run(&spec, &root.join("whole"), &SweepOptions::default()).unwrap();
    let (header, rows) = read_csv(&report.csv);
    let summary_end = FIXED_COLUMNS.len() + metric_columns().len();
    assert_eq!(header.len(), summary_end + ACCURACY_COLUMNS.len());
    assert_eq!(header[summary_end..], ACCURACY_COLUMNS);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let num = |row: &Vec<String>, name: &str| row[col(name)].parse::<f64>().unwrap();
    for row in &rows {
        // Percent, as every accuracy uswim reports.
        let mean = num(row, "accuracy_mean_pct");
        assert!((0.0..=100.0).contains(&mean), "{row:?}");
        assert!(
            num(row, "accuracy_std_pct") >= 0.0 && num(row, "accuracy_ci95_pct") >= 0.0,
            "{row:?}"
        );
        // 500 test images: every accuracy is a multiple of 1/500 (0.2%), so is twice the mean of two runs.
        assert!(((mean * 10.0) - (mean * 10.0).round()).abs() < 1e-6, "{row:?}");
    }
    let none = num(&rows[0], "accuracy_mean_pct");
    let full = num(&rows[1], "accuracy_mean_pct");
    assert!(full >= none - 2.0, "full write-verify {full} vs none {none}");
    // A trained LeNet keeps its accuracy once every weight is verified.
    assert!(full > 90.0, "full write-verify accuracy {full}");

    // The row's accuracy is the evaluator's, with the point's seed and mask.
    let (net, _) =
        uswim::nn::model_file::load(None, &manifest.join("models/lenet_mnist.safetensors")).unwrap();
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(500);
    let point = spec.point(1).unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &point.hw).unwrap();
    let evaluator = Evaluator::new(&net, &mapped, &point.hw, &test).unwrap();
    let mc = evaluator
        .monte_carlo(2, point.seed, |_| Ok(Cow::Owned(Mask::All)))
        .unwrap();
    assert_eq!(
        rows[1][col("accuracy_mean_pct")],
        (100.0 * mc.accuracy.mean).to_string()
    );
    assert_eq!(
        rows[1][col("accuracy_std_pct")],
        (100.0 * mc.accuracy.std).to_string()
    );
    // Time and energy are those of the same chips, mean over the runs.
    let time = mc.mean_of(|s| s.total_time_ns);
    assert_eq!(rows[1][col("time_mean_ns")], time.to_string());
    assert_eq!(
        rows[1][col("total_time_ns")],
        mc.runs[0].summary.total_time_ns.to_string()
    );

    // Shards record the accuracy columns and merge to the single run byte for byte.
    run_shard(&spec, &root.join("shards"), 0, 2);
    run_shard(&spec, &root.join("shards"), 1, 2);
    shard_merge::merge(&[root.join("shards")], &root.join("merged.csv")).unwrap();
    assert_eq!(
        std::fs::read(root.join("merged.csv")).unwrap(),
        std::fs::read(&report.csv).unwrap()
    );
    std::fs::remove_dir_all(&root).unwrap();
}
