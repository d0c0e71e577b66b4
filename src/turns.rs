//! [`Turns`]: an async lock that serves its callers in the order they asked, for the database
//! that the application's calls and the sync engine share ([`crate::SharedDatabase`]).
//!
//! `futures::lock::Mutex` lets a caller that asks while the lock happens to be free take it ahead
//! of the callers already waiting (the one woken has not run yet). For a database that promises
//! that its operations run in call order, and that `close()` lets the calls made before it finish,
//! that is a reordering: a `close()` called between two writes' turns closed the database before
//! the writes waiting for their turn. Here a caller that finds the lock taken waits in line, and
//! the holder hands it to the next in line when it is done: nobody takes it in between.

use core::cell::{Cell, RefCell, RefMut};
use core::ops::{Deref, DerefMut};
use std::collections::VecDeque;

use futures::channel::oneshot;

/// A value behind an async lock served in order (see the module docs). Single-threaded.
pub struct Turns<T> {
    value: RefCell<T>,
    /// Whether a caller holds the lock (or it is being handed to the next one).
    held: Cell<bool>,
    /// The callers waiting, first first.
    line: RefCell<VecDeque<oneshot::Sender<()>>>,
}

/// The lock, held: gives the value; handing over happens when it is dropped.
pub struct TurnGuard<'a, T> {
    value: Option<RefMut<'a, T>>,
    turns: &'a Turns<T>,
}

impl<T> Turns<T> {
    /// A lock over `value`.
    pub fn new(value: T) -> Turns<T> {
        Turns { value: RefCell::new(value), held: Cell::new(false), line: RefCell::new(VecDeque::new()) }
    }

    /// Waits for this caller's turn: after every caller that asked before it.
    pub async fn lock(&self) -> TurnGuard<'_, T> {
        if self.held.replace(true) {
            let (tx, rx) = oneshot::channel();
            self.line.borrow_mut().push_back(tx);
            // Handed over if this future is dropped after its turn came and before it ran.
            let mut waiting = Waiting { rx, turns: self, served: false };
            waiting.wait().await;
        }
        TurnGuard { value: Some(self.value.borrow_mut()), turns: self }
    }

    /// The lock now if no one holds it or waits for it.
    pub fn try_lock(&self) -> Option<TurnGuard<'_, T>> {
        if self.held.replace(true) {
            return None;
        }
        Some(TurnGuard { value: Some(self.value.borrow_mut()), turns: self })
    }

    /// Gives the lock to the next caller in line still waiting, or frees it.
    fn hand_over(&self) {
        loop {
            let next = self.line.borrow_mut().pop_front();
            match next {
                // A caller that gave up waiting (its future dropped) is passed by.
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    self.held.set(false);
                    return;
                }
            }
        }
    }
}

/// A caller waiting in line.
struct Waiting<'a, T> {
    rx: oneshot::Receiver<()>,
    turns: &'a Turns<T>,
    /// Its turn came and it ran: the guard made next holds the lock.
    served: bool,
}

impl<T> Waiting<'_, T> {
    async fn wait(&mut self) {
        // The sender is only dropped unsent when the lock itself is gone.
        let _ = (&mut self.rx).await;
        self.served = true;
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        // Dropped before it ran: if its turn had come, it passes it on.
        if !self.served && matches!(self.rx.try_recv(), Ok(Some(()))) {
            self.turns.hand_over();
        }
    }
}

impl<T> Deref for TurnGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_ref().expect("held until dropped")
    }
}

impl<T> DerefMut for TurnGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("held until dropped")
    }
}

impl<T> Drop for TurnGuard<'_, T> {
    fn drop(&mut self) {
        // The borrow ends before the next caller takes it.
        drop(self.value.take());
        self.turns.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use core::future::Future;
    use std::rc::Rc;

    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;

    use super::*;

    /// Callers get their turns in the order they asked, even one that asks the moment the lock
    /// is released (before the next in line has run).
    #[test]
    fn turns_follow_the_order_of_asking() {
        let mut pool = LocalPool::new();
        let spawner = pool.spawner();
        let lock = Rc::new(Turns::new(Vec::new()));
        let first = lock.try_lock().expect("free");
        for n in 0..4 {
            let lock = Rc::clone(&lock);
            spawner.spawn_local(async move { lock.lock().await.push(n) }).unwrap();
        }
        pool.run_until_stalled();
        // Released, and asked for again at once, before anyone in line ran.
        drop(first);
        assert!(lock.try_lock().is_none(), "handed to the first in line, not free");
        let late = Rc::clone(&lock);
        spawner.spawn_local(async move { late.lock().await.push(9) }).unwrap();
        pool.run_until_stalled();
        assert_eq!(*lock.try_lock().expect("free again"), [0, 1, 2, 3, 9]);
    }

    /// A caller that gives up waiting, before or after its turn came, does not stop the line.
    #[test]
    fn a_caller_that_gives_up_passes_its_turn_on() {
        let lock = Turns::new(0);
        let held = lock.try_lock().expect("free");
        let mut gave_up = Box::pin(lock.lock());
        let waker = futures::task::noop_waker();
        let mut cx = core::task::Context::from_waker(&waker);
        assert!(gave_up.as_mut().poll(&mut cx).is_pending());
        drop(held);
        // Its turn came; it is dropped without running.
        drop(gave_up);
        let mut guard = lock.try_lock().expect("passed on and freed");
        *guard += 1;
        drop(guard);
        // One asked for and dropped without being polled never stood in line.
        drop(lock.lock());
        assert!(lock.try_lock().is_some());
    }
}
