//! What a lab gets of the machine: /dev/shm sized for DataLoader workers, a memory limit with a
//! kernel killed for memory said as such, and an idle timeout that stops the lab (its GPUs free,
//! files kept). Needs the Docker engine.

use std::process::Stdio;
use std::time::Duration;

use dimtensor_up::for_tests::labels;

use crate::support::*;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// /dev/shm's size in the lab, as the kernel sees it.
fn shm_in_lab(url: &str) -> u64 {
    let (output, error) =
        run_in_kernel(url, "import os; s = os.statvfs('/dev/shm'); print(s.f_blocks * s.f_frsize)");
    assert_eq!(error, None, "{output}");
    output.trim().parse().unwrap()
}

#[test]
fn dev_shm_is_sized_for_dataloader_workers_or_as_asked() {
    let _engine = engine_test!();
    let sb = Sandbox::new("shm");
    let engine_memory: u64 = docker(&["info", "-f", "{{.MemTotal}}"]).parse().unwrap();
    let expected = (engine_memory / 4).clamp(256 * MIB, 8 * GIB);
    let url = sb.start_base_lab(&[]).ok().last_line().to_string();
    // tmpfs rounds to pages.
    assert!(shm_in_lab(&url).abs_diff(expected) < 4096, "{} vs {expected}", shm_in_lab(&url));
    sb.run(&["stop"]).ok();
    let url = sb.start_base_lab(&["--shm-size", "1g"]).ok().last_line().to_string();
    assert_eq!(shm_in_lab(&url), GIB);
    sb.run(&["stop"]).ok();
    let bad = sb.start_base_lab(&["--shm-size", "lots"]);
    bad.user_error(2);
    bad.says("invalid --shm-size `lots`");
}

#[test]
fn a_kernel_killed_for_memory_is_said_with_the_limit() {
    let _engine = engine_test!();
    let sb = Sandbox::new("oom");
    let (mut child, url) = spawn_foreground(&sb, &["--memory", "400m"]);
    let stderr = StderrWatch::of(&mut child);
    let said = stderr.until("until Ctrl-C", Duration::from_secs(60));
    assert!(said.contains("--memory 400m is below the 2.0 GiB the base lab wants"), "{said}");
    let name = sb.container_name();
    assert_eq!(sb.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", &name]), (400 * MIB).to_string());
    // A kernel that takes more than the limit is killed; the lab goes on.
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let base = format!("http://127.0.0.1:{}", port_of(&url));
    // The client waits for a kernel that died: it is not waited for.
    let mut client = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/jupyter_client.py"))
        .args([&base, token_of(&url), "kernel", "x = bytearray(800 * 1024 * 1024)\nprint(len(x))"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let said = stderr.until("out of memory in the lab", Duration::from_secs(60));
    let _ = client.kill();
    let _ = client.wait();
    assert!(said.contains("out of memory in the lab") && said.contains("memory limit: 0.4 GiB"), "{said}");
    let logs = sb.run(&["logs", &name]).ok();
    assert!(logs.stdout.contains("dimtensor-up: out of memory: "), "{}", logs.stdout);
    assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200), "the lab goes on");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
}

#[test]
fn an_idle_lab_stops_itself_and_goes() {
    let _engine = engine_test!();
    let sb = Sandbox::new("idle");
    std::fs::write(sb.work.join("mine.txt"), "kept\n").unwrap();
    let (mut child, _url) = spawn_foreground(&sb, &["--idle-timeout", "3s"]);
    let stderr = StderrWatch::of(&mut child);
    let name = sb.container_name();
    assert_eq!(
        sb.docker(&[
            "inspect",
            "-f",
            &format!("{{{{index .Config.Labels \"{}\"}}}}", labels::IDLE_TIMEOUT),
            &name
        ]),
        "3"
    );
    // The server looks once a minute: it is gone within two.
    let said = stderr.until("stopped itself", Duration::from_secs(150));
    assert!(
        said.contains(
            "JupyterLab stopped itself after 3s without activity (--idle-timeout): its GPUs are free"
        ),
        "{said}"
    );
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    assert!(sb.leftovers().is_empty(), "the container is removed");
    assert_eq!(std::fs::read_to_string(sb.work.join("mine.txt")).unwrap(), "kept\n");
}
