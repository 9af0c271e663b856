//! Floor 1: GPUs. What `--gpus` asks (`request`), what the probes find (`probe` fills `facts`
//! from `smi`'s parsers and the `cdi` specs), the lab's CUDA against the driver (`cuda`), and the
//! attach decision (`decide`). All but `probe` is pure and tested without a GPU.

pub mod cdi;
pub mod cuda;
pub mod decide;
pub mod facts;
pub mod probe;
pub mod request;
pub mod smi;

// The rest of the crate names these crate::gpu::X; the parts name each other directly.
pub use cuda::{cuda_of_driver, CudaNeed};
pub use decide::{cdi_warnings, decide, engine_gpu_error, GpuDecision, GpuReason};
pub use facts::{EngineGpuState, HostGpuState};
pub use probe::{engine_state, probe_host, CONTAINER_TOOLKIT};
pub use request::{GpuAttach, GpuRequest};
pub use smi::{host_state, parse_nvidia_smi_list};

#[cfg(test)]
mod tests {
    use super::{cdi::*, cuda::*, decide::*, facts::*, request::*, smi::*};
    use crate::base::error::Kind;
    use crate::engine::model::GpuForm;

    const SMI_TWO: &str =
        "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559\n1, NVIDIA H100 80GB HBM3, 550.54.15, 81559\n";

    fn host_with(n: usize) -> HostGpuState {
        let (driver, gpus) = parse_nvidia_smi_csv(&SMI_TWO.lines().take(n).collect::<Vec<_>>().join("\n"));
        HostGpuState { driver_version: driver, gpus, problem: None, listing: None }
    }
    fn cuda12() -> CudaNeed {
        CudaNeed { cuda: "12.8".into(), min_driver: "525.60.13" }
    }
    fn engine_ok() -> EngineGpuState {
        EngineGpuState { nvidia_runtime: true, ..Default::default() }
    }

    #[test]
    fn parses_nvidia_smi_csv() {
        let (driver, gpus) = parse_nvidia_smi_csv(SMI_TWO);
        assert_eq!(driver.as_deref(), Some("550.54.15"));
        assert_eq!(gpus.len(), 2);
        assert_eq!(
            gpus[1],
            HostGpu { index: 1, name: "NVIDIA H100 80GB HBM3".into(), memory_mib: Some(81559) }
        );
        assert_eq!(
            parse_nvidia_smi_csv(
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"
            ),
            (None, vec![])
        );
        assert_eq!(parse_nvidia_smi_csv("0, Tesla T4, 535.104.05, [N/A]").1[0].memory_mib, None);
    }

    #[test]
    fn parses_output_captured_on_a_real_h100() {
        let (driver, gpus) =
            parse_nvidia_smi_csv(include_str!("../../tests/data/gpu/h100-nvidia-smi-query.csv"));
        assert_eq!(driver.as_deref(), Some("580.159.04"));
        assert_eq!(
            gpus,
            vec![HostGpu { index: 0, name: "NVIDIA H100 80GB HBM3".into(), memory_mib: Some(81559) }]
        );
        let proc_text = include_str!("../../tests/data/gpu/h100-proc-driver-nvidia-version.txt");
        assert_eq!(parse_proc_driver_version(proc_text).as_deref(), Some("580.159.04"));
    }

    #[test]
    fn remote_probe_output_becomes_a_host_state() {
        let h = host_state(Some(SMI_TWO), "");
        assert_eq!((h.driver_version.as_deref(), h.gpus.len(), h.problem), (Some("550.54.15"), 2, None));
        let none = host_state(None, "");
        assert!(!none.has_driver() && none.problem.unwrap().contains("nvidia-smi not found"));
    }

    #[test]
    fn parses_proc_driver_version() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(parse_proc_driver_version(text).as_deref(), Some("550.54.15"));
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)\n";
        assert_eq!(parse_proc_driver_version(open).as_deref(), Some("560.35.03"));
        assert_eq!(parse_proc_driver_version("garbage"), None);
    }

    #[test]
    fn parses_gpu_requests() {
        assert_eq!(GpuRequest::parse("auto").unwrap(), GpuRequest::Auto);
        assert_eq!(GpuRequest::parse("2").unwrap(), GpuRequest::Count(2));
        assert_eq!(GpuRequest::parse("0").unwrap(), GpuRequest::None);
        assert_eq!(
            GpuRequest::parse("device=0,GPU-3a2b").unwrap(),
            GpuRequest::Devices(vec!["0".into(), "GPU-3a2b".into()])
        );
        for bad in ["some", "-1", "device=", "device=0,,1", "device=a b", ""] {
            let err = GpuRequest::parse(bad).unwrap_err();
            assert_eq!(err.kind, Kind::Usage, "{bad}");
        }
    }

    #[test]
    fn device_requests_match_docker_run_gpus() {
        let all = GpuAttach::All.device_request(GpuForm::DeviceRequest).unwrap();
        assert_eq!((all.count, all.device_ids.clone()), (Some(-1), None));
        assert_eq!(all.capabilities, Some(vec![vec!["gpu".to_string()]]));
        let ids =
            GpuAttach::Devices(vec!["0".into(), "2".into()]).device_request(GpuForm::DeviceRequest).unwrap();
        assert_eq!((ids.count, ids.device_ids), (None, Some(vec!["0".into(), "2".into()])));
        assert!(GpuAttach::None.device_request(GpuForm::DeviceRequest).is_none());
        let cdi = GpuAttach::All.device_request(GpuForm::Cdi).unwrap();
        assert_eq!(
            (cdi.driver.as_deref(), cdi.device_ids),
            (Some("cdi"), Some(vec!["nvidia.com/gpu=all".into()]))
        );
    }

    #[test]
    fn cdi_names_for_each_request() {
        assert_eq!(GpuAttach::All.cdi_names(), ["nvidia.com/gpu=all"]);
        assert_eq!(GpuAttach::Count(2).cdi_names(), ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]);
        assert_eq!(GpuAttach::Devices(vec!["GPU-3a".into()]).cdi_names(), ["nvidia.com/gpu=GPU-3a"]);
        assert!(GpuAttach::None.cdi_names().is_empty());
    }

    #[test]
    fn recognises_nvidia_cdi_specs() {
        let dir = tempfile::tempdir().unwrap();
        let scan = |name: &str, text: &str| {
            let _ = std::fs::remove_dir_all(dir.path().join("d"));
            std::fs::create_dir_all(dir.path().join("d")).unwrap();
            std::fs::write(dir.path().join("d").join(name), text).unwrap();
            scan_cdi_specs(&[dir.path().join("d").to_str().unwrap()]).spec.is_some()
        };
        assert!(scan("a.yaml", "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n"));
        assert!(scan("a.json", r#"{"cdiVersion":"0.6.0","kind":"nvidia.com/gpu","devices":[]}"#));
        assert!(!scan("a.yaml", "kind: vendor.com/fpga\n"));
        assert!(!scan("a.yaml", "not: [yaml"));
    }

    #[test]
    fn podman_needs_a_cdi_spec_for_gpus() {
        let podman = |spec: Option<&str>| EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: spec.map(str::to_string),
            ..Default::default()
        };
        let d = decide(&GpuRequest::Auto, Some(&host_with(1)), &podman(None), Some(&cuda12()), "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::None);
        assert!(d.note().unwrap().contains("nvidia-ctk cdi generate"));
        let err =
            decide(&GpuRequest::All, Some(&host_with(1)), &podman(None), Some(&cuda12()), "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert!(err.hint.unwrap().contains("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"));
        let spec = podman(Some("/etc/cdi/nvidia.yaml"));
        assert_eq!(
            decide(&GpuRequest::Auto, Some(&host_with(1)), &spec, Some(&cuda12()), "ml").unwrap().attach,
            GpuAttach::All
        );
        // The Docker form is unaffected by CDI specs.
        assert!(!EngineGpuState { nvidia_cdi_spec: Some("x".into()), ..Default::default() }.supports_gpus());
    }

    #[test]
    fn auto_attaches_only_when_everything_fits() {
        let d = decide(&GpuRequest::Auto, Some(&host_with(2)), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::All);
        assert_eq!(d.why_cpu(), None);
        let no_driver = HostGpuState {
            problem: Some("no NVIDIA driver (nvidia-smi not found)".into()),
            ..Default::default()
        };
        let d = decide(&GpuRequest::Auto, Some(&no_driver), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::None);
        assert_eq!(d.why_cpu().unwrap(), "no NVIDIA driver (nvidia-smi not found)");
        assert!(d.note().unwrap().contains("nvidia-smi not found"));
        let none =
            decide(&GpuRequest::None, Some(&host_with(1)), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(none.why_cpu().unwrap(), "--gpus none");
        let d =
            decide(&GpuRequest::Auto, Some(&host_with(1)), &EngineGpuState::default(), Some(&cuda12()), "ml")
                .unwrap();
        assert!(d.note().unwrap().contains("NVIDIA Container Toolkit"));
        let d = decide(&GpuRequest::Auto, Some(&host_with(1)), &engine_ok(), None, "base").unwrap();
        assert!(d.note().unwrap().contains("base variant has no CUDA"));
        // A remote engine: no host verdict, the engine's word counts.
        assert_eq!(
            decide(&GpuRequest::Auto, None, &engine_ok(), Some(&cuda12()), "ml").unwrap().attach,
            GpuAttach::All
        );
    }

    #[test]
    fn explicit_requests_never_fall_back_to_cpu() {
        let none = HostGpuState {
            problem: Some("no NVIDIA driver (nvidia-smi not found)".into()),
            ..Default::default()
        };
        let err = decide(&GpuRequest::All, Some(&none), &engine_ok(), Some(&cuda12()), "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert!(err.hint.unwrap().contains("--gpus none"));
        assert!(
            decide(&GpuRequest::Count(3), Some(&host_with(2)), &engine_ok(), Some(&cuda12()), "ml").is_err()
        );
        assert!(decide(
            &GpuRequest::Devices(vec!["5".into()]),
            Some(&host_with(2)),
            &engine_ok(),
            Some(&cuda12()),
            "ml"
        )
        .is_err());
        let d = decide(
            &GpuRequest::Devices(vec!["1".into()]),
            Some(&host_with(2)),
            &EngineGpuState::default(),
            Some(&cuda12()),
            "ml",
        )
        .unwrap();
        assert_eq!(d.attach, GpuAttach::Devices(vec!["1".into()]));
    }

    #[test]
    fn a_refusal_by_the_engine_is_said_as_running_on_cpu() {
        let d =
            GpuDecision { attach: GpuAttach::None, reason: GpuReason::EngineRefused("no runtime".into()) };
        assert_eq!(d.note().unwrap(), "running on CPU: the engine cannot attach GPUs (no runtime)");
        assert_eq!(GpuDecision::none().note(), None);
    }

    #[test]
    fn the_labs_cuda_comes_from_its_lock_and_the_driver_is_held_to_it() {
        let lock = "jax-cuda12-plugin==0.7.1 \\\n    --hash=sha256:aa\nnvidia-cuda-runtime-cu12==12.8.90 \\\n    --hash=sha256:bb\n";
        assert_eq!(CudaNeed::from_lock(lock), Some(cuda12()));
        assert_eq!(
            CudaNeed::from_lock("nvidia-cuda-runtime==13.0.48 ; sys_platform == 'linux'\n")
                .unwrap()
                .min_driver,
            "580.65.06"
        );
        assert_eq!(CudaNeed::from_lock("numpy==1.26.4\n"), None);
        let need = cuda12();
        assert!(need.met_by("525.60.13") && need.met_by("550.54.15") && need.met_by("1000.1"));
        assert!(!need.met_by("525.60.12") && !need.met_by("470.256.02"));
        assert_eq!(cuda_of_driver("550.54.15"), Some("12.4"));
        assert_eq!(cuda_of_driver("580.159.04"), Some("13.0"));
        assert_eq!(cuda_of_driver("470.256.02"), None);
    }

    #[test]
    fn an_old_driver_refuses_an_explicit_request_and_sends_auto_to_the_cpu() {
        let mut old = host_with(1);
        old.driver_version = Some("470.256.02".into());
        let err = decide(&GpuRequest::All, Some(&old), &engine_ok(), Some(&cuda12()), "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert_eq!(err.message, "--gpus all cannot work with the ml lab: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer)");
        assert!(err.hint.unwrap().contains("--gpus none"));
        let auto = decide(&GpuRequest::Auto, Some(&old), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(auto.attach, GpuAttach::None);
        assert_eq!(
            auto.note().unwrap(),
            "running on CPU: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer)"
        );
        // A lab without CUDA asks nothing of the driver.
        assert!(decide(&GpuRequest::All, Some(&old), &engine_ok(), None, "base").is_ok());
    }

    /// `nvidia-smi -L` on an A100 split into MIG slices (the format NVIDIA's MIG user guide shows).
    const MIG_LIST: &str = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)\n  MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)\n  MIG 1g.5gb      Device  1: (UUID: MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-0b1b2c3c-1111-2222-3333-444455556666)\n";

    #[test]
    fn mig_slices_are_listed_named_and_checked() {
        let listing = parse_nvidia_smi_list(MIG_LIST).unwrap();
        // Output that lists no GPU (a stub, an error) is no listing: indexes are checked as before.
        assert_eq!(parse_nvidia_smi_list("0, NVIDIA Stub GPU, 550.54.15, 81559\n"), None);
        assert_eq!(listing.gpus.len(), 2);
        assert_eq!(
            listing.mig[1],
            MigDevice {
                gpu: 0,
                index: 1,
                profile: "1g.5gb".into(),
                uuid: "MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d".into()
            }
        );
        let mut host = host_with(2);
        host.listing = Some(listing.clone());
        for id in [
            "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
            "0:1",
            "1",
            "GPU-0b1b2c3c-1111-2222-3333-444455556666",
        ] {
            let request = GpuRequest::parse(&format!("device={id}")).unwrap();
            let d = decide(&request, Some(&host), &engine_ok(), Some(&cuda12()), "ml").unwrap();
            // Docker's device request takes the names as they are.
            assert_eq!(d.attach, GpuAttach::Devices(vec![id.to_string()]));
        }
        let err = decide(
            &GpuRequest::parse("device=MIG-nope").unwrap(),
            Some(&host),
            &engine_ok(),
            Some(&cuda12()),
            "ml",
        )
        .unwrap_err();
        assert!(
            err.message.starts_with("GPU MIG-nope does not exist on this machine (it has 0 (GPU-5d5ba0d6"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("0:1 (MIG 1g.5gb, MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d)"),
            "{}",
            err.message
        );
        // Podman's CDI names go by index.
        let cdi = EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: Some("/etc/cdi/nvidia.yaml".into()),
            ..Default::default()
        };
        let d = decide(
            &GpuRequest::parse(
                "device=MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d,GPU-0b1b2c3c-1111-2222-3333-444455556666",
            )
            .unwrap(),
            Some(&host),
            &cdi,
            Some(&cuda12()),
            "ml",
        )
        .unwrap();
        assert_eq!(d.attach.cdi_names(), ["nvidia.com/gpu=0:1", "nvidia.com/gpu=1"]);
    }

    #[test]
    fn a_cdi_spec_for_another_driver_and_an_unreadable_one_are_said() {
        // The shape `nvidia-ctk cdi generate` writes (trimmed).
        let spec = "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\ncontainerEdits:\n  mounts:\n  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\n    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nvidia.yaml"), spec).unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a spec").unwrap();
        let scan = scan_cdi_specs(&[dir.path().to_str().unwrap()]);
        assert_eq!(scan.spec.as_deref(), Some(dir.path().join("nvidia.yaml").to_str().unwrap()));
        assert_eq!(scan.spec_driver.as_deref(), Some("550.54.15"));
        assert_eq!(scan.unreadable.len(), 1, "{:?}", scan.unreadable);
        assert!(scan.unreadable[0].starts_with(dir.path().join("broken.yaml").to_str().unwrap()));
        let engine = EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: scan.spec.clone(),
            cdi_spec_driver: scan.spec_driver.clone(),
            cdi_unreadable: scan.unreadable.clone(),
            ..Default::default()
        };
        let mut host = host_with(1);
        host.driver_version = Some("570.86.10".into());
        let warnings = cdi_warnings(Some(&host), &engine);
        assert_eq!(warnings.len(), 2);
        assert!(
            warnings[0].contains("generated for NVIDIA driver 550.54.15, and driver 570.86.10 is loaded"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("sudo nvidia-ctk cdi generate --output="), "{}", warnings[0]);
        assert!(warnings[1].contains("broken.yaml") && warnings[1].contains("cannot be read"));
        host.driver_version = Some("550.54.15".into());
        assert_eq!(cdi_warnings(Some(&host), &engine).len(), 1, "the same driver: only the unreadable file");
        assert!(cdi_warnings(Some(&host), &engine_ok()).is_empty(), "Docker's GPU requests use no spec");
    }

    #[test]
    fn the_remote_probe_is_one_command_and_its_output_splits() {
        let probe = super::probe::split_remote(
            "0, NVIDIA H100, 550.54.15, 81559\n---\nNVRM version: x\n---\n/usr/bin/nvidia-ctk\n---\nGPU 0: NVIDIA H100 (UUID: GPU-1)\n",
        );
        assert_eq!(probe.smi.as_deref(), Some("0, NVIDIA H100, 550.54.15, 81559\n"));
        assert!(probe.proc_version.contains("NVRM"));
        assert_eq!(probe.toolkit.as_deref(), Some("/usr/bin/nvidia-ctk"));
        assert_eq!(probe.listing.as_deref(), Some("GPU 0: NVIDIA H100 (UUID: GPU-1)\n"));
        let none = super::probe::split_remote("NO-SMI\n---\n---\n---\n");
        assert_eq!(
            (none.smi, none.proc_version, none.toolkit, none.listing),
            (None, String::new(), None, None)
        );
        let probe = super::probe::remote_script();
        assert!(probe.starts_with("nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits 2>/dev/null || echo NO-SMI"), "{probe}");
        assert!(
            probe.contains("cat /proc/driver/nvidia/version")
                && probe.contains("command -v nvidia-container-runtime-hook nvidia-ctk"),
            "{probe}"
        );
    }
}
