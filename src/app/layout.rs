//! Where each pane goes for a terminal size. Pure, so that drawing and mouse hit-testing in
//! `update` agree without the view writing anything back.

use ratatui::layout::Rect;

/// Below this the screen shows a short message instead of a squeezed layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tree,
    Detail,
    Flows,
}

impl Pane {
    pub fn next(self) -> Pane {
        match self {
            Pane::Tree => Pane::Detail,
            Pane::Detail => Pane::Flows,
            Pane::Flows => Pane::Tree,
        }
    }

    pub fn prev(self) -> Pane {
        match self {
            Pane::Tree => Pane::Flows,
            Pane::Detail => Pane::Tree,
            Pane::Flows => Pane::Detail,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub tree: Rect,
    pub detail: Rect,
    pub flows: Rect,
    pub status: Rect,
    pub too_small: bool,
}

impl Areas {
    pub fn of(&self, pane: Pane) -> Rect {
        match pane {
            Pane::Tree => self.tree,
            Pane::Detail => self.detail,
            Pane::Flows => self.flows,
        }
    }

    /// The pane under a screen cell.
    pub fn hit(&self, x: u16, y: u16) -> Option<Pane> {
        [Pane::Tree, Pane::Detail, Pane::Flows]
            .into_iter()
            .find(|&p| {
                let r = self.of(p);
                r.width > 0 && x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
            })
    }
}

/// Lines inside a bordered pane.
pub fn inner_height(r: Rect) -> usize {
    r.height.saturating_sub(2) as usize
}

pub fn areas(width: u16, height: u16, zoom: Option<Pane>) -> Areas {
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let status = Rect::new(0, height - 1, width, 1);
    let main = Rect::new(0, 0, width, height - 1);
    if let Some(pane) = zoom {
        let mut a = Areas {
            status,
            ..Areas::default()
        };
        match pane {
            Pane::Tree => a.tree = main,
            Pane::Detail => a.detail = main,
            Pane::Flows => a.flows = main,
        }
        return a;
    }
    let flows_h = if main.height >= 30 {
        main.height / 3
    } else {
        (main.height / 4).max(5)
    };
    let upper_h = main.height - flows_h;
    let tree_w = (width * 2 / 5).clamp(30, 48);
    Areas {
        tree: Rect::new(0, 0, tree_w, upper_h),
        detail: Rect::new(tree_w, 0, width - tree_w, upper_h),
        flows: Rect::new(0, upper_h, width, flows_h),
        status,
        too_small: false,
    }
}

/// A rectangle of `percent` of `area`, at most `max_w` by `max_h`, centred.
pub fn centered(area: Rect, percent_w: u16, percent_h: u16, max_w: u16, max_h: u16) -> Rect {
    let w = (area.width * percent_w / 100).min(max_w).min(area.width);
    let h = (area.height * percent_h / 100).min(max_h).min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_tile_the_screen() {
        for (w, h) in [(120, 40), (80, 24), (60, 15), (300, 90)] {
            let a = areas(w, h, None);
            assert!(!a.too_small);
            let cells = |r: Rect| r.width as u32 * r.height as u32;
            assert_eq!(
                cells(a.tree) + cells(a.detail) + cells(a.flows) + cells(a.status),
                w as u32 * h as u32,
                "{w}x{h}"
            );
            assert_eq!(a.hit(0, 0), Some(Pane::Tree));
            assert_eq!(a.hit(w - 1, 0), Some(Pane::Detail));
            assert_eq!(a.hit(0, h - 2), Some(Pane::Flows));
            assert_eq!(a.hit(0, h - 1), None);
        }
        assert!(areas(59, 40, None).too_small);
        assert!(areas(120, 14, None).too_small);
    }
}
