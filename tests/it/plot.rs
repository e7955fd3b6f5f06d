//! Plotting: PNG and SVG files are produced, readable, atomically written, and bad charts are clear errors.

use std::path::{Path, PathBuf};
use std::process::Command;
use uswim::plot::{self, Chart, CsvPlot, PlotError, Series};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn latency_chart() -> Chart {
    let sizes = [64.0, 128.0, 256.0, 512.0, 1024.0];
    Chart::new("Programming latency vs array size")
        .x_label("array rows")
        .y_label("programming time (ns)")
        .log_x(true)
        .log_y(true)
        .with_series(Series::line_points(
            "fixed",
            sizes.iter().map(|&n| (n, 90.0 * n * n)).collect(),
        ))
        .with_series(Series::line_points(
            "ispp",
            sizes.iter().map(|&n| (n, 40.0 * n * n)).collect(),
        ))
        .with_series(Series::points(
            "adaptive",
            sizes.iter().map(|&n| (n, 25.0 * n * n)).collect(),
        ))
        .with_series(Series::line(
            "bound",
            sizes.iter().map(|&n| (n, 10.0 * n * n)).collect(),
        ))
}

/// Decodes a PNG: (width, height, RGB or RGBA bytes, channels).
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

#[test]
fn png_is_produced_with_axes_text_and_every_series_colour() {
    let dir = scratch("png");
    let path = dir.join("latency.png");
    plot::render(&latency_chart(), &path).unwrap();
    let (w, h, pixels, channels) = decode_png(&path);
    assert_eq!((w, h), plot::CHART_SIZE);
    let pixel = |i: usize| {
        (
            pixels[i * channels],
            pixels[i * channels + 1],
            pixels[i * channels + 2],
        )
    };
    let n = (w * h) as usize;
    let dark = (0..n).filter(|&i| pixel(i) == (0, 0, 0)).count();
    // Text and axes: many black pixels, but far from a black image.
    assert!(dark > 2_000 && dark < n / 5, "{dark} black pixels of {n}");
    // Every series colour (tab10 blue, orange, green, red) appears.
    for colour in [
        (0x1f, 0x77, 0xb4),
        (0xff, 0x7f, 0x0e),
        (0x2c, 0xa0, 0x2c),
        (0xd6, 0x27, 0x28),
    ] {
        let count = (0..n).filter(|&i| pixel(i) == colour).count();
        assert!(count > 50, "colour {colour:?}: {count} pixels");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn svg_is_produced_with_title_labels_and_legend() {
    let dir = scratch("svg");
    let path = dir.join("latency.SVG");
    plot::render(&latency_chart(), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
    for needle in [
        "Programming latency vs array size",
        "array rows",
        "programming time (ns)",
        "ispp",
        "adaptive",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
    assert!(text.contains("<polyline"), "no line drawn");
    assert!(text.len() > 5_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn panels_tile_the_figure() {
    let dir = scratch("panels");
    let linear = Chart::new("energy")
        .x_label("tolerance")
        .y_label("energy (pJ)")
        .with_series(Series::line_points(
            "",
            vec![(0.01, 5.0), (0.02, 3.0), (0.05, 1.0)],
        ));
    let charts = vec![latency_chart(), linear.clone(), linear];
    let path = dir.join("panels.png");
    plot::render_panels(&charts, 2, &path).unwrap();
    let (w, h, _, _) = decode_png(&path);
    assert_eq!((w, h), (2 * plot::PANEL_SIZE.0, 2 * plot::PANEL_SIZE.1));
    plot::render_panels(&charts, 3, dir.join("panels.svg")).unwrap();
    assert!(
        std::fs::read_to_string(dir.join("panels.svg"))
            .unwrap()
            .matches("energy (pJ)")
            .count()
            == 2
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_charts_are_clear_errors_and_leave_existing_files_untouched() {
    let dir = scratch("errors");
    let path = dir.join("out.png");
    plot::render(&latency_chart(), &path).unwrap();
    let before = std::fs::read(&path).unwrap();

    let err = plot::render(&latency_chart(), dir.join("out.jpeg")).unwrap_err();
    assert!(matches!(err, PlotError::UnsupportedExtension { .. }));
    assert!(err.to_string().contains("use .png or .svg"), "{err}");
    assert!(!dir.join("out.jpeg").exists());

    let negative = latency_chart().with_series(Series::points("drift", vec![(64.0, -1.0)]));
    let err = plot::render(&negative, &path).unwrap_err().to_string();
    assert!(
        err.contains("\"drift\"") && err.contains("point 0") && err.contains("logarithmic y axis"),
        "{err}"
    );
    let err = plot::render(&Chart::new("nothing"), &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"nothing\"") && err.contains("no series"), "{err}");
    let err = plot::render_panels(&[], 2, &path).unwrap_err();
    assert!(matches!(err, PlotError::NoPanels { .. }));
    let nan = Chart::new("n").with_series(Series::line("s", vec![(1.0, f64::NAN)]));
    assert!(
        plot::render(&nan, &path)
            .unwrap_err()
            .to_string()
            .contains("y = NaN")
    );

    // The earlier file is untouched and no temporary file is left behind.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_columns_plot_by_group() {
    let dir = scratch("csv");
    let csv = dir.join("results.csv");
    std::fs::write(
        &csv,
        "point,array.rows,program.scheme.kind,total_time_ns\n0,64,fixed,1000\n1,64,ispp,800\n\
         2,256,fixed,16000\n3,256,ispp,12000\n",
    )
    .unwrap();
    let spec = CsvPlot {
        x: "array.rows".into(),
        y: vec!["total_time_ns".into()],
        group: vec!["program.scheme.kind".into()],
        log_x: true,
        log_y: true,
        ..CsvPlot::default()
    };
    let chart = plot::chart_from_csv(&csv, &spec).unwrap();
    assert_eq!(chart.series.len(), 2);
    // Series named in words: a configuration key without its generic section.
    assert_eq!(chart.series[1].name, "scheme kind=ispp");
    // Up to 16,000 ns: shown in µs, labelled in words.
    assert_eq!(chart.series[1].points, vec![(64.0, 0.8), (256.0, 12.0)]);
    assert_eq!(
        (chart.x_label.as_str(), chart.y_label.as_str()),
        ("array rows", "total time (µs)")
    );
    let raw = plot::chart_from_csv(
        &csv,
        &CsvPlot {
            raw_units: true,
            ..spec.clone()
        },
    )
    .unwrap();
    assert_eq!(raw.series[1].points, vec![(64.0, 800.0), (256.0, 12000.0)]);
    assert_eq!(raw.y_label, "total_time_ns");
    plot::render(&chart, dir.join("t.svg")).unwrap();
    assert!(dir.join("t.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn uswim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(args)
        .output()
        .unwrap()
}

/// The texts of an SVG's `<text>` elements.
fn svg_texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</text>"))
                .map(|(x, _)| x.trim().to_string())
        })
        .collect()
}

#[test]
fn plot_options_produce_labelled_axes_filters_facets_intervals_and_paper_sizes() {
    let dir = scratch("options");
    let csv = dir.join("results.csv");
    let mut text =
        String::from("variation,method,fraction,time_ns,accuracy_mean_pct,accuracy_ci95_pct,g_us\n");
    for (v, m, base) in [
        ("uniform", "uswim", 90.0),
        ("uniform", "swim", 89.0),
        ("band", "uswim", 80.0),
        ("band", "swim", 70.0),
    ] {
        for (k, f) in [0.001, 0.01, 0.1, 1.0].iter().enumerate() {
            let t = 2.0e5 * 10f64.powi(k as i32);
            text.push_str(&format!(
                "{v},{m},{f},{t},{},{},{}\n",
                base + k as f64,
                0.5,
                10.0 * f
            ));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let svg = dir.join("acc.svg");
    let csv_s = csv.to_str().unwrap();
    let r = uswim(&[
        "plot",
        csv_s,
        "--x",
        "time_ns",
        "--y",
        "accuracy_mean_pct",
        "--err",
        "accuracy_ci95_pct",
        "--group",
        "method",
        "--facet",
        "variation",
        "--log-x",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let texts = svg_texts(&svg);
    // Labels in words with scaled units (2e5..2e8 ns is shown in ms), one panel per variation, a label at
    // every decade of the log axis.
    assert!(texts.iter().any(|t| t == "time (ms)"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "accuracy mean (%)"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.ends_with("variation=uniform"))
            && texts.iter().any(|t| t.ends_with("variation=band"))
    );
    for decade in ["1", "10", "100"] {
        assert!(
            texts.iter().any(|t| t == decade),
            "no label at {decade} ms: {texts:?}"
        );
    }
    assert!(texts.iter().any(|t| t == "method=swim"), "{texts:?}");
    // The CI band is drawn: a filled polygon per series.
    assert!(std::fs::read_to_string(&svg).unwrap().matches("<polygon").count() >= 4);
    // A filter keeps the matching rows only; µS for microsiemens.
    let svg2 = dir.join("g.svg");
    let r = uswim(&[
        "plot",
        csv_s,
        "--x",
        "fraction",
        "--y",
        "g_us",
        "--filter",
        "variation=band",
        "--filter",
        "method=swim",
        "-o",
        svg2.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let texts = svg_texts(&svg2);
    assert!(texts.iter().any(|t| t == "g (µS)"), "{texts:?}");
    let r = uswim(&[
        "plot",
        csv_s,
        "--x",
        "fraction",
        "--y",
        "g_us",
        "--filter",
        "variation=none",
        "-o",
        svg2.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no row matches the filters"));
    // Paper sizes: 3.5 in and 7.16 in at 300 dpi.
    for (size, width) in [("one-column", 1050), ("two-column", 2148)] {
        let png = dir.join(format!("{size}.png"));
        let r = uswim(&[
            "plot",
            csv_s,
            "--x",
            "fraction",
            "--y",
            "g_us",
            "--size",
            size,
            "-o",
            png.to_str().unwrap(),
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert_eq!(decode_png(&png).0, width);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_gantt_chart_has_a_lane_per_channel_and_a_legend_entry_per_layer() {
    let dir = scratch("gantt");
    std::fs::write(
        dir.join("arrays.csv"),
        "array,layer,channel,start_ns,end_ns\n0,0,0,0,1500\n1,1,1,0,2500\n2,1,0,1500,4000\n",
    )
    .unwrap();
    std::fs::write(dir.join("layers.csv"), "layer,name\n0,conv1\n1,fc1\n").unwrap();
    let svg = dir.join("gantt.svg");
    let r = uswim(&[
        "plot",
        "--gantt",
        dir.join("arrays.csv").to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let texts = svg_texts(&svg);
    for expected in [
        "conv1",
        "fc1",
        "programming channel",
        "time from the start of programming (µs)",
        "0",
        "1",
    ] {
        assert!(texts.iter().any(|t| t == expected), "{expected}: {texts:?}");
    }
    // Three bars (and two legend swatches), filled with the layers' colours.
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.matches("<rect").count() >= 5, "{svg_text}");
    // An arrays.csv that names its layers (`layer_name`, as `uswim program` writes it) needs no
    // layers.csv.
    std::fs::remove_file(dir.join("layers.csv")).unwrap();
    std::fs::write(
        dir.join("arrays.csv"),
        "array,layer,layer_name,channel,start_ns,end_ns\n0,0,conv1,0,0,1500\n1,1,fc1,1,0,2500\n",
    )
    .unwrap();
    let r = uswim(&[
        "plot",
        "--gantt",
        dir.join("arrays.csv").to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let texts = svg_texts(&svg);
    assert!(
        texts.iter().any(|t| t == "conv1") && texts.iter().any(|t| t == "fc1"),
        "{texts:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The texts of an SVG with their x attribute.
fn svg_texts_at(svg: &str) -> Vec<(f64, String)> {
    svg.split("<text ")
        .skip(1)
        .filter_map(|e| {
            let x = e.split("x=\"").nth(1)?.split('"').next()?.parse().ok()?;
            let body = e.split_once('>')?.1.split("</text>").next()?.trim().to_string();
            Some((x, body))
        })
        .collect()
}

/// The largest x of the polylines drawn in `stroke` (a series colour).
fn svg_line_right(svg: &str, stroke: &str) -> f64 {
    svg.split("<polyline ")
        .skip(1)
        .filter(|e| e.contains(&format!("stroke=\"{stroke}\"")))
        .flat_map(|e| {
            let points = e.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
            points
                .split_whitespace()
                .map(|p| p.split(',').next().unwrap().parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .fold(f64::MIN, f64::max)
}

#[test]
fn a_legend_never_covers_data_and_never_stretches_the_axis() {
    let dir = scratch("legend");
    // Zig-zags across the whole plot: every corner holds data.
    let zig = |phase: usize| -> Vec<(f64, f64)> {
        (0..=40usize)
            .map(|i| (i as f64, if (i + phase) % 2 == 0 { 0.0 } else { 100.0 }))
            .collect()
    };
    let chart = Chart::new("")
        .x_label("x")
        .y_label("accuracy (%)")
        .with_series(Series::line("first-series-name", zig(0)))
        .with_series(Series::line("second-series-name", zig(1)));
    let path = dir.join("full.svg");
    plot::render(&chart, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    let texts = svg_texts_at(&svg);
    // The lines' rightmost point, and where the legend's names are written: right of every line.
    let data_right = svg_line_right(&svg, "#1F77B4").max(svg_line_right(&svg, "#FF7F0E"));
    assert!(data_right > 0.0);
    for name in ["first-series-name", "second-series-name"] {
        let (x, _) = texts.iter().find(|(_, t)| t == name).expect("legend entry");
        assert!(
            *x > data_right,
            "{name} at x = {x}, inside the data (right edge {data_right})"
        );
    }
    // The y axis ends at the data's top: no tick label above 100.
    let ticks: Vec<f64> = texts.iter().filter_map(|(_, t)| t.parse::<f64>().ok()).collect();
    assert!(ticks.contains(&100.0), "{ticks:?}");
    assert!(ticks.iter().all(|&t| t <= 100.0), "axis stretched: {ticks:?}");

    // With a free corner the legend stays inside the plot, and the axis is the data's too.
    let corner = Chart::new("").x_label("x").y_label("y").with_series(Series::line(
        "rising",
        (0..=10).map(|i| (f64::from(i), f64::from(i))).collect(),
    ));
    plot::render(&corner, dir.join("corner.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.join("corner.svg")).unwrap();
    let texts = svg_texts_at(&svg);
    let (x, _) = texts.iter().find(|(_, t)| t == "rising").expect("legend entry");
    assert!(
        *x < svg_line_right(&svg, "#1F77B4"),
        "the legend left the plot although a corner was free"
    );
    let ticks: Vec<f64> = texts.iter().filter_map(|(_, t)| t.parse::<f64>().ok()).collect();
    assert!(ticks.iter().all(|&t| t <= 10.0), "axis stretched: {ticks:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
