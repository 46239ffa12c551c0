//! The fixed-width text tables of the printed reports: each column's header, width and
//! alignment are declared once, so a table's header line and its rows cannot drift apart.
//! Written here rather than with comfy-table or tabled: both draw borders and pad differently,
//! and the reports' plain layout, which docs/bench.md quotes, is kept byte for byte.

use std::fmt::{Display, Write as _};

/// Where a cell sits in its column.
#[derive(Debug, Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// One column: its header, its width, and the spaces before it.
#[derive(Debug, Clone)]
struct Column {
    header: String,
    width: usize,
    align: Align,
    gap: usize,
}

/// A table's columns. Cells wider than their column overflow it, as `format!` widths do.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<Column>,
    /// Extra spaces before the next column added.
    space: usize,
}

impl Table {
    /// A table without columns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a left-aligned column `width` characters wide.
    pub fn left(self, header: impl Into<String>, width: usize) -> Self {
        self.column(header.into(), width, Align::Left)
    }

    /// Adds a right-aligned column `width` characters wide.
    pub fn right(self, header: impl Into<String>, width: usize) -> Self {
        self.column(header.into(), width, Align::Right)
    }

    /// Widens the gap before the next column added by `spaces` (before the first: an indent).
    pub fn space(mut self, spaces: usize) -> Self {
        self.space += spaces;
        self
    }

    fn column(mut self, header: String, width: usize, align: Align) -> Self {
        // One space between columns, none before the first.
        let gap = usize::from(!self.columns.is_empty()) + std::mem::take(&mut self.space);
        self.columns.push(Column {
            header,
            width,
            align,
            gap,
        });
        self
    }

    /// The header line, without its newline.
    pub fn header(&self) -> String {
        self.row(self.columns.iter().map(|c| &c.header))
    }

    /// The line of `cells`, one per column in order, without its newline.
    pub fn row(&self, cells: impl IntoIterator<Item = impl Display>) -> String {
        let mut line = String::new();
        let mut count = 0;
        for (column, cell) in self.columns.iter().zip(cells) {
            line.extend(std::iter::repeat_n(' ', column.gap));
            let width = column.width;
            let _ = match column.align {
                Align::Left => write!(line, "{cell:<width$}"),
                Align::Right => write!(line, "{cell:>width$}"),
            };
            count += 1;
        }
        debug_assert_eq!(count, self.columns.len(), "one cell per column");
        line
    }
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_rows_share_widths_and_gaps() {
        let table = Table::new()
            .space(2)
            .left("name", 6)
            .right("n", 4)
            .space(2)
            .left("note", 0);
        assert_eq!(table.header(), "  name      n   note");
        assert_eq!(table.row(["a", "12", "x"]), "  a        12   x");
        // A cell wider than its column pushes the rest along.
        assert_eq!(table.row(["abcdefgh", "1", ""]), "  abcdefgh    1   ");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(thousands(12_345.6), "12,346");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
