//! Output: text as it is, data as JSON or YAML; a closed pipe (`| head`) ends quietly.

use std::io::Write;

use super::{Failure, Output};

/// The machine-readable forms, printed by `print_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Data {
    Json,
    Yaml,
}

impl Output {
    pub(super) fn data(self) -> Option<Data> {
        match self {
            Output::Text => None,
            Output::Json => Some(Data::Json),
            Output::Yaml => Some(Data::Yaml),
        }
    }
}

/// Prints `value` as pretty JSON or as YAML.
pub(super) fn print_data<T: serde::Serialize>(value: &T, format: Data) -> Result<(), Failure> {
    let text = match format {
        Data::Json => {
            serde_json::to_string_pretty(value).map_err(|e| Failure::Encode(e.to_string()))? + "\n"
        }
        Data::Yaml => serde_yaml::to_string(value).map_err(|e| Failure::Encode(e.to_string()))?,
    };
    print(&text)
}

/// Streams to stdout through a buffer, for output too large to hold: `write` is called once
/// and writes as it goes. A closed pipe (`| head`) ends quietly.
pub(super) fn stream(
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    match write(&mut out).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Output(e)),
    }
}

/// A list made while it is printed: the items of `iter` as a JSON array or a YAML sequence,
/// the same text `print_data` gives for a Vec of them, without holding them all.
pub(super) fn stream_data<T: serde::Serialize>(
    iter: &mut dyn Iterator<Item = T>,
    format: Data,
) -> Result<(), Failure> {
    /// Serializes the iterator as a sequence, once.
    struct Lazy<'a, T>(std::cell::RefCell<&'a mut dyn Iterator<Item = T>>);
    impl<T: serde::Serialize> serde::Serialize for Lazy<'_, T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(&mut *self.0.borrow_mut())
        }
    }
    let lazy = Lazy(std::cell::RefCell::new(iter));
    stream(|w| match format {
        Data::Json => {
            serde_json::to_writer_pretty(&mut *w, &lazy).map_err(std::io::Error::from)?;
            writeln!(w)
        }
        Data::Yaml => serde_yaml::to_writer(&mut *w, &lazy).map_err(std::io::Error::other),
    })
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly.
pub(super) fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Output(e)),
    }
}
