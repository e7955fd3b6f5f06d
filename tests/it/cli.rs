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
