//! How many colours the terminal shows: themes are written in 24-bit colour, and where the
//! terminal does not say it shows that many (`COLORTERM=truecolor`), each colour becomes the
//! nearest of the 256-colour palette (`TERM=*256color*`) or of the 16 basic ones.

use ratatui::style::{Color, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
}

/// The 16 basic colours as xterm shows them by default.
const BASIC: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The levels of each channel in the 256-colour palette's 6x6x6 cube (indexes 16-231).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    d(a.0, b.0).pow(2) + d(a.1, b.1).pow(2) + d(a.2, b.2).pow(2)
}

impl ColorDepth {
    /// From `COLORTERM` and `TERM`, as terminals announce themselves.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> ColorDepth {
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorDepth::TrueColor;
        }
        let term = term.unwrap_or("").to_ascii_lowercase();
        if term.contains("256color") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }

    pub fn from_env() -> ColorDepth {
        ColorDepth::detect(
            std::env::var("COLORTERM").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        )
    }

    /// `color` as this depth shows it: 24-bit colours become the nearest the terminal has.
    pub fn color(self, color: Color) -> Color {
        let Color::Rgb(r, g, b) = color else {
            return color;
        };
        let rgb = (r, g, b);
        match self {
            ColorDepth::TrueColor => color,
            ColorDepth::Ansi256 => {
                let level = |v: u8| {
                    (0..6)
                        .min_by_key(|&i| (i32::from(CUBE[i]) - i32::from(v)).abs())
                        .unwrap_or(0)
                };
                let (ri, gi, bi) = (level(r), level(g), level(b));
                let cube = (CUBE[ri], CUBE[gi], CUBE[bi]);
                let cube_index = 16 + 36 * ri + 6 * gi + bi;
                // The grey ramp (232-255) is 8, 18, ..., 238.
                let avg = (u32::from(r) + u32::from(g) + u32::from(b)) / 3;
                let step = (avg.saturating_sub(3) / 10).min(23);
                let grey = (8 + 10 * step) as u8;
                if distance(rgb, (grey, grey, grey)) < distance(rgb, cube) {
                    Color::Indexed(232 + step as u8)
                } else {
                    Color::Indexed(cube_index as u8)
                }
            }
            ColorDepth::Ansi16 => BASIC
                .iter()
                .min_by_key(|(_, c)| distance(rgb, *c))
                .map(|(c, _)| *c)
                .unwrap_or(color),
        }
    }

    pub fn style(self, style: Style) -> Style {
        Style {
            fg: style.fg.map(|c| self.color(c)),
            bg: style.bg.map(|c| self.color(c)),
            underline_color: style.underline_color.map(|c| self.color(c)),
            ..style
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_says_how_many_colours() {
        assert_eq!(
            ColorDepth::detect(Some("truecolor"), Some("xterm")),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::detect(Some("24bit"), None),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::detect(None, Some("xterm-256color")),
            ColorDepth::Ansi256
        );
        assert_eq!(ColorDepth::detect(None, Some("screen")), ColorDepth::Ansi16);
        assert_eq!(ColorDepth::detect(None, None), ColorDepth::Ansi16);
    }

    #[test]
    fn colours_become_the_nearest_the_terminal_has() {
        let d = ColorDepth::Ansi256;
        assert_eq!(d.color(Color::Rgb(255, 0, 0)), Color::Indexed(196));
        assert_eq!(d.color(Color::Rgb(0, 0, 0)), Color::Indexed(16));
        assert_eq!(d.color(Color::Rgb(128, 128, 128)), Color::Indexed(244));
        assert_eq!(d.color(Color::Rgb(95, 135, 175)), Color::Indexed(67));
        let b = ColorDepth::Ansi16;
        assert_eq!(b.color(Color::Rgb(250, 10, 10)), Color::LightRed);
        assert_eq!(b.color(Color::Rgb(20, 20, 20)), Color::Black);
        assert_eq!(b.color(Color::Rgb(0, 180, 0)), Color::Green);
        // Named colours are left as they are.
        assert_eq!(b.color(Color::Red), Color::Red);
        assert_eq!(
            ColorDepth::TrueColor.color(Color::Rgb(1, 2, 3)),
            Color::Rgb(1, 2, 3)
        );
    }
}
