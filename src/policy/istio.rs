//! Istio's AuthorizationPolicy (security.istio.io v1 and v1beta1), read and shown, not
//! evaluated: it acts at L7 in the sidecar or waypoint, on identities (service account
//! principals, JWT claims) that addresses do not carry. `explain` and `effective` name the
//! ones that apply to a destination, so that an ALLOWED verdict is not read as the whole
//! story.
//!
//! Pure: no I/O.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::compile::{check_metadata, compile_selector, Errors, NameRule};
use super::error::FieldErrors;
use super::model::{Labels, Origin};
use super::selector::Selector;

/// The namespace whose selector-less policies apply to the whole mesh (Istio's default
/// root namespace).
pub const ROOT_NAMESPACE: &str = "istio-system";

/// An AuthorizationPolicy as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IstioPolicy {
    pub namespace: String,
    pub name: String,
    /// The workloads it applies to; `None`: every workload of its namespace (of the mesh in
    /// the root namespace).
    pub selector: Option<Selector>,
    /// `ALLOW` (the default), `DENY`, `AUDIT` or `CUSTOM`.
    pub action: String,
    /// Each rule in words: `from principals cluster.local/ns/prod/sa/frontend-sa; to methods
    /// GET, POST`. No rules: an ALLOW policy then allows nothing, a DENY denies nothing.
    pub rules: Vec<String>,
    #[serde(skip)]
    pub origin: Origin,
}

impl IstioPolicy {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether it applies to a workload of `namespace` with `labels`.
    pub fn applies(&self, namespace: &str, labels: &Labels) -> bool {
        let scope = self.namespace == namespace
            || (self.namespace == ROOT_NAMESPACE && self.selector.is_none());
        scope && self.selector.as_ref().is_none_or(|s| s.matches(labels))
    }

    /// One line: `AuthorizationPolicy prod/backend-policy: ALLOW from principals ...`.
    pub fn summary(&self) -> String {
        let rules = if self.rules.is_empty() {
            match self.action.as_str() {
                "ALLOW" => "no rules: allows no request".to_string(),
                _ => "no rules: matches no request".to_string(),
            }
        } else {
            self.rules.join(" | ")
        };
        format!(
            "AuthorizationPolicy {}: {} {rules}",
            self.key(),
            self.action
        )
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IstioObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IstioSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioSpec {
    pub selector: Option<LabelSelector>,
    pub target_ref: Option<Value>,
    pub target_refs: Option<Value>,
    pub action: Option<String>,
    pub provider: Option<Value>,
    #[serde(default)]
    pub rules: Vec<IstioRule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IstioRule {
    #[serde(default)]
    pub from: Vec<Side>,
    #[serde(default)]
    pub to: Vec<Side>,
    #[serde(default)]
    pub when: Vec<Value>,
}

/// `from[].source` or `to[].operation`: lists of strings by field name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Side {
    pub source: Option<serde_json::Map<String, Value>>,
    pub operation: Option<serde_json::Map<String, Value>>,
}

/// Compiles one AuthorizationPolicy of `namespace`.
pub fn compile_authorization_policy(
    object: &IstioObject,
    namespace: &str,
    origin: Origin,
) -> Result<IstioPolicy, FieldErrors> {
    let mut errs = Errors::default();
    check_metadata(&object.metadata, NameRule::DnsSubdomain, &mut errs.0);
    let spec = &object.spec;
    let action = spec.action.clone().unwrap_or_else(|| "ALLOW".into());
    if !["ALLOW", "DENY", "AUDIT", "CUSTOM"].contains(&action.as_str()) {
        errs.push(
            "spec.action",
            format!("unsupported value {action:?}: must be ALLOW, DENY, AUDIT or CUSTOM"),
        );
    }
    let selector = match (&spec.selector, &spec.target_ref, &spec.target_refs) {
        (Some(s), None, None) => Some(compile_selector(
            &LabelSelector {
                match_labels: s.match_labels.clone(),
                match_expressions: None,
            },
            "spec.selector",
            &mut errs,
        )),
        (None, None, None) => None,
        (Some(_), _, _) => {
            errs.push("spec", "selector and targetRef(s) cannot both be set");
            None
        }
        // A gateway or service target: it selects no pod by labels.
        (None, _, _) => Some(Selector::new(vec![super::selector::Requirement {
            key: "istio.io/gateway-name".into(),
            op: super::selector::Operator::Exists,
        }])),
    };
    let rules = spec.rules.iter().map(rule_text).collect();
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    Ok(IstioPolicy {
        namespace: namespace.to_string(),
        name: object.metadata.name.clone().unwrap_or_default(),
        selector,
        action,
        rules,
        origin,
    })
}

fn rule_text(rule: &IstioRule) -> String {
    let mut parts = Vec::new();
    let fields = |map: &serde_json::Map<String, Value>| -> Vec<String> {
        map.iter()
            .map(|(k, v)| {
                let values: Vec<String> = match v {
                    Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect(),
                    other => vec![other.to_string()],
                };
                format!("{} {}", words(k), values.join(", "))
            })
            .collect()
    };
    let from: Vec<String> = rule
        .from
        .iter()
        .filter_map(|s| s.source.as_ref())
        .map(|m| fields(m).join(" and "))
        .collect();
    if !from.is_empty() {
        parts.push(format!("from {}", from.join(" or ")));
    }
    let to: Vec<String> = rule
        .to
        .iter()
        .filter_map(|s| s.operation.as_ref())
        .map(|m| fields(m).join(" and "))
        .collect();
    if !to.is_empty() {
        parts.push(format!("to {}", to.join(" or ")));
    }
    if !rule.when.is_empty() {
        parts.push(format!("when {} condition(s)", rule.when.len()));
    }
    if parts.is_empty() {
        "every request".to_string()
    } else {
        parts.join("; ")
    }
}

/// `notPrincipals` -> `not principals`, `requestPrincipals` -> `request principals`.
fn words(field: &str) -> String {
    let mut out = String::new();
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_policy_in_words() {
        let yaml = r#"
metadata: {name: backend-policy, namespace: prod}
spec:
  selector: {matchLabels: {app: backend}}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/prod/sa/frontend-sa"]
    to:
    - operation:
        methods: ["GET", "POST"]
        paths: ["/api/*"]
"#;
        let object: IstioObject = serde_yaml::from_str(yaml).unwrap();
        let p = compile_authorization_policy(&object, "prod", Origin::default()).unwrap();
        assert_eq!(
            p.summary(),
            "AuthorizationPolicy prod/backend-policy: ALLOW from principals \
             cluster.local/ns/prod/sa/frontend-sa; to methods GET, POST and paths /api/*"
        );
        let labels: Labels = [("app".to_string(), "backend".to_string())].into();
        assert!(p.applies("prod", &labels));
        assert!(!p.applies("dev", &labels));
    }

    #[test]
    fn a_bad_action_names_the_field() {
        let object: IstioObject =
            serde_yaml::from_str("metadata: {name: x}\nspec: {action: PERMIT}").unwrap();
        let err = compile_authorization_policy(&object, "prod", Origin::default()).unwrap_err();
        assert_eq!(err.0[0].path, "spec.action");
    }

    #[test]
    fn root_namespace_policies_without_selector_apply_mesh_wide() {
        let object: IstioObject =
            serde_yaml::from_str("metadata: {name: deny-all}\nspec: {action: DENY, rules: [{}]}")
                .unwrap();
        let p = compile_authorization_policy(&object, ROOT_NAMESPACE, Origin::default()).unwrap();
        assert!(p.applies("prod", &Labels::new()));
        assert_eq!(
            p.summary(),
            "AuthorizationPolicy istio-system/deny-all: DENY every request"
        );
    }
}
