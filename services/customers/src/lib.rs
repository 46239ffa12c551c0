//! The natstack customers service. Filled in by the customers work; nothing here yet.
