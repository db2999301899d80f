//! LSF job scripts as `bsub` reads them: the `#BSUB` directives of a
//! script, and `-J "name[1-10:2]%4"` array names. Pure: text in, options
//! out.

use proto::mbd::ArraySpec;

/// Most elements an `-J` index list may name (mbd checks its own limit).
const MAX_INDICES: usize = 100_000;

/// The options a script's `#BSUB` lines give, as command-line words, in
/// order. A directive is a line of blanks, `#`, blanks, `BSUB`, blanks
/// and a word starting with `-`; any other `#BSUB` line is a comment, as
/// in LSF. Every directive line counts, also after the first command.
/// Words are split at blanks; `'` and `"` group; a word starting with `#`
/// ends the line; a line ending in `\` goes on with the next.
pub fn directives(script: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut lines = script.lines().enumerate();
    while let Some((no, line)) = lines.next() {
        let Some(rest) = directive_text(line) else {
            continue;
        };
        let mut text = rest.to_owned();
        while text.ends_with('\\') {
            text.pop();
            match lines.next() {
                Some((_, more)) => text.push_str(more),
                None => break,
            }
        }
        let line_words = split_words(&text).map_err(|e| format!("line {}: {e}", no + 1))?;
        words.extend(line_words);
    }
    Ok(words)
}

/// What follows `#BSUB` on a directive line.
fn directive_text(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let rest = rest.strip_prefix("BSUB")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    rest.starts_with('-').then_some(rest)
}

/// Shell-like words: blanks separate, quotes group, `#` starts a comment.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, ' ' | '\t') => words.extend(word.take()),
            (None, '#') if word.is_none() => break,
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unbalanced {q} in a #BSUB line"));
    }
    words.extend(word);
    Ok(words)
}

/// Whether the script has anything to run besides directives, comments
/// and blank lines (LSF refuses one that has not).
pub fn has_commands(script: &str) -> bool {
    script.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#')
    })
}

/// The script as one line, for listings (`Command <...>`): its lines
/// joined by `; `, blank ones left out, as LSF shows a spooled script.
pub fn one_line(script: &str) -> String {
    let lines: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}

/// `-J` split into the name and, for `name[list]%L`, the array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobName {
    pub name: String,
    /// One range (`[1-10:2]`, `[5]`).
    pub range: ArraySpec,
    /// Several ranges (`[1,3,7-9]`): every index, ascending.
    pub indices: Vec<u32>,
    /// `%L`: elements running at once (0: no limit).
    pub max_running: u32,
}

/// LSF's `-J "name[list]%L"`: list = comma-separated `start[-end[:step]]`,
/// indices positive. A name without brackets is a plain job's.
pub fn parse_job_name(text: &str) -> Result<JobName, String> {
    let Some(open) = text.rfind('[').filter(|_| text.contains(']')) else {
        return Ok(JobName {
            name: text.to_owned(),
            ..JobName::default()
        });
    };
    let bad = || format!("invalid job array '{text}': expected name[start-end:step,...]%limit");
    let (inside, after) = text[open + 1..].split_once(']').ok_or_else(bad)?;
    let max_running = match after {
        "" => 0,
        limit => (limit.strip_prefix('%'))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(bad)?,
    };
    let ranges: Vec<ArraySpec> = (inside.split(','))
        .map(parse_range)
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let mut job = JobName {
        name: text[..open].to_owned(),
        max_running,
        ..JobName::default()
    };
    if let [range] = ranges[..] {
        job.range = range;
        return Ok(job);
    }
    let mut indices = Vec::new();
    for r in &ranges {
        let count = ((r.end - r.start) / r.step) as usize + 1;
        if indices.len() + count > MAX_INDICES {
            return Err(format!(
                "job array '{text}' has over {MAX_INDICES} elements"
            ));
        }
        indices.extend(r.indices());
    }
    indices.sort_unstable();
    indices.dedup();
    job.indices = indices;
    Ok(job)
}

/// `start[-end[:step]]`, all positive, end >= start.
fn parse_range(text: &str) -> Option<ArraySpec> {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n > 0)
    };
    let (range, step) = match text.split_once(':') {
        Some((range, step)) => (range, number(step)?),
        None => (text, 1),
    };
    let (start, end) = match range.split_once('-') {
        Some((s, e)) => (number(s)?, number(e)?),
        None => (number(range)?, number(range)?),
    };
    (end >= start).then_some(ArraySpec { start, end, step })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directive_line_counts_and_other_lines_do_not() {
        let script = "#!/bin/bash\n\
            #BSUB -J sim -q short\n\
            # BSUB -n 4   # a comment\n\
            #BSUB this is not a directive\n\
            #BSUBX -W 5\n\
            echo start\n\
            \t#BSUB -o 'out file.%J'\n\
            #BSUB -w \"done(1) && done(2)\" \\\n\
            -W 1:30\n";
        assert_eq!(
            directives(script).unwrap(),
            [
                "-J",
                "sim",
                "-q",
                "short",
                "-n",
                "4",
                "-o",
                "out file.%J",
                "-w",
                "done(1) && done(2)",
                "-W",
                "1:30"
            ]
        );
        assert_eq!(
            directives("#BSUB -J 'a\n").unwrap_err(),
            "line 1: unbalanced ' in a #BSUB line"
        );
    }

    #[test]
    fn scripts_without_commands_and_their_one_line_form() {
        assert!(!has_commands("#!/bin/sh\n#BSUB -q x\n\n"));
        assert!(has_commands("#BSUB -q x\nsleep 1\n"));
        assert_eq!(
            one_line("#!/bin/sh\n\n  echo a\necho b\n"),
            "#!/bin/sh; echo a; echo b"
        );
    }

    #[test]
    fn array_names_as_lsf_writes_them() {
        let j = parse_job_name("arr[1-10:2]%4").unwrap();
        assert_eq!(
            (j.name.as_str(), j.range.indices(), j.max_running),
            ("arr", vec![1, 3, 5, 7, 9], 4)
        );
        let j = parse_job_name("a[7,1-3,3]").unwrap();
        assert_eq!((j.range.is_array(), j.indices), (false, vec![1, 2, 3, 7]));
        assert_eq!(parse_job_name("x[5]").unwrap().range.indices(), [5]);
        let plain = parse_job_name("plain-name").unwrap();
        assert_eq!(
            (plain.name.as_str(), plain.range.is_array()),
            ("plain-name", false)
        );
        for bad in [
            "a[0-3]", "a[3-1]", "a[1-4:0]", "a[1-4]%0", "a[1-4]x", "a[]", "a[1,,2]", "a[x]",
        ] {
            assert!(parse_job_name(bad).is_err(), "{bad}");
        }
        assert!(parse_job_name("a[1-200000,300000]").is_err());
    }
}
