//! Calico's own policies (projectcalico.org/v3 NetworkPolicy and GlobalNetworkPolicy), judged
//! as Calico's documentation describes them, case by case:
//! - "NetworkPolicy" and "GlobalNetworkPolicy" resource references (docs.tigera.io/calico/
//!   latest/reference/resources/networkpolicy, .../globalnetworkpolicy): `selector`, `types`,
//!   `order` (lower first, none last), rules with `action` Allow/Deny/Pass/Log, `protocol`,
//!   `notProtocol`, and `source`/`destination` entity rules (`selector`, `notSelector`,
//!   `namespaceSelector`, `nets`, `notNets`, `ports`, `notPorts`);
//! - "Tier" reference and "Get started with policy tiers": a tier that has a policy applying
//!   to the endpoint processes the packet; a policy that allows or denies ends the
//!   evaluation, a Pass goes to the next tier, and when no policy of a tier that applies
//!   acts, the packet is dropped; Kubernetes NetworkPolicies live in the `default` tier with
//!   order 1000; with no policy applying, the namespace's profile allows;
//! - "Selectors": `projectcalico.org/namespace`, namespace labels as `pcns.*`; host-network
//!   pods are no workload endpoints.
//!
//! Every case is checked by the index, the literal explain and the one-port matrix, which
//! must agree.

mod verdicts;

use netpol_tui::policy::{Decision, Protocol};
use verdicts::{run, Case, WORLD};

use Decision::{Allowed, Denied, Unknown};
use Protocol::{Tcp, Udp};

fn calico(namespace: &str, name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  {spec}\n---\n"
    )
}

fn global(name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  {spec}\n---\n"
    )
}

/// A Kubernetes NetworkPolicy in `prod` selecting `app: api`, admitting `app: web` on 8080.
fn np_api_from_web() -> String {
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api-from-web, namespace: prod}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 8080}]\n---\n".to_string()
}

fn case(
    what: &'static str,
    policies: &str,
    from: &'static str,
    to: &'static str,
    want: Decision,
) -> Case {
    (what, policies.to_string(), from, to, Tcp, 8080, want)
}

/// A policy selects endpoints by its selector, in its namespace, for the directions of
/// `types` (default Ingress, plus Egress when egress rules are given). With no rules, the
/// tier applies and nothing decides: denied.
#[test]
fn selection_by_selector_namespace_and_types() {
    let api_in = calico("prod", "api", "selector: app == 'api'");
    let shell_out = calico("dev", "shell", "selector: all()\ntypes: [Egress]");
    let by_ns = global(
        "by-ns",
        "namespaceSelector: projectcalico.org/name == 'dev'\nselector: all()",
    );
    let pcns = global("pcns", "selector: pcns.env == 'prod' && app == 'api'");
    let endpoint_ns = global("ep", "selector: projectcalico.org/namespace == 'prod'");
    run(
        WORLD,
        vec![
            case(
                "selected for ingress",
                &api_in,
                "prod/web",
                "prod/api",
                Denied,
            ),
            case("not for egress", &api_in, "prod/api", "prod/web", Allowed),
            case("another pod", &api_in, "dev/shell", "prod/web", Allowed),
            case("egress only", &shell_out, "dev/shell", "prod/web", Denied),
            case("ingress open", &shell_out, "prod/web", "dev/shell", Allowed),
            case(
                "namespaceSelector: in",
                &by_ns,
                "prod/web",
                "dev/shell",
                Denied,
            ),
            case(
                "namespaceSelector: out",
                &by_ns,
                "dev/shell",
                "prod/web",
                Allowed,
            ),
            case(
                "host network: never",
                &by_ns,
                "prod/web",
                "dev/agent",
                Allowed,
            ),
            case("pcns labels", &pcns, "prod/web", "prod/api", Denied),
            case(
                "pcns labels: other pod",
                &pcns,
                "prod/api",
                "prod/web",
                Allowed,
            ),
            case(
                "endpoint namespace",
                &endpoint_ns,
                "dev/shell",
                "prod/web",
                Denied,
            ),
        ],
    );
}

/// NetworkPolicies are the default tier's policies of order 1000: a Calico policy of lower
/// order decides first, one of higher order (or none) after them; the first rule that
/// matches decides, and a selected pod is denied what no rule decides.
#[test]
fn order_around_network_policies() {
    let np = np_api_from_web();
    let deny_web = |order: &str| {
        calico(
            "prod",
            "deny-web",
            &format!(
                "{order}selector: app == 'api'\ningress:\n- action: Deny\n  source: {{selector: app == 'web'}}"
            ),
        )
    };
    let allow_shell_late = calico(
        "prod",
        "allow-shell",
        "order: 2000\nselector: app == 'api'\ningress:\n- action: Allow\n  source: {namespaceSelector: env == 'dev', selector: app == 'shell'}",
    );
    run(
        WORLD,
        vec![
            case(
                "order 100 Deny before the NetworkPolicy's allow",
                &format!("{np}{}", deny_web("order: 100\n")),
                "prod/web",
                "prod/api",
                Denied,
            ),
            case(
                "order 2000 Deny after the NetworkPolicy's allow",
                &format!("{np}{}", deny_web("order: 2000\n")),
                "prod/web",
                "prod/api",
                Allowed,
            ),
            case(
                "no order: last",
                &format!("{np}{}", deny_web("")),
                "prod/web",
                "prod/api",
                Allowed,
            ),
            case(
                "a later Calico Allow admits what the NetworkPolicy does not",
                &format!("{np}{allow_shell_late}"),
                "dev/shell",
                "prod/api",
                Allowed,
            ),
            case(
                "without it, NetworkPolicy alone denies",
                &np,
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case(
                "end of tier: neither admits",
                &format!("{np}{allow_shell_late}"),
                "prod/api",
                "prod/api",
                Allowed,
            ),
            case(
                "end of tier: a Calico policy selects, no rule matches",
                &allow_shell_late,
                "prod/web",
                "prod/api",
                Denied,
            ),
        ],
    );
}

/// A Pass skips the rest of the tier: the NetworkPolicies' isolation too; with no tier after
/// it, the profile allows.
#[test]
fn pass_leaves_the_default_tier() {
    let np = np_api_from_web();
    let pass = global(
        "pass-dev",
        "order: 10\nselector: all()\ningress:\n- action: Pass\n  source: {namespaceSelector: env == 'dev'}",
    );
    let banp = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  - action: Deny\n    from: [{namespaces: {matchLabels: {env: dev}}}]\n---\n";
    run(
        WORLD,
        vec![
            case(
                "passed: the NetworkPolicy's isolation is skipped",
                &format!("{np}{pass}"),
                "dev/shell",
                "prod/api",
                Allowed,
            ),
            case(
                "not passed: the tier denies at its end",
                &format!("{np}{pass}"),
                "prod/web",
                "prod/web",
                Allowed,
            ),
            case(
                "passed to the baseline tier, which denies",
                &format!("{np}{pass}{banp}"),
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case(
                "a global policy selecting every pod with only a Pass: the rest is denied",
                &pass,
                "prod/api",
                "prod/web",
                Denied,
            ),
        ],
    );
}

/// Entity rules: every condition given must hold; `notSelector` and `notNets` exclude;
/// `nets` match addresses; on ingress the destination is the selected pod itself.
#[test]
fn entity_rules() {
    let with = |rule: &str| {
        calico(
            "prod",
            "api",
            &format!("selector: app == 'api'\ningress:\n- action: Allow\n{rule}"),
        )
    };
    let by_ns = with("  source: {namespaceSelector: env == 'dev'}");
    let not_sel = with("  source: {selector: has(app), notSelector: app == 'web'}");
    let nets = with("  source: {nets: [10.2.0.0/16]}");
    let not_nets = with("  source: {notNets: [10.1.0.0/16]}");
    let dest = with("  destination: {selector: app == 'nothing'}");
    let other_ns = with("  source: {selector: app == 'shell'}");
    let v6 = with("  ipVersion: 6");
    let v4 = with("  ipVersion: 4");
    run(
        WORLD,
        vec![
            case(
                "namespaceSelector: in",
                &by_ns,
                "dev/shell",
                "prod/api",
                Allowed,
            ),
            case(
                "namespaceSelector: out",
                &by_ns,
                "prod/web",
                "prod/api",
                Denied,
            ),
            case(
                "notSelector excludes",
                &not_sel,
                "prod/web",
                "prod/api",
                Denied,
            ),
            case(
                "a namespaced policy's selector stays in its namespace",
                &other_ns,
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case("nets: in", &nets, "dev/shell", "prod/api", Allowed),
            case("nets: out", &nets, "prod/web", "prod/api", Denied),
            case("notNets: in", &not_nets, "prod/web", "prod/api", Denied),
            case("notNets: out", &not_nets, "dev/shell", "prod/api", Allowed),
            case(
                "nets: an outside address",
                &nets,
                "10.2.9.9",
                "prod/api",
                Allowed,
            ),
            case(
                "ipVersion 6: no IPv6 address",
                &v6,
                "prod/web",
                "prod/api",
                Denied,
            ),
            case("ipVersion 4", &v4, "prod/web", "prod/api", Allowed),
            case(
                "the destination must be the pod itself",
                &dest,
                "prod/web",
                "prod/api",
                Denied,
            ),
        ],
    );
}

/// `protocol`, `notProtocol`, destination `ports` (numbers, ranges `a:b`, names) and
/// `notPorts`; a rule of another protocol (ICMP) matches no TCP or UDP flow, and Log goes on
/// to the next rule.
#[test]
fn protocols_and_ports() {
    let with = |rules: &str| {
        calico(
            "prod",
            "api",
            &format!("selector: app == 'api'\ningress:\n{rules}"),
        )
    };
    let tcp_range = with("- action: Allow\n  protocol: TCP\n  destination: {ports: ['8000:8100']}");
    let named = with("- action: Allow\n  protocol: TCP\n  destination: {ports: [http]}");
    let not_ports = with("- action: Allow\n  protocol: TCP\n  destination: {notPorts: [8080]}");
    let not_udp = with("- action: Allow\n  notProtocol: UDP");
    let icmp = with("- action: Allow\n  protocol: ICMP");
    let log =
        with("- action: Log\n- action: Deny\n  source: {selector: app == 'web'}\n- action: Allow");
    let numbered = with("- action: Allow\n  protocol: 17");
    let flow = |what, policies: &String, proto, port, want| -> Case {
        (
            what,
            policies.clone(),
            "prod/web",
            "prod/api",
            proto,
            port,
            want,
        )
    };
    run(
        WORLD,
        vec![
            flow("range: in", &tcp_range, Tcp, 8080, Allowed),
            flow("range: out", &tcp_range, Tcp, 9000, Denied),
            flow("range: other protocol", &tcp_range, Udp, 8080, Denied),
            flow("named port", &named, Tcp, 8080, Allowed),
            flow("named port: other number", &named, Tcp, 8081, Denied),
            flow("notPorts: excluded", &not_ports, Tcp, 8080, Denied),
            flow("notPorts: others", &not_ports, Tcp, 8081, Allowed),
            flow("notProtocol: excluded", &not_udp, Udp, 53, Denied),
            flow("notProtocol: others", &not_udp, Tcp, 8080, Allowed),
            flow("ICMP matches no TCP flow", &icmp, Tcp, 8080, Denied),
            flow("Log goes on; then Deny", &log, Tcp, 8080, Denied),
            flow("protocol by number (17: UDP)", &numbered, Udp, 53, Allowed),
            flow("protocol by number: not TCP", &numbered, Tcp, 8080, Denied),
        ],
    );
}

/// What cannot be read is never guessed: a selector may match NetworkSets and HostEndpoints
/// (not read), service accounts are not in the inventory, an HTTP match is L7, a policy of
/// another tier or of order 1000 cannot be placed.
#[test]
fn unknown_where_data_is_missing() {
    let with = |extra: &str, rule: &str| {
        calico(
            "prod",
            "api",
            &format!("{extra}selector: app == 'api'\ningress:\n- action: Allow\n{rule}"),
        )
    };
    let sel = with("", "  source: {selector: app == 'web'}");
    let sa = with("", "  source: {serviceAccounts: {selector: role == 'web'}}");
    let sa_default = with("", "  source: {serviceAccounts: {names: [default]}}");
    let sa_web = with("", "  source: {serviceAccounts: {names: [web]}}");
    let http = with("", "  http: {methods: [GET]}");
    let http_deny = calico(
        "prod",
        "api",
        "selector: app == 'api'\ningress:\n- action: Deny\n  http: {methods: [DELETE]}\n- action: Allow",
    );
    let tied = with("order: 1000\n", "  source: {selector: app == 'web'}");
    let tiered = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: security.api, namespace: prod}\nspec:\n  tier: security\n  selector: app == 'api'\n  ingress:\n  - action: Allow\n---\n";
    run(
        WORLD,
        vec![
            case("selector: a pod", &sel, "prod/web", "prod/api", Allowed),
            case(
                "selector: an outside address no NetworkSet holds",
                &sel,
                "172.16.0.9",
                "prod/api",
                Denied,
            ),
            case(
                "a service account selector: labels not read",
                &sa,
                "prod/web",
                "prod/api",
                Unknown,
            ),
            case(
                "service account names: a pod with none runs as default",
                &sa_default,
                "prod/web",
                "prod/api",
                Allowed,
            ),
            case(
                "service account names: another name",
                &sa_web,
                "prod/web",
                "prod/api",
                Denied,
            ),
            case(
                "service accounts: never an outside address",
                &sa,
                "172.16.0.9",
                "prod/api",
                Denied,
            ),
            case(
                "an Allow's HTTP match: allowed at L3/L4, filtered at L7",
                &http,
                "prod/web",
                "prod/api",
                Allowed,
            ),
            case(
                "a Deny's HTTP match decides by requests",
                &http_deny,
                "prod/web",
                "prod/api",
                Unknown,
            ),
            case("order 1000: tied", &tied, "prod/web", "prod/api", Unknown),
            case("another tier", tiered, "prod/web", "prod/api", Unknown),
            case(
                "another tier: other pods",
                tiered,
                "prod/api",
                "prod/web",
                Allowed,
            ),
        ],
    );
}

/// Egress: the destination is the far end, the source the selected pod; a global policy's
/// selector reaches every namespace.
#[test]
fn egress_rules() {
    let deny_out = global(
        "no-prod-from-dev",
        "order: 50\nselector: projectcalico.org/namespace == 'dev'\ntypes: [Egress]\negress:\n- action: Deny\n  destination: {selector: projectcalico.org/namespace == 'prod'}\n- action: Allow",
    );
    run(
        WORLD,
        vec![
            case("denied to prod", &deny_out, "dev/shell", "prod/api", Denied),
            case(
                "a node no HostEndpoint holds: the selector does not match it",
                &deny_out,
                "dev/shell",
                "node/n1",
                Allowed,
            ),
            case(
                "other namespaces untouched",
                &deny_out,
                "prod/web",
                "prod/api",
                Allowed,
            ),
        ],
    );
}

/// A policy that only maybe selects the pod (its serviceAccountSelector reads what the
/// inventory lacks) leaves the end of the tier unknown, and explain says why in one sentence.
#[test]
fn a_maybe_selected_pod_is_unknown_at_the_end_of_the_tier() {
    use netpol_tui::policy::explain::explain;
    use netpol_tui::policy::EngineOptions;
    let sa = global(
        "sa",
        "selector: app == 'api'\nserviceAccountSelector: role == 'db'",
    );
    let index = verdicts::index_of(WORLD, &sa, EngineOptions::default());
    let flow = verdicts::flow(&index, "prod/web", "prod/api", Tcp, 8080);
    let e = explain(&index, &flow);
    assert_eq!(e.verdict.decision(), Unknown);
    assert_eq!(
        e.unknown.as_deref(),
        Some(
            "no rule of Calico's default tier decides the ingress of prod/api, and whether \
             projectcalico.org/GlobalNetworkPolicy/sa select it (and so deny at the tier's end) \
             depends on namespace labels or service accounts that cannot be read"
        )
    );
}

fn tier(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: {name}}}\nspec: {{{spec}}}\n---\n"
    )
}

/// Tiers of their own ("Tier" reference, "Get started with policy tiers"): tiers go by their
/// order, lower first, none last; the admin tier (AdminNetworkPolicies) has order 1000, the
/// default tier 1,000,000, the baseline tier (BaselineAdminNetworkPolicies) 10,000,000. A
/// tier one of whose policies selects the pod denies what its rules leave undecided, unless
/// its `defaultAction` is Pass; a Pass rule goes to the next tier.
#[test]
fn tiers_of_their_own() {
    let sec = |order: &str| tier("sec", order);
    let api_from_web = global(
        "sec.api",
        "tier: sec\nselector: app == 'api'\ningress:\n- action: Allow\n  source: {selector: app == 'web'}",
    );
    let anp_shell = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: shell-to-api}\nspec:\n  priority: 1\n  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}\n  ingress:\n  - action: Allow\n    from: [{namespaces: {matchLabels: {env: dev}}}]\n---\n";
    let banp_dev = |action: &str| {
        format!("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {{name: default}}\nspec:\n  subject: {{namespaces: {{}}}}\n  ingress:\n  - action: {action}\n    from: [{{namespaces: {{matchLabels: {{env: dev}}}}}}]\n---\n")
    };
    let pass_dev = global(
        "sec.pass-dev",
        "tier: sec\nselector: all()\ningress:\n- action: Pass\n  source: {namespaceSelector: env == 'dev'}",
    );
    let deny_dev = |tier: &str| {
        global(
            &format!("{tier}.deny-dev"),
            &format!("tier: {tier}\nselector: all()\ningress:\n- action: Deny\n  source: {{namespaceSelector: env == 'dev'}}\n- action: Pass"),
        )
    };
    let np = np_api_from_web();
    let shell_out = global(
        "sec.shell-out",
        "tier: sec\nselector: app == 'shell'\ntypes: [Egress]\negress:\n- action: Allow\n  destination: {nets: [10.1.0.2/32]}",
    );
    let first = format!("{}{api_from_web}", sec("order: 100"));
    run(
        WORLD,
        vec![
            case("a rule allows", &first, "prod/web", "prod/api", Allowed),
            case(
                "the tier selects the pod and no rule decides: denied at its end",
                &first,
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case(
                "not selected for egress",
                &first,
                "prod/api",
                "prod/web",
                Allowed,
            ),
            case(
                "order 100: before the admin tier",
                &format!("{first}{anp_shell}"),
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case(
                "order 5000: after the admin tier",
                &format!("{}{api_from_web}{anp_shell}", sec("order: 5000")),
                "dev/shell",
                "prod/api",
                Allowed,
            ),
            case(
                "defaultAction Pass: NetworkPolicy decides",
                &format!(
                    "{}{api_from_web}{np}",
                    sec("order: 5000, defaultAction: Pass")
                ),
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case(
                "defaultAction Pass: nothing after it isolates",
                &format!("{}{api_from_web}", sec("order: 5000, defaultAction: Pass")),
                "dev/shell",
                "prod/api",
                Allowed,
            ),
            case(
                "a Pass rule goes to the next tier",
                &format!("{}{pass_dev}", sec("order: 100")),
                "dev/shell",
                "prod/web",
                Allowed,
            ),
            case(
                "no Pass: denied at the tier's end",
                &format!("{}{pass_dev}", sec("order: 100")),
                "prod/api",
                "prod/web",
                Denied,
            ),
            case(
                "between the default and baseline tiers: before the baseline's allow",
                &format!(
                    "{}{}{}",
                    tier("late", "order: 5000000"),
                    deny_dev("late"),
                    banp_dev("Allow")
                ),
                "dev/shell",
                "prod/web",
                Denied,
            ),
            case(
                "after the default tier: a pod NetworkPolicy isolates never gets there",
                &format!("{}{}{np}", tier("late", "order: 5000000"), deny_dev("late")),
                "prod/web",
                "prod/api",
                Allowed,
            ),
            case(
                "no order: after the baseline tier's allow",
                &format!(
                    "{}{}{}",
                    tier("last", ""),
                    deny_dev("last"),
                    banp_dev("Allow")
                ),
                "dev/shell",
                "prod/web",
                Allowed,
            ),
            case(
                "no order: decides what the baseline tier does not",
                &format!("{}{}", tier("last", ""), deny_dev("last")),
                "dev/shell",
                "prod/web",
                Denied,
            ),
            case(
                "egress: allowed by nets",
                &format!("{}{shell_out}", sec("order: 100")),
                "dev/shell",
                "prod/web",
                Allowed,
            ),
            case(
                "egress: denied at the tier's end",
                &format!("{}{shell_out}", sec("order: 100")),
                "dev/shell",
                "prod/api",
                Denied,
            ),
        ],
    );
}

/// Where a policy's tier cannot be placed, a side whose pod it selects is unknown: no Tier
/// object of that name, a tier ordered exactly like the admin, default or baseline tier
/// (which goes first is not documented), the tiers that hold the cluster's admin policies.
#[test]
fn tiers_that_cannot_be_placed_are_unknown() {
    let policy = |tier: &str| {
        global(
            &format!("{tier}.api"),
            &format!("tier: {tier}\nselector: app == 'api'\ningress:\n- action: Allow\n  source: {{selector: app == 'web'}}"),
        )
    };
    let mut cases = vec![case(
        "no Tier object",
        &policy("sec"),
        "prod/web",
        "prod/api",
        Unknown,
    )];
    for order in ["1000", "1000000", "10000000"] {
        cases.push(case(
            "an order another tier has",
            &format!(
                "{}{}",
                tier("sec", &format!("order: {order}")),
                policy("sec")
            ),
            "prod/web",
            "prod/api",
            Unknown,
        ));
    }
    for name in ["kube-admin", "kube-baseline"] {
        cases.push(case(
            "a tier of the admin policies",
            &format!("{}{}", tier(name, "order: 1000"), policy(name)),
            "prod/web",
            "prod/api",
            Unknown,
        ));
    }
    cases.push(case(
        "other pods",
        &policy("sec"),
        "prod/api",
        "prod/web",
        Allowed,
    ));
    run(WORLD, cases);
}

fn set(kind: &str, namespace: Option<&str>, name: &str, labels: &str, spec: &str) -> String {
    let ns = namespace.map_or(String::new(), |n| format!(", namespace: {n}"));
    format!(
        "apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata: {{name: {name}{ns}, labels: {{{labels}}}}}\nspec: {{{spec}}}\n---\n"
    )
}

/// Addresses that are no pod's: a Calico selector matches them through the NetworkSets,
/// GlobalNetworkSets and HostEndpoints that hold them ("NetworkSet", "GlobalNetworkSet" and
/// "HostEndpoint" references; "Calico automatic labels": in a NetworkPolicy a selector with
/// no namespaceSelector means resources of the policy's namespace, in a GlobalNetworkPolicy
/// resources of every namespace and non-namespaced ones; `global()` selects the
/// non-namespaced ones). An address no set holds matches no selector, and matches a
/// notSelector; where a set may hold addresses it does not list, the answer is unknown.
#[test]
fn network_sets_and_host_endpoints() {
    let sets = [
        set(
            "GlobalNetworkSet",
            None,
            "partners",
            "role: partner",
            "nets: [203.0.113.0/24]",
        ),
        set(
            "NetworkSet",
            Some("prod"),
            "office",
            "role: office",
            "nets: [198.51.100.0/24]",
        ),
        set(
            "HostEndpoint",
            None,
            "n2-eth0",
            "host: n2",
            "node: n2, interfaceName: eth0, expectedIPs: [192.168.1.2]",
        ),
    ]
    .concat();
    let from = |source: &str| {
        format!("selector: app == 'api'\ningress:\n- action: Allow\n  source: {{{source}}}")
    };
    let gnp = |source: &str| format!("{sets}{}", global("api", &from(source)));
    let np = |source: &str| format!("{sets}{}", calico("prod", "api", &from(source)));
    let open = set(
        "GlobalNetworkSet",
        None,
        "saas",
        "role: partner",
        "allowedEgressDomains: [api.example.com]",
    );
    run(
        WORLD,
        vec![
            case(
                "a GlobalNetworkSet's address",
                &gnp("selector: role == 'partner'"),
                "203.0.113.7",
                "prod/api",
                Allowed,
            ),
            case(
                "an address no set holds",
                &gnp("selector: role == 'partner'"),
                "172.16.0.9",
                "prod/api",
                Denied,
            ),
            case(
                "a namespaced policy: a NetworkSet of its namespace",
                &np("selector: role == 'office'"),
                "198.51.100.5",
                "prod/api",
                Allowed,
            ),
            case(
                "a namespaced policy: not a GlobalNetworkSet",
                &np("selector: role == 'partner'"),
                "203.0.113.7",
                "prod/api",
                Denied,
            ),
            case(
                "global(): a GlobalNetworkSet",
                &gnp("namespaceSelector: global(), selector: role == 'partner'"),
                "203.0.113.7",
                "prod/api",
                Allowed,
            ),
            case(
                "global(): not a NetworkSet",
                &gnp("namespaceSelector: global(), selector: role == 'office'"),
                "198.51.100.5",
                "prod/api",
                Denied,
            ),
            case(
                "a namespaceSelector: the NetworkSets of those namespaces",
                &gnp("namespaceSelector: env == 'prod'"),
                "198.51.100.5",
                "prod/api",
                Allowed,
            ),
            case(
                "a HostEndpoint's expected IP (its own egress is host endpoint policy's)",
                &gnp("selector: host == 'n2'"),
                "node/n2",
                "prod/api",
                Unknown,
            ),
            case(
                "another node",
                &gnp("selector: host == 'n1'"),
                "node/n2",
                "prod/api",
                Denied,
            ),
            case(
                "notSelector: a set it matches",
                &gnp("notSelector: role == 'partner'"),
                "203.0.113.7",
                "prod/api",
                Denied,
            ),
            case(
                "notSelector: an address no set holds",
                &gnp("notSelector: role == 'partner'"),
                "172.16.0.9",
                "prod/api",
                Allowed,
            ),
            case(
                "a set with domain names may hold it",
                &format!("{open}{}", gnp("selector: role == 'partner'")),
                "172.16.0.9",
                "prod/api",
                Unknown,
            ),
            case(
                "a set with domain names, and one that holds it",
                &format!("{open}{}", gnp("selector: role == 'partner'")),
                "203.0.113.7",
                "prod/api",
                Allowed,
            ),
        ],
    );
    // The HostEndpoint's address matches the selector: the pod's ingress admits it.
    let index = verdicts::index_of(
        WORLD,
        &gnp("selector: host == 'n2'"),
        netpol_tui::policy::EngineOptions::default(),
    );
    let flow = verdicts::flow(&index, "node/n2", "prod/api", Tcp, 8080);
    let e = netpol_tui::policy::explain::explain(&index, &flow);
    assert_eq!(e.ingress.outcome, "allowed");
    assert_eq!(e.egress.outcome, "unknown", "the host's own egress");
}

/// "Host endpoints" (reference/host-endpoints/overview, .../hostendpoint): a HostEndpoint puts
/// a node's interfaces under Calico's host endpoint policy: the policies that select it,
/// its profiles (none: default deny), failsafe ports, `applyOnForward` and `preDNAT`. That is
/// not judged, so every side it decides (the node's own addresses and its host-network pods)
/// is unknown, with the reason; the nodes it does not protect, and traffic between a pod and
/// its own node, are as before.
#[test]
fn host_endpoints_leave_their_nodes_own_traffic_unknown() {
    let hep = set(
        "HostEndpoint",
        None,
        "n2-all",
        "host: n2",
        "node: n2, interfaceName: '*'",
    );
    let deny_api = format!(
        "{hep}{}",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api-deny, namespace: prod}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress]\n---\n"
    );
    run(
        WORLD,
        vec![
            case("to the node", &hep, "prod/api", "node/n2", Unknown),
            case("to its address", &hep, "prod/api", "192.168.1.2", Unknown),
            case(
                "to a host-network pod on it",
                &hep,
                "prod/api",
                "dev/agent",
                Unknown,
            ),
            case("from the node", &hep, "node/n2", "prod/api", Unknown),
            case(
                "from a host-network pod on it",
                &hep,
                "dev/agent",
                "prod/api",
                Unknown,
            ),
            case(
                "the far side still denies",
                &deny_api,
                "dev/agent",
                "prod/api",
                Denied,
            ),
            case("another node", &hep, "prod/api", "node/n1", Allowed),
            case(
                "a pod and its own node",
                &hep,
                "prod/web",
                "node/n2",
                Allowed,
            ),
            case(
                "pods of their own network",
                &hep,
                "prod/web",
                "prod/api",
                Allowed,
            ),
        ],
    );
    let index = verdicts::index_of(WORLD, &hep, netpol_tui::policy::EngineOptions::default());
    let flow = verdicts::flow(&index, "prod/api", "node/n2", Tcp, 8080);
    let e = netpol_tui::policy::explain::explain(&index, &flow);
    assert_eq!(e.ingress.pod.as_deref(), Some("host n2"));
    let why = e.unknown.expect("a reason");
    assert!(
        why.contains("HostEndpoint/n2-all protects node n2: Calico's host endpoint policy"),
        "{why}"
    );
}

/// A NetworkSet picked by its namespace's labels (a namespaceSelector, or `pcns.*` in the
/// selector) when those labels cannot be read: unknown, never a guess either way.
#[test]
fn a_network_set_whose_namespace_labels_are_hidden_is_unknown() {
    use netpol_tui::cluster::files::load_text;
    use netpol_tui::policy::{EngineOptions, Index};
    use std::sync::Arc;
    let office = set(
        "NetworkSet",
        Some("prod"),
        "office",
        "role: office",
        "nets: [198.51.100.0/24]",
    );
    for source in [
        "namespaceSelector: env == 'prod', selector: role == 'office'",
        "selector: pcns.env == 'prod' && role == 'office'",
    ] {
        let policy = global(
            "api",
            &format!("selector: app == 'api'\ningress:\n- action: Allow\n  source: {{{source}}}"),
        );
        let text = format!("{WORLD}\n---\n{office}{policy}");
        let loaded = load_text("test", &text).expect("loads");
        let mut inventory = (*loaded.world.inventory).clone();
        for ns in &mut inventory.namespaces {
            if ns.name == "prod" {
                ns.labels_known = false;
                ns.labels.retain(|k, _| k == "kubernetes.io/metadata.name");
            }
        }
        let index = Index::build(
            Arc::new(inventory),
            Arc::clone(&loaded.world.policies),
            EngineOptions::default(),
        );
        assert_eq!(
            verdicts::decide(&index, "198.51.100.5", "prod/api", Tcp, 8080),
            Unknown,
            "{source}"
        );
        // Known labels: allowed.
        let known = verdicts::index_of(
            WORLD,
            &format!("{office}{policy}"),
            EngineOptions::default(),
        );
        assert_eq!(
            verdicts::decide(&known, "198.51.100.5", "prod/api", Tcp, 8080),
            Allowed,
            "{source}"
        );
    }
}

/// Service accounts by name ("NetworkPolicy" reference, `serviceAccounts.names`): two pods
/// alike but for their service account are told apart; a pod that names none runs as
/// `default`, as the API server sets it.
#[test]
fn service_accounts_by_name() {
    let world = format!(
        "{WORLD}\n---\n{}",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: web-a, namespace: prod, labels: {app: client}}, spec: {serviceAccountName: web, containers: [{name: c}]}, status: {podIP: 10.1.0.5}}\n- {apiVersion: v1, kind: Pod, metadata: {name: web-b, namespace: prod, labels: {app: client}}, spec: {serviceAccountName: batch, containers: [{name: c}]}, status: {podIP: 10.1.0.6}}\n- {apiVersion: v1, kind: Pod, metadata: {name: web-c, namespace: prod, labels: {app: client}}, spec: {containers: [{name: c}]}, status: {podIP: 10.1.0.7}}\n"
    );
    let policy = calico(
        "prod",
        "api",
        "selector: app == 'api'\ningress:\n- action: Allow\n  source: {serviceAccounts: {names: [web]}}",
    );
    let egress = calico(
        "prod",
        "client-out",
        "selector: app == 'client'\ntypes: [Egress]\negress:\n- action: Allow\n  source: {serviceAccounts: {names: [default]}}",
    );
    run(
        &world,
        vec![
            case("named", &policy, "prod/web-a", "prod/api", Allowed),
            case("another name", &policy, "prod/web-b", "prod/api", Denied),
            case("none: default", &policy, "prod/web-c", "prod/api", Denied),
            case(
                "egress, own end: default",
                &egress,
                "prod/web-c",
                "prod/api",
                Allowed,
            ),
            case(
                "egress, own end: another",
                &egress,
                "prod/web-a",
                "prod/api",
                Denied,
            ),
        ],
    );
}

/// Service accounts by their labels ("NetworkPolicy" reference, `serviceAccounts.selector`
/// and `serviceAccountSelector`): the labels are those of the ServiceAccount objects read. A
/// pod whose ServiceAccount was not read is neither matched nor refused: unknown.
#[test]
fn service_accounts_by_their_labels() {
    let world = format!(
        "{WORLD}\n---\n{}",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: web-a, namespace: prod, labels: {app: client}}, spec: {serviceAccountName: web, containers: [{name: c}]}, status: {podIP: 10.1.0.5}}\n- {apiVersion: v1, kind: Pod, metadata: {name: web-b, namespace: prod, labels: {app: client}}, spec: {serviceAccountName: batch, containers: [{name: c}]}, status: {podIP: 10.1.0.6}}\n- {apiVersion: v1, kind: Pod, metadata: {name: web-c, namespace: prod, labels: {app: client}}, spec: {serviceAccountName: ghost, containers: [{name: c}]}, status: {podIP: 10.1.0.7}}\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: web, namespace: prod, labels: {role: frontend}}}\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: batch, namespace: prod, labels: {role: jobs}}}\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: default, namespace: prod}}\n"
    );
    let from_frontends = calico(
        "prod",
        "api",
        "selector: app == 'api'\ningress:\n- action: Allow\n  source: {serviceAccounts: {selector: role == 'frontend'}}",
    );
    let both = calico(
        "prod",
        "api",
        "selector: app == 'api'\ningress:\n- action: Allow\n  source: {serviceAccounts: {names: [web, batch], selector: role == 'jobs'}}",
    );
    // Clients running as a frontend account may not reach the api: the policy selects by
    // the pods' service accounts.
    let frontends_out = global(
        "frontends-out",
        "selector: app == 'client'\nserviceAccountSelector: role == 'frontend'\ntypes: [Egress]\negress:\n- action: Deny\n  destination: {selector: app == 'api'}",
    );
    run(
        &world,
        vec![
            case(
                "the account's labels match",
                &from_frontends,
                "prod/web-a",
                "prod/api",
                Allowed,
            ),
            case(
                "another account's labels",
                &from_frontends,
                "prod/web-b",
                "prod/api",
                Denied,
            ),
            case(
                "an account not read",
                &from_frontends,
                "prod/web-c",
                "prod/api",
                Unknown,
            ),
            case(
                "names and selector: both hold",
                &both,
                "prod/web-b",
                "prod/api",
                Allowed,
            ),
            case(
                "names and selector: the selector fails",
                &both,
                "prod/web-a",
                "prod/api",
                Denied,
            ),
            case(
                "selected by its account",
                &frontends_out,
                "prod/web-a",
                "prod/api",
                Denied,
            ),
            case(
                "not selected: another account",
                &frontends_out,
                "prod/web-b",
                "prod/api",
                Allowed,
            ),
            case(
                "maybe selected: its account not read",
                &frontends_out,
                "prod/web-c",
                "prod/api",
                Unknown,
            ),
        ],
    );
    let index = verdicts::index_of(
        &world,
        &from_frontends,
        netpol_tui::policy::EngineOptions::default(),
    );
    let flow = verdicts::flow(&index, "prod/web-c", "prod/api", Tcp, 8080);
    let why = netpol_tui::policy::explain::explain(&index, &flow)
        .unknown
        .expect("a reason");
    assert!(
        why.contains("the labels of service account prod/ghost were not read"),
        "{why}"
    );
}

/// The world with Services: `prod/apiserver` without a selector, one endpoint at 192.0.2.1
/// and one not ready at 192.0.2.3, serving TCP 8080 (an EndpointSlice); `prod/lost` without
/// a selector or slices among the files; `prod/web-svc` selecting `app: web`; `dev/agent-svc`
/// selecting the host-network `agent` on node n2.
fn service_world() -> String {
    format!(
        "{WORLD}---
apiVersion: v1
kind: Service
metadata: {{name: apiserver, namespace: prod}}
spec: {{ports: [{{port: 8080}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: apiserver, namespace: prod, labels: {{kubernetes.io/service-name: apiserver}}}}
addressType: IPv4
endpoints: [{{addresses: [192.0.2.1]}}, {{addresses: [192.0.2.3], conditions: {{ready: false}}}}]
ports: [{{port: 8080, protocol: TCP}}]
---
apiVersion: v1
kind: Service
metadata: {{name: lost, namespace: prod}}
spec: {{ports: [{{port: 8080}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-svc, namespace: prod}}
spec: {{selector: {{app: web}}, ports: [{{port: 8080}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: agent-svc, namespace: dev}}
spec: {{selector: {{app: agent}}, ports: [{{port: 8080}}]}}
"
    )
}

/// "NetworkPolicy" resource reference, `services` of an entity rule: only traffic to or from
/// the endpoints of the selected Service matches, and only to or from each endpoint's port
/// (its EndpointSlices'; Felix matches a destination by address, port and protocol, a source
/// by address). A ready endpoint at a listed port matches; whether endpoints that are not
/// ready count, and which of a Service's pods are endpoints (their slices are not read), is
/// not judged: unknown. Anything that is no endpoint is surely not matched. The namespace
/// defaults to the policy's own.
#[test]
fn services_match_their_endpoints_only() {
    let world = service_world();
    let out = |name: &str, to: &str| {
        calico(
            "prod",
            name,
            &format!(
                "selector: app == 'api'\ntypes: [Egress]\negress:\n- action: Allow\n  destination: {{services: {to}}}"
            ),
        )
    };
    let apiserver = out("to-apiserver", "{name: apiserver}");
    let web = out("to-web", "{name: web-svc}");
    let lost = out("to-lost", "{name: lost}");
    let nope = out("to-nope", "{name: nope}");
    let elsewhere = out("to-dev", "{name: apiserver, namespace: dev}");
    let from_web = calico(
        "prod",
        "from-web",
        "selector: app == 'api'\ningress:\n- action: Allow\n  source: {services: {name: web-svc}}",
    );
    let agent = out("to-agent", "{name: agent-svc, namespace: dev}");
    let from_apiserver = calico(
        "prod",
        "from-apiserver",
        "selector: app == 'api'\ningress:\n- action: Allow\n  source: {services: {name: apiserver}}",
    );
    let global_unnamed = global(
        "to-apiserver",
        "selector: app == 'api'\ntypes: [Egress]\negress:\n- action: Allow\n  destination: {services: {name: apiserver}}",
    );
    run(
        &world,
        vec![
            case(
                "a ready endpoint at its port",
                &apiserver,
                "prod/api",
                "192.0.2.1",
                Allowed,
            ),
            (
                "a ready endpoint at another port",
                apiserver.clone(),
                "prod/api",
                "192.0.2.1",
                Tcp,
                9090,
                Denied,
            ),
            (
                "a ready endpoint, another protocol",
                apiserver.clone(),
                "prod/api",
                "192.0.2.1",
                Udp,
                8080,
                Denied,
            ),
            case(
                "an endpoint that is not ready",
                &apiserver,
                "prod/api",
                "192.0.2.3",
                Unknown,
            ),
            case(
                "a source by its address alone",
                &from_apiserver,
                "192.0.2.1",
                "prod/api",
                Allowed,
            ),
            case(
                "a source that is no endpoint",
                &from_apiserver,
                "192.0.2.2",
                "prod/api",
                Denied,
            ),
            case(
                "no endpoint: the tier ends in deny",
                &apiserver,
                "prod/api",
                "192.0.2.2",
                Denied,
            ),
            case(
                "a pod is no endpoint of it",
                &apiserver,
                "prod/api",
                "prod/web",
                Denied,
            ),
            case(
                "a pod behind a Service with a selector",
                &web,
                "prod/api",
                "prod/web",
                Unknown,
            ),
            case("a pod not behind it", &web, "prod/api", "dev/shell", Denied),
            case(
                "a node whose host-network pod is behind it",
                &agent,
                "prod/api",
                "node/n2",
                Unknown,
            ),
            case(
                "an address no pod has",
                &agent,
                "prod/api",
                "192.168.1.9",
                Denied,
            ),
            case(
                "an address not behind it",
                &web,
                "prod/api",
                "192.0.2.1",
                Denied,
            ),
            case(
                "slices not read: anything may be",
                &lost,
                "prod/api",
                "192.0.2.1",
                Unknown,
            ),
            case(
                "slices not read: a pod may be too",
                &lost,
                "prod/api",
                "prod/web",
                Unknown,
            ),
            case("no such Service", &nope, "prod/api", "192.0.2.1", Denied),
            case(
                "another namespace's Service",
                &elsewhere,
                "prod/api",
                "192.0.2.1",
                Denied,
            ),
            case(
                "a source behind it",
                &from_web,
                "prod/web",
                "prod/api",
                Unknown,
            ),
            case(
                "a source not behind it",
                &from_web,
                "dev/shell",
                "prod/api",
                Denied,
            ),
            case(
                "a global policy names no namespace",
                &global_unnamed,
                "prod/api",
                "192.0.2.2",
                Unknown,
            ),
        ],
    );
    // An endpoint written by hand may be a pod's address: of two pods alike but for their
    // addresses, only the listed one may be matched.
    let pinned = format!(
        "{world}---
apiVersion: v1
kind: Pod
metadata: {{name: web2, namespace: prod, labels: {{app: web}}}}
spec: {{nodeName: n2, containers: [{{name: c}}]}}
status: {{podIP: 10.1.0.9}}
---
apiVersion: v1
kind: Service
metadata: {{name: pinned, namespace: prod}}
spec: {{ports: [{{port: 8080}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: pinned, namespace: prod, labels: {{kubernetes.io/service-name: pinned}}}}
addressType: IPv4
endpoints: [{{addresses: [10.1.0.2]}}]
"
    );
    let to_pinned = out("to-pinned", "{name: pinned}");
    run(
        &pinned,
        vec![
            case(
                "the listed pod",
                &to_pinned,
                "prod/api",
                "prod/web",
                Unknown,
            ),
            case(
                "a pod alike, not listed",
                &to_pinned,
                "prod/api",
                "prod/web2",
                Denied,
            ),
        ],
    );
}

/// `services` cannot be combined with selectors, nets or service accounts, and needs a name:
/// refused, naming the field, as Calico's API server refuses it.
#[test]
fn bad_service_matches_name_the_field() {
    use netpol_tui::cluster::files::load_text;
    for (rule, field, message) in [
        (
            "destination: {services: {name: web-svc}, selector: app == 'web'}",
            "spec.egress[0].destination.services",
            "cannot be combined with selector",
        ),
        (
            "destination: {services: {namespace: prod}}",
            "spec.egress[0].destination.services.name",
            "is required",
        ),
    ] {
        let policy = calico(
            "prod",
            "bad",
            &format!("selector: app == 'api'\negress:\n- action: Allow\n  {rule}"),
        );
        let err = load_text("bad.yaml", &format!("{WORLD}\n---\n{policy}"))
            .err()
            .unwrap_or_else(|| panic!("refused: {rule}"))
            .to_string();
        assert!(err.contains(&format!("{field}: {message}")), "{err}");
    }
}
