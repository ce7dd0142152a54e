//! SVG plots of a comparison (plotters' SVG backend only: text is left to the SVG viewer's fonts).
//!
//! * best reward so far against trial: mean over seeds, min-max band;
//! * reward distribution per config: box plot of every trial's reward, pooled over seeds;
//! * predicted against actual reward, for configs whose controller predicts;
//! * seconds per trial against trial: mean over seeds, min-max band;
//! * regret against trial on a benchmark table: median over seeds, quartile band.

use std::path::Path;

use anyhow::{Result, anyhow};
use mlpnas_core::stats::mean;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::aggregate::ConfigRuns;
use crate::stats::quantile;

const SIZE: (u32, u32) = (800, 460);
const FONT: &str = "sans-serif";

/// Tableau 10: distinguishable, and readable in print.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("{}: {e}", path.display())
}

/// One line with its band: (x, mean, low, high) points.
struct Band {
    name: String,
    points: Vec<(f64, f64, f64, f64)>,
}

/// Per trial index, the mean / min / max over runs that reached it, of `per_run` series.
fn band_over_runs(name: &str, per_run: &[Vec<f64>]) -> Band {
    let len = per_run.iter().map(Vec::len).max().unwrap_or(0);
    let points = (0..len)
        .filter_map(|i| {
            let v: Vec<f64> = per_run.iter().filter_map(|r| r.get(i).copied()).collect();
            let m = mean(&v)?;
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(((i + 1) as f64, m, lo, hi))
        })
        .collect();
    Band { name: name.to_string(), points }
}

/// A padded value range that is never empty.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (lo - pad, hi + pad)
}

fn line_chart(path: &Path, title: &str, x_desc: &str, y_desc: &str, bands: &[Band]) -> Result<()> {
    let e = err(path);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let xmax = bands.iter().flat_map(|b| b.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    let (ylo, yhi) = range(bands.iter().flat_map(|b| b.points.iter().flat_map(|p| [p.2, p.3])));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1.0..xmax.max(2.0), ylo..yhi)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels((xmax as usize).clamp(2, 10))
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { String::new() })
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(&e)?;
    draw_bands(&mut chart, bands, |y| y, SeriesLabelPosition::LowerRight).map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(())
}

/// Draws each band (its low-high polygon, its line, its legend entry) and the legend, on a
/// linear or a logarithmic y axis; `at` maps each y value before it is drawn.
fn draw_bands<'a, 'b: 'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    bands: &[Band],
    at: impl Fn(f64) -> f64,
    legend: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, b) in bands.iter().enumerate() {
        let c = color(i);
        let mut poly: Vec<(f64, f64)> = b.points.iter().map(|p| (p.0, at(p.3))).collect();
        poly.extend(b.points.iter().rev().map(|p| (p.0, at(p.2))));
        chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.15).filled())))?;
        chart
            .draw_series(LineSeries::new(b.points.iter().map(|p| (p.0, at(p.1))), c.stroke_width(2)))?
            .label(b.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 14))
        .draw()
}

/// Best reward so far against trial.
pub fn best_so_far(path: &Path, configs: &[ConfigRuns]) -> Result<()> {
    let bands: Vec<Band> = configs
        .iter()
        .map(|c| band_over_runs(&c.name, &c.runs.iter().map(|r| r.best_so_far()).collect::<Vec<_>>()))
        .collect();
    line_chart(path, "Best reward so far (mean over seeds, band: min-max)", "trial", "best reward", &bands)
}

/// Regret against trial on one benchmark table: median over seeds, band: quartiles; a log y axis
/// (regrets span orders of magnitude), zero regrets drawn at the axis' floor.
pub fn regret(path: &Path, table: &str, r: &crate::regret::TableRegret) -> Result<()> {
    let bands: Vec<Band> = r
        .configs
        .iter()
        .map(|c| Band {
            name: c.name.clone(),
            points: c.quartiles().iter().enumerate().map(|(i, &(m, lo, hi))| ((i + 1) as f64, m, lo, hi)).collect(),
        })
        .collect();
    let all = || bands.iter().flat_map(|b| b.points.iter().flat_map(|p| [p.1, p.2, p.3]));
    let hi = all().filter(|v| v.is_finite()).fold(f64::MIN_POSITIVE, f64::max);
    let floor = all().filter(|v| v.is_finite() && *v > 0.0).fold(hi, f64::min) / 2.0;
    let e = err(path);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let xmax = bands.iter().flat_map(|b| b.points.iter().map(|p| p.0)).fold(2.0, f64::max);
    let title = format!("Regret on {table} (median over seeds, band: quartiles)");
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1.0..xmax, (floor..hi * 1.5).log_scale())
        .map_err(&e)?;
    chart
        .configure_mesh()
        .x_desc("trial")
        .y_desc(format!("regret ({}, log scale)", r.metric))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(&e)?;
    draw_bands(&mut chart, &bands, |v| v.max(floor), SeriesLabelPosition::UpperRight).map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(())
}

/// Seconds per trial against trial.
pub fn time_per_trial(path: &Path, configs: &[ConfigRuns]) -> Result<()> {
    let bands: Vec<Band> = configs
        .iter()
        .map(|c| {
            let series: Vec<Vec<f64>> = c.runs.iter().map(|r| r.trials.iter().map(|t| t.seconds).collect()).collect();
            band_over_runs(&c.name, &series)
        })
        .collect();
    line_chart(path, "Time per trial (mean over seeds, band: min-max)", "trial", "seconds", &bands)
}

/// Writes `names[i]` centred under x = i in the label area.
fn category_labels<X, Y>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    names: &[&str],
    y: f64,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, name) in names.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, y));
        root.draw(&Text::new(name.to_string(), (px, py + 8), style.clone()))?;
    }
    Ok(())
}

/// Box plot of every trial's reward per config (whiskers: min and max; diamond: mean).
pub fn reward_distribution(path: &Path, configs: &[ConfigRuns]) -> Result<()> {
    let e = err(path);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let rewards: Vec<Vec<f64>> =
        configs.iter().map(|c| c.runs.iter().flat_map(|r| r.trials.iter().map(|t| t.reward)).collect()).collect();
    let (ylo, yhi) = range(rewards.iter().flatten().copied());
    let n = configs.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Reward of every trial (pooled over seeds)", (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..n - 0.5, ylo..yhi)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_desc("reward")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(&e)?;
    for (i, r) in rewards.iter().enumerate() {
        let (Some(q1), Some(med), Some(q3), Some(lo), Some(hi), Some(m)) =
            (quantile(r, 0.25), quantile(r, 0.5), quantile(r, 0.75), quantile(r, 0.0), quantile(r, 1.0), mean(r))
        else {
            continue;
        };
        let c = color(i);
        let x = i as f64;
        let w = 0.3;
        chart
            .draw_series([
                Rectangle::new([(x - w, q1), (x + w, q3)], c.mix(0.25).filled()),
                Rectangle::new([(x - w, q1), (x + w, q3)], c.stroke_width(2)),
            ])
            .map_err(&e)?;
        chart
            .draw_series([
                PathElement::new(vec![(x - w, med), (x + w, med)], c.stroke_width(3)),
                PathElement::new(vec![(x, q3), (x, hi)], c.stroke_width(1)),
                PathElement::new(vec![(x, q1), (x, lo)], c.stroke_width(1)),
                PathElement::new(vec![(x - w / 2.0, hi), (x + w / 2.0, hi)], c.stroke_width(1)),
                PathElement::new(vec![(x - w / 2.0, lo), (x + w / 2.0, lo)], c.stroke_width(1)),
            ])
            .map_err(&e)?;
        let d = (yhi - ylo) * 0.012;
        chart
            .draw_series(std::iter::once(Polygon::new(
                vec![(x - 0.04, m), (x, m + d), (x + 0.04, m), (x, m - d)],
                BLACK.filled(),
            )))
            .map_err(&e)?;
    }
    let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
    category_labels(&root, &chart, &names, ylo).map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(())
}

/// Predicted against actual reward for the configs with predictions; `Ok(false)` (and no file)
/// when no trial has one.
pub fn predicted_vs_actual(path: &Path, configs: &[ConfigRuns]) -> Result<bool> {
    // (palette index, config, (predicted, actual) pairs)
    type Pairs<'a> = (usize, &'a str, Vec<(f64, f64)>);
    let pairs: Vec<Pairs<'_>> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = c.runs.iter().flat_map(|r| r.trials.iter().filter_map(|t| t.predicted.map(|p| (p, t.reward))));
            (i, c.name.as_str(), p.collect::<Vec<_>>())
        })
        .filter(|(_, _, p)| !p.is_empty())
        .collect();
    if pairs.is_empty() {
        return Ok(false);
    }
    let e = err(path);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let (lo, hi) = range(pairs.iter().flat_map(|(_, _, p)| p.iter().flat_map(|(a, b)| [*a, *b])));
    let mut chart = ChartBuilder::on(&root)
        .caption("Predicted vs actual reward (dashed: y = x)", (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .x_desc("predicted")
        .y_desc("actual reward")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(&e)?;
    let steps = 40;
    let dashes = (0..steps).step_by(2).map(|k| {
        let a = lo + (hi - lo) * k as f64 / steps as f64;
        let b = lo + (hi - lo) * (k + 1) as f64 / steps as f64;
        PathElement::new(vec![(a, a), (b, b)], BLACK.mix(0.5))
    });
    chart.draw_series(dashes).map_err(&e)?;
    for (i, name, p) in &pairs {
        let c = color(*i);
        chart
            .draw_series(p.iter().map(|(x, y)| Circle::new((*x, *y), 3, c.mix(0.6).filled())))
            .map_err(&e)?
            .label(name.to_string())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 14))
        .draw()
        .map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunData;
    use crate::runs::tests::{line, tmp};

    #[test]
    fn writes_every_plot_as_svg() {
        let d = tmp("plots");
        let mut configs = Vec::new();
        for (ci, name) in ["random", "reinforce"].iter().enumerate() {
            let mut runs = Vec::new();
            for seed in 0..2u64 {
                let dir = d.join(name).join(seed.to_string());
                std::fs::create_dir_all(&dir).expect("dir");
                let lines: Vec<String> = (0..6)
                    .map(|i| {
                        let r = 0.5 + 0.05 * i as f64 * (ci as f64 + 0.5) + 0.01 * seed as f64;
                        line(i, i / 3, r, (ci == 1).then_some(r - 0.03), 0)
                    })
                    .collect();
                std::fs::write(dir.join("journal.jsonl"), lines.join("\n")).expect("journal");
                runs.push(RunData::load(&dir, seed).expect("read").expect("journal"));
            }
            configs.push(ConfigRuns { name: name.to_string(), runs, planned: 2 });
        }
        best_so_far(&d.join("best.svg"), &configs).expect("best");
        time_per_trial(&d.join("time.svg"), &configs).expect("time");
        reward_distribution(&d.join("box.svg"), &configs).expect("box");
        assert!(predicted_vs_actual(&d.join("pred.svg"), &configs).expect("pred"));
        assert!(!predicted_vs_actual(&d.join("none.svg"), &configs[..1]).expect("no predictions"));
        assert!(!d.join("none.svg").exists());
        for f in ["best.svg", "time.svg", "box.svg", "pred.svg"] {
            let svg = std::fs::read_to_string(d.join(f)).expect("svg");
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{f}");
            assert!(svg.contains("reinforce"), "{f} has a legend or label");
        }
    }

    #[test]
    fn regret_curves_span_decades_and_every_trial_is_drawn_inside_the_chart() {
        use crate::regret::{ConfigRegret, TableRegret};
        let d = tmp("regret-plot");
        let curve = |k: f64| (0..10).map(|i| k * 10f64.powi(-i)).chain([0.0]).collect::<Vec<f64>>();
        let configs = ["random", "evolution"]
            .iter()
            .enumerate()
            .map(|(i, name)| ConfigRegret {
                name: name.to_string(),
                curves: (0..3).map(|s| (s, curve(1.0 + i as f64 + s as f64))).collect(),
                epochs: Vec::new(),
            })
            .collect();
        let r = TableRegret {
            table: "t".into(),
            metric: "mse".into(),
            minimize: true,
            best_metric: 0.1,
            configurations: 11,
            baseline: "random".into(),
            configs,
            tests: Vec::new(),
        };
        let path = d.join("regret.svg");
        regret(&path, "t", &r).expect("regret plot");
        let svg = std::fs::read_to_string(&path).expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("evolution") && svg.contains("log scale"));
        // Ticks over many decades, and every drawn point inside the plot (zero regrets too,
        // which a log axis cannot place).
        assert!(svg.contains("1e0") && svg.contains("1e-8"), "{svg}");
        let mut points = 0;
        for attr in svg.split("points=\"").skip(1) {
            for xy in attr[..attr.find('"').expect("closed")].split_whitespace() {
                let (x, y) = xy.split_once(',').expect("x,y");
                let (x, y): (f64, f64) = (x.parse().expect("x"), y.parse().expect("y"));
                assert!((0.0..=800.0).contains(&x) && (0.0..=460.0).contains(&y), "{xy} is off the chart");
                points += 1;
            }
        }
        assert!(points >= 2 * 11 * 3, "lines and bands drawn: {points} points");
        // Each median line has all 11 trials, the last one (zero regret) included.
        let lines: Vec<usize> = svg
            .split("<polyline")
            .skip(1)
            .map(|l| {
                l.split("points=\"").nth(1).map_or(0, |p| p[..p.find('"').expect("closed")].split_whitespace().count())
            })
            .filter(|&n| n == 11)
            .collect();
        assert_eq!(lines.len(), 2, "two full median lines");
    }
}
