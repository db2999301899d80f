//! Users and groups by name, from the system's account databases (NSS:
//! /etc/passwd and /etc/group, or a directory service).

/// What a name in a queue's `USERS` stands for on this host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// A user of that name exists.
    pub is_user: bool,
    /// A group of that name exists: its id and the members it lists.
    pub group: Option<(u32, Vec<String>)>,
}

/// Looks `name` up as a user and as a group. A lookup that fails (the
/// directory service is down) counts as not found.
pub fn account(name: &str) -> Account {
    let is_user = matches!(nix::unistd::User::from_name(name), Ok(Some(_)));
    let group = match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Some((g.gid.as_raw(), g.mem)),
        _ => None,
    };
    Account { is_user, group }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_a_user_and_a_group_and_nonsense_is_neither() {
        let root = account("root");
        assert!(root.is_user);
        assert_eq!(root.group.map(|(gid, _)| gid), Some(0));
        assert_eq!(account("no-such-account-x9"), Account::default());
    }
}
