//! The `:` command line in the manner of k9s: `:ns`, `:pod`, `:netpol`, `:explain`, `:flows`,
//! `:theme`, `:ctx`, `:q`, with Tab completion.

use super::actions::{action, set_theme};
use super::explain_form::{ExplainForm, Field};
use super::finder::{self, Target};
use super::keymap::Action;
use super::layout::Pane;
use super::line::LineInput;
use super::live::context_command;
use super::overlay::Overlay;
use super::tree::{go_to, Filter};
use super::{Command, State};
use crate::policy::audit::{Change, Staged};

/// Commands of the `:` line, with what they do (help shows this list).
pub const COMMANDS: &[(&str, &str)] = &[
    ("ns [NAME]", "namespaces; with a name, go to it"),
    (
        "pod [NAME]",
        "pods under their namespaces; with a name, go to the best match",
    ),
    (
        "netpol [NAME]",
        "policies under their namespaces; with a name, go to it",
    ),
    (
        "svc [NAME]",
        "Services: type, addresses, ports to target ports, pods behind; with a name, show its pods",
    ),
    (
        "explain [FROM [TO [PORT [PROTO]]]]",
        "the explain dialog, run at once when complete",
    ),
    ("flows", "focus the flow list"),
    (
        "write-flows [PATH]",
        "write the flows shown to a file, as trace -o json lines",
    ),
    ("audit", "audit mode on or off: judge the staged changes"),
    (
        "stage PATH",
        "stage the NetworkPolicies of a file or folder (added, or replacing by name)",
    ),
    ("unstage NS/NAME", "stage the removal of a policy"),
    ("staged", "the staged changes: switch each on or off"),
    (
        "breakage",
        "what the staged changes would break, and the fix",
    ),
    ("theme [NAME]", "switch theme; without a name, list them"),
    (
        "ctx [NAME]",
        "switch kubeconfig context; without a name, list them and what is not visible",
    ),
    (
        "nodes",
        "the agents feeding the flow list: state, kernel, flows per second, losses, lag",
    ),
    ("messages", "the status bar's messages in full, newest last"),
    (
        "problems",
        "likely mistakes in the policies, each with its fix (as `lint`)",
    ),
    ("help", "this help"),
    ("q", "quit"),
];

pub(super) const COMMAND_WORDS: &[&str] = &[
    "ns",
    "pod",
    "netpol",
    "svc",
    "explain",
    "flows",
    "write-flows",
    "audit",
    "stage",
    "unstage",
    "staged",
    "breakage",
    "theme",
    "ctx",
    "nodes",
    "problems",
    "messages",
    "help",
    "quit",
];

pub(super) fn complete_command(state: &State, line: &mut LineInput) {
    let text = line.text.trim_start().to_string();
    let (word, rest) = match text.split_once(' ') {
        Some((w, r)) => (w, Some(r)),
        None => (text.as_str(), None),
    };
    let candidates: Vec<String> = match rest {
        None => COMMAND_WORDS.iter().map(|s| s.to_string()).collect(),
        Some(_) if word == "theme" => state.themes.names(),
        Some(_) if word == "ctx" => state
            .live
            .as_ref()
            .map(|l| l.contexts.clone())
            .unwrap_or_default(),
        Some(_) => return,
    };
    let partial = rest.unwrap_or(word);
    let found: Vec<&String> = candidates
        .iter()
        .filter(|c| c.starts_with(partial))
        .collect();
    if let [one] = found.as_slice() {
        line.text = match rest {
            None => format!("{one} "),
            Some(_) => format!("{word} {one}"),
        };
    }
}

pub(super) fn best(state: &State, kinds: &[&str], query: &str) -> Option<Target> {
    let hits = finder::search(&state.matcher, &state.snapshot.entries, query, 500);
    hits.into_iter()
        .map(|h| state.snapshot.entries[h.entry].target)
        .find(|t| kinds.contains(&t.kind()))
}

/// `:pod` / `:netpol`: without a name, list that kind in the tree; with one, go to the best
/// match of `kind` (a finder kind: `pod`, `netpol`).
pub(super) fn list_or_go(state: &mut State, arg: &str, list: Action, kind: &str) {
    if arg.is_empty() {
        // Everything again, as k9s's `:pod`: namespaces folded by `:ns` open up.
        state.tree_filter = Filter::default();
        state.expanded = state
            .snapshot
            .overview
            .namespaces
            .iter()
            .map(|n| n.name.clone())
            .collect();
        action(state, list);
        state.focus = Pane::Tree;
        return;
    }
    match best(state, &[kind], arg) {
        Some(t) => go_to(state, t),
        None => {
            let what = if kind == "netpol" { "policy" } else { kind };
            state.complain(format!("no {what} matches {arg:?}"));
        }
    }
}

pub(super) fn run_command(state: &mut State, text: &str) -> Vec<Command> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&cmd, args)) = words.split_first() else {
        return Vec::new();
    };
    let arg = args.join(" ");
    match cmd {
        "q" | "q!" | "quit" | "exit" => {
            state.quit = true;
            return vec![Command::Quit];
        }
        "help" | "h" | "?" => state.overlay = Some(Overlay::Help { scroll: 0 }),
        "nodes" | "node" | "no" => state.overlay = Some(Overlay::Nodes { scroll: 0 }),
        "problems" | "lint" | "pr" => {
            let problems = &state.snapshot.problems.list;
            let text = crate::render::problems(problems, &crate::render::paint::Paint::markup());
            state.overlay = Some(Overlay::Text {
                title: format!("Problems ({})", problems.len()),
                text,
                scroll: 0,
            });
        }
        "messages" | "msg" => {
            // Newest at the bottom, in view.
            let scroll = state.messages.len().saturating_sub(10) as u16;
            state.overlay = Some(Overlay::Messages { scroll })
        }
        "ns" | "namespace" | "namespaces" => {
            state.tree_filter = Filter::default();
            state.focus = Pane::Tree;
            if arg.is_empty() {
                state.expanded.clear();
                state.rebuild_rows();
                state.refresh_detail();
            } else {
                match best(state, &["ns"], &arg) {
                    Some(t) => go_to(state, t),
                    None => state.complain(format!("no namespace matches {arg:?}")),
                }
            }
        }
        "pod" | "pods" | "po" => list_or_go(state, &arg, Action::ShowPods, "pod"),
        "netpol" | "netpols" | "np" | "policy" | "policies" | "networkpolicy" => {
            list_or_go(state, &arg, Action::ShowPolicies, "netpol")
        }
        "svc" | "service" | "services" => {
            if arg.is_empty() {
                let inv = state.snapshot.index.inventory().clone();
                state.overlay = Some(Overlay::Text {
                    title: format!("Services ({}) · :svc NAME shows its pods", inv.services.len()),
                    text: services_text(&inv),
                    scroll: 0,
                });
            } else {
                match best(state, &["svc"], &arg) {
                    Some(target) => super::tree::go_to(state, target),
                    None => state.complain(format!("no Service matches {arg:?}")),
                }
            }
        }
        "explain" | "x" => {
            let mut form = ExplainForm::new(&state.snapshot);
            let fields = [&mut form.from, &mut form.to, &mut form.port];
            for (input, value) in fields.into_iter().zip(args.iter()) {
                *input = LineInput::with(value);
            }
            if let Some(p) = args.get(3) {
                match crate::policy::Protocol::parse(p) {
                    Some(p) => form.protocol = p,
                    None => {
                        state.complain(format!("unknown protocol {p:?}: use TCP, UDP or SCTP"));
                        return Vec::new();
                    }
                }
            }
            // A Service with one port needs none.
            let service = args.len() == 2
                && crate::policy::service::parse_service_ref(args[1]).is_some();
            if args.len() >= 3 || service {
                form.run(&state.snapshot.index);
            } else {
                form.field = [Field::From, Field::To, Field::Port][args.len()];
                form.refresh_picks(&state.matcher);
            }
            state.open_explain(form);
        }
        "flows" | "flow" => {
            state.focus = Pane::Flows;
        }
        "write-flows" => {
            return super::actions::write_flows(state, (!arg.is_empty()).then(|| arg.clone()))
        }
        "audit" => return action(state, Action::Audit),
        "staged" => return action(state, Action::StagedList),
        "breakage" | "break" => return action(state, Action::Breakage),
        "stage" => {
            if arg.is_empty() {
                state.complain(":stage PATH: name a file or folder of NetworkPolicies");
                return Vec::new();
            }
            state.say(format!("reading {arg}…"));
            return vec![Command::LoadStage(arg)];
        }
        "unstage" => {
            let Some((namespace, name)) = arg.split_once('/') else {
                state.complain(":unstage NAMESPACE/NAME");
                return Vec::new();
            };
            let change = Staged::new(
                Change::Remove {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                },
                format!(":unstage {arg}"),
            );
            return state.stage(vec![change]);
        }
        "theme" | "skin" => {
            if arg.is_empty() {
                let names = state.themes.names().join(", ");
                state.say(format!("themes: {names} (now: {})", state.theme.name));
            } else {
                set_theme(state, &arg);
            }
        }
        "ctx" | "context" | "use-context" => return context_command(state, &arg),
        other => state.complain(format!(
            "unknown command :{other}; try :ns :pod :netpol :explain :flows :audit :stage :theme :ctx :q (? for help)"
        )),
    }
    Vec::new()
}

/// `:svc`: every Service with its type, addresses, ports (port → target port) and how many
/// pods are behind it, by namespace.
fn services_text(inv: &crate::policy::model::Inventory) -> String {
    use crate::policy::model::ServiceType;
    if inv.services.is_empty() {
        return "No Services were read.".to_string();
    }
    let paint = crate::render::paint::Paint::markup();
    let mut out = String::new();
    for s in &inv.services {
        let kind = match s.kind {
            ServiceType::ClusterIP if s.cluster_ips.is_empty() => "headless",
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        };
        let ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| {
                let node = p
                    .node_port
                    .map(|n| format!(" (node {n})"))
                    .unwrap_or_default();
                format!("{}/{}→{}{node}", p.protocol, p.port, p.target)
            })
            .collect();
        let pods = match (&s.selector, &s.endpoints) {
            (None, None) => "no selector; its EndpointSlices were not read".to_string(),
            (None, Some(e)) => {
                let ready: Vec<String> = e.ready.iter().map(|ip| ip.to_string()).collect();
                let mut text = format!("no selector; endpoints: {}", ready.join(", "));
                if ready.is_empty() {
                    text = "no selector; no ready endpoint".to_string();
                }
                if !e.not_ready.is_empty() {
                    text.push_str(&format!(" ({} not ready)", e.not_ready.len()));
                }
                text
            }
            (Some(sel), _) => {
                let labels: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "{} pod(s) behind it ({})",
                    crate::policy::service::selected_pods(inv, s).len(),
                    labels.join(",")
                )
            }
        };
        let addresses: Vec<String> = s
            .cluster_ips
            .iter()
            .chain(&s.external_ips)
            .map(|a| a.to_string())
            .collect();
        out.push_str(&format!(
            "{}  {kind}  {}\n  {}  ·  {pods}\n",
            paint.strong(&s.key()),
            addresses.join(", "),
            ports.join(", ")
        ));
        if let Some(name) = &s.external_name {
            out.push_str(&format!("  external name {name}\n"));
        }
    }
    out
}
