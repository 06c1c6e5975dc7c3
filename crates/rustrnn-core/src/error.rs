//! The one error type of the core. Every fallible public function returns [`Result`];
//! the Python binding maps each variant onto one exception class.

use std::fmt;

/// Everything that can go wrong in the core, each with a message that names the
/// argument, what was expected and what was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RnnError {
    /// An argument has the wrong shape (rank or extent).
    Shape(String),
    /// An argument has a valid shape but an invalid value (a length out of range,
    /// an unknown option, a configuration that cannot work).
    Value(String),
    /// A call came in the wrong order (backward before forward, or after an
    /// eval-mode forward).
    State(String),
    /// A size that cannot be allocated (or whose byte count overflows); the
    /// message names the argument and the bytes. Raised before allocating.
    Memory(String),
}

impl RnnError {
    pub fn shape(msg: impl Into<String>) -> Self {
        RnnError::Shape(msg.into())
    }
    pub fn value(msg: impl Into<String>) -> Self {
        RnnError::Value(msg.into())
    }
    pub fn state(msg: impl Into<String>) -> Self {
        RnnError::State(msg.into())
    }
    pub fn memory(msg: impl Into<String>) -> Self {
        RnnError::Memory(msg.into())
    }
    pub fn message(&self) -> &str {
        match self {
            RnnError::Shape(m) | RnnError::Value(m) | RnnError::State(m) | RnnError::Memory(m) => m,
        }
    }
}

impl fmt::Display for RnnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for RnnError {}

pub type Result<T> = std::result::Result<T, RnnError>;

/// Formats a shape the way NumPy prints it: `(3, 5, 4)`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}
