//! Platforms: `auto` fits the engine's platform and bad platforms are refused, and an arm64 lab
//! runs under QEMU emulation through the launcher (images from tests/arm64.sh, as root;
//! DTU_SKIP_ARM64 says why not). Needs the Docker engine.

use crate::support::*;

#[test]
fn auto_fits_the_engines_platform_and_bad_platforms_are_refused() {
    let _engine = engine_test!();
    let sb = Sandbox::new("platform");
    let variants = sb.run(&["variants"]).ok();
    assert!(variants.stdout.starts_with("images for linux/amd64"), "{}", variants.stdout);
    let json: serde_json::Value = serde_json::from_str(&sb.run(&["variants", "--json"]).ok().stdout).unwrap();
    let base = json.as_array().unwrap().iter().find(|r| r["name"] == "jupyter-base").unwrap().clone();
    assert_eq!((base["platform"].as_str(), base["present"].as_bool()), (Some("linux/amd64"), Some(true)));
    for bad in
        [vec!["jupyter", "--platform", "linux/s390x"], vec!["config", "set", "platform", "windows/amd64"]]
    {
        let out = sb.run(&bad);
        out.user_error(2);
        assert!(out.stderr.contains("linux/amd64 and linux/arm64"), "{}", out.stderr);
    }
    // Explicit variants still win over auto, and `jupyter` still names the full lab.
    let out = sb.run(&["compose", "--variant", "jupyter", "--gpus", "none", "--user", "1000:1000"]).ok();
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(yaml.contains("dimtensor:jupyter\n") && !yaml.contains("platform:"), "{yaml}\n{}", out.stderr);
    assert!(!out.stderr.contains("lab: "), "no auto line for an explicit lab: {}", out.stderr);
}

#[test]
fn an_arm64_lab_runs_under_emulation_through_the_launcher() {
    let _engine = engine_test!();
    let Some(registry) = arm64_registry() else { return };
    let sb = Sandbox::new("arm64");
    std::fs::write(sb.root.join("config.toml"), format!("registry = \"{registry}\"\n")).unwrap();
    // auto for arm64 without a GPU: the full lab, whose torch is CPU-only there. Written down.
    let out = sb.run(&["compose", "--platform", "linux/arm64", "--gpus", "none"]).ok();
    out.says("running linux/arm64 images on a linux/amd64 engine");
    out.says("lab: full (every integration, torch + jax for CPU");
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(yaml.contains("    platform: linux/arm64\n") && yaml.contains(":jupyter\n"), "{yaml}");
    std::fs::remove_file(sb.work.join("compose.yaml")).unwrap();
    std::fs::remove_file(sb.work.join(".env")).unwrap();

    // The small lab starts emulated, answers with its token, and its kernel runs dimtensor.
    let out = sb
        .run(&[
            "jupyter", "--platform", "linux/arm64", "--variant", "base", "--detach", "--no-browser",
            "--pull", "never", "--timeout", "300",
        ])
        .ok();
    let url = out.last_line().to_string();
    let check = jupyter_client_check(&url);
    assert_eq!(check["kernel_error"], serde_json::Value::Null, "{check}");
    assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{check}");
    let name = sb.container_name();
    assert_eq!(sb.docker(&["exec", &name, "uname", "-m"]).trim(), "aarch64");
    // Its own tag: the amd64 image under the default name is untouched.
    let native = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Architecture}}",
        "ghcr.io/marcoloco23/dimtensor:jupyter-base",
    ]);
    assert_eq!(native.trim(), "amd64");
    sb.run(&["stop"]).ok();
}
