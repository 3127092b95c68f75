//! `hpo report DIR|CONFIG`: one self-contained HTML file, `DIR/report.html`, with the summary,
//! the best sets, the failed sets with their parameters and errors, and every plot as inline
//! SVG (plot_3d on the axes `hpo plot` would choose). It opens from disk with no network.
//! Numbers have six significant digits.

use crate::config::PlotName;
use crate::experiment::ResultRow;
use crate::experiment::summary::{self, StatusReport, human_secs};
use crate::plot::{self, Axes, PlotData, PlotOptions, fmt_value};
use crate::space::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The file written in the experiment folder.
pub const REPORT_FILE: &str = "report.html";
/// Best sets listed.
const TOP: usize = 10;
/// Failed sets listed with their error.
const FAILURES: usize = 10;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  hpo report runs/exp                   writes runs/exp/report.html
  hpo report exp.toml -o ~/exp.html     from the configuration's `dir`, to another file
  hpo report runs/exp --x lr --y layers plot_3d over lr and layers")]
pub struct ReportArgs {
    /// The experiment folder, or its configuration file.
    #[arg(value_name = "DIR|CONFIG")]
    pub target: PathBuf,
    /// Write the report here instead of DIR/report.html.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// plot_3d: the horizontal parameter (default: as `hpo plot` chooses it).
    #[arg(long)]
    pub x: Option<String>,
    /// plot_3d: the vertical parameter (default: as `hpo plot` chooses it).
    #[arg(long)]
    pub y: Option<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let dir = super::experiment_folder(&args.target)?;
    let (summary, _exp, _) = super::status::gather(&dir)?;
    let data = PlotData::load(&dir)?;
    let axes = super::plot::chosen_axes(
        &dir,
        Axes {
            x: args.x,
            y: args.y,
        },
    )?;
    let options = PlotOptions {
        x: axes.x,
        y: axes.y,
        ..PlotOptions::default()
    };
    let html = render(&summary, &data, &options)?;
    let path = args.output.unwrap_or_else(|| dir.join(REPORT_FILE));
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, html)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// A parameter value or result as the report shows it (six significant digits).
fn value_text(v: &Value) -> String {
    match v {
        Value::Float(x) => fmt_value(*x),
        other => other.to_string(),
    }
}

fn row_cells(out: &mut String, r: &ResultRow) {
    for v in &r.values {
        let class = if matches!(v, Value::Str(_)) {
            ""
        } else {
            " class=\"num\""
        };
        let _ = write!(out, "<td{class}>{}</td>", esc(&value_text(v)));
    }
}

/// `<th>` cells of the parameter names.
fn name_cells(out: &mut String, names: &[String]) {
    for n in names {
        let _ = write!(out, "<th>{}</th>", esc(n));
    }
}

/// The whole HTML document.
pub fn render(s: &StatusReport, data: &PlotData, options: &PlotOptions) -> anyhow::Result<String> {
    let mut h = String::new();
    let title = format!("hpo report: {}", data.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font-family:'DejaVu Sans',Verdana,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}}\
h1{{font-size:1.6em}} h2{{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}}\
table{{border-collapse:collapse;margin:.5em 0}} td,th{{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left}}\
th{{background:#f4f4f4}} td.num{{text-align:right;font-variant-numeric:tabular-nums}}\
figure{{margin:1em 0}} figure svg{{max-width:100%;height:auto;border:1px solid #eee}} figcaption{{color:#555}}\
.muted{{color:#777}} code{{background:#f4f4f4;padding:0 .2em}}</style></head><body>\n",
        esc(&title)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1><p class=\"muted\">{} &middot; written {} by hpo {}</p>",
        esc(&title),
        esc(&s.dir),
        esc(&humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
        env!("CARGO_PKG_VERSION")
    );

    summary_section(&mut h, s, data);
    best_section(&mut h, data);
    front_section(&mut h, data);
    failure_section(&mut h, data);
    plot_section(&mut h, data, options)?;
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The summary table: counts, the run, the best set, the pool's use.
fn summary_section(h: &mut String, s: &StatusReport, data: &PlotData) {
    h.push_str("<h2>Summary</h2><table>\n");
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    };
    kv(
        "sets",
        format!("{} of {} done ({} waiting)", s.done, s.total, s.waiting),
    );
    kv(
        "status",
        format!(
            "{} ok, {} failed, {} timeout, {} pruned",
            s.ok, s.failed, s.timeout, s.pruned
        ),
    );
    kv(
        "run",
        if s.active {
            format!(
                "running now (pid {}, {} sets running)",
                s.pid.unwrap_or(0),
                s.running.len()
            )
        } else {
            "not running".into()
        },
    );
    kv("direction", s.direction.to_string());
    if let Some(best) = data.best().map(|(r, _)| r) {
        let params: Vec<String> = data
            .names
            .iter()
            .zip(&best.values)
            .filter(|(_, v)| !v.is_inactive())
            .map(|(n, v)| format!("{n}={}", value_text(v)))
            .collect();
        kv(
            "best",
            format!(
                "{} (set {}): {}",
                best.outcome.result.map(fmt_value).unwrap_or_default(),
                best.index,
                params.join(", ")
            ),
        );
    }
    kv("workers", s.workers.to_string());
    kv(
        "utilization",
        format!(
            "{:.1} % (busy {} over a wall span of {})",
            s.utilization * 100.0,
            human_secs(s.busy_s),
            human_secs(s.wall_span_s)
        ),
    );
    kv("throughput", format!("{:.3} sets/s", s.throughput_per_s));
    h.push_str("</table>\n");
}

/// The best sets, best first.
fn best_section(h: &mut String, data: &PlotData) {
    let top = summary::top(&data.rows, data.direction, TOP);
    if !top.is_empty() {
        let _ = write!(
            h,
            "<h2>Best {} sets</h2><table><tr><th>#</th><th>set</th>",
            top.len()
        );
        name_cells(h, &data.names);
        h.push_str("<th>result</th><th>worker</th><th>duration</th><th>kind</th>");
        // The metrics column only when some set returned metrics.
        let metrics = top.iter().any(|r| !r.outcome.metrics.is_empty());
        if metrics {
            h.push_str("<th>metrics</th>");
        }
        h.push_str("</tr>\n");
        for (k, r) in top.iter().enumerate() {
            let _ = write!(
                h,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td>",
                k + 1,
                r.index
            );
            row_cells(h, r);
            let _ = write!(
                h,
                "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>",
                r.outcome.result.map(fmt_value).unwrap_or_default(),
                r.worker,
                esc(&human_secs(r.duration_s())),
                if r.bayesian { "Bayesian" } else { "random" }
            );
            if metrics {
                let _ = write!(h, "<td>{}</td>", esc(&summary::metrics_text(r)));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
}

/// With declared outputs: the Pareto front (every set, by index) and how many `ok` rows
/// violate a constraint.
fn front_section(h: &mut String, data: &PlotData) {
    if data.outputs.is_empty() {
        return;
    }
    let front = summary::pareto_front(&data.rows, &data.outputs);
    let infeasible = summary::infeasible(&data.rows, &data.outputs).len();
    let _ = write!(
        h,
        "<h2>Pareto front ({} sets)</h2><p class=\"muted\">feasible ok sets that no other dominates; {infeasible} ok sets violate a constraint</p><table><tr><th>set</th>",
        front.len()
    );
    name_cells(h, &data.names);
    for o in &data.outputs {
        let _ = write!(h, "<th>{}</th>", esc(&o.name));
    }
    h.push_str("<th>kind</th></tr>\n");
    for r in front {
        let _ = write!(h, "<tr><td class=\"num\">{}</td>", r.index);
        row_cells(h, r);
        for v in &r.outcome.outputs {
            let _ = write!(h, "<td class=\"num\">{}</td>", fmt_value(*v));
        }
        let _ = writeln!(
            h,
            "<td>{}</td></tr>",
            if r.bayesian { "Bayesian" } else { "random" }
        );
    }
    h.push_str("</table>\n");
}

/// The failed sets with their parameters and errors (the first few).
fn failure_section(h: &mut String, data: &PlotData) {
    let failed: Vec<&ResultRow> = data
        .rows
        .iter()
        .filter(|r| r.outcome.status.is_failure())
        .collect();
    if !failed.is_empty() {
        let _ = write!(
            h,
            "<h2>Failed sets ({})</h2><table><tr><th>set</th>",
            failed.len()
        );
        name_cells(h, &data.names);
        h.push_str("<th>status</th><th>exit code</th><th>error</th></tr>\n");
        for r in failed.iter().take(FAILURES) {
            let _ = write!(h, "<tr><td class=\"num\">{}</td>", r.index);
            row_cells(h, r);
            let _ = writeln!(
                h,
                "<td>{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
                r.outcome.status,
                r.outcome
                    .exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                esc(&r.outcome.error)
            );
        }
        h.push_str("</table>\n");
        if failed.len() > FAILURES {
            let _ = writeln!(
                h,
                "<p class=\"muted\">and {} more (see results.csv)</p>",
                failed.len() - FAILURES
            );
        }
    }
}

/// Every plot as inline SVG.
fn plot_section(h: &mut String, data: &PlotData, options: &PlotOptions) -> anyhow::Result<()> {
    h.push_str("<h2>Plots</h2>\n");
    for name in PlotName::ALL.into_iter().filter(|p| data.draws(*p)) {
        let svg = plot::render_svg(data, name, options)?;
        // The XML declaration is not allowed inside HTML.
        let svg = match svg.find("<svg") {
            Some(i) => &svg[i..],
            None => svg.as_str(),
        };
        let _ = writeln!(
            h,
            "<figure id=\"{name}\">{svg}<figcaption>{name}</figcaption></figure>"
        );
    }
    Ok(())
}
