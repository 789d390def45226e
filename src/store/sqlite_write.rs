//! SQLite's write transactions through rusqlite, on the task's own thread. This process has one
//! writer at a time anyway (SQLite has one), so the connection lives behind the write turn
//! itself: whoever holds the turn runs its statements straight on it, each one a few
//! microseconds of SQLite's own work, with no hand-off to a driver's worker thread and back
//! (those hand-offs, a dozen per invitation, were most of a write's cost: docs/BENCHMARKS.md,
//! issue 16). The statements are the store's own, as for PostgreSQL; only the driver differs.
//!
//! Group commit: writers that queue for the turn share one SQLite transaction, each in a
//! savepoint of its own (see [`Batch`]). A writer's answer waits for the `COMMIT` that holds its
//! work, so nothing is acknowledged before it is durable, and a writer that fails rolls back to
//! its savepoint alone; what the batching saves is a `BEGIN` and a `COMMIT` (the WAL frames of
//! the pages every write touches: indexes, the audit chain head, the outbox) per writer.
//!
//! Waiting is kept off the runtime's threads: the turn is an async mutex, and a `BEGIN
//! IMMEDIATE` that finds another process's writer is retried after an async sleep rather than
//! in SQLite's blocking busy handler. Checkpoints (copying the WAL back into the database file)
//! are kept off the write turn too: no connection checkpoints as it commits
//! (`wal_autocheckpoint = 0`); a thread of their own runs a passive checkpoint, which never
//! stops a writer, every [`CHECKPOINT_EVERY`] commits and at least once a second.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    time::Duration,
};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{watch, Mutex, MutexGuard};

use super::{
    db::Arg,
    sqlite_read::{self, ReadRow},
    StoreError, StoreResult,
};

/// Prepared statements the writer keeps: every statement of the write paths, and then some.
const STATEMENT_CACHE: usize = 128;
/// How long a write waits for another process's writer before the store is `Unavailable`
/// (the pool's busy timeout).
const BUSY_WAIT: Duration = Duration::from_secs(5);
/// Batches committed between two checkpoints the writer asks for (each adds a few pages to the
/// WAL, so the WAL stays within SQLite's usual 1,000 pages).
const CHECKPOINT_EVERY: u64 = 100;
/// How often the checkpoint thread runs one unasked (for writes made outside the writer).
const CHECKPOINT_TICK: Duration = Duration::from_secs(1);
/// The most transactions one commit holds: the first of them waits for all the others.
const MAX_BATCH: usize = 16;
/// How long a writer whose savepoint joined a batch waits for the batch's commit before it
/// takes the turn again to commit the batch itself (when the writer it was left open for was
/// abandoned before its turn).
const BATCH_WAIT: Duration = Duration::from_millis(20);

/// The one writing connection to a SQLite file, opened on first use.
pub struct SqliteWriter {
    path: PathBuf,
    full_sync: bool,
    turn: Mutex<Turn>,
    /// Writers waiting for the turn: while there are any, a finished transaction leaves its
    /// batch open for them.
    waiting: AtomicUsize,
    batches: AtomicU64,
    /// Wakes the checkpoint thread (capacity one: a waiting wake-up is enough).
    checkpoint: mpsc::SyncSender<()>,
}

/// What the write turn guards: the connection and the batch open on it.
#[derive(Default)]
struct Turn {
    conn: Option<Connection>,
    batch: Option<Batch>,
}

/// Group commit: one SQLite transaction holding the work of several writers, each in a
/// savepoint of its own. A writer's savepoint is released when it commits, and it waits for the
/// batch's `COMMIT` for its answer; the writer that finds nobody waiting behind it (or the batch
/// full) commits the batch and tells every writer in it. A writer that fails rolls back to its
/// savepoint, so its work leaves the batch and the others' stays.
struct Batch {
    id: u64,
    /// Transactions released into the batch, waiting for its commit.
    members: usize,
    done: watch::Sender<Option<Result<(), String>>>,
}

/// Counts a writer as waiting for the turn until it is dropped (when it has the turn, or when
/// the request waiting for it was abandoned).
struct Waiting<'w>(&'w AtomicUsize);

impl<'w> Waiting<'w> {
    fn new(count: &'w AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SqliteWriter {
    /// The writer of `path`, and its checkpoint thread (which ends when the writer is dropped).
    pub fn new(path: PathBuf, full_sync: bool) -> std::io::Result<Self> {
        let (checkpoint, wakes) = mpsc::sync_channel(1);
        let file = path.clone();
        std::thread::Builder::new()
            .name("roster-checkpoint".into())
            .spawn(move || checkpoints(&file, &wakes))?;
        Ok(SqliteWriter {
            path,
            full_sync,
            turn: Mutex::new(Turn::default()),
            waiting: AtomicUsize::new(0),
            batches: AtomicU64::new(0),
            checkpoint,
        })
    }

    /// Waits for the write turn (behind the writers that asked before: tokio's mutex is fair),
    /// joins the open batch or begins one with a transaction that holds the database's write
    /// lock from the start, and opens this writer's savepoint in it.
    pub async fn begin(&self) -> StoreResult<WriteTx<'_>> {
        let waiting = Waiting::new(&self.waiting);
        let mut turn = self.turn.lock().await;
        drop(waiting);
        if turn.conn.is_none() {
            turn.conn = Some(self.open().map_err(sqlite_read::failure)?);
        }
        if turn.batch.is_some() && turn.conn.as_ref().is_some_and(Connection::is_autocommit) {
            // SQLite ended the batch's transaction itself (an I/O error rolls all of it back).
            self.settle(
                &mut turn,
                Err("the batch's transaction was rolled back".into()),
            );
        }
        if turn.batch.is_none() {
            self.begin_batch(&mut turn).await?;
        }
        let mut tx = WriteTx {
            turn: Some(turn),
            open: false,
            writer: self,
        };
        tx.conn()?
            .execute_batch("SAVEPOINT roster_write")
            .map_err(sqlite_read::failure)?;
        tx.open = true;
        Ok(tx)
    }

    /// `BEGIN IMMEDIATE`, retried after an async sleep while another process writes.
    async fn begin_batch(&self, turn: &mut MutexGuard<'_, Turn>) -> StoreResult<()> {
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let conn = turn.conn.as_ref().ok_or_else(closed)?;
            match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break,
                Err(e) if is_busy(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(sqlite_read::failure(e)),
            }
        }
        turn.batch = Some(Batch {
            id: self.batches.fetch_add(1, Ordering::Relaxed),
            members: 0,
            done: watch::channel(None).0,
        });
        Ok(())
    }

    /// Commits the open batch (durable per `synchronous`) and tells its members; the result.
    fn commit_batch(&self, turn: &mut Turn) -> Result<(), String> {
        let Some(conn) = turn.conn.as_ref() else {
            return Err("the SQLite writer is closed".into());
        };
        let commit = || conn.execute_batch("COMMIT");
        // With FULL the commit waits for the disk, so on a multi-threaded runtime the thread
        // is marked as blocking for that long (the runtime moves its other tasks elsewhere).
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let committed = if self.full_sync && multi_threaded {
            tokio::task::block_in_place(commit)
        } else {
            commit()
        };
        // A failed COMMIT may leave the transaction open: roll it back, or close the
        // connection if even that fails (the next write opens another).
        let result = committed.map_err(|e| e.to_string());
        if result.is_err() && !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            turn.conn = None;
        }
        self.settle(turn, result.clone());
        if self.batches.load(Ordering::Relaxed) % CHECKPOINT_EVERY == 0 {
            // Full means a wake-up is already waiting.
            let _ = self.checkpoint.try_send(());
        }
        result
    }

    /// Ends the open batch with `result`, told to each of its members.
    fn settle(&self, turn: &mut Turn, result: Result<(), String>) {
        if let Some(batch) = turn.batch.take() {
            batch.done.send_replace(Some(result));
        }
    }

    /// After a writer left the turn without committing the batch: commits it unless a writer
    /// is waiting to join it (an empty batch is rolled back instead).
    fn end_unless_awaited(&self, turn: &mut Turn) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return;
        }
        match turn.batch.as_ref().map(|b| b.members) {
            None => {}
            Some(0) => {
                let rolled_back = turn
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.is_autocommit() || c.execute_batch("ROLLBACK").is_ok());
                if !rolled_back {
                    turn.conn = None;
                }
                turn.batch = None;
            }
            Some(_) => {
                let _ = self.commit_batch(turn);
            }
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The pool's connections set the file to WAL before this one opens; the rest is per
        // connection, as the pool sets it (`SqliteBackend::connect`). No busy timeout: `begin`
        // waits for another process's writer without holding a thread.
        let synchronous = if self.full_sync { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
             PRAGMA foreign_keys = ON; PRAGMA cache_size = -2048; \
             PRAGMA wal_autocheckpoint = 0;"
        ))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// The checkpoint thread: a passive checkpoint on each wake-up and at least every tick, on a
/// connection of its own; a failed one (another process checkpointing, say) waits for the next.
fn checkpoints(path: &Path, wakes: &mpsc::Receiver<()>) {
    let mut conn: Option<Connection> = None;
    while !matches!(
        wakes.recv_timeout(CHECKPOINT_TICK),
        Err(mpsc::RecvTimeoutError::Disconnected)
    ) {
        if conn.is_none() {
            conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok();
        }
        if let Some(c) = &conn {
            let done = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            if let Err(e) = done {
                if !is_busy(&e) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; reopening its connection");
                    conn = None;
                }
            }
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DatabaseBusy | DatabaseLocked))
}

/// A write transaction on the writer: a savepoint in the open batch. It holds the turn until
/// it commits, and rolls back to its savepoint when dropped uncommitted (an error, or a request
/// abandoned mid-way).
pub struct WriteTx<'s> {
    turn: Option<MutexGuard<'s, Turn>>,
    open: bool,
    writer: &'s SqliteWriter,
}

impl WriteTx<'_> {
    fn conn(&self) -> StoreResult<&Connection> {
        self.turn
            .as_ref()
            .and_then(|t| t.conn.as_ref())
            .ok_or_else(closed)
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let conn = self.conn()?;
        let run = || {
            let mut stmt = conn.prepare_cached(sql)?;
            sqlite_read::bind(&mut stmt, args)?;
            stmt.raw_execute()
        };
        Ok(run().map_err(sqlite_read::failure)? as u64)
    }

    /// Runs a statement and decodes every row it returns.
    pub fn rows<T: ReadRow>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        sqlite_read::run(self.conn()?, sql, args).map_err(sqlite_read::failure)
    }

    /// Makes the transaction durable (`synchronous` as configured): its savepoint joins the
    /// batch, and the answer comes once the batch has committed. When another writer waits for
    /// the turn (and the batch is not full) the batch is left open for it and this one waits;
    /// otherwise this one commits the batch.
    pub async fn commit(mut self) -> StoreResult<()> {
        self.conn()?
            .execute_batch("RELEASE roster_write")
            .map_err(sqlite_read::failure)?;
        self.open = false;
        let writer = self.writer;
        let mut turn = self.turn.take().ok_or_else(closed)?;
        let Some(batch) = turn.batch.as_mut() else {
            return Err(StoreError::Unavailable("the write batch was lost".into()));
        };
        batch.members += 1;
        if batch.members >= MAX_BATCH || writer.waiting.load(Ordering::SeqCst) == 0 {
            return writer.commit_batch(&mut turn).map_err(batch_failed);
        }
        let (id, mut done) = (batch.id, batch.done.subscribe());
        drop(turn);
        let timed_out = tokio::time::timeout(BATCH_WAIT, done.wait_for(Option::is_some))
            .await
            .is_err();
        if timed_out {
            // Nobody took the turn after all (the writer that waited was abandoned): commit
            // the batch here, unless someone has since.
            let mut turn = writer.turn.lock().await;
            if turn.batch.as_ref().is_some_and(|b| b.id == id) {
                writer.commit_batch(&mut turn).map_err(batch_failed)?;
            }
        }
        let result = done
            .wait_for(Option::is_some)
            .await
            .map(|told| (*told).clone().unwrap_or(Ok(())));
        match result {
            Ok(outcome) => outcome.map_err(batch_failed),
            Err(_) => Err(StoreError::Unavailable("the write batch was lost".into())),
        }
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        let Some(mut turn) = self.turn.take() else {
            return;
        };
        if self.open {
            let rolled_back = turn.conn.as_ref().is_some_and(|c| {
                !c.is_autocommit()
                    && c.execute_batch("ROLLBACK TO roster_write; RELEASE roster_write")
                        .is_ok()
            });
            if !rolled_back {
                // A connection in an unknown state is closed (its batch with it); the next
                // write opens another.
                tracing::warn!("the SQLite writer could not roll back; reopening it");
                writer_reset(self.writer, &mut turn);
                return;
            }
        }
        self.writer.end_unless_awaited(&mut turn);
    }
}

/// Closes the writer's connection, failing the batch open on it.
fn writer_reset(writer: &SqliteWriter, turn: &mut Turn) {
    if let Some(conn) = turn.conn.take() {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    writer.settle(turn, Err("the SQLite writer was reset".into()));
}

fn closed() -> StoreError {
    StoreError::Unavailable("the SQLite writer is closed".into())
}

/// A batch's failed `COMMIT`, as each of its writers reports it.
fn batch_failed(e: String) -> StoreError {
    StoreError::Unavailable(format!("SQLite could not commit: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        )
        .expect("schema");
        (dir, path)
    }

    fn count(path: &PathBuf) -> i64 {
        let conn = Connection::open(path).expect("open");
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[tokio::test]
    async fn a_transaction_dropped_uncommitted_leaves_nothing_and_the_writer_goes_on() {
        let (_dir, path) = new_file();
        let writer = SqliteWriter::new(path.clone(), false).expect("writer");
        let tx = writer.begin().await.expect("begin");
        let changed = tx
            .execute(
                "INSERT INTO t (id, v) VALUES ($1, $2)",
                &[1_i64.into(), "a".into()],
            )
            .expect("insert");
        assert_eq!(changed, 1);
        drop(tx);
        assert_eq!(count(&path), 0, "the drop rolled the insert back");

        let tx = writer.begin().await.expect("begin again");
        tx.execute(
            "INSERT INTO t (id, v) VALUES ($1, $2)",
            &[2_i64.into(), "b".into()],
        )
        .expect("insert");
        let rows: Vec<(i64, String)> = tx
            .rows("SELECT id, v FROM t WHERE id = $1", &[2_i64.into()])
            .expect("read in the transaction");
        assert_eq!(rows, vec![(2, "b".to_owned())]);
        tx.commit().await.expect("commit");
        assert_eq!(count(&path), 1);
    }

    #[tokio::test]
    async fn a_failed_statement_is_reported_and_the_transaction_rolls_back_whole() {
        let (_dir, path) = new_file();
        let writer = SqliteWriter::new(path.clone(), true).expect("writer");
        let tx = writer.begin().await.expect("begin");
        tx.execute(
            "INSERT INTO t (id, v) VALUES ($1, $2)",
            &[1_i64.into(), "a".into()],
        )
        .expect("insert");
        let refused = tx.execute("INSERT INTO t (id, v) VALUES ($1, NULL)", &[3_i64.into()]);
        assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");
        let missing = tx.execute("INSERT INTO t (id, v) VALUES ($1, $2)", &[4_i64.into()]);
        assert!(missing.is_err(), "a missing argument is an error, not NULL");
        drop(tx);
        assert_eq!(count(&path), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_for_another_processes_writer_without_holding_a_thread() {
        let (_dir, path) = new_file();
        let other = Connection::open(&path).expect("open");
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t (id, v) VALUES (1, 'other');")
            .expect("the other writer");
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            released.recv().expect("release");
            other.execute_batch("COMMIT").expect("commit");
        });
        let writer = SqliteWriter::new(path.clone(), false).expect("writer");
        let waiting = tokio::spawn(async move {
            let tx = writer.begin().await?;
            tx.execute(
                "INSERT INTO t (id, v) VALUES ($1, $2)",
                &[2_i64.into(), "mine".into()],
            )?;
            tx.commit().await
        });
        // The runtime still runs other tasks while the write waits.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!waiting.is_finished(), "the write waits for the lock");
        release.send(()).expect("send");
        holder.join().expect("holder");
        waiting
            .await
            .expect("task")
            .expect("the write went through once the lock was free");
        assert_eq!(count(&path), 2);
    }

    #[tokio::test]
    async fn the_checkpoint_thread_copies_the_writers_commits_into_the_database_file() {
        let (_dir, path) = new_file();
        let writer = SqliteWriter::new(path.clone(), false).expect("writer");
        let page = "x".repeat(4096);
        for id in 0..(3 * CHECKPOINT_EVERY as i64) {
            let tx = writer.begin().await.expect("begin");
            tx.execute(
                "INSERT INTO t (id, v) VALUES ($1, $2)",
                &[id.into(), page.as_str().into()],
            )
            .expect("insert");
            tx.commit().await.expect("commit");
        }
        // No connection checkpoints as it commits, so the file grows only by the thread's work.
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        for _ in 0..50 {
            if size() > 1_000_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            size() > 1_000_000,
            "the file holds the rows: {} bytes",
            size()
        );
        assert_eq!(count(&path), 3 * CHECKPOINT_EVERY as i64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_writers_at_once_each_get_their_own_answer_and_only_their_committed_work_stays() {
        let (_dir, path) = new_file();
        let writer = std::sync::Arc::new(SqliteWriter::new(path.clone(), false).expect("writer"));
        let tasks: Vec<_> = (0..300_i64)
            .map(|id| {
                let writer = std::sync::Arc::clone(&writer);
                tokio::spawn(async move {
                    let tx = writer.begin().await?;
                    tx.execute(
                        "INSERT INTO t (id, v) VALUES ($1, $2)",
                        &[id.into(), "row".into()],
                    )?;
                    match id % 6 {
                        // A refused statement: the writer gives up, its first insert with it.
                        0 => {
                            tx.execute(
                                "INSERT INTO t (id, v) VALUES ($1, NULL)",
                                &[(id + 10_000).into()],
                            )?;
                            tx.commit().await
                        }
                        // Abandoned before committing.
                        1 => Err(StoreError::NotFound),
                        _ => tx.commit().await,
                    }
                })
            })
            .collect();
        let mut committed = Vec::new();
        for (id, task) in (0..).zip(tasks) {
            let answer = task.await.expect("task");
            match id % 6 {
                0 => assert!(
                    matches!(answer, Err(StoreError::Other(_))),
                    "{id}: {answer:?}"
                ),
                1 => assert!(
                    matches!(answer, Err(StoreError::NotFound)),
                    "{id}: {answer:?}"
                ),
                _ => {
                    answer.unwrap_or_else(|e| panic!("{id} committed: {e:?}"));
                    committed.push(id);
                }
            }
        }
        let conn = Connection::open(&path).expect("open");
        let mut stmt = conn
            .prepare("SELECT id FROM t ORDER BY id")
            .expect("prepare");
        let stored: Vec<i64> = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            stored, committed,
            "exactly the acknowledged writes are in the file"
        );
        let batches = writer.batches.load(Ordering::Relaxed);
        assert!((1..=300).contains(&batches), "{batches} batches");
    }

    #[tokio::test]
    async fn a_batch_left_open_for_a_writer_that_was_abandoned_still_commits() {
        let (_dir, path) = new_file();
        let writer = std::sync::Arc::new(SqliteWriter::new(path.clone(), false).expect("writer"));
        let first = writer.begin().await.expect("begin");
        first
            .execute(
                "INSERT INTO t (id, v) VALUES ($1, $2)",
                &[1_i64.into(), "a".into()],
            )
            .expect("insert");
        let behind = {
            let writer = std::sync::Arc::clone(&writer);
            tokio::spawn(async move {
                let tx = writer.begin().await.expect("begin behind");
                tx.execute(
                    "INSERT INTO t (id, v) VALUES ($1, $2)",
                    &[2_i64.into(), "b".into()],
                )
                .expect("insert behind");
                std::future::pending::<()>().await;
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            writer.waiting.load(Ordering::SeqCst),
            1,
            "a writer waits for the turn"
        );
        // The first commits while the other waits, so it leaves the batch open for it; the
        // other is abandoned before (or after) it takes the turn.
        behind.abort();
        tokio::time::timeout(Duration::from_secs(5), first.commit())
            .await
            .expect("the commit is answered")
            .expect("committed");
        assert_eq!(
            count(&path),
            1,
            "the first row is in the file and the abandoned one not"
        );
        let tx = writer.begin().await.expect("the writer goes on");
        tx.execute(
            "INSERT INTO t (id, v) VALUES ($1, $2)",
            &[3_i64.into(), "c".into()],
        )
        .expect("insert");
        tx.commit().await.expect("commit");
        assert_eq!(count(&path), 2);
    }
}
