//! The tool's one error type: a message, the causes under it and a hint, printed the way uv
//! prints them, with an exit code per kind so scripts can tell failures apart.

use std::fmt;

use anstyle::{AnsiColor, Style};

/// The styles of the words `error`, `Caused by`, `hint` and `warning`.
pub const ERROR_STYLE: Style = AnsiColor::Red.on_default().bold();
pub const HINT_STYLE: Style = AnsiColor::Cyan.on_default().bold();
pub const WARNING_STYLE: Style = AnsiColor::Yellow.on_default().bold();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad flags, values or paths: nothing was touched.
    Usage,
    /// The Docker engine could not be reached or refused a request.
    Engine,
    /// An image could not be found, pulled or built.
    Image,
    /// The container failed to start or Jupyter never became ready.
    Container,
    /// The settings file is malformed or cannot be written.
    Config,
    /// GPUs were asked for and cannot be given.
    Gpu,
    /// Ctrl-C.
    Interrupted,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => 2,
            Kind::Engine => 3,
            Kind::Image => 4,
            Kind::Container => 5,
            Kind::Config => 6,
            Kind::Gpu => 7,
            Kind::Interrupted => 130,
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), causes: Vec::new(), hint: None }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn interrupted() -> Self {
        Self::new(Kind::Interrupted, "interrupted")
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        let text = cause.to_string();
        // A chain often repeats itself ("client error: X", then "X"): keep the first wording.
        if !text.is_empty() && !self.causes.iter().any(|c| c.contains(&text)) {
            self.causes.push(text);
        }
        self
    }
    /// Adds the cause chain of a std error (its Display, then each `source()`).
    pub fn caused_by(mut self, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut next = Some(err);
        while let Some(e) = next {
            self = self.cause(e);
            next = e.source();
        }
        self
    }

    /// Renders the error with colour codes; `print` strips them where colour is not wanted.
    pub fn render(&self) -> String {
        let mut out = format!("{}: {}\n", paint(ERROR_STYLE, "error"), self.message);
        for cause in &self.causes {
            out.push_str(&format!("  {}: {}\n", paint(ERROR_STYLE, "Caused by"), cause));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("{}: {}\n", paint(HINT_STYLE, "hint"), hint));
        }
        out
    }

    /// On stderr, in colour only where the conventions allow it (a terminal, no NO_COLOR;
    /// CLICOLOR_FORCE forces it), through anstream.
    pub fn print(&self) {
        anstream::eprint!("{}", self.render());
    }
}

/// `text` in `style`.
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The first I/O error kind in an error's source chain (how bollard reports socket trouble).
pub fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        // bollard's own I/O variant is transparent: its source is the I/O error's source.
        if let Some(bollard::errors::Error::IOError { err }) = e.downcast_ref::<bollard::errors::Error>() {
            return Some(err.kind());
        }
        next = e.source();
    }
    None
}

/// A Docker API error's status code and message, when the engine answered with one.
pub fn api_status(err: &bollard::errors::Error) -> Option<(u16, &str)> {
    match err {
        bollard::errors::Error::DockerResponseServerError { status_code, message } => {
            Some((*status_code, message.as_str()))
        }
        _ => None,
    }
}

/// What the engine said: its own message when it answered with one (a status or a stream error).
pub fn engine_message(err: &bollard::errors::Error) -> String {
    match err {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// The first line of an engine's (often multi-line) message, trimmed.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// What an engine's or registry's message means, where the meaning decides what happens next.
/// One table, read in order (the first match wins), tested against captured messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineSays {
    /// The host port is taken (Docker, Podman's rootlessport).
    PortTaken,
    /// The container name is taken (Podman's own API; Docker answers 409).
    NameInUse,
    /// The engine cannot give the container GPUs (no NVIDIA runtime, no CDI spec).
    NoGpuSupport,
    /// The registry wants a login, or refused the one given.
    RegistryLogin,
    /// The registry has no such image or tag.
    NotInRegistry,
    /// The registry cannot be reached.
    RegistryUnreachable,
    /// A TLS handshake or certificate failed.
    Tls,
    Other,
}

const ENGINE_SAYS: &[(&str, EngineSays)] = &[
    ("port is already allocated", EngineSays::PortTaken),
    ("address already in use", EngineSays::PortTaken),
    ("is already in use", EngineSays::NameInUse),
    ("could not select device driver", EngineSays::NoGpuSupport),
    ("nvidia-container-cli", EngineSays::NoGpuSupport),
    ("unresolvable cdi devices", EngineSays::NoGpuSupport),
    ("unauthorized", EngineSays::RegistryLogin),
    ("denied", EngineSays::RegistryLogin),
    ("authentication required", EngineSays::RegistryLogin),
    ("no basic auth credentials", EngineSays::RegistryLogin),
    ("not found", EngineSays::NotInRegistry),
    ("manifest unknown", EngineSays::NotInRegistry),
    ("lookup", EngineSays::RegistryUnreachable),
    ("dial tcp", EngineSays::RegistryUnreachable),
    ("timeout", EngineSays::RegistryUnreachable),
    ("connection refused", EngineSays::RegistryUnreachable),
    ("no such host", EngineSays::RegistryUnreachable),
    ("network is unreachable", EngineSays::RegistryUnreachable),
    ("tls", EngineSays::Tls),
    ("certificate", EngineSays::Tls),
    ("handshake", EngineSays::Tls),
    ("corrupt message", EngineSays::Tls),
];

impl EngineSays {
    /// The first meaning the table finds in `message`.
    pub fn of(message: &str) -> EngineSays {
        let lower = message.to_lowercase();
        ENGINE_SAYS
            .iter()
            .find(|(words, _)| lower.contains(words))
            .map_or(EngineSays::Other, |(_, says)| *says)
    }
    /// Whether `message` has any of this meaning's words, whatever else it says ("TLS handshake
    /// timeout" is a TLS failure, though it also reads as an unreachable registry).
    pub fn in_message(self, message: &str) -> bool {
        let lower = message.to_lowercase();
        ENGINE_SAYS.iter().any(|(words, says)| *says == self && lower.contains(words))
    }
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP (the terminal closed): all mean "stop cleanly". The
/// handlers are in place once this returns, before the future is first polled: a Ctrl-C that
/// comes while a command has not started waiting on it yet (right after a URL is printed) is
/// kept for it, never the default action that kills the process.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        {
            (Ok(int), Ok(term), Ok(hup)) => Some((int, term, hup)),
            _ => None,
        }
    };
    async move {
        #[cfg(unix)]
        if let Some((mut int, mut term, mut hup)) = streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_signal_before_the_first_poll_is_kept_for_it() {
        // SIGHUP, not SIGINT: tokio keeps its handler for the process, and a Ctrl-C should still
        // stop the test binary.
        let stop = stop_signal();
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::HUP).unwrap();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(5), stop).await;
        assert!(waited.is_ok(), "the signal that came before the first poll ends the wait");
    }

    #[test]
    fn renders_error_causes_and_hint_without_colour() {
        let err = Error::usage("unknown variant `gpu`")
            .cause("expected one of base, ml, full, jupyter")
            .hint("run `dimtensor-up variants` to list them");
        let plain = anstream::adapter::strip_str(&err.render()).to_string();
        assert_eq!(
            plain,
            "error: unknown variant `gpu`\n  Caused by: expected one of base, ml, full, jupyter\nhint: run `dimtensor-up variants` to list them\n"
        );
        assert!(err.render().contains("\x1b[1m\x1b[31merror\x1b[0m"), "{:?}", err.render());
    }

    #[test]
    fn io_kinds_are_found_through_bollards_io_variant() {
        let err = bollard::errors::Error::IOError { err: std::io::ErrorKind::PermissionDenied.into() };
        assert_eq!(io_kind(&err), Some(std::io::ErrorKind::PermissionDenied));
        assert_eq!(io_kind(&std::fmt::Error), None);
    }

    #[test]
    fn engine_messages_mean_what_the_table_says() {
        use EngineSays::*;
        for (message, says) in [
            ("driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:8888 failed: port is already allocated", PortTaken),
            ("rootlessport listen tcp 127.0.0.1:8888: bind: address already in use", PortTaken),
            ("creating container storage: the container name \"dimtensor-up-x\" is already in use by abc. You have to remove that container to be able to reuse that name: that name is already in use", NameInUse),
            ("could not select device driver \"\" with capabilities: [[gpu]]", NoGpuSupport),
            ("OCI runtime create failed: nvidia-container-cli: initialization error: nvml error: driver not loaded", NoGpuSupport),
            ("setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all", NoGpuSupport),
            ("Head \"https://ghcr.io/v2/x/manifests/jupyter\": unauthorized", RegistryLogin),
            ("pull access denied for x, repository does not exist or may require 'docker login'", RegistryLogin),
            ("Get \"https://172.31.213.2:5000/v2/\": no basic auth credentials", RegistryLogin),
            ("manifest for ghcr.io/x:nope not found: manifest unknown: manifest unknown", NotInRegistry),
            ("Get \"https://ghcr.io/v2/\": dial tcp: lookup ghcr.io on 127.0.0.53:53: server misbehaving", RegistryUnreachable),
            ("Get \"https://r/v2/\": net/http: request canceled (Client.Timeout exceeded)", RegistryUnreachable),
            ("error trying to connect: received corrupt message of type InvalidContentType", Tls),
            ("invalid peer certificate: UnknownIssuer", Tls),
            ("no such image", Other),
        ] {
            assert_eq!(EngineSays::of(message), says, "{message}");
        }
        assert_eq!(first_line("  one\ntwo"), "one");
        assert_eq!(EngineSays::of("net/http: TLS handshake timeout"), RegistryUnreachable);
        assert!(Tls.in_message("net/http: TLS handshake timeout") && !Tls.in_message("no such host"));
    }

    #[test]
    fn exit_codes_are_distinct() {
        let kinds = [
            Kind::Usage,
            Kind::Engine,
            Kind::Image,
            Kind::Container,
            Kind::Config,
            Kind::Gpu,
            Kind::Interrupted,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0) && !codes.contains(&1));
    }
}
