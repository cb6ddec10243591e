//! A line diff of two configuration versions (longest common subsequence of lines, after the
//! common head and tail are set aside), bounded so that a huge document cannot cost more
//! than [`MAX_CELLS`] table cells.

/// The largest table (lines of one side times lines of the other, head and tail excluded).
pub const MAX_CELLS: usize = 4_000_000;

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine<'a> {
    /// In both versions.
    Same(&'a str),
    /// Only in the older version.
    Removed(&'a str),
    /// Only in the newer version.
    Added(&'a str),
}

/// The lines that turn `old` into `new`; `None` when the changed parts are too large to
/// compare line by line (more than [`MAX_CELLS`]).
pub fn line_diff<'a>(old: &'a str, new: &'a str) -> Option<Vec<DiffLine<'a>>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let (n, m) = (ma.len(), mb.len());
    if n.saturating_mul(m) > MAX_CELLS {
        return None;
    }
    // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let v = if ma[i] == mb[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
            lcs[i * w + j] = v;
        }
    }
    let mut out: Vec<DiffLine<'a>> = a[..head].iter().copied().map(DiffLine::Same).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && ma[i] == mb[j] {
            out.push(DiffLine::Same(ma[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            out.push(DiffLine::Removed(ma[i]));
            i += 1;
        } else {
            out.push(DiffLine::Added(mb[j]));
            j += 1;
        }
    }
    out.extend(a[a.len() - tail..].iter().copied().map(DiffLine::Same));
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use DiffLine::{Added, Removed, Same};

    #[test]
    fn changed_added_and_removed_lines() {
        let old = "[limits]\nmax_sessions = 1000\nper_user = 1\n[tun]\nname = \"dg0\"\n";
        let new = "[limits]\nmax_sessions = 900\nper_user = 1\n[tun]\nname = \"dg0\"\nmtu = 1400\n";
        assert_eq!(
            line_diff(old, new).unwrap(),
            vec![
                Same("[limits]"),
                Removed("max_sessions = 1000"),
                Added("max_sessions = 900"),
                Same("per_user = 1"),
                Same("[tun]"),
                Same("name = \"dg0\""),
                Added("mtu = 1400"),
            ]
        );
        assert_eq!(
            line_diff("a\nb\n", "b\n").unwrap(),
            vec![Removed("a"), Same("b")]
        );
        assert_eq!(line_diff("", "").unwrap(), vec![]);
        let same = line_diff(old, old).unwrap();
        assert!(same.iter().all(|l| matches!(l, Same(_))));
    }

    #[test]
    fn replaying_a_diff_gives_both_versions() {
        let old = "a\nb\nc\nd\ne\nf\n";
        let new = "x\nb\nd\ny\nf\nz\n";
        let d = line_diff(old, new).unwrap();
        let back_old: Vec<&str> = d
            .iter()
            .filter_map(|l| match l {
                Same(s) | Removed(s) => Some(*s),
                Added(_) => None,
            })
            .collect();
        let back_new: Vec<&str> = d
            .iter()
            .filter_map(|l| match l {
                Same(s) | Added(s) => Some(*s),
                Removed(_) => None,
            })
            .collect();
        assert_eq!(back_old, old.lines().collect::<Vec<_>>());
        assert_eq!(back_new, new.lines().collect::<Vec<_>>());
        // b, d, f kept: the longest common subsequence.
        assert_eq!(d.iter().filter(|l| matches!(l, Same(_))).count(), 3);
    }

    #[test]
    fn too_large_is_refused_not_computed() {
        let old: String = (0..3000).map(|i| format!("a{i}\n")).collect();
        let new: String = (0..3000).map(|i| format!("b{i}\n")).collect();
        assert!(line_diff(&old, &new).is_none());
    }
}
