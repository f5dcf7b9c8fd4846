//! A bounded, polled inbox between one producer and one consumer thread.
//!
//! The producer (the recorder, pinned to the traced program's CPU) pays for
//! every item it queues, the consumer (the writer thread) only for batches.
//! So a push is a plain uncontended mutex push that wakes nobody: no system
//! call, no context switch on the producer's CPU. The consumer instead wakes
//! by itself at a deadline and takes the whole inbox in one swap. It is woken
//! early only when the inbox is half full, full, or closed; a full inbox
//! blocks the producer until the consumer has taken it, so memory stays
//! bounded (at most two inboxes' worth: the one filling, the one being
//! processed).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Why the inbox was closed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End<E> {
    /// The producer finished with this message; it follows every item pushed.
    Finish(E),
    /// The producer was dropped without finishing.
    Dropped,
}

struct Slots<T, E> {
    items: Vec<T>,
    end: Option<End<E>>,
    /// The consumer has ended: pushes fail, a blocked producer is released.
    gone: bool,
    /// The producer waits on `not_full`.
    producer_waiting: bool,
}

struct Shared<T, E> {
    slots: Mutex<Slots<T, E>>,
    /// The consumer waits here for its deadline, half a capacity, or an end.
    wake: Condvar,
    /// The producer waits here while the inbox is full.
    not_full: Condvar,
    capacity: usize,
    /// Items at which the producer wakes the consumer early.
    half: usize,
}

impl<T, E> Shared<T, E> {
    /// Lock, ignoring poison: no code panics while holding the lock with the
    /// slots half updated, so they are consistent even after a panic.
    fn lock(&self) -> MutexGuard<'_, Slots<T, E>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The producer's end. Dropping it closes the inbox with [`End::Dropped`].
pub(crate) struct Producer<T, E> {
    shared: Arc<Shared<T, E>>,
}

/// The consumer's end. Dropping it (also by a panic) fails later pushes and
/// releases a producer blocked on a full inbox.
pub(crate) struct Consumer<T, E> {
    shared: Arc<Shared<T, E>>,
}

/// An inbox of `capacity` items (0 is taken as 1).
pub(crate) fn inbox<T, E>(capacity: usize) -> (Producer<T, E>, Consumer<T, E>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        slots: Mutex::new(Slots {
            items: Vec::with_capacity(capacity),
            end: None,
            gone: false,
            producer_waiting: false,
        }),
        wake: Condvar::new(),
        not_full: Condvar::new(),
        capacity,
        half: (capacity / 2).max(1),
    });
    (
        Producer {
            shared: shared.clone(),
        },
        Consumer { shared },
    )
}

impl<T, E> Producer<T, E> {
    /// Queue `item`. Wakes the consumer only when the inbox reaches half its
    /// capacity; blocks while it is full. Gives the item back if the
    /// consumer has ended.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let sh = &*self.shared;
        let mut s = sh.lock();
        if s.gone {
            return Err(item);
        }
        if s.items.len() >= sh.capacity {
            // The consumer may be sleeping until its deadline: waking it now
            // is what lets a full inbox drain at disk speed.
            sh.wake.notify_one();
            s.producer_waiting = true;
            while s.items.len() >= sh.capacity && !s.gone {
                s = sh.not_full.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            s.producer_waiting = false;
            if s.gone {
                return Err(item);
            }
        }
        s.items.push(item);
        // Exactly at the crossing, so it costs one wake-up per half inbox;
        // a consumer busy at that moment sees the length before it sleeps.
        let early = s.items.len() == sh.half;
        drop(s);
        if early {
            sh.wake.notify_one();
        }
        Ok(())
    }

    /// Close the inbox with `end` and wake the consumer at once. Only the
    /// first close counts.
    pub(crate) fn close(&self, end: End<E>) {
        let sh = &*self.shared;
        let mut s = sh.lock();
        if s.end.is_none() {
            s.end = Some(end);
        }
        drop(s);
        sh.wake.notify_one();
    }
}

impl<T, E> Drop for Producer<T, E> {
    fn drop(&mut self) {
        self.close(End::Dropped);
    }
}

impl<T, E> Consumer<T, E> {
    /// Wait until `deadline`, or until the inbox is half full or closed,
    /// then swap every queued item into `out` (which should be empty: its
    /// allocation becomes the inbox's, so buffers are reused) and return the
    /// end if the inbox was closed. The end follows every item in `out`.
    pub(crate) fn take(&mut self, out: &mut Vec<T>, deadline: Instant) -> Option<End<E>> {
        debug_assert!(out.is_empty(), "take into a non-empty batch");
        let sh = &*self.shared;
        let mut s = sh.lock();
        while s.end.is_none() && s.items.len() < sh.half {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            s = sh
                .wake
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        std::mem::swap(&mut s.items, out);
        let end = s.end.take();
        let release = s.producer_waiting;
        drop(s);
        if release {
            sh.not_full.notify_one();
        }
        end
    }
}

impl<T, E> Drop for Consumer<T, E> {
    fn drop(&mut self) {
        let sh = &*self.shared;
        let mut s = sh.lock();
        s.gone = true;
        // Nobody will take them: free the memory now.
        s.items = Vec::new();
        drop(s);
        sh.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(10)
    }

    #[test]
    fn items_arrive_in_order_through_a_small_inbox() {
        let (tx, mut rx) = inbox::<u32, &str>(3);
        let producer = std::thread::spawn(move || {
            for i in 0..10_000 {
                tx.push(i).unwrap();
            }
            tx.close(End::Finish("done"));
        });
        let mut got = Vec::new();
        let mut batch = Vec::new();
        let end = loop {
            let end = rx.take(&mut batch, soon());
            assert!(batch.len() <= 3);
            got.append(&mut batch);
            if let Some(end) = end {
                break end;
            }
        };
        producer.join().unwrap();
        assert_eq!(end, End::Finish("done"));
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn take_returns_at_the_deadline_with_what_is_queued() {
        let (tx, mut rx) = inbox::<u32, ()>(100);
        tx.push(1).unwrap();
        let mut batch = Vec::new();
        let t = Instant::now();
        assert_eq!(rx.take(&mut batch, soon()), None);
        assert!(t.elapsed() >= Duration::from_millis(10));
        assert_eq!(batch, [1]);
    }

    #[test]
    fn half_full_and_close_wake_the_consumer_early() {
        let (tx, mut rx) = inbox::<u32, ()>(4);
        let far = Instant::now() + Duration::from_secs(60);
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        let mut batch = Vec::new();
        assert_eq!(rx.take(&mut batch, far), None);
        assert_eq!(batch, [1, 2]);
        batch.clear();
        tx.push(3).unwrap();
        drop(tx);
        assert_eq!(rx.take(&mut batch, far), Some(End::Dropped));
        assert_eq!(batch, [3]);
    }

    #[test]
    fn a_consumer_that_ends_releases_a_blocked_producer() {
        let (tx, rx) = inbox::<u32, ()>(2);
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        let consumer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(rx);
        });
        assert_eq!(tx.push(3), Err(3));
        assert_eq!(tx.push(4), Err(4));
        consumer.join().unwrap();
    }
}
