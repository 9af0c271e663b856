//! `dimtensor-up config show|path|set`.

use crate::cli::{ConfigAction, ConfigArgs};
use crate::error::Result;

pub fn run(args: ConfigArgs) -> Result<u8> {
    let (mut config, path) = crate::config::load()?;
    match args.action {
        ConfigAction::Path => println!("{}", path.display()),
        ConfigAction::Show => {
            println!("# {}", path.display());
            print!("{}", toml::to_string(&config).expect("settings serialise"));
            println!("# registry in effect: {}", config.registry());
        }
        ConfigAction::Set { key, value } => {
            config.set(&key, &value)?;
            config.save(&path)?;
            eprintln!("set {key} = {value} in {}", path.display());
        }
    }
    Ok(0)
}
