//! Transcripts: `--help` of every command, the error every bad input gets, settings, shell
//! completions, and the build context built into the binary. They need no engine and always run;
//! the help and error texts are insta snapshots in tests/snapshots/ (cli__NAME.snap, the names they
//! had when these tests were tests/cli.rs).

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// `insta::assert_snapshot!(name, value)` against tests/snapshots/cli__NAME.snap: the folder and
/// names the snapshots had when these tests were tests/cli.rs (module `cli`, not `cli::transcripts`).
macro_rules! assert_snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("cli__{}", $name), $value)
        })
    };
}

fn snapshot_filters(text: &str) -> String {
    text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

#[test]
fn help_transcripts() {
    // Every subcommand clap knows, so a new one without a snapshot fails here.
    let mut commands = vec![String::new()];
    commands.extend(dimtensor_up::for_tests::command().get_subcommands().map(|c| c.get_name().to_string()));
    commands.retain(|c| c != "help");
    assert!(commands.len() > 15, "{commands:?}");
    for name in &commands {
        let mut args: Vec<&str> = name.split_whitespace().collect();
        args.push("--help");
        let out = Command::new(BIN).args(&args).env("NO_COLOR", "1").output().unwrap();
        assert!(out.status.success());
        let snap = if name.is_empty() { "help".to_string() } else { format!("help_{name}") };
        assert_snapshot!(snap, snapshot_filters(&String::from_utf8_lossy(&out.stdout)));
    }
}

#[test]
fn version_prints_name_and_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("dimtensor-up {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn error_transcripts() {
    let sb = Sandbox::new("errors");
    let cases: [(&str, &[&str], i32); 10] = [
        ("bad_variant", &["jupyter", "--variant", "gpu"], 2),
        ("bad_gpus", &["jupyter", "--gpus", "lots"], 2),
        ("bad_port", &["jupyter", "--port", "70000"], 2),
        ("missing_workdir", &["jupyter", "--workdir", "no-such-folder"], 2),
        ("bad_volume", &["jupyter", "-v", "relative-only"], 2),
        ("bad_user", &["jupyter", "--user", "alice"], 2),
        ("bad_listen", &["jupyter", "--listen", "everywhere"], 2),
        ("unknown_setting", &["config", "set", "colour", "red"], 2),
        ("bad_platform", &["jupyter", "--platform", "linux/s390x"], 2),
        ("hub_auto_lab", &["hub", "--labs", "auto"], 2),
    ];
    for (name, args, code) in cases {
        let out = sb.run(args);
        assert_eq!(out.code, code, "{name}: {}", out.stderr);
        out.user_error(code);
        let text = out.stderr.replace(&sb.work.display().to_string(), "[WORK]");
        assert_snapshot!(format!("error_{name}"), text);
    }
}

#[test]
fn unreachable_engine_names_the_socket_without_panicking() {
    let sb = Sandbox::new("nosock");
    let out = Out::from(sb.cmd(&["ps"]).env("DOCKER_HOST", "unix:///tmp/none.sock").output().unwrap());
    out.user_error(3);
    out.says("unix:///tmp/none.sock (from DOCKER_HOST)");
    assert_snapshot!("error_unreachable_engine", out.stderr);
    let refused = Out::from(sb.cmd(&["doctor"]).env("DOCKER_HOST", "tcp://127.0.0.1:1").output().unwrap());
    refused.user_error(3);
    refused.says("refused");
}

#[test]
fn malformed_config_is_an_error_naming_file_and_line() {
    let sb = Sandbox::new("badconfig");
    std::fs::write(sb.root.join("config.toml"), "variant = \"base\"\ngpus = = 1\n").unwrap();
    let out = sb.run(&["config", "show"]);
    out.user_error(6);
    out.says("config.toml, line 2");
    // The file is left as it was.
    assert_eq!(
        std::fs::read_to_string(sb.root.join("config.toml")).unwrap(),
        "variant = \"base\"\ngpus = = 1\n"
    );
}

#[test]
fn config_set_show_and_path() {
    let sb = Sandbox::new("config");
    sb.run(&["config", "set", "variant", "base"]).ok();
    sb.run(&["config", "set", "gpus", "none"]).ok();
    let show = sb.run(&["config", "show"]).ok();
    assert!(
        show.stdout.contains("variant = \"base\"") && show.stdout.contains("gpus = \"none\""),
        "{}",
        show.stdout
    );
    assert_eq!(
        sb.run(&["config", "path"]).ok().stdout.trim(),
        sb.root.join("config.toml").display().to_string()
    );
    sb.run(&["config", "set", "pull", "sometimes"]).user_error(2);
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("jupyter"), "{shell}");
    }
}

#[test]
fn embedded_build_context_matches_the_files_on_disk() {
    // Every file the Dockerfile needs is embedded (src/image/mod.rs), and nothing is stale.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut on_disk = Vec::new();
    for dir in ["docker/requirements/amd64", "docker/requirements/arm64", "docker/jupyter", "notebooks"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            on_disk.push(format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    let embedded = dimtensor_up::for_tests::CONTEXT_FILES;
    for path in on_disk {
        let text = embedded.iter().find(|(p, _)| *p == path).map(|(_, t)| *t);
        assert!(text.is_some(), "{path} is not embedded in src/image/mod.rs");
        assert_eq!(text, std::fs::read_to_string(root.join(&path)).ok().as_deref(), "{path}");
    }
}

#[test]
fn project_file_errors_come_before_the_engine() {
    let sb = Sandbox::new("project-files");
    std::fs::write(sb.work.join("pyproject.toml"), "[project]\nname = \"study\ndependencies = []\n").unwrap();
    // No engine answers here: the file is read and refused before one is asked.
    let out = Out::from(sb.cmd(&["jupyter"]).env("DOCKER_HOST", "unix:///tmp/none.sock").output().unwrap());
    out.user_error(2);
    assert_snapshot!("error_bad_pyproject", out.stderr);
    std::fs::write(sb.work.join("pyproject.toml"), "[project]\nname = \"study\"\ndependencies = [\"tabulate\"]\n[project.optional-dependencies]\nplots = [\"seaborn\"]\n").unwrap();
    let out = Out::from(
        sb.cmd(&["jupyter", "--extra", "gpu"]).env("DOCKER_HOST", "unix:///tmp/none.sock").output().unwrap(),
    );
    out.user_error(2);
    assert_snapshot!("error_unknown_extra", out.stderr);
}
