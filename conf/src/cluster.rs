//! `ll.cluster.<name>`: the cluster's name, its admin and its hosts in
//! precedence order.

use crate::sections::sections;
use crate::ConfError;
use std::collections::HashSet;
use std::net::IpAddr;

/// One line of the `Host` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub name: String,
    /// The text between the parentheses (kept, unused, as in LavaLite).
    pub resources: String,
    /// `Y`: may be elected master.
    pub candidate: bool,
    /// Our extension, an optional fourth column: the address this host's
    /// daemons use. Needed when several simulated hosts share a machine;
    /// without it the name is resolved.
    pub addr: Option<IpAddr>,
}

/// The parsed cluster file. `hosts` is in file order, which is the
/// election precedence (first = highest); duplicates are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFile {
    pub name: String,
    pub admin: Option<String>,
    pub hosts: Vec<HostEntry>,
}

impl ClusterFile {
    pub fn parse(text: &str) -> Result<ClusterFile, ConfError> {
        let mut file = ClusterFile {
            name: String::new(),
            admin: None,
            hosts: Vec::new(),
        };
        for section in sections(text)? {
            let (no, body) = (section.line, &section.body);
            match section.keyword.to_ascii_lowercase().as_str() {
                "cluster" => file.name = single_value(no, body, "ClusterName")?,
                "clusteradmin" => file.admin = Some(single_value(no, body, "Administrators")?),
                "host" => file.hosts = parse_hosts(no, body)?,
                _ => {
                    return Err(ConfError::syntax(
                        no,
                        format!("unknown section {:?}", section.keyword),
                    ))
                }
            }
        }
        if file.name.is_empty() {
            return Err(ConfError::syntax(
                1,
                "no Cluster section naming the cluster",
            ));
        }
        if file.hosts.is_empty() {
            return Err(ConfError::syntax(1, "no hosts in a Host section"));
        }
        Ok(file)
    }

    /// Position of `name` in the host list (its `host_no`).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }
}

/// A section holding a header word then one value (the last one wins).
fn single_value(no: usize, body: &[(usize, &str)], header: &str) -> Result<String, ConfError> {
    match body {
        [(_, h), values @ ..] if h.eq_ignore_ascii_case(header) => values
            .last()
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| ConfError::syntax(no, format!("no value after {header}"))),
        _ => Err(ConfError::syntax(
            no,
            format!("section must start with {header}"),
        )),
    }
}

fn parse_hosts(no: usize, body: &[(usize, &str)]) -> Result<Vec<HostEntry>, ConfError> {
    let Some(((_, header), rows)) = body.split_first() else {
        return Err(ConfError::syntax(no, "empty Host section"));
    };
    if !header.starts_with("Hostname") {
        return Err(ConfError::syntax(
            no + 1,
            "Host section must start with `Hostname Resources Master`",
        ));
    }
    let mut hosts: Vec<HostEntry> = Vec::with_capacity(rows.len());
    // A set, not a scan of `hosts`: 10,000 hosts made that 50M compares.
    let mut seen = HashSet::with_capacity(rows.len());
    for &(line_no, line) in rows {
        let host = parse_host(line).map_err(|reason| ConfError::syntax(line_no, reason))?;
        if seen.insert(host.name) {
            hosts.push(HostEntry {
                name: host.name.to_owned(),
                resources: host.resources.to_owned(),
                candidate: host.candidate,
                addr: host.addr,
            });
        }
    }
    Ok(hosts)
}

/// A host line's fields, borrowed from the file's text.
struct HostLine<'a> {
    name: &'a str,
    resources: &'a str,
    candidate: bool,
    addr: Option<IpAddr>,
}

fn parse_host(line: &str) -> Result<HostLine<'_>, String> {
    let (name, rest) = line
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or_else(|| format!("host line {line:?} needs `<name> (<resources>) <Y|->`"))?;
    let rest = rest.trim_ascii_start();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .ok_or_else(|| format!("host {name}: resources must be in parentheses"))?;
    let (resources, tail) = inner;
    let mut words = tail.split_ascii_whitespace();
    let candidate = match words.next() {
        Some("Y" | "y") => true,
        Some("-") => false,
        other => {
            return Err(format!(
                "host {name}: master flag must be Y or -, got {other:?}"
            ))
        }
    };
    let addr = words
        .next()
        .map(|a| {
            a.parse::<IpAddr>()
                .map_err(|_| format!("host {name}: bad address {a:?}"))
        })
        .transpose()?;
    if let Some(extra) = words.next() {
        return Err(format!(
            "host {name}: unexpected {extra:?} after the address"
        ));
    }
    Ok(HostLine {
        name,
        resources: resources.trim_ascii(),
        candidate,
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
Begin Cluster
ClusterName
alpha
End Cluster
Begin ClusterAdmin
Administrators
llsched
End ClusterAdmin
# precedence is file order
Begin Host
Hostname  Resources  Master
head01    (cs)       Y
node07    ()         -
node07    (dup)      Y
sim3      ( a b )    y   127.0.0.13
End Host
";

    #[test]
    fn parses_lavalites_layout_and_the_address_column() {
        let f = ClusterFile::parse(EXAMPLE).unwrap();
        assert_eq!(f.name, "alpha");
        assert_eq!(f.admin.as_deref(), Some("llsched"));
        let names: Vec<_> = f.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["head01", "node07", "sim3"]);
        assert!(f.hosts[0].candidate && !f.hosts[1].candidate && f.hosts[2].candidate);
        assert_eq!(f.hosts[0].resources, "cs");
        assert_eq!(f.hosts[2].addr, Some("127.0.0.13".parse().unwrap()));
        assert_eq!(f.hosts[0].addr, None);
        assert_eq!(f.position("sim3"), Some(2));
    }

    #[test]
    fn words_are_split_at_ascii_whitespace_only_as_in_lavalite() {
        let text = "Begin Cluster\nClusterName\nc\nEnd Cluster\nBegin Host\n\
                    Hostname Resources Master\n\tnode\u{a0}1\t()\tY \r\nEnd Host\n";
        let f = ClusterFile::parse(text).unwrap();
        assert_eq!(f.hosts[0].name, "node\u{a0}1");
        assert!(f.hosts[0].candidate);
    }

    #[test]
    fn errors_name_the_line() {
        let bad_flag = EXAMPLE.replace("node07    ()         -", "node07 () X");
        let err = ClusterFile::parse(&bad_flag).unwrap_err().to_string();
        assert!(
            err.starts_with("line 13:") && err.contains("Y or -"),
            "{err}"
        );
        let no_parens = EXAMPLE.replace("(cs)", "cs");
        assert!(ClusterFile::parse(&no_parens)
            .unwrap_err()
            .to_string()
            .contains("parentheses"));
        let unknown = format!("{EXAMPLE}Begin Nonsense\nEnd\n");
        assert!(ClusterFile::parse(&unknown)
            .unwrap_err()
            .to_string()
            .contains("unknown section"));
        let unterminated = "Begin Cluster\nClusterName\nalpha\n";
        assert!(ClusterFile::parse(unterminated)
            .unwrap_err()
            .to_string()
            .contains("no End"));
        let bad_addr = EXAMPLE.replace("127.0.0.13", "nowhere");
        assert!(ClusterFile::parse(&bad_addr)
            .unwrap_err()
            .to_string()
            .contains("bad address"));
    }
}
