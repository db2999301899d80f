//! Local time, in the system's time zone (`TZ`, else /etc/localtime),
//! through `jiff`.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// A local date and time as a person reads it (month 1-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: i32,
    pub day: i32,
    pub hour: i32,
    pub minute: i32,
    pub second: i32,
}

/// The local time of `unix` seconds; `None` outside jiff's range (years
/// -9999 to 9999).
pub fn local(unix: i64) -> Option<LocalTime> {
    let zoned = Timestamp::from_second(unix)
        .ok()?
        .to_zoned(TimeZone::system());
    Some(LocalTime {
        year: zoned.year().into(),
        month: zoned.month().into(),
        day: zoned.day().into(),
        hour: zoned.hour().into(),
        minute: zoned.minute().into(),
        second: zoned.second().into(),
    })
}

/// The Unix seconds of local time `t`. Fields out of range are carried
/// over as C's mktime does (minute 90 is the next hour's 30th, day 32 of
/// a 31-day month the next month's 1st); a local time that a clock change
/// skips or repeats is taken as the clock before the change reads it.
/// `None` outside jiff's range.
pub fn to_unix(t: LocalTime) -> Option<i64> {
    let year = i16::try_from(t.year).ok()?;
    let start = DateTime::from(Date::new(year, 1, 1).ok()?);
    let offset = Span::new()
        .try_months(i64::from(t.month) - 1)
        .ok()?
        .try_days(i64::from(t.day) - 1)
        .ok()?
        .try_hours(i64::from(t.hour))
        .ok()?
        .try_minutes(i64::from(t.minute))
        .ok()?
        .try_seconds(i64::from(t.second))
        .ok()?;
    let local = start.checked_add(offset).ok()?;
    Some(
        local
            .to_zoned(TimeZone::system())
            .ok()?
            .timestamp()
            .as_second(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i32, month: i32, day: i32, hour: i32, minute: i32) -> LocalTime {
        LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            second: 0,
        }
    }

    #[test]
    fn a_local_time_round_trips_and_overflow_carries_like_mktime() {
        let t = at(2026, 8, 8, 12, 30);
        let unix = to_unix(t).unwrap();
        assert_eq!(local(unix), Some(t));
        let carried = |t| local(to_unix(t).unwrap()).unwrap();
        assert_eq!(carried(at(2026, 8, 8, 12, 90)), at(2026, 8, 8, 13, 30));
        assert_eq!(carried(at(2026, 8, 32, 0, 0)), at(2026, 9, 1, 0, 0));
        assert_eq!(carried(at(2026, 13, 1, 0, 0)), at(2027, 1, 1, 0, 0));
        assert_eq!(
            carried(at(2026, 1, 31, 0, 0)).month,
            1,
            "no clamping into February"
        );
        assert_eq!(local(i64::MAX), None);
    }
}
