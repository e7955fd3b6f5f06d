//! Reliability (issue 15): every failure found by probing the tool as a hostile or careless user, each
//! a test named after what it proves, and `kill -9` at random points of `program`, `reproduce` and
//! `sweep` asserting that the output folder is always the old complete set or the new complete set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use uswim::experiment::shard::Shard;
use uswim::experiment::shard_merge::{self, MergeError};
use uswim::experiment::sweep::{self, SweepOptions};
use uswim::experiment::sweep_spec::SweepSpec;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-reliability-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uswim(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_uswim"));
    c.args(args);
    c
}

fn run(args: &[&str]) -> Output {
    uswim(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "{e}");
    assert_ne!(o.status.code(), Some(101), "{e}");
}

fn model_path() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/lenet_mnist.safetensors")
        .display()
        .to_string()
}

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file of a folder with a digest of its bytes (FNV-1a and length: enough to tell sets apart, and
/// short in a failure message).
fn contents(dir: &Path) -> BTreeMap<String, (u64, usize)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap_or_default();
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            (n, (hash, bytes.len()))
        })
        .collect()
}

/// Nothing temporary beside or inside `parent`'s output folders.
fn assert_no_temporaries(parent: &Path) {
    for n in names(parent) {
        assert!(
            !n.contains(".uswim-stage-") && !n.contains(".tmp-") && !n.ends_with(".uswim-lock"),
            "left behind in {}: {n}",
            parent.display()
        );
    }
}

/// An IDX file of `dims` filled with `data` (type ubyte).
fn idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// An MNIST-shaped dataset folder with `train` and `test` images of noise.
fn tiny_dataset(dir: &Path, train: u32, test: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let pixels: Vec<u8> = (0..n as usize * 784).map(|i| (i * 37 % 251) as u8).collect();
        let labels: Vec<u8> = (0..n as usize).map(|i| (i % 10) as u8).collect();
        idx(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &[n, 28, 28],
            &pixels,
        );
        idx(&dir.join(format!("{prefix}-labels-idx1-ubyte")), &[n], &labels);
    }
}

// ---- 1. Durations and energies near the top of their range ----

#[test]
fn a_pulse_width_that_overflows_the_cycle_counter_is_refused_with_exit_2() {
    let dir = scratch("width");
    let out = dir.join("o");
    let o = run(&[
        "program",
        "--shape",
        "lenet",
        "--set",
        "program.scheme.width_ns=1e16",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("program.scheme.width_ns: 1e16 is out of range; allowed: (0, 1e9]"));
    assert!(!out.exists());
}

#[test]
fn a_read_settle_that_would_wrap_the_time_is_refused_with_exit_2() {
    let o = run(&[
        "program",
        "--shape",
        "lenet",
        "--set",
        "program.read_settle_ns=1e20",
        "--quiet",
        "--out",
        scratch("settle").join("o").to_str().unwrap(),
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("program.read_settle_ns: 1e20 is out of range; allowed: [0, 1e9]"));
}

#[test]
fn hw_check_refuses_every_duration_a_run_refuses() {
    for set in [
        "program.scheme.width_ns=1e16",
        "program.read_settle_ns=1e20",
        "adc.conversion_ns=1e12",
        // Each duration alone is allowed, but one array's worst case does not fit in the cycle counter.
        "program.max_iterations=100000",
    ] {
        let set_long = if set.starts_with("program.max_iterations") {
            vec!["--set", set, "--set", "program.scheme.width_ns=1e9"]
        } else {
            vec!["--set", set]
        };
        let mut args = vec!["hw", "check", "rram_1t1r_256"];
        args.extend(set_long);
        let o = run(&args);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", stderr(&o));
    }
}

#[test]
fn energies_of_1e308_are_refused_so_reports_never_hold_null_or_inf() {
    for set in [
        "dac.energy_pj=1e308",
        "adc.energy_pj=inf",
        "controller.static_power_mw=1e300",
    ] {
        let o = run(&["hw", "check", "rram_1t1r_256", "--set", set]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", stderr(&o));
    }
    // The largest accepted energies still give finite numbers in summary.json.
    let dir = scratch("energy");
    let out = dir.join("o");
    let o = run(&[
        "program",
        "--shape",
        "mlp",
        "--set",
        "dac.energy_pj=1e9",
        "--set",
        "adc.energy_pj=1e9",
        "--set",
        "program.driver_energy_pj=1e9",
        "--set",
        "controller.static_power_mw=1e6",
        "--trace-level",
        "off",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(!summary.contains("null") && !summary.contains("inf"), "{summary}");
    let arrays = std::fs::read_to_string(out.join("arrays.csv")).unwrap();
    assert!(!arrays.contains("inf") && !arrays.contains("NaN"));
}

#[test]
fn sweep_check_refuses_a_point_whose_duration_overflows() {
    let dir = scratch("sweep-width");
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        "hw = \"paper_statistical\"\nmodel = \"mlp\"\n[[axis]]\nkey = \"program.scheme.width_ns\"\nvalues = [100.0, 1e16]\n",
    )
    .unwrap();
    let o = run(&[
        "sweep",
        "--check",
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("point 1"), "{}", stderr(&o));
}

// ---- 2. Threads ----

#[test]
fn a_huge_thread_count_is_clamped_with_a_warning() {
    let start = Instant::now();
    let o = run(&["--threads", "100000", "hw", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("above the maximum"), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(20));
}

// ---- 3. Grids at the size limit ----

/// Resident memory of a running process, in kB (Linux).
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_grid_at_the_size_limit_is_checked_without_allocating_it() {
    let dir = scratch("grid-limit");
    let spec = dir.join("spec.toml");
    let values: Vec<String> = (0..100)
        .map(|i| format!("{}", 0.001 + 0.0004 * f64::from(i)))
        .collect();
    let list = values.join(", ");
    let mut text = String::from("hw = \"paper_statistical\"\nmodel = \"mlp\"\n");
    for key in [
        "program.tolerance",
        "program.row_setup_ns",
        "program.read_settle_ns",
        "dac.conversion_ns",
    ] {
        text.push_str(&format!("[[axis]]\nkey = \"{key}\"\nvalues = [{list}]\n"));
    }
    std::fs::write(&spec, text).unwrap();
    let mut child = uswim(&[
        "sweep",
        "--check",
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut peak = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(status)) = child.try_wait() {
            let mut e = String::new();
            child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
            panic!("sweep --check of 1e8 points ended early ({status}): {e}");
        }
        peak = peak.max(rss_kb(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(peak > 0 && peak < 1_000_000, "peak resident memory {peak} kB");
}

// ---- 4. Closed and full stdout ----

#[test]
fn printing_to_a_full_stdout_is_an_error_with_exit_1_not_a_panic() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let o = uswim(&["hw", "list"]).stdout(full).output().unwrap();
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write to standard output"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn printing_to_a_closed_pipe_ends_quietly_not_with_a_panic() {
    for args in [&["hw", "list"][..], &["hw", "check", "rram_1t1r_256"][..]] {
        let mut child = uswim(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        no_panic(&o);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}

// ---- 5. Output folders whole or absent ----

fn program(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["program", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_second_run_into_a_folder_keeps_none_of_the_first_runs_files() {
    let dir = scratch("second");
    let out = dir.join("o");
    assert!(program(&out, &["--shape", "lenet"]).status.success());
    assert!(out.join("events.csv").is_file());
    let o = program(&out, &["--shape", "mlp", "--trace-level", "off"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&out),
        [".uswim-manifest", "arrays.csv", "layers.csv", "summary.json"]
    );
    assert_no_temporaries(&dir);
}

#[test]
fn a_concurrent_run_into_the_same_folder_is_refused() {
    let dir = scratch("concurrent");
    let out = dir.join("o");
    // A live process (this test) holds the folder's lock.
    std::fs::write(dir.join(".o.uswim-lock"), std::process::id().to_string()).unwrap();
    let o = program(&out, &["--shape", "mlp", "--trace-level", "off"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("another uswim run"), "{}", stderr(&o));
    assert!(!out.exists());
    std::fs::remove_file(dir.join(".o.uswim-lock")).unwrap();
    // Two real runs at once: exactly the runs that got the lock succeed, the folder is one whole set.
    let a = uswim(&[
        "program",
        "--quiet",
        "--shape",
        "lenet",
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let b = uswim(&[
        "program",
        "--quiet",
        "--shape",
        "mlp",
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert!(
            o.status.success() || stderr(o).contains("another uswim run"),
            "{}",
            stderr(o)
        );
    }
    assert!(out.join(".uswim-manifest").is_file());
    assert_no_temporaries(&dir);
}

#[test]
fn a_folder_of_someone_elses_files_is_never_replaced() {
    let dir = scratch("foreign");
    let out = dir.join("o");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = program(&out, &["--shape", "mlp", "--trace-level", "off"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(names(&out), ["notes.txt"]);
    // Nor a sweep's folder (the shards of several runs) by another command.
    let sweep_dir = dir.join("sweep");
    std::fs::create_dir_all(&sweep_dir).unwrap();
    std::fs::write(sweep_dir.join(".uswim-manifest"), r#"{"command": "sweep"}"#).unwrap();
    std::fs::write(sweep_dir.join("shard-0-of-2.csv"), "x").unwrap();
    let o = program(&sweep_dir, &["--shape", "mlp", "--trace-level", "off"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("uswim sweep"), "{}", stderr(&o));
    assert_eq!(names(&sweep_dir), [".uswim-manifest", "shard-0-of-2.csv"]);
}

// ---- 6. Temporary files ----

/// Starts a long device-traced run and waits until its staging folder exists.
fn start_long_program(out: &Path) -> Child {
    let child = uswim(&[
        "program",
        "--quiet",
        "--shape",
        "convnet",
        "--trace-level",
        "device",
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let parent = out.parent().unwrap();
    let start = Instant::now();
    while !names(parent).iter().any(|n| n.starts_with(".uswim-stage-")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no staging folder appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child
}

#[test]
fn sigint_sigterm_and_sighup_during_program_leave_no_temporary_files() {
    for (signal, number) in [("INT", 2), ("TERM", 15), ("HUP", 1)] {
        let dir = scratch(&format!("signal-{signal}"));
        let out = dir.join("o");
        let mut child = start_long_program(&out);
        let killed = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + number), "SIG{signal}");
        assert_no_temporaries(&dir);
        assert!(
            !out.exists(),
            "SIG{signal}: a partial folder under the final name"
        );
    }
}

#[test]
fn temporary_files_of_a_killed_run_are_swept_by_the_next_run() {
    let dir = scratch("stale");
    let out = dir.join("o");
    let mut child = start_long_program(&out);
    child.kill().unwrap();
    child.wait().unwrap();
    let stale: Vec<String> = names(&dir);
    assert!(stale.iter().any(|n| n.starts_with(".uswim-stage-")), "{stale:?}");
    let o = program(&out, &["--shape", "mlp", "--trace-level", "off"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&dir), ["o"]);
    // A stale temporary file of a plain atomic output (`train --out`, `device fit`) is swept as well.
    let stale_file = dir.join(format!(".events.csv.tmp-{}", u32::MAX - 7));
    std::fs::write(&stale_file, "x").unwrap();
    uswim::trace::atomic::write_bytes(dir.join("x.txt"), b"y").unwrap();
    assert!(!stale_file.exists());
}

#[test]
fn a_246_character_output_name_is_written() {
    let dir = scratch("long-name");
    let out = dir.join("n".repeat(246));
    let o = program(&out, &["--shape", "mlp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("events.csv").is_file());
    assert_no_temporaries(&dir);
}

// ---- 7. Long jobs fail early ----

#[test]
fn an_unwritable_out_fails_before_any_work_in_every_command() {
    let dir = scratch("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("out");
    let out = out.to_str().unwrap();
    let data = dir.join("data");
    tiny_dataset(&data, 64, 32);
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, "hw = \"paper_statistical\"\nmodel = \"mlp\"\n").unwrap();
    let model = model_path();
    let cases: Vec<Vec<&str>> = vec![
        vec!["program", "--shape", "lenet", "--out", out],
        vec!["sweep", "--spec", spec.to_str().unwrap(), "--out", out],
        vec![
            "reproduce",
            "--model",
            &model,
            "--data",
            data.to_str().unwrap(),
            "--mc-runs",
            "1",
            "--fractions",
            "0.5",
            "--quiet",
            "--out",
            out,
        ],
        vec![
            "analyze",
            "--model",
            &model,
            "--data",
            data.to_str().unwrap(),
            "--fraction",
            "0.1",
            "--out",
            out,
        ],
    ];
    for args in cases {
        let start = Instant::now();
        let o = run(&args);
        no_panic(&o);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains("out"), "{args:?}: {}", stderr(&o));
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
}

/// A small sweep of 12 cheap points (LeNet, 4-bit weights, the statistical device, no scores).
const SWEEP_SPEC: &str = r#"
name = "reliability"
hw = "paper_statistical"
set = ["mapping.weight_bits=4"]
model = "lenet"
seed = 3

[[axis]]
key = "program.tolerance"
values = [0.02, 0.06]

[[axis]]
key = "adc.adcs_per_array"
values = [2, 8, 32]

[[axis]]
key = "controller.parallel_arrays"
values = [1, 4]
"#;

#[test]
fn sweep_check_refuses_a_missing_model_file_and_an_unknown_zoo_name() {
    let dir = scratch("check-models");
    for model in ["no-such-file.safetensors", "no_such_net"] {
        let spec = dir.join("spec.toml");
        std::fs::write(
            &spec,
            format!("hw = \"paper_statistical\"\nmodel = \"{model}\"\n"),
        )
        .unwrap();
        let o = run(&[
            "sweep",
            "--check",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            dir.join("o").to_str().unwrap(),
        ]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{model}: {}", stderr(&o));
        assert!(stderr(&o).contains(model), "{}", stderr(&o));
    }
}

#[test]
fn an_interrupted_sweep_keeps_its_finished_points_and_resume_skips_them() {
    let dir = scratch("resume");
    let spec = SweepSpec::parse(SWEEP_SPEC, "spec.toml", Path::new(".")).unwrap();
    let whole = sweep::run(&spec, &dir.join("whole"), &SweepOptions::default()).unwrap();
    let expected = std::fs::read(&whole.csv).unwrap();
    // Kill a run as soon as its first chunk is synced, then resume it.
    let resumed_dir = dir.join("resumed");
    std::fs::create_dir_all(&resumed_dir).unwrap();
    let spec_file = dir.join("spec.toml");
    std::fs::write(&spec_file, SWEEP_SPEC).unwrap();
    let mut child = uswim(&[
        "sweep",
        "--spec",
        spec_file.to_str().unwrap(),
        "--out",
        resumed_dir.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let partial = sweep::partial_path(&resumed_dir, None);
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&partial).unwrap_or_default();
        if text.contains("# chunk ") || start.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = std::fs::read_to_string(&partial).unwrap_or_default();
    let finished: usize = kept
        .lines()
        .filter_map(|l| l.strip_prefix("# chunk "))
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    let completed_before_the_kill = resumed_dir.join("sweep.json").exists();
    let report = sweep::run(
        &spec,
        &resumed_dir,
        &SweepOptions {
            resume: true,
            ..SweepOptions::default()
        },
    )
    .unwrap();
    if !completed_before_the_kill {
        assert!(finished > 0, "the killed sweep kept no chunk:\n{kept}");
        assert_eq!(report.resumed_rows, finished, "{kept}");
    }
    assert_eq!(std::fs::read(&report.csv).unwrap(), expected);
    assert!(!partial.exists());
    // A partial file of another spec is not resumed: the run starts afresh and gives the same bytes.
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(
        &partial,
        "# uswim sweep partial results: spec 0000000000000000 shard 0/1\nx\n# chunk 9\n",
    )
    .unwrap();
    let again = sweep::run(
        &spec,
        &resumed_dir,
        &SweepOptions {
            resume: true,
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(again.resumed_rows, 0);
    assert_eq!(std::fs::read(&again.csv).unwrap(), expected);
}

// ---- 8. Silent nonsense ----

#[test]
fn an_empty_test_set_is_refused_with_exit_2_not_reported_as_0_percent() {
    let dir = scratch("empty-test");
    let data = dir.join("data");
    tiny_dataset(&data, 64, 0);
    let model = model_path();
    let o = run(&["eval", "--model", &model, "--data", data.to_str().unwrap()]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 images"), "{}", stderr(&o));
    let o = run(&[
        "reproduce",
        "--model",
        &model,
        "--data",
        data.to_str().unwrap(),
        "--mc-runs",
        "1",
        "--fractions",
        "0.5",
        "--quiet",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 images"), "{}", stderr(&o));
}

#[test]
fn training_that_produces_nan_weights_is_refused_with_exit_2() {
    let dir = scratch("nan-train");
    let data = dir.join("data");
    tiny_dataset(&data, 128, 16);
    let model = dir.join("m.safetensors");
    let o = run(&[
        "train",
        "--arch",
        "mlp",
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "1",
        "--lr",
        "1e30",
        "-o",
        model.to_str().unwrap(),
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged"), "{}", stderr(&o));
    assert!(!model.exists());
}

#[test]
fn merge_refuses_a_shard_csv_from_another_spec_beside_a_right_json() {
    let dir = scratch("merge-hash");
    let a = SweepSpec::parse(SWEEP_SPEC, "a.toml", Path::new(".")).unwrap();
    let b = SweepSpec::parse(
        &SWEEP_SPEC.replace("seed = 3", "seed = 4"),
        "b.toml",
        Path::new("."),
    )
    .unwrap();
    let shard = |i| SweepOptions {
        shard: Some(Shard::new(i, 2, "t").unwrap()),
        ..SweepOptions::default()
    };
    for i in 0..2 {
        sweep::run(&a, &dir.join("a"), &shard(i)).unwrap();
    }
    sweep::run(&b, &dir.join("b"), &shard(0)).unwrap();
    let stem = Shard::new(0, 2, "t").unwrap().file_stem();
    std::fs::copy(
        dir.join("b").join(format!("{stem}.csv")),
        dir.join("a").join(format!("{stem}.csv")),
    )
    .unwrap();
    let err = shard_merge::merge(&[dir.join("a")], &dir.join("merged.csv")).unwrap_err();
    assert!(matches!(err, MergeError::Rows { .. }), "{err}");
    assert!(err.to_string().contains("hash"), "{err}");
    assert!(!dir.join("merged.csv").exists());
}

#[test]
fn slurm_array_task_count_without_a_task_id_is_refused() {
    let dir = scratch("slurm");
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, "hw = \"paper_statistical\"\nmodel = \"mlp\"\n").unwrap();
    let o = uswim(&[
        "sweep",
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ])
    .env("SLURM_ARRAY_TASK_COUNT", "4")
    .env_remove("SLURM_ARRAY_TASK_ID")
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("SLURM_ARRAY_TASK_ID"), "{}", stderr(&o));
    assert!(!dir.join("o").join("results.csv").exists());
}

/// A tiny `reproduce` (one run, one fraction, 64 test images) into `out`.
fn tiny_reproduce(out: &Path, methods: &str, seed: &str) -> Command {
    let mut c = uswim(&[
        "reproduce",
        "--model",
        &model_path(),
        "--data",
        "mnist",
        "--mc-runs",
        "1",
        "--fractions",
        "0.2",
        "--test-images",
        "64",
        "--calib",
        "16",
        "--physical",
        "none",
        "--second",
        "none",
        "--max-runs",
        "1",
        "--methods",
        methods,
        "--seed",
        seed,
        "--quiet",
        "--out",
    ]);
    c.arg(out);
    c
}

#[test]
fn duplicate_methods_run_once_with_a_warning() {
    let dir = scratch("methods");
    let o = tiny_reproduce(&dir.join("o"), "swim,swim", "0").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.join("o").join("results.csv")).unwrap();
    let mut rows: Vec<&str> = csv.lines().skip(1).collect();
    let n = rows.len();
    rows.sort_unstable();
    rows.dedup();
    assert_eq!(rows.len(), n, "duplicate rows:\n{csv}");
}

#[test]
fn a_device_trace_estimated_above_a_gigabyte_is_announced_before_it_grows() {
    let dir = scratch("big-trace");
    let mut child = uswim(&[
        "program",
        "--quiet",
        "--shape",
        "resnet18",
        "--trace-level",
        "device",
        "--out",
        dir.join("o").to_str().unwrap(),
    ])
    // A terabyte free, so that the estimate (about 53 GB) fits on any machine.
    .env("USWIM_FAULT_FREE_BYTES", "1000000000000")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    reader.read_line(&mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.contains("warning: the device trace") && line.contains("GB"),
        "{line}"
    );
}

#[test]
fn a_device_trace_larger_than_the_free_space_is_refused_before_any_work() {
    let dir = scratch("no-room");
    let out = dir.join("o");
    for (shape, free) in [("resnet18", "20000000000"), ("lenet", "1000000")] {
        let start = Instant::now();
        let o = uswim(&[
            "program",
            "--quiet",
            "--shape",
            shape,
            "--trace-level",
            "device",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("USWIM_FAULT_FREE_BYTES", free)
        .output()
        .unwrap();
        no_panic(&o);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{shape}: {e}");
        assert!(
            e.contains("estimated at") && e.contains("GB free") && e.contains("nothing was run"),
            "{shape}: {e}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{shape}: {:?}",
            start.elapsed()
        );
        assert!(!out.exists());
        assert_no_temporaries(&dir);
    }
    // The same trace with room for it runs (sampled down to a small one so that the test stays short).
    let o = uswim(&[
        "program",
        "--quiet",
        "--shape",
        "lenet",
        "--trace-level",
        "device",
        "--trace-sample",
        "0.01",
        "--out",
        out.to_str().unwrap(),
    ])
    .env("USWIM_FAULT_FREE_BYTES", "100000000")
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn shards_committing_at_once_into_one_folder_keep_each_others_sets() {
    let dir = scratch("shards-at-once");
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, SWEEP_SPEC).unwrap();
    let out = dir.join("o");
    let children: Vec<Child> = (0..3)
        .map(|i| {
            uswim(&[
                "sweep",
                "--quiet",
                "--spec",
                spec.to_str().unwrap(),
                "--shard",
                &format!("{i}/3"),
                "--out",
                out.to_str().unwrap(),
            ])
            // Slow commits, so that the three overlap.
            .env("USWIM_FAULT_COMMIT_PAUSE_MS", "100")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut expected = vec![".uswim-manifest".to_string()];
    for i in 0..3 {
        expected.push(format!("shard-{i}-of-3.csv"));
        expected.push(format!("shard-{i}-of-3.json"));
    }
    assert_eq!(names(&out), expected);
    assert_eq!(names(&dir), ["o", "spec.toml"]);
    let o = run(&["merge", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = sweep::run(
        &SweepSpec::parse(SWEEP_SPEC, "spec.toml", Path::new(".")).unwrap(),
        &dir.join("whole"),
        &SweepOptions::default(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(out.join("results.csv")).unwrap(),
        std::fs::read(whole.csv).unwrap()
    );
    assert_eq!(rows_hash_of(&out), rows_hash_of(&dir.join("whole")));
}

/// The rows hash recorded in a folder's `sweep.json`.
fn rows_hash_of(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("sweep.json")).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    meta["rows_hash"].as_str().unwrap().to_string()
}

// ---- Disk full ----

/// The fault-injection limit under which every output write fails with ENOSPC once 4 kB are written.
const FULL_AFTER_BYTES: &str = "4096";

#[test]
fn a_full_disk_while_writing_any_commands_outputs_fails_with_exit_1_and_keeps_the_old_outputs() {
    let dir = scratch("disk-full");
    let data = dir.join("data");
    tiny_dataset(&data, 64, 32);
    let data = data.to_str().unwrap().to_string();
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, SWEEP_SPEC).unwrap();
    let spec = spec.to_str().unwrap().to_string();
    let model = model_path();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // Two shards to merge.
    for i in 0..2 {
        let shard = format!("{i}/2");
        let o = run(&[
            "sweep",
            "--quiet",
            "--spec",
            &spec,
            "--shard",
            &shard,
            "--out",
            &path("shards"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let sweep_csv = dir.join("shards").join("shard-0-of-2.csv");
    let sweep_csv = sweep_csv.to_str().unwrap().to_string();
    // (what, the command, the output folder or file that must survive the failure unchanged)
    let cases: Vec<(&str, Vec<String>, PathBuf)> = vec![
        (
            "program",
            vec![
                "program",
                "--quiet",
                "--shape",
                "lenet",
                "--out",
                &path("program"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            dir.join("program"),
        ),
        (
            "sweep",
            vec!["sweep", "--quiet", "--spec", &spec, "--out", &path("sweep")]
                .into_iter()
                .map(String::from)
                .collect(),
            dir.join("sweep"),
        ),
        (
            "merge",
            vec!["merge", &path("shards")]
                .into_iter()
                .map(String::from)
                .collect(),
            dir.join("shards"),
        ),
        (
            "reproduce",
            {
                let c = tiny_reproduce(&dir.join("reproduce"), "swim", "1");
                c.get_args().map(|a| a.to_string_lossy().into_owned()).collect()
            },
            dir.join("reproduce"),
        ),
        (
            "analyze",
            vec![
                "analyze",
                "--model",
                &model,
                "--data",
                &data,
                "--calib",
                "16",
                "--fraction",
                "0.1",
                "--out",
                &path("analyze"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            dir.join("analyze"),
        ),
        (
            "train",
            vec![
                "train",
                "--arch",
                "mlp",
                "--data",
                &data,
                "--epochs",
                "1",
                "-o",
                &path("m.safetensors"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            dir.join("m.safetensors"),
        ),
        (
            "plot",
            vec![
                "plot",
                &sweep_csv,
                "--x",
                "program.tolerance",
                "--y",
                "total_time_ns",
                "-o",
                &path("p.png"),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            dir.join("p.png"),
        ),
    ];
    let snapshot = |p: &Path| {
        if p.is_dir() {
            contents(p)
        } else {
            let mut m = contents(p.parent().unwrap());
            m.retain(|k, _| p.file_name().is_some_and(|n| n.to_string_lossy() == *k));
            m
        }
    };
    for (what, args, kept) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let first = run(&args);
        assert!(first.status.success(), "{what}: {}", stderr(&first));
        let before = snapshot(&kept);
        assert!(!before.is_empty(), "{what}: nothing written");
        let o = uswim(&args)
            .env("USWIM_FAULT_WRITE_LIMIT_BYTES", FULL_AFTER_BYTES)
            .output()
            .unwrap();
        no_panic(&o);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {e}");
        assert!(e.contains("No space left on device"), "{what}: {e}");
        assert_eq!(snapshot(&kept), before, "{what}: the old outputs changed");
        assert_no_temporaries(&dir);
        for sub in names(&dir) {
            if dir.join(&sub).is_dir() && sub != "data" {
                assert_no_temporaries(&dir.join(&sub));
            }
        }
    }
    // A sweep that had finished points keeps them for --resume (nothing else) in its work folder.
    let work = dir.join(".sweep.uswim-work");
    if work.exists() {
        assert_eq!(names(&work), ["results.csv.partial"]);
        let o = run(&[
            "sweep",
            "--quiet",
            "--resume",
            "--spec",
            &spec,
            "--out",
            &path("sweep"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // Nothing but the outputs themselves is left: no staging, work or temporary files.
    assert_eq!(
        names(&dir),
        [
            "analyze",
            "data",
            "m.safetensors",
            "p.png",
            "program",
            "reproduce",
            "shards",
            "spec.toml",
            "sweep"
        ]
    );
}

// ---- Memory bounded in the grid size ----

/// Peak resident memory (VmHWM, kB) of a child, sampled until it exits or `limit` passes (then killed).
fn peak_rss_kb(
    mut child: Child,
    limit: Duration,
    until: impl Fn() -> bool,
) -> (u64, Option<std::process::ExitStatus>) {
    let start = Instant::now();
    let mut peak = 0;
    loop {
        if let Some(hwm) = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        {
            peak = peak.max(hwm);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return (peak, Some(status));
        }
        if start.elapsed() > limit || until() {
            let _ = child.kill();
            let _ = child.wait();
            return (peak, None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn merge_streams_so_its_memory_does_not_grow_with_the_grid() {
    use uswim::experiment::shard::{RowsHash, SweepMeta};
    let dir = scratch("merge-memory");
    // 300,000 points in 3 shards of 12 columns: about 30 MB of CSV (holding the rows as strings took
    // about 250 MB).
    let grid = 300_000;
    let columns: Vec<String> = ["point", "seed", "model", "method", "fraction"]
        .iter()
        .map(|s| s.to_string())
        .chain((0..7).map(|c| format!("metric_{c}")))
        .collect();
    for index in 0..3u32 {
        let shard = Shard::new(index, 3, "t").unwrap();
        let mut text = columns.join(",") + "\n";
        let mut hash = RowsHash::default();
        for p in shard.points(grid) {
            let row: Vec<String> = [
                p.to_string(),
                (p * 7).to_string(),
                "lenet".into(),
                "swim".into(),
                "0.1".into(),
            ]
            .into_iter()
            .chain((0..7).map(|c| format!("{}.{c}", p % 1000)))
            .collect();
            hash.add(row.iter());
            text.push_str(&row.join(","));
            text.push('\n');
        }
        let stem = shard.file_stem();
        std::fs::write(dir.join(format!("{stem}.csv")), text).unwrap();
        let meta = SweepMeta {
            format: uswim::experiment::shard::FORMAT.into(),
            uswim_version: env!("CARGO_PKG_VERSION").into(),
            name: "big".into(),
            spec: "big.toml".into(),
            spec_hash: "0123456789abcdef".into(),
            grid_points: grid,
            shard,
            rows: shard.len(grid),
            columns: columns.clone(),
            csv: format!("{stem}.csv"),
            wall_time_s: 1.0,
            threads: 2,
            rows_hash: hash.hex(),
            reproduce: None,
        };
        std::fs::write(dir.join(format!("{stem}.json")), meta.to_json()).unwrap();
    }
    let child = uswim(&["merge", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (peak, status) = peak_rss_kb(child, Duration::from_secs(60), || false);
    assert!(status.is_some_and(|s| s.success()), "merge failed: {status:?}");
    let merged = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(merged.lines().count(), grid + 1);
    assert!(merged.lines().nth(2).unwrap().starts_with("1,7,"));
    assert!(peak < 60_000, "merge of {grid} rows peaked at {peak} kB");
    eprintln!("merge of {grid} rows: peak {peak} kB");
}

#[test]
fn a_million_point_sweep_runs_in_memory_bounded_by_a_chunk() {
    let dir = scratch("million");
    let spec = dir.join("spec.toml");
    // 100 x 100 x 100 = 1e6 points of the small MLP on the statistical device.
    let values = |scale: f64| {
        (0..100)
            .map(|i| format!("{}", scale * (1.0 + f64::from(i))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        &spec,
        format!(
            "hw = \"paper_statistical\"\nmodel = \"mlp\"\n\
             [[axis]]\nkey = \"program.row_setup_ns\"\nvalues = [{}]\n\
             [[axis]]\nkey = \"program.read_settle_ns\"\nvalues = [{}]\n\
             [[axis]]\nkey = \"dac.conversion_ns\"\nvalues = [{}]\n",
            values(1.0),
            values(0.5),
            values(0.25)
        ),
    )
    .unwrap();
    let out = dir.join("o");
    let partial = sweep::partial_path(&out, None);
    let child = uswim(&[
        "sweep",
        "--quiet",
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Until two chunks are on disk: the whole grid checked, points running.
    let chunks = || {
        std::fs::read_to_string(&partial)
            .map(|t| t.matches("# chunk ").count() >= 2)
            .unwrap_or(false)
    };
    let (peak, status) = peak_rss_kb(child, Duration::from_secs(90), chunks);
    assert!(status.is_none(), "the sweep ended: {status:?}");
    assert!(chunks(), "no two chunks within 90 s");
    assert!(peak < 300_000, "a 1e6-point sweep peaked at {peak} kB");
    eprintln!("1e6-point sweep, two chunks in: peak {peak} kB");
}

// ---- kill -9 at random points ----

/// The pause of each commit step under `USWIM_FAULT_COMMIT_PAUSE_MS` in the kill loops: long enough
/// that a fair share of the random kills lands inside a commit, short enough to keep the loops fast.
const COMMIT_PAUSE_MS: &str = "120";

/// A small deterministic random stream for the kill delays.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, max_ms: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max_ms.max(1)
    }
}

/// Where the kills of a loop landed, read from what each left beside the output folder.
#[derive(Debug, Default)]
struct Landings {
    /// The run had ended (or not yet staged anything) when it was killed.
    outside: usize,
    /// The run was working: a staging folder without a manifest.
    working: usize,
    /// The run was committing: a staging folder holding a manifest (the new set before the exchange,
    /// or the old one after it).
    committing: usize,
}

/// Classifies the kill of process `pid` by the staging folders it left in `parent`.
fn landing(parent: &Path, pid: u32, landings: &mut Landings) {
    let stages: Vec<String> = names(parent)
        .into_iter()
        .filter(|n| n.starts_with(&format!(".uswim-stage-{pid}-")))
        .collect();
    if stages.is_empty() {
        landings.outside += 1;
    } else if stages
        .iter()
        .any(|s| parent.join(s).join(".uswim-manifest").exists())
    {
        landings.committing += 1;
    } else {
        landings.working += 1;
    }
}

/// Whether a staging folder of process `pid` in `parent` holds a manifest: its commit is under way.
fn committing(parent: &Path, pid: u32) -> bool {
    names(parent).iter().any(|n| {
        n.starts_with(&format!(".uswim-stage-{pid}-")) && parent.join(n).join(".uswim-manifest").exists()
    })
}

/// Runs 20 transitions of the folder `out` between its two complete sets, each killed with SIGKILL
/// (commits slowed by [`COMMIT_PAUSE_MS`]): `make(true)` writes the new set, `make(false)` the old one,
/// and each iteration runs the one that changes the folder, so that a mix of the two sets would show.
/// Even iterations kill after a random delay below the time a complete run takes; odd ones wait for the
/// commit to start (a manifest in the staging folder) and kill a random time into it, so that kills land
/// before, during and after the exchange. After each kill, `state()` must say the folder is the old set
/// (`Some(false)`) or the new one (`Some(true)`). Fails unless some kills landed while a run worked and
/// some inside a commit: the loop cannot pass by only ever killing before or after the writes.
fn kill_loop(
    out: &Path,
    make: impl Fn(bool) -> Command,
    state: impl Fn() -> Result<bool, String>,
    seed: u64,
) -> Landings {
    let parent = out.parent().unwrap();
    let pause_ms: u64 = COMMIT_PAUSE_MS.parse().unwrap();
    let run_ms = |new: bool| {
        let timed = Instant::now();
        let o = make(new)
            .env("USWIM_FAULT_COMMIT_PAUSE_MS", COMMIT_PAUSE_MS)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(state(), Ok(new));
        timed.elapsed().as_millis() as u64
    };
    let full_ms = [run_ms(false), run_ms(true)];
    let mut delays = Delays(seed);
    let mut landings = Landings::default();
    let budget = Instant::now();
    for i in 1..=20 {
        let to_new = !state().unwrap();
        let mut child = make(to_new)
            .env("USWIM_FAULT_COMMIT_PAUSE_MS", COMMIT_PAUSE_MS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if i % 2 == 0 {
            std::thread::sleep(Duration::from_millis(
                delays.next_ms(full_ms[usize::from(to_new)] + 50),
            ));
        } else {
            let start = Instant::now();
            while !committing(parent, child.id())
                && start.elapsed() < Duration::from_secs(30)
                && child.try_wait().ok().flatten().is_none()
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(delays.next_ms(3 * pause_ms)));
        }
        let pid = child.id();
        let _ = child.kill();
        child.wait().unwrap();
        landing(parent, pid, &mut landings);
        if let Err(problem) = state() {
            panic!("iteration {i} ({landings:?}): {problem}");
        }
        if budget.elapsed() > Duration::from_secs(40) {
            break;
        }
    }
    assert!(
        landings.working > 0 && landings.committing > 0,
        "the kills never landed mid-run and mid-commit: {landings:?} (complete runs take {full_ms:?} ms)"
    );
    landings
}

/// `now` is `reference` for the files in `compare`, and has exactly the same names.
fn same_set(
    now: &BTreeMap<String, (u64, usize)>,
    reference: &BTreeMap<String, (u64, usize)>,
    compare: &[&str],
) -> bool {
    now.keys().eq(reference.keys()) && compare.iter().all(|f| now.get(*f) == reference.get(*f))
}

/// Whether the folder is `new` (`Ok(true)`) or `old` (`Ok(false)`), on the files of `compare` and on
/// every name.
fn old_or_new<'a>(
    out: &'a Path,
    old: &'a BTreeMap<String, (u64, usize)>,
    new: &'a BTreeMap<String, (u64, usize)>,
    compare: &'a [&'a str],
) -> impl Fn() -> Result<bool, String> + 'a {
    move || {
        let now = contents(out);
        if same_set(&now, new, compare) {
            Ok(true)
        } else if same_set(&now, old, compare) {
            Ok(false)
        } else {
            Err(format!(
                "the folder is neither the old nor the new set: {:?}",
                now.keys().collect::<Vec<_>>()
            ))
        }
    }
}

#[test]
fn kill_9_at_random_points_of_program_leaves_the_old_or_the_new_complete_set() {
    let dir = scratch("kill-program");
    let out = dir.join("o");
    let new_args: &[&str] = &["--shape", "mlp", "--seed", "2"];
    let old_args: &[&str] = &["--shape", "mlp", "--seed", "3", "--trace-level", "off"];
    assert!(program(&dir.join("new"), new_args).status.success());
    let new = contents(&dir.join("new"));
    assert!(program(&dir.join("old"), old_args).status.success());
    let old = contents(&dir.join("old"));
    let make = |to_new: bool| {
        let mut c = uswim(&["program", "--quiet", "--out", out.to_str().unwrap()]);
        c.args(if to_new { new_args } else { old_args });
        c
    };
    let all = [
        "arrays.csv",
        "layers.csv",
        "summary.json",
        "events.csv",
        ".uswim-manifest",
    ];
    let landings = kill_loop(
        &out,
        make,
        old_or_new(&out, &old, &new, &all),
        0x9e37_79b9_7f4a_7c15,
    );
    eprintln!("program kills: {landings:?}");
}

#[test]
fn kill_9_at_random_points_of_reproduce_leaves_the_old_or_the_new_complete_set() {
    let dir = scratch("kill-reproduce");
    let out = dir.join("o");
    assert!(
        tiny_reproduce(&dir.join("new"), "swim", "5")
            .status()
            .unwrap()
            .success()
    );
    let new = contents(&dir.join("new"));
    assert!(
        tiny_reproduce(&dir.join("old"), "random", "6")
            .status()
            .unwrap()
            .success()
    );
    let old = contents(&dir.join("old"));
    let landings = kill_loop(
        &out,
        |to_new| {
            if to_new {
                tiny_reproduce(&out, "swim", "5")
            } else {
                tiny_reproduce(&out, "random", "6")
            }
        },
        old_or_new(&out, &old, &new, &["results.csv", ".uswim-manifest"]),
        0x2545_f491_4f6c_dd1d,
    );
    eprintln!("reproduce kills: {landings:?}");
}

/// A sweep folder's set (see [`sweep_set`]).
type SweepSet = (
    Vec<String>,
    Option<(u64, usize)>,
    Option<(u64, usize)>,
    Option<String>,
);

/// A sweep folder's set: its names, the bytes of results.csv and the manifest, and sweep.json's rows
/// hash (its wall time differs between runs).
fn sweep_set(dir: &Path) -> SweepSet {
    let now = contents(dir);
    let hash = std::fs::read_to_string(dir.join("sweep.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m["rows_hash"].as_str().map(str::to_string));
    (
        now.keys().cloned().collect(),
        now.get("results.csv").copied(),
        now.get(".uswim-manifest").copied(),
        hash,
    )
}

#[test]
fn kill_9_at_random_points_of_sweep_leaves_the_old_or_the_new_complete_set() {
    let dir = scratch("kill-sweep");
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, SWEEP_SPEC).unwrap();
    let old_spec = dir.join("old.toml");
    std::fs::write(&old_spec, SWEEP_SPEC.replace("seed = 3", "seed = 4")).unwrap();
    let out = dir.join("o");
    let sweep_into = |spec: &Path, out: &Path| {
        uswim(&[
            "sweep",
            "--quiet",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let quiet = |mut c: Command| c.stderr(Stdio::null()).status().unwrap().success();
    assert!(quiet(sweep_into(&spec, &dir.join("new"))));
    let new = sweep_set(&dir.join("new"));
    assert!(quiet(sweep_into(&old_spec, &out)));
    let old = sweep_set(&out);
    assert_ne!(old.1, new.1, "the old and the new results must differ");
    assert_eq!(new.0, [".uswim-manifest", "results.csv", "sweep.json"]);
    let landings = kill_loop(
        &out,
        |to_new| sweep_into(if to_new { &spec } else { &old_spec }, &out),
        || {
            let now = sweep_set(&out);
            if now == new {
                Ok(true)
            } else if now == old {
                Ok(false)
            } else {
                Err(format!("neither the old nor the new set: {now:?}"))
            }
        },
        0x1234_5678_9abc_def1,
    );
    eprintln!("sweep kills: {landings:?}");
    // The next run sweeps every leftover (a killed run's partial results, kept for --resume, sit in the
    // work folder beside the output folder until a run of them completes).
    assert!(quiet(sweep_into(&spec, &out)));
    assert!(quiet(sweep_into(&old_spec, &out)));
    assert_eq!(sweep_set(&out), old);
    assert_eq!(names(&dir), ["new", "o", "old.toml", "spec.toml"]);
}
