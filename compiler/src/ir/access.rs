//! Filesystem access rights and sets of them.

use serde::{Serialize, Serializer};

/// One filesystem access right of the policy language. The type is the artifact's
/// [`Right`](nonoc_runtime::artifact::Right): one list of rights, in one order, for the
/// compiler and the runtime.
pub use nonoc_runtime::artifact::Right;

/// A set of access rights. Serializes as a sorted list of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AccessSet(u16);

impl AccessSet {
    pub const EMPTY: AccessSet = AccessSet(0);
    pub const ALL: AccessSet = AccessSet(u16::MAX);
    pub const READ: AccessSet = AccessSet(Right::ReadFile.bit() | Right::ReadDir.bit());
    pub const WRITE: AccessSet = AccessSet(
        Right::WriteFile.bit()
            | Right::Truncate.bit()
            | Right::MakeReg.bit()
            | Right::MakeDir.bit()
            | Right::MakeSym.bit()
            | Right::MakeSock.bit()
            | Right::MakeFifo.bit()
            | Right::RemoveFile.bit()
            | Right::RemoveDir.bit()
            | Right::Refer.bit(),
    );
    pub const EXECUTE: AccessSet = AccessSet(Right::Execute.bit());

    /// A group name (`read`, `write`, `execute`) or a single right.
    pub fn from_name(name: &str) -> Option<AccessSet> {
        match name {
            "read" => Some(Self::READ),
            "write" => Some(Self::WRITE),
            "execute" => Some(Self::EXECUTE),
            _ => Right::from_name(name).map(AccessSet::from),
        }
    }

    pub fn contains(self, access: Right) -> bool {
        self.0 & access.bit() != 0
    }

    pub fn union(self, other: AccessSet) -> AccessSet {
        AccessSet(self.0 | other.0)
    }

    pub fn intersection(self, other: AccessSet) -> AccessSet {
        AccessSet(self.0 & other.0)
    }

    pub fn difference(self, other: AccessSet) -> AccessSet {
        AccessSet(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_superset(self, other: AccessSet) -> bool {
        other.0 & !self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Right> {
        Right::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// Names, with whole groups shortened (`read`, `write`, `all`).
    pub fn describe(self) -> String {
        if self == Self::ALL {
            return "all access".to_owned();
        }
        let mut parts = Vec::new();
        let mut rest = self;
        for (group, name) in [(Self::READ, "read"), (Self::WRITE, "write")] {
            if rest.is_superset(group) {
                parts.push(name.to_owned());
                rest = rest.difference(group);
            }
        }
        parts.extend(rest.iter().map(|a| a.name().to_owned()));
        parts.join(", ")
    }
}

impl From<Right> for AccessSet {
    fn from(access: Right) -> Self {
        AccessSet(access.bit())
    }
}

impl FromIterator<Right> for AccessSet {
    fn from_iter<I: IntoIterator<Item = Right>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AccessSet::EMPTY, |s, a| s.union(a.into()))
    }
}

impl Serialize for AccessSet {
    /// Whole groups by their names (`all`, `read`, `write`), then single rights.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if *self == AccessSet::ALL {
            return serializer.collect_seq(["all"]);
        }
        let mut names = Vec::new();
        let mut rest = *self;
        for (group, name) in [(Self::READ, "read"), (Self::WRITE, "write")] {
            if rest.is_superset(group) {
                names.push(name);
                rest = rest.difference(group);
            }
        }
        names.extend(rest.iter().map(Right::name));
        serializer.collect_seq(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_as_the_language_defines() {
        assert_eq!(AccessSet::READ.iter().count(), 2);
        assert_eq!(AccessSet::WRITE.iter().count(), 10);
        assert!(!AccessSet::WRITE.contains(Right::ReadFile));
        assert!(!AccessSet::READ.contains(Right::Execute));
        assert!(!AccessSet::WRITE.contains(Right::MakeChar));
        assert_eq!(AccessSet::ALL.iter().count(), Right::ALL.len());
        for a in Right::ALL {
            assert_eq!(Right::from_name(a.name()), Some(a));
        }
    }
}
