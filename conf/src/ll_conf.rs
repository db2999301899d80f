//! `ll.conf`: `KEY = value` lines, read as LavaLite reads them.

use crate::ConfError;
use std::collections::HashMap;
use std::time::Duration;

/// The key/value pairs of `ll.conf`.
///
/// Lines are trimmed; blank lines, `#` lines and lines without `=` are
/// skipped; key and value are the trimmed text around the first `=`. No
/// quote removal or `$VAR` expansion; the last duplicate wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LlConf {
    values: HashMap<String, String>,
}

impl LlConf {
    pub fn parse(text: &str) -> LlConf {
        let values = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim_ascii().to_owned(), v.trim_ascii().to_owned()))
            .collect();
        LlConf { values }
    }

    /// The value of `key`, if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &'static str) -> Result<&str, ConfError> {
        self.get(key).ok_or(ConfError::Missing(key))
    }

    /// A TCP/UDP port (1-65535), or `default` when unset.
    pub fn port(&self, key: &'static str, default: u16) -> Result<u16, ConfError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(key, v, "a port number 1-65535")),
        }
    }

    /// A positive duration in seconds (decimals allowed, e.g. `0.25`), or
    /// `default` when unset.
    pub fn seconds(&self, key: &'static str, default: Duration) -> Result<Duration, ConfError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.001 && *s <= 86_400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| bad(key, v, "seconds between 0.001 and 86400")),
        }
    }

    /// `LSB_MAILPROG` (LSF's key): the program job mail is handed to
    /// (sendmail-compatible: the recipient as its argument, the message
    /// on stdin); `None` when unset or empty: no job mail.
    pub fn mailer(&self) -> Option<&str> {
        self.get("LSB_MAILPROG").filter(|m| !m.is_empty())
    }

    /// `LL_AUTH_MAX_AGE`: whole seconds a signed message's timestamp may
    /// be off the receiver's clock (default 60, as LavaLite).
    pub fn auth_max_age(&self) -> Result<u64, ConfError> {
        const KEY: &str = "LL_AUTH_MAX_AGE";
        match self.get(KEY) {
            None => Ok(proto::auth::DEFAULT_MAX_AGE_SECS),
            Some(v) => (v.parse::<u64>().ok())
                .filter(|s| (1..=86_400).contains(s))
                .ok_or_else(|| bad(KEY, v, "whole seconds between 1 and 86400")),
        }
    }
}

fn bad(key: &'static str, value: &str, expected: &'static str) -> ConfError {
    ConfError::BadValue {
        key,
        value: value.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_max_age_is_whole_seconds_defaulting_to_60() {
        assert_eq!(LlConf::parse("").auth_max_age().ok(), Some(60));
        let ll = LlConf::parse("LL_AUTH_MAX_AGE = 300");
        assert_eq!(ll.auth_max_age().ok(), Some(300));
        for bad in ["0", "-5", "1.5", "x", "86401"] {
            let ll = LlConf::parse(&format!("LL_AUTH_MAX_AGE={bad}"));
            assert!(ll.auth_max_age().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_as_lavalite_does() {
        let conf = LlConf::parse(
            "# comment\n LL_CLUSTER_NAME=alpha\nLL_DEFAULT_QUEUE = short \n\
             no equals here\nLL_X=\"quoted\"\nLL_A=1\nLL_A=2\nLL_URL=a=b\n",
        );
        assert_eq!(conf.get("LL_CLUSTER_NAME"), Some("alpha"));
        assert_eq!(conf.get("LL_DEFAULT_QUEUE"), Some("short"));
        assert_eq!(conf.get("LL_X"), Some("\"quoted\""));
        assert_eq!(conf.get("LL_A"), Some("2"));
        assert_eq!(conf.get("LL_URL"), Some("a=b"));
        assert_eq!(conf.get("no equals here"), None);
    }

    #[test]
    fn typed_values_and_their_errors() {
        let conf = LlConf::parse("P=0\nQ=33123\nT=0.25\nBAD=x\nEMPTY=\n");
        assert_eq!(conf.port("Q", 1).unwrap(), 33123);
        assert_eq!(conf.port("UNSET", 7).unwrap(), 7);
        assert_eq!(conf.port("EMPTY", 7).unwrap(), 7);
        assert!(conf.port("P", 1).is_err());
        assert_eq!(
            conf.seconds("T", Duration::ZERO).unwrap(),
            Duration::from_millis(250)
        );
        let err = conf.seconds("BAD", Duration::ZERO).unwrap_err().to_string();
        assert!(err.contains("BAD") && err.contains("\"x\""), "{err}");
        assert!(matches!(
            conf.require("NOPE"),
            Err(ConfError::Missing("NOPE"))
        ));
    }
}
