//! Plotting: PNG and SVG files are produced, readable, atomically written, and bad charts are clear errors.

use std::path::{Path, PathBuf};
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
        group: Some("program.scheme.kind".into()),
        log_x: true,
        log_y: true,
        ..CsvPlot::default()
    };
    let chart = plot::chart_from_csv(&csv, &spec).unwrap();
    assert_eq!(chart.series.len(), 2);
    assert_eq!(chart.series[1].name, "program.scheme.kind=ispp");
    assert_eq!(chart.series[1].points, vec![(64.0, 800.0), (256.0, 12000.0)]);
    plot::render(&chart, dir.join("t.svg")).unwrap();
    assert!(dir.join("t.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
