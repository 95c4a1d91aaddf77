//! Label selectors: the API's matchLabels/matchExpressions with its validation, kubectl's
//! `-l` syntax, matching, and a human reason when a selector does not match.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Labels of a pod or namespace. A sorted map keeps every output deterministic.
pub type Labels = std::collections::BTreeMap<String, String>;

/// The label Cilium gives an endpoint for its pod's service account. Endpoint selectors name
/// it, and so may NetworkPolicy selectors, which Cilium turns into endpoint selectors.
pub const SERVICE_ACCOUNT_LABEL: &str = "io.cilium.k8s.policy.serviceaccount";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "operator", content = "values")]
pub enum Operator {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Requirement {
    pub key: String,
    #[serde(flatten)]
    pub op: Operator,
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match &self.op {
            Operator::In(values) => value.is_some_and(|v| values.contains(v)),
            // NotIn and DoesNotExist match objects that lack the key.
            Operator::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            Operator::In(v) if v.len() == 1 => write!(f, "{}={}", self.key, v[0]),
            Operator::In(v) => write!(f, "{} in ({})", self.key, v.join(",")),
            Operator::NotIn(v) if v.len() == 1 => write!(f, "{}!={}", self.key, v[0]),
            Operator::NotIn(v) => write!(f, "{} notin ({})", self.key, v.join(",")),
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A compiled label selector: every requirement must hold. No requirement selects everything.
/// matchLabels entries become `In` requirements with one value, as the API defines them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector `{}`.
    pub fn everything() -> Selector {
        Selector::default()
    }

    pub fn new(mut requirements: Vec<Requirement>) -> Selector {
        for r in &mut requirements {
            if let Operator::In(v) | Operator::NotIn(v) = &mut r.op {
                v.sort();
                v.dedup();
            }
        }
        requirements.sort();
        requirements.dedup();
        Selector { requirements }
    }

    pub fn from_match_labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Selector {
        Selector::new(
            pairs
                .into_iter()
                .map(|(k, v)| Requirement {
                    key: k.to_string(),
                    op: Operator::In(vec![v.to_string()]),
                })
                .collect(),
        )
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a requirement names `key`.
    pub fn names(&self, key: &str) -> bool {
        self.requirements.iter().any(|r| r.key == key)
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matching where only some keys' values are known (`known(key)`): `Some` when the
    /// answer holds whatever the unknown labels are, `None` when it depends on them.
    pub fn matches_partly(&self, labels: &Labels, known: impl Fn(&str) -> bool) -> Option<bool> {
        let mut unknown = false;
        for r in &self.requirements {
            if known(&r.key) {
                if !r.matches(labels) {
                    return Some(false);
                }
            } else {
                unknown = true;
            }
        }
        (!unknown).then_some(true)
    }

    /// The first requirement on a key whose value is not known, if any decides nothing else.
    pub fn unknown_requirement(&self, known: impl Fn(&str) -> bool) -> Option<&Requirement> {
        self.requirements.iter().find(|r| !known(&r.key))
    }

    /// Why `labels` fail this selector, naming the first requirement that fails; `None` when
    /// the selector matches.
    pub fn mismatch(&self, labels: &Labels) -> Option<String> {
        let failed = self.requirements.iter().find(|r| !r.matches(labels))?;
        let have = match labels.get(&failed.key) {
            Some(v) => format!("has {}={}", failed.key, v),
            None => format!("has no label {}", failed.key),
        };
        Some(format!("needs {failed}, {have}"))
    }

    /// Parses kubectl's selector syntax: `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn parse(text: &str) -> crate::policy::Result<Selector> {
        Selector::parse_terms(text).map_err(|problem| crate::policy::Error::Selector {
            text: text.to_string(),
            problem,
        })
    }

    fn parse_terms(text: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text)? {
            let term = term.trim();
            if term.is_empty() {
                return Err(format!("empty term in selector {text:?}"));
            }
            requirements.push(parse_term(term)?);
        }
        for r in &requirements {
            validate_key(&r.key)?;
            if let Operator::In(values) | Operator::NotIn(values) = &r.op {
                for v in values {
                    validate_value(v)?;
                }
            }
        }
        Ok(Selector::new(requirements))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requirements.is_empty() {
            return f.write_str("{}");
        }
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Splits on commas that are not inside parentheses.
fn split_terms(text: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced ')' in selector {text:?}"))?
            }
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in selector {text:?}"));
    }
    if !text.trim().is_empty() {
        terms.push(&text[start..]);
    }
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement {
            key: key.trim().to_string(),
            op: Operator::DoesNotExist,
        });
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement {
            key: key.trim().to_string(),
            op: Operator::NotIn(vec![value.trim().to_string()]),
        });
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement {
            key: key.trim().to_string(),
            op: Operator::In(vec![value.trim().to_string()]),
        });
    }
    if let Some(open) = term.find('(') {
        let head: Vec<&str> = term[..open].split_whitespace().collect();
        let body = term[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("selector term {term:?} must end with ')'"))?;
        let values: Vec<String> = body
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(format!("selector term {term:?} needs at least one value"));
        }
        return match head.as_slice() {
            [key, "in"] => Ok(Requirement {
                key: key.to_string(),
                op: Operator::In(values),
            }),
            [key, "notin"] => Ok(Requirement {
                key: key.to_string(),
                op: Operator::NotIn(values),
            }),
            _ => Err(format!(
                "selector term {term:?}: expected `key in (...)` or `key notin (...)`"
            )),
        };
    }
    // `app notin a`: an operator word without its parentheses.
    if let [key, op @ ("in" | "notin"), rest @ ..] =
        term.split_whitespace().collect::<Vec<_>>().as_slice()
    {
        return Err(format!(
            "selector term {term:?}: the values of `{op}` go in parentheses: `{key} {op} ({})`",
            rest.join(",")
        ));
    }
    Ok(Requirement {
        key: term.to_string(),
        op: Operator::Exists,
    })
}

/// Checks a label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || prefix.len() > 253 || !is_dns_subdomain(prefix) {
            return Err(format!(
                "label key {key:?}: prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
            ));
        }
    }
    if name.is_empty() {
        return Err(format!("label key {key:?}: name part must not be empty"));
    }
    if !is_label_token(name) {
        return Err(format!(
            "label key {key:?}: name part must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// Checks a label value: empty, or like a key's name part.
pub fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_token(value) {
        Ok(())
    } else {
        Err(format!(
            "label value {value:?}: must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

/// Checks a name that must be a DNS label (RFC 1123), as namespace names: at most 63
/// lowercase letters, digits and '-', starting and ending with a letter or digit.
pub fn validate_dns_label(name: &str) -> Result<(), String> {
    if name.len() <= 63 && !name.contains('.') && is_dns_subdomain(name) {
        Ok(())
    } else if name.len() > 63 {
        Err(format!("{name:?}: must be no more than 63 characters"))
    } else {
        Err(format!(
            "{name:?}: a lowercase RFC 1123 label must consist of lowercase letters, digits or '-', and must start and end with a letter or digit"
        ))
    }
}

/// Checks a name that must be a DNS subdomain (RFC 1123), as pod and policy names: at most
/// 253 characters of dot-separated DNS labels.
pub fn validate_dns_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        Err(format!(
            "{}...: must be no more than 253 characters (it has {})",
            &name[..name.char_indices().nth(20).map_or(name.len(), |(i, _)| i)],
            name.len()
        ))
    } else if is_dns_subdomain(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: a lowercase RFC 1123 subdomain must consist of lowercase letters, digits, '-' or '.', and must start and end with a letter or digit"
        ))
    }
}

fn is_label_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(s: &str) -> bool {
    s.split('.').all(|part| {
        let b = part.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators_follow_the_api() {
        let none = labels(&[]);
        let a = labels(&[("tier", "a")]);
        let b = labels(&[("tier", "b")]);
        let cases: &[(&str, &Labels, bool)] = &[
            ("tier in (a,c)", &a, true),
            ("tier in (a,c)", &b, false),
            ("tier in (a,c)", &none, false),
            ("tier notin (a)", &a, false),
            ("tier notin (a)", &b, true),
            // NotIn matches objects without the key.
            ("tier notin (a)", &none, true),
            ("tier", &a, true),
            ("tier", &none, false),
            ("!tier", &none, true),
            ("!tier", &a, false),
            ("tier=a", &a, true),
            ("tier==a", &b, false),
            ("tier!=a", &none, true),
            ("", &none, true),
        ];
        for (text, labels, want) in cases {
            let sel = Selector::parse(text).unwrap();
            assert_eq!(sel.matches(labels), *want, "{text} on {labels:?}");
        }
    }

    #[test]
    fn requirements_are_anded() {
        let sel = Selector::parse("app=web,tier in (front)").unwrap();
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!sel.matches(&labels(&[("app", "web")])));
        assert!(!sel.matches(&labels(&[("tier", "front")])));
    }

    #[test]
    fn mismatch_names_the_failing_requirement() {
        let sel = Selector::parse("app=backend").unwrap();
        assert_eq!(
            sel.mismatch(&labels(&[("app", "frontend")])).unwrap(),
            "needs app=backend, has app=frontend"
        );
        assert_eq!(
            sel.mismatch(&labels(&[])).unwrap(),
            "needs app=backend, has no label app"
        );
        assert!(sel.mismatch(&labels(&[("app", "backend")])).is_none());
    }

    #[test]
    fn parse_rejects_bad_syntax() {
        for bad in [
            "app in (a",
            "app in ()",
            "app=a,,b=c",
            "app foo (x)",
            "-bad=x",
            "app=-x",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "app=web",
            "tier in (a,b)",
            "x notin (y,z)",
            "k",
            "!k",
            "a=b,c!=d",
        ] {
            let sel = Selector::parse(text).unwrap();
            assert_eq!(Selector::parse(&sel.to_string()).unwrap(), sel);
        }
        assert_eq!(Selector::everything().to_string(), "{}");
    }

    #[test]
    fn label_keys_are_validated() {
        assert!(validate_key("app").is_ok());
        assert!(validate_key("kubernetes.io/metadata.name").is_ok());
        assert!(validate_key("Example.com/x").is_err());
        assert!(validate_key("/x").is_err());
        assert!(validate_key(&"a".repeat(64)).is_err());
        assert!(validate_value("").is_ok());
        assert!(validate_value("a b").is_err());
    }
}
