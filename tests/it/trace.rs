//! Traces and reports: events.csv agrees with the summary and tiles each array's busy time, device rows
//! follow each device's conductance, filters and sampling keep whole rows, failed runs leave no file,
//! and the `uswim program` command writes every output.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use uswim::config::{self, HwConfig};
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::model_file::RawTensor;
use uswim::sim::{self, Mask, ProgramOptions, ProgramResult};
use uswim::trace::{
    self, ArrayStats, EventsCsv, PhaseEvent, PulseEvent, RunInfo, TraceFilter, TraceLevel, TraceSink,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-trace-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The RRAM preset on 32x64 arrays (many arrays, 3 channels) and a two-layer network.
pub(crate) fn setup() -> (HwConfig, Vec<LayerWeights>) {
    let mut hw = config::load("rram_1t1r_256", &[]).unwrap();
    hw.array.rows = 32;
    hw.array.cols = 64;
    hw.adc.adcs_per_array = 8;
    hw.program.write_drivers_per_array = 16;
    hw.controller.parallel_arrays = 3;
    hw.validate().unwrap();
    let layer = |name: &str, shape: &[usize]| {
        let n: usize = shape.iter().product();
        LayerWeights {
            name: name.into(),
            shape: shape.to_vec(),
            values: (0..n)
                .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.3)
                .collect(),
        }
    };
    (hw, vec![layer("conv", &[16, 8, 3, 3]), layer("fc", &[10, 100])])
}

fn program_to_csv(hw: &HwConfig, layers: &[LayerWeights], filter: TraceFilter, path: &Path) -> ProgramResult {
    let mapped = Mapped::new(layers, hw).unwrap();
    let mask = Mask::random(&mapped, 0.5, 3);
    let names: Vec<String> = layers
        .iter()
        .map(|l| trace::layer_label(&l.name).to_string())
        .collect();
    let mut sink = EventsCsv::create(path, filter.level, &names).unwrap();
    let options = ProgramOptions {
        seed: 17,
        trace: filter,
        keep_conductances: false,
    };
    let result = sim::program(&mapped, hw, &mask, &options, &mut sink).unwrap();
    sink.finish().unwrap();
    result
}

type Row = HashMap<String, String>;

fn read_csv(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &Row, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?}", row[key]))
}

fn is_phase(row: &Row) -> bool {
    ["row_setup", "write", "verify_read", "verify_pulse"].contains(&row["op"].as_str())
}

#[test]
fn phase_rows_agree_with_the_summary_and_tile_each_arrays_busy_time() {
    let dir = scratch("phases");
    let (hw, layers) = setup();
    let path = dir.join("events.csv");
    let result = program_to_csv(&hw, &layers, TraceFilter::level(TraceLevel::Phase), &path);
    let rows = read_csv(&path);
    assert!(rows.iter().all(is_phase));
    // Every row names its layer as layers.csv does.
    assert!(
        rows.iter()
            .all(|r| r["layer_name"] == ["conv", "fc"][num(r, "layer") as usize])
    );
    // Time order.
    let cycles: Vec<f64> = rows.iter().map(|r| num(r, "cycle")).collect();
    assert!(cycles.windows(2).all(|w| w[0] <= w[1]));
    // Totals.
    let s = &result.summary;
    let sum = |key: &str| rows.iter().map(|r| num(r, key)).sum::<f64>();
    assert_eq!(sum("pulses") as u64, s.counts.pulses);
    assert_eq!(sum("adc_conversions") as u64, s.counts.adc_conversions);
    let dynamic = s.total_energy_pj() - s.energy.static_pj - s.energy.leakage_pj;
    assert!(
        (sum("energy_pj") - dynamic).abs() < 1e-6 * dynamic,
        "{} vs {dynamic}",
        sum("energy_pj")
    );
    // Each array's phases follow each other without gap from its start to its end.
    let mut by_array: HashMap<u32, Vec<&Row>> = HashMap::new();
    for r in &rows {
        by_array.entry(num(r, "array") as u32).or_default().push(r);
    }
    assert_eq!(by_array.len(), result.arrays.len());
    for a in &result.arrays {
        let phases = &by_array[&a.array];
        let mut t = a.start_cycle;
        for p in phases {
            assert_eq!(num(p, "cycle") as u64, t, "array {}", a.array);
            assert!((num(p, "t_ns") - t as f64 * 5.0).abs() < 1e-6);
            t += num(p, "cycles") as u64;
        }
        assert_eq!(t, a.end_cycle, "array {}", a.array);
        assert_eq!(phases[0]["op"], "row_setup");
        let rows_set: std::collections::HashSet<u64> = phases.iter().map(|p| num(p, "row") as u64).collect();
        assert_eq!(rows_set.len() as u32, a.rows_used);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn device_rows_trace_every_pulse_and_read_within_their_phase() {
    let dir = scratch("devices");
    let (hw, layers) = setup();
    let path = dir.join("events.csv");
    let result = program_to_csv(&hw, &layers, TraceFilter::level(TraceLevel::Device), &path);
    let rows = read_csv(&path);
    let (phases, devices): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| is_phase(r));
    let c = &result.summary.counts;
    assert_eq!(devices.len() as u64, c.pulses + c.verify_reads);
    assert_eq!(
        devices.iter().filter(|r| r["op"] == "read").count() as u64,
        c.verify_reads
    );
    // Every device row lies within the phase row above it.
    let mut current: Option<&Row> = None;
    for r in &rows {
        if is_phase(r) {
            current = Some(r);
            continue;
        }
        let p = current.expect("a phase row comes first");
        assert_eq!(
            (r["array"].as_str(), r["iteration"].as_str()),
            (p["array"].as_str(), p["iteration"].as_str())
        );
        let (start, len) = (num(p, "cycle"), num(p, "cycles"));
        assert!(
            num(r, "cycle") >= start && num(r, "cycle") < start + len.max(1.0),
            "{r:?} in {p:?}"
        );
        let kind_ok = match p["op"].as_str() {
            "write" | "verify_pulse" => r["op"] == "set" || r["op"] == "reset",
            "verify_read" => r["op"] == "read",
            _ => false,
        };
        assert!(kind_ok, "{r:?} in {p:?}");
    }
    // Each device's conductance is continuous from one event to the next, and reads do not move it.
    let mut last: HashMap<(String, String, String), f64> = HashMap::new();
    for r in &devices {
        let key = (r["array"].clone(), r["row"].clone(), r["col"].clone());
        let (before, after) = (num(r, "g_before_us"), num(r, "g_after_us"));
        if let Some(&g) = last.get(&key) {
            assert!((g - before).abs() < 1e-4, "{r:?}");
        }
        if r["op"] == "read" {
            assert_eq!(before, after);
            assert!(!r["read_us"].is_empty());
        }
        last.insert(key, after);
    }
    // (Devices at g_min with no verify have no event at all.)
    assert!(last.len() as u64 <= c.devices && last.len() as u64 > c.devices / 2);
    assert!(phases.len() > 100);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn array_filters_and_row_sampling_keep_whole_rows() {
    let dir = scratch("filters");
    let (hw, layers) = setup();
    let full = dir.join("full.csv");
    program_to_csv(&hw, &layers, TraceFilter::level(TraceLevel::Phase), &full);
    let full = read_csv(&full);
    let path = dir.join("some.csv");
    let filter = TraceFilter {
        level: TraceLevel::Device,
        arrays: TraceFilter::parse_arrays("1-2,5"),
        sample: Some(0.5),
    };
    program_to_csv(&hw, &layers, filter.clone(), &path);
    let some = read_csv(&path);
    assert!(!some.is_empty());
    let key = |r: &Row| (num(r, "array") as u32, num(r, "row") as u32);
    assert!(some.iter().all(|r| filter.wants_row(key(r).0, key(r).1)));
    // Exactly the phase rows of the kept (array, row) pairs, identical to the full trace's.
    let kept_full: Vec<Vec<String>> = full
        .iter()
        .filter(|r| filter.wants_row(key(r).0, key(r).1))
        .map(|r| {
            ["cycle", "array", "row", "op", "devices", "pulses"]
                .iter()
                .map(|k| r[*k].clone())
                .collect()
        })
        .collect();
    let kept_some: Vec<Vec<String>> = some
        .iter()
        .filter(|r| is_phase(r))
        .map(|r| {
            ["cycle", "array", "row", "op", "devices", "pulses"]
                .iter()
                .map(|k| r[*k].clone())
                .collect()
        })
        .collect();
    assert_eq!(kept_some, kept_full);
    let arrays: std::collections::HashSet<u32> = some.iter().map(|r| key(r).0).collect();
    assert!(arrays.is_subset(&[1, 2, 5].into_iter().collect()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A sink that fails after `left` events, like a full disk.
struct Failing {
    inner: EventsCsv,
    left: usize,
}

impl TraceSink for Failing {
    fn on_phase(&mut self, e: &PhaseEvent) -> io::Result<()> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        self.left -= 1;
        self.inner.on_phase(e)
    }
    fn on_pulse(&mut self, e: &PulseEvent) -> io::Result<()> {
        self.inner.on_pulse(e)
    }
    fn on_array_done(&mut self, s: &ArrayStats) -> io::Result<()> {
        self.inner.on_array_done(s)
    }
}

#[test]
fn a_failed_run_leaves_no_file_under_the_final_name() {
    let dir = scratch("failed");
    let (hw, layers) = setup();
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let path = dir.join("events.csv");
    let mut sink = Failing {
        inner: EventsCsv::create(&path, TraceLevel::Phase, &[]).unwrap(),
        left: 500,
    };
    let options = ProgramOptions {
        trace: TraceFilter::level(TraceLevel::Phase),
        ..ProgramOptions::default()
    };
    let e = sim::program(&mapped, &hw, &Mask::All, &options, &mut sink).unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
    drop(sink);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no partial or temporary file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reports_have_a_row_per_array_and_layer_and_the_summary_keys() {
    let dir = scratch("reports");
    let (hw, layers) = setup();
    let result = program_to_csv(
        &hw,
        &layers,
        TraceFilter::level(TraceLevel::Off),
        &dir.join("events.csv"),
    );
    trace::reports::write_arrays_csv(dir.join("arrays.csv"), &result.arrays, &result.layers).unwrap();
    trace::reports::write_layers_csv(dir.join("layers.csv"), &result.layers).unwrap();
    let run = RunInfo {
        network: "test".into(),
        hw_source: "rram_1t1r_256".into(),
        seed: 17,
        mask: "random:0.5".into(),
        trace_level: "off".into(),
    };
    trace::reports::write_summary_json(dir.join("summary.json"), &result.summary, &hw, &run).unwrap();
    let arrays = read_csv(&dir.join("arrays.csv"));
    assert_eq!(arrays.len(), result.arrays.len());
    let layers_csv = read_csv(&dir.join("layers.csv"));
    assert_eq!(layers_csv.len(), 2);
    assert_eq!(layers_csv[1]["name"], "fc");
    let selected: f64 = layers_csv.iter().map(|r| num(r, "selected_weights")).sum();
    assert_eq!(selected as u64, result.summary.selected_weights);
    // Per-array energies add up to the layer's.
    for (l, row) in layers_csv.iter().enumerate() {
        let from_arrays: f64 = arrays
            .iter()
            .filter(|a| num(a, "layer") as usize == l)
            .map(|a| num(a, "energy_total_pj"))
            .sum();
        assert!((from_arrays - num(row, "energy_total_pj")).abs() < 1e-9 * from_arrays);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for key in [
        "total_time_ns",
        "total_cycles",
        "total_energy_pj",
        "energy_pj_by_component",
        "devices",
        "selected_devices",
        "selected_weights",
        "weights",
        "pulses",
        "verify_reads",
        "adc_conversions",
        "failed_devices",
    ] {
        assert!(json.get(key).is_some(), "summary.json lacks {key}");
    }
    let parts: f64 = json["energy_pj_by_component"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    let total = json["total_energy_pj"].as_f64().unwrap();
    assert!((parts - total).abs() < 1e-9 * total);
    assert_eq!(json["hw"]["array"]["rows"], 32);
    assert_eq!(json["weights"], 16 * 72 + 1000);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn uswim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_program_command_writes_every_output_and_rejects_bad_input_with_code_2() {
    let dir = scratch("cli");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    let common = [
        "program",
        "--shape",
        "lenet",
        "--hw",
        "paper_statistical",
        "--quiet",
        "--out",
        out_s,
    ];
    let ok = uswim(&[&common[..], &["--mask", "random:0.05", "--seed", "3"]].concat());
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.contains("time") && stdout.contains("energy") && stdout.contains("failures"),
        "{stdout}"
    );
    for f in ["events.csv", "arrays.csv", "layers.csv", "summary.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // One layer name in every file: events.csv's layer_name is layers.csv's name of the same index.
    let layer_names: HashMap<String, String> = read_csv(&out.join("layers.csv"))
        .into_iter()
        .map(|r| (r["layer"].clone(), r["name"].clone()))
        .collect();
    let events = read_csv(&out.join("events.csv"));
    assert!(!events.is_empty());
    assert!(events.iter().all(|r| r["layer_name"] == layer_names[&r["layer"]]));
    let seen: std::collections::HashSet<&str> = events.iter().map(|r| r["layer_name"].as_str()).collect();
    assert_eq!(seen.len(), layer_names.len(), "{seen:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let weights = json["weights"].as_u64().unwrap();
    assert_eq!(
        json["selected_weights"].as_u64().unwrap(),
        (weights as f64 * 0.05).round() as u64
    );

    // A mask file: the first weight of every tensor selected.
    let net = uswim::nn::zoo::build("lenet").unwrap();
    let tensors: Vec<RawTensor> = LayerWeights::of_network(&net)
        .into_iter()
        .map(|l| {
            let mut bytes = vec![0u8; l.values.len()];
            bytes[0] = 1;
            RawTensor {
                name: l.name,
                dtype: safetensors::Dtype::U8,
                shape: l.shape,
                bytes,
            }
        })
        .collect();
    let mask = dir.join("mask.safetensors");
    uswim::nn::model_file::write_tensors(&mask, &tensors, &Default::default()).unwrap();
    let out2 = dir.join("masked");
    let args = [
        "program",
        "--shape",
        "lenet",
        "--hw",
        "paper_statistical",
        "--quiet",
        "--trace-level",
        "off",
    ];
    let ok = uswim(
        &[
            &args[..],
            &["--out", out2.to_str().unwrap(), "--mask", mask.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["selected_weights"], 5);
    assert!(!out2.join("events.csv").exists());

    // A model file (its architecture recorded in the file).
    let model = dir.join("lenet.safetensors");
    uswim::nn::model_file::save(&net, &model, &[("arch".to_string(), "lenet".to_string())].into()).unwrap();
    let out3 = dir.join("model");
    let args = [
        "program",
        "--hw",
        "paper_statistical",
        "--quiet",
        "--trace-level",
        "off",
        "--mask",
        "none",
    ];
    let ok = uswim(
        &[
            &args[..],
            &[
                "--out",
                out3.to_str().unwrap(),
                "--model",
                model.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out3.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        json["weights"].as_u64().unwrap(),
        net.num_programmable_weights() as u64
    );
    assert_eq!(json["verify_reads"], 0);

    // Bad input: exit code 2, a message naming the culprit, no output written.
    let bad_dir = dir.join("bad");
    let bad_s = bad_dir.to_str().unwrap();
    for (args, culprit) in [
        (vec!["--mask", "random:1.5"], "random:1.5"),
        (vec!["--mask", "nosuchfile"], "nosuchfile"),
        (vec!["--trace-level", "loud"], "--trace-level"),
        (vec!["--trace-sample", "0"], "--trace-sample"),
        (vec!["--set", "mapping.weight_bits=40"], "mapping.weight_bits"),
        (
            vec![
                "--set",
                "array.cols=4",
                "--set",
                "adc.adcs_per_array=4",
                "--set",
                "program.write_drivers_per_array=4",
            ],
            "array.cols = 4",
        ),
    ] {
        let base = [
            "program",
            "--shape",
            "lenet",
            "--hw",
            "paper_statistical",
            "--quiet",
            "--out",
            bad_s,
        ];
        let r = uswim(&[&base[..], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(culprit), "{args:?}: {stderr}");
        assert!(!bad_dir.join("summary.json").exists());
    }
    let r = uswim(&["program", "--shape", "alexnet", "--out", bad_s]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("alexnet"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One slice of the timeline: (ts, end) in us, its name and args.
#[derive(Debug, Clone)]
struct Slice {
    ts: f64,
    end: f64,
    name: String,
    args: serde_json::Value,
}

/// The slices of `cat` of the timeline, per channel (tid), in file order.
fn slices(events: &[serde_json::Value], cat: &str) -> HashMap<u64, Vec<Slice>> {
    let mut by_channel: HashMap<u64, Vec<Slice>> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X" && e["cat"] == cat) {
        let ts = e["ts"].as_f64().unwrap();
        let dur = e["dur"].as_f64().unwrap();
        assert!(dur >= 0.0, "{e}");
        by_channel
            .entry(e["tid"].as_u64().unwrap())
            .or_default()
            .push(Slice {
                ts,
                end: ts + dur,
                name: e["name"].as_str().unwrap().to_string(),
                args: e["args"].clone(),
            });
    }
    by_channel
}

/// Checks that `children` (sorted by start) tile [start, end] exactly (to float rounding).
fn assert_tiles(children: &[&Slice], start: f64, end: f64, what: &str) {
    let eps = 1e-9 * end.abs().max(1.0);
    assert!(!children.is_empty(), "{what}: no children");
    assert!(
        (children[0].ts - start).abs() < eps,
        "{what}: starts at {} not {start}",
        children[0].ts
    );
    for pair in children.windows(2) {
        assert!(
            (pair[0].end - pair[1].ts).abs() < eps,
            "{what}: gap or overlap {:?} {:?}",
            pair[0],
            pair[1]
        );
    }
    let last = children.last().unwrap().end;
    assert!((last - end).abs() < eps, "{what}: ends at {last} not {end}");
}

#[test]
fn the_timeline_parses_nests_tiles_each_channel_and_matches_arrays_csv() {
    let dir = scratch("timeline");
    let out = dir.join("run");
    let timeline = dir.join("timeline.json");
    let r = uswim(&[
        "program",
        "--shape",
        "lenet",
        "--mask",
        "random:0.2",
        "--set",
        "array.rows=64",
        "--set",
        "array.cols=128",
        "--set",
        "controller.parallel_arrays=3",
        "--trace-level",
        "off",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--timeline",
        timeline.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        !out.join("events.csv").exists(),
        "--trace-level off writes no events.csv"
    );
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    assert_eq!(json["displayTimeUnit"], "ns");
    let events = json["traceEvents"].as_array().unwrap();
    let clock_mhz = json["otherData"]["clock_mhz"].as_f64().unwrap();
    // Every channel is named as a track.
    let named: Vec<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(named, [0, 1, 2]);

    let arrays_csv = read_csv(&out.join("arrays.csv"));
    let layers_csv = read_csv(&out.join("layers.csv"));
    let arrays = slices(events, "array");
    let rows = slices(events, "row");
    let phases = slices(events, "phase");
    // The array slices are arrays.csv: same channel, start, end and layer.
    assert_eq!(arrays.values().map(Vec::len).sum::<usize>(), arrays_csv.len());
    for a in &arrays_csv {
        let channel = num(a, "channel") as u64;
        let id = num(a, "array") as u64;
        let s = arrays[&channel]
            .iter()
            .find(|s| s.args["array"] == id)
            .unwrap_or_else(|| panic!("array {id} not on channel {channel}"));
        assert!((s.ts - num(a, "start_ns") / 1e3).abs() < 1e-6, "array {id}");
        assert!((s.end - num(a, "end_ns") / 1e3).abs() < 1e-6, "array {id}");
        assert!(
            (s.end - s.ts - num(a, "end_cycle") / clock_mhz + num(a, "start_cycle") / clock_mhz).abs() < 1e-6
        );
        let layer = &layers_csv[num(a, "layer") as usize];
        assert_eq!(s.name, layer["name"], "array slices are named by their layer");
        assert_eq!(s.args["pulses"].as_f64().unwrap(), num(a, "pulses"));
    }
    // Rows by (channel, array) and phases by (channel, array, row), each sorted by start.
    let key = |s: &Slice, k: &str| s.args[k].as_u64().unwrap();
    let mut rows_of: HashMap<(u64, u64), Vec<&Slice>> = HashMap::new();
    for (&channel, list) in &rows {
        for r in list {
            rows_of.entry((channel, key(r, "array"))).or_default().push(r);
        }
    }
    let mut phases_of: HashMap<(u64, u64, u64), Vec<&Slice>> = HashMap::new();
    for (&channel, list) in &phases {
        for p in list {
            phases_of
                .entry((channel, key(p, "array"), key(p, "row")))
                .or_default()
                .push(p);
        }
    }
    for list in rows_of.values_mut().chain(phases_of.values_mut()) {
        list.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    let mut checked_rows = 0;
    for (channel, mut on_channel) in arrays.clone() {
        // The arrays of a channel tile its busy time: back to back from 0 (a channel takes the next array
        // as soon as it is free), never overlapping.
        on_channel.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        let refs: Vec<&Slice> = on_channel.iter().collect();
        assert_tiles(
            &refs,
            0.0,
            refs.last().unwrap().end,
            &format!("channel {channel}"),
        );
        for array in &on_channel {
            let id = key(array, "array");
            let its_rows = &rows_of[&(channel, id)];
            assert_tiles(its_rows, array.ts, array.end, &format!("array {id}"));
            for row in its_rows {
                let its_phases = &phases_of[&(channel, id, key(row, "row"))];
                assert_eq!(its_phases.len() as u64, key(row, "phases"));
                assert_eq!(its_phases[0].name, "row_setup");
                assert_tiles(its_phases, row.ts, row.end, &format!("array {id} {}", row.name));
                checked_rows += 1;
            }
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(checked_rows as u64, summary["rows"].as_u64().unwrap());
    // The phases carry all the work of the summary.
    let total = |key: &str| -> u64 {
        phases
            .values()
            .flatten()
            .map(|p| p.args[key].as_u64().unwrap())
            .sum()
    };
    assert_eq!(total("pulses"), summary["pulses"].as_u64().unwrap());
    assert_eq!(
        total("adc_conversions"),
        summary["adc_conversions"].as_u64().unwrap()
    );
    // An array's slice precedes its rows in the file (viewers break timestamp ties by file order).
    let position = |cat: &str, array: u64| {
        events
            .iter()
            .position(|e| e["cat"] == cat && e["args"]["array"] == array)
            .unwrap()
    };
    let first_row_of_0 = events
        .iter()
        .position(|e| e["cat"] == "row" && e["args"]["array"] == 0 && e["ts"].as_f64() == Some(0.0))
        .unwrap();
    assert!(position("array", 0) < first_row_of_0);
    // The pending-devices counters never exceed a row's devices and end at 0.
    let counters: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "C").collect();
    assert!(!counters.is_empty());
    for c in 0..3 {
        let name = format!("pending devices, channel {c}");
        let last = counters
            .iter()
            .rev()
            .find(|e| e["name"] == name.as_str())
            .unwrap();
        assert_eq!(last["args"]["devices"], 0, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
