//! The one-line text editor that every text field shares: the finder, the `:` line, the `/`
//! filters and the explain dialog's fields. The cursor stays at the end.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
}

impl LineInput {
    pub fn with(text: &str) -> LineInput {
        LineInput {
            text: text.to_string(),
        }
    }

    /// Applies an editing key: a printable character, Backspace, Ctrl-W (delete a word) or
    /// Ctrl-U (clear). Returns whether the key was one of those; other keys are the dialog's.
    pub fn edit(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Backspace => self.backspace(),
            KeyCode::Char('w') if ctrl => self.delete_word(),
            KeyCode::Char('u') if ctrl => self.clear(),
            KeyCode::Char(c) if !ctrl && !alt => self.push(c),
            _ => return false,
        }
        true
    }

    pub fn push(&mut self, c: char) {
        self.text.push(c);
    }

    pub fn backspace(&mut self) {
        self.text.pop();
    }

    /// Deletes the last word (Ctrl-W); `/` separates words too, so `ns/pod` loses `pod`.
    pub fn delete_word(&mut self) {
        let trimmed = self.text.trim_end().len();
        self.text.truncate(trimmed);
        let cut = self
            .text
            .rfind(|c: char| c.is_whitespace() || c == '/')
            .map(|i| i + 1)
            .unwrap_or(0);
        self.text.truncate(cut);
    }

    pub fn clear(&mut self) {
        self.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn editing_keys() {
        let mut l = LineInput::with("production/front");
        assert!(l.edit(k(KeyCode::Char('w'), KeyModifiers::CONTROL)));
        assert_eq!(l.text, "production/");
        assert!(l.edit(k(KeyCode::Char('x'), KeyModifiers::NONE)));
        assert!(l.edit(k(KeyCode::Char('Y'), KeyModifiers::SHIFT)));
        assert_eq!(l.text, "production/xY");
        assert!(l.edit(k(KeyCode::Backspace, KeyModifiers::NONE)));
        assert!(l.edit(k(KeyCode::Backspace, KeyModifiers::NONE)));
        assert_eq!(l.text, "production/");
        assert!(!l.edit(k(KeyCode::Enter, KeyModifiers::NONE)));
        assert!(!l.edit(k(KeyCode::Char('n'), KeyModifiers::CONTROL)));
        assert!(l.edit(k(KeyCode::Char('u'), KeyModifiers::CONTROL)));
        assert_eq!(l.text, "");
        // Backspace on an empty line is still an editing key.
        assert!(l.edit(k(KeyCode::Backspace, KeyModifiers::NONE)));
    }
}
