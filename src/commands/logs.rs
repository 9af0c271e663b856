//! `dimtensor-up logs`: a server's log, tokens masked.

use futures_util::StreamExt;

use crate::base::error::{Error, Result};
use crate::spec::cli::{GlobalArgs, LogsArgs};

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> Result<u8> {
    use bollard::query_parameters::LogsOptionsBuilder;
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let server = crate::lab::target(&engine, args.name.as_deref(), None).await?;
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).follow(args.follow).build();
    let mut stream = engine.docker.logs(&server.id, Some(opts));
    // One signal future for the whole run: no Ctrl-C falls between two lines.
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(chunk)) => {
                    for line in chunk.to_string().lines() {
                        println!("{}", crate::lab::mask_tokens(line));
                    }
                }
                Some(Err(e)) => return Err(engine.fail("reading the log", e)),
                None => {
                    // The log of a stopped lab ends with why it stopped, where that is known.
                    if let Some(reason) = crate::lab::stop_reason(&engine, &server.id).await {
                        let said = match reason.into_outcome(server.idle_timeout) {
                            Ok(note) => note,
                            Err(err) => format!("{}; {}", err.message, err.hint.unwrap_or_default()),
                        };
                        crate::base::reporter::Reporter::new(global.quiet, global.verbose).note(said);
                    }
                    return Ok(0);
                }
            },
            _ = &mut stop => return Err(Error::interrupted()),
        }
    }
}
