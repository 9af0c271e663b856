//! dimtensor-up: one command from a fresh machine to a JupyterLab with dimtensor, on Docker.
//!
//! The library is the whole tool; `main.rs` calls [`main`]. Integration tests use the few
//! helpers re-exported at the bottom instead of copies of them.

// The floors, declared here once (ARCHITECTURE.md explains them; tests/cli/layers.rs reads these
// lines): a file uses only modules on its own floor or below, no two files form a cycle, and
// commands never use one another. Each folder is one floor.
// floor 0
mod base;
// floor 1 (also engine::model)
mod gpu;
mod spec;
// floor 2
mod engine;
// floor 3
mod plan;
// floor 4
mod image;
mod lab;
// floor 5
mod cluster;
// floor 6
mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use spec::cli::{Cli, Command};

/// The whole program: parse, then run one command; `main.rs` only calls this.
pub fn main() -> ExitCode {
    // Output into a closed pipe (`dimtensor-up logs -f | head`) ends the process quietly, as
    // for other command-line tools, instead of a panic in println!.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default action before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Parse purely first: bad flags never touch the system.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if err.use_stderr() => {
            // clap's message, with its closing advice in the tool's `hint:` form.
            let text = err.render().to_string();
            let text = text.replace(
                "\n\nFor more information, try '--help'.",
                "\nhint: for more information, try '--help'",
            );
            eprint!("{text}");
            return ExitCode::from(base::error::Kind::Usage.exit_code());
        }
        Err(err) => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            base::error::Error::new(base::error::Kind::Engine, "cannot start the async runtime")
                .cause(e)
                .print();
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            err.print();
            ExitCode::from(err.kind.exit_code())
        }
    }
}

async fn dispatch(cli: Cli) -> base::error::Result<u8> {
    let global = cli.global;
    match cli.command {
        Command::Jupyter(args) => commands::jupyter::run(&global, args).await,
        Command::Run(args) => commands::run::run(&global, args).await,
        Command::Build(args) => commands::build::run(&global, args).await,
        Command::Pull(args) => commands::pull::run(&global, args).await,
        Command::Compose(args) => commands::compose::run(&global, args).await,
        Command::Hub(args) => commands::hub::run(&global, args).await,
        Command::Ps(args) => commands::ps::run(&global, args).await,
        Command::Open(args) => commands::open::run(&global, args).await,
        Command::Url(args) => commands::url::run(&global, args).await,
        Command::Logs(args) => commands::logs::run(&global, args).await,
        Command::Stop(args) => commands::stop::run(&global, args).await,
        Command::Prune(args) => commands::prune::run(&global, args).await,
        Command::Doctor(args) => commands::doctor::run(&global, args).await,
        Command::Variants(args) => commands::variants::run(&global, args).await,
        Command::Config(args) => commands::config::run(&global, args),
        Command::Completions(args) => {
            clap_complete::generate(args.shell, &mut Cli::command(), "dimtensor-up", &mut std::io::stdout());
            Ok(0)
        }
    }
}

/// The parts of the tool that its integration tests (tests/cli/) use, so they keep no copies.
pub mod for_tests {
    pub use crate::image::CONTEXT_FILES;
    pub use crate::spec::naming::labels;

    /// The command line as clap knows it: every subcommand, for the help transcripts.
    pub fn command() -> clap::Command {
        <crate::spec::cli::Cli as clap::CommandFactory>::command()
    }

    /// `GET path` on 127.0.0.1:`port` with the token, as readiness asks it: the status, or None
    /// when nothing answers.
    pub fn http_status(port: u16, path: &str, token: Option<&str>) -> Option<u16> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        runtime.block_on(crate::lab::ready::http_status("127.0.0.1", port, path, token))
    }
}
