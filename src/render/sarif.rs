//! `lint -o sarif`: the problems as a SARIF 2.1.0 log, the form code-scanning services take.
//! One rule per kind of problem (`RULES`), one result per problem, placed at the file and
//! line of its object where it was read from a file.

use serde_json::{json, Value};

use crate::policy::lint::{Problem, Severity, RULES};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A source that names a file: not the demo, stdin or the cluster.
fn file_uri(source: &str) -> Option<String> {
    if source.starts_with('<') || source == "cluster" || source.is_empty() {
        return None;
    }
    let path = source.strip_prefix("./").unwrap_or(source);
    if path.starts_with('/') {
        return Some(format!("file://{path}"));
    }
    Some(path.replace('\\', "/"))
}

pub fn log(problems: &[Problem]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, severity, text)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": text},
                "defaultConfiguration": {"level": level(*severity)},
            })
        })
        .collect();
    let results: Vec<Value> = problems
        .iter()
        .map(|p| {
            let logical = json!([{"fullyQualifiedName": p.object}]);
            let mut location = json!({"logicalLocations": logical});
            if let Some(uri) = p.source.as_deref().and_then(file_uri) {
                let mut physical = json!({"artifactLocation": {"uri": uri}});
                if let Some(line) = p.line {
                    physical["region"] = json!({"startLine": line});
                }
                location["physicalLocation"] = physical;
            }
            let mut result = json!({
                "ruleId": p.rule,
                "level": level(p.severity),
                "message": {"text": format!("{}: {}. Fix: {}", p.object, p.what, p.fix)},
                "locations": [location],
            });
            if let Some(i) = RULES.iter().position(|(id, _, _)| *id == p.rule) {
                result["ruleIndex"] = json!(i);
            }
            result
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "netpol-tui",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
