//! `llb.hosts`: the batch hosts with their resources, token pools and
//! host groups.

use crate::sections::{check_header, sections, Section};
use crate::ConfError;

/// A row of the `Host` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchHost {
    pub name: String,
    pub cpus: u32,
    pub mem_mb: u64,
    pub storage_mb: u64,
    /// Only set when both GPU columns are given.
    pub gpu_model: Option<String>,
    pub gpu_ids: Vec<u32>,
    /// GPU_IDS as written, for display (`-` when none).
    pub gpu_ids_text: String,
    /// LSF's `MXJ` column: job slots on the host (`!`: its CPUs; `-`:
    /// unlimited).
    pub max_slots: Option<u32>,
    /// LSF's `JL/U` column: job slots one user may use on the host.
    pub user_slots: Option<u32>,
}

/// A `TokenPool` row: a named count of licences or similar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPool {
    pub name: String,
    pub available: u32,
}

/// A `HostGroup` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostGroup {
    pub name: String,
    pub members: Vec<String>,
}

/// The parsed file, each list in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchHosts {
    pub hosts: Vec<BatchHost>,
    pub token_pools: Vec<TokenPool>,
    pub groups: Vec<HostGroup>,
}

const HOST_HEADER: [&str; 6] = ["HOST_NAME", "CPU", "MEM", "STORAGE", "GPU_MODEL", "GPU_IDS"];
const POOL_HEADER: [&str; 2] = ["POOL_NAME", "AVAILABLE"];

impl BatchHosts {
    /// Parses llb.hosts. Sections are matched by their whole name, so a
    /// `HostGroup` section may come before `Host` (LavaLite's prefix match
    /// required the opposite); group members are checked after all hosts.
    pub fn parse(text: &str) -> Result<BatchHosts, ConfError> {
        let mut file = BatchHosts::default();
        let mut seen_host = false;
        let mut group_sections = Vec::new();
        for section in sections(text)? {
            if !["Host", "TokenPool", "HostGroup", "Sim"]
                .iter()
                .any(|k| section.is(k))
            {
                return Err(ConfError::syntax(
                    section.line,
                    format!("unknown section {:?}", section.keyword),
                ));
            }
            section.require_matching_end()?;
            if section.is("Host") {
                seen_host = true;
                let host_rows = rows(&section, &HOST_HEADER)?;
                let extra = extra_columns(&section);
                file.hosts = host_rows
                    .map(|(no, cols)| {
                        parse_host(&cols, &extra).map_err(|r| ConfError::syntax(no, r))
                    })
                    .collect::<Result<_, _>>()?;
            } else if section.is("TokenPool") {
                file.token_pools = rows(&section, &POOL_HEADER)?
                    .map(|(no, cols)| parse_pool(&cols).map_err(|r| ConfError::syntax(no, r)))
                    .collect::<Result<_, _>>()?;
            } else if section.is("HostGroup") {
                group_sections.push(section);
            }
            // Sim rows are for LavaLite's simulator; a local cluster here
            // simulates hosts with loopback addresses instead.
        }
        if !seen_host {
            return Err(ConfError::syntax(1, "no Host section"));
        }
        for section in group_sections {
            // The header line is not checked, as in LavaLite.
            for &(no, line) in section.body.iter().skip(1) {
                let group = parse_group(line).map_err(|r| ConfError::syntax(no, r))?;
                if let Some(m) = group.members.iter().find(|m| file.host(m).is_none()) {
                    return Err(ConfError::syntax(
                        no,
                        format!("group {}: {m} is not a Host", group.name),
                    ));
                }
                file.groups.push(group);
            }
        }
        Ok(file)
    }

    pub fn host(&self, name: &str) -> Option<&BatchHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&HostGroup> {
        self.groups.iter().find(|g| g.name == name)
    }
}

/// The data rows of a section after its checked header, split in columns.
fn rows<'a>(
    section: &'a Section<'a>,
    header: &[&str],
) -> Result<impl Iterator<Item = (usize, Vec<&'a str>)> + 'a, ConfError> {
    let first = section.body.first().copied().ok_or_else(|| {
        ConfError::syntax(
            section.line,
            format!("section {} is empty", section.keyword),
        )
    })?;
    check_header(first, header)?;
    Ok(section.body[1..]
        .iter()
        .map(|&(no, l)| (no, l.split_ascii_whitespace().collect())))
}

fn column<'a>(cols: &[&'a str], i: usize, name: &str) -> Result<&'a str, String> {
    cols.get(i)
        .copied()
        .ok_or_else(|| format!("missing {name} column"))
}

/// Columns LSF's Host section has that LavaLite's six lack, after them
/// in any order: `MXJ`, `JL/U`. Other extra columns are ignored, as
/// LavaLite ignores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Extra {
    MaxSlots,
    UserSlots,
}

fn extra_columns(section: &Section<'_>) -> Vec<(usize, Extra)> {
    let Some(&(_, header)) = section.body.first() else {
        return Vec::new();
    };
    (header
        .split_ascii_whitespace()
        .enumerate()
        .skip(HOST_HEADER.len()))
    .filter_map(|(i, name)| match name.to_ascii_uppercase().as_str() {
        "MXJ" => Some((i, Extra::MaxSlots)),
        "JL/U" => Some((i, Extra::UserSlots)),
        _ => None,
    })
    .collect()
}

/// An `MXJ`/`JL/U` value: `-` unlimited, `!` the host's CPUs (MXJ), or
/// a count.
fn slots(text: Option<&str>, cpus: u32, what: &str, name: &str) -> Result<Option<u32>, String> {
    match text {
        None | Some("-") | Some("()") => Ok(None),
        Some("!") if what == "MXJ" => Ok(Some(cpus)),
        Some(n) => (n.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "host {name}: {what} {n:?} is not a positive count (bhosts -c closes a host)"
                )
            }),
    }
}

fn parse_host(cols: &[&str], extra: &[(usize, Extra)]) -> Result<BatchHost, String> {
    let name = column(cols, 0, "HOST_NAME")?;
    let cpus = column(cols, 1, "CPU")?
        .parse::<u32>()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| format!("host {name}: CPU must be a positive integer"))?;
    let size = |i, what| {
        parse_size_mb(column(cols, i, what)?)
            .ok_or_else(|| format!("host {name}: bad {what} {:?}", cols[i]))
    };
    let mem_mb = size(2, "MEM")?;
    let storage_mb = size(3, "STORAGE")?;
    let model = cols.get(4).copied().filter(|m| *m != "-");
    let ids_text = cols.get(5).copied().filter(|m| *m != "-");
    let (gpu_model, gpu_ids) = match (model, ids_text) {
        (Some(model), Some(ids)) => (
            Some(model.to_owned()),
            parse_id_list(ids).ok_or_else(|| format!("host {name}: bad GPU_IDS {ids:?}"))?,
        ),
        _ => (None, Vec::new()),
    };
    let extra_value = |kind: Extra| {
        (extra.iter())
            .find(|(_, k)| *k == kind)
            .and_then(|(i, _)| cols.get(*i).copied())
    };
    Ok(BatchHost {
        name: name.to_owned(),
        cpus,
        mem_mb,
        storage_mb,
        gpu_model,
        gpu_ids,
        gpu_ids_text: ids_text.unwrap_or("-").to_owned(),
        max_slots: slots(extra_value(Extra::MaxSlots), cpus, "MXJ", name)?,
        user_slots: slots(extra_value(Extra::UserSlots), cpus, "JL/U", name)?,
    })
}

/// `<digits>[M|G|T]` (case-insensitive) in MB; zero is refused.
pub fn parse_size_mb(text: &str) -> Option<u64> {
    let (digits, scale) = match text.char_indices().last()? {
        (i, 'm' | 'M') => (&text[..i], 1),
        (i, 'g' | 'G') => (&text[..i], 1024),
        (i, 't' | 'T') => (&text[..i], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(scale)
        .filter(|mb| *mb > 0)
}

/// `0,1`, `0-3`, `0-1,4`: ids in the order written, ranges expanded.
fn parse_id_list(text: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (lo.parse::<u32>().ok()?, hi.parse::<u32>().ok()?);
                if lo > hi || hi - lo > 4096 {
                    return None;
                }
                ids.extend(lo..=hi);
            }
            None => ids.push(part.parse().ok()?),
        }
    }
    Some(ids)
}

fn parse_pool(cols: &[&str]) -> Result<TokenPool, String> {
    let name = column(cols, 0, "POOL_NAME")?;
    let available = column(cols, 1, "AVAILABLE")?
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("pool {name}: AVAILABLE must be a positive integer"))?;
    Ok(TokenPool {
        name: name.to_owned(),
        available,
    })
}

fn parse_group(line: &str) -> Result<HostGroup, String> {
    let (name, rest) = line
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or_else(|| format!("group line {line:?} needs `<group> (<host> ...)`"))?;
    let members = rest
        .trim_ascii()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("group {name}: members must be in parentheses"))?;
    Ok(HostGroup {
        name: name.to_owned(),
        members: members
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
Begin HostGroup
GROUP_NAME  GROUP_MEMBER
gpus        (gpu01)
End HostGroup
Begin Host
HOST_NAME  CPU  MEM   STORAGE  GPU_MODEL  GPU_IDS  EXTRA
cpu01      32   192G  2T       -          -
gpu01      48   512g  4096     H100       0-1,4
End Host
Begin TokenPool
POOL_NAME  AVAILABLE
ansys      8
End TokenPool
";

    #[test]
    fn parses_hosts_pools_and_groups_in_any_order() {
        let f = BatchHosts::parse(EXAMPLE).unwrap();
        let cpu = f.host("cpu01").unwrap();
        assert_eq!(
            (cpu.cpus, cpu.mem_mb, cpu.storage_mb),
            (32, 192 * 1024, 2 * 1024 * 1024)
        );
        assert_eq!(
            (cpu.gpu_model.as_deref(), cpu.gpu_ids_text.as_str()),
            (None, "-")
        );
        let gpu = f.host("gpu01").unwrap();
        assert_eq!(
            (gpu.gpu_model.as_deref(), gpu.gpu_ids.as_slice()),
            (Some("H100"), &[0, 1, 4][..])
        );
        assert_eq!(gpu.storage_mb, 4096);
        assert_eq!(
            f.token_pools,
            [TokenPool {
                name: "ansys".into(),
                available: 8
            }]
        );
        assert_eq!(f.group("gpus").unwrap().members, ["gpu01"]);
    }

    #[test]
    fn lsfs_mxj_and_jl_u_columns_follow_lavalites_six() {
        let text = "Begin Host\n\
            HOST_NAME CPU MEM STORAGE GPU_MODEL GPU_IDS JL/U MXJ\n\
            a 8 1G 1G - - 2 !\n\
            b 4 1G 1G - - - 3\n\
            c 4 1G 1G - -\n\
            End Host\n";
        let f = BatchHosts::parse(text).unwrap();
        let limits: Vec<_> = f
            .hosts
            .iter()
            .map(|h| (h.max_slots, h.user_slots))
            .collect();
        assert_eq!(limits, [(Some(8), Some(2)), (Some(3), None), (None, None)]);
        let other = BatchHosts::parse(&text.replace("JL/U MXJ", "JL/U FOO")).unwrap();
        assert_eq!(
            other.hosts[0].max_slots, None,
            "an unknown column is ignored"
        );
        assert!(BatchHosts::parse(&text.replace("- 3", "- x")).is_err());
    }

    #[test]
    fn sizes_follow_lavalite() {
        assert_eq!(parse_size_mb("512"), Some(512));
        assert_eq!(parse_size_mb("2t"), Some(2 << 20));
        for bad in ["0", "0G", "", "G", "1.5G", "10K", "-1", "12GB"] {
            assert_eq!(parse_size_mb(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_say_file_line_and_what() {
        let cases = [
            (
                EXAMPLE.replace("STORAGE  GPU_MODEL", "DISK GPU_MODEL"),
                "line 6: header",
            ),
            (
                EXAMPLE.replace("cpu01      32", "cpu01      x"),
                "line 7: host cpu01: CPU",
            ),
            (EXAMPLE.replace("192G", "0G"), "line 7: host cpu01: bad MEM"),
            (
                EXAMPLE.replace("0-1,4", "3-1"),
                "line 8: host gpu01: bad GPU_IDS",
            ),
            (
                EXAMPLE.replace("(gpu01)", "(gpu99)"),
                "line 3: group gpus: gpu99 is not a Host",
            ),
            (
                EXAMPLE.replace("ansys      8", "ansys 0"),
                "line 12: pool ansys",
            ),
            (
                EXAMPLE.replace("End Host\n", "End Hosts\n"),
                "line 5: section Host must end",
            ),
            (
                EXAMPLE.replace("Begin TokenPool", "Begin Pools"),
                "unknown section",
            ),
        ];
        for (text, want) in cases {
            let err = BatchHosts::parse(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
        assert!(BatchHosts::parse("")
            .unwrap_err()
            .to_string()
            .contains("no Host section"));
    }
}
