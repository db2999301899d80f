//! Whatever an admin writes into a configuration file, the parsers answer
//! with values or an error naming a line of that file — never a panic.
//! Texts are valid files cut, shuffled and sprinkled with tokens that
//! mean something to the parsers (section keywords, sizes, id ranges,
//! numbers too big for their type).

use conf::{
    check_queue_hosts, parse_queues, parse_size_mb, BatchHosts, ClusterFile, ConfError, LlConf,
};
use proptest::prelude::*;
use std::time::Duration;

const HOSTS: &str = "\
Begin Host
HOST_NAME  CPU  MEM  STORAGE  GPU_MODEL  GPU_IDS
gpu01      48   512G 4T       H100       0-3
cpu01      32   192G 2048     -          -
End Host
Begin TokenPool
POOL_NAME  AVAILABLE
ansys      4
End TokenPool
Begin HostGroup
GROUP_NAME  GROUP_MEMBER
all         (gpu01 cpu01)
End HostGroup
";

const QUEUES: &str = "\
Begin Queue
QUEUE_NAME  = normal
PRIORITY    = 30
HOSTS       = all
USERS       = alice bob
DESCRIPTION = default queue
End Queue
";

const CLUSTER: &str = "\
Begin Cluster
ClusterName
lavalite
End Cluster
Begin ClusterAdmin
Administrators
lavalite
End ClusterAdmin
Begin Host
Hostname  Resources  Master  Address
gpu01     ()         Y       127.0.0.11
cpu01     ()         -
End Host
";

const LL_CONF: &str = "\
LL_CLUSTER_NAME = lavalite
LL_LIM_PORT = 33123
LL_LIM_TICK = 5
LL_AUTH_MAX_AGE = 60
";

const TOKENS: &[&str] = &[
    "Begin",
    "End",
    "Host",
    "HostGroup",
    "TokenPool",
    "Queue",
    "Cluster",
    "ClusterAdmin",
    "HOST_NAME",
    "GROUP_NAME",
    "QUEUE_NAME",
    "HOSTS",
    "LL_LIM_PORT",
    "=",
    "(",
    ")",
    "()",
    "Y",
    "N",
    "-",
    "0",
    "-1",
    "4294967296",
    "99999999999999999999G",
    "1T",
    "0-4096",
    "5-3",
    "0-",
    ",",
    "\t",
    "#",
    "é",
    "\u{0}",
    "  ",
];

/// Lines of the valid files and of tokens, in any order and number.
fn text() -> impl Strategy<Value = String> {
    let valid: Vec<&str> = [HOSTS, QUEUES, CLUSTER, LL_CONF]
        .iter()
        .flat_map(|t| t.lines())
        .collect();
    let token_line =
        prop::collection::vec(prop::sample::select(TOKENS), 0..8).prop_map(|t| t.join(" "));
    let line = prop_oneof![
        prop::sample::select(valid).prop_map(str::to_owned),
        token_line
    ];
    prop::collection::vec(line, 0..40).prop_map(|lines| lines.join("\n"))
}

/// A valid file with a few of its lines dropped, cut short, or one of
/// their words replaced by a token.
fn mutated(valid: &'static str) -> impl Strategy<Value = String> {
    let n = valid.lines().count();
    let change = (0..n, 0usize..3, prop::sample::select(TOKENS), 0usize..80);
    prop::collection::vec(change, 1..4).prop_map(move |changes| {
        let mut lines: Vec<Option<String>> = valid.lines().map(|l| Some(l.to_owned())).collect();
        for (at, how, token, cut) in changes {
            let Some(line) = lines[at].take() else {
                continue;
            };
            lines[at] = match how {
                0 => None,
                1 => Some(line.chars().take(cut).collect()),
                _ => {
                    let mut words: Vec<&str> = line.split_whitespace().collect();
                    let pick = cut % words.len().max(1);
                    if let Some(w) = words.get_mut(pick) {
                        *w = token;
                    }
                    Some(words.join("  "))
                }
            };
        }
        lines.into_iter().flatten().collect::<Vec<_>>().join("\n")
    })
}

/// An error names a line of the text (or the one after its last, for a
/// section left open) and says something.
fn names_a_line(text: &str, e: &ConfError) -> Result<(), TestCaseError> {
    if let ConfError::Syntax { line, .. } = e {
        prop_assert!(
            *line >= 1 && *line <= text.lines().count() + 1,
            "line {line}: {e}"
        );
    }
    prop_assert!(!e.to_string().is_empty());
    Ok(())
}

fn every_parser(text: &str) -> Result<(), TestCaseError> {
    let hosts = BatchHosts::parse(text);
    if let Err(e) = &hosts {
        names_a_line(text, e)?;
    }
    match (parse_queues(text), &hosts) {
        (Ok(queues), Ok(hosts)) => {
            if let Err(e) = check_queue_hosts(&queues, hosts) {
                names_a_line(text, &e)?;
            }
        }
        (Ok(_), Err(_)) => {}
        (Err(e), _) => names_a_line(text, &e)?,
    }
    if let Err(e) = ClusterFile::parse(text) {
        names_a_line(text, &e)?;
    }
    let conf = LlConf::parse(text);
    let _ = conf.port("LL_LIM_PORT", 1);
    let _ = conf.seconds("LL_LIM_TICK", Duration::from_secs(5));
    let _ = conf.auth_max_age();
    for word in text.split_whitespace() {
        let _ = parse_size_mb(word);
    }
    Ok(())
}

proptest! {
    // Cheap (a few µs a case), and the interesting texts are rare.
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn any_text_is_parsed_or_refused_with_its_line(text in text()) {
        every_parser(&text)?;
    }

    #[test]
    fn a_broken_line_of_a_valid_file_is_parsed_or_refused_with_its_line(
        text in prop_oneof![mutated(HOSTS), mutated(QUEUES), mutated(CLUSTER), mutated(LL_CONF)]
    ) {
        every_parser(&text)?;
    }
}

#[test]
fn the_valid_files_parse() {
    let hosts = BatchHosts::parse(HOSTS).expect("llb.hosts");
    let queues = parse_queues(QUEUES).expect("llb.queues");
    check_queue_hosts(&queues, &hosts).expect("queue hosts");
    ClusterFile::parse(CLUSTER).expect("cluster file");
    let conf = LlConf::parse(LL_CONF);
    assert_eq!(conf.port("LL_LIM_PORT", 1).ok(), Some(33123));
}
