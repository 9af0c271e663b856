//! Floor 0: what every other module may use. The one error type and the stop signal, the one
//! way to wait, progress on stderr, the tool's own files, sizes and durations, this machine, and
//! the one HTTP client.

pub mod error;
pub mod http;
pub mod poll;
pub mod reporter;
pub mod state;
pub mod sys;
pub mod units;
