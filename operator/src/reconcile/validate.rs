//! Step 1: the invariants the CRD's schema cannot express ([`crate::validate`]); an invalid
//! stack changes nothing and waits for an edit.

use crate::crd::MicroserviceStack;
use crate::status::Outcome;

/// The stack as it may be applied, or the [`Outcome::Invalid`] naming every problem.
///
/// # Errors
/// The outcome to report when the spec is invalid.
pub fn spec(stack: &MicroserviceStack) -> Result<(), Outcome> {
    let problems = crate::validate::problems(stack);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Outcome::Invalid(problems.join("; ")))
    }
}
