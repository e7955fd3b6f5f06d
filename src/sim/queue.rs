//! The global event queue: a binary heap on (cycle, event).
//!
//! Lifecycle (as in gem5's EventQueue): **build** the queue, **connect** components by giving them the
//! right to schedule (they call [`EventQueue::schedule`], never touch the heap), **run** by popping events
//! in time order (time moves only when an event is popped), **finalize** when the queue is empty. Ties at
//! the same cycle pop in the events' own order (`E: Ord`), not in the order they were scheduled: the
//! order of a tie then never depends on when a component happened to schedule its event (in the chip,
//! on how arrays were batched over threads). The queue knows nothing about physics: it orders values of
//! any closed event `enum`.

use super::time::Cycle;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A time-ordered queue of events of type `E`.
#[derive(Debug)]
pub struct EventQueue<E: Ord> {
    now: Cycle,
    heap: BinaryHeap<Reverse<(Cycle, E)>>,
}

impl<E: Ord> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Ord> EventQueue<E> {
    /// An empty queue at cycle 0.
    pub fn new() -> Self {
        Self {
            now: Cycle::ZERO,
            heap: BinaryHeap::new(),
        }
    }

    /// The current time: the cycle of the last popped event.
    pub fn now(&self) -> Cycle {
        self.now
    }

    /// Schedules `event` at cycle `at`.
    ///
    /// # Panics
    /// If `at` is before [`EventQueue::now`]: an event in the past is a simulator bug, not a user error.
    pub fn schedule(&mut self, at: Cycle, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: at {at}, now {}",
            self.now
        );
        self.heap.push(Reverse((at, event)));
    }

    /// The next event and its cycle, without removing it or moving time.
    pub fn peek(&self) -> Option<(Cycle, &E)> {
        self.heap.peek().map(|Reverse((at, event))| (*at, event))
    }

    /// Removes the next event (earliest cycle, then smallest event) and moves time to it.
    pub fn pop(&mut self) -> Option<(Cycle, E)> {
        let Reverse((at, event)) = self.heap.pop()?;
        self.now = at;
        Some((at, event))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_order_and_ties_in_event_order_whatever_the_scheduling_order() {
        let mut q = EventQueue::new();
        q.schedule(Cycle(5), 'c');
        q.schedule(Cycle(2), 'd');
        q.schedule(Cycle(5), 'a');
        q.schedule(Cycle(2), 'b');
        assert_eq!(q.peek(), Some((Cycle(2), &'b')));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![(Cycle(2), 'b'), (Cycle(2), 'd'), (Cycle(5), 'a'), (Cycle(5), 'c')]
        );
        assert_eq!(q.now(), Cycle(5));
        assert!(q.is_empty());
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_is_refused() {
        let mut q = EventQueue::new();
        q.schedule(Cycle(3), ());
        q.pop();
        q.schedule(Cycle(2), ());
    }
}
