//! GPUs: `doctor` and `jupyter --gpus` against the GPU stub engine (tests/support/gpu-engine.sh, a
//! second dockerd with a stub NVIDIA hook; DTU_GPU_DOCKER_HOST, or DTU_SKIP_GPU_STUB with the
//! reason), and `--gpus all` on the main engine, which has no hook. Needs the Docker engine.

use crate::support::*;

#[test]
fn doctor_with_gpu_stubs_says_usable() {
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("doctorgpu");
    let out = sb.on_gpu_engine(&gpu_host, &["doctor", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["gpu"]["usable"], true, "{}", out.stdout);
    assert_eq!(report["gpu"]["host"]["driver_version"], "550.54.15");
    assert_eq!(report["engine"]["chosen_by"], "--host");
    // The driver's CUDA, and what each lab with CUDA needs of it.
    assert_eq!(report["gpu"]["driver_cuda"], "12.4");
    assert_eq!(
        report["gpu"]["labs_need"][0],
        serde_json::json!({"lab": "ml", "cuda": "12.8", "min_driver": "525.60.13"})
    );
    let text = sb.on_gpu_engine(&gpu_host, &["doctor"]).ok();
    assert!(
        text.stdout.contains("NVIDIA driver 550.54.15 (runs CUDA up to 12.4), 1 GPU(s)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("gpu labs      ml: CUDA 12.8 (driver 525.60.13 or newer), full: CUDA 12.8 (driver 525.60.13 or newer)"), "{}", text.stdout);
}

#[test]
fn a_driver_too_old_for_the_labs_cuda_is_refused_before_any_download() {
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("olddriver");
    let old_driver = StubSmi { driver: "470.256.02", ..StubSmi::ONE }.path_with_hook();
    let start = |args: &[&str]| {
        let mut all =
            vec!["--host", gpu_host.as_str(), "jupyter", "--detach", "--no-browser", "--pull", "never"];
        all.extend_from_slice(args);
        Out::from(sb.cmd(&all).env("PATH", &old_driver).output().unwrap())
    };
    // The ml lab is not on the stub engine: the refusal comes before it is looked for.
    let out = start(&["--variant", "ml", "--gpus", "all"]);
    out.user_error(7);
    out.says("error: --gpus all cannot work with the ml lab: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer)");
    assert!(!out.stderr.contains("pull") && !out.stderr.contains("build"), "{}", out.stderr);
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "nothing left behind");
    // auto takes the CPU lab and says why, in its one line.
    let auto = start(&[]).ok();
    auto.says("lab: base (");
    auto.says(
        "no usable GPU: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer);",
    );
    let requests = docker_on(
        &gpu_host,
        &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &sb.container_name_on(&gpu_host)],
    );
    assert_eq!(requests, "null", "no GPU attached");
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
}

#[test]
fn gpus_all_on_an_engine_with_the_nvidia_hook_sends_the_device_request() {
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
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
    let _engine = engine_test!();
    let sb = Sandbox::new("nogpu");
    // The host looks like it has a GPU (stub nvidia-smi); the main engine has no NVIDIA hook.
    let out = Out::from(
        sb.cmd(&[
            "jupyter", "--variant", "base", "--gpus", "all", "--detach", "--no-browser", "--pull", "never",
        ])
        .env("PATH", StubSmi::ONE.path())
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
            .env("PATH", StubSmi::ONE.path())
            .output()
            .unwrap(),
    )
    .ok();
    auto.says("running on CPU: the base variant has no CUDA libraries");
}

#[test]
fn mig_slices_are_named_attached_and_checked_and_jax_leaves_gpu_memory_free() {
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("mig");
    let with_mig = |args: &[&str]| {
        let mut all = vec!["--host", gpu_host.as_str()];
        all.extend_from_slice(args);
        Out::from(
            sb.cmd(&all)
                .env("PATH", StubSmi { mig: true, ..StubSmi::ONE }.path_with_hook())
                .output()
                .unwrap(),
        )
    };
    let doctor = with_mig(&["doctor"]).ok();
    assert!(
        doctor.stdout.contains("gpu mig       0:0 3g.40gb MIG-aaaaaaaa-1111-2222-3333-444444444444, 0:1 1g.10gb MIG-bbbbbbbb-1111-2222-3333-444444444444"),
        "{}",
        doctor.stdout
    );
    let lab = ["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
    let unknown =
        with_mig(&[&lab[..], &["--gpus", "device=MIG-cccccccc-1111-2222-3333-444444444444"]].concat());
    unknown.user_error(7);
    unknown.says("GPU MIG-cccccccc-1111-2222-3333-444444444444 does not exist on this machine (it has 0 (GPU-00000000-1111-2222-3333-444444444444), 0:0 (MIG 3g.40gb");
    assert!(sb.leftovers().is_empty());
    let out =
        with_mig(&[&lab[..], &["--gpus", "device=MIG-bbbbbbbb-1111-2222-3333-444444444444"]].concat()).ok();
    let name = sb.container_name_on(&gpu_host);
    let requests = docker_on(&gpu_host, &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &name]);
    assert!(requests.contains(r#""DeviceIDs":["MIG-bbbbbbbb-1111-2222-3333-444444444444"]"#), "{requests}");
    // GPUs attached: JAX's preallocation is off in the kernel.
    let (output, error) =
        run_in_kernel(out.last_line(), "import os; print(os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'))");
    assert_eq!((output.trim(), error), ("false", None));
    with_mig(&["stop"]).ok();
    // -e gives it back.
    let out =
        with_mig(&[&lab[..], &["--gpus", "device=0:1", "-e", "XLA_PYTHON_CLIENT_PREALLOCATE=true"]].concat())
            .ok();
    let (output, _) =
        run_in_kernel(out.last_line(), "import os; print(os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'))");
    assert_eq!(output.trim(), "true");
    with_mig(&["stop"]).ok();
}
