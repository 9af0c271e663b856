//! dimtensor-up: one command from a fresh machine to a JupyterLab with dimtensor, on Docker.

// The floors, declared here once (ARCHITECTURE.md explains them; tests/cli/layers.rs reads this
// list): a module uses only modules on its own floor or below, never in a cycle, and commands
// never use one another.
// floor 0
mod error;
mod poll;
mod reporter;
mod state;
mod sys;
mod units;
// floor 1
mod catalog;
mod http;
mod naming;
mod ports;
// floor 2 (also engine::model)
mod cli;
mod config;
mod gpu;
mod project;
mod ready;
// floor 3
mod engine;
mod registry;
// floor 4
mod compose;
mod hub;
mod plan;
mod settings;
mod slurm;
// floor 5
mod browser;
mod fit;
mod image;
mod lab;
mod project_image;
mod tunnel;
// floor 6
mod cluster;
mod wizard;
// floor 7
mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

fn main() -> ExitCode {
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
            return ExitCode::from(error::Kind::Usage.exit_code());
        }
        Err(err) => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            error::Error::new(error::Kind::Engine, "cannot start the async runtime").cause(e).print();
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

async fn dispatch(cli: Cli) -> error::Result<u8> {
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
