//! What `--gpus` asks for (`GpuRequest`) and what gets attached (`GpuAttach`, as the Engine API
//! and CDI name it).

use serde::Serialize;

use super::cdi::CDI_KIND;
use crate::base::error::{Error, Result};
use crate::engine::model::GpuForm;

/// What the user asked for with `--gpus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuRequest {
    Auto,
    All,
    None,
    Count(u32),
    Devices(Vec<String>),
}

impl GpuRequest {
    pub fn parse(text: &str) -> Result<GpuRequest> {
        let bad = || {
            Error::usage(format!("invalid --gpus value `{text}`"))
                .hint("use auto, all, none, a count such as 2, or device=0,1 (GPU indexes, UUIDs, MIG UUIDs or GPU:MIG such as 0:1)")
        };
        let t = text.trim();
        Ok(match t {
            "auto" => GpuRequest::Auto,
            "all" => GpuRequest::All,
            "none" | "0" => GpuRequest::None,
            _ if t.starts_with("device=") => {
                let ids: Vec<String> =
                    t["device=".len()..].split(',').map(|s| s.trim().to_string()).collect();
                if ids.iter().any(|id| {
                    id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
                }) {
                    return Err(bad());
                }
                GpuRequest::Devices(ids)
            }
            _ => match t.parse::<u32>() {
                Ok(n) => GpuRequest::Count(n),
                Err(_) => return Err(bad()),
            },
        })
    }
    /// The text `parse` takes back (the settings file keeps it).
    pub fn text(&self) -> String {
        match self {
            GpuRequest::Auto => "auto".into(),
            GpuRequest::All => "all".into(),
            GpuRequest::None => "none".into(),
            GpuRequest::Count(n) => n.to_string(),
            GpuRequest::Devices(ids) => format!("device={}", ids.join(",")),
        }
    }
}

/// What gets attached: the Engine API's DeviceRequest, as `docker run --gpus` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuAttach {
    None,
    All,
    Count(u32),
    Devices(Vec<String>),
}

impl GpuAttach {
    /// The Engine API's DeviceRequest: `docker run --gpus` for the NVIDIA toolkit, or the CDI
    /// driver's form (Docker 25+, Podman 5.5+) with CDI device names.
    pub fn device_request(&self, form: GpuForm) -> Option<bollard::models::DeviceRequest> {
        if *self == GpuAttach::None {
            return None;
        }
        if form == GpuForm::Cdi {
            return Some(bollard::models::DeviceRequest {
                driver: Some("cdi".into()),
                device_ids: Some(self.cdi_names()),
                ..Default::default()
            });
        }
        let (count, ids) = match self {
            GpuAttach::None => return None,
            GpuAttach::All => (Some(-1), None),
            GpuAttach::Count(n) => (Some(i64::from(*n)), None),
            GpuAttach::Devices(ids) => (None, Some(ids.clone())),
        };
        Some(bollard::models::DeviceRequest {
            driver: Some(String::new()),
            count,
            device_ids: ids,
            capabilities: Some(vec![vec!["gpu".to_string()]]),
            options: Some(Default::default()),
        })
    }
    /// CDI device names (`nvidia.com/gpu=all`, `nvidia.com/gpu=0`); a count takes the first N
    /// indexes, since CDI has no "any N".
    pub fn cdi_names(&self) -> Vec<String> {
        let name = |id: &str| format!("{CDI_KIND}={id}");
        match self {
            GpuAttach::None => vec![],
            GpuAttach::All => vec![name("all")],
            GpuAttach::Count(n) => (0..*n).map(|i| name(&i.to_string())).collect(),
            GpuAttach::Devices(ids) => ids.iter().map(|id| name(id)).collect(),
        }
    }
    /// No GPU decided: `NVIDIA_VISIBLE_DEVICES=void`, since the GPU images set it to `all`, which an
    /// nvidia *default* runtime would honour without any device request.
    pub fn env(&self) -> Option<(&'static str, &'static str)> {
        (*self == GpuAttach::None).then_some(("NVIDIA_VISIBLE_DEVICES", "void"))
    }
    pub fn describe(&self) -> String {
        match self {
            GpuAttach::None => "none".into(),
            GpuAttach::All => "all".into(),
            GpuAttach::Count(n) => n.to_string(),
            GpuAttach::Devices(ids) => format!("device={}", ids.join(",")),
        }
    }
}
