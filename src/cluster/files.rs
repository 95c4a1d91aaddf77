//! The files source: YAML and JSON manifests from files, directories and stdin, as written
//! by hand, rendered by Helm, or printed by `kubectl get -o yaml`.
//!
//! Every bad object is reported with file, line, document, object and field, and nothing is
//! loaded when any object is bad: a partial world would give confidently wrong verdicts.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::discovery::v1::EndpointSlice as EndpointSliceObject;
use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, core::v1 as core, networking::v1 as net,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::convert;
use super::yaml_lines;
use super::World;
use crate::policy::audit::{Change, Staged};
use crate::policy::compile::{compile_network_policy, FieldError};
use crate::policy::model::{
    attach_endpoints, EndpointSlice, Inventory, Namespace, Node, Origin, Pod, Policy, Service,
    ServiceAccount,
};
use crate::policy::set::PolicySet;

/// Namespace of namespaced objects that do not name one, as kubectl does without `-n`.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A manifest input: a file or directory, or standard input (`-f -`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

impl Input {
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

/// One problem with the input, pointing at where to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// Line of the offending field (or of the document, or of a syntax error).
    pub line: Option<usize>,
    /// 1-based index of the document in its file, and its first line.
    pub document: Option<(usize, Option<usize>)>,
    /// `Kind namespace/name` of the object, when known.
    pub object: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(":")?;
        if let Some(object) = &self.object {
            write!(f, " {object}")?;
        }
        if let Some((doc, doc_line)) = self.document {
            match doc_line {
                Some(l) => write!(f, " (document {doc}, line {l})")?,
                None => write!(f, " (document {doc})")?,
            }
        }
        if self.object.is_some() || self.document.is_some() {
            f.write_str(":")?;
        }
        if let Some(field) = &self.field {
            write!(f, " {field}:")?;
        }
        write!(f, " {}", self.message)
    }
}

/// All problems found; nothing was loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// What was read, besides the world itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub files: usize,
    pub documents: usize,
    /// Objects used, by kind.
    pub used: BTreeMap<String, usize>,
    /// Objects of kinds this tool does not use, by kind.
    pub skipped: BTreeMap<String, usize>,
    /// Policy kinds of other engines that were read but are not evaluated.
    pub not_evaluated: BTreeSet<String>,
    pub warnings: Vec<String>,
}

impl LoadReport {
    /// One line: what was read and used, and what was skipped.
    pub fn summary(&self) -> String {
        let list = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut line = format!(
            "read {} file{}, {} document{}",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.documents,
            if self.documents == 1 { "" } else { "s" }
        );
        if !self.used.is_empty() {
            line.push_str(&format!(": {}", list(&self.used)));
        }
        if !self.skipped.is_empty() {
            line.push_str(&format!("; skipped {}", list(&self.skipped)));
        }
        line
    }
}

pub struct Loaded {
    /// With the staged objects of the input (Calico's StagedKubernetesNetworkPolicy) as the
    /// world's staged changes, in input order.
    pub world: World,
    pub report: LoadReport,
}

/// Reads every input; `stdin` is read only if an input is `-`.
pub fn load(inputs: &[Input], stdin: &mut dyn Read) -> Result<Loaded, LoadErrors> {
    load_with(&[], inputs, stdin)
}

/// Reads manifests held in memory (`(name, text)`, such as the demo's) and then `inputs`,
/// into one world.
pub fn load_with(
    texts: &[(&str, &str)],
    inputs: &[Input],
    stdin: &mut dyn Read,
) -> Result<Loaded, LoadErrors> {
    let mut builder = Builder::default();
    for (name, text) in texts {
        builder.text(name, text, false);
    }
    let mut stdin_used = false;
    for input in inputs {
        match input {
            Input::Stdin => {
                if stdin_used {
                    continue;
                }
                stdin_used = true;
                let mut text = String::new();
                match stdin.read_to_string(&mut text) {
                    Ok(_) => builder.text("<stdin>", &text, text.trim_start().starts_with('{')),
                    Err(e) => builder.error_at("<stdin>", format!("cannot read: {e}")),
                }
            }
            Input::Path(path) => builder.path(path, 0),
        }
    }
    builder.finish()
}

/// `Calico NetworkPolicy ns/name`, `Calico GlobalNetworkPolicy name`: a Calico object in
/// messages.
fn calico_label(kind: &str, global: bool, name: &str, namespace: &str) -> String {
    if global {
        format!("Calico {kind} {name}")
    } else {
        format!("Calico {kind} {namespace}/{name}")
    }
}

/// Policies read to be staged: every NetworkPolicy as an addition (or replacement), and the
/// staged objects among them, in input order.
pub struct ToStage {
    pub changes: Vec<Staged>,
    pub report: LoadReport,
    /// Pods and nodes found too, which staging ignores.
    pub ignored: usize,
}

/// Reads manifests to stage (`--stage`, `:stage`).
pub fn load_staged(inputs: &[Input], stdin: &mut dyn Read) -> Result<ToStage, LoadErrors> {
    let loaded = load(inputs, stdin)?;
    let inv = &loaded.world.inventory;
    let mut changes: Vec<Staged> = loaded
        .world
        .policies
        .policies
        .iter()
        .map(|p| Staged::new(Change::Set(Box::new(p.clone())), p.origin.to_string()))
        .collect();
    // Staged objects among files given to be staged are the user's staging too.
    changes.extend(loaded.world.staged.iter().map(|s| Staged {
        from_source: false,
        ..s.clone()
    }));
    Ok(ToStage {
        ignored: inv.pods.len() + inv.nodes.len(),
        changes,
        report: loaded.report,
    })
}

/// Parses manifests held in memory (the built-in demo, tests).
pub fn load_text(name: &str, text: &str) -> Result<Loaded, LoadErrors> {
    let mut builder = Builder::default();
    builder.text(name, text, false);
    builder.finish()
}

#[derive(Default)]
struct Builder {
    errors: Vec<LoadError>,
    report: LoadReport,
    namespaces: BTreeMap<String, Namespace>,
    pods: BTreeMap<(String, String), Pod>,
    templates: Vec<Pod>,
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<(String, String), Service>,
    service_accounts: BTreeMap<(String, String), ServiceAccount>,
    /// EndpointSlices and legacy Endpoints objects by (namespace, `Kind/name`): the addresses
    /// of Services without a selector.
    endpoint_slices: BTreeMap<(String, String), EndpointSlice>,
    /// Whether Cilium's host firewall is on, where its configuration is among the files.
    cilium_host_firewall: Option<bool>,
    policies: BTreeMap<(String, String), Policy>,
    /// Cluster-scoped tier policies by (kind, name).
    tiers: BTreeMap<(String, String), crate::policy::tiers::TierPolicy>,
    /// The keys of each Cilium policy's rule sets (in `policies` and `tiers`), by (namespace,
    /// `Kind/name`), so that a later definition replaces all of them.
    #[allow(clippy::type_complexity)]
    cilium_parts: BTreeMap<(String, String), Vec<((String, String), Option<(String, String)>)>>,
    /// Istio's AuthorizationPolicies by (namespace, name).
    istio: BTreeMap<(String, String), crate::policy::istio::IstioPolicy>,
    /// Calico's Tier objects by name.
    calico_tiers: BTreeMap<String, crate::policy::tiers::CalicoTier>,
    /// Calico's NetworkSets, GlobalNetworkSets and HostEndpoints by key.
    calico_sets: BTreeMap<String, crate::policy::tiers::CalicoAddressSet>,
    staged: Vec<Staged>,
    /// Errors past `MAX_ERRORS`, counted only, per file.
    more_errors: BTreeMap<String, usize>,
}

/// Where the current document sits, for messages.
struct Doc<'a> {
    file: &'a str,
    /// The document's own text (its lines are found by parsing it alone).
    text: &'a str,
    /// 0-based index of the document in its file.
    index: usize,
    /// Lines before `text` in the file.
    offset: usize,
    line: Option<usize>,
    /// Lines of the entries of a `kind: List`, found in one pass when first needed.
    items: OnceCell<Vec<usize>>,
}

impl<'a> Doc<'a> {
    fn new(
        file: &'a str,
        text: &'a str,
        index: usize,
        offset: usize,
        line: Option<usize>,
    ) -> Doc<'a> {
        Doc {
            file,
            text,
            index,
            offset,
            line,
            items: OnceCell::new(),
        }
    }

    /// The line in the file of the node at `path` (or its nearest ancestor).
    fn line_of(&self, path: &str) -> Option<usize> {
        yaml_lines::line_of(self.text, 0, path)
            .map(|l| l + self.offset)
            .or(self.line)
    }

    /// The line where the object at `prefix` (`""` or `items[3].`) starts.
    fn object_line(&self, prefix: &str) -> Option<usize> {
        if prefix.is_empty() {
            return self.line;
        }
        let item = prefix
            .strip_prefix("items[")
            .and_then(|rest| rest.strip_suffix("]."))
            .and_then(|i| i.parse::<usize>().ok());
        match item {
            Some(i) => self
                .items
                .get_or_init(|| {
                    yaml_lines::item_lines(self.text, 0)
                        .into_iter()
                        .map(|l| l + self.offset)
                        .collect()
                })
                .get(i)
                .copied()
                .or(self.line),
            None => self.line_of(prefix.trim_end_matches('.')),
        }
    }
}

/// The kinds read here.
const KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "Pod",
    "Service",
    "ServiceAccount",
    "EndpointSlice",
    "Endpoints",
    "NetworkPolicy",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "List",
    "StagedKubernetesNetworkPolicy",
    "StagedNetworkPolicy",
    "StagedGlobalNetworkPolicy",
    "Tier",
    "NetworkSet",
    "GlobalNetworkSet",
    "HostEndpoint",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "AuthorizationPolicy",
    "GlobalNetworkPolicy",
];

/// A kind read here that `kind` is probably a misspelling of: one edit away for short
/// names, two for longer ones, case aside. A kind read here (in another API group) is none.
fn close_kind(kind: &str) -> Option<&'static str> {
    if KINDS.contains(&kind) {
        return None;
    }
    let lower = kind.to_ascii_lowercase();
    KINDS
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= if k.len() <= 6 { 1 } else { 2 })
        .min()
        .map(|(_, k)| k)
}

/// Documents parsed together (on several cores), then used in order: bounds what is held.
const BATCH: usize = 512;

/// Files smaller than this are parsed on one core.
const PARALLEL_FROM: usize = 256 * 1024;

/// Flow collections nested deeper than serde_yaml accepts (128) are refused before parsing:
/// libyaml's time grows with the square of the nesting.
const MAX_NESTING: usize = 128;

/// `message` with every "line N" moved down by `by` lines: the parser counts lines from the
/// start of the document, messages count them in the file.
fn shift_lines(message: &str, by: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (head, tail) = rest.split_at(at + "line ".len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        match tail[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// Parses each document of `spans` alone, on up to `threads` threads: the value, or the line
/// (within the document) and message of its syntax error.
fn parse_documents(
    text: &str,
    spans: &[yaml_lines::DocSpan],
    threads: usize,
) -> Vec<Result<Value, (Option<usize>, String)>> {
    let parse = |span: &yaml_lines::DocSpan| -> Result<Value, (Option<usize>, String)> {
        let doc = &text[span.bytes.clone()];
        if let Some(line) = yaml_lines::nesting_beyond(doc, MAX_NESTING) {
            return Err((
                Some(line),
                format!("invalid YAML: nested more than {MAX_NESTING} levels deep"),
            ));
        }
        serde_yaml::from_str::<Value>(doc)
            .map_err(|e| (e.location().map(|l| l.line()), format!("invalid YAML: {e}")))
    };
    if threads <= 1 || spans.len() < 2 {
        return spans.iter().map(parse).collect();
    }
    let per = spans.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = spans
            .chunks(per)
            .map(|part| scope.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Errors reported one by one; past this, only their number (each costs a look-up of its line).
const MAX_ERRORS: usize = 100;

impl Builder {
    fn error_at(&mut self, file: &str, message: String) {
        self.errors.push(LoadError {
            file: file.to_string(),
            line: None,
            document: None,
            object: None,
            field: None,
            message,
        });
    }

    fn path(&mut self, path: &Path, depth: usize) {
        let name = path.display().to_string();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return self.error_at(&name, format!("cannot read: {e}")),
        };
        if meta.is_dir() {
            if depth > 32 {
                return self.error_at(&name, "directories nest too deeply (more than 32)".into());
            }
            let entries = match std::fs::read_dir(path) {
                Ok(rd) => rd,
                Err(e) => return self.error_at(&name, format!("cannot read directory: {e}")),
            };
            let mut children: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            children.sort();
            for child in children {
                let hidden = child
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if hidden {
                    continue;
                }
                if child.is_dir() || has_manifest_extension(&child) {
                    self.path(&child, depth + 1);
                }
            }
            return;
        }
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let json = path.extension().is_some_and(|e| e == "json");
                    self.text(&name, &text, json)
                }
                Err(_) => self.error_at(&name, "is not UTF-8 text".into()),
            },
            Err(e) => self.error_at(&name, format!("cannot read: {e}")),
        }
    }

    fn text(&mut self, file: &str, text: &str, json: bool) {
        self.report.files += 1;
        // A byte order mark, as some editors write, is not part of the text (kubectl agrees).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if json {
            match serde_json::from_str::<Value>(text) {
                Ok(value) => {
                    let doc = Doc::new(file, text, 0, 0, Some(1));
                    self.report.documents += 1;
                    self.object(value, &doc, "");
                }
                Err(e) => self.errors.push(LoadError {
                    file: file.to_string(),
                    line: Some(e.line()),
                    document: None,
                    object: None,
                    field: None,
                    message: format!("invalid JSON: {e}"),
                }),
            }
            return;
        }
        // Documents are found by their `---` lines and parsed each on its own (as kubectl
        // does), a batch at a time on every core; then used in order. A syntax error spoils
        // its document only.
        let spans = yaml_lines::documents(text);
        let threads = if text.len() < PARALLEL_FROM {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
        };
        for (batch, spans) in spans.chunks(BATCH).enumerate() {
            let parsed = parse_documents(text, spans, threads);
            for (i, (span, result)) in spans.iter().zip(parsed).enumerate() {
                let index = batch * BATCH + i;
                let doc_text = &text[span.bytes.clone()];
                match result {
                    Ok(Value::Null) => {}
                    Ok(value) => {
                        self.report.documents += 1;
                        let doc = Doc::new(
                            file,
                            doc_text,
                            index,
                            span.first_line - 1,
                            Some(span.node_line),
                        );
                        self.object(value, &doc, "");
                    }
                    Err((line, message)) => self.errors.push(LoadError {
                        file: file.to_string(),
                        line: line.map(|l| l + span.first_line - 1),
                        document: Some((index + 1, Some(span.node_line))),
                        object: None,
                        field: None,
                        message: shift_lines(&message, span.first_line - 1),
                    }),
                }
            }
        }
    }

    fn object_error(&mut self, doc: &Doc, object: Option<String>, path: &str, message: String) {
        if self.errors.len() >= MAX_ERRORS {
            *self.more_errors.entry(doc.file.to_string()).or_default() += 1;
            return;
        }
        let line = doc.line_of(path);
        self.errors.push(LoadError {
            file: doc.file.to_string(),
            line,
            document: Some((doc.index + 1, doc.line)),
            object,
            field: (!path.is_empty()).then(|| path.to_string()),
            message,
        });
    }

    fn field_errors(&mut self, doc: &Doc, object: &str, prefix: &str, errs: Vec<FieldError>) {
        for e in errs {
            self.object_error(
                doc,
                Some(object.to_string()),
                &format!("{prefix}{}", e.path),
                e.message,
            );
        }
    }

    fn object(&mut self, value: Value, doc: &Doc, prefix: &str) {
        let Value::Object(map) = &value else {
            return self.object_error(
                doc,
                None,
                prefix.trim_end_matches('.'),
                "is not a Kubernetes object: expected a mapping with apiVersion and kind".into(),
            );
        };
        let kind = map
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind.is_empty() {
            return self.object_error(doc, None, &format!("{prefix}kind"), "is required".into());
        }
        if api_version.is_empty() {
            return self.object_error(
                doc,
                None,
                &format!("{prefix}apiVersion"),
                "is required".into(),
            );
        }
        let meta = map.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_NAMESPACE)
            .to_string();
        let group = api_version
            .rsplit_once('/')
            .map_or("", |(g, _)| g)
            .to_string();

        if kind == "List" || (kind.ends_with("List") && map.get("items").is_some()) {
            // A typed list as the API server returns it (`PodList`): its items carry no kind
            // and apiVersion of their own.
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            match map.get("items") {
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let mut item = item.clone();
                        if let (Some(k), Value::Object(fields)) = (item_kind, &mut item) {
                            fields.entry("kind").or_insert_with(|| k.into());
                            fields
                                .entry("apiVersion")
                                .or_insert_with(|| api_version.clone().into());
                        }
                        self.object(item, doc, &format!("{prefix}items[{i}]."));
                    }
                }
                Some(Value::Null) | None => {}
                Some(_) => self.object_error(
                    doc,
                    Some(kind.clone()),
                    &format!("{prefix}items"),
                    "must be a list".into(),
                ),
            }
            return;
        }

        let label = if matches!(kind.as_str(), "Namespace" | "Node") {
            format!("{kind} {name}")
        } else {
            format!("{kind} {namespace}/{name}")
        };
        let origin = Origin {
            source: doc.file.to_string(),
            line: doc.object_line(prefix),
        };
        match (group.as_str(), kind.as_str()) {
            ("", "Namespace") => {
                let Some(ns) = self.typed::<core::Namespace>(value, doc, &label, prefix) else {
                    return;
                };
                match convert::namespace(&ns) {
                    Ok(ns) => {
                        self.count("Namespace");
                        if self.namespaces.insert(ns.name.clone(), ns).is_some() {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs),
                }
            }
            ("", "Node") => {
                let Some(node) = self.typed::<core::Node>(value, doc, &label, prefix) else {
                    return;
                };
                match convert::node(&node) {
                    Ok(node) => {
                        self.count("Node");
                        if self.nodes.insert(node.name.clone(), node).is_some() {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs),
                }
            }
            ("", "Pod") => {
                let Some(pod) = self.typed::<core::Pod>(value, doc, &label, prefix) else {
                    return;
                };
                match convert::pod(&pod, DEFAULT_NAMESPACE, origin.clone()) {
                    Ok(Some(pod)) => {
                        self.count("Pod");
                        if self
                            .pods
                            .insert((pod.namespace.clone(), pod.name.clone()), pod)
                            .is_some()
                        {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Ok(None) => {
                        *self
                            .report
                            .skipped
                            .entry("Pod (finished)".into())
                            .or_default() += 1;
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs),
                }
            }
            ("", "Service") => {
                let Some(svc) = self.typed::<core::Service>(value, doc, &label, prefix) else {
                    return;
                };
                match convert::service(&svc, DEFAULT_NAMESPACE, origin.clone()) {
                    Ok(svc) => {
                        self.count("Service");
                        if self
                            .services
                            .insert((svc.namespace.clone(), svc.name.clone()), svc)
                            .is_some()
                        {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs),
                }
            }
            ("", "ConfigMap")
                if (
                    value["metadata"]["namespace"].as_str(),
                    value["metadata"]["name"].as_str(),
                ) == (
                    Some(convert::CILIUM_CONFIG.0),
                    Some(convert::CILIUM_CONFIG.1),
                ) =>
            {
                let Some(config) = self.typed::<core::ConfigMap>(value, doc, &label, prefix) else {
                    return;
                };
                self.count("ConfigMap (Cilium's configuration)");
                self.cilium_host_firewall = Some(convert::cilium_host_firewall(&config));
            }
            ("discovery.k8s.io", "EndpointSlice") | ("", "Endpoints") => {
                let converted = if kind == "Endpoints" {
                    let Some(e) = self.typed::<core::Endpoints>(value, doc, &label, prefix) else {
                        return;
                    };
                    convert::endpoints(&e, DEFAULT_NAMESPACE)
                } else {
                    let Some(e) = self.typed::<EndpointSliceObject>(value, doc, &label, prefix)
                    else {
                        return;
                    };
                    convert::endpoint_slice(&e, DEFAULT_NAMESPACE)
                };
                match converted {
                    Ok(slice) => {
                        self.count(&kind);
                        let key = (slice.namespace.clone(), format!("{kind}/{name}"));
                        if self.endpoint_slices.insert(key, slice).is_some() {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs),
                }
            }
            ("", "ServiceAccount") => {
                let Some(account) = self.typed::<core::ServiceAccount>(value, doc, &label, prefix)
                else {
                    return;
                };
                match convert::service_account(&account, DEFAULT_NAMESPACE) {
                    Ok(account) => {
                        self.count("ServiceAccount");
                        let key = (account.namespace.clone(), account.name.clone());
                        if self.service_accounts.insert(key, account).is_some() {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs),
                }
            }
            ("networking.k8s.io", "NetworkPolicy") => {
                let Some(np) = self.typed::<net::NetworkPolicy>(value, doc, &label, prefix) else {
                    return;
                };
                match compile_network_policy(&np, DEFAULT_NAMESPACE, origin.clone()) {
                    Ok(policy) => {
                        self.count("NetworkPolicy");
                        if self
                            .policies
                            .insert((policy.namespace.clone(), policy.name.clone()), policy)
                            .is_some()
                        {
                            self.duplicate(&label, &origin);
                        }
                    }
                    Err(errs) => self.field_errors(doc, &label, prefix, errs.0),
                }
            }
            ("apps", "Deployment") => {
                self.workload::<apps::Deployment>(value, doc, &label, prefix, origin, |o| {
                    o.spec.map(|s| (s.template, "spec.template"))
                })
            }
            ("apps", "StatefulSet") => {
                self.workload::<apps::StatefulSet>(value, doc, &label, prefix, origin, |o| {
                    o.spec.map(|s| (s.template, "spec.template"))
                })
            }
            ("apps", "DaemonSet") => {
                self.workload::<apps::DaemonSet>(value, doc, &label, prefix, origin, |o| {
                    o.spec.map(|s| (s.template, "spec.template"))
                })
            }
            ("apps", "ReplicaSet") => {
                self.workload::<apps::ReplicaSet>(value, doc, &label, prefix, origin, |o| {
                    o.spec
                        .and_then(|s| s.template)
                        .map(|t| (t, "spec.template"))
                })
            }
            ("batch", "Job") => {
                self.workload::<batch::Job>(value, doc, &label, prefix, origin, |o| {
                    o.spec.map(|s| (s.template, "spec.template"))
                })
            }
            ("batch", "CronJob") => {
                self.workload::<batch::CronJob>(value, doc, &label, prefix, origin, |o| {
                    o.spec
                        .and_then(|s| s.job_template.spec)
                        .map(|s| (s.template, "spec.jobTemplate.spec.template"))
                })
            }
            (
                "policy.networking.k8s.io",
                "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy",
            ) => {
                use crate::policy::compile_tiers::{compile_tier_policy, TierKind, TierObject};
                let tier_kind = match kind.as_str() {
                    "AdminNetworkPolicy" => TierKind::Admin,
                    "BaselineAdminNetworkPolicy" => TierKind::BaselineAdmin,
                    _ => TierKind::Cluster,
                };
                let expected = match tier_kind {
                    TierKind::Cluster => "policy.networking.k8s.io/v1alpha2",
                    _ => "policy.networking.k8s.io/v1alpha1",
                };
                let label = format!("{kind} {name}");
                let read = (
                    label.as_str(),
                    kind.as_str(),
                    api_version.as_str(),
                    &[expected][..],
                );
                let Some(policy) = self.compiled(value, doc, prefix, read, |o: &TierObject| {
                    compile_tier_policy(o, tier_kind, origin.clone())
                }) else {
                    return;
                };
                self.count(&kind);
                if self
                    .tiers
                    .insert((kind.clone(), policy.name.clone()), policy)
                    .is_some()
                {
                    self.duplicate(&label, &origin);
                }
            }
            ("cilium.io", "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy") => {
                use crate::policy::compile_cilium::{
                    compile_cilium_policy, CiliumObject, API_VERSION,
                };
                let clusterwide = kind == "CiliumClusterwideNetworkPolicy";
                let label = if clusterwide {
                    format!("{kind} {name}")
                } else {
                    format!("{kind} {namespace}/{name}")
                };
                let read = (
                    label.as_str(),
                    kind.as_str(),
                    api_version.as_str(),
                    &[API_VERSION][..],
                );
                let Some(compiled) = self.compiled(value, doc, prefix, read, |o: &CiliumObject| {
                    compile_cilium_policy(o, clusterwide, &namespace, origin.clone())
                }) else {
                    return;
                };
                self.count(&kind);
                // A later definition replaces every rule set of the earlier one.
                let object = (
                    if clusterwide {
                        String::new()
                    } else {
                        namespace.clone()
                    },
                    format!("{kind}/{name}"),
                );
                if let Some(earlier) = self.cilium_parts.remove(&object) {
                    for (policy, tier) in earlier {
                        self.policies.remove(&policy);
                        if let Some(tier) = tier {
                            self.tiers.remove(&tier);
                        }
                    }
                    self.duplicate(&label, &origin);
                }
                let mut parts = Vec::new();
                for part in compiled {
                    let policy = (
                        part.allow.namespace.clone(),
                        format!("{kind}/{}", part.allow.name),
                    );
                    let tier = part.deny.map(|deny| {
                        let key = (kind.clone(), deny.name.clone());
                        self.tiers.insert(key.clone(), deny);
                        key
                    });
                    self.policies.insert(policy.clone(), part.allow);
                    parts.push((policy, tier));
                }
                self.cilium_parts.insert(object, parts);
            }
            ("security.istio.io", "AuthorizationPolicy") => {
                use crate::policy::istio::{compile_authorization_policy, IstioObject};
                let label = format!("{kind} {namespace}/{name}");
                let versions = ["security.istio.io/v1", "security.istio.io/v1beta1"];
                let read = (
                    label.as_str(),
                    kind.as_str(),
                    api_version.as_str(),
                    &versions[..],
                );
                let Some(policy) = self.compiled(value, doc, prefix, read, |o: &IstioObject| {
                    compile_authorization_policy(o, &namespace, origin.clone())
                }) else {
                    return;
                };
                self.count(&kind);
                let key = (policy.namespace.clone(), policy.name.clone());
                if self.istio.insert(key, policy).is_some() {
                    self.duplicate(&label, &origin);
                }
            }
            ("projectcalico.org", "NetworkPolicy" | "GlobalNetworkPolicy") => {
                use crate::policy::calico::{compile_calico_policy, CalicoObject};
                let global = kind == "GlobalNetworkPolicy";
                let label = calico_label(&kind, global, &name, &namespace);
                let ns = (!global).then_some(namespace.as_str());
                let read = (label.as_str(), kind.as_str(), api_version.as_str());
                let Some(policy) = self.calico(value, doc, prefix, read, |o: &CalicoObject| {
                    compile_calico_policy(o, ns, origin.clone())
                }) else {
                    return;
                };
                let key = (policy.kind.clone(), policy.name.clone());
                if self.tiers.insert(key, policy).is_some() {
                    self.duplicate(&label, &origin);
                }
            }
            ("projectcalico.org", "Tier") => {
                let label = format!("Calico Tier {name}");
                let read = (label.as_str(), kind.as_str(), api_version.as_str());
                let compile = crate::policy::calico::compile_tier;
                let Some(tier) = self.calico(value, doc, prefix, read, compile) else {
                    return;
                };
                if self.calico_tiers.insert(tier.name.clone(), tier).is_some() {
                    self.duplicate(&label, &origin);
                }
            }
            ("projectcalico.org", "NetworkSet" | "GlobalNetworkSet" | "HostEndpoint") => {
                use crate::policy::calico::{compile_address_set, AddressSetObject};
                let global = kind != "NetworkSet";
                let label = calico_label(&kind, global, &name, &namespace);
                let ns = (!global).then_some(namespace.as_str());
                let read = (label.as_str(), kind.as_str(), api_version.as_str());
                let Some(set) = self.calico(value, doc, prefix, read, |o: &AddressSetObject| {
                    compile_address_set(o, &kind, ns)
                }) else {
                    return;
                };
                if self.calico_sets.insert(set.key(), set).is_some() {
                    self.duplicate(&label, &origin);
                }
            }
            ("projectcalico.org", "StagedKubernetesNetworkPolicy") => {
                self.staged_policy(value, doc, &label, prefix, origin)
            }
            ("projectcalico.org", "StagedNetworkPolicy" | "StagedGlobalNetworkPolicy") => {
                self.staged_calico(value, doc, prefix, (&kind, &name, &namespace), origin)
            }
            ("extensions", "NetworkPolicy") => self.object_error(
                doc,
                Some(label),
                &format!("{prefix}apiVersion"),
                format!(
                    "{api_version} NetworkPolicy is no longer served (removed in Kubernetes 1.16); \
                     use networking.k8s.io/v1"
                ),
            ),
            _ if close_kind(&kind).is_some() => self.object_error(
                doc,
                Some(label),
                &format!("{prefix}kind"),
                format!(
                    "unknown kind {kind:?} ({api_version}); did you mean {}?",
                    close_kind(&kind).unwrap_or_default()
                ),
            ),
            _ => {
                // Policies of other engines (Calico, Cilium, admin tiers) change what the
                // datapath does; saying nothing would make verdicts look complete.
                if kind.contains("Policy") {
                    self.report
                        .not_evaluated
                        .insert(format!("{kind} ({api_version})"));
                }
                *self.report.skipped.entry(kind).or_default() += 1;
            }
        }
    }

    /// An object of another API group's policy kind: its apiVersion checked against
    /// `versions` (the first is the one to use), read as `O`, compiled; any error is
    /// reported at its field, and `None` returned.
    /// A Calico object (projectcalico.org/v3), compiled by [`Self::compiled`] and counted.
    fn calico<O: DeserializeOwned, T>(
        &mut self,
        value: Value,
        doc: &Doc,
        prefix: &str,
        (label, kind, api_version): (&str, &str, &str),
        compile: impl FnOnce(&O) -> Result<T, crate::policy::FieldErrors>,
    ) -> Option<T> {
        let versions = [crate::policy::calico::API_VERSION];
        let read = (label, kind, api_version, &versions[..]);
        let compiled = self.compiled(value, doc, prefix, read, compile)?;
        self.count(&format!("{kind} (Calico)"));
        Some(compiled)
    }

    fn compiled<O: DeserializeOwned, T>(
        &mut self,
        value: Value,
        doc: &Doc,
        prefix: &str,
        (label, kind, api_version, versions): (&str, &str, &str, &[&str]),
        compile: impl FnOnce(&O) -> Result<T, crate::policy::FieldErrors>,
    ) -> Option<T> {
        if !versions.contains(&api_version) {
            self.object_error(
                doc,
                Some(label.to_string()),
                &format!("{prefix}apiVersion"),
                format!("{api_version} {kind} is not read here; use {}", versions[0]),
            );
            return None;
        }
        let object = self.typed::<O>(value, doc, label, prefix)?;
        match compile(&object) {
            Ok(t) => Some(t),
            Err(errs) => {
                self.field_errors(doc, label, prefix, errs.0);
                None
            }
        }
    }

    /// Calico's StagedNetworkPolicy and StagedGlobalNetworkPolicy: a Calico policy's spec plus
    /// `stagedAction` (`Set`, the default, or `Delete`), read as a staged change of the
    /// Calico policy of that name.
    fn staged_calico(
        &mut self,
        mut value: Value,
        doc: &Doc,
        prefix: &str,
        (kind, name, namespace): (&str, &str, &str),
        origin: Origin,
    ) {
        use crate::policy::audit::staged_calico_change;
        use crate::policy::calico::{CalicoObject, API_VERSION};
        let global = kind == "StagedGlobalNetworkPolicy";
        let label = calico_label(kind, global, name, namespace);
        let action = value
            .get_mut("spec")
            .and_then(Value::as_object_mut)
            .and_then(|spec| spec.remove("stagedAction"));
        let action = match &action {
            None => None,
            Some(Value::String(a)) => Some(a.clone()),
            Some(other) => Some(other.to_string()),
        };
        let source = format!("{origin} ({kind})");
        let ns = (!global).then_some(namespace);
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let read = (
            label.as_str(),
            kind,
            api_version.as_str(),
            &[API_VERSION][..],
        );
        let Some(change) = self.compiled(value, doc, prefix, read, |o: &CalicoObject| {
            staged_calico_change(o, action.as_deref(), ns, origin.clone())
        }) else {
            return;
        };
        self.count(kind);
        let mut staged = Staged::new(change, source);
        staged.from_source = true;
        self.staged.push(staged);
    }

    /// Calico's StagedKubernetesNetworkPolicy: a NetworkPolicy spec plus `stagedAction`
    /// (`Set`, the default, or `Delete`), read as a staged change.
    fn staged_policy(
        &mut self,
        value: Value,
        doc: &Doc,
        label: &str,
        prefix: &str,
        origin: Origin,
    ) {
        match convert::staged_knp(value, DEFAULT_NAMESPACE, origin) {
            Ok(staged) => {
                self.count("StagedKubernetesNetworkPolicy");
                self.staged.push(staged);
            }
            Err(errs) => self.field_errors(doc, label, prefix, errs),
        }
    }

    /// A workload: its pod template (found by `template_of`, with its path in the object)
    /// stands in for the pods it runs.
    fn workload<
        T: DeserializeOwned + k8s_openapi::Metadata<Ty = ObjectMeta> + k8s_openapi::Resource,
    >(
        &mut self,
        value: Value,
        doc: &Doc,
        label: &str,
        prefix: &str,
        origin: Origin,
        template_of: impl FnOnce(T) -> Option<(core::PodTemplateSpec, &'static str)>,
    ) {
        let Some(object) = self.typed::<T>(value, doc, label, prefix) else {
            return;
        };
        let name = object.metadata().name.clone().unwrap_or_default();
        let namespace = object
            .metadata()
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        let Some((template, path)) = template_of(object) else {
            return;
        };
        match convert::template_pod(T::KIND, &name, &namespace, &template, path, origin) {
            Ok(pod) => {
                self.count(T::KIND);
                self.templates.push(pod);
            }
            Err(errs) => self.field_errors(doc, label, prefix, errs),
        }
    }

    fn count(&mut self, kind: &str) {
        *self.report.used.entry(kind.to_string()).or_default() += 1;
    }

    fn duplicate(&mut self, label: &str, origin: &Origin) {
        self.report.warnings.push(format!(
            "{label} is defined more than once; the definition at {origin} wins"
        ));
    }

    /// Deserializes into an API type, reporting type errors at their field path.
    fn typed<T: DeserializeOwned>(
        &mut self,
        value: Value,
        doc: &Doc,
        label: &str,
        prefix: &str,
    ) -> Option<T> {
        // Tracking the path costs a third of the time: only for an object that fails.
        if let Ok(v) = T::deserialize(&value) {
            return Some(v);
        }
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                self.object_error(
                    doc,
                    Some(label.to_string()),
                    &format!("{prefix}{path}"),
                    e.into_inner().to_string(),
                );
                None
            }
        }
    }

    fn finish(mut self) -> Result<Loaded, LoadErrors> {
        // In file order (as the files were first met) and line order within a file.
        let mut rank: BTreeMap<String, usize> = BTreeMap::new();
        for e in &self.errors {
            let next = rank.len();
            rank.entry(e.file.clone()).or_insert(next);
        }
        self.errors
            .sort_by_key(|e| (rank[&e.file], e.line.unwrap_or(0)));
        // What was counted but not kept, said per file so that every error names its file.
        for (file, n) in std::mem::take(&mut self.more_errors) {
            self.error_at(
                &file,
                format!("{n} more errors not shown; fix the ones above first"),
            );
        }
        if !self.errors.is_empty() {
            return Err(LoadErrors(self.errors));
        }
        // Workload templates stand in for pods that are not there yet; where real pods of
        // the workload were loaded too, the template would count them twice.
        for mut t in std::mem::take(&mut self.templates) {
            let covered = !t.labels.is_empty()
                && self.pods.values().any(|p| {
                    p.namespace == t.namespace
                        && t.labels.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                });
            if covered {
                continue;
            }
            if self
                .pods
                .contains_key(&(t.namespace.clone(), t.name.clone()))
            {
                let kind = t
                    .workload
                    .as_deref()
                    .and_then(|w| w.split('/').next())
                    .unwrap_or("workload");
                t.name = format!("{}-{}", t.name, kind.to_ascii_lowercase());
            }
            self.pods.insert((t.namespace.clone(), t.name.clone()), t);
        }

        if !self.report.not_evaluated.is_empty() {
            let kinds: Vec<&str> = self
                .report
                .not_evaluated
                .iter()
                .map(String::as_str)
                .collect();
            self.report.warnings.push(format!(
                "not evaluated: {}; verdicts leave them out",
                kinds.join(", ")
            ));
        }
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        referenced.extend(self.pods.values().map(|p| p.namespace.clone()));
        referenced.extend(
            self.policies
                .values()
                .filter(|p| !p.namespace.is_empty())
                .map(|p| p.namespace.clone()),
        );
        let implicit: Vec<String> = referenced
            .into_iter()
            .filter(|ns| !self.namespaces.contains_key(ns))
            .collect();
        if !implicit.is_empty() {
            let (them, carry) = if implicit.len() == 1 {
                (format!("namespace {} is", implicit[0]), "it carries")
            } else {
                (
                    format!("namespaces {} are", implicit.join(", ")),
                    "each carries",
                )
            };
            self.report.warnings.push(format!(
                "{them} used but not declared; assuming {carry} only the label kubernetes.io/metadata.name=<name>"
            ));
        }
        for ns in implicit {
            self.namespaces
                .insert(ns.clone(), convert::implicit_namespace(&ns));
        }

        // Among files, the slices of a Service without a selector are often left out (as by
        // `kubectl get all`): only those read are known. A Service with a selector has its
        // pods among the files, and slices beyond them would be there too.
        let mut services: Vec<Service> = self.services.into_values().collect();
        let slices: Vec<EndpointSlice> = self.endpoint_slices.into_values().collect();
        attach_endpoints(&mut services, &slices, [false, true]);
        let mut inventory = Inventory {
            namespaces: self.namespaces.into_values().collect(),
            pods: self.pods.into_values().collect(),
            nodes: self.nodes.into_values().collect(),
            services,
            service_accounts: self.service_accounts.into_values().collect(),
            nodes_known: true,
            hidden: Vec::new(),
        };
        inventory.normalize();
        let mut policies = PolicySet::new(self.policies.into_values().collect())
            .with_tiers(self.tiers.into_values().collect())
            .with_calico_tiers(self.calico_tiers.into_values().collect())
            .with_calico_sets(self.calico_sets.into_values().collect())
            .with_istio(self.istio.into_values().collect());
        policies.cilium_host_firewall = self.cilium_host_firewall;
        Ok(Loaded {
            world: World::new(inventory, policies).with_staged(self.staged),
            report: self.report,
        })
    }
}

fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}
