//! Input rules, checked before any SQL runs so the client gets every problem at once, as 422
//! field errors. The database constraints stay as a backstop.

use contract::FieldErrors;
use std::str::FromStr;

use contract::products::{Price, limits};
use rust_decimal::Decimal;

/// Longest search or filter value accepted in a list query (the schema publishes it too).
pub use contract::page::MAX_FILTER_CHARS;

/// Checks an optional integer against `0..=smallint::MAX` and narrows it.
pub fn small(errors: &mut FieldErrors, field: &str, value: Option<i64>) -> Option<i16> {
    narrow(errors, field, value?, 0, "between")
}

/// Checks an optional id against `1..=smallint::MAX` and narrows it.
pub fn id(errors: &mut FieldErrors, field: &str, value: Option<i64>) -> Option<i16> {
    narrow(errors, field, value?, 1, "an id between")
}

/// Narrows `value` to `min..=smallint::MAX`; otherwise `field` "must be {what} {min} and …".
fn narrow(errors: &mut FieldErrors, field: &str, value: i64, min: i16, what: &str) -> Option<i16> {
    match i16::try_from(value) {
        Ok(v) if v >= min => Some(v),
        _ => {
            errors.add(field, format!("must be {what} {min} and {}", i16::MAX));
            None
        }
    }
}

/// Checks a price: a plain decimal, not negative, at most two decimals and at most
/// 99999999.99 (`numeric(10,2)`).
pub fn price(errors: &mut FieldErrors, field: &str, value: Option<&Price>) -> Option<Decimal> {
    let value = value?;
    let max = Decimal::from_str(limits::PRICE_MAX).expect("a valid constant");
    match Decimal::from_str(value.as_str()) {
        Ok(d) if d.is_sign_negative() && !d.is_zero() => errors.add(field, "must not be negative"),
        Ok(d) if d.normalize().scale() > limits::PRICE_SCALE => {
            errors.add(field, "must have at most 2 decimal places");
        }
        Ok(d) if d > max => errors.add(field, format!("must be at most {max}")),
        Ok(d) => return Some(d),
        Err(_) => errors.add(field, "must be a decimal amount like 18.00"),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_range_checked() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            small(&mut errors, "units_in_stock", Some(32767)),
            Some(32767)
        );
        assert_eq!(small(&mut errors, "units_in_stock", Some(32768)), None);
        assert_eq!(small(&mut errors, "units_in_stock", Some(-1)), None);
        assert_eq!(id(&mut errors, "category_id", Some(0)), None);
        let p = |s: &str| s.parse::<Price>().unwrap();
        assert_eq!(
            price(&mut errors, "unit_price", Some(&p("18.500"))),
            Some(Decimal::new(18500, 3))
        );
        assert_eq!(price(&mut errors, "unit_price", Some(&p("18.005"))), None);
        assert_eq!(price(&mut errors, "unit_price", Some(&p("-1"))), None);
        assert_eq!(
            price(&mut errors, "unit_price", Some(&p("100000000"))),
            None
        );
        assert_eq!(errors.0.len(), 6, "{:?}", errors.0);
    }
}
