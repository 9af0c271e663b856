//! The Jupyter server a lab runs: its URL's parts, the Python client (tests/support/jupyter_client.py)
//! and the readiness request the launcher makes.

use std::process::Command;

pub fn token_of(url: &str) -> &str {
    url.split("token=").nth(1).expect("a tokenized URL")
}

pub fn port_of(url: &str) -> u16 {
    url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap()
}

/// The Python client (tests/support/jupyter_client.py) against the server at `url`: one action
/// (`check`, `kernel`, `save`, `files`) and its arguments, its JSON.
pub fn jupyter_client(url: &str, action: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let base = format!("http://127.0.0.1:{}", port_of(url));
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/jupyter_client.py"))
        .args([&base, token_of(url), action])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The client's `check`: the status with and without the token, the kernel, dimtensor.
pub fn jupyter_client_check(url: &str) -> serde_json::Value {
    jupyter_client(url, "check", &[])
}

/// Code run in a kernel of the server at `url`: (output, error).
pub fn run_in_kernel(url: &str, code: &str) -> (String, Option<String>) {
    let v = jupyter_client(url, "kernel", &[code]);
    (v["output"].as_str().unwrap_or_default().to_string(), v["error"].as_str().map(str::to_string))
}

pub use dimtensor_up::for_tests::http_status;
