//! What an architect reads off a run: the peripherals' area and leakage scale with their bits and count,
//! layers and arrays add up to the chip's energy (static and leakage included), one layer name in every
//! output, the `hw` axis of sweeps, and the timeline of one sweep point.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use uswim::config::{self, HwConfig, area};
use uswim::eval::run_seed;
use uswim::experiment::sweep_spec::SweepSpec;
use uswim::map::{LayerWeights, Mapped};
use uswim::sim::{self, Mask, ProgramOptions};
use uswim::trace::NullSink;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-periph-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uswim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(args)
        .output()
        .expect("run uswim")
}

type Row = HashMap<String, String>;

fn read_csv(path: &std::path::Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &Row, key: &str) -> f64 {
    row.get(key)
        .unwrap_or_else(|| panic!("no column {key}"))
        .parse()
        .unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// The trace tests' two-layer network on the RRAM preset's 32x64 arrays (3 channels), its tensors named
/// as PyTorch names them (`conv.weight`, `fc.weight`).
fn small() -> (HwConfig, Vec<LayerWeights>) {
    let (hw, mut layers) = crate::trace::setup();
    for l in &mut layers {
        l.name.push_str(".weight");
    }
    (hw, layers)
}

#[test]
fn peripheral_area_and_leakage_scale_with_bits_and_counts() {
    let base = config::load("rram_1t1r_256", &[]).unwrap();
    let cost = area::PeriphCost::of(&base);
    // The preset's per-instance numbers at 8 bits, times the counts per array.
    let adcs = f64::from(base.adc.adcs_per_array);
    let drivers = f64::from(base.program.write_drivers_per_array);
    assert_eq!(base.adc.bits, 8);
    assert!(close(cost.adc_area_um2, adcs * base.adc.area_um2, 1e-12));
    assert!(close(cost.dac_area_um2, drivers * base.dac.area_um2, 1e-12));
    assert!(cost.area_um2() > 0.0 && cost.leakage_uw > 0.0);

    // Fewer ADC bits: ADC area by NeuroSim's SAR transistor count, (478 + 182 * 3) / (478 + 182 * 7).
    let at = |overrides: &[&str]| {
        let o: Vec<_> = overrides
            .iter()
            .map(|s| config::parse_override(s).unwrap())
            .collect();
        area::PeriphCost::of(&config::load("rram_1t1r_256", &o).unwrap())
    };
    let adc4 = at(&["adc.bits=4"]);
    assert!(close(
        adc4.adc_area_um2,
        cost.adc_area_um2 * 1024.0 / 1752.0,
        1e-12
    ));
    assert_eq!(adc4.dac_area_um2, cost.dac_area_um2);
    // Fewer DAC bits: DAC area by unit elements, (2^4 - 1) / (2^8 - 1).
    let dac4 = at(&["dac.bits=4"]);
    assert!(close(dac4.dac_area_um2, cost.dac_area_um2 * 15.0 / 255.0, 1e-12));
    // Leakage drops with both, exactly by the same laws.
    let adc_leak = adcs * base.adc.leakage_uw;
    let dac_leak = drivers * base.dac.leakage_uw;
    assert!(close(cost.leakage_uw, adc_leak + dac_leak, 1e-12));
    assert!(close(
        adc4.leakage_uw,
        adc_leak * 1024.0 / 1752.0 + dac_leak,
        1e-12
    ));
    assert!(close(dac4.leakage_uw, adc_leak + dac_leak * 15.0 / 255.0, 1e-12));
    // Twice the ADCs: twice their area; drivers with an area of their own add it per driver.
    let twice = at(&["adc.adcs_per_array=64"]);
    assert!(close(
        twice.adc_area_um2,
        2.0 * cost.adc_area_um2 * 32.0 / adcs,
        1e-12
    ));
    let driven = at(&["program.driver_area_um2=10.0", "program.driver_leakage_uw=2.0"]);
    assert!(close(driven.driver_area_um2, 10.0 * drivers, 1e-12));
    assert!(close(driven.leakage_uw, cost.leakage_uw + 2.0 * drivers, 1e-12));
    // Out of range: the key and the range in the message.
    let bad = config::load(
        "rram_1t1r_256",
        &[config::parse_override("adc.area_um2=-1").unwrap()],
    )
    .unwrap_err();
    assert!(bad.to_string().contains("adc.area_um2"), "{bad}");
}

#[test]
fn conversion_energies_follow_walden_for_the_adc_and_unit_elements_for_the_dac() {
    let base = config::load("rram_1t1r_256", &[]).unwrap();
    // The preset's numbers are the reference point at its bits: unchanged there, bit for bit.
    assert_eq!((base.adc.bits, base.adc.ref_bits), (8, 8));
    assert_eq!(base.adc.conversion_energy_pj(), base.adc.energy_pj);
    assert_eq!(base.dac.conversion_energy_pj(), base.dac.energy_pj);
    let with = |set: &[String]| {
        let o: Vec<_> = set.iter().map(|s| config::parse_override(s).unwrap()).collect();
        config::load("rram_1t1r_256", &o).unwrap()
    };
    for b in 1..=16u32 {
        // ADC: E = FoM 2^ENOB at a fixed figure of merit, E(b) = E(8) 2^(b - 8) (exact: powers of two).
        let hw = with(&[format!("adc.bits={b}")]);
        let want = base.adc.energy_pj * 2f64.powi(b as i32 - 8);
        assert_eq!(hw.adc.conversion_energy_pj(), want, "adc.bits={b}");
        // DAC: proportional to its unit elements, (2^b - 1) / (2^8 - 1).
        let hw = with(&[format!("dac.bits={b}")]);
        let want = base.dac.energy_pj * ((1u64 << b) - 1) as f64 / 255.0;
        assert!(close(hw.dac.conversion_energy_pj(), want, 1e-15), "dac.bits={b}");
    }
    // The reference resolution is the config's: 3 pJ given at 10 bits is 0.75 pJ at 8 (Walden's FoM of
    // 3 pJ / 2^10 = 2.9 fJ per conversion step).
    let hw = with(&["adc.energy_pj=3.0".into(), "adc.ref_bits=10".into()]);
    assert_eq!(hw.adc.conversion_energy_pj(), 0.75);
    // A scaled energy beyond the per-operation bound is refused, naming the key and both resolutions.
    let err = config::load(
        "rram_1t1r_256",
        &[
            config::parse_override("adc.energy_pj=1e9").unwrap(),
            config::parse_override("adc.bits=9").unwrap(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("adc.energy_pj") && err.contains("adc.bits = 9"),
        "{err}"
    );

    // A run spends exactly the scaled energy per conversion: the ADC per conversion, the DAC per pulse.
    let (hw0, layers) = small();
    for (adc_bits, dac_bits) in [(8, 8), (6, 8), (10, 8), (8, 5)] {
        let mut hw = hw0.clone();
        hw.adc.bits = adc_bits;
        hw.dac.bits = dac_bits;
        hw.validate().unwrap();
        let mapped = Mapped::new(&layers, &hw).unwrap();
        let r = sim::program(
            &mapped,
            &hw,
            &Mask::All,
            &ProgramOptions::default(),
            &mut NullSink,
        )
        .unwrap();
        let (e, c) = (&r.summary.energy, &r.summary.counts);
        assert!(c.adc_conversions > 0 && c.pulses > 0);
        let adc_pj = hw0.adc.energy_pj * 2f64.powi(adc_bits as i32 - 8);
        let dac_pj = hw0.dac.energy_pj * ((1u64 << dac_bits) - 1) as f64 / 255.0;
        assert!(
            close(e.adc_pj, c.adc_conversions as f64 * adc_pj, 1e-12),
            "adc {adc_bits}: {e:?}"
        );
        assert!(
            close(e.dac_pj, c.pulses as f64 * dac_pj, 1e-12),
            "dac {dac_bits}: {e:?}"
        );
        assert_eq!(r.summary.periph.adc_conversion_pj, adc_pj);
    }
}

#[test]
fn hw_check_prints_the_energy_per_conversion_at_the_configured_bits_and_stays_loadable() {
    let dir = scratch("hw-check");
    let r = uswim(&[
        "hw",
        "check",
        "rram_1t1r_256",
        "--set",
        "adc.bits=6",
        "--set",
        "dac.bits=4",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8_lossy(&r.stdout);
    // 2 pJ at 8 bits is 0.5 pJ at 6 (Walden); 0.5 pJ at 8 bits is 0.5 x 15 / 255 at 4 (unit elements).
    assert!(text.contains("ADC 0.5000 pJ at adc.bits = 6"), "{text}");
    assert!(
        text.contains(&format!("DAC {:.4} pJ at dac.bits = 4", 0.5 * 15.0 / 255.0)),
        "{text}"
    );
    // The derived lines are comments: the output loads as the same configuration.
    let path = dir.join("resolved.toml");
    std::fs::write(&path, text.as_bytes()).unwrap();
    let reloaded = config::load(path.to_str().unwrap(), &[]).unwrap();
    let o: Vec<_> = ["adc.bits=6", "dac.bits=4"]
        .iter()
        .map(|s| config::parse_override(s).unwrap())
        .collect();
    assert_eq!(reloaded, config::load("rram_1t1r_256", &o).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sweeping_adc_bits_moves_energy_area_and_leakage() {
    let dir = scratch("adc-bits");
    let spec = dir.join("bits.toml");
    std::fs::write(
        &spec,
        "hw = \"rram_1t1r_256\"\nmodel = \"mlp\"\nfraction = 1.0\nseed = 2\n\
         [[axis]]\nkey = \"adc.bits\"\nvalues = [6, 8]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let r = uswim(&[
        "sweep",
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = read_csv(&out.join("results.csv"));
    assert_eq!(rows.len(), 2);
    let per_conversion = |row: &Row| num(row, "energy_adc_pj") / num(row, "adc_conversions");
    // 2 pJ at the preset's 8 bits, a quarter of it at 6 (Walden: 2^(6 - 8)).
    assert!(close(per_conversion(&rows[1]), 2.0, 1e-12));
    assert!(close(per_conversion(&rows[0]), 0.5, 1e-12));
    // Area and leakage power fall with the SAR transistor count, (478 + 182 * 5) / (478 + 182 * 7).
    let area_ratio = 1388.0 / 1752.0;
    let base = config::load("rram_1t1r_256", &[]).unwrap();
    let other_area = base.program.write_drivers_per_array as f64 * base.dac.area_um2;
    let adc_area = |row: &Row| num(row, "periph_area_um2") / num(row, "arrays") - other_area;
    assert!(close(adc_area(&rows[0]), adc_area(&rows[1]) * area_ratio, 1e-9));
    assert!(num(&rows[0], "energy_leakage_pj") != num(&rows[1], "energy_leakage_pj"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn arrays_and_layers_sum_to_the_chip_with_leakage_and_static_energy() {
    let (hw, layers) = small();
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let options = ProgramOptions {
        seed: 5,
        ..ProgramOptions::default()
    };
    let r = sim::program(
        &mapped,
        &hw,
        &Mask::random(&mapped, 0.5, 3),
        &options,
        &mut NullSink,
    )
    .unwrap();
    let s = &r.summary;
    assert!(s.energy.static_pj > 0.0 && s.energy.leakage_pj > 0.0);
    // Leakage: every array's peripherals leak for its busy time.
    let busy_ns: f64 = r.arrays.iter().map(|a| a.end_ns - a.start_ns).sum();
    assert!(close(
        s.energy.leakage_pj,
        s.periph.leakage_uw * busy_ns * 1e-3,
        1e-9
    ));
    // Static: controller power times the chip's time, shared out to arrays by busy time.
    assert!(close(
        s.energy.static_pj,
        hw.controller.static_power_mw * s.total_time_ns,
        1e-9
    ));
    for a in &r.arrays {
        let share = (a.end_ns - a.start_ns) / busy_ns;
        assert!(close(a.energy.static_pj, s.energy.static_pj * share, 1e-9));
    }
    // Every component, and the total, of the layers adds up to the chip's.
    let components = |e: &uswim::trace::Energy| e.components().map(|(_, v)| v);
    let mut sums = [0.0; 8];
    for l in &r.layers {
        for (sum, v) in sums.iter_mut().zip(components(&l.energy)) {
            *sum += v;
        }
    }
    for ((name, chip), sum) in s.energy.components().iter().zip(sums) {
        assert!(close(*chip, sum, 1e-9), "{name}: layers {sum} vs chip {chip}");
    }
    let layer_total: f64 = r.layers.iter().map(|l| l.energy.total_pj()).sum();
    assert!(close(layer_total, s.total_energy_pj(), 1e-9));
    // The layers are named as sensitivity.csv names them.
    let names: Vec<&str> = r.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["conv", "fc"]);
}

#[test]
fn the_program_command_writes_layers_that_sum_to_the_summary_and_one_layer_name() {
    let dir = scratch("program");
    let out = dir.join("run");
    let timeline = dir.join("timeline.json");
    let r = uswim(&[
        "program",
        "--shape",
        "lenet",
        "--mask",
        "random:0.1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--timeline",
        timeline.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("mm^2 of peripherals") && stdout.contains("leakage"),
        "{stdout}"
    );
    let layers = read_csv(&out.join("layers.csv"));
    let arrays = read_csv(&out.join("arrays.csv"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let total = summary["total_energy_pj"].as_f64().unwrap();
    let sum = |rows: &[Row], key: &str| rows.iter().map(|r| num(r, key)).sum::<f64>();
    assert!(close(sum(&layers, "energy_total_pj"), total, 1e-9));
    assert!(close(sum(&arrays, "energy_total_pj"), total, 1e-9));
    for c in ["leakage", "static", "adc"] {
        let chip = summary["energy_pj_by_component"][c].as_f64().unwrap();
        assert!(close(sum(&layers, &format!("energy_{c}_pj")), chip, 1e-9), "{c}");
    }
    // Area: arrays times the peripherals of one.
    let per_array = summary["periph_per_array"]["area_um2"].as_f64().unwrap();
    assert!(close(
        summary["periph_area_um2"].as_f64().unwrap(),
        per_array * summary["arrays"].as_f64().unwrap(),
        1e-12
    ));
    // One layer name everywhere: layers.csv, arrays.csv, the timeline, the console.
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str()).collect();
    assert_eq!(names, ["conv1", "conv2", "fc1", "fc2", "fc3"]);
    for a in &arrays {
        assert_eq!(a["layer_name"], layers[num(a, "layer") as usize]["name"]);
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    for e in json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "array")
    {
        let name = e["name"].as_str().unwrap();
        assert!(names.contains(&name), "timeline names a layer {name}");
    }
    assert!(
        stdout.contains(" conv1 ") && !stdout.contains("conv1.weight"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_hw_axis_runs_each_point_on_its_own_configuration() {
    let dir = scratch("hw-axis");
    // A list of presets: an axis `hw`, slowest, with the other axes applied on top of each.
    let text = "hw = [\"rram_1t1r_256\", \"pcm_256\"]\nmodel = \"mlp\"\nfraction = 0.0\n\
                set = [\"controller.parallel_arrays=2\"]\n\
                [[axis]]\nkey = \"adc.adcs_per_array\"\nvalues = [4, 16]\n";
    let spec = SweepSpec::parse(text, "hw.toml", &dir).unwrap();
    assert_eq!(spec.len(), 4);
    assert_eq!(spec.axis_columns(), ["hw", "adc.adcs_per_array"]);
    let want = [
        ("rram_1t1r_256", 4),
        ("rram_1t1r_256", 16),
        ("pcm_256", 4),
        ("pcm_256", 16),
    ];
    for (i, (preset, adcs)) in want.iter().enumerate() {
        let p = spec.point(i).unwrap();
        let expected = config::load(
            preset,
            &[
                config::parse_override("controller.parallel_arrays=2").unwrap(),
                config::parse_override(&format!("adc.adcs_per_array={adcs}")).unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(p.hw, expected, "point {i}");
        assert_eq!(p.cells, [preset.to_string(), adcs.to_string()]);
    }
    // The same as an explicit axis, and the configurations enter the spec hash.
    let axis = "hw = \"rram_1t1r_256\"\nmodel = \"mlp\"\nfraction = 0.0\nset = [\"controller.parallel_arrays=2\"]\n\
                [[axis]]\nkey = \"hw\"\nvalues = [\"rram_1t1r_256\", \"pcm_256\"]\n\
                [[axis]]\nkey = \"adc.adcs_per_array\"\nvalues = [4, 16]\n";
    let explicit = SweepSpec::parse(axis, "hw.toml", &dir).unwrap();
    for i in 0..4 {
        assert_eq!(explicit.point(i).unwrap().hw, spec.point(i).unwrap().hw);
    }
    let other = SweepSpec::parse(&axis.replace("pcm_256", "fefet_128"), "hw.toml", &dir).unwrap();
    assert_ne!(other.hash_hex(), explicit.hash_hex());
    // An unknown preset is the spec's error, naming the axis value.
    let err = SweepSpec::parse(&text.replace("pcm_256", "pcm_999"), "hw.toml", &dir).unwrap_err();
    assert!(err.to_string().contains("pcm_999"), "{err}");
    let err = SweepSpec::parse("hw = []\n", "hw.toml", &dir).unwrap_err();
    assert!(err.to_string().contains("hw"), "{err}");

    // Run: the hw column, and each row as its configuration programs.
    std::fs::write(dir.join("hw.toml"), text).unwrap();
    let out = dir.join("out");
    let r = uswim(&[
        "sweep",
        "--spec",
        dir.join("hw.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = read_csv(&out.join("results.csv"));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["hw"], "rram_1t1r_256");
    assert_eq!(rows[3]["hw"], "pcm_256");
    assert_ne!(rows[0]["total_time_ns"], rows[2]["total_time_ns"]);
    // More ADCs: more area (the area columns are there for every point).
    assert!(num(&rows[1], "periph_area_um2") > num(&rows[0], "periph_area_um2"));
    assert!(num(&rows[0], "energy_leakage_pj") > 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_timeline_of_a_sweep_point_parses_and_matches_its_arrays() {
    let dir = scratch("sweep-timeline");
    let spec_path = dir.join("spec.toml");
    std::fs::write(
        &spec_path,
        "hw = \"rram_1t1r_256\"\nmodel = \"lenet\"\nfraction = 1.0\ncommon_seed = false\nseed = 3\n\
         set = [\"array.rows=64\", \"array.cols=128\", \"controller.parallel_arrays=3\"]\n\
         [[axis]]\nkey = \"adc.adcs_per_array\"\nvalues = [2, 8]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let timeline = dir.join("point1.json");
    let r = uswim(&[
        "sweep",
        "--spec",
        spec_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--timeline",
        timeline.to_str().unwrap(),
        "--timeline-point",
        "1",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = read_csv(&out.join("results.csv"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let array_slices: Vec<&serde_json::Value> = events.iter().filter(|e| e["cat"] == "array").collect();

    // The same point programmed by the library, written as arrays.csv.
    let spec = SweepSpec::load(&spec_path).unwrap();
    let point = spec.point(1).unwrap();
    let net = uswim::nn::zoo::build("lenet").unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &point.hw).unwrap();
    let options = ProgramOptions {
        seed: run_seed(point.seed, 0),
        ..ProgramOptions::default()
    };
    let result = sim::program(&mapped, &point.hw, &Mask::All, &options, &mut NullSink).unwrap();
    let csv = dir.join("arrays.csv");
    uswim::trace::reports::write_arrays_csv(&csv, &result.arrays, &result.layers).unwrap();
    let arrays = read_csv(&csv);
    assert_eq!(array_slices.len(), arrays.len());
    for a in &arrays {
        let id = num(a, "array") as u64;
        let s = array_slices
            .iter()
            .find(|s| s["args"]["array"] == id)
            .unwrap_or_else(|| panic!("array {id} missing"));
        assert_eq!(s["tid"].as_f64().unwrap(), num(a, "channel"));
        let ts = s["ts"].as_f64().unwrap();
        let end = ts + s["dur"].as_f64().unwrap();
        assert!((ts - num(a, "start_ns") / 1e3).abs() < 1e-6, "array {id}");
        assert!((end - num(a, "end_ns") / 1e3).abs() < 1e-6, "array {id}");
        assert_eq!(s["args"]["pulses"].as_f64().unwrap(), num(a, "pulses"));
        assert_eq!(s["name"].as_str().unwrap(), a["layer_name"]);
    }
    // And the point's results row: its time and pulses.
    let last_end = array_slices
        .iter()
        .map(|s| s["ts"].as_f64().unwrap() + s["dur"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!((last_end * 1e3 - num(&rows[1], "total_time_ns")).abs() < 1e-3);
    let pulses: f64 = array_slices
        .iter()
        .map(|s| s["args"]["pulses"].as_f64().unwrap())
        .sum();
    assert_eq!(pulses, num(&rows[1], "pulses"));
    // A point outside the grid is refused before any work, with exit code 2.
    let r = uswim(&[
        "sweep",
        "--spec",
        spec_path.to_str().unwrap(),
        "--out",
        dir.join("out2").to_str().unwrap(),
        "--quiet",
        "--timeline",
        timeline.to_str().unwrap(),
        "--timeline-point",
        "2",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--timeline-point"));
    assert!(!dir.join("out2").join("results.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_timeline_of_a_reproduce_point_is_the_chip_of_its_row() {
    let dir = scratch("reproduce-timeline");
    let timeline = dir.join("point.json");
    let out = dir.join("out");
    let base = [
        "reproduce",
        "--methods",
        "random",
        "--fractions",
        "0.5,1",
        "--variation",
        "uniform:device.variation.maps=[{kind=\"uniform\"}]",
        "--physical",
        "none",
        "--second",
        "none",
        "--mc-runs",
        "1",
        "--max-runs",
        "1",
        "--test-images",
        "20",
        "--calib-samples",
        "16",
        "--quiet",
        "--timeline",
        timeline.to_str().unwrap(),
    ];
    // A point that is not in the experiment: exit 2 before any work, naming the points.
    let r = uswim(
        &[
            &base[..],
            &[
                "--timeline-point",
                "uniform/random/0.3",
                "--out",
                out.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("--timeline-point") && stderr.contains("uniform/random/0.5"),
        "{stderr}"
    );
    assert!(!out.join("results.csv").exists());

    let r = uswim(
        &[
            &base[..],
            &[
                "--timeline-point",
                "uniform/random/0.5",
                "--out",
                out.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    let arrays: Vec<&serde_json::Value> = json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "array")
        .collect();
    assert!(!arrays.is_empty());
    let end_ns = arrays
        .iter()
        .map(|s| s["ts"].as_f64().unwrap() + s["dur"].as_f64().unwrap())
        .fold(0.0, f64::max)
        * 1e3;
    // One run: the row's time is run 0's chip, the one traced.
    let rows = read_csv(&out.join("results.csv"));
    let row = rows
        .iter()
        .find(|r| r["method"] == "random" && num(r, "fraction") == 0.5)
        .expect("the random 0.5 row");
    assert!(
        (end_ns - num(row, "time_ns")).abs() < 1e-3,
        "{end_ns} vs {}",
        row["time_ns"]
    );
    let verified: f64 = arrays
        .iter()
        .map(|s| s["args"]["selected_devices"].as_f64().unwrap())
        .sum();
    assert_eq!(verified, num(row, "devices_verified"));
    std::fs::remove_dir_all(&dir).unwrap();
}
