//! `dimtensor-up config show|path|set`.

use crate::base::error::Result;
use crate::spec::cli::{ConfigAction, ConfigArgs, GlobalArgs};

pub fn run(global: &GlobalArgs, args: ConfigArgs) -> Result<u8> {
    let (mut config, path) = crate::spec::config::load()?;
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
            crate::base::reporter::Reporter::new(global.quiet, global.verbose)
                .note(format!("set {key} = {value} in {}", path.display()));
        }
    }
    Ok(0)
}
