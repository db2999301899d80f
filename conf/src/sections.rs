//! The `Begin <Kw>` ... `End <Kw>` layout shared by LavaLite's sectioned
//! files (`ll.cluster.<name>`, `llb.hosts`, `llb.queues`).

use crate::ConfError;

/// One section: its keyword, where it starts, and its non-comment lines
/// (line number from 1, trimmed text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section<'a> {
    pub keyword: &'a str,
    pub line: usize,
    /// The word after `End` (may be empty).
    pub end: &'a str,
    pub body: Vec<(usize, &'a str)>,
}

impl Section<'_> {
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }

    /// The section must be closed by `End <its keyword>`.
    pub fn require_matching_end(&self) -> Result<(), ConfError> {
        if self.end.eq_ignore_ascii_case(self.keyword) {
            Ok(())
        } else {
            Err(ConfError::syntax(
                self.line,
                format!(
                    "section {} must end with `End {}`",
                    self.keyword, self.keyword
                ),
            ))
        }
    }
}

/// Splits `text` into sections. Blank and `#` lines are skipped; anything
/// outside a section, or a section without `End`, is an error.
pub(crate) fn sections(text: &str) -> Result<Vec<Section<'_>>, ConfError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_ascii()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let mut out = Vec::new();
    while let Some((no, line)) = lines.next() {
        let keyword = begin_keyword(line).ok_or_else(|| {
            ConfError::syntax(no, format!("expected `Begin <section>`, got {line:?}"))
        })?;
        let mut body = Vec::new();
        let end = loop {
            match lines.next() {
                None => {
                    return Err(ConfError::syntax(
                        no,
                        format!("section {keyword} has no End"),
                    ))
                }
                Some((_, l)) if first_word_is(l, "end") => {
                    break l.split_ascii_whitespace().nth(1).unwrap_or("");
                }
                Some((at, l)) if begin_keyword(l).is_some() => {
                    return Err(ConfError::syntax(
                        at,
                        format!("`{l}` inside section {keyword}: missing End"),
                    ));
                }
                Some(entry) => body.push(entry),
            }
        };
        out.push(Section {
            keyword,
            line: no,
            end,
            body,
        });
    }
    Ok(out)
}

fn begin_keyword(line: &str) -> Option<&str> {
    let (first, rest) = first_word(line);
    match first.eq_ignore_ascii_case("begin") {
        true => rest.split_ascii_whitespace().next(),
        false => None,
    }
}

fn first_word_is(line: &str, word: &str) -> bool {
    first_word(line).0.eq_ignore_ascii_case(word)
}

/// A trimmed line's first word and the rest. Every line of a 10,000-host
/// file is checked for `Begin` and `End`: only its first word is read.
fn first_word(line: &str) -> (&str, &str) {
    line.split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((line, ""))
}

/// Checks a header row token by token: the first tokens must be `expected`
/// (case-insensitive); extra trailing tokens are tolerated.
pub(crate) fn check_header(line: (usize, &str), expected: &[&str]) -> Result<(), ConfError> {
    let mut got = line.1.split_ascii_whitespace();
    for want in expected {
        match got.next() {
            Some(g) if g.eq_ignore_ascii_case(want) => {}
            other => {
                return Err(ConfError::syntax(
                    line.0,
                    format!(
                        "header must be `{}`; column {want} is {other:?}",
                        expected.join(" ")
                    ),
                ))
            }
        }
    }
    Ok(())
}
