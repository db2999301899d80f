//! `llb.users` (LSF's lsb.users): user groups and how many job slots
//! each user, group or group member may use at once, cluster-wide.
//!
//! ```text
//! Begin UserGroup
//! GROUP_NAME  GROUP_MEMBER
//! physics     (ann bob)
//! science     (physics carl)
//! End UserGroup
//! Begin User
//! USER_NAME  MAX_JOBS
//! ann        10
//! physics    12      # the group's members together
//! science@   4       # each member of the group
//! default    6       # each user named nowhere else
//! End User
//! ```
//! A user's own limit: their own row, else the tightest `group@` row of a
//! group they are in, else `default`. Group rows (without `@`) limit the
//! members together, on top. `-` is unlimited; other columns of LSF's
//! (`JL/P`, `MAX_PEND_JOBS`) are read and ignored.

use crate::sections::{check_header, sections};
use crate::ConfError;
use std::collections::HashMap;

/// The parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserLimits {
    /// Each group's users, nested groups expanded.
    pub groups: HashMap<String, Vec<String>>,
    /// Rows naming one user.
    users: HashMap<String, Option<u32>>,
    /// `group@` rows.
    each_member: Vec<(String, Option<u32>)>,
    /// `group` rows: (group, slots its members use together).
    pub group_totals: Vec<(String, u32)>,
    default: Option<u32>,
}

impl UserLimits {
    pub fn parse(text: &str) -> Result<UserLimits, ConfError> {
        let mut limits = UserLimits::default();
        let mut user_section = None;
        let mut raw_groups: Vec<(String, Vec<String>)> = Vec::new();
        for section in sections(text)? {
            section.require_matching_end()?;
            if section.is("UserGroup") {
                for &(no, line) in section.body.iter().skip(1) {
                    raw_groups.push(parse_group(line).map_err(|r| ConfError::syntax(no, r))?);
                }
            } else if section.is("User") {
                user_section = Some(section);
            } else {
                return Err(ConfError::syntax(
                    section.line,
                    format!("unknown section {:?}", section.keyword),
                ));
            }
        }
        for (name, _) in &raw_groups {
            let members = expand(name, &raw_groups, &mut Vec::new())?;
            limits.groups.insert(name.clone(), members);
        }
        let Some(section) = user_section else {
            return Ok(limits);
        };
        let Some(&header) = section.body.first() else {
            return Ok(limits);
        };
        check_header(header, &["USER_NAME", "MAX_JOBS"])?;
        for &(no, line) in &section.body[1..] {
            let mut cols = line.split_ascii_whitespace();
            let (Some(name), Some(max)) = (cols.next(), cols.next()) else {
                return Err(ConfError::syntax(no, "expected USER_NAME MAX_JOBS"));
            };
            let max = match max {
                "-" => None,
                n => Some((n.parse::<u32>().ok()).ok_or_else(|| {
                    ConfError::syntax(no, format!("{name}: MAX_JOBS {n:?} is not a count"))
                })?),
            };
            let known = |g: &str| {
                limits.groups.contains_key(g).then_some(()).ok_or_else(|| {
                    ConfError::syntax(no, format!("{g} is not a group of the UserGroup section"))
                })
            };
            match name.strip_suffix('@') {
                Some(group) => {
                    known(group)?;
                    limits.each_member.push((group.to_owned(), max));
                }
                None if name == "default" => limits.default = max,
                None if limits.groups.contains_key(name) => {
                    if let Some(max) = max {
                        limits.group_totals.push((name.to_owned(), max));
                    }
                }
                None => {
                    limits.users.insert(name.to_owned(), max);
                }
            }
        }
        Ok(limits)
    }

    /// The slots `user` may use at once, own limit only (`None`:
    /// unlimited).
    /// Whether no user or group has a limit (llb.users absent or empty).
    pub fn is_empty(&self) -> bool {
        self.users.values().all(Option::is_none)
            && self.each_member.iter().all(|(_, max)| max.is_none())
            && self.group_totals.is_empty()
    }

    pub fn own(&self, user: &str) -> Option<u32> {
        if let Some(max) = self.users.get(user) {
            return *max;
        }
        let member_of = |g: &str| {
            self.groups
                .get(g)
                .is_some_and(|m| m.iter().any(|u| u == user))
        };
        let rows: Vec<Option<u32>> = (self.each_member.iter())
            .filter(|(g, _)| member_of(g))
            .map(|(_, max)| *max)
            .collect();
        if rows.is_empty() {
            return self.default;
        }
        rows.into_iter().flatten().min()
    }

    /// The group totals that bind `user`: (group, slots).
    pub fn totals_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        (self.group_totals.iter())
            .filter(move |(g, _)| {
                self.groups
                    .get(g)
                    .is_some_and(|m| m.iter().any(|u| u == user))
            })
            .map(|(g, max)| (g.as_str(), *max))
    }
}

/// `name (member member ...)`.
fn parse_group(line: &str) -> Result<(String, Vec<String>), String> {
    let (name, rest) = line
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("group line {line:?} has no members"))?;
    let rest = rest.trim();
    let inside = (rest.strip_prefix('('))
        .and_then(|r| r.split_once(')'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| format!("group {name}: members must be in parentheses"))?;
    let members = inside.split_ascii_whitespace().map(str::to_owned).collect();
    Ok((name.to_owned(), members))
}

/// `group`'s users, its nested groups expanded; a loop is an error.
fn expand(
    group: &str,
    groups: &[(String, Vec<String>)],
    path: &mut Vec<String>,
) -> Result<Vec<String>, ConfError> {
    if path.iter().any(|g| g == group) {
        return Err(ConfError::Invalid(format!(
            "llb.users: user group {group} contains itself ({} -> {group})",
            path.join(" -> ")
        )));
    }
    path.push(group.to_owned());
    let mut users = Vec::new();
    let members = (groups.iter()).find(|(g, _)| g == group).map(|(_, m)| m);
    for member in members.into_iter().flatten() {
        if groups.iter().any(|(g, _)| g == member) {
            users.extend(expand(member, groups, path)?);
        } else if !users.contains(member) {
            users.push(member.clone());
        }
    }
    path.pop();
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
Begin UserGroup
GROUP_NAME  GROUP_MEMBER
physics     (ann bob)
science     (physics carl)
End UserGroup
Begin User
USER_NAME  MAX_JOBS  JL/P
ann        10        -
physics    12        -
science@   4         -
default    6         -
End User
";

    #[test]
    fn own_limits_come_from_the_user_then_group_at_then_default() {
        let l = UserLimits::parse(EXAMPLE).unwrap();
        assert_eq!(l.groups["science"], ["ann", "bob", "carl"]);
        assert_eq!(
            (l.own("ann"), l.own("bob"), l.own("dora")),
            (Some(10), Some(4), Some(6))
        );
        let totals: Vec<_> = l.totals_of("bob").collect();
        assert_eq!(totals, [("physics", 12)]);
        assert_eq!(l.totals_of("carl").count(), 0);
        assert_eq!(UserLimits::parse("").unwrap().own("x"), None);
    }

    #[test]
    fn mistakes_name_the_line() {
        let looped = EXAMPLE.replace("(ann bob)", "(ann science)");
        assert!(UserLimits::parse(&looped)
            .unwrap_err()
            .to_string()
            .contains("contains itself"));
        let unknown = EXAMPLE.replace("science@", "nosuch@");
        let err = UserLimits::parse(&unknown).unwrap_err().to_string();
        assert!(err.contains("line 10: nosuch is not a group"), "{err}");
        let bad = EXAMPLE.replace("ann        10", "ann        ten");
        assert!(UserLimits::parse(&bad)
            .unwrap_err()
            .to_string()
            .contains("line 8"));
    }
}
