//! Drawing: one function per screen part. Views read [`State`] and draw; they never change it.
//! What a frame learns about sizes (how long the detail text wrapped) goes back as
//! [`FrameInfo`], which the loop turns into a message.

mod detail;
mod dialogs;
mod flows;
mod status;
mod tree;

use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::layout::{MIN_HEIGHT, MIN_WIDTH};
use crate::app::{Overlay, Pane, State};
use crate::theme::Slot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// Lines of the detail pane after wrapping.
    pub detail_lines: usize,
}

pub fn draw(frame: &mut Frame, state: &State) -> FrameInfo {
    let theme = &state.theme;
    let full = frame.area();
    frame.render_widget(Block::default().style(theme.style(Slot::Background)), full);
    let areas = crate::app::layout::areas(full.width, full.height, state.zoom);
    if areas.too_small {
        too_small(frame, full, state);
        return FrameInfo::default();
    }
    let mut info = FrameInfo::default();
    if areas.tree.width > 0 {
        tree::draw(frame, areas.tree, state);
    }
    if areas.detail.width > 0 {
        info.detail_lines = detail::draw(frame, areas.detail, state);
    }
    if areas.flows.width > 0 {
        flows::draw(frame, areas.flows, state);
    }
    match &state.overlay {
        Some(Overlay::Command(line)) => status::command_line(frame, areas.status, state, line),
        _ => status::draw(frame, areas.status, state),
    }
    match &state.overlay {
        Some(Overlay::Help { scroll }) => dialogs::help(frame, full, state, *scroll),
        Some(Overlay::Finder(f)) => dialogs::finder(frame, full, state, f),
        Some(Overlay::Explain(form)) => dialogs::explain(frame, full, state, form),
        Some(Overlay::Staged { cursor }) => dialogs::staged_list(frame, full, state, *cursor),
        Some(Overlay::Breakage(b)) => dialogs::breakage(frame, full, state, b),
        Some(Overlay::DenyPrompt { namespace }) => {
            dialogs::deny_prompt(frame, full, state, namespace)
        }
        Some(Overlay::Nodes { scroll }) => dialogs::nodes(frame, full, state, *scroll),
        Some(Overlay::Messages { scroll }) => dialogs::messages(frame, full, state, *scroll),
        Some(Overlay::Text {
            title,
            text,
            scroll,
        }) => dialogs::text(frame, full, state, title, text, *scroll),
        Some(Overlay::Command(_)) | None => {}
    }
    info
}

fn too_small(frame: &mut Frame, area: Rect, state: &State) {
    let text = vec![
        Line::from("netpol-tui".bold()),
        Line::from(format!(
            "The terminal is {}x{}; it needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        )),
        Line::from("Make the window larger, or press q to quit."),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .style(state.theme.style(Slot::Text))
            .wrap(Wrap { trim: true }),
        area,
    );
}

pub(crate) fn focused(state: &State, pane: Pane) -> bool {
    state.overlay.is_none() && state.focus == pane
}
