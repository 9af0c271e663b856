//! GPUs: `doctor` and `jupyter --gpus` against the GPU stub engine (tests/support/gpu-engine.sh, a
//! second dockerd with a stub NVIDIA hook; DTU_GPU_DOCKER_HOST, or DTU_SKIP_GPU_STUB with the
//! reason), and `--gpus all` on the main engine, which has no hook. Needs the Docker engine.

use crate::support::*;

const GROUP: &str = "the GPU tests (gpu)";

#[test]
fn doctor_with_gpu_stubs_says_usable() {
    if skip_without_engine(GROUP) {
        return;
    }
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("doctorgpu");
    let out = sb.on_gpu_engine(&gpu_host, &["doctor", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["gpu"]["usable"], true, "{}", out.stdout);
    assert_eq!(report["gpu"]["host"]["driver_version"], "550.54.15");
    assert_eq!(report["engine"]["chosen_by"], "--host");
}

#[test]
fn gpus_all_on_an_engine_with_the_nvidia_hook_sends_the_device_request() {
    if skip_without_engine(GROUP) {
        return;
    }
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("gpu");
    let out = sb
        .on_gpu_engine(
            &gpu_host,
            &["jupyter", "--variant", "base", "--gpus", "all", "--detach", "--no-browser", "--pull", "never"],
        )
        .ok();
    let url = out.last_line().to_string();
    let name = sb.container_name_on(&gpu_host);
    let requests = docker_on(&gpu_host, &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &name]);
    assert_eq!(
        requests,
        r#"[{"Driver":"","Count":-1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":{}}]"#
    );
    assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200));
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
    // device=0 is sent as DeviceIDs.
    let out = sb
        .on_gpu_engine(
            &gpu_host,
            &[
                "jupyter", "--variant", "base", "--gpus", "device=0", "--detach", "--no-browser", "--pull",
                "never",
            ],
        )
        .ok();
    assert!(out.last_line().contains("token="));
    let requests = docker_on(
        &gpu_host,
        &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &sb.container_name_on(&gpu_host)],
    );
    assert!(requests.contains(r#""DeviceIDs":["0"]"#), "{requests}");
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
}

#[test]
fn gpus_all_on_an_engine_without_the_hook_is_an_error_not_a_cpu_fallback() {
    if skip_without_engine(GROUP) {
        return;
    }
    let _g = engine_lock();
    let sb = Sandbox::new("nogpu");
    // The host looks like it has a GPU (stub nvidia-smi); the main engine has no NVIDIA hook.
    let out = Out::from(
        sb.cmd(&[
            "jupyter", "--variant", "base", "--gpus", "all", "--detach", "--no-browser", "--pull", "never",
        ])
        .env("PATH", stub_smi_path())
        .output()
        .unwrap(),
    );
    out.user_error(7);
    out.says("cannot give this container GPUs");
    out.says("NVIDIA Container Toolkit");
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "nothing left behind");
    // auto on the same machine runs on CPU and says why.
    let auto = Out::from(
        sb.cmd(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"])
            .env("PATH", stub_smi_path())
            .output()
            .unwrap(),
    )
    .ok();
    auto.says("running on CPU: the base variant has no CUDA libraries");
}
