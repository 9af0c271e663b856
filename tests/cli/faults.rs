//! Interruptions and faults: Ctrl-C during a build and a pull (here and over ssh), an engine
//! restarted under a running server, listening beyond loopback, TLS and permission failures (the
//! latter, as root, against the rootful socket). Needs the Docker engine; the GPU stub engine
//! (restarted) and the ssh workstation where set up.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

#[test]
fn ctrl_c_during_a_build_stops_it_and_tags_nothing() {
    let _engine = engine_test!();
    interrupt_a_build(&Sandbox::new("ctrlcbuild"), &[]);
    if let Some(ws) = workstation() {
        interrupt_a_build(&Sandbox::laptop("sshbuild", &ws), &["--host", "ssh://box"]);
    }
}

fn interrupt_a_build(sb: &Sandbox, host: &[&str]) {
    std::fs::write(sb.root.join("config.toml"), "registry = \"dtu-ctrlc-test/dimtensor\"\n").unwrap();
    let args: Vec<&str> = host.iter().copied().chain(["build", "base", "--no-cache"]).collect();
    let mut child = sb.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_stderr(&mut child, "[base 2/7]");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130), "{host:?}");
    // The engine stopped too: nothing is tagged, not even a while later.
    std::thread::sleep(Duration::from_secs(5));
    assert!(docker(&["images", "-q", "dtu-ctrlc-test/dimtensor"]).is_empty(), "{host:?}");
}

#[test]
fn ctrl_c_during_a_pull_stops_it() {
    let _engine = engine_test!();
    interrupt_a_hanging_pull(&Sandbox::new("ctrlcpull"), &[]);
    if let Some(ws) = workstation() {
        interrupt_a_hanging_pull(&Sandbox::laptop("sshpull", &ws), &["--host", "ssh://box"]);
    }
}

fn interrupt_a_hanging_pull(sb: &Sandbox, host: &[&str]) {
    // A registry on loopback that accepts connections and never answers: the pull hangs.
    let registry = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = registry.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = registry.incoming().take(4).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(conns);
    });
    std::fs::write(sb.root.join("config.toml"), format!("registry = \"127.0.0.1:{port}/dimtensor\"\n"))
        .unwrap();
    let args: Vec<&str> = host.iter().copied().chain(["pull", "base"]).collect();
    let mut child = sb.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_stderr(&mut child, "pulling");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the pull is hanging as intended {host:?}");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(130), "{host:?}");
    drop(held);
}

#[test]
fn a_restarted_engine_ends_the_foreground_server_cleanly_and_the_next_start_works() {
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("restart");
    let mut child = sb
        .cmd(&[
            "--host", &gpu_host, "jupyter", "--variant", "base", "--gpus", "none", "--no-browser", "--pull",
            "never",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    assert!(url.contains("token="));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/gpu-engine.sh");
    assert!(Command::new("bash").args([script, "stop"]).status().unwrap().success());
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let out = Command::new("bash").args([script, "start"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(matches!(code, Some(c) if c != 0), "the CLI reports the stopped server: {code:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("error: ") && !stderr.contains("panicked"), "{stderr}");
    // The stopped container is replaced by a fresh server.
    let again = Out::from(
        sb.cmd(&[
            "--host", &gpu_host, "jupyter", "--variant", "base", "--gpus", "none", "--detach",
            "--no-browser", "--pull", "never",
        ])
        .output()
        .unwrap(),
    )
    .ok();
    let new_url = again.last_line().to_string();
    assert_eq!(http_status(port_of(&new_url), "/api/status", Some(token_of(&new_url))), Some(200));
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
}

#[test]
fn listening_beyond_loopback_is_allowed_with_a_warning() {
    let _engine = engine_test!();
    let sb = Sandbox::new("listen");
    let out = sb
        .run(&[
            "jupyter", "--variant", "base", "--listen", "0.0.0.0", "--detach", "--no-browser", "--pull",
            "never",
        ])
        .ok();
    out.says("warning: --listen 0.0.0.0 makes JupyterLab reachable from other machines");
    assert!(out.last_line().starts_with("http://127.0.0.1:"), "a URL a local browser can open");
    let ports = docker(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &sb.container_name()]);
    assert!(ports.contains("\"HostIp\":\"0.0.0.0\""), "{ports}");
}

#[test]
fn tls_and_permission_failures_name_the_address_with_a_hint() {
    let _engine = engine_test!();
    let sb = Sandbox::new("tls");
    let certs = sb.root.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=dimtensor-up-test",
            "-keyout",
        ])
        .arg(certs.join("key.pem"))
        .arg("-out")
        .arg(certs.join("cert.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::copy(certs.join("cert.pem"), certs.join("ca.pem")).unwrap();
    // An engine address that answers in plain HTTP: the TLS handshake fails.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in plain.incoming().take(4).flatten() {
            use std::io::{Read, Write};
            let _ = conn.read(&mut [0u8; 1024]);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let tls = |cert_path: &Path| {
        Out::from(
            sb.cmd(&["ps"])
                .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", cert_path)
                .output()
                .unwrap(),
        )
    };
    let out = tls(&certs);
    out.user_error(3);
    assert!(
        out.stderr
            .contains(&format!("error: TLS handshake with tcp://127.0.0.1:{port} (from DOCKER_HOST) failed")),
        "{}",
        out.stderr
    );
    let out = tls(Path::new("/nonexistent-certs"));
    out.user_error(3);
    out.says("cannot set up TLS");
    out.says("/nonexistent-certs/ca.pem");
    if is_root() {
        // A user outside the docker group.
        let out = Out::from(
            Command::new("setpriv")
                .args([
                    &format!("--reuid={TEST_UID}"),
                    &format!("--regid={TEST_UID}"),
                    "--clear-groups",
                    BIN,
                    "ps",
                ])
                .env("NO_COLOR", "1")
                .env_remove("DOCKER_HOST")
                .env("HOME", &sb.root)
                // No rootless engine of this user's either (the discovery test has those).
                .env("XDG_RUNTIME_DIR", sb.root.join("no-runtime-dir"))
                .output()
                .unwrap(),
        );
        out.user_error(3);
        out.says("unix:///var/run/docker.sock (rootful Docker): permission denied");
        out.says("docker group");
    }
}
