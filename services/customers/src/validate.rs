//! Input rules, checked before any SQL runs so the client gets every problem at once, as 422
//! field errors. The database constraints stay as a backstop.

use contract::FieldError;
use contract::customers::limits;

/// Longest search or filter value accepted in a list query.
pub const MAX_FILTER_CHARS: usize = 100;

/// Collects field errors.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Checks a text value: at most `max` characters and no NUL (PostgreSQL text cannot hold
    /// one, and it would otherwise surface as a database error).
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        let Some(value) = value else { return };
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if value.contains('\0') {
            self.add(field, "must not contain NUL characters");
        }
    }

    /// Checks a required, non-blank text value.
    pub fn required_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        match value {
            None => self.add(field, "is required"),
            Some(v) if v.trim().is_empty() => self.add(field, "must not be blank"),
            Some(v) => self.text(field, Some(v), max),
        }
    }

    /// `Ok` when nothing was recorded, else the 422.
    pub fn finish(self) -> Result<(), contract::ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(contract::ServiceError::validation(self.0))
        }
    }
}

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

    #[test]
    fn text_rules_count_characters() {
        let mut errors = Errors::default();
        errors.text("city", Some("Zürichzürichzür"), 15);
        errors.text("city", Some("a\0b"), 15);
        errors.required_text("company_name", Some("  "), 40);
        errors.required_text("company_name", None, 40);
        let fields: Vec<_> = errors.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            fields,
            [
                "must not contain NUL characters",
                "must not be blank",
                "is required"
            ]
        );
    }
}
