//! Finding the cluster as kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list of files,
//! merged), else `~/.kube/config`, else the pod's service account when running in a cluster.
//! `--context` picks a context, `-n` overrides its namespace.

use std::path::PathBuf;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::Client;

/// The User-Agent of every request.
pub const USER_AGENT: &str = concat!("netpol-tui/", env!("CARGO_PKG_VERSION"));

/// What the user asked to connect to.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// A client for one context.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The context's name, or `in-cluster`.
    pub context: String,
    pub server: String,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
    /// Every context of the kubeconfig, for `:ctx`.
    pub contexts: Vec<String>,
}

/// A failure to connect, worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LiveError(pub String);

/// An error with its causes, `a: b: c`, without repeating a cause already in the text.
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Reads the kubeconfig the way kubectl does. `Ok(None)` when there is none at all.
pub fn kubeconfig(target: &Target) -> Result<Option<Kubeconfig>, LiveError> {
    if let Some(path) = &target.kubeconfig {
        return read(path, "--kubeconfig ").map(Some);
    }
    if let Some(paths) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let mut merged: Option<Kubeconfig> = None;
        let listed: Vec<PathBuf> = std::env::split_paths(&paths)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        for path in &listed {
            // kubectl skips files of the list that do not exist.
            if !path.exists() {
                continue;
            }
            let next = read(path, "KUBECONFIG ")?;
            merged = Some(match merged {
                None => next,
                Some(m) => m.merge(next).map_err(|e| {
                    LiveError(format!("KUBECONFIG {}: {}", path.display(), chain(&e)))
                })?,
            });
        }
        if merged.is_none() {
            let tried: Vec<String> = listed.iter().map(|p| p.display().to_string()).collect();
            return Err(LiveError(format!(
                "KUBECONFIG={}: no such file{}",
                std::env::var_os("KUBECONFIG")
                    .unwrap_or_default()
                    .to_string_lossy(),
                if tried.len() > 1 {
                    " (none of the listed files exists)"
                } else {
                    ""
                }
            )));
        }
        return Ok(merged);
    }
    let Some(home) = dirs::home_dir() else {
        return Ok(None);
    };
    let path = home.join(".kube").join("config");
    if !path.exists() {
        return Ok(None);
    }
    read(&path, "").map(Some)
}

/// Reads one kubeconfig file; errors start with `what` and the path, once, unquoted.
fn read(path: &std::path::Path, what: &str) -> Result<Kubeconfig, LiveError> {
    let fail = |why: String| LiveError(format!("{what}{}: {why}", path.display()));
    // The file's own error first: kube's message quotes the path twice.
    std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    Kubeconfig::read_from(path).map_err(|e| match e {
        kube::config::KubeconfigError::ReadConfig(io, _) => fail(io.to_string()),
        other => fail(chain(&other)),
    })
}

/// Connects to `target`'s context. No request is sent yet.
pub async fn connect(target: &Target) -> Result<Connection, LiveError> {
    let (config, context, contexts) =
        match kubeconfig(target)? {
            Some(kc) => {
                let contexts: Vec<String> = kc.contexts.iter().map(|c| c.name.clone()).collect();
                let context = match target.context.clone().or(kc.current_context.clone()) {
                    Some(c) if !c.is_empty() => c,
                    _ => {
                        return Err(LiveError(format!(
                            "the kubeconfig has no current-context; choose one with --context: {}",
                            list_or_none(&contexts)
                        )))
                    }
                };
                if !contexts.contains(&context) {
                    return Err(LiveError(format!(
                        "no context {context:?} in the kubeconfig; there are: {}",
                        list_or_none(&contexts)
                    )));
                }
                let options = KubeConfigOptions {
                    context: Some(context.clone()),
                    ..KubeConfigOptions::default()
                };
                let config = Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| LiveError(format!("context {context}: {}", chain(&e))))?;
                (config, context, contexts)
            }
            None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
                if target.context.is_some() {
                    return Err(LiveError(
                        "--context: there is no kubeconfig, only the pod's service account".into(),
                    ));
                }
                let config = Config::incluster()
                    .map_err(|e| LiveError(format!("in-cluster configuration: {}", chain(&e))))?;
                (config, "in-cluster".to_string(), Vec::new())
            }
            None => return Err(LiveError(
                "no cluster: no kubeconfig (--kubeconfig, KUBECONFIG or ~/.kube/config) and not \
                 running in a pod; for manifests use -f PATH, or --demo"
                    .into(),
            )),
        };
    let namespace = target
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    let mut config = config;
    // So that cluster admins can find this tool's requests in the audit log.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    let client = Client::try_from(config)
        .map_err(|e| LiveError(format!("context {context}: {}", chain(&e))))?;
    Ok(Connection {
        client,
        context,
        server: server.trim_end_matches('/').to_string(),
        namespace,
        contexts,
    })
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}
