//! Monitoring end to end: every plot drawn by `hpo plot` from small results tables written
//! by hand (failed rows, a single row, string parameters, no rows), `hpo status --json` field
//! by field, the HTML report, and the cost of slow `[monitor]` hooks to a real run.

mod common;

use common::{rows as read_rows, write_config};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PLOTS: [&str; 5] = [
    "plot_3d",
    "result_evolution",
    "worker_timeline",
    "parameter_combination",
    "learning_curves",
];

fn hpo() -> Command {
    common::hpo()
}

/// Writes `config.toml` in `root` (experiment folder `root/exp`), creates the folder with
/// `hpo init` and returns it.
fn experiment(root: &Path, body: &str) -> PathBuf {
    let config = write_config(
        root,
        "config.toml",
        &format!("[experiment]\ndir = \"exp\"\nseed = 3\n\n{body}"),
    );
    let out = hpo().arg("init").arg(&config).output().expect("hpo init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join("exp")
}

fn at(s: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(1_780_000_000.0 + s)
}

/// One row of results.csv, as a test states it.
struct Row {
    index: usize,
    values: Vec<String>,
    result: Option<f64>,
    worker: usize,
    start: f64,
    end: f64,
    bayesian: bool,
}

fn row(
    index: usize,
    values: Vec<String>,
    result: Option<f64>,
    worker: usize,
    start: f64,
    end: f64,
    bayesian: bool,
) -> Row {
    Row {
        index,
        values,
        result,
        worker,
        start,
        end,
        bayesian,
    }
}

/// Writes results.csv of the experiment folder `dir` (parameters `names`), as hpo writes it:
/// a failed row or a timeout (alternating by sixes) where `result` is `None`.
fn write_rows(dir: &Path, names: &[&str], rows: &[Row]) {
    let mut w = csv::Writer::from_path(dir.join("results.csv")).expect("results.csv");
    let mut header = vec!["index"];
    header.extend(names);
    header.extend([
        "result",
        "status",
        "worker",
        "started",
        "ended",
        "duration_s",
        "attempts",
        "exit_code",
        "rank",
        "host",
        "gpu",
        "cores",
        "bayesian",
        "block",
        "note",
        "error",
    ]);
    w.write_record(&header).expect("header");
    let time = |s: f64| humantime::format_rfc3339_millis(at(s)).to_string();
    for r in rows {
        let status = match r.result {
            Some(_) => "ok",
            None if (r.index / 6).is_multiple_of(2) => "failed",
            None => "timeout",
        };
        let mut rec = vec![r.index.to_string()];
        rec.extend(r.values.iter().cloned());
        rec.extend([
            r.result.map(|v| v.to_string()).unwrap_or_default(),
            status.to_string(),
            r.worker.to_string(),
            time(r.start),
            time(r.end),
            format!("{:.3}", r.end - r.start),
            "1".into(),
            if r.result.is_some() {
                String::new()
            } else {
                "1".into()
            },
            r.worker.to_string(),
            "node7".into(),
            if r.worker == 1 {
                "0".into()
            } else {
                String::new()
            },
            "4".into(),
            r.bayesian.to_string(),
            usize::from(r.bayesian).to_string(),
            String::new(),
            if r.result.is_some() {
                String::new()
            } else {
                "boom <b>".into()
            },
        ]);
        w.write_record(&rec).expect("row");
    }
    w.flush().expect("flush");
}

const MIXED: &str = r#"
[objective]
builtin = "sphere"
[[parameters]]
name = "x"
type = "float"
[[parameters]]
name = "lr"
type = "float"
[[parameters]]
name = "act"
type = "str"
[[sets]]
count = 16
x = { random = [-5, 5] }
lr = { random = [0.001, 0.1] }
act = { choice = ["relu", "tanh", "gelu"] }
[[sets]]
count = 8
x = { bayesian = [-5, 5] }
lr = { bayesian = [0.001, 0.1] }
act = { choice = ["relu", "tanh", "gelu"] }
"#;

/// 24 sets on 3 workers: 20 ok, 4 failed or timed out, 8 Bayesian, an idle gap on worker 3.
fn mixed(root: &Path) -> PathBuf {
    let dir = experiment(root, MIXED);
    let acts = ["relu", "tanh", "gelu"];
    let rows: Vec<Row> = (0..24)
        .map(|i| {
            let x = -5.0 + 10.0 * ((i * 7) % 24) as f64 / 23.0;
            let lr = 0.001 + 0.099 * ((i * 5) % 24) as f64 / 23.0;
            let result = (i % 6 != 5).then_some(x * x + 100.0 * lr);
            let w = i % 3 + 1;
            let start = (i / 3) as f64 * 2.0 + if w == 3 { 1.0 } else { 0.0 };
            row(
                i,
                vec![x.to_string(), lr.to_string(), acts[i % 3].into()],
                result,
                w,
                start,
                start + 1.5 - 0.5 * (w == 3) as u8 as f64,
                i >= 16,
            )
        })
        .collect();
    write_rows(&dir, &["x", "lr", "act"], &rows);
    dir
}

fn check_png(path: &Path, w: u32, h: u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let mut reader = png::Decoder::new(bytes.as_slice())
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!((info.width, info.height), (w, h), "{}", path.display());
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 10,
        "{}: only {} colours (blank?)",
        path.display(),
        colours.len()
    );
    let white = pixels
        .iter()
        .filter(|p| p.iter().all(|c| *c == 255))
        .count();
    assert!(
        white < pixels.len() * 99 / 100,
        "{}: almost all white",
        path.display()
    );
}

fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.contains("<svg") && text.trim_end().ends_with("</svg>"),
        "{}",
        path.display()
    );
    assert!(text.contains("<text"), "{}: no text", path.display());
    assert!(
        text.matches("<rect").count()
            + text.matches("<polyline").count()
            + text.matches("<circle").count()
            > 5,
        "{}: nearly empty",
        path.display()
    );
}

fn check_gif(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options
        .read_info(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut frames = 0;
    while let Ok(Some(_)) = decoder.read_next_frame() {
        frames += 1;
    }
    frames
}

/// `hpo plot DIR ARGS`: the files it wrote (one per line of its output).
fn plot(dir: &Path, args: &[&str]) -> Vec<PathBuf> {
    let out = hpo()
        .arg("plot")
        .arg(dir)
        .args(args)
        .output()
        .expect("hpo plot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// `hpo plot DIR ARGS` must refuse with exit code 2.
fn plot_refused(dir: &Path, args: &[&str]) -> String {
    let out = hpo()
        .arg("plot")
        .arg(dir)
        .args(args)
        .output()
        .expect("hpo plot");
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check_all(dir: &Path, written: &[PathBuf], w: u32, h: u32) {
    for name in PLOTS {
        let png = dir.join("plots").join(format!("{name}.png"));
        let svg = dir.join("plots").join(format!("{name}.svg"));
        assert!(
            written.contains(&png) && written.contains(&svg),
            "{name} missing from {written:?}"
        );
        check_png(&png, w, h);
        check_svg(&svg);
    }
}

#[test]
fn every_plot_with_failed_rows_and_a_gif() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = mixed(tmp.path());
    let written = plot(&dir, &["--gif", "--step", "4", "--fps", "5"]);
    check_all(&dir, &written, 1000, 700);
    assert_eq!(written.len(), 11);
    let gif = dir.join("plots/plot_3d.gif");
    assert_eq!(&std::fs::read(&gif).expect("gif")[..6], b"GIF89a");
    assert_eq!(check_gif(&gif), 6, "24 rows, 4 per frame");
    // Chosen axes (a string one included), another size, no heat map.
    let args = [
        "--only",
        "plot_3d",
        "--x",
        "act",
        "--y",
        "lr",
        "--no-contour",
        "--width",
        "640",
        "--height",
        "480",
    ];
    let written = plot(&dir, &args);
    assert_eq!(written.len(), 2);
    check_png(&written[0], 640, 480);
    // Unknown plots and parameters are usage errors.
    let err = plot_refused(&dir, &["--only", "pie"]);
    assert!(err.contains("plot_3d"), "the plots are listed: {err}");
    let err = plot_refused(&dir, &["--x", "nope"]);
    assert!(err.contains("`nope` is not a parameter"), "{err}");
}

#[test]
fn every_plot_with_a_single_row_and_with_none() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = experiment(
        tmp.path(),
        "[objective]\nbuiltin = \"sphere\"\n[[parameters]]\nname = \"x\"\ntype = \"float\"\n[[sets]]\ncount = 3\nx = { random = [-1, 1] }\n",
    );
    // No results yet: the plots are drawn (frames, axes, titles), nothing fails.
    let written = plot(&dir, &["--width", "500", "--height", "400"]);
    assert_eq!(written.len(), 10);
    for p in written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        assert!(std::fs::read_to_string(p).is_ok_and(|t| t.contains("</svg>")));
    }
    write_rows(
        &dir,
        &["x"],
        &[row(
            1,
            vec!["0.25".into()],
            Some(0.0625),
            1,
            0.0,
            2.0,
            false,
        )],
    );
    let written = plot(&dir, &["--gif"]);
    check_all(&dir, &written, 1000, 700);
    assert_eq!(check_gif(&dir.join("plots/plot_3d.gif")), 1);
}

#[test]
fn every_plot_with_string_parameters_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = experiment(
        tmp.path(),
        "[objective]\ncommand = [\"true\"]\ndirection = \"maximize\"\n[[parameters]]\nname = \"optimizer\"\ntype = \"str\"\n[[parameters]]\nname = \"act\"\ntype = \"str\"\n[[sets]]\ncount = 12\noptimizer = { choice = [\"adam\", \"sgd\", \"a-rather-long-optimizer-name\"] }\nact = { choice = [\"relu\", \"tanh\"] }\n",
    );
    let opts = ["adam", "sgd", "a-rather-long-optimizer-name"];
    let rows: Vec<Row> = (0..12)
        .map(|i| {
            row(
                i,
                vec![opts[i % 3].into(), ["relu", "tanh"][i % 2].into()],
                (i != 4).then_some(i as f64 * 0.1),
                1 + i % 2,
                i as f64,
                i as f64 + 0.8,
                false,
            )
        })
        .collect();
    write_rows(&dir, &["optimizer", "act"], &rows);
    let written = plot(&dir, &[]);
    check_all(&dir, &written, 1000, 700);
}

#[test]
fn status_json_field_by_field_and_the_report() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = mixed(tmp.path());
    let out = hpo()
        .arg("status")
        .arg(&dir)
        .arg("--json")
        .output()
        .expect("hpo status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["dir"], dir.display().to_string());
    assert_eq!(s["active"], false);
    assert_eq!(s["pid"], serde_json::Value::Null);
    assert_eq!(s["direction"], "minimize");
    assert_eq!(s["total"], 24);
    assert_eq!(s["done"], 24);
    assert_eq!(s["ok"], 20);
    assert_eq!(s["failed"], 2);
    assert_eq!(s["timeout"], 2);
    assert_eq!(s["running"], serde_json::json!([]));
    assert_eq!(s["waiting"], 0);
    assert_eq!(s["workers"], 3);
    assert_eq!(s["eta_s"], serde_json::Value::Null);
    // Workers 1 and 2 busy 1.5 s of every 2 s, worker 3 1 s (starting 1 s later): 32 s busy in 16 s.
    let wall = s["wall_span_s"].as_f64().expect("wall_span_s");
    assert!((wall - 16.0).abs() < 1e-6, "{wall}");
    let busy = s["busy_s"].as_f64().expect("busy_s");
    assert!((busy - 32.0).abs() < 1e-6, "{busy}");
    let util = s["utilization"].as_f64().expect("utilization");
    assert!((util - 32.0 / (3.0 * 16.0)).abs() < 1e-6, "{util}");
    assert!((s["throughput_per_s"].as_f64().expect("throughput") - 24.0 / 16.0).abs() < 1e-6);
    // The best ok row: x*x + 100 lr smallest.
    let best = &s["best"];
    let rows = read_rows(&dir.join("results.csv"));
    let num = |r: &std::collections::HashMap<String, String>, k: &str| -> f64 {
        r[k].parse().expect("a number")
    };
    let want = rows
        .iter()
        .filter(|r| r["status"] == "ok")
        .min_by(|a, b| num(a, "result").total_cmp(&num(b, "result")))
        .expect("an ok row");
    assert_eq!(best["index"].to_string(), want["index"]);
    assert_eq!(best["result"].as_f64(), Some(num(want, "result")));
    assert_eq!(best["status"], "ok");
    assert_eq!(best["params"]["act"], want["act"].as_str());
    assert_eq!(best["params"]["x"].as_f64(), Some(num(want, "x")));
    for key in [
        "worker",
        "started",
        "ended",
        "duration_s",
        "attempts",
        "host",
        "gpu",
        "bayesian",
        "block",
        "rank",
        "cores",
        "note",
        "error",
        "exit_code",
    ] {
        assert!(best.get(key).is_some(), "best.{key} missing");
    }
    // The text form says the same.
    let out = hpo().arg("status").arg(&dir).output().expect("hpo status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("24 of 24 sets done (20 ok, 2 failed, 2 timeout)"),
        "{text}"
    );
    assert!(text.contains("utilization 66.7 % of 3 worker(s)"), "{text}");

    let out = hpo().arg("report").arg(&dir).output().expect("hpo report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_eq!(html.matches("<svg").count(), 5);
    assert!(!html.contains("<?xml"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<script"),
        "no network"
    );
    assert!(
        html.contains("Best 10 sets")
            && html.contains("Failed sets (4)")
            && html.contains("boom &lt;b&gt;")
    );
    // Plots from the command line, one of them.
    let out = hpo()
        .arg("plot")
        .arg(&dir)
        .args(["--only", "worker_timeline"])
        .output()
        .expect("hpo plot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let out = hpo()
        .arg("plot")
        .arg(&dir)
        .args(["--only", "pie"])
        .output()
        .expect("hpo plot");
    assert_eq!(out.status.code(), Some(2));
}

/// Runs `hpo run` of `sets` sphere evaluations on 2 processes; returns (wall time of the
/// command, span of the results: first start to last end).
fn timed_run(root: &Path, sets: usize, monitor: &str) -> (f64, f64) {
    let body = format!(
        "[objective]\nbuiltin = \"sphere\"\ndelay_s = 0.005\n[[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"y\"\ntype = \"float\"\n[[sets]]\ncount = {sets}\nx = {{ random = [-5, 5] }}\ny = {{ random = [-5, 5] }}\n[compute]\nprocesses = 2\n{monitor}"
    );
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!("[experiment]\ndir = \"exp\"\nseed = 3\n\n{body}"),
    )
    .expect("config");
    let t = Instant::now();
    let out = hpo()
        .arg("run")
        .arg(&config)
        .arg("-q")
        .output()
        .expect("hpo run");
    let wall = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_rows(&root.join("exp/results.csv"));
    assert_eq!(rows.len(), sets);
    let time = |t: &str| humantime::parse_rfc3339(t).expect("an RFC 3339 time");
    let first = rows
        .iter()
        .map(|r| time(&r["started"]))
        .min()
        .expect("rows");
    let last = rows.iter().map(|r| time(&r["ended"])).max().expect("rows");
    (
        wall,
        last.duration_since(first)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    )
}

#[test]
fn slow_hooks_do_not_delay_the_run() {
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (wall0, span0) = timed_run(a.path(), 200, "");
    // A command taking 2 s per result, and plots redrawn after every result.
    let hooks = "[monitor]\non_result = [\"/bin/sh\", \"-c\", \"sleep 2\"]\nplots = [\"result_evolution\"]\nplot_every = 1\nplot_at_end = true\n";
    let (wall1, span1) = timed_run(b.path(), 200, hooks);
    eprintln!(
        "200 evaluations, 2 processes: no hooks {span0:.2} s of results ({wall0:.2} s in all); slow hooks {span1:.2} s of results ({wall1:.2} s in all)"
    );
    // Blocking hooks would take 400 s; the bound is loose because CI machines are shared.
    assert!(
        span1 < span0 * 4.0 + 5.0,
        "results took {span1:.2} s with slow hooks, {span0:.2} s without"
    );
    // The end waits for the hooks only a bounded grace (5 s for the command) plus the last plots.
    assert!(
        wall1 < wall0 + 12.0,
        "{wall1:.2} s with slow hooks, {wall0:.2} s without"
    );
    assert!(b.path().join("exp/plots/result_evolution.png").is_file());
    assert!(b.path().join("exp/hooks.log").is_file());
}
