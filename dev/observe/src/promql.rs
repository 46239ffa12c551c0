//! Just enough PromQL: Grafana's variables put in for their values, and the series selectors
//! an expression reads (`metric{labels}`), so each can be asked for on its own.

/// Grafana's variables in a panel's query and the values this run gives them.
#[derive(Debug, Clone)]
pub struct Variables {
    /// `$namespace`.
    pub namespace: String,
    /// `$stack`.
    pub stack: String,
    /// `$__rate_interval`, `$__interval` and `$__range` (a PromQL duration).
    pub interval: String,
}

impl Variables {
    /// `query` with every variable replaced (`$x` and `${x}` forms).
    pub fn apply(&self, query: &str) -> String {
        let values = [
            ("__rate_interval", self.interval.as_str()),
            ("__interval", self.interval.as_str()),
            ("__range", self.interval.as_str()),
            ("namespace", self.namespace.as_str()),
            ("stack", self.stack.as_str()),
        ];
        let mut out = query.to_owned();
        // Longest names first: `$__rate_interval` before `$__interval`.
        for (name, value) in values {
            out = out.replace(&format!("${{{name}}}"), value);
            out = out.replace(&format!("${name}"), value);
        }
        out
    }
}

/// Keywords that are followed by a label list, not a metric.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Keywords, constants and aggregations (`sum by (x) (…)`) that are not metric names.
const WORDS: [&str; 19] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// The series selectors of `expr`: each metric name with its label matchers, as written.
pub fn selectors(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '[' {
            i = skip_group(&chars, i, '[', ']');
        } else if c == '{' {
            // A selector without a metric name.
            let end = skip_group(&chars, i, '{', '}');
            out.push(chars[i..end].iter().collect());
            i = end;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let followed_by = chars.get(next).copied();
            if LABEL_LISTS.contains(&word.as_str()) {
                if followed_by == Some('(') {
                    i = skip_group(&chars, next, '(', ')');
                }
            } else if followed_by == Some('(') || WORDS.contains(&word.to_lowercase().as_str()) {
                // A function or aggregation, or a keyword.
            } else if followed_by == Some('{') {
                let end = skip_group(&chars, next, '{', '}');
                out.push(format!(
                    "{word}{}",
                    chars[next..end].iter().collect::<String>()
                ));
                i = end;
            } else {
                out.push(word);
            }
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration (`5m`), which may carry letters.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The metric name of a selector (empty when it has none).
pub fn metric_name(selector: &str) -> &str {
    selector.split('{').next().unwrap_or_default().trim()
}

/// The index after the string starting at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The index after the group opened at `start`, strings inside included.
fn skip_group(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = skip_string(chars, i);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_found_and_label_lists_functions_and_durations_are_not() {
        let expr = r#"histogram_quantile(0.99, sum by (le, route) (rate(natstack_gateway_http_request_duration_seconds_bucket{natstack_stack="shop", route!~"/x{1}"}[5m]))) > 0.5
            and on (route) sum without (pod) (up) > bool 0 or vector(1)"#;
        assert_eq!(
            selectors(expr),
            [
                r#"natstack_gateway_http_request_duration_seconds_bucket{natstack_stack="shop", route!~"/x{1}"}"#,
                "up",
            ]
        );
    }

    #[test]
    fn a_selector_without_a_name_is_kept_whole() {
        assert_eq!(
            selectors(r#"count({__name__=~"gnatsd_.*"}) offset 1m"#),
            [r#"{__name__=~"gnatsd_.*"}"#]
        );
        assert_eq!(metric_name("up{job=\"x\"}"), "up");
    }

    #[test]
    fn variables_are_put_in_in_both_forms() {
        let vars = Variables {
            namespace: "ns".into(),
            stack: "shop".into(),
            interval: "1m".into(),
        };
        assert_eq!(
            vars.apply(
                r#"rate(x{namespace="$namespace", natstack_stack="${stack}"}[$__rate_interval])"#
            ),
            r#"rate(x{namespace="ns", natstack_stack="shop"}[1m])"#
        );
    }
}
