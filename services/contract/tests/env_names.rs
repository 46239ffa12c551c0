//! No environment variable name is written as a literal outside `contract::deploy`.
//!
//! Scans every Rust source of the workspace except `services/contract/src/deploy/`, test
//! targets (`tests/` folders, `tests.rs` files and `#[cfg(test)]` items) and comments, and
//! takes every string literal spelled like `SOME_NAME` (capitals and digits with at least one
//! underscore) for an environment variable name: in this workspace that is what they are, a
//! few listed exceptions apart. Such a name belongs in `contract::deploy::env`, where the
//! operator, the binaries and the development tools share one spelling of it.

use std::path::{Path, PathBuf};

/// Literals spelled like variable names that are something else, or not the project's.
fn allowed(literal: &str) -> bool {
    // Cargo's own variables (`env!("CARGO_PKG_VERSION")`, `CARGO_TARGET_DIR`): Cargo sets them.
    literal.starts_with("CARGO_")
        // The file PostgreSQL writes into a data directory it initialised.
        || literal == "PG_VERSION"
        // Keys of the object-store Secret a CloudNativePG backup reads (CNPG's documented
        // spelling), not variables.
        || literal == "ACCESS_KEY_ID"
        || literal == "ACCESS_SECRET_KEY"
}

/// `SOME_NAME`: a capital, then capitals and digits, with at least one inner underscore.
fn looks_like_env_name(literal: &str) -> bool {
    let mut parts = literal.split('_');
    let first = parts.next().unwrap_or_default();
    let mut rest = parts.peekable();
    first.starts_with(|c: char| c.is_ascii_uppercase())
        && rest.peek().is_some()
        && std::iter::once(first).chain(rest).all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

/// The string literals of Rust source `text` outside comments and `#[cfg(test)]` items, with
/// the line each starts on.
fn literals(text: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut found = Vec::new();
    let (mut i, mut line, mut depth) = (0, 1, 0usize);
    // After `#[cfg(test)]`: the item it guards, until its `;` or the end of its `{ }` block.
    let mut test_item_pending = false;
    let mut skip_until_depth: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut nesting = 0;
            loop {
                if at(i) == '\0' {
                    break;
                } else if at(i) == '/' && at(i + 1) == '*' {
                    nesting += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    line += usize::from(at(i) == '\n');
                    i += 1;
                }
            }
        } else if c == '"'
            || (c == 'r' && matches!(at(i + 1), '"' | '#') && !ident_char(at_before(&chars, i)))
        {
            let start = line;
            let (raw, hashes) = if c == 'r' {
                let mut h = 0;
                i += 1;
                while at(i) == '#' {
                    h += 1;
                    i += 1;
                }
                if at(i) != '"' {
                    // `r#ident`, a raw identifier.
                    continue;
                }
                (true, h)
            } else {
                (false, 0)
            };
            i += 1;
            let mut literal = String::new();
            loop {
                let d = at(i);
                if d == '\0' {
                    break;
                }
                if d == '\\' && !raw {
                    literal.push(d);
                    literal.push(at(i + 1));
                    line += usize::from(at(i + 1) == '\n');
                    i += 2;
                    continue;
                }
                if d == '"' && (0..hashes).all(|k| at(i + 1 + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                line += usize::from(d == '\n');
                literal.push(d);
                i += 1;
            }
            if skip_until_depth.is_none() {
                found.push((start, literal));
            }
        } else if c == '\'' {
            // A char literal (`'"'`, `'\''`) or a lifetime (`'a`).
            if at(i + 1) == '\\' {
                i += 2;
                while at(i) != '\'' && at(i) != '\0' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else {
            if chars[i..].starts_with(&['#', '[', 'c', 'f', 'g', '(', 't', 'e', 's', 't', ')', ']'])
            {
                test_item_pending = skip_until_depth.is_none();
                i += 12;
                continue;
            }
            match c {
                '{' => {
                    if test_item_pending {
                        skip_until_depth = Some(depth);
                        test_item_pending = false;
                    }
                    depth += 1;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if skip_until_depth == Some(depth) {
                        skip_until_depth = None;
                    }
                }
                ';' => test_item_pending = false,
                _ => {}
            }
            i += 1;
        }
    }
    found
}

fn at_before(chars: &[char], i: usize) -> char {
    i.checked_sub(1).map_or(' ', |j| chars[j])
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The workspace's non-test Rust sources, `deploy/` excluded.
fn sources(dir: &Path, deploy: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "tests" || path == deploy) {
                sources(&path, deploy, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// `file:line: "NAME"` for every env-like literal outside the contract.
fn offenders(root: &Path) -> Vec<String> {
    let deploy = root.join("services/contract/src/deploy");
    let mut files = Vec::new();
    sources(root, &deploy, &mut files);
    assert!(
        files.len() > 50,
        "found only {} sources under {}",
        files.len(),
        root.display()
    );
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, literal) in literals(&text) {
            if looks_like_env_name(&literal) && !allowed(&literal) {
                let rel = file.strip_prefix(root).unwrap().display();
                out.push(format!("{rel}:{line}: \"{literal}\""));
            }
        }
    }
    out
}

#[test]
fn env_names_are_written_only_in_the_deployment_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap();
    let found = offenders(&root);
    assert!(
        found.is_empty(),
        "environment variable names written as literals; name them in \
         contract::deploy::env and use the constant:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_literals_in_code_but_not_in_comments_or_test_items() {
    let text = r##"
//! Reads `HIDDEN_IN_DOCS`.
fn main() {
    let a = std::env::var("NEW_THING"); // not "IN_A_COMMENT"
    /* nor "IN_A_BLOCK" */
    let b = cmd.env("SET_BY_US", '"');
    let c: &'static str = r#"RAW_NAME"#;
    let d = env!("CARGO_PKG_VERSION");
}
#[cfg(test)]
mod tests {
    fn t() { let _ = std::env::var("ONLY_IN_A_TEST"); }
}
#[cfg(test)]
use std::env::var;
const AFTER: &str = "AFTER_THE_TESTS";
"##;
    let names: Vec<_> = literals(text)
        .into_iter()
        .filter(|(_, l)| looks_like_env_name(l) && !allowed(l))
        .collect();
    assert_eq!(
        names,
        [
            (4, "NEW_THING".to_owned()),
            (6, "SET_BY_US".to_owned()),
            (7, "RAW_NAME".to_owned()),
            (16, "AFTER_THE_TESTS".to_owned()),
        ]
    );
    assert!(!looks_like_env_name("HOME"), "no underscore");
    assert!(!looks_like_env_name("_INBOX"));
    assert!(!looks_like_env_name("Not_A_NAME"));
}
