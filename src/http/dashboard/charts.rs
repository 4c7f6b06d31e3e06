//! The dashboard's charts as SVG, drawn by plotters' SVG backend into a string: the 30-day
//! trend lines per production type and the WIP/queued sparkline. No font file is read (text is
//! SVG `<text>`, laid out by the browser in its own sans-serif), and every chart has its data
//! table beside it on the page.

use plotters::prelude::*;

use super::i18n::Tr;
use super::model::{HistoryPoint, Trends};
use crate::model::decimal::Dec2;

/// Line colours by series position, and the same in CSS (`--c0` …) for the legends.
pub const PALETTE: [RGBColor; 5] = [
    RGBColor(0xb4, 0x5f, 0x06),
    RGBColor(0x1f, 0x5f, 0xa8),
    RGBColor(0x2e, 0x7d, 0x32),
    RGBColor(0x7b, 0x1f, 0xa2),
    RGBColor(0x55, 0x55, 0x55),
];

const AXIS: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);

/// Which daily figure of [`Trends`] a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendFigure {
    Spawned,
    Completed,
    Throughput,
    LeadTime,
}

impl TrendFigure {
    pub const ALL: [TrendFigure; 4] = [
        TrendFigure::Spawned,
        TrendFigure::Completed,
        TrendFigure::Throughput,
        TrendFigure::LeadTime,
    ];

    /// The message of its title.
    pub fn title_id(self) -> &'static str {
        match self {
            TrendFigure::Spawned => "chart-spawned",
            TrendFigure::Completed => "chart-completed",
            TrendFigure::Throughput => "chart-throughput",
            TrendFigure::LeadTime => "chart-lead",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            TrendFigure::Spawned => "spawned",
            TrendFigure::Completed => "completed",
            TrendFigure::Throughput => "throughput",
            TrendFigure::LeadTime => "lead_time",
        }
    }

    /// Series `i`'s value on day `d`; `None`: no point.
    fn value(self, t: &Trends, i: usize, d: usize) -> Option<f64> {
        let s = &t.series[i];
        match self {
            TrendFigure::Spawned => Some(s.spawned[d] as f64),
            TrendFigure::Completed => Some(s.completed[d] as f64),
            TrendFigure::Throughput => s.throughput[d].map(Dec2::as_f64),
            TrendFigure::LeadTime => s.lead_hours[d].map(Dec2::as_f64),
        }
    }
}

/// A y range that starts at 0 and leaves a little room above the largest value.
fn y_max(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0f64, f64::max);
    if max <= 0.0 {
        1.0
    } else {
        max * 1.1
    }
}

fn y_label(v: f64) -> String {
    if v.fract().abs() < 1e-9 || v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One trend chart: a line per production type over the 30 days, the last 7 shaded; the days
/// named in `tr`'s language.
pub fn trend_chart(t: &Trends, figure: TrendFigure, tr: &Tr) -> String {
    let mut out = String::new();
    let n = t.days.len();
    if n == 0 {
        return out;
    }
    let max =
        y_max((0..t.series.len()).flat_map(|i| (0..n).filter_map(move |d| figure.value(t, i, d))));
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut out, (480, 230)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..(n - 1) as f64, 0f64..max)?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                ((n.saturating_sub(7)) as f64 - 0.5, 0.0),
                ((n - 1) as f64, max),
            ],
            RGBColor(0xf3, 0xf0, 0xe6).filled(),
        )))?;
        let days = &t.days;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|x| {
                let i = x.round().clamp(0.0, (n - 1) as f64) as usize;
                tr.day_month(days[i])
            })
            .y_label_formatter(&|y| y_label(*y))
            .label_style(("sans-serif", 14).into_font().color(&AXIS))
            .axis_style(AXIS)
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .draw()?;
        for (i, _) in t.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            // A gap where a day has no value: one line per run of days with values.
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
            for d in 0..n {
                match figure.value(t, i, d) {
                    Some(v) => run.push((d as f64, v)),
                    None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                    None => {}
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for run in runs {
                let style = ShapeStyle::from(&color).stroke_width(2);
                chart.draw_series(LineSeries::new(run.iter().copied(), style).point_size(2))?;
            }
        }
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    responsive(out)
}

/// WIP and queued over the last hours, small.
pub fn sparkline(points: &[HistoryPoint]) -> String {
    let mut out = String::new();
    if points.len() < 2 {
        return out;
    }
    let n = points.len();
    let max = y_max(points.iter().map(|p| p.wip as f64));
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut out, (1000, 150)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(6)
            .x_label_area_size(20)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..(n - 1) as f64, 0f64..max)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(3)
            .x_label_formatter(&|x| {
                let i = x.round().clamp(0.0, (n - 1) as f64) as usize;
                points[i].at.format("%H:%M").to_string()
            })
            .y_label_formatter(&|y| y_label(*y))
            .label_style(("sans-serif", 14).into_font().color(&AXIS))
            .axis_style(AXIS)
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()?;
        type Pick = fn(&HistoryPoint) -> i64;
        let series: [(RGBColor, Pick); 2] = [(PALETTE[1], |p| p.wip), (PALETTE[0], |p| p.queued)];
        for (color, pick) in series {
            chart.draw_series(LineSeries::new(
                points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (i as f64, pick(p) as f64)),
                ShapeStyle::from(&color).stroke_width(2),
            ))?;
        }
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    responsive(out)
}

/// plotters writes fixed `width`/`height` attributes: dropped, so that CSS sizes the chart to
/// its box (the `viewBox` keeps the proportions).
fn responsive(svg: String) -> String {
    let Some(start) = svg.find("<svg") else {
        return svg;
    };
    let Some(end) = svg[start..].find('>').map(|e| start + e) else {
        return svg;
    };
    let head: String = svg[start..end]
        .split(' ')
        .filter(|a| !a.starts_with("width=") && !a.starts_with("height="))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{}{head} preserveAspectRatio=\"xMidYMid meet\" aria-hidden=\"true\" focusable=\"false\"{}",
        &svg[..start],
        &svg[end..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::dashboard::model::TypeSeries;
    use chrono::NaiveDate;

    #[test]
    fn charts_are_svg_without_fixed_size() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let days: Vec<NaiveDate> = (0..30)
            .rev()
            .map(|b| today - chrono::Days::new(b))
            .collect();
        let mut throughput = vec![Some(Dec2(150)); 30];
        throughput[3] = None;
        let t = Trends {
            days,
            series: vec![TypeSeries {
                name: "classic".into(),
                spawned: (0..30).collect(),
                completed: vec![2; 30],
                throughput,
                lead_hours: vec![None; 30],
            }],
            compare: vec![],
        };
        let tr = Tr::new(crate::http::dashboard::i18n::Lang::Th);
        for f in TrendFigure::ALL {
            let svg = trend_chart(&t, f, &tr);
            assert!(svg.contains("<svg") && svg.contains("viewBox"), "{svg}");
            assert!(!svg.contains(" width=\"480\""), "fixed width left in");
        }
        let svg = trend_chart(&t, TrendFigure::Spawned, &tr);
        assert!(svg.contains("<polyline"));
        // The days in Thai: the axis names April's days (the 30 days to 1 May).
        assert!(svg.contains(" เม.ย.\n"), "{svg}");
    }
}
