//! Where things are in the document: field paths (`link[1].pool`), the spans of the parsed
//! TOML tree, and line/column positions for error messages.

use core::fmt;
use core::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index (0-based: `link[0]` is the first `[[link]]`).
    Index(usize),
}

/// A path to a field of the document, displayed as `link[1].ppp.mru` (0-based indices;
/// keys that are not bare TOML keys are quoted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The document root.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_owned()));
        p
    }

    /// This path extended by an index.
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(index));
        p
    }

    /// The steps.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `other` or inside it.
    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.0.starts_with(&other.0)
    }
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl serde::Serialize for FieldPath {
    /// As its display form, `link[1].pool`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` in `text` (clamped to the end; an offset inside a
    /// multi-byte character counts as that character).
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = text.get(..offset).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before.get(line_start..).unwrap_or("").chars().count() + 1,
        }
    }
}

/// The parsed TOML tree with spans, used to find a path's position and a position's path.
pub(crate) struct SourceMap<'i> {
    root: Spanned<DeTable<'i>>,
}

impl<'i> SourceMap<'i> {
    /// Parses `text`; every syntax error when it is not TOML.
    pub(crate) fn parse(text: &'i str) -> Result<Self, Vec<toml::de::Error>> {
        let (root, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            Ok(SourceMap { root })
        } else {
            Err(errors)
        }
    }

    pub(crate) fn root(&self) -> &Spanned<DeTable<'i>> {
        &self.root
    }

    /// The span of the value at `path`, or of the deepest part of it present in the
    /// document (a missing key is reported where its table is).
    pub(crate) fn span_of(&self, path: &FieldPath) -> Option<Range<usize>> {
        let mut best: Option<Range<usize>> = None;
        let mut table: Option<&DeTable<'i>> = Some(self.root.get_ref());
        let mut current: Option<&Spanned<DeValue<'i>>> = None;
        for seg in path.segments() {
            let next = match (seg, current.map(Spanned::get_ref), table) {
                (Segment::Key(k), None, Some(t)) => t.get(k.as_str()),
                (Segment::Key(k), Some(DeValue::Table(t)), _) => t.get(k.as_str()),
                (Segment::Index(i), Some(DeValue::Array(a)), _) => a.get(*i),
                _ => None,
            };
            match next {
                Some(v) => {
                    best = Some(v.span());
                    current = Some(v);
                    table = None;
                }
                None => break,
            }
        }
        best
    }

    /// The path of the narrowest key or value whose span contains `span.start` (deepest
    /// on ties, so a missing field of `[[link]]` #2 is `link[1]`).
    pub(crate) fn path_at(&self, span: &Range<usize>) -> FieldPath {
        let mut best: Option<(usize, usize, FieldPath)> = None;
        let mut consider = |s: Range<usize>, depth: usize, path: &FieldPath| {
            let hit = s.start <= span.start && (span.start < s.end || s.is_empty() && s == *span);
            if !hit {
                return;
            }
            let width = s.end - s.start;
            let better = match &best {
                None => true,
                Some((w, d, _)) => width < *w || (width == *w && depth > *d),
            };
            if better {
                best = Some((width, depth, path.clone()));
            }
        };
        walk_table(self.root.get_ref(), &FieldPath::root(), 0, &mut consider);
        best.map(|(_, _, p)| p).unwrap_or_default()
    }
}

fn walk_table(
    table: &DeTable<'_>,
    path: &FieldPath,
    depth: usize,
    f: &mut dyn FnMut(Range<usize>, usize, &FieldPath),
) {
    for (k, v) in table.iter() {
        let p = path.key(k.get_ref());
        f(k.span(), depth + 1, &p);
        walk_value(v, &p, depth + 1, f);
    }
}

fn walk_value(
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    depth: usize,
    f: &mut dyn FnMut(Range<usize>, usize, &FieldPath),
) {
    f(value.span(), depth, path);
    match value.get_ref() {
        DeValue::Table(t) => walk_table(t, path, depth, f),
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk_value(v, &path.index(i), depth + 1, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display() {
        let p = FieldPath::root().key("link").index(1).key("pool");
        assert_eq!(p.to_string(), "link[1].pool");
        let q = FieldPath::root()
            .key("pool")
            .index(0)
            .key("static")
            .key("a b");
        assert_eq!(q.to_string(), "pool[0].static.\"a b\"");
        assert!(p.starts_with(&FieldPath::root().key("link")));
        assert_eq!(FieldPath::root().to_string(), "");
    }

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // "bé = " is 6 bytes but 5 characters: the value starts in column 6.
        assert_eq!(
            Location::of_offset(text, 12),
            Location { line: 2, column: 6 }
        );
        // Inside the two-byte "é": the character's own column.
        assert_eq!(
            Location::of_offset(text, 8),
            Location { line: 2, column: 2 }
        );
        assert_eq!(
            Location::of_offset(text, 999),
            Location { line: 3, column: 1 }
        );
    }

    #[test]
    fn span_and_path_agree() {
        let text = "[[link]]\nname = \"a\"\n\n[[link]]\nname = \"b\"\npool = \"x\"\n\n[link.ppp]\nmru = 1\n";
        let map = SourceMap::parse(text).unwrap();
        let pool = FieldPath::root().key("link").index(1).key("pool");
        let span = map.span_of(&pool).unwrap();
        assert_eq!(&text[span.clone()], "\"x\"");
        assert_eq!(map.path_at(&span), pool);
        let mru = FieldPath::root().key("link").index(1).key("ppp").key("mru");
        let span = map.span_of(&mru).unwrap();
        assert_eq!(&text[span.clone()], "1");
        assert_eq!(map.path_at(&span), mru);
        // A missing key falls back to its table: the second [[link]] header.
        let missing = map
            .span_of(&FieldPath::root().key("link").index(1).key("relay_to"))
            .unwrap();
        assert_eq!(&text[missing.clone()], "[[link]]");
        assert_eq!(
            Location::of_offset(text, missing.start),
            Location { line: 4, column: 1 }
        );
        assert_eq!(
            map.path_at(&missing),
            FieldPath::root().key("link").index(1)
        );
        assert_eq!(map.span_of(&FieldPath::root().key("nope")), None);
    }
}
