//! `dimtensor-up variants`: the image table for the engine's platform, with what is present.

use serde_json::json;

use crate::catalog::Platforms;
use crate::catalog::IMAGES;
use crate::cli::{GlobalArgs, JsonArgs};
use crate::error::Result;
use crate::image::Presence;

pub async fn run(global: &GlobalArgs, args: JsonArgs) -> Result<u8> {
    let (config, _) = crate::config::load()?;
    let requested = config.platform(None)?;
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let arch = Platforms::new(engine.platform().await?, requested).images;
    let mut rows = Vec::new();
    for spec in &IMAGES {
        let reference = spec.id.reference(config.registry());
        // A local image for another architecture is not this platform's (one tag holds one).
        let (local, repo_digests) = match engine.docker.inspect_image(&reference).await {
            Ok(img) => (Some((img.size, img.architecture)), img.repo_digests.unwrap_or_default()),
            Err(_) => (None, vec![]),
        };
        let repository = crate::registry::repository_of(&reference);
        let digest = crate::registry::pulled_digest(&repo_digests, repository);
        let local_arch = local.as_ref().and_then(|(_, a)| a.clone());
        let usable = local.is_some() && Presence::of(local_arch.as_deref(), arch) == Presence::Present;
        rows.push(json!({
            "name": spec.tag, "image": reference, "target": spec.target, "jupyter_on": spec.jupyter_on,
            "platform": arch.platform(), "cuda": spec.has_cuda(arch), "summary": spec.summary,
            "for": spec.for_whom, "approx_size": spec.size_on(arch), "present": usable,
            "local_size_bytes": local.as_ref().and_then(|(size, _)| *size), "local_architecture": local_arch,
            "digest": digest,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
        return Ok(0);
    }
    println!("images for {} (sizes measured on that platform)", arch.platform());
    println!("{:<13} {:<8} {:<5} {:<14} {:<19} SUMMARY", "NAME", "SIZE", "CUDA", "LOCAL", "DIGEST");
    for (spec, row) in IMAGES.iter().zip(&rows) {
        let local = match (
            row["local_size_bytes"].as_i64(),
            row["present"].as_bool(),
            row["local_architecture"].as_str(),
        ) {
            (Some(b), Some(true), _) => format!("{:.1} GB", b as f64 / 1e9),
            (Some(_), _, Some(other)) => format!("- ({other} here)"),
            _ => "-".into(),
        };
        println!(
            "{:<13} {:<8} {:<5} {:<14} {:<19} {} ({})",
            spec.tag,
            spec.size_on(arch),
            if spec.has_cuda(arch) { "yes" } else { "no" },
            local,
            crate::registry::shown_digest(row["digest"].as_str()),
            spec.summary,
            spec.for_whom
        );
    }
    Ok(0)
}
