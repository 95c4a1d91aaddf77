//! Colour for people, plain text for pipes: one switch decided at start-up. A third mode marks
//! each painted piece with its [`Tone`] so that the terminal UI can style the same text with
//! its theme.

use owo_colors::OwoColorize;

/// What a painted piece means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Strong,
    Dim,
}

impl Tone {
    const ALL: [Tone; 5] = [Tone::Good, Tone::Bad, Tone::Warn, Tone::Strong, Tone::Dim];

    fn code(self) -> char {
        match self {
            Tone::Good => 'g',
            Tone::Bad => 'b',
            Tone::Warn => 'w',
            Tone::Strong => 's',
            Tone::Dim => 'd',
        }
    }
}

/// Opens a toned piece in markup mode; the next char is the tone's code. Private-use code
/// points, so they never collide with text from manifests.
pub const MARK_OPEN: char = '\u{E000}';
/// Closes a toned piece.
pub const MARK_CLOSE: char = '\u{E001}';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Ansi,
    Markup,
}

#[derive(Debug, Clone, Copy)]
pub struct Paint {
    mode: Mode,
}

/// Splits markup text into lines of (tone, text) pieces. A piece may run over a line break
/// (text wrapping can split one); it keeps its tone on the next line.
pub fn parse_markup(text: &str) -> Vec<Vec<(Option<Tone>, String)>> {
    let mut lines = Vec::new();
    let mut line: Vec<(Option<Tone>, String)> = Vec::new();
    let mut tone: Option<Tone> = None;
    let mut piece = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            MARK_OPEN => {
                if !piece.is_empty() {
                    line.push((tone, std::mem::take(&mut piece)));
                }
                let code = chars.next();
                tone = Tone::ALL.into_iter().find(|t| Some(t.code()) == code);
            }
            MARK_CLOSE => {
                if !piece.is_empty() {
                    line.push((tone, std::mem::take(&mut piece)));
                }
                tone = None;
            }
            '\n' => {
                if !piece.is_empty() {
                    line.push((tone, std::mem::take(&mut piece)));
                }
                lines.push(std::mem::take(&mut line));
            }
            c => piece.push(c),
        }
    }
    if !piece.is_empty() {
        line.push((tone, piece));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

impl Paint {
    /// ANSI colours when `ansi`, plain text otherwise.
    pub fn new(ansi: bool) -> Paint {
        Paint {
            mode: if ansi { Mode::Ansi } else { Mode::Plain },
        }
    }

    pub fn plain() -> Paint {
        Paint { mode: Mode::Plain }
    }

    /// Marks pieces for [`parse_markup`] instead of colouring them.
    pub fn markup() -> Paint {
        Paint { mode: Mode::Markup }
    }

    fn paint(&self, tone: Tone, s: &str, ansi: impl FnOnce(&str) -> String) -> String {
        match self.mode {
            Mode::Plain => s.to_string(),
            Mode::Ansi => ansi(s),
            Mode::Markup => format!("{MARK_OPEN}{}{s}{MARK_CLOSE}", tone.code()),
        }
    }

    pub fn good(&self, s: &str) -> String {
        self.paint(Tone::Good, s, |s| s.green().bold().to_string())
    }

    pub fn bad(&self, s: &str) -> String {
        self.paint(Tone::Bad, s, |s| s.red().bold().to_string())
    }

    pub fn warn(&self, s: &str) -> String {
        self.paint(Tone::Warn, s, |s| s.yellow().to_string())
    }

    pub fn strong(&self, s: &str) -> String {
        self.paint(Tone::Strong, s, |s| s.bold().to_string())
    }

    pub fn dim(&self, s: &str) -> String {
        self.paint(Tone::Dim, s, |s| s.dimmed().to_string())
    }
}
