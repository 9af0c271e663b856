//! Floor 1: what a launch is made of, before any engine is asked. The image variants and
//! architectures, names and labels, ports and the lab URL, the command line, the settings file,
//! and the project's own files.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod naming;
pub mod ports;
pub mod project;
