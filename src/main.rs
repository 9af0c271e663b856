//! The binary: everything is in the library (`lib.rs`).

fn main() -> std::process::ExitCode {
    dimtensor_up::main()
}
