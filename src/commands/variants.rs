//! `dimtensor-up variants`: the image table, with what is present locally.

use serde_json::json;

use crate::catalog::IMAGES;
use crate::cli::{GlobalArgs, JsonArgs};
use crate::error::Result;

pub async fn run(global: &GlobalArgs, args: JsonArgs) -> Result<u8> {
    let (config, _) = super::load_config()?;
    let engine = super::connect(global).await?;
    let mut rows = Vec::new();
    for spec in &IMAGES {
        let reference = spec.id.reference(config.registry());
        let size = match engine.docker.inspect_image(&reference).await {
            Ok(img) => img.size,
            Err(_) => None,
        };
        rows.push(json!({
            "name": spec.tag, "image": reference, "target": spec.target, "jupyter_on": spec.jupyter_on,
            "gpu_capable": spec.gpu_capable, "summary": spec.summary, "for": spec.for_whom,
            "approx_size": spec.approx_size, "present": size.is_some(), "local_size_bytes": size,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
        return Ok(0);
    }
    println!("{:<13} {:<8} {:<4} {:<10} SUMMARY", "NAME", "SIZE", "GPU", "LOCAL");
    for (spec, row) in IMAGES.iter().zip(&rows) {
        let local = row["local_size_bytes"]
            .as_i64()
            .map(|b| format!("{:.1} GB", b as f64 / 1e9))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<13} {:<8} {:<4} {:<10} {} ({})",
            spec.tag,
            spec.approx_size,
            if spec.gpu_capable { "yes" } else { "no" },
            local,
            spec.summary,
            spec.for_whom
        );
    }
    Ok(0)
}
