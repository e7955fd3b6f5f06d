//! The command line as a user meets it: bare `uswim`, help texts, shared flags, aliases, completions.

use std::path::Path;
use std::process::{Command, Output};

fn uswim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run uswim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every command and subcommand a user can ask `--help` of.
const COMMANDS: &[&[&str]] = &[
    &["reproduce"],
    &["program"],
    &["analyze"],
    &["device"],
    &["device", "report"],
    &["device", "fit"],
    &["sweep"],
    &["merge"],
    &["compare"],
    &["plot"],
    &["train"],
    &["eval"],
    &["hw", "check"],
    &["hw", "list"],
    &["completions"],
];

#[test]
fn bare_uswim_prints_the_help_with_a_pointer_to_reproduce_and_exits_0() {
    let out = uswim(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Usage: uswim"), "{text}");
    assert!(text.contains("uswim reproduce"), "{text}");
    assert!(text.contains("Exit codes"), "{text}");
}

#[test]
fn every_command_help_has_an_example() {
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let out = uswim(&args);
        assert!(out.status.success(), "{command:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("Example"), "{command:?} has no example:\n{text}");
        let name = command.join(" ");
        assert!(
            text.contains(&format!("uswim {name}")) || command[0] == "device",
            "{command:?}: the examples do not run `uswim {name}`:\n{text}"
        );
    }
}

#[test]
fn shared_flags_have_one_default_everywhere() {
    for command in [
        &["program"][..],
        &["analyze"],
        &["device", "report"],
        &["device", "fit"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let text = stdout(&uswim(&args));
        assert!(
            text.contains("--hw <FILE|PRESET>") && text.contains("[default: rram_1t1r_256]"),
            "{command:?}:\n{text}"
        );
        assert!(text.contains("--set <KEY=VALUE>"), "{command:?}:\n{text}");
    }
    for command in [
        &["program"][..],
        &["analyze"],
        &["reproduce"],
        &["device", "report"],
        &["device", "fit"],
        &["train"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let text = stdout(&uswim(&args));
        let seed = text
            .find("--seed <N>")
            .unwrap_or_else(|| panic!("{command:?} has no --seed"));
        let default = text[seed..].find("[default: ").map(|i| &text[seed + i..]);
        assert!(
            default.is_some_and(|d| d.starts_with("[default: 1]")),
            "{command:?}: --seed default is not 1:\n{text}"
        );
    }
    // The global options are accepted after the subcommand too.
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let text = stdout(&uswim(&args));
        for flag in ["--quiet", "--threads <N>", "--verbose"] {
            assert!(text.contains(flag), "{command:?} lacks {flag}");
        }
    }
}

#[test]
fn closed_lists_show_their_possible_values() {
    let text = stdout(&uswim(&["program", "--help"]));
    assert!(
        text.contains("Possible values") && text.contains("device:"),
        "{text}"
    );
    let text = stdout(&uswim(&["analyze", "--help"]));
    for method in ["magnitude", "random", "swim", "uswim-paper", "uswim-cost"] {
        assert!(text.contains(method), "{method}: {text}");
    }
    let bad = uswim(&[
        "analyze",
        "--model",
        "x.safetensors",
        "--fraction",
        "0.1",
        "--method",
        "sw1m",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("possible values"), "{}", stderr(&bad));
    // --knowledge is a closed list on both commands that take it.
    for command in ["analyze", "reproduce"] {
        let text = stdout(&uswim(&[command, "--help"]));
        let knowledge = &text[text.find("--knowledge").expect("--knowledge")..];
        let knowledge = &knowledge[..knowledge
            .find("\n      --characterise-cycles")
            .unwrap_or(knowledge.len())];
        for value in ["prior", "characterised", "oracle"] {
            assert!(
                knowledge.contains(&format!("- {value}:")),
                "{command}: {knowledge}"
            );
        }
        let bad = uswim(&[command, "--knowledge", "psychic"]);
        assert_eq!(bad.status.code(), Some(2), "{command}");
        assert!(stderr(&bad).contains("[possible values: prior, characterised, oracle]"));
    }
}

#[test]
fn flags_are_named_after_the_sweep_spec_keys_and_the_old_names_still_work() {
    // Both names reach the same check (which runs before any file is read).
    for flag in ["--calib-samples", "--calib"] {
        let out = uswim(&[
            "analyze",
            "--model",
            "x.safetensors",
            "--fraction",
            "0.1",
            flag,
            "0",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            stderr(&out).contains("--calib-samples: 0 images"),
            "{flag}: {}",
            stderr(&out)
        );
    }
    for flag in ["--mc-runs", "--runs"] {
        let out = uswim(&["reproduce", "--full", flag, "5", "--quiet"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            stderr(&out).contains("--mc-runs gave 5"),
            "{flag}: {}",
            stderr(&out)
        );
    }
    let text = stdout(&uswim(&["reproduce", "--help"]));
    assert!(
        text.contains("--data <NAME|DIR>") && text.contains("--mc-runs <N>"),
        "{text}"
    );
    assert!(
        !text.contains("--dataset") && !text.contains("--runs "),
        "old names are hidden:\n{text}"
    );
}

#[test]
fn device_fit_takes_ramp_files_under_their_own_names() {
    let text = stdout(&uswim(&["device", "fit", "--help"]));
    assert!(text.contains("--set-ramps <FILE.csv>") && text.contains("--reset-ramps <FILE.csv>"));
    // `--set` is KEY=VALUE here as everywhere: a file name is a clear error.
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/device-pulse-response/crosssim-set.csv");
    let out = uswim(&[
        "device",
        "fit",
        "--format",
        "ramps",
        "--set",
        data.to_str().unwrap(),
        "-o",
        "never-written.toml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--set"), "{}", stderr(&out));
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("never-written.toml")
            .exists()
    );
}

#[test]
fn sweep_check_needs_no_output_folder() {
    let out = uswim(&["sweep", "--spec", "hw_configs/sweeps/array_size.toml", "--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("points in the grid"), "{}", stdout(&out));
}

#[test]
fn completions_generate_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = uswim(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["uswim", "reproduce", "program", "mc-runs", "trace-level"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = uswim(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compare_of_a_configuration_with_itself_gives_ratios_of_1() {
    let dir = std::env::temp_dir().join(format!("uswim-it-cli-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = uswim(&[
        "compare",
        "rram_1t1r_256",
        "rram_1t1r_256",
        "--mask",
        "random:0.1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.join("compare.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    for name in [
        "total_time_ns",
        "total_energy_pj",
        "energy_pj.adc",
        "pulses",
        "verify_reads",
        "adc_conversions",
    ] {
        assert!(rows.iter().any(|r| r[0] == name), "{name} missing:\n{csv}");
    }
    for r in &rows {
        assert_eq!(r[1], r[2], "{r:?}");
        assert_eq!(r[3], "1", "{r:?}");
    }
    // Two result folders: the summaries of `uswim program` on two presets, ratios B / A.
    let run = |hw: &str| {
        let folder = dir.join(hw);
        let r = uswim(&[
            "program",
            "--shape",
            "lenet",
            "--hw",
            hw,
            "--trace-level",
            "off",
            "-q",
            "--out",
            folder.to_str().unwrap(),
        ]);
        assert!(r.status.success(), "{}", stderr(&r));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap()).unwrap();
        (folder, json["total_time_ns"].as_f64().unwrap())
    };
    let (a, t_a) = run("rram_1t1r_256");
    let (b, t_b) = run("pcm_256");
    let out = uswim(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        dir.join("folders").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.join("folders/compare.csv")).unwrap();
    let time = csv.lines().find(|l| l.starts_with("total_time_ns,")).unwrap();
    let ratio: f64 = time.rsplit(',').next().unwrap().parse().unwrap();
    assert!((ratio - t_b / t_a).abs() < 1e-12 * ratio, "{time} vs {t_a} {t_b}");
    // A folder without summary.json is bad input.
    let bad = uswim(&[
        "compare",
        dir.to_str().unwrap(),
        "rram_1t1r_256",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_of_result_folders_shows_their_accuracy_and_survives_a_closed_pipe() {
    let dir = std::env::temp_dir().join(format!("uswim-it-cli-compare-acc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let folder = dir.join("run");
    let r = uswim(&[
        "program",
        "--model",
        "models/lenet_mnist.safetensors",
        "--mask",
        "random:0.2",
        "--data",
        "mnist",
        "--test-images",
        "300",
        "--mc-runs",
        "2",
        "--trace-level",
        "off",
        "-q",
        "--out",
        folder.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let out = uswim(&[
        "compare",
        folder.to_str().unwrap(),
        folder.to_str().unwrap(),
        "--out",
        dir.join("cmp").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The traced chip's accuracy and the Monte-Carlo chips' mean, from accuracy.csv, in percent.
    let accuracy = std::fs::read_to_string(folder.join("accuracy.csv")).unwrap();
    let traced: f64 = accuracy
        .lines()
        .find(|l| l.starts_with("traced,"))
        .and_then(|l| l.split(',').nth(2))
        .unwrap()
        .parse()
        .unwrap();
    let csv = std::fs::read_to_string(dir.join("cmp/compare.csv")).unwrap();
    let row = |name: &str| -> Vec<String> {
        csv.lines()
            .find(|l| l.starts_with(&format!("{name},")))
            .unwrap_or_else(|| panic!("{name} missing:\n{csv}"))
            .split(',')
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("accuracy_traced_pct")[1].parse::<f64>().unwrap(), traced);
    assert!(traced > 50.0 && traced <= 100.0, "{traced}");
    assert_eq!(row("accuracy_mc_mean_pct")[3], "1");
    assert!(stdout(&out).contains("accuracy_traced_pct"));
    // A reader that stops early (`| head -1`) ends the command quietly with 0, not a panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args([
            "compare",
            "rram_1t1r_256",
            "rram_1t1r_256",
            "--shape",
            "mlp",
            "--out",
        ])
        .arg(dir.join("cmp2"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
