//! The matrix printed row by row: text, CSV, JSON and YAML written straight from the class
//! matrix, so that memory does not grow with the number of cells (10k pods are 100M cells).
//!
//! A cell is allowed, denied, or unknown (it depends on namespace labels that cannot be read):
//! text `✓ ✗ ?`, CSV `true false unknown`, JSON and YAML `true false null`.

use std::io::{self, Write};

use super::paint::Paint;
use super::{NO, OK};
use crate::policy::model::Inventory;
use crate::policy::{Decision, Matrix, PortTable};

/// The pods' `namespace/name` keys, once each.
fn keys(m: &Matrix, inv: &Inventory) -> Vec<String> {
    m.pods.iter().map(|&p| inv.pods[p as usize].key()).collect()
}

/// Row positions in key order: the data forms list pods sorted, as a map would.
fn sorted(keys: &[String]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    order
}

/// Counts of allowed and unknown ordered pairs, a pod to itself included.
pub fn counts(m: &Matrix) -> (u64, u64) {
    (m.allowed_pairs(), m.unknown_pairs())
}

pub fn text(
    w: &mut dyn Write,
    m: &Matrix,
    inv: &Inventory,
    title: &str,
    paint: &Paint,
) -> io::Result<()> {
    let n = m.len();
    let (allowed, unknown) = counts(m);
    let total = n as u64 * n as u64;
    if unknown > 0 {
        writeln!(
            w,
            "{title}: {n} pods, {allowed} of {total} ordered pairs allowed, {unknown} unknown \
             (a pod may always reach itself)"
        )?;
        writeln!(
            w,
            "rows: from, columns: to; {} allowed, {} denied, {} unknown",
            paint.good(OK),
            paint.bad(NO),
            paint.warn("?")
        )?;
    } else {
        writeln!(
            w,
            "{title}: {n} pods, {allowed} of {total} ordered pairs allowed (a pod may always reach itself)"
        )?;
        writeln!(
            w,
            "rows: from, columns: to; {} allowed, {} denied",
            paint.good(OK),
            paint.bad(NO)
        )?;
    }
    let names = keys(m, inv);
    let width = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let num_w = n.to_string().len();
    let pad = " ".repeat(num_w);
    let marks = [paint.good(OK), paint.bad(NO), paint.warn("?")];
    let mut line = String::new();
    line.push_str(&format!("{:>num_w$} {:<width$} ", "", ""));
    for j in 0..n {
        line.push_str(&format!("{:>w$}", j + 1, w = num_w + 1));
    }
    writeln!(w, "{}", line.trim_end())?;
    for (i, name) in names.iter().enumerate() {
        line.clear();
        line.push_str(&format!("{:>num_w$} {:<width$} ", i + 1, name));
        for j in 0..n {
            line.push_str(&pad);
            line.push_str(&marks[mark(m.decision(i, j))]);
        }
        writeln!(w, "{line}")?;
    }
    Ok(())
}

fn mark(d: Decision) -> usize {
    match d {
        Decision::Allowed => 0,
        Decision::Denied => 1,
        Decision::Unknown => 2,
    }
}

pub fn csv(w: &mut dyn Write, m: &Matrix, inv: &Inventory) -> io::Result<()> {
    let names: Vec<String> = keys(m, inv).iter().map(|k| csv_field(k)).collect();
    let mut line = String::from("from\\to");
    for n in &names {
        line.push(',');
        line.push_str(n);
    }
    writeln!(w, "{line}")?;
    for (i, name) in names.iter().enumerate() {
        line.clear();
        line.push_str(name);
        for j in 0..names.len() {
            line.push_str(match m.decision(i, j) {
                Decision::Allowed => ",true",
                Decision::Denied => ",false",
                Decision::Unknown => ",unknown",
            });
        }
        writeln!(w, "{line}")?;
    }
    Ok(())
}

pub(super) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn value(d: Decision) -> &'static str {
    match d {
        Decision::Allowed => "true",
        Decision::Denied => "false",
        Decision::Unknown => "null",
    }
}

/// `{"from": {"to": bool}}`, pretty, keys sorted; unknown cells are `null`.
pub fn json(w: &mut dyn Write, m: &Matrix, inv: &Inventory) -> io::Result<()> {
    let names = keys(m, inv);
    if names.is_empty() {
        return writeln!(w, "{{}}");
    }
    let quoted: Vec<String> = names
        .iter()
        .map(|k| serde_json::to_string(k).map_err(io::Error::other))
        .collect::<io::Result<_>>()?;
    let order = sorted(&names);
    let mut line = String::new();
    writeln!(w, "{{")?;
    for (a, &i) in order.iter().enumerate() {
        writeln!(w, "  {}: {{", quoted[i])?;
        for (b, &j) in order.iter().enumerate() {
            line.clear();
            line.push_str("    ");
            line.push_str(&quoted[j]);
            line.push_str(": ");
            line.push_str(value(m.decision(i, j)));
            if b + 1 < order.len() {
                line.push(',');
            }
            writeln!(w, "{line}")?;
        }
        writeln!(w, "  }}{}", if a + 1 < order.len() { "," } else { "" })?;
    }
    writeln!(w, "}}")
}

/// The same map as YAML: keys quoted where YAML needs it.
pub fn yaml(w: &mut dyn Write, m: &Matrix, inv: &Inventory) -> io::Result<()> {
    let names = keys(m, inv);
    if names.is_empty() {
        return writeln!(w, "{{}}");
    }
    let quoted: Vec<String> = names
        .iter()
        .map(|k| {
            serde_yaml::to_string(k)
                .map(|s| s.trim_end().to_string())
                .map_err(io::Error::other)
        })
        .collect::<io::Result<_>>()?;
    let order = sorted(&names);
    let mut line = String::new();
    for &i in &order {
        writeln!(w, "{}:", quoted[i])?;
        for &j in &order {
            line.clear();
            line.push_str("  ");
            line.push_str(&quoted[j]);
            line.push_str(": ");
            line.push_str(value(m.decision(i, j)));
            writeln!(w, "{line}")?;
        }
    }
    Ok(())
}

/// Every port at once, as text: for each source, one line per destination with the ports it
/// may open (`all`, `none`, `TCP 80,443; UDP 53`).
pub fn ports_text(w: &mut dyn Write, t: &mut PortTable, rows: &str) -> io::Result<()> {
    let names = t.names.clone();
    let n = names.len();
    writeln!(
        w,
        "every port: {n} {rows}; under each source, what it may open to each destination"
    )?;
    let width = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let padded: Vec<String> = names.iter().map(|s| format!("  → {s:<width$}  ")).collect();
    for (i, name) in names.iter().enumerate() {
        writeln!(w, "{name}")?;
        let row = t.row(i);
        for (j, lead) in padded.iter().enumerate() {
            w.write_all(lead.as_bytes())?;
            w.write_all(row.get(j).as_bytes())?;
            w.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// `from,to,allowed`, a line per ordered pair.
pub fn ports_csv(w: &mut dyn Write, t: &mut PortTable) -> io::Result<()> {
    writeln!(w, "from,to,allowed")?;
    let names: Vec<String> = t.names.iter().map(|k| csv_field(k)).collect();
    let mut line = String::new();
    for (i, from) in names.iter().enumerate() {
        let row = t.row(i);
        for (j, to) in names.iter().enumerate() {
            let cell = row.get(j);
            line.clear();
            line.push_str(from);
            line.push(',');
            line.push_str(to);
            line.push(',');
            // A cell with `,` (a list of ports) is quoted; cells hold no `"`.
            if cell.contains(',') {
                line.push('"');
                line.push_str(cell);
                line.push('"');
            } else {
                line.push_str(cell);
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}

/// `{"from": {"to": "TCP 80; UDP 53"}}`, pretty.
pub fn ports_json(w: &mut dyn Write, t: &mut PortTable) -> io::Result<()> {
    let n = t.names.len();
    if n == 0 {
        return writeln!(w, "{{}}");
    }
    let quoted: Vec<String> = t
        .names
        .iter()
        .map(|k| serde_json::to_string(k).map_err(io::Error::other))
        .collect::<io::Result<_>>()?;
    writeln!(w, "{{")?;
    for (i, from) in quoted.iter().enumerate() {
        writeln!(w, "  {from}: {{")?;
        let row = t.row(i);
        for (j, to) in quoted.iter().enumerate() {
            // Cell texts hold no character JSON escapes.
            w.write_all(b"    ")?;
            w.write_all(to.as_bytes())?;
            w.write_all(b": \"")?;
            w.write_all(row.get(j).as_bytes())?;
            w.write_all(if j + 1 < n { b"\",\n" } else { b"\"\n" })?;
        }
        writeln!(w, "  }}{}", if i + 1 < n { "," } else { "" })?;
    }
    writeln!(w, "}}")
}

/// The same map as YAML.
pub fn ports_yaml(w: &mut dyn Write, t: &mut PortTable) -> io::Result<()> {
    let n = t.names.len();
    if n == 0 {
        return writeln!(w, "{{}}");
    }
    let yaml = |s: &str| {
        serde_yaml::to_string(s)
            .map(|s| s.trim_end().to_string())
            .map_err(io::Error::other)
    };
    let quoted: Vec<String> = t.names.iter().map(|k| yaml(k)).collect::<io::Result<_>>()?;
    let mut texts = std::collections::HashMap::new();
    for (i, from) in quoted.iter().enumerate() {
        writeln!(w, "{from}:")?;
        let row = t.row(i);
        for (j, to) in quoted.iter().enumerate() {
            let cell = row.get(j);
            if !texts.contains_key(cell) {
                texts.insert(cell.to_string(), yaml(cell)?);
            }
            writeln!(w, "  {to}: {}", texts[cell])?;
        }
        if texts.len() > 4096 {
            texts.clear();
        }
    }
    Ok(())
}
