//! Hardware configurations: every preset parses and validates; malformed files each get their own clear
//! message naming the key; a misspelt key is rejected in every `kind` of every tagged enum; and the CLI
//! exits with code 2 on a bad file.

use std::process::Command;
use uswim::config::{self, preset_names, preset_text};

fn rram() -> &'static str {
    preset_text("rram_1t1r_256").unwrap()
}

/// The error message of `text` (which must fail).
fn error_of(text: &str) -> String {
    match config::from_toml_str(text, "bad.toml", &[]) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The RRAM preset with `old` replaced by `new` (which must occur exactly once).
fn edit(old: &str, new: &str) -> String {
    let text = rram();
    assert_eq!(
        text.matches(old).count(),
        1,
        "`{old}` must occur once in the preset"
    );
    text.replacen(old, new, 1)
}

/// The RRAM preset with the `[section]` table replaced by `body` (up to the next table header).
fn replace_table(text: &str, header: &str, body: &str) -> String {
    let start = text.find(header).unwrap_or_else(|| panic!("{header} not found"));
    let rest = &text[start + header.len()..];
    let end = rest
        .find("\n[")
        .map(|i| start + header.len() + i + 1)
        .unwrap_or(text.len());
    format!("{}{}\n{}", &text[..start], body, &text[end..])
}

#[test]
fn every_preset_parses_and_validates() {
    assert!(preset_names().len() >= 5);
    for name in preset_names() {
        let hw = config::load(name, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        hw.validate().unwrap();
        assert!(!hw.name.is_empty(), "{name} has a name");
    }
}

#[test]
fn malformed_files_each_get_their_own_message() {
    // (edited text, substrings the message must contain)
    let cases: Vec<(String, Vec<&str>)> = vec![
        // 1. wrong type
        (
            edit("g_max_us = 50.0", "g_max_us = \"fifty\""),
            vec!["bad.toml", "device.g_max_us", "invalid type"],
        ),
        // 2. unknown key
        (
            edit("read_noise = 0.005", "read_noise = 0.005\ncolour = \"red\""),
            vec!["device", "unknown field `colour`"],
        ),
        // 3. negative size
        (edit("rows = 256", "rows = -256"), vec!["array.rows", "-256"]),
        // 4. g_min >= g_max
        (
            edit("g_min_us = 2.0", "g_min_us = 60.0"),
            vec!["device.g_max_us", "must be greater than device.g_min_us = 60"],
        ),
        // 5. missing section
        (replace_table(rram(), "[adc]", ""), vec!["missing field `adc`"]),
        // 6. bad device kind
        (
            edit("kind = \"pulse\"", "kind = \"quantum\""),
            vec!["device.model", "unknown variant `quantum`", "statistical"],
        ),
        // 7. bad variation-map kind
        (
            edit("kind = \"uniform\"", "kind = \"bnad\""),
            vec!["device.variation.maps", "unknown variant `bnad`", "band"],
        ),
        // 8. bad scheme kind
        (
            edit("kind = \"ispp\"", "kind = \"isp\""),
            vec!["program.scheme", "unknown variant `isp`", "ispp"],
        ),
        // 9. out-of-range tolerance (wider than a level step)
        (
            edit("tolerance = 0.03", "tolerance = 0.4"),
            vec!["program.tolerance", "0.4 is out of range", "one level step"],
        ),
        // 10. bits per cell
        (
            edit("bits_per_cell = 2", "bits_per_cell = 9"),
            vec!["device.bits_per_cell", "9 is out of range", "1..=8"],
        ),
        // 11. TOML syntax error, located by line
        (edit("[controller]", "[controller"), vec!["bad.toml", "line "]),
        // 12. ISPP cap below its start
        (
            edit("v_max_v = 1.0", "v_max_v = 0.5"),
            vec!["program.scheme.v_max_v", "0.5 is out of range"],
        ),
        // 13. missing key
        (
            edit("clock_mhz = 200.0\n", ""),
            vec!["controller", "missing field `clock_mhz`"],
        ),
        // 14. a second level_poly map
        (
            edit(
                "[[device.variation.maps]]\nkind = \"uniform\"",
                "[[device.variation.maps]]\nkind = \"level_poly\"\ncoefficients_us = [1.0]\n\n\
                 [[device.variation.maps]]\nkind = \"level_poly\"\ncoefficients_us = [2.0]",
            ),
            vec!["device.variation.maps[1]", "at most one"],
        ),
        // 15. negative physical parameter
        (
            edit("c2c = 0.2", "c2c = -0.2"),
            vec!["device.model.c2c", "-0.2 is out of range"],
        ),
        // 16. more ADCs than columns
        (
            edit("adcs_per_array = 32", "adcs_per_array = 300"),
            vec!["adc.adcs_per_array", "300 is out of range"],
        ),
    ];
    let mut messages = std::collections::HashSet::new();
    for (text, wanted) in &cases {
        let message = error_of(text);
        for w in wanted {
            assert!(message.contains(w), "message `{message}` lacks `{w}`");
        }
        assert!(messages.insert(message.clone()), "duplicate message {message}");
    }
}

#[test]
fn a_misspelt_key_is_rejected_in_every_kind_of_every_tagged_enum() {
    let model_statistical = "kind = \"statistical\"\nretry_ratoi = 1.0";
    let model_pulse = &preset_text("rram_1t1r_256")
        .unwrap()
        .split("[device.model]\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .replace("nu_set", "nu_sett");
    let maps = [
        "kind = \"uniform\"\nmultiplier = 2.0",
        "kind = \"band\"\nmultiplier = 2.0\nlwo = 0.2",
        "kind = \"level_poly\"\ncoefficient_us = [1.0]",
        "kind = \"spatial\"\nrow_gradient = 0.1\ncol_gradient = 0.1\narray_sigma_log = 0.1\nrows = 3",
        "kind = \"lognormal\"\nsigma_lg = 0.1",
        "kind = \"outliers\"\nfraction = 0.1\nmultiplier = 3.0\nfractoin = 0.2",
    ];
    let schemes = [
        "kind = \"fixed\"\nset_v = 1.0\nreset_v = 1.0\nwidth_ns = 100.0\nwdith_ns = 1.0",
        "kind = \"ispp\"\nset_start_v = 1.0\nreset_start_v = 1.0\nv_step_v = 0.05\nv_max_v = 2.0\nwidth_ns = 100.0\nv_stpe_v = 1.0",
        "kind = \"adaptive\"\ngain_v = 1.0\nv_min_v = 1.0\nv_max_v = 2.0\nwidth_ns = 100.0\ngain = 1.0",
        "kind = \"open_loop\"\nset_v = 1.0\nreset_v = 1.0\nwidth_ns = 100.0\nrest_v = 1.0",
    ];
    let base = rram();
    let model_section =
        |body: &str| replace_table(base, "[device.model]", &format!("[device.model]\n{body}\n"));
    let map_section = |body: &str| {
        replace_table(
            base,
            "[[device.variation.maps]]",
            &format!("[[device.variation.maps]]\n{body}\n"),
        )
    };
    let scheme_section =
        |body: &str| replace_table(base, "[program.scheme]", &format!("[program.scheme]\n{body}\n"));
    let mut checked = 0;
    for (text, typo) in [
        (model_section(model_statistical), "retry_ratoi"),
        (model_section(model_pulse), "nu_sett"),
    ]
    .into_iter()
    .chain(
        maps.iter()
            .zip([
                "multiplier",
                "lwo",
                "coefficient_us",
                "rows",
                "sigma_lg",
                "fractoin",
            ])
            .map(|(m, t)| (map_section(m), t)),
    )
    .chain(
        schemes
            .iter()
            .zip(["wdith_ns", "v_stpe_v", "gain", "rest_v"])
            .map(|(s, t)| (scheme_section(s), t)),
    ) {
        let message = error_of(&text);
        assert!(
            message.contains(&format!("unknown field `{typo}`")),
            "`{typo}`: {message}"
        );
        checked += 1;
    }
    assert_eq!(checked, 12);
    // And the same sections without the typo are accepted (so the rejection is the typo's doing).
    config::from_toml_str(
        &model_section("kind = \"statistical\"\nretry_ratio = 1.0"),
        "ok",
        &[],
    )
    .unwrap();
    config::from_toml_str(
        &map_section("kind = \"outliers\"\nfraction = 0.1\nmultiplier = 3.0"),
        "ok",
        &[],
    )
    .unwrap();
    config::from_toml_str(
        &scheme_section("kind = \"open_loop\"\nset_v = 1.0\nreset_v = 1.0\nwidth_ns = 100.0"),
        "ok",
        &[],
    )
    .unwrap();
}

#[test]
fn hw_check_of_a_bad_file_exits_with_code_2_naming_file_and_key() {
    let dir = std::env::temp_dir().join(format!("uswim-config-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, edit("g_min_us = 2.0", "g_min_us = 60.0")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(["hw", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("device.g_max_us"),
        "{err}"
    );
    let ok = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(["hw", "check", "rram_1t1r_256"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    std::fs::remove_dir_all(&dir).ok();
}
