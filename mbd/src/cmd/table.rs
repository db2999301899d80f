//! LavaLite's tables: columns two spaces apart, each as wide as its
//! longest cell, strings left-aligned and numbers right-aligned.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    /// Each column's widest cell so far (its name included).
    widths: Vec<usize>,
    lines: Vec<Line>,
}

#[derive(Debug)]
enum Line {
    Row(Vec<String>),
    /// Printed as it is, outside the columns (bjobs' `PEND:` reasons).
    Note(String),
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            widths: columns.iter().map(|(name, _)| name.len()).collect(),
            lines: Vec::new(),
        }
    }

    /// A row; missing trailing cells are blank.
    pub fn row(&mut self, cells: Vec<String>) {
        for (widest, cell) in self.widths.iter_mut().zip(&cells) {
            *widest = (*widest).max(width(cell));
        }
        self.lines.push(Line::Row(cells));
    }

    /// A line of its own after the rows so far, not in any column.
    pub fn note(&mut self, text: String) {
        self.lines.push(Line::Note(text));
    }

    /// Header line plus rows, each line without trailing blanks.
    pub fn render(&self) -> String {
        let widths = &self.widths;
        let header: Vec<String> = self.columns.iter().map(|(n, _)| n.to_string()).collect();
        let line_len = widths.iter().map(|w| w + 2).sum::<usize>();
        let mut out = String::with_capacity(line_len * (self.lines.len() + 1));
        self.render_row(&header, widths, &mut out);
        for line in &self.lines {
            match line {
                Line::Row(cells) => self.render_row(cells, widths, &mut out),
                Line::Note(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
        out
    }

    fn render_row(&self, cells: &[String], widths: &[usize], out: &mut String) {
        for (i, ((_, align), column_width)) in self.columns.iter().zip(widths).enumerate() {
            let cell = cells.get(i).map_or("", String::as_str);
            if i > 0 {
                out.push_str("  ");
            }
            let pad = column_width.saturating_sub(width(cell));
            match align {
                Align::Left => {
                    out.push_str(cell);
                    out.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(cell);
                }
            }
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    }
}

/// Characters a cell shows (its length, for the usual ASCII cell).
fn width(cell: &str) -> usize {
    if cell.is_ascii() {
        cell.len()
    } else {
        cell.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_take_their_widest_cell_and_align() {
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("N", Align::Right),
            ("X", Align::Left),
        ]);
        t.row(vec!["normal".into(), "30".into(), "a".into()]);
        t.note("  a note wider than any column".into());
        t.row(vec!["s".into(), "5".into()]);
        assert_eq!(
            t.render(),
            "NAME     N  X\nnormal  30  a\n  a note wider than any column\ns        5\n"
        );
    }
}
