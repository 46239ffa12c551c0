//! The natstack operator. Filled in by the operator work; nothing here yet.
