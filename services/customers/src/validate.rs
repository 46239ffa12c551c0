//! Input rules, checked before any SQL runs so the client gets every problem at once, as 422
//! field errors. The database constraints stay as a backstop.

use contract::customers::limits;

/// Longest search or filter value accepted in a list query (the schema publishes it too).
pub use contract::page::MAX_FILTER_CHARS;

/// A customer id in canonical form (five ASCII letters, upper-cased), or `None` when `id`
/// cannot be one.
pub fn customer_id(id: &str) -> Option<String> {
    (id.len() == limits::CUSTOMER_ID && id.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| id.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_five_letters_upper_cased() {
        assert_eq!(customer_id("alfki").as_deref(), Some("ALFKI"));
        for bad in ["ALFK", "ALFKIS", "ALF1I", "ÄLFKI", "AL'KI", ""] {
            assert_eq!(customer_id(bad), None, "{bad}");
        }
    }
}
