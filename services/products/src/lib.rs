//! The natstack products service. Filled in by the products work; nothing here yet.
