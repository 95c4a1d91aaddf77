//! Every saved fuzz input (tests/fuzz/corpus, and the crashes fuzzing found, now fixed, in
//! tests/fuzz/crashes) run once through its target's check, on stable. Fuzzing itself is
//! `scripts/fuzz.sh`, on nightly and outside CI's time budget.

#[path = "fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn run_saved(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let corpus = root.join("corpus").join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| {
            panic!(
                "the corpus of {target} ({}) is missing: {e}",
                corpus.display()
            )
        })
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    assert!(!inputs.is_empty(), "the corpus of {target} is empty");
    if let Ok(crashes) = std::fs::read_dir(root.join("crashes").join(target)) {
        inputs.extend(crashes.map(|e| e.expect("a crash entry").path()));
    }
    inputs.sort();
    for path in inputs {
        let data = std::fs::read(&path).expect("readable input");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            path.display()
        );
    }
}

#[test]
fn manifests() {
    run_saved("manifests", checks::manifests);
}

#[test]
fn selector() {
    run_saved("selector", checks::selector);
}

#[test]
fn wire() {
    run_saved("wire", checks::wire);
}

#[test]
fn flows() {
    run_saved("flows", checks::flows);
}

#[test]
fn theme() {
    run_saved("theme", checks::theme);
}

#[test]
fn calico() {
    run_saved("calico", checks::calico);
}
