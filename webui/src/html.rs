//! Server-side HTML: escaping, the page layout and form helpers.
//!
//! Every value that did not come from this file goes through [`esc`]. Pages work without
//! JavaScript; `/static/app.js` only adds live updates (SSE) where a page asks for them.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The navigation entries: (path, label).
pub const NAV: &[(&str, &str)] = &[
    ("/dashboard", "Dashboard"),
    ("/sessions", "Sessions"),
    ("/users", "Users"),
    ("/pptp", "PPTP"),
    ("/plugins", "Plugins"),
    ("/config", "Config history"),
    ("/logs", "Logs"),
    ("/backup", "Backup"),
    ("/system", "System"),
    ("/upgrade", "Upgrade"),
];

/// What the layout needs to know about the visitor.
#[derive(Debug, Clone, Default)]
pub struct Chrome<'a> {
    /// The CSRF token for the logout form; `None` when not logged in (no navigation shown).
    pub csrf: Option<&'a str>,
    /// The current navigation path, highlighted.
    pub active: &'a str,
    /// A one-line notice shown above the content (after a redirect).
    pub flash: Option<&'a str>,
    /// The plugin pages, (path, label), shown after "Plugins" (plugin ABI 1.3 forms).
    pub plugins: &'a [(String, String)],
}

/// A whole page.
pub fn page(title: &str, chrome: &Chrome<'_>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(csrf) = chrome.csrf {
        // Narrow screens: the menu folds behind a checkbox (no script needed; see app.css).
        nav.push_str(
            "<input type=\"checkbox\" id=\"nav-toggle\" class=\"nav-toggle\" aria-controls=\"main-nav\">\
<label for=\"nav-toggle\" class=\"nav-toggle-label\">Menu</label><nav aria-label=\"Main\" id=\"main-nav\"><ul>",
        );
        for (path, label) in NAV {
            let current = if *path == chrome.active {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(nav, "<li><a href=\"{path}\"{current}>{label}</a></li>");
            if *path == "/plugins" {
                for (p, l) in chrome.plugins {
                    let current = if *p == chrome.active {
                        " aria-current=\"page\""
                    } else {
                        ""
                    };
                    let _ = write!(
                        nav,
                        "<li><a href=\"{}\"{current}>{}</a></li>",
                        esc(p),
                        esc(l)
                    );
                }
            }
        }
        let _ = write!(
            nav,
            "<li><form method=\"post\" action=\"/logout\" class=\"inline\">{}<button type=\"submit\">Log out</button></form></li></ul></nav>",
            csrf_field(csrf)
        );
    }
    let flash = chrome
        .flash
        .map(|f| format!("<p class=\"flash\" role=\"status\">{}</p>", esc(f)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} — dialgate</title><link rel=\"stylesheet\" href=\"/static/app.css\">\
<script src=\"/static/app.js\" defer></script></head>\
<body><header><a class=\"brand\" href=\"/\">dialgate</a>{nav}</header>\
<main id=\"main\"><h1>{title}</h1>{flash}{body}</main></body></html>\n",
        title = esc(title),
    )
}

/// The hidden CSRF input every form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// Per-field error messages of a submitted form, keyed by the field's name; `""` is the
/// form-wide message.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    /// Adds a message for `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Whether there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// The form-wide message block (empty when the form has no error).
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut s = String::from(
            "<div class=\"error-summary\" role=\"alert\"><p>Please correct the marked fields.</p>",
        );
        if let Some(general) = self.get("") {
            let _ = write!(s, "<p>{}</p>", esc(general));
        }
        s.push_str("</div>");
        s
    }
}

/// The kinds of `<input>` the forms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `type=text`.
    Text,
    /// `type=password` (never pre-filled).
    Password,
    /// `type=number` (min 0).
    Number,
}

/// A labelled input with its error message (linked with `aria-describedby`).
pub fn input(
    form: &str,
    name: &str,
    label: &str,
    kind: Kind,
    value: &str,
    hint: &str,
    errors: &FieldErrors,
) -> String {
    let id = format!("{form}-{name}");
    let (ty, extra, value) = match kind {
        Kind::Text => ("text", "", value),
        Kind::Password => ("password", " autocomplete=\"new-password\"", ""),
        Kind::Number => ("number", " min=\"0\" inputmode=\"numeric\"", value),
    };
    let mut described = Vec::new();
    let mut after = String::new();
    if !hint.is_empty() {
        described.push(format!("{id}-hint"));
        let _ = write!(after, "<small id=\"{id}-hint\">{}</small>", esc(hint));
    }
    let mut invalid = "";
    if let Some(e) = errors.get(name) {
        described.push(format!("{id}-error"));
        let _ = write!(
            after,
            "<span class=\"field-error\" id=\"{id}-error\">{}</span>",
            esc(e)
        );
        invalid = " aria-invalid=\"true\"";
    }
    let describedby = if described.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"{}\"", described.join(" "))
    };
    format!(
        "<div class=\"field\"><label for=\"{id}\">{label}</label>\
<input type=\"{ty}\" id=\"{id}\" name=\"{name}\" value=\"{value}\"{extra}{describedby}{invalid}>{after}</div>",
        label = esc(label),
        value = esc(value),
    )
}

/// A labelled checkbox.
pub fn checkbox(
    form: &str,
    name: &str,
    label: &str,
    checked: bool,
    errors: &FieldErrors,
) -> String {
    let id = format!("{form}-{name}");
    let err = errors
        .get(name)
        .map(|e| {
            format!(
                "<span class=\"field-error\" id=\"{id}-error\">{}</span>",
                esc(e)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"field check\"><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"on\"{}>\
<label for=\"{id}\">{}</label>{err}</div>",
        if checked { " checked" } else { "" },
        esc(label)
    )
}

/// A labelled `<select>`; `options` are (value, label).
pub fn select(
    form: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    errors: &FieldErrors,
) -> String {
    let id = format!("{form}-{name}");
    let mut opts = String::new();
    for (v, l) in options {
        let sel = if v == selected { " selected" } else { "" };
        let _ = write!(
            opts,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(v),
            esc(l)
        );
    }
    let err = errors
        .get(name)
        .map(|e| {
            format!(
                "<span class=\"field-error\" id=\"{id}-error\">{}</span>",
                esc(e)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"field\"><label for=\"{id}\">{}</label><select id=\"{id}\" name=\"{name}\">{opts}</select>{err}</div>",
        esc(label)
    )
}

/// Human-readable byte count.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Human-readable duration from seconds (`3d 4h`, `5m 2s`).
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn inputs_have_labels_and_errors() {
        let mut e = FieldErrors::default();
        e.add("name", "Required.");
        let h = input("u", "name", "User name", Kind::Text, "<x>", "", &e);
        assert!(h.contains("<label for=\"u-name\">User name</label>"), "{h}");
        assert!(h.contains("id=\"u-name\""));
        assert!(h.contains("value=\"&lt;x&gt;\""));
        assert!(h.contains("aria-invalid=\"true\""));
        assert!(h.contains("Required."));
        let p = input("u", "pw", "Password", Kind::Password, "secret", "", &e);
        assert!(!p.contains("secret"), "passwords are never echoed");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(3661), "1h 1m");
        assert_eq!(duration(90061), "1d 1h");
    }
}
