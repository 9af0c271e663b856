//! One file per subcommand; each `run` returns the process exit status. Commands never use one
//! another: what two of them share lives on a floor below (ARCHITECTURE.md).

pub mod build;
pub mod compose;
pub mod config;
pub mod doctor;
pub mod hub;
pub mod jupyter;
pub mod logs;
pub mod open;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod run;
pub mod stop;
pub mod url;
pub mod variants;
