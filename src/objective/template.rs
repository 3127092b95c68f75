//! `{name}` placeholders in a command's arguments: which names an argument uses, and the
//! argument with values in their place. A value always stays inside its argument; when the
//! argument is a shell script (`sh -c "..."`), substituted values are shell-quoted.
//!
//! A leaf: it imports nothing from the rest of the crate (the configuration checks names
//! with it, the command objective substitutes with it).

/// Placeholders every command may use besides parameter names.
pub const BUILTIN_PLACEHOLDERS: &[&str] = &["index", "worker_dir", "config_dir", "experiment_dir"];

/// Whether `s` is a name a placeholder (or a parameter) may have: ASCII letters, digits and
/// `_`, not starting with a digit.
pub fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The names inside `{...}` placeholders of an argument.
pub fn placeholders(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_identifier(&after[..close]) => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// Replaces the placeholders of `arg` that `lookup` knows (others stay as written); `quote`
/// shell-quotes each substituted value.
pub fn substitute(arg: &str, lookup: &dyn Fn(&str) -> Option<String>, quote: bool) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').filter(|c| is_identifier(&after[..*c])) {
            Some(close) => {
                let name = &after[..close];
                match lookup(name) {
                    Some(v) if quote => out.push_str(&shell_words::quote(&v)),
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_substitution() {
        assert_eq!(
            placeholders("--lr={lr} {x}{y} {not valid} {"),
            vec!["lr", "x", "y"]
        );
        let look = |n: &str| match n {
            "x" => Some("$(touch /tmp/pwned)".to_string()),
            _ => None,
        };
        assert_eq!(
            substitute("a={x} {z} {{", &look, false),
            "a=$(touch /tmp/pwned) {z} {{"
        );
        assert_eq!(
            substitute("echo {x}", &look, true),
            "echo '$(touch /tmp/pwned)'"
        );
        assert!(
            is_identifier("_a1")
                && !is_identifier("1a")
                && !is_identifier("")
                && !is_identifier("é")
        );
    }
}
