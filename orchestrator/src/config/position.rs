//! Where a value is written in the YAML text, so that every error points
//! at it (file:line:column), and the problems the YAML parser reports
//! poorly (tabs, merge keys, keys written twice).

use super::ConfigError;

/// 1-based line and column of the first `key:` in `text`.
pub(super) fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let pat = format!("{key}:");
    text.lines()
        .enumerate()
        .find_map(|(i, l)| l.find(&pat).map(|c| (i + 1, c + 1)))
}

/// Problems the YAML parser reports poorly: tab indentation and merge keys.
/// A key written twice in one block mapping: (line, column) of the second,
/// the key, and the line of the first. Flow mappings (`{a: 1, a: 2}`) are
/// left to the YAML parser, which reports them at the mapping.
pub(super) fn duplicate_key(text: &str) -> Option<(usize, usize, String, usize)> {
    // Open mappings, outermost first: (column of their keys, key -> line).
    let mut open: Vec<(usize, std::collections::HashMap<String, usize>)> = Vec::new();
    // Inside a block scalar (`|`, `>`): lines indented deeper than this.
    let mut scalar_at: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut col = line.len() - trimmed.len();
        if let Some(at) = scalar_at {
            if col > at {
                continue;
            }
            scalar_at = None;
        }
        if trimmed.starts_with("---") || trimmed.starts_with("...") {
            open.clear();
            continue;
        }
        let mut rest = trimmed;
        while let Some(r) = rest
            .strip_prefix('-')
            .filter(|r| r.is_empty() || r.starts_with(' '))
        {
            // A sequence item starts a new mapping at its content's column.
            let inner = r.trim_start_matches(' ');
            col += rest.len() - inner.len();
            rest = inner;
            open.retain(|(c, _)| *c < col);
        }
        let Some((key, value)) = rest.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if key.is_empty()
            || key.starts_with(['{', '[', '"', '\'', '&', '*', '!', '|', '>'])
            || !(value.is_empty() || rest[key.len() + 1..].starts_with(' '))
        {
            continue;
        }
        open.retain(|(c, _)| *c <= col);
        match open.last_mut() {
            Some((c, keys)) if *c == col => {
                if let Some(first) = keys.get(key) {
                    return Some((i + 1, col + 1, key.to_string(), *first));
                }
                keys.insert(key.to_string(), i + 1);
            }
            _ => open.push((
                col,
                std::collections::HashMap::from([(key.to_string(), i + 1)]),
            )),
        }
        let v = value.split(" #").next().unwrap_or("").trim();
        if v.starts_with('|') || v.starts_with('>') {
            scalar_at = Some(col);
        }
    }
    None
}

pub(super) fn lex_problem(text: &str, file: &str) -> Option<ConfigError> {
    if let Some((line, column, key, first)) = duplicate_key(text) {
        return Some(ConfigError {
            file: file.into(),
            line,
            column,
            message: format!(
                "duplicate field `{key}` (first on line {first}); a key may appear once in its mapping"
            ),
        });
    }
    for (i, line) in text.lines().enumerate() {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(col) = indent.find('\t') {
            return Some(ConfigError {
                file: file.into(),
                line: i + 1,
                column: col + 1,
                message: "a tab in the indentation; YAML indents with spaces only (replace the tab with spaces)".into(),
            });
        }
        let t = line.trim_start();
        if t.starts_with("<<:")
            || t.starts_with("- <<:")
            || t.contains("{<<:")
            || t.contains(", <<:")
        {
            return Some(ConfigError {
                file: file.into(),
                line: i + 1,
                column: line.find("<<").unwrap_or(0) + 1,
                message: "YAML merge keys (`<<: *anchor`) are not supported; write the fields out"
                    .into(),
            });
        }
    }
    None
}

/// 1-based line and column of the first line of `text` that contains `needle`
/// as a whole value (used to place semantic errors).
/// Where `key:` is written in the list entry whose `name` is `name`: after
/// the name (same line for a flow mapping, below it for a block one) and
/// before the next entry's `name:`.
pub(super) fn locate_in_entry(text: &str, name: &str, key: &str) -> Option<(usize, usize)> {
    let (line, column) = locate(text, "name", name);
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.get(line - 1)?;
    // The entry's `name` on its line (line and column are 1-based).
    let mut from = column - 1;
    for (i, l) in lines.iter().enumerate().skip(line - 1) {
        let t = l
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches('{');
        if i > line - 1 && (t.starts_with("name:") || !l.starts_with([' ', '-'])) {
            // The next entry, or the end of the list.
            return None;
        }
        let scan = if i == line - 1 { &first[from..] } else { l };
        let offset = if i == line - 1 { from } else { 0 };
        let mut at = 0;
        while let Some(p) = scan[at..].find(key) {
            let pos = at + p;
            let before = scan[..pos].chars().last();
            let after = scan[pos + key.len()..].trim_start_matches(' ');
            if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') && after.starts_with(':') {
                return Some((i + 1, offset + pos + 1));
            }
            at = pos + key.len();
        }
        from = 0;
    }
    None
}

pub(super) fn locate(text: &str, key: &str, value: &str) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let same = |w: &str| w.trim().trim_matches(['"', '\'']) == value;
    for (i, line) in lines.iter().enumerate() {
        let mut from = 0;
        while let Some(p) = line[from..].find(key) {
            let at = from + p;
            let after = line[at + key.len()..].trim_start_matches([':', ' ']);
            let word: String = after
                .chars()
                .take_while(|c| !",}]#\n".contains(*c))
                .collect();
            if same(&word) {
                return (i + 1, at + 1);
            }
            let is_key = line[..at]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_')
                && line[at + key.len()..].starts_with(':');
            if is_key {
                // One element of a list: `key: [a, b]` on this line, or a
                // block list (`- b`) on the lines under it.
                if let Some(list) = after.strip_prefix('[') {
                    let base = line.len() - list.len();
                    let mut off = 0;
                    for el in list.split([',', ']']) {
                        if same(el) {
                            let lead = el.len() - el.trim_start().len();
                            return (i + 1, base + off + lead + 1);
                        }
                        off += el.len() + 1;
                    }
                } else if after.trim().is_empty() {
                    for (j, l) in lines.iter().enumerate().skip(i + 1) {
                        let Some(el) = l.trim_start().strip_prefix("- ") else {
                            break;
                        };
                        if same(el) {
                            return (j + 1, l.len() - el.len() + 1);
                        }
                    }
                }
            }
            from = at + key.len();
        }
    }
    for (i, line) in text.lines().enumerate() {
        if let Some(p) = line.find(value) {
            return (i + 1, p + 1);
        }
    }
    (1, 1)
}

/// An error at `key: value` in `text`.
pub(super) fn err_at(
    text: &str,
    file: &str,
    key: &str,
    value: &str,
    message: String,
) -> ConfigError {
    let (line, column) = locate(text, key, value);
    ConfigError {
        file: file.into(),
        line,
        column,
        message,
    }
}

/// A YAML tag (`!include`, `!!python/object`, ...): genoprot reads plain
/// YAML, and a tagged value would otherwise be taken without its tag.
pub(super) fn unknown_tag(v: &yaml_serde::Value, text: &str, file: &str) -> Option<ConfigError> {
    fn find(v: &yaml_serde::Value) -> Option<String> {
        match v {
            yaml_serde::Value::Tagged(t) => Some(t.tag.to_string()),
            yaml_serde::Value::Sequence(s) => s.iter().find_map(find),
            yaml_serde::Value::Mapping(m) => {
                m.iter().find_map(|(k, v)| find(k).or_else(|| find(v)))
            }
            _ => None,
        }
    }
    let tag = find(v)?;
    let (line, column) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find(tag.as_str()).map(|c| (i + 1, c + 1)))
        .unwrap_or((1, 1));
    Some(ConfigError {
        file: file.into(),
        line,
        column,
        message: format!(
            "YAML tag `{tag}` is not supported: a sweep config is plain YAML (no includes or \
             custom types); write the value itself"
        ),
    })
}
