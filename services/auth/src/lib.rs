//! The natstack auth service. Filled in by the auth work; nothing here yet.
