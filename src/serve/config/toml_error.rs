//! Where a config-file error is, without the file's text: toml's own rendering quotes the
//! offending line, which in an `[[api_keys]]` table is a secret.

/// A TOML error reduced to what can be printed safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line of the error, when toml knows where it is.
    pub line: Option<usize>,
    /// Dotted key the error is about (`api_keys.key`), when the line names one.
    pub key: Option<String>,
    /// toml's message without the quoted line; values quoted in it are left out when
    /// the key may hold a secret.
    pub message: String,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}")?;
        }
        if let Some(key) = &self.key {
            let sep = if self.line.is_some() { ", " } else { "" };
            write!(f, "{sep}key {key}")?;
        }
        let sep = if self.line.is_some() || self.key.is_some() {
            ": "
        } else {
            ""
        };
        write!(f, "{sep}{}", self.message)
    }
}

/// Locates `err`, raised while parsing `text`.
pub fn locate(text: &str, err: &toml::de::Error) -> Located {
    let at = err.span().map(|s| s.start.min(text.len()));
    let line = at.map(|at| text[..at].matches('\n').count() + 1);
    let key = at.and_then(|at| key_at(text, at));
    let message = err.message().trim().to_string();
    let secret = key.as_deref().is_none_or(may_be_secret);
    Located {
        line,
        key,
        message: if secret {
            without_quoted(&message)
        } else {
            message
        },
    }
}

/// Whether a key may hold a secret (API keys, or anything named like one).
fn may_be_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "secret", "token", "pass"]
        .iter()
        .any(|w| k.contains(w))
}

/// The dotted key of the line holding byte `at`: the nearest table header above it and
/// the key before `=` on the line (or the header itself).
fn key_at(text: &str, at: usize) -> Option<String> {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let this = text[start..end].trim();
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    };
    if let Some(h) = header(this) {
        return Some(h);
    }
    let name = this
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|k| !k.is_empty() && !k.contains(char::is_whitespace));
    let table = text[..start].lines().rev().find_map(header);
    match (table, name) {
        (Some(t), Some(n)) => Some(format!("{t}.{n}")),
        (None, Some(n)) => Some(n),
        (t, None) => t,
    }
}

/// `message` with every `` `…` ``, `"…"` and `'…'` fragment replaced by `…`.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(q) if c == q => open = None,
            Some(_) => {}
            None if matches!(c, '`' | '"' | '\'') => {
                open = Some(c);
                out.push('…');
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str) -> Located {
        let err = toml::from_str::<toml::Table>(text).expect_err("invalid");
        locate(text, &err)
    }

    #[test]
    fn names_line_and_key_but_never_an_api_key() {
        let text = "bind = \"127.0.0.1:1\"\n\n[[api_keys]]\nkey = \"sk-live-SECRET-0123456789\nscopes = [\"admin\"]\n";
        let l = located(text);
        assert_eq!(l.line, Some(4), "{l:?}");
        assert_eq!(l.key.as_deref(), Some("api_keys.key"));
        let shown = l.to_string();
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.starts_with("line 4, key api_keys.key: "), "{shown}");
    }

    #[test]
    fn quoted_values_go_only_for_secret_keys() {
        assert_eq!(
            without_quoted("invalid type: string \"abc\", expected `u64`"),
            "invalid type: string …, expected …"
        );
        assert!(may_be_secret("api_keys.key") && may_be_secret("db_password"));
        assert!(!may_be_secret("workers"));
        assert_eq!(key_at("a = 1\n[t]\nb = 2\n", 12).as_deref(), Some("t.b"));
        assert_eq!(key_at("[[api_keys]]\n", 3).as_deref(), Some("api_keys"));
    }
}
