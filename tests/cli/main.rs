//! The CLI as users run it, one test binary (`cli`) in modules by area. The transcripts need
//! nothing and always run; every other area runs against the real Docker engine, which
//! tests/run.sh prepares (images, the GPU stub engine, the other engines, the ssh workstation,
//! the registry, the Python test tools). Where no engine answers (`docker info`), a plain
//! `cargo test` skips those areas and says so, once per area; with DTU_REQUIRE_ENGINE=1 (as
//! tests/run.sh sets it) a missing engine fails them instead.

// First: its engine_test! macro is used by the modules below.
#[macro_use]
mod support;
mod builds;
mod compose;
mod engines;
mod faults;
mod gpu;
mod hub;
mod lab;
mod layers;
mod platforms;
mod project;
mod registry;
mod resources;
mod slurm;
mod ssh;
mod transcripts;
