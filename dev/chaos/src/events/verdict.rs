//! The events scenario's judgement: the acknowledged writes against the events the SSE client
//! received and the events the stream holds.

use std::collections::{BTreeMap, BTreeSet};

use contract::events::EventType;

use super::follow::Delivered;
use super::writes::Sent;

/// The counts the table shows and the broken promises.
#[derive(Debug, Default)]
pub struct Counts {
    /// Acknowledged writes.
    pub acked: usize,
    /// Events the SSE client received.
    pub delivered: usize,
    /// Events the stream holds for the same span.
    pub in_stream: usize,
    /// Acknowledged writes whose event never arrived (or arrived out of order).
    pub lost: usize,
    /// Events received more than once (same CloudEvent id or same stream sequence).
    pub duplicated: usize,
    /// Events of writes that were not acknowledged but committed (a reply lost in a fault).
    pub unacknowledged: usize,
    /// What went wrong, first few.
    pub problems: Vec<String>,
}

/// Judges `sent` against what the client received (`delivered`, in arrival order) and the
/// stream's `(sequence, CloudEvent id)` pairs for the same span.
pub fn judge(sent: &Sent, delivered: &[Delivered], stream: &[(u64, String)]) -> Counts {
    let mut counts = Counts {
        acked: sent.acked(),
        delivered: delivered.len(),
        in_stream: stream.len(),
        ..Counts::default()
    };
    // Arrival order must follow the stream order, each sequence once: a resume that repeated
    // or skipped shows here.
    let mut seen_ids = BTreeSet::new();
    let mut last_seq = 0;
    for d in delivered {
        if d.seq <= last_seq || !seen_ids.insert(d.id.as_str()) {
            counts.duplicated += 1;
            counts.note(format!("event {} (seq {}) received again", d.id, d.seq));
        }
        last_seq = last_seq.max(d.seq);
    }
    let stream_ids: BTreeSet<&str> = stream.iter().map(|(_, id)| id.as_str()).collect();
    if stream_ids.len() != stream.len() {
        counts.duplicated += stream.len() - stream_ids.len();
        counts.note("the stream holds an event twice".to_owned());
    }
    let missing = stream_ids.difference(&seen_ids).count();
    if missing > 0 {
        counts.lost += missing;
        counts.note(format!(
            "{missing} event(s) in the stream never reached the client"
        ));
    }
    // Per entity, the events received must be its writes in order, without the
    // unacknowledged ones that did not commit.
    let mut per_entity: BTreeMap<(&str, &str), Vec<EventType>> = BTreeMap::new();
    for d in delivered {
        if let Some(ty) = EventType::parse(&d.ty) {
            per_entity
                .entry((ty.service(), d.subject.as_str()))
                .or_default()
                .push(ty);
        }
    }
    for ((service, id), writes) in &sent.entities {
        let got = per_entity
            .remove(&(*service, id.as_str()))
            .unwrap_or_default();
        let mut next = got.iter().peekable();
        for w in writes {
            if next.peek() == Some(&&w.ty) {
                next.next();
                if !w.acked {
                    counts.unacknowledged += 1;
                }
            } else if w.acked {
                counts.lost += 1;
                counts.note(format!(
                    "{} {id}: {:?} missing (got {got:?})",
                    service, w.ty
                ));
            }
        }
        let extra = next.count();
        if extra > 0 {
            counts.duplicated += extra;
            counts.note(format!(
                "{service} {id}: {extra} extra event(s) (got {got:?})"
            ));
        }
    }
    // Entities no acknowledged create named: creates whose reply was lost but which committed.
    counts.unacknowledged += per_entity.values().map(Vec::len).sum::<usize>();
    counts
}

impl Counts {
    fn note(&mut self, problem: String) {
        if self.problems.len() < 5 {
            self.problems.push(problem);
        }
    }

    /// Whether every acknowledged write's event arrived exactly once, in order, and the client
    /// received what the stream holds.
    pub fn holds(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.delivered == self.in_stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::writes::Write;

    /// Events of entity `7` as delivered, each `(sequence, type)` with id `e<sequence>`.
    fn delivered(events: &[(u64, EventType)]) -> Vec<Delivered> {
        events
            .iter()
            .map(|&(seq, ty)| Delivered {
                seq,
                id: format!("e{seq}"),
                ty: ty.as_str().to_owned(),
                subject: "7".to_owned(),
            })
            .collect()
    }

    fn sent(writes: &[(EventType, bool)]) -> Sent {
        let mut sent = Sent::default();
        sent.entities.insert(
            ("products", "7".to_owned()),
            writes
                .iter()
                .map(|&(ty, acked)| Write { ty, acked })
                .collect(),
        );
        sent
    }

    fn stream(events: &[Delivered]) -> Vec<(u64, String)> {
        events.iter().map(|d| (d.seq, d.id.clone())).collect()
    }

    /// [`judge`] when the stream holds just what the client received.
    fn judge_received(sent: &Sent, received: &[Delivered]) -> Counts {
        judge(sent, received, &stream(received))
    }

    #[test]
    fn an_unacknowledged_write_may_or_may_not_publish_but_an_acknowledged_one_must() {
        use EventType::{ProductCreated as C, ProductDeleted as D, ProductUpdated as U};
        let sent = sent(&[(C, true), (U, false), (D, true)]);
        let all = delivered(&[(1, C), (2, U), (3, D)]);
        let counts = judge_received(&sent, &all);
        assert!(counts.holds(), "{counts:?}");
        assert_eq!(counts.unacknowledged, 1);
        let without_update = delivered(&[(1, C), (3, D)]);
        assert!(judge_received(&sent, &without_update).holds());
        let without_delete = delivered(&[(1, C)]);
        let counts = judge_received(&sent, &without_delete);
        assert_eq!(counts.lost, 1);
        assert!(!counts.holds());
    }

    #[test]
    fn a_repeated_or_reordered_event_fails() {
        use EventType::{ProductCreated as C, ProductDeleted as D, ProductUpdated as U};
        let sent = sent(&[(C, true), (U, true), (D, true)]);
        let repeated = delivered(&[(1, C), (2, U), (2, U), (3, D)]);
        let counts = judge(&sent, &repeated, &stream(&repeated[..2]));
        assert!(counts.duplicated >= 1 && !counts.holds(), "{counts:?}");
        let reordered = delivered(&[(1, C), (2, D), (3, U)]);
        assert!(!judge_received(&sent, &reordered).holds());
        let missed_by_client = delivered(&[(1, C), (3, D)]);
        let full = delivered(&[(1, C), (2, U), (3, D)]);
        assert!(!judge(&sent, &missed_by_client, &stream(&full)).holds());
    }
}
