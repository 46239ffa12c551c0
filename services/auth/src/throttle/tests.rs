//! Tests of the throttle: the pair lock, the account and address delays, the two lanes and
//! abandoned checks, with waits let pass instead of slept through.

use super::*;

fn throttle() -> Throttle {
    Throttle::new(ThrottleArgs {
        login_max_failures: 3,
        login_window_secs: 60,
        login_lockout_secs: 120,
        login_delay_after: 4,
        login_max_delay_ms: 1000,
        login_max_concurrent: 2,
    })
}

/// Whether `attempt` would be checked now (the check itself is dropped as abandoned).
fn verdict(t: &Throttle, attempt: &Attempt) -> Result<(), Refusal> {
    t.admit(attempt).map(Checking::abandoned)
}

/// Lets the wait `attempt` was told about pass, without sleeping through it.
fn wait_out(t: &Throttle, attempt: &Attempt) {
    let mut state = t.lock();
    let pair = state.entries.get_mut(&attempt.pair_key()).unwrap();
    pair.ready_at = Some(Instant::now());
}

#[test]
fn the_pair_locks_and_nothing_else_does() {
    let t = throttle();
    let guess = Attempt::new("a@x.io", Some("10.0.0.1"));
    for _ in 0..2 {
        t.failure(&guess);
    }
    assert_eq!(verdict(&t, &guess), Ok(()));
    t.failure(&guess);
    let Err(Refusal::Locked(secs)) = verdict(&t, &guess) else {
        panic!("the pair is locked");
    };
    assert!((119..=120).contains(&secs), "{secs}");
    // The account from elsewhere, and another account from here, still get through.
    assert_eq!(
        verdict(&t, &Attempt::new("a@x.io", Some("10.0.0.2"))),
        Ok(())
    );
    assert_eq!(
        verdict(&t, &Attempt::new("b@x.io", Some("10.0.0.1"))),
        Ok(())
    );
    // Success elsewhere clears the account's count but not the locked pair.
    t.admit(&Attempt::new("a@x.io", Some("10.0.0.2")))
        .unwrap()
        .succeeded();
    assert!(matches!(verdict(&t, &guess), Err(Refusal::Locked(_))));
}

#[test]
fn failures_delay_further_attempts_which_the_client_waits_out() {
    let t = throttle();
    // Five addresses, two guesses each, at one account: no pair locks.
    let guessers: Vec<_> = (0..5)
        .map(|i| Attempt::new("admin@x.io", Some(&format!("10.0.0.{i}"))))
        .collect();
    for guess in &guessers {
        t.admit(guess).unwrap().failed();
        t.failure(guess);
    }
    // Ten failures, four allowed: 100 ms doubled five times, capped at 1 s.
    assert_eq!(t.delay(4), Duration::ZERO);
    assert_eq!(t.delay(5), Duration::from_millis(100));
    assert_eq!(t.delay(6), Duration::from_millis(200));
    assert_eq!(t.delay(u32::MAX), Duration::from_secs(1));
    // A guesser's next attempt is told to wait, and told again if it comes back early.
    assert_eq!(verdict(&t, &guessers[0]), Err(Refusal::Delayed(1)));
    assert_eq!(verdict(&t, &guessers[0]), Err(Refusal::Delayed(1)));
    // Once the wait is over, that attempt is checked; the next one waits again.
    wait_out(&t, &guessers[0]);
    t.admit(&guessers[0]).unwrap().failed();
    assert!(matches!(verdict(&t, &guessers[0]), Err(Refusal::Locked(_))));
    assert_eq!(verdict(&t, &guessers[1]), Err(Refusal::Delayed(1)));
    // The owner's first attempt from an address new to the account is not delayed.
    let owner = Attempt::new("admin@x.io", Some("192.0.2.1"));
    t.admit(&owner).unwrap().succeeded();
    // The owner's success ends the account's delay.
    assert_eq!(verdict(&t, &guessers[2]), Ok(()));
    // The address's count stays: spraying many accounts from one address is slowed,
    // first attempts included.
    for i in 0..6 {
        t.failure(&Attempt::new(&format!("u{i}@x.io"), Some("10.0.0.9")));
    }
    let spray = Attempt::new("c@x.io", Some("10.0.0.9"));
    assert_eq!(verdict(&t, &spray), Err(Refusal::Delayed(1)));
    wait_out(&t, &spray);
    assert_eq!(verdict(&t, &spray), Ok(()));
}

#[test]
fn repeats_cannot_crowd_out_a_first_attempt() {
    let t = throttle(); // two checks per lane
    let a = Attempt::new("admin@x.io", Some("10.0.0.1"));
    let b = Attempt::new("admin@x.io", Some("10.0.0.2"));
    let c = Attempt::new("admin@x.io", Some("10.0.0.3"));
    // Three first attempts: the first lane holds two, the third is turned away.
    let first_a = t.admit(&a).unwrap();
    let first_b = t.admit(&b).unwrap();
    assert_eq!(verdict(&t, &c), Err(Refusal::Busy(1)));
    first_a.failed();
    first_b.failed();
    // Their repeats (c's included: it had its turn) fill the other lane...
    let held: Vec<_> = [&a, &b].map(|x| t.admit(x).unwrap()).into();
    assert_eq!(verdict(&t, &c), Err(Refusal::Busy(1)));
    // ...while a first attempt from a new address is still checked at once.
    let owner = t
        .admit(&Attempt::new("admin@x.io", Some("192.0.2.1")))
        .unwrap();
    // Another account is not affected at all.
    assert_eq!(
        verdict(&t, &Attempt::new("b@x.io", Some("10.0.0.1"))),
        Ok(())
    );
    drop(owner);
    for check in held {
        check.abandoned();
    }
    assert_eq!(verdict(&t, &c), Ok(()));
    assert!(t.lock().checking.is_empty(), "nothing left counted");
}

#[test]
fn a_check_cancelled_at_its_deadline_counts_as_a_failure() {
    let t = throttle();
    let guess = Attempt::new("a@x.io", Some("10.0.0.1"));
    for _ in 0..3 {
        // The request's future is dropped while it waits for a hashing slot.
        drop(t.admit(&guess).unwrap());
    }
    assert!(matches!(verdict(&t, &guess), Err(Refusal::Locked(_))));
}
