//! The caps on open `GET /events` streams: per user (one user cannot take every slot) and in
//! total (each stream holds a connection and a JetStream consumer). A [`Slot`] is held for the
//! life of a stream and given back when the stream ends, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a stream was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The user has their cap of streams open (answered 429).
    User,
    /// The gateway has its cap of streams open (answered 503).
    Total,
}

/// The streams open now, per user and in total.
#[derive(Debug)]
pub struct Caps {
    per_user: u32,
    total: u32,
    open: Arc<Mutex<Open>>,
}

#[derive(Debug, Default)]
struct Open {
    total: u32,
    by_user: HashMap<String, u32>,
}

/// One admitted stream; dropping it frees its place.
#[derive(Debug)]
pub struct Slot {
    user: String,
    open: Arc<Mutex<Open>>,
}

impl Caps {
    /// At most `per_user` streams per user and `total` in all.
    pub fn new(per_user: u32, total: u32) -> Self {
        Self {
            per_user,
            total,
            open: Arc::default(),
        }
    }

    /// A slot for a stream of `user`, unless a cap is reached.
    ///
    /// # Errors
    /// [`Full`] says which cap.
    pub fn admit(&self, user: &str) -> Result<Slot, Full> {
        let mut open = lock(&self.open);
        if open.total >= self.total {
            return Err(Full::Total);
        }
        let mine = open.by_user.entry(user.to_owned()).or_default();
        if *mine >= self.per_user {
            return Err(Full::User);
        }
        *mine += 1;
        open.total += 1;
        Ok(Slot {
            user: user.to_owned(),
            open: self.open.clone(),
        })
    }

    /// Streams open now.
    pub fn open(&self) -> u32 {
        lock(&self.open).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_user.get_mut(&self.user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                // Users with no stream are forgotten: the map stays as small as what is open.
                open.by_user.remove(&self.user);
            }
        }
    }
}

/// The counts stay consistent even if a holder panicked: every change is one step.
fn lock(open: &Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    open.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_in_total() {
        let caps = Caps::new(2, 3);
        let a1 = caps.admit("a").unwrap();
        let _a2 = caps.admit("a").unwrap();
        assert_eq!(caps.admit("a").unwrap_err(), Full::User);
        let _b1 = caps.admit("b").unwrap();
        assert_eq!(caps.admit("c").unwrap_err(), Full::Total);
        drop(a1);
        assert_eq!(caps.open(), 2);
        let _c1 = caps.admit("c").unwrap();
        assert_eq!(caps.admit("a").unwrap_err(), Full::Total);
    }

    #[test]
    fn a_user_with_no_stream_is_forgotten() {
        let caps = Caps::new(1, 10);
        drop(caps.admit("a").unwrap());
        assert!(lock(&caps.open).by_user.is_empty());
        assert_eq!(caps.open(), 0);
    }
}
