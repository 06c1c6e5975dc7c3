//! One name table per concept (cells, nonlinearities, activations, losses,
//! optimizers, merge modes): the only place a name is turned into a value.
//! Each concept implements [`Names`], its `FromStr` goes through
//! [`Names::from_name`], and `catalog::tables` exports every table to Python, whose
//! own tables the stub test checks against these.

use crate::error::{Result, RnnError};

/// A closed set of values, each known by one or more names.
pub trait Names: Sized + Copy + PartialEq + 'static {
    /// What the names are of, for messages (`activation`).
    const WHAT: &'static str;
    /// Every accepted name and its value; the first name of a value is its
    /// canonical one (what messages list and configs store).
    const TABLE: &'static [(&'static str, Self)];

    /// The canonical name.
    fn name(self) -> &'static str {
        Self::TABLE.iter().find(|(_, v)| *v == self).map(|(n, _)| *n).expect("every value has a name")
    }

    fn from_name(name: &str) -> Result<Self> {
        Self::TABLE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| RnnError::value(format!("{}: expected one of {}, got {name:?}", Self::WHAT, canonical::<Self>().join(", "))))
    }
}

/// The canonical names of `T`, in table order.
pub fn canonical<T: Names>() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (i, (n, v)) in T::TABLE.iter().enumerate() {
        if !T::TABLE[..i].iter().any(|(_, w)| w == v) {
            out.push(n);
        }
    }
    out
}

/// Every accepted name of `T` (aliases included), in table order.
pub fn accepted<T: Names>() -> Vec<&'static str> {
    T::TABLE.iter().map(|(n, _)| *n).collect()
}

/// Implements `FromStr` through the concept's name table.
#[macro_export]
macro_rules! from_str_by_names {
    ($t:ty) => {
        impl std::str::FromStr for $t {
            type Err = $crate::error::RnnError;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                <$t as $crate::names::Names>::from_name(s)
            }
        }
    };
}
