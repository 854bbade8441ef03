//! The status line's messages: text with a level.

/// How a status message looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Plain information.
    Info,
    /// Something went wrong.
    Error,
}

/// A status message.
pub type Note = (String, Level);
