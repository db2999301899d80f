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
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A row; missing trailing cells are blank.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Header line plus rows, each line without trailing blanks.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (self.columns.iter().enumerate())
            .map(|(i, (name, _))| {
                (self.rows.iter())
                    .filter_map(|r| r.get(i))
                    .map(|c| c.chars().count())
                    .fold(name.len(), usize::max)
            })
            .collect();
        let header: Vec<String> = self.columns.iter().map(|(n, _)| n.to_string()).collect();
        let mut out = String::new();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, ((_, align), width)) in self.columns.iter().zip(&widths).enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.chars().count());
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
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
        t.row(vec!["s".into(), "5".into()]);
        assert_eq!(t.render(), "NAME     N  X\nnormal  30  a\ns        5\n");
    }
}
