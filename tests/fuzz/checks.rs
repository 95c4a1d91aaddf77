//! What each fuzz target checks, shared with `tests/fuzz_corpus.rs`, which runs every saved
//! input through it on stable (CI's time budget holds no fuzzing, only the corpus once).
//! Each check must not panic, hang or grow without bound on any input; where a reader has an
//! inverse, what it reads is written back and read again to the same value.

#![allow(dead_code)]

use netpol_tui::cluster::files;
use netpol_tui::flow::{record, wire};
use netpol_tui::policy::calico_selector::CalicoSelector;
use netpol_tui::policy::selector::Selector;
use netpol_tui::theme::contexts::ContextRules;
use netpol_tui::theme::ThemeSet;

/// The manifest loader on any text: a world or errors, each error naming its file.
pub fn manifests(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = files::load_text("fuzz.yaml", text) {
        assert!(!errors.0.is_empty(), "a failure with no error");
        for e in &errors.0 {
            assert!(e.to_string().starts_with("fuzz.yaml"), "{e}");
        }
    }
}

/// `-l`: a selector that parses prints as a selector that parses to the same thing.
pub fn selector(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = Selector::parse(text) {
        let printed = s.to_string();
        if printed != "{}" {
            let again = Selector::parse(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
            assert_eq!(again, s, "{text:?} printed as {printed:?}");
        }
    }
}

/// Calico's selector language: a selector that parses prints as one that parses to the
/// same; matching, with or without unknown keys, never fails.
pub fn calico(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = CalicoSelector::parse(text) {
        let printed = s.to_string();
        let again = CalicoSelector::parse(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
        assert_eq!(again, s, "{text:?} printed as {printed:?}");
        let labels = [("app".to_string(), "web".to_string())].into();
        let full = s.matches(&labels);
        if let Some(partly) = s.matches_partly(&labels, &|k| k != "team") {
            assert_eq!(partly, full, "{text:?}");
        }
    }
}

/// The agent's frames: a frame that decodes encodes back to one that decodes the same.
pub fn wire(data: &[u8]) {
    if let Ok(frame) = wire::decode(data) {
        let bytes = wire::encode(&frame);
        let again = wire::decode(&bytes).expect("an encoded frame decodes");
        assert_eq!(again, frame);
    }
}

/// Recorded flows (`trace -o json` and Hubble JSON lines): every line is counted.
pub fn flows(data: &[u8]) {
    let mut input = data;
    let mut seen = 0u64;
    let report = record::read(&mut input, |_| seen += 1).expect("reading memory cannot fail");
    assert!(
        seen <= report.lines,
        "{seen} flows from {} lines",
        report.lines
    );
}

/// A theme file and a context-rules file, as the UI reads them.
pub fn theme(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The built-in themes, parsed once.
    static BUILTIN: std::sync::OnceLock<ThemeSet> = std::sync::OnceLock::new();
    let mut themes = BUILTIN.get_or_init(ThemeSet::builtin).clone();
    let _ = themes.add_text("fuzz", "fuzz.toml", text);
    let _ = ContextRules::parse("contexts.toml", text, &themes);
}
