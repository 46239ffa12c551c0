//! Step 3: every child object, built by the pure [`manifests`] from the
//! spec and the Secret data the dereference step read.

use crate::crd::MicroserviceStack;
use crate::error::Error;
use crate::manifests::{self, Children, SecretData};

/// The children of `stack`, in apply order.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a Secret lacks a key the builders read.
pub fn children(stack: &MicroserviceStack, secrets: &SecretData) -> Result<Children, Error> {
    manifests::build(stack, secrets)
}
