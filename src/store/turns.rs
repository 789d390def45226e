//! Turns: in-process FIFO queues, one per (lane, workspace), that a write waits in before it
//! takes a pool connection, so one workspace's writers hold at most one connection per lane.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as SyncMutex},
};

use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};
use uuid::Uuid;

/// Which queue of a workspace a write joins. Writes of one lane contend for the same rows;
/// writes of different lanes do not, so they need not wait for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Lane {
    /// Writes that lock the workspace row (members, invitations, the workspace itself).
    Workspace,
    /// Usage batches, which contend on the monthly counter's row.
    Usage,
}

type Key = (Lane, Uuid);

/// The queues of this process. A queue exists while someone holds or waits for it.
#[derive(Default)]
pub(super) struct Turns {
    queues: SyncMutex<HashMap<Key, Arc<Mutex<()>>>>,
}

impl Turns {
    /// Waits for the turn of `workspace_id` in `lane`, behind the writes that asked before
    /// (tokio's mutex is fair: first come, first served).
    pub(super) async fn take(&self, lane: Lane, workspace_id: Uuid) -> WorkspaceTurn<'_> {
        let key = (lane, workspace_id);
        let queue = Arc::clone(self.lock().entry(key).or_default());
        let guard = queue.lock_owned().await;
        WorkspaceTurn {
            turns: self,
            key,
            guard: Some(guard),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Mutex<()>>>> {
        // The map is never left half-changed, so a poisoned lock is still sound.
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A held turn; the next waiter of its queue goes when it drops.
pub(super) struct WorkspaceTurn<'t> {
    turns: &'t Turns,
    key: Key,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for WorkspaceTurn<'_> {
    fn drop(&mut self) {
        self.guard = None;
        let mut queues = self.turns.lock();
        // Clones of a queue are only made under the map's lock, so a count of one (the map's
        // own) means nobody holds or awaits it: the queue can go.
        if queues
            .get(&self.key)
            .is_some_and(|q| Arc::strong_count(q) == 1)
        {
            queues.remove(&self.key);
        }
    }
}

/// The turn a write transaction holds until it ends (held for its drop alone).
pub(super) enum Turn<'s> {
    /// SQLite: this process's one writer.
    Writer(#[expect(dead_code, reason = "held until the transaction ends")] MutexGuard<'s, ()>),
    /// PostgreSQL: one workspace's queue of one lane.
    Workspace(#[expect(dead_code, reason = "held until the transaction ends")] WorkspaceTurn<'s>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_turn_is_taken_in_order_and_its_queue_goes_when_nobody_needs_it() {
        let turns = Arc::new(Turns::default());
        let ws = Uuid::now_v7();
        let first = turns.take(Lane::Workspace, ws).await;
        // Another lane and another workspace do not wait.
        let other_lane = turns.take(Lane::Usage, ws).await;
        let other_ws = turns.take(Lane::Workspace, Uuid::now_v7()).await;
        assert_eq!(turns.len(), 3);
        drop((other_lane, other_ws));
        assert_eq!(turns.len(), 1);

        let (sender, mut order) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for n in 0..3 {
            let (mine, sender) = (Arc::clone(&turns), sender.clone());
            waiters.push(tokio::spawn(async move {
                let _turn = mine.take(Lane::Workspace, ws).await;
                sender.send(n).expect("send");
            }));
            // Each waiter queues before the next one asks (the map, `first` and the waiters
            // hold the queue).
            let queued = || {
                turns
                    .lock()
                    .get(&(Lane::Workspace, ws))
                    .map_or(0, Arc::strong_count)
            };
            for _ in 0..5_000 {
                if queued() == n + 3 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            assert_eq!(queued(), n + 3, "waiter {n} queued");
        }
        assert!(
            order.try_recv().is_err(),
            "nobody goes while the turn is held"
        );
        drop(first);
        for w in waiters {
            w.await.expect("waiter");
        }
        let got: Vec<usize> = std::iter::from_fn(|| order.try_recv().ok()).collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(turns.len(), 0);
    }
}
