//! SQLite's write transactions through rusqlite, on the task's own thread. This process has one
//! writer at a time anyway (SQLite has one), so the connection lives behind the write turn
//! itself: whoever holds the turn runs its statements straight on it, each one a few
//! microseconds of SQLite's own work, with no hand-off to a driver's worker thread and back
//! (those hand-offs, a dozen per invitation, were most of a write's cost: docs/BENCHMARKS.md,
//! issue 16). The statements are the store's own, as for PostgreSQL; only the driver differs.
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
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::Duration,
};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, MutexGuard};

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
/// Commits between two checkpoints the writer asks for (each adds a few pages to the WAL, so
/// the WAL stays within SQLite's usual 1,000 pages).
const CHECKPOINT_EVERY: u64 = 100;
/// How often the checkpoint thread runs one unasked (for writes made outside the writer).
const CHECKPOINT_TICK: Duration = Duration::from_secs(1);

/// The one writing connection to a SQLite file, opened on first use.
pub struct SqliteWriter {
    path: PathBuf,
    full_sync: bool,
    conn: Mutex<Option<Connection>>,
    commits: AtomicU64,
    /// Wakes the checkpoint thread (capacity one: a waiting wake-up is enough).
    checkpoint: mpsc::SyncSender<()>,
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
            conn: Mutex::new(None),
            commits: AtomicU64::new(0),
            checkpoint,
        })
    }

    /// Waits for the write turn (behind the writers that asked before: tokio's mutex is fair)
    /// and begins a transaction that holds the database's write lock from the start.
    pub async fn begin(&self) -> StoreResult<WriteTx<'_>> {
        let mut turn = self.conn.lock().await;
        if turn.is_none() {
            *turn = Some(self.open().map_err(sqlite_read::failure)?);
        }
        let mut tx = WriteTx {
            turn,
            open: false,
            writer: self,
        };
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let began = tx.conn()?.execute_batch("BEGIN IMMEDIATE");
            match began {
                Ok(()) => break,
                Err(e) if is_busy(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(sqlite_read::failure(e)),
            }
        }
        tx.open = true;
        Ok(tx)
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

/// A write transaction on the writer: it holds the turn until it ends, and rolls back when
/// dropped uncommitted (an error, or a request abandoned mid-way).
pub struct WriteTx<'s> {
    turn: MutexGuard<'s, Option<Connection>>,
    open: bool,
    writer: &'s SqliteWriter,
}

impl WriteTx<'_> {
    fn conn(&self) -> StoreResult<&Connection> {
        self.turn
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the SQLite writer is closed".into()))
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

    /// Makes the transaction durable (`synchronous` as configured). With `FULL` the commit
    /// waits for the disk, so on a multi-threaded runtime the thread is marked as blocking
    /// for that long (the runtime moves its other tasks elsewhere meanwhile).
    pub fn commit(mut self) -> StoreResult<()> {
        let conn = self.conn()?;
        let commit = || conn.execute_batch("COMMIT");
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let committed = if self.writer.full_sync && multi_threaded {
            tokio::task::block_in_place(commit)
        } else {
            commit()
        };
        // A failed COMMIT may leave the transaction open; the drop rolls it back.
        committed.map_err(sqlite_read::failure)?;
        self.open = false;
        if self.writer.commits.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == 0 {
            // Full means a wake-up is already waiting.
            let _ = self.writer.checkpoint.try_send(());
        }
        Ok(())
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let rolled_back = self
            .turn
            .as_ref()
            .map(|c| c.is_autocommit() || c.execute_batch("ROLLBACK").is_ok());
        if rolled_back != Some(true) {
            // A connection in an unknown state is closed; the next write opens another.
            tracing::warn!("the SQLite writer could not roll back; reopening it");
            *self.turn = None;
        }
    }
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
        tx.commit().expect("commit");
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
            tx.commit()
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
            tx.commit().expect("commit");
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
}
