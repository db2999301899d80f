//! LavaLite's time formats: `Aug 08 12:46` in listings, and the
//! `[[month:]day:]hour:minute` of `--begin`/`--terminate`.

use os::time::{local, to_unix, LocalTime};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `%b %d %H:%M` (with `:%S` if `seconds`), local time; `-` for 0.
pub fn format_time(unix: u64, seconds: bool) -> String {
    if unix == 0 {
        return "-".into();
    }
    let Some(t) = local(unix as i64) else {
        return "-".into();
    };
    let month = MONTHS[(t.month.clamp(1, 12) - 1) as usize];
    let mut out = format!("{month} {:02} {:02}:{:02}", t.day, t.hour, t.minute);
    if seconds {
        out.push_str(&format!(":{:02}", t.second));
    }
    out
}

/// [`format_time`] down a long listing: rows mostly share their minute,
/// so the last text is reused instead of converting every row's time.
#[derive(Debug)]
pub struct TimeColumn {
    seconds: bool,
    last: Option<(u64, String)>,
}

impl TimeColumn {
    pub fn new(seconds: bool) -> TimeColumn {
        TimeColumn {
            seconds,
            last: None,
        }
    }

    pub fn text(&mut self, unix: u64) -> String {
        // Time zones are whole minutes away from UTC, so a Unix minute is
        // a local one.
        let key = if self.seconds { unix } else { unix / 60 };
        match &self.last {
            Some((last, text)) if *last == key => text.clone(),
            _ => {
                let text = format_time(unix, self.seconds);
                self.last = Some((key, text.clone()));
                text
            }
        }
    }
}

/// `[[month:]day:]hour:minute` as the next such local time after `now`:
/// out-of-range values are normalised like mktime; a time not in the
/// future rolls forward by a day, month or year (the largest unit not
/// given). `None` if the text is not 2-4 colon-separated numbers.
pub fn parse_time(text: &str, now: u64) -> Option<u64> {
    let parts: Vec<i32> = text
        .split(':')
        .map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<i32>().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    if !(2..=4).contains(&parts.len()) {
        return None;
    }
    let today = local(now as i64)?;
    let mut t = LocalTime { second: 0, ..today };
    let n = parts.len();
    t.minute = parts[n - 1];
    t.hour = parts[n - 2];
    if n >= 3 {
        t.day = parts[n - 3];
    }
    if n == 4 {
        t.month = parts[0];
    }
    let mut at = to_unix(t)?;
    if at <= now as i64 {
        match n {
            2 => t.day += 1,
            3 => t.month += 1,
            _ => t.year += 1,
        }
        at = to_unix(t)?;
    }
    u64::try_from(at).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_minute_is_the_next_such_time() {
        let now = to_unix(LocalTime {
            year: 2026,
            month: 8,
            day: 8,
            hour: 12,
            minute: 30,
            second: 5,
        })
        .unwrap() as u64;
        let at = |text| parse_time(text, now).and_then(|t| local(t as i64));
        let t = at("13:00").unwrap();
        assert_eq!((t.day, t.hour, t.minute, t.second), (8, 13, 0, 0));
        let t = at("12:00").unwrap();
        assert_eq!((t.day, t.hour), (9, 12), "past today: tomorrow");
        let t = at("7:09:00").unwrap();
        assert_eq!((t.month, t.day), (9, 7), "past this month: next month");
        let t = at("1:1:0:0").unwrap();
        assert_eq!((t.year, t.month), (2027, 1));
        let t = at("12:90").unwrap();
        assert_eq!((t.hour, t.minute), (13, 30), "normalised");
        assert_eq!(format_time(now, false), "Aug 08 12:30");
        assert_eq!(format_time(now, true), "Aug 08 12:30:05");
        let mut column = TimeColumn::new(false);
        let texts: Vec<String> = [now, now + 3, now + 60, 0, now]
            .iter()
            .map(|t| column.text(*t))
            .collect();
        assert_eq!(
            texts,
            [
                "Aug 08 12:30",
                "Aug 08 12:30",
                "Aug 08 12:31",
                "-",
                "Aug 08 12:30"
            ]
        );
        let mut column = TimeColumn::new(true);
        assert_eq!(column.text(now), "Aug 08 12:30:05");
        assert_eq!(column.text(now + 1), "Aug 08 12:30:06");
        for bad in ["12", "1:2:3:4:5", "a:b", "12:", "-1:00", "12:00x"] {
            assert_eq!(parse_time(bad, now), None, "{bad}");
        }
    }
}
