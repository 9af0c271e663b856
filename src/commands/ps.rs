//! `dimtensor-up ps`: the servers dimtensor-up started.

use crate::cli::{GlobalArgs, PsArgs};
use crate::error::Result;

pub async fn run(global: &GlobalArgs, args: PsArgs) -> Result<u8> {
    let engine = super::connect(global).await?;
    let servers = crate::lab::list(&engine).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&servers).expect("servers serialise"));
        return Ok(0);
    }
    if servers.is_empty() {
        eprintln!("no dimtensor-up servers (start one with `dimtensor-up jupyter`)");
        return Ok(0);
    }
    println!("{:<40} {:<9} {:<8} {:<21} {:<6} FOLDER", "NAME", "STATE", "VARIANT", "ADDRESS", "GPUS");
    for s in servers {
        println!(
            "{:<40} {:<9} {:<8} {:<21} {:<6} {}",
            s.name,
            s.state,
            s.variant,
            format!("{}:{}", s.listen, s.port),
            s.gpus,
            s.workdir
        );
    }
    Ok(0)
}
