//! Fixed-size, NUL-padded text fields: host names, vendor strings, phone numbers and
//! subaddresses (RFC 2637 §2.1, §2.7, §2.9).

use core::fmt;
use std::borrow::Cow;

/// A fixed-size field of `N` octets holding text padded with NULs.
///
/// The octets are kept exactly as received, so a message re-emits byte for byte whatever
/// follows the first NUL. The text is [`trimmed`](Self::trimmed): everything before the
/// first NUL (the whole field if there is none). Nothing assumes UTF-8.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedStr<const N: usize>([u8; N]);

impl<const N: usize> FixedStr<N> {
    /// The field's size in octets.
    pub const LEN: usize = N;

    /// A field of all NULs (empty text).
    pub const fn empty() -> Self {
        FixedStr([0; N])
    }

    /// The field exactly as given.
    pub const fn from_array(octets: [u8; N]) -> Self {
        FixedStr(octets)
    }

    /// `text` padded with NULs; `None` if it is longer than `N` octets.
    pub fn new(text: &[u8]) -> Option<Self> {
        let mut octets = [0; N];
        octets.get_mut(..text.len())?.copy_from_slice(text);
        Some(FixedStr(octets))
    }

    /// The first `N` octets of `text`, padded with NULs.
    pub fn new_truncated(text: &[u8]) -> Self {
        let text = text.get(..N).unwrap_or(text);
        let mut field = FixedStr::empty();
        if let Some(dst) = field.0.get_mut(..text.len()) {
            dst.copy_from_slice(text);
        }
        field
    }

    /// All `N` octets, padding included.
    pub const fn as_array(&self) -> &[u8; N] {
        &self.0
    }

    /// The text: the octets before the first NUL.
    pub fn trimmed(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        self.0.get(..end).unwrap_or_default()
    }

    /// The text as UTF-8, if it is.
    pub fn to_str(&self) -> Option<&str> {
        core::str::from_utf8(self.trimmed()).ok()
    }

    /// The text with invalid UTF-8 replaced by U+FFFD, for logs.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.trimmed())
    }

    /// Whether the text is empty (the field starts with a NUL).
    pub fn is_empty(&self) -> bool {
        self.trimmed().is_empty()
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        FixedStr::empty()
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    /// The text, lossily decoded and quoted; all octets too when the padding is not all
    /// NULs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let padding = self.0.get(self.trimmed().len()..).unwrap_or_default();
        if padding.iter().all(|&b| b == 0) {
            fmt::Debug::fmt(&self.to_string_lossy(), f)
        } else {
            f.debug_struct("FixedStr")
                .field("text", &self.to_string_lossy())
                .field("octets", &self.0)
                .finish()
        }
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    /// The text, lossily decoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}
