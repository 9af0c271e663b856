//! `dimtensor-up doctor`: what a user runs first when something is off.

use serde_json::{json, Value};

use crate::catalog::IMAGES;
use crate::cli::{GlobalArgs, JsonArgs};
use crate::engine::{resolve_from_env, Engine};
use crate::error::Result;
use crate::fit::GpuOutlook;
use crate::gpu;
use crate::ports::{port_is_free, FIRST_PORT};

pub async fn run(global: &GlobalArgs, args: JsonArgs) -> Result<u8> {
    let (config, config_path) = crate::config::load()?;
    let endpoint = resolve_from_env(global.host.as_deref())?;
    let port_free = port_is_free([127, 0, 0, 1].into(), FIRST_PORT);
    let mut report = json!({
        "dimtensor_up": env!("CARGO_PKG_VERSION"),
        "config_file": config_path.display().to_string(),
        "engine": { "address": endpoint.address, "chosen_by": endpoint.source, "reachable": false },
        "port_8888_free": port_free,
    });
    let engine = match Engine::connect(global.host.as_deref()).await {
        Ok(engine) => engine,
        Err(err) => {
            report["engine"]["error"] = json!(err.message);
            report["engine"]["tried"] = json!(err.causes);
            let host_gpu = endpoint.is_local().then(gpu::probe_host);
            report["gpu"] = json!({ "host": host_gpu, "usable": false, "verdict": "GPU usable: unknown (the engine is unreachable)" });
            print_report(&report, args.json);
            return Err(err);
        }
    };
    let info = engine.info().await?;
    let model = engine.model().await?;
    let (host_gpu, toolkit) = engine.host.probe_gpus().await;
    let engine_gpu = gpu::engine_state(Some(info), model, toolkit);
    let decision = gpu::decide(&gpu::GpuRequest::Auto, host_gpu.as_ref(), &engine_gpu, true, "ml");
    let outlook = match &decision {
        Ok(d) => GpuOutlook::of(d),
        Err(e) => GpuOutlook::Unusable(e.message.clone()),
    };
    let (usable, verdict) = match &outlook {
        GpuOutlook::Usable => (true, "yes: the labs with CUDA get all GPUs with --gpus auto".to_string()),
        GpuOutlook::Unusable(why) => (false, format!("no because {why}")),
    };
    // What `jupyter` would start here with no --variant (the same rule, the same outlook).
    let auto_lab = engine.platform().await.ok().map(|arch| crate::fit::auto_lab_line(arch, &outlook));
    let data_root = info.docker_root_dir.clone().unwrap_or_default();
    let free_disk = match engine.host.ssh() {
        // Over ssh, the remote's disk: `df -Pk` prints free KiB in its fourth column.
        Some(target) => target
            .run(&format!("df -Pk {} | tail -n 1", crate::sys::sh_quote(&data_root)), None)
            .await
            .ok()
            .and_then(|out| out.split_whitespace().nth(3).and_then(|k| k.parse::<u64>().ok()))
            .map(|kib| kib * 1024),
        None if model.local => crate::sys::free_bytes(&data_root),
        None => None,
    };
    let mut images = serde_json::Map::new();
    for spec in &IMAGES {
        let reference = spec.id.reference(config.registry());
        images.insert(spec.tag.to_string(), json!(engine.docker.inspect_image(&reference).await.is_ok()));
    }
    let identity = &engine.identity;
    report["engine"] = json!({
        "address": engine.endpoint.address, "chosen_by": engine.endpoint.source, "reachable": true,
        "tried": engine.tried,
        "product": model.product, "server_version": identity.version,
        "api_version": engine.docker.client_version().to_string(),
        "server_api_version": identity.api_version, "os": info.operating_system, "os_type": info.os_type,
        "arch": info.architecture, "rootless": model.rootless, "storage_driver": info.driver,
        "data_root": data_root, "data_root_free_bytes": free_disk,
        "create_api": model.create_api(), "gpu_form": model.gpu_form(), "builder": model.builder(),
    });
    report["gpu"] = json!({ "host": host_gpu, "engine": engine_gpu, "usable": usable, "verdict": format!("GPU usable: {verdict}") });
    report["engine"]["docker_desktop"] = json!(model.desktop);
    report["auto_lab"] = json!(auto_lab);
    report["images"] = Value::Object(images);
    print_report(&report, args.json);
    Ok(0)
}

fn print_report(r: &Value, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).expect("json"));
        return;
    }
    let e = &r["engine"];
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    println!("dimtensor-up {}   settings: {}", s(&r["dimtensor_up"]), s(&r["config_file"]));
    println!("engine        {} (chosen by {})", s(&e["address"]), s(&e["chosen_by"]));
    // Discovery: what was tried before the engine that answered (or all of it, when none did).
    for tried in e["tried"].as_array().into_iter().flatten() {
        match tried.as_object() {
            Some(t) => println!(
                "  tried       {} ({}): {}",
                s(&t["address"]),
                s(&t["label"]),
                t["problem"].as_str().unwrap_or("answered")
            ),
            None => println!("  tried       {}", s(tried)),
        }
    }
    if e["reachable"] == json!(true) {
        let product = if e["product"] == json!("podman") { "Podman" } else { "Docker" };
        println!(
            "  version     {product} {} (API {}; using {}), {}",
            s(&e["server_version"]),
            s(&e["server_api_version"]),
            s(&e["api_version"]),
            if e["rootless"] == json!(true) { "rootless" } else { "rootful" }
        );
        println!(
            "  system      {} {} ({}), storage {}",
            s(&e["os"]),
            s(&e["arch"]),
            s(&e["os_type"]),
            s(&e["storage_driver"]),
        );
        if let Some(free) = e["data_root_free_bytes"].as_u64() {
            println!("  disk        {:.1} GB free in {}", free as f64 / 1e9, s(&e["data_root"]));
        }
    } else {
        println!("  unreachable: {}", s(&e["error"]));
    }
    if let Some(host) = r["gpu"]["host"].as_object() {
        match host.get("driver_version").and_then(Value::as_str) {
            Some(d) => println!(
                "gpu host      NVIDIA driver {d}, {} GPU(s)",
                host["gpus"].as_array().map(Vec::len).unwrap_or(0)
            ),
            None => println!(
                "gpu host      {}",
                host.get("problem").and_then(Value::as_str).unwrap_or("no NVIDIA GPU")
            ),
        }
    }
    if let Some(eg) = r["gpu"]["engine"].as_object() {
        println!(
            "gpu engine    nvidia runtime: {}, CDI: {}, toolkit: {}",
            eg["nvidia_runtime"],
            eg["cdi_spec_dirs"],
            eg["toolkit_on_path"].as_str().unwrap_or("not found")
        );
    }
    println!("{}", s(&r["gpu"]["verdict"]));
    if let Some(lab) = r["auto_lab"].as_str() {
        println!("{lab}");
    }
    if let Some(images) = r["images"].as_object() {
        let line: Vec<String> = images
            .iter()
            .map(|(k, v)| format!("{k} {}", if v == &json!(true) { "✓" } else { "-" }))
            .collect();
        println!("images        {}", line.join("  "));
    }
    println!(
        "port 8888     {}",
        if r["port_8888_free"] == json!(true) {
            "free on 127.0.0.1"
        } else {
            "in use on 127.0.0.1 (jupyter picks the next free one)"
        }
    );
}
