//! The natstack HTTP gateway. Filled in by the gateway work; nothing here yet.
