//! `dimtensor-up doctor`: what a user runs first when something is off. One typed report,
//! serialised for `--json` and formatted as text.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::error::Result;
use crate::engine::model::{Builder, CreateApi, GpuForm, Product, Vm};
use crate::engine::{discover, resolve_from_env, Address, Engine, Source};
use crate::gpu::{self, EngineGpuState, HostGpuState};
use crate::lab::fit::GpuOutlook;
use crate::spec::catalog::IMAGES;
use crate::spec::cli::{GlobalArgs, JsonArgs};
use crate::spec::ports::{port_is_free, FIRST_PORT};

#[derive(Debug, Serialize)]
struct Report {
    dimtensor_up: &'static str,
    config_file: String,
    engine: EngineReport,
    port_8888_free: bool,
    gpu: GpuReport,
    /// What `jupyter` would start here with no --variant; None where the engine is unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_lab: Option<String>,
    /// Whether each image is here, by tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    images: Option<BTreeMap<String, bool>>,
}

#[derive(Debug, Serialize)]
struct EngineReport {
    address: Address,
    chosen_by: Source,
    reachable: bool,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// What discovery tried: the sockets (reachable), or the causes of the failure.
    tried: Vec<Tried>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<EngineDetails>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Tried {
    Socket(discover::Tried),
    Cause(String),
}

#[derive(Debug, Serialize)]
struct EngineDetails {
    product: Product,
    server_version: String,
    api_version: String,
    server_api_version: String,
    os: Option<String>,
    os_type: Option<String>,
    arch: Option<String>,
    rootless: bool,
    docker_desktop: bool,
    /// The laptop VM the engine runs in, if any (kebab-case: "colima", "podman-machine").
    vm: Option<Vm>,
    storage_driver: Option<String>,
    data_root: String,
    data_root_free_bytes: Option<u64>,
    create_api: CreateApi,
    gpu_form: GpuForm,
    builder: Builder,
}

#[derive(Debug, Serialize)]
struct GpuReport {
    host: Option<HostGpuState>,
    /// The newest CUDA the host's driver runs in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    driver_cuda: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine: Option<EngineGpuState>,
    /// What each lab with CUDA needs of the driver, on the engine's platform.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labs_need: Vec<LabNeed>,
    /// A stale or unreadable CDI spec.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    usable: bool,
    verdict: String,
}

#[derive(Debug, Serialize)]
struct LabNeed {
    lab: &'static str,
    cuda: String,
    min_driver: &'static str,
}

pub async fn run(global: &GlobalArgs, args: JsonArgs) -> Result<u8> {
    let (config, config_path) = crate::spec::config::load()?;
    let endpoint = resolve_from_env(global.host.as_deref())?;
    let report = |engine, gpu, auto_lab, images| Report {
        dimtensor_up: env!("CARGO_PKG_VERSION"),
        config_file: config_path.display().to_string(),
        engine,
        port_8888_free: port_is_free([127, 0, 0, 1].into(), FIRST_PORT),
        gpu,
        auto_lab,
        images,
    };
    let engine = match Engine::connect(global.host.as_deref()).await {
        Ok(engine) => engine,
        Err(err) => {
            let engine_report = EngineReport {
                address: endpoint.address.clone(),
                chosen_by: endpoint.source.clone(),
                reachable: false,
                error: Some(err.message.clone()),
                tried: err.causes.iter().cloned().map(Tried::Cause).collect(),
                details: None,
            };
            let host = endpoint.is_local().then(gpu::probe_host);
            let driver_cuda =
                host.as_ref().and_then(|h| h.driver_version.as_deref()).and_then(gpu::cuda_of_driver);
            let gpu = GpuReport {
                host,
                driver_cuda,
                engine: None,
                labs_need: vec![],
                warnings: vec![],
                usable: false,
                verdict: "GPU usable: unknown (the engine is unreachable)".into(),
            };
            print(&report(engine_report, gpu, None, None), args.json);
            return Err(err);
        }
    };
    let (gpu, outlook) = gpu_report(&engine).await?;
    // What `jupyter` would start here with no --variant (the same rule, the same outlook).
    let auto_lab = engine.platform().await.ok().map(|arch| crate::lab::fit::auto_lab_line(arch, &outlook));
    let mut images = BTreeMap::new();
    for spec in &IMAGES {
        let reference = spec.id.reference(config.registry());
        images.insert(spec.tag.to_string(), engine.docker.inspect_image(&reference).await.is_ok());
    }
    let engine_report = engine_report(&engine).await?;
    print(&report(engine_report, gpu, auto_lab, Some(images)), args.json);
    Ok(0)
}

/// The GPU rules' verdict for a lab with CUDA on this engine, and the outlook `auto` uses.
async fn gpu_report(engine: &Engine) -> Result<(GpuReport, GpuOutlook)> {
    let (host_gpu, toolkit) = engine.host.probe_gpus().await;
    let engine_gpu = gpu::engine_state(Some(engine.info().await?), engine.model().await?, toolkit);
    let arch = engine.platform().await?;
    let labs_need: Vec<LabNeed> = crate::spec::catalog::Variant::LABS
        .into_iter()
        .filter_map(|lab| {
            crate::image::cuda_need(lab.lab_image(), arch).map(|need| LabNeed {
                lab: lab.name(),
                cuda: need.cuda,
                min_driver: need.min_driver,
            })
        })
        .collect();
    // The verdict for the lab `auto` takes with usable GPUs, as `jupyter` decides it.
    let gpu_lab = crate::lab::fit::auto_lab(arch, &GpuOutlook::Usable);
    let cuda = crate::image::cuda_need(gpu_lab.lab_image(), arch);
    let decision =
        gpu::decide(&gpu::GpuRequest::Auto, host_gpu.as_ref(), &engine_gpu, cuda.as_ref(), gpu_lab.name());
    let driver_cuda =
        host_gpu.as_ref().and_then(|h| h.driver_version.as_deref()).and_then(gpu::cuda_of_driver);
    let warnings = gpu::cdi_warnings(host_gpu.as_ref(), &engine_gpu);
    let outlook = match &decision {
        Ok(d) => GpuOutlook::of(d),
        Err(e) => GpuOutlook::Unusable(e.message.clone()),
    };
    let (usable, verdict) = match &outlook {
        GpuOutlook::Usable => (true, "yes: the labs with CUDA get all GPUs with --gpus auto".to_string()),
        GpuOutlook::Unusable(why) => (false, format!("no because {why}")),
    };
    let verdict = format!("GPU usable: {verdict}");
    Ok((
        GpuReport {
            host: host_gpu,
            driver_cuda,
            engine: Some(engine_gpu),
            labs_need,
            warnings,
            usable,
            verdict,
        },
        outlook,
    ))
}

/// Who answered, and what follows from it.
async fn engine_report(engine: &Engine) -> Result<EngineReport> {
    let info = engine.info().await?;
    let model = engine.model().await?;
    let data_root = info.docker_root_dir.clone().unwrap_or_default();
    let data_root_free_bytes = match engine.host.ssh() {
        // Over ssh, the remote's disk: `df -Pk` prints free KiB in its fourth column.
        Some(target) => target
            .run(&format!("df -Pk {} | tail -n 1", crate::base::sys::sh_quote(&data_root)), None)
            .await
            .ok()
            .and_then(|out| out.split_whitespace().nth(3).and_then(|k| k.parse::<u64>().ok()))
            .map(|kib| kib * 1024),
        None if model.local => crate::base::sys::free_bytes(&data_root),
        None => None,
    };
    Ok(EngineReport {
        address: engine.endpoint.address.clone(),
        chosen_by: engine.endpoint.source.clone(),
        reachable: true,
        error: None,
        tried: engine.tried.iter().cloned().map(Tried::Socket).collect(),
        details: Some(EngineDetails {
            product: model.product,
            server_version: engine.identity.version.clone(),
            api_version: engine.docker.client_version().to_string(),
            server_api_version: engine.identity.api_version.clone(),
            os: info.operating_system.clone(),
            os_type: info.os_type.clone(),
            arch: info.architecture.clone(),
            rootless: model.rootless,
            docker_desktop: model.vm == Some(Vm::DockerDesktop),
            vm: model.vm,
            storage_driver: info.driver.clone(),
            data_root,
            data_root_free_bytes,
            create_api: model.create_api(),
            gpu_form: model.gpu_form(),
            builder: model.builder(),
        }),
    })
}

fn print(report: &Report, json: bool) {
    match json {
        true => println!("{}", serde_json::to_string_pretty(report).expect("the report serialises")),
        false => print!("{}", report.text()),
    }
}

impl Report {
    /// The report as a person reads it.
    fn text(&self) -> String {
        let mut out = vec![format!("dimtensor-up {}   settings: {}", self.dimtensor_up, self.config_file)];
        out.extend(self.engine.lines());
        out.extend(self.gpu.lines());
        if let Some(lab) = &self.auto_lab {
            out.push(lab.clone());
        }
        if let Some(images) = &self.images {
            let line: Vec<String> =
                images.iter().map(|(k, v)| format!("{k} {}", if *v { "✓" } else { "-" })).collect();
            out.push(format!("images        {}", line.join("  ")));
        }
        out.push(format!(
            "port 8888     {}",
            match self.port_8888_free {
                true => "free on 127.0.0.1",
                false => "in use on 127.0.0.1 (jupyter picks the next free one)",
            }
        ));
        out.iter().map(|line| format!("{line}\n")).collect()
    }
}

impl EngineReport {
    /// The engine, what discovery tried before it, and what it runs on.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(format!("engine        {} (chosen by {})", self.address, self.chosen_by));
        // Discovery: what was tried before the engine that answered (or all of it, when none did).
        for tried in &self.tried {
            out.push(match tried {
                Tried::Socket(t) => format!(
                    "  tried       {} ({}): {}",
                    t.address,
                    t.label,
                    t.problem.as_deref().unwrap_or("answered")
                ),
                Tried::Cause(cause) => format!("  tried       {cause}"),
            });
        }
        match &self.details {
            Some(d) => {
                out.push(format!(
                    "  version     {} {} (API {}; using {}), {}",
                    d.product.name(),
                    d.server_version,
                    d.server_api_version,
                    d.api_version,
                    if d.rootless { "rootless" } else { "rootful" }
                ));
                let or_null = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
                out.push(format!(
                    "  system      {} {} ({}), storage {}",
                    or_null(&d.os),
                    or_null(&d.arch),
                    or_null(&d.os_type),
                    or_null(&d.storage_driver)
                ));
                if let Some(vm) = d.vm {
                    out.push(format!("  vm          {}: {}", vm.name(), vm.file_sharing()));
                }
                if let Some(free) = d.data_root_free_bytes {
                    out.push(format!("  disk        {:.1} GB free in {}", free as f64 / 1e9, d.data_root));
                }
            }
            None => out.push(format!("  unreachable: {}", self.error.as_deref().unwrap_or("no answer"))),
        }
        out
    }
}

impl GpuReport {
    /// The host's driver and GPUs, MIG slices, what the labs need, the engine's side, the verdict.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(host) = &self.host {
            let cuda = self.driver_cuda.map(|c| format!(" (runs CUDA up to {c})")).unwrap_or_default();
            out.push(match &host.driver_version {
                Some(d) => format!("gpu host      NVIDIA driver {d}{cuda}, {} GPU(s)", host.gpus.len()),
                None => format!("gpu host      {}", host.problem.as_deref().unwrap_or("no NVIDIA GPU")),
            });
        }
        if let Some(listing) =
            self.host.as_ref().and_then(|h| h.listing.as_ref()).filter(|l| !l.mig.is_empty())
        {
            let slices: Vec<String> =
                listing.mig.iter().map(|m| format!("{} {} {}", m.index_name(), m.profile, m.uuid)).collect();
            out.push(format!("gpu mig       {} (--gpus device=GPU:MIG or a MIG UUID)", slices.join(", ")));
        }
        if !self.labs_need.is_empty() {
            let needs: Vec<String> = self
                .labs_need
                .iter()
                .map(|n| format!("{}: CUDA {} (driver {} or newer)", n.lab, n.cuda, n.min_driver))
                .collect();
            out.push(format!("gpu labs      {}", needs.join(", ")));
        }
        if let Some(eg) = &self.engine {
            out.push(format!(
                "gpu engine    nvidia runtime: {}, CDI: {}, toolkit: {}",
                eg.nvidia_runtime,
                serde_json::to_string(&eg.cdi_spec_dirs).expect("strings serialise"),
                eg.toolkit_on_path.as_deref().unwrap_or("not found")
            ));
        }
        for warning in &self.warnings {
            out.push(format!("gpu warning   {warning}"));
        }
        out.push(self.verdict.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> Report {
        Report {
            dimtensor_up: "0.1.0",
            config_file: "/c/config.toml".into(),
            engine: EngineReport {
                address: Address::Unix("/var/run/docker.sock".into()),
                chosen_by: Source::Default,
                reachable: false,
                error: Some("no container engine answers on this machine".into()),
                tried: vec![Tried::Cause("unix:///var/run/docker.sock (rootful Docker): no socket".into())],
                details: None,
            },
            port_8888_free: true,
            gpu: GpuReport {
                host: Some(HostGpuState { problem: Some("no NVIDIA driver".into()), ..Default::default() }),
                driver_cuda: None,
                engine: None,
                labs_need: vec![],
                warnings: vec![],
                usable: false,
                verdict: "GPU usable: unknown (the engine is unreachable)".into(),
            },
            auto_lab: None,
            images: None,
        }
    }

    #[test]
    fn an_unreachable_engine_reads_the_same_as_text_and_json() {
        let report = unreachable();
        assert_eq!(
            report.text(),
            "dimtensor-up 0.1.0   settings: /c/config.toml\n\
             engine        unix:///var/run/docker.sock (chosen by default)\n\
             \x20 tried       unix:///var/run/docker.sock (rootful Docker): no socket\n\
             \x20 unreachable: no container engine answers on this machine\n\
             gpu host      no NVIDIA driver\n\
             GPU usable: unknown (the engine is unreachable)\n\
             port 8888     free on 127.0.0.1\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["engine"]["address"], "unix:///var/run/docker.sock");
        assert_eq!(json["engine"]["chosen_by"], "default");
        assert_eq!(json["engine"]["reachable"], false);
        assert_eq!(json["engine"]["tried"][0], "unix:///var/run/docker.sock (rootful Docker): no socket");
        assert_eq!(json["gpu"]["usable"], false);
        assert!(json.get("images").is_none() && json["engine"].get("product").is_none());
    }

    #[test]
    fn a_reachable_engine_has_its_details_flat_in_the_engine_object() {
        let mut report = unreachable();
        report.engine.reachable = true;
        report.engine.error = None;
        report.engine.tried = vec![Tried::Socket(discover::Tried {
            address: "unix:///var/run/docker.sock".into(),
            label: "rootful Docker".into(),
            problem: None,
        })];
        report.engine.details = Some(EngineDetails {
            product: Product::Podman,
            server_version: "4.3.1".into(),
            api_version: "1.41".into(),
            server_api_version: "1.41".into(),
            os: Some("debian".into()),
            os_type: Some("linux".into()),
            arch: Some("amd64".into()),
            rootless: true,
            docker_desktop: false,
            vm: Some(Vm::PodmanMachine),
            storage_driver: Some("overlay".into()),
            data_root: "/var/lib/containers".into(),
            data_root_free_bytes: Some(12_300_000_000),
            create_api: CreateApi::Libpod,
            gpu_form: GpuForm::Cdi,
            builder: Builder::Classic,
        });
        report.images = Some(BTreeMap::from([("base".to_string(), true), ("ml".to_string(), false)]));
        let text = report.text();
        assert!(
            text.contains("  tried       unix:///var/run/docker.sock (rootful Docker): answered\n"),
            "{text}"
        );
        assert!(text.contains("  version     Podman 4.3.1 (API 1.41; using 1.41), rootless\n"), "{text}");
        assert!(text.contains("  disk        12.3 GB free in /var/lib/containers\n"), "{text}");
        assert!(
            text.contains("  vm          podman machine: rootless Podman in its VM as your UID"),
            "{text}"
        );
        assert!(text.contains("images        base ✓  ml -\n"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["engine"]["product"], "podman");
        assert_eq!(json["engine"]["rootless"], true);
        assert_eq!(json["engine"]["vm"], "podman-machine");
        assert_eq!(json["engine"]["create_api"], "libpod");
        assert_eq!(json["engine"]["tried"][0]["label"], "rootful Docker");
        assert_eq!(json["images"]["base"], true);
        // The whole of both, as a user reads them.
        insta::assert_snapshot!("doctor_text_reachable", text);
        insta::assert_snapshot!("doctor_json_reachable", serde_json::to_string_pretty(&json).unwrap());
    }
}
