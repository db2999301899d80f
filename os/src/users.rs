//! Users from the system's account database (NSS: /etc/passwd or a
//! directory service), and this process's ids.

use nix::unistd::{Gid, Uid, User};

/// One user: name, uid and primary gid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl From<User> for UserEntry {
    fn from(u: User) -> UserEntry {
        UserEntry {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }
    }
}

/// This process's real uid and gid.
pub fn ids() -> (u32, u32) {
    (Uid::current().as_raw(), Gid::current().as_raw())
}

/// This process's effective uid (0: it may act as any user).
pub fn effective_uid() -> u32 {
    Uid::effective().as_raw()
}

/// The user called `name`; `None` if there is none (or the lookup failed).
pub fn by_name(name: &str) -> Option<UserEntry> {
    User::from_name(name).ok().flatten().map(UserEntry::from)
}

/// The user with `uid`; `None` if there is none (or the lookup failed).
pub fn by_uid(uid: u32) -> Option<UserEntry> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(UserEntry::from)
}

/// `uid`'s user name, or the number when it has none.
pub fn name_of(uid: u32) -> String {
    by_uid(uid).map_or_else(|| uid.to_string(), |u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_by_name_and_uid_and_a_stranger_is_a_number() {
        let root = by_name("root").expect("root");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(by_uid(0).map(|u| u.name).as_deref(), Some("root"));
        assert_eq!(name_of(4_000_000_000), "4000000000");
        assert_eq!(ids().0, Uid::current().as_raw());
    }
}
