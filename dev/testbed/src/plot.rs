//! Line charts as SVG, drawn with plotters: a grid of charts, each with a title, axis
//! descriptions and labelled lines. The benchmark draws throughput and latency against
//! concurrency with it, the observability test the overview dashboard's main panels from
//! Prometheus; SVG lines only (no fonts, no bitmaps).

use std::path::Path;

use plotters::prelude::*;

const WIDTH: u32 = 1100;
const ROW_HEIGHT: u32 = 300;
const FONT: &str = "sans-serif";

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its legend.
    pub label: String,
    /// Its colour (red, green, blue).
    pub colour: (u8, u8, u8),
    /// Drawn paler (a baseline to compare with).
    pub faded: bool,
    /// Its points (x, y), in x order.
    pub points: Vec<(f64, f64)>,
}

/// One chart of the grid.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// The caption.
    pub title: String,
    /// What the x axis measures.
    pub x_desc: String,
    /// What the y axis measures.
    pub y_desc: String,
    /// A logarithmic x axis (concurrency) instead of a linear one (time).
    pub x_log: bool,
    /// The lines; a chart without any is drawn with its axes only.
    pub lines: Vec<Line>,
}

/// A picture that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {message}")]
pub struct PlotError {
    path: String,
    message: String,
}

/// A colour of `index` from a palette of ten, for lines without a colour of their own.
pub fn palette(index: usize) -> (u8, u8, u8) {
    const COLOURS: [(u8, u8, u8); 10] = [
        (0x1f, 0x77, 0xb4),
        (0xd6, 0x27, 0x28),
        (0x2c, 0xa0, 0x2c),
        (0x94, 0x67, 0xbd),
        (0xff, 0x7f, 0x0e),
        (0x8c, 0x56, 0x4b),
        (0xe3, 0x77, 0xc2),
        (0x7f, 0x7f, 0x7f),
        (0xbc, 0xbd, 0x22),
        (0x17, 0xbe, 0xcf),
    ];
    COLOURS[index % COLOURS.len()]
}

/// Writes `charts`, `columns` to a row, to the SVG file `path`, creating its directory.
///
/// # Errors
/// The directory cannot be created or the file written.
pub fn write(charts: &[Chart], columns: usize, path: &Path) -> Result<(), PlotError> {
    let fail = |message: String| PlotError {
        path: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    if charts.is_empty() {
        return Ok(());
    }
    let columns = columns.max(1);
    let rows = charts.len().div_ceil(columns);
    let height = ROW_HEIGHT * u32::try_from(rows).unwrap_or(1);
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let cells = root.split_evenly((rows, columns));
    for (cell, chart) in cells.iter().zip(charts) {
        draw(cell, chart).map_err(|e| fail(e.to_string()))?;
    }
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn draw(area: &Area<'_>, chart: &Chart) -> DrawResult {
    let xs = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0));
    let (min_x, max_x) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (min_x, max_x) = if min_x > max_x {
        (0.0, 1.0)
    } else {
        (min_x, max_x)
    };
    let max_y = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max);
    let y_range = 0.0..(max_y * 1.1).max(f64::EPSILON);
    // Enough decimals that the ticks of a small range (a ratio, seconds) differ.
    let decimals = if max_y >= 10.0 {
        0
    } else if max_y >= 1.0 {
        1
    } else {
        3
    };
    let y_label = move |y: &f64| format!("{y:.decimals$}");
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&chart.title, (FONT, 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60);
    // The two x axes are different types to plotters: one body, expanded for each.
    macro_rules! draw_on {
        ($x_range:expr) => {{
            let mut c = builder.build_cartesian_2d($x_range, y_range)?;
            c.configure_mesh()
                .x_desc(&chart.x_desc)
                .y_desc(&chart.y_desc)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&y_label)
                .draw()?;
            lines(&mut c, chart)
        }};
    }
    if chart.x_log {
        draw_on!((0.8..max_x * 1.25).log_scale())
    } else {
        draw_on!(min_x..max_x.max(min_x + f64::EPSILON))
    }
}

fn lines<'a, X>(c: &mut ChartContext<'a, SVGBackend<'a>, X>, chart: &Chart) -> DrawResult
where
    X: CoordTranslate<From = (f64, f64)>,
{
    for line in chart.lines.iter().filter(|l| !l.points.is_empty()) {
        let (r, g, b) = line.colour;
        let colour = RGBColor(r, g, b);
        let style = if line.faded {
            colour.mix(0.35).stroke_width(2)
        } else {
            colour.stroke_width(2)
        };
        let points = line.points.iter().copied().filter(|p| p.1.is_finite());
        c.draw_series(LineSeries::new(points, style))?
            .label(&line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if chart.lines.iter().any(|l| !l.points.is_empty()) {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    Ok(())
}
