//! Every view drawn from a hand-built state on ratatui's TestBackend at 120x40 and 80x24,
//! compared with reviewed insta snapshots (tests/snapshots). CI never accepts new ones.

mod common;

use common::{audit_state, ctrl, demo_state, feed_flows, key, press, type_text};
use crossterm::event::KeyCode;
use netpol_tui::app::{update, Msg, State};
use netpol_tui::theme::Slot;
use netpol_tui::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn draw(state: &mut State) -> Terminal<TestBackend> {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut info = views::FrameInfo::default();
    terminal
        .draw(|f| info = views::draw(f, state))
        .expect("draws");
    update(
        state,
        Msg::Rendered {
            detail_lines: info.detail_lines,
        },
    );
    terminal
}

/// Builds the state with `setup` at both sizes and snapshots each.
fn snap(name: &str, setup: impl Fn(&mut State)) {
    for (w, h) in SIZES {
        let mut s = demo_state(w, h);
        setup(&mut s);
        let terminal = draw(&mut s);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn namespace_summary() {
    snap("namespace", |s| {
        feed_flows(s, 40);
        ctrl(s, 'p');
        type_text(s, "production");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn pod_detail() {
    snap("pod", |s| {
        feed_flows(s, 40);
        ctrl(s, 'p');
        type_text(s, "production/frontend");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn unprotected_pod() {
    snap("pod_unprotected", |s| {
        ctrl(s, 'p');
        type_text(s, "kube-system/coredns");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn policy_view() {
    snap("policy", |s| {
        press(s, KeyCode::Char(':'));
        type_text(s, "netpol database-netpol");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn flows_pane_zoomed_and_filtered() {
    snap("flows", |s| {
        feed_flows(s, 200);
        press(s, KeyCode::Char(':'));
        type_text(s, "flows");
        press(s, KeyCode::Enter);
        press(s, KeyCode::Char('z'));
        press(s, KeyCode::Char('v'));
        press(s, KeyCode::Char(' '));
    });
}

#[test]
fn explain_dialog() {
    snap("explain", |s| {
        press(s, KeyCode::Char(':'));
        type_text(s, "explain production/frontend production/database 5432");
        press(s, KeyCode::Enter);
    });
}

/// To a Service: each backing pod's verdict above, the one of most interest explained.
#[test]
fn explain_dialog_to_a_service() {
    snap("explain_service", |s| {
        press(s, KeyCode::Char(':'));
        type_text(
            s,
            "explain development/dev-shell production/svc/web-service:http",
        );
        press(s, KeyCode::Enter);
    });
}

/// The destination picker offers Services.
#[test]
fn explain_dialog_offers_services() {
    snap("explain_picking_service", |s| {
        press(s, KeyCode::Char('e'));
        type_text(s, "production/frontend");
        press(s, KeyCode::Tab);
        type_text(s, "svc/back");
    });
}

#[test]
fn explain_dialog_with_suggestions() {
    snap("explain_picking", |s| {
        press(s, KeyCode::Char('e'));
        type_text(s, "prod");
    });
}

#[test]
fn finder() {
    snap("finder", |s| {
        ctrl(s, 'p');
        type_text(s, "back");
    });
}

#[test]
fn help() {
    snap("help", |s| {
        press(s, KeyCode::Char('?'));
    });
}

#[test]
fn command_line() {
    snap("command", |s| {
        press(s, KeyCode::Char(':'));
        type_text(s, "expl");
    });
}

#[test]
fn services_view() {
    snap("services", |s| {
        press(s, KeyCode::Char(':'));
        type_text(s, "svc");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn problems_view() {
    snap("problems", |s| {
        press(s, KeyCode::Char(':'));
        type_text(s, "problems");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn too_small() {
    let mut s = demo_state(120, 40);
    update(&mut s, Msg::Resize(50, 12));
    s.size = (50, 12);
    let terminal = draw(&mut s);
    insta::assert_snapshot!("too_small_50x12", terminal.backend());
}

/// Verdicts never rely on colour alone, and the theme's slots reach the screen.
#[test]
fn verdict_cells_carry_symbol_and_theme_style() {
    for theme in ["dark", "colorblind", "high-contrast", "light"] {
        let mut s = demo_state(120, 40);
        press(&mut s, KeyCode::Char(':'));
        type_text(&mut s, &format!("theme {theme}"));
        press(&mut s, KeyCode::Enter);
        press(&mut s, KeyCode::Char(':'));
        type_text(
            &mut s,
            "explain production/frontend production/database 5432",
        );
        press(&mut s, KeyCode::Enter);
        let terminal = draw(&mut s);
        let buf = terminal.backend().buffer();
        let deny = s.theme.style(Slot::Deny);
        let cell = (0..buf.area.height)
            .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
            .find(|&(x, y)| {
                buf[(x, y)].symbol() == "✗" && buf[(x, y)].fg == deny.fg.unwrap_or_default()
            })
            .unwrap_or_else(|| panic!("{theme}: no ✗ drawn in the deny colour"));
        assert!(cell.1 > 0);
    }
}

/// A live cluster whose watches are failing: the context badge in the production frame
/// colour, STALE with its age, and the partial-view mark.
#[test]
fn live_status_bar_stale_on_production() {
    use netpol_tui::cluster::live::{Link, Status};
    snap("live_stale", |s| {
        s.attach_live(
            Status {
                context: "prod-eu".into(),
                server: "https://10.0.0.1:6443".into(),
                link: Link::Reconnecting {
                    since_ms: 1_795_348_800_000,
                    error: "pods: connection failed: connection refused".into(),
                },
                synced_ms: Some(1_795_348_790_000),
                hidden: vec![
                    "nodes (forbidden): verdicts that depend on node addresses are unknown".into(),
                ],
                warnings: Vec::new(),
            },
            vec!["prod-eu".into()],
        );
        s.message = None;
        update(
            s,
            Msg::Tick {
                now_ms: 1_795_348_814_000,
            },
        );
    });
    let mut s = demo_state(120, 40);
    s.attach_live(
        Status {
            context: "prod-eu".into(),
            server: "https://10.0.0.1:6443".into(),
            link: Link::Live,
            synced_ms: Some(1_795_348_810_000),
            hidden: Vec::new(),
            warnings: Vec::new(),
        },
        vec!["prod-eu".into()],
    );
    update(
        &mut s,
        Msg::Tick {
            now_ms: 1_795_348_814_000,
        },
    );
    let terminal = draw(&mut s);
    let buffer = terminal.backend().buffer();
    let bottom: String = (0..120)
        .map(|x| buffer[(x, 39)].symbol().to_string())
        .collect();
    assert!(
        bottom.starts_with(" prod-eu  ● live · synced 4s ago "),
        "{bottom}"
    );
    // The border is drawn in the production colour.
    assert_eq!(buffer[(0, 0)].fg, ratatui::style::Color::Red);
}

/// Like `snap`, on the demo in audit mode with 40 flows seen.
fn snap_audit(name: &str, setup: impl Fn(&mut State)) {
    for (w, h) in SIZES {
        let mut s = audit_state(w, h, 40);
        setup(&mut s);
        let terminal = draw(&mut s);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn audit_flows_and_status() {
    snap_audit("audit_flows", |s| {
        press(s, KeyCode::Tab);
        press(s, KeyCode::Tab);
    });
}

#[test]
fn audit_pod_before_and_after() {
    snap_audit("audit_pod", |s| {
        ctrl(s, 'p');
        type_text(s, "monitoring/prometheus");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn audit_breakage_view() {
    snap_audit("audit_breakage", |s| {
        key(s, KeyCode::Char('b'));
    });
}

#[test]
fn audit_staged_list() {
    snap_audit("audit_staged", |s| {
        key(s, KeyCode::Char('S'));
        key(s, KeyCode::Down);
    });
}

#[test]
fn audit_explain_both_worlds() {
    snap_audit("audit_explain", |s| {
        press(s, KeyCode::Char(':'));
        type_text(s, "explain monitoring/prometheus production/backend 9090");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn nodes_view() {
    use netpol_tui::flow::agents::{NodeReport, NodeState};
    use netpol_tui::flow::wire::Counters;
    snap("nodes", |s| {
        s.source.flows = true;
        let now = 1_795_348_900_000;
        let mut a = NodeReport::new("127.0.0.1:7001");
        a.node = Some("node-a".into());
        a.kernel = Some("6.18.0".into());
        a.ring_bytes = Some(4 << 20);
        a.state = NodeState::Connected {
            since_ms: now - 60_000,
        };
        a.flows = 12_000;
        a.newest_ms = Some(now - 300);
        a.counters = Counters {
            kernel_lost: 0,
            reader_lost: 2,
            sent: 12_002,
        };
        let mut b = NodeReport::new("127.0.0.1:7002");
        b.node = Some("node-b".into());
        b.state = NodeState::Reconnecting {
            since_ms: now - 14_000,
            error: "cannot connect: Connection refused (os error 111)".into(),
        };
        b.flows = 500;
        b.newest_ms = Some(now - 14_500);
        for r in [a, b] {
            update(s, Msg::Node(r));
        }
        update(s, Msg::Tick { now_ms: now });
        press(s, KeyCode::Char(':'));
        type_text(s, "nodes");
        press(s, KeyCode::Enter);
    });
}

#[test]
fn connections_mode() {
    snap("connections", |s| {
        feed_flows(s, 80);
        press(s, KeyCode::Tab);
        press(s, KeyCode::Tab);
        press(s, KeyCode::Char('c'));
        press(s, KeyCode::Down);
        update(
            s,
            Msg::Tick {
                now_ms: 1_795_348_830_000,
            },
        );
    });
}

#[test]
fn an_empty_command_line_lists_the_commands() {
    let mut s = demo_state(160, 40);
    press(&mut s, KeyCode::Char(':'));
    let screen = format!("{}", draw(&mut s).backend());
    assert!(
        screen.contains("ns · pod · netpol · svc · explain"),
        "{screen}"
    );
    type_text(&mut s, "n");
    let screen = format!("{}", draw(&mut s).backend());
    assert!(screen.contains("ns · netpol · nodes"), "{screen}");
}

/// A host-network pod that a Cilium host policy may select, while whether the host firewall
/// is on is not known: the tree says "not known" rather than unprotected, the detail says
/// what decides its traffic, and the status line says the firewall's state.
#[test]
fn a_host_network_pod_under_host_policies() {
    use netpol_tui::app::{Snapshot, SourceInfo};
    use netpol_tui::policy::EngineOptions;
    use netpol_tui::theme::{Theme, ThemeSet};
    let text = "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {node-access: ssh}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.1.1}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: exporter, namespace: prod, labels: {app: exporter}}\nspec: {nodeName: n1, hostNetwork: true, containers: [{name: c}]}\nstatus: {podIP: 192.168.1.1}\n---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: ssh-only}\nspec:\n  nodeSelector: {matchLabels: {node-access: ssh}}\n  ingress:\n  - fromEntities: [cluster]\n";
    let world = netpol_tui::cluster::files::load_text("hosts.yaml", text)
        .expect("loads")
        .world;
    let screen = |firewall: Option<bool>| {
        let options = EngineOptions {
            cilium_host_firewall: firewall,
            ..EngineOptions::default()
        };
        let mut s = State::new(
            Snapshot::prepare(world.clone(), options),
            SourceInfo {
                kind: "files".into(),
                detail: String::new(),
                flows: false,
            },
            ThemeSet::builtin(),
            Theme::builtin_default(),
        );
        update(&mut s, Msg::Resize(140, 30));
        common::press(&mut s, KeyCode::Down);
        format!("{}", draw(&mut s).backend())
    };
    let unknown = screen(None);
    for want in [
        "? exporter",
        "not known",
        "it shares node n1's host endpoint, which Cilium's host",
        "1 cilium (host fw ?)",
    ] {
        assert!(unknown.contains(want), "missing {want:?} in\n{unknown}");
    }
    let on = screen(Some(true));
    assert!(on.contains("1 cilium (host fw on)"), "{on}");
    assert!(!on.contains("not known"), "{on}");
}
