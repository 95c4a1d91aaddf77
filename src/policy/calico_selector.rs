//! Calico's selector language (`app == 'web' && has(tier)`, `env in {'a', 'b'}`, `!has(x)`,
//! `all()`, ...), parsed with errors that give the position and what was expected, and
//! evaluated against labels in three values where some labels cannot be read.
//!
//! Grammar, loosest first: `or := and ("||" and)*`, `and := not ("&&" not)*`,
//! `not := "!" not | atom`, `atom := "(" or ")" | "all()" | "global()" | "has(" key ")" |
//! key ("==" | "!=") string | key ["not"] "in" "{" [string ("," string)*] "}" |
//! key ("contains" | "starts with" | "ends with") string`.
//!
//! Pure: no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::Labels;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    All,
    Global,
    Has(String),
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A parsed selector. Prints in a canonical form that parses back to the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CalicoSelector {
    expr: Expr,
}

/// Where a selector stops making sense: a byte offset and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.position, self.message)
    }
}

/// Nesting deeper than this is refused (a selector is written by hand).
const MAX_DEPTH: usize = 64;
/// Longer selectors are refused before parsing.
const MAX_LEN: usize = 16 * 1024;

impl CalicoSelector {
    /// `all()`.
    pub fn all() -> CalicoSelector {
        CalicoSelector { expr: Expr::All }
    }

    /// Parses a selector; an empty text is `all()`, as Calico reads it.
    pub fn parse(text: &str) -> Result<CalicoSelector, SelectorError> {
        if text.len() > MAX_LEN {
            return Err(SelectorError {
                position: MAX_LEN,
                message: format!("a selector of {} bytes is too long", text.len()),
            });
        }
        if text.trim().is_empty() {
            return Ok(CalicoSelector::all());
        }
        let mut p = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        let expr = p.or()?;
        p.skip_space();
        if p.pos < text.len() {
            return Err(p.error("expected && or || or the end of the selector"));
        }
        Ok(CalicoSelector { expr })
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    pub fn is_all(&self) -> bool {
        self.expr == Expr::All
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        eval(&self.expr, labels, &|_| true) == Some(true)
    }

    /// Matching where only some keys' values are known (`known(key)`): `None` when the
    /// answer depends on labels that cannot be read (three-valued logic).
    pub fn matches_partly(&self, labels: &Labels, known: &dyn Fn(&str) -> bool) -> Option<bool> {
        eval(&self.expr, labels, known)
    }
}

fn eval(expr: &Expr, labels: &Labels, known: &dyn Fn(&str) -> bool) -> Option<bool> {
    let value = |k: &str| -> Option<Option<&String>> { known(k).then(|| labels.get(k)) };
    Some(match expr {
        Expr::All | Expr::Global => true,
        Expr::Has(k) => value(k)?.is_some(),
        Expr::Eq(k, v) => value(k)?.is_some_and(|x| x == v),
        Expr::Ne(k, v) => value(k)?.is_none_or(|x| x != v),
        Expr::In(k, vs) => value(k)?.is_some_and(|x| vs.contains(x)),
        Expr::NotIn(k, vs) => value(k)?.is_none_or(|x| !vs.contains(x)),
        Expr::Contains(k, v) => value(k)?.is_some_and(|x| x.contains(v.as_str())),
        Expr::StartsWith(k, v) => value(k)?.is_some_and(|x| x.starts_with(v.as_str())),
        Expr::EndsWith(k, v) => value(k)?.is_some_and(|x| x.ends_with(v.as_str())),
        Expr::Not(e) => !eval(e, labels, known)?,
        Expr::And(a, b) => match (eval(a, labels, known), eval(b, labels, known)) {
            (Some(false), _) | (_, Some(false)) => false,
            (Some(true), Some(true)) => true,
            _ => return None,
        },
        Expr::Or(a, b) => match (eval(a, labels, known), eval(b, labels, known)) {
            (Some(true), _) | (_, Some(true)) => true,
            (Some(false), Some(false)) => false,
            _ => return None,
        },
    })
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> SelectorError {
        let found = match self.rest().chars().next() {
            None => "the end".to_string(),
            Some(c) => format!("{c:?}"),
        };
        SelectorError {
            position: self.pos,
            message: format!("{message}, found {found}"),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Consumes `token` (after spaces) if it is next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes the word `word` if it is next and not the start of a longer word.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        if rest.starts_with(word) && !rest[word.len()..].chars().next().is_some_and(is_key_char) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str, what: &str) -> Result<(), SelectorError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn nest(&mut self) -> Result<(), SelectorError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SelectorError {
                position: self.pos,
                message: format!("nested more than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, SelectorError> {
        self.nest()?;
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SelectorError> {
        let mut left = self.not()?;
        while self.eat("&&") {
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, SelectorError> {
        self.skip_space();
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.pos += 1;
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, SelectorError> {
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")", ")")?;
            return Ok(inner);
        }
        for (word, expr) in [("all", Expr::All), ("global", Expr::Global)] {
            let start = self.pos;
            if self.eat_word(word) {
                if self.eat("(") {
                    self.expect(")", ") after all( or global(")?;
                    return Ok(expr);
                }
                self.pos = start;
            }
        }
        let start = self.pos;
        if self.eat_word("has") {
            if self.eat("(") {
                let key = self.key()?;
                self.expect(")", ") after the label key")?;
                return Ok(Expr::Has(key));
            }
            self.pos = start;
        }
        let key = self.key()?;
        if self.eat("==") {
            return Ok(Expr::Eq(key, self.string()?));
        }
        if self.eat("!=") {
            return Ok(Expr::Ne(key, self.string()?));
        }
        if self.eat_word("in") {
            return Ok(Expr::In(key, self.set()?));
        }
        if self.eat_word("not") {
            if !self.eat_word("in") {
                return Err(self.error("expected in after not"));
            }
            return Ok(Expr::NotIn(key, self.set()?));
        }
        if self.eat_word("contains") {
            return Ok(Expr::Contains(key, self.string()?));
        }
        if self.eat_word("starts") {
            if !self.eat_word("with") {
                return Err(self.error("expected with after starts"));
            }
            return Ok(Expr::StartsWith(key, self.string()?));
        }
        if self.eat_word("ends") {
            if !self.eat_word("with") {
                return Err(self.error("expected with after ends"));
            }
            return Ok(Expr::EndsWith(key, self.string()?));
        }
        Err(self.error(
            "expected ==, !=, in, not in, contains, starts with or ends with after the label key",
        ))
    }

    fn key(&mut self) -> Result<String, SelectorError> {
        self.skip_space();
        let len = self
            .rest()
            .char_indices()
            .find(|(_, c)| !is_key_char(*c))
            .map_or(self.rest().len(), |(i, _)| i);
        if len == 0 {
            return Err(self.error("expected a label key, has(), all() or ("));
        }
        let key = self.rest()[..len].to_string();
        self.pos += len;
        Ok(key)
    }

    fn string(&mut self) -> Result<String, SelectorError> {
        self.skip_space();
        let quote = match self.rest().chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error("expected a quoted string")),
        };
        let body = &self.rest()[1..];
        match body.find(quote) {
            Some(end) => {
                let value = body[..end].to_string();
                self.pos += end + 2;
                Ok(value)
            }
            None => Err(self.error(&format!("expected a closing {quote}"))),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, SelectorError> {
        self.expect("{", "{")?;
        let mut values = Vec::new();
        if self.eat("}") {
            return Ok(values);
        }
        loop {
            values.push(self.string()?);
            if self.eat("}") {
                break;
            }
            self.expect(",", ", or }")?;
        }
        values.sort();
        values.dedup();
        Ok(values)
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

/// A quoted string: single quotes unless the value holds one.
fn quoted(v: &str) -> String {
    if v.contains('\'') {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |vs: &[String]| vs.iter().map(|v| quoted(v)).collect::<Vec<_>>().join(", ");
        match self {
            Expr::All => f.write_str("all()"),
            Expr::Global => f.write_str("global()"),
            Expr::Has(k) => write!(f, "has({k})"),
            Expr::Eq(k, v) => write!(f, "{k} == {}", quoted(v)),
            Expr::Ne(k, v) => write!(f, "{k} != {}", quoted(v)),
            Expr::In(k, vs) => write!(f, "{k} in {{{}}}", set(vs)),
            Expr::NotIn(k, vs) => write!(f, "{k} not in {{{}}}", set(vs)),
            Expr::Contains(k, v) => write!(f, "{k} contains {}", quoted(v)),
            Expr::StartsWith(k, v) => write!(f, "{k} starts with {}", quoted(v)),
            Expr::EndsWith(k, v) => write!(f, "{k} ends with {}", quoted(v)),
            Expr::Not(e) => match **e {
                Expr::And(..) | Expr::Or(..) => write!(f, "!({e})"),
                _ => write!(f, "!{e}"),
            },
            Expr::And(a, b) => {
                let side = |e: &Expr| match e {
                    Expr::Or(..) => format!("({e})"),
                    _ => e.to_string(),
                };
                // The parser groups `a && b && c` to the left.
                let right = match **b {
                    Expr::And(..) | Expr::Or(..) => format!("({b})"),
                    _ => b.to_string(),
                };
                write!(f, "{} && {right}", side(a))
            }
            Expr::Or(a, b) => {
                let right = match **b {
                    Expr::Or(..) => format!("({b})"),
                    _ => b.to_string(),
                };
                write!(f, "{a} || {right}")
            }
        }
    }
}

impl fmt::Display for CalicoSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_documented_forms_parse_and_match() {
        // docs.tigera.io, Calico "Selectors": every operator of the reference table.
        let web = labels(&[("app", "web"), ("tier", "frontend"), ("env", "prod-eu")]);
        for (text, want) in [
            ("all()", true),
            ("", true),
            ("app == 'web'", true),
            ("app == \"db\"", false),
            ("app != 'db'", true),
            ("missing != 'x'", true),
            ("has(tier)", true),
            ("!has(tier)", false),
            ("app in {'web', 'api'}", true),
            ("app not in {'web'}", false),
            ("missing not in {'web'}", true),
            ("env contains 'eu'", true),
            ("env starts with 'prod'", true),
            ("env ends with 'us'", false),
            ("app == 'web' && has(tier)", true),
            ("app == 'db' || tier == 'frontend'", true),
            ("!(app == 'web' && tier == 'frontend')", false),
            ("(app == 'db' || app == 'web') && !has(missing)", true),
        ] {
            let s = CalicoSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.matches(&web), want, "{text}");
            let again = CalicoSelector::parse(&s.to_string()).unwrap();
            assert_eq!(again, s, "{text} printed as {s}");
        }
    }

    #[test]
    fn precedence_and_grouping() {
        let s = CalicoSelector::parse("a == 'x' || b == 'y' && c == 'z'").unwrap();
        assert!(matches!(s.expr(), Expr::Or(..)), "&& binds tighter: {s}");
        assert_eq!(s.to_string(), "a == 'x' || b == 'y' && c == 'z'");
    }

    #[test]
    fn errors_give_the_position_and_what_was_expected() {
        for (text, position, message) in [
            ("app = 'web'", 4, "expected ==, !=, in, not in"),
            ("app == web", 7, "expected a quoted string, found 'w'"),
            ("app == 'web", 7, "expected a closing '"),
            (
                "has(app",
                7,
                "expected ) after the label key, found the end",
            ),
            ("app in {'a' 'b'}", 12, "expected , or }"),
            ("app == 'a' &&", 13, "expected a label key"),
            ("app not 'a'", 8, "expected in after not"),
            ("(app == 'a'", 11, "expected ), found the end"),
            ("app == 'a' app", 11, "expected && or || or the end"),
        ] {
            let e = CalicoSelector::parse(text).unwrap_err();
            assert_eq!(e.position, position, "{text}: {e}");
            assert!(e.message.starts_with(message), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_labels_give_unknown_answers() {
        let l = labels(&[("app", "web")]);
        let known = |k: &str| k == "app";
        let s = CalicoSelector::parse("app == 'web' && team == 'a'").unwrap();
        assert_eq!(s.matches_partly(&l, &known), None);
        let s = CalicoSelector::parse("app == 'db' && team == 'a'").unwrap();
        assert_eq!(s.matches_partly(&l, &known), Some(false));
        let s = CalicoSelector::parse("app == 'web' || team == 'a'").unwrap();
        assert_eq!(s.matches_partly(&l, &known), Some(true));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "(".repeat(200) + "all()" + &")".repeat(200);
        let e = CalicoSelector::parse(&text).unwrap_err();
        assert!(e.message.contains("nested"), "{e}");
        let text = "!".repeat(200) + "all()";
        assert!(CalicoSelector::parse(&text).is_err());
    }
}
