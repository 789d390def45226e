//! `Db`, a connection to either backend (the pool, or a write transaction's connection), and
//! `Tx`, a write transaction. Every statement of the store runs through the four methods here,
//! which bind `Arg`s for the backend at hand and count the statement.

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use sqlx::{
    error::BoxDynError,
    postgres::{PgArguments, PgRow},
    sqlite::{SqliteArguments, SqliteRow},
    Arguments, Encode, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction, Type,
};
use uuid::Uuid;

use super::{
    backend::Backend,
    sqlite_read::{ReadRow, SqliteReader},
    sqlite_write::{SqliteWriter, WriteTx},
    ts::Ts,
    turns::Turn,
    Stats, StoreError, StoreResult,
};

/// A value bound to a statement: the types both backends store alike, each nullable.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Uuid(Option<Uuid>),
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Bytes(Option<&'a [u8]>),
    Ts(Option<Ts>),
    /// An array of text (PostgreSQL only: `Backend::hourly_upsert` binds columns as arrays).
    TextArray(Vec<&'a str>),
    /// An array of integers (PostgreSQL only).
    IntArray(Vec<i64>),
}

macro_rules! arg_from {
    ($($t:ty => $variant:ident $(($conv:expr))?),* $(,)?) => {
        $(impl<'a> From<$t> for Arg<'a> {
            fn from(v: $t) -> Self {
                Arg::$variant(arg_from!(@conv v $(, $conv)?))
            }
        })*
    };
    (@conv $v:ident) => { Some($v) };
    (@conv $v:ident, $conv:expr) => { $conv($v) };
}

arg_from! {
    Uuid => Uuid,
    Option<Uuid> => Uuid (|v| v),
    &'a str => Text,
    &'a String => Text (|v: &'a String| Some(v.as_str())),
    Option<&'a str> => Text (|v| v),
    &'a Option<String> => Text (|v: &'a Option<String>| v.as_deref()),
    i64 => Int,
    Option<i64> => Int (|v| v),
    bool => Bool,
    Option<bool> => Bool (|v| v),
    &'a [u8] => Bytes,
    &'a Vec<u8> => Bytes (|v: &'a Vec<u8>| Some(v.as_slice())),
    Ts => Ts,
    DateTime<Utc> => Ts (|v| Some(Ts(v))),
    Option<DateTime<Utc>> => Ts (|v: Option<DateTime<Utc>>| v.map(Ts)),
}

/// Adds one scalar argument to a backend's argument list; `Err(arg)` hands an array back.
fn add_scalar<'q, DB, A>(out: &mut A, arg: &Arg<'q>) -> Result<Result<(), BoxDynError>, ()>
where
    DB: sqlx::Database,
    A: Arguments<'q, Database = DB>,
    Option<Uuid>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    Option<Ts>: Encode<'q, DB> + Type<DB>,
{
    Ok(match arg {
        Arg::Uuid(v) => out.add(*v),
        Arg::Text(v) => out.add(*v),
        Arg::Int(v) => out.add(*v),
        Arg::Bool(v) => out.add(*v),
        Arg::Bytes(v) => out.add(*v),
        Arg::Ts(v) => out.add(*v),
        Arg::TextArray(_) | Arg::IntArray(_) => return Err(()),
    })
}

fn bind_failed(e: BoxDynError) -> anyhow::Error {
    anyhow::anyhow!("binding an argument: {e}")
}

fn sqlite_args<'q>(args: &[Arg<'q>]) -> StoreResult<SqliteArguments<'q>> {
    let mut out = SqliteArguments::default();
    for arg in args {
        add_scalar(&mut out, arg)
            .unwrap_or_else(|()| Err("SQLite binds no arrays".into()))
            .map_err(bind_failed)?;
    }
    Ok(out)
}

fn pg_args<'q>(args: &[Arg<'q>]) -> StoreResult<PgArguments> {
    let mut out = PgArguments::default();
    for arg in args {
        let added = add_scalar(&mut out, arg).unwrap_or_else(|()| match arg {
            Arg::TextArray(v) => out.add(v.as_slice()),
            Arg::IntArray(v) => out.add(v.as_slice()),
            _ => Ok(()),
        });
        added.map_err(bind_failed)?;
    }
    Ok(out)
}

/// A row shape both backends can decode.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// Where statements run.
pub(super) enum Conn<'s> {
    SqlitePool(&'s SqlitePool),
    PgPool(&'s PgPool),
    /// A write transaction on a SQLite file: rusqlite, on this thread (`sqlite_write`).
    SqliteWrite(WriteTx<'s>),
    /// A write transaction on an in-memory SQLite database, through sqlx.
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

/// Runs one statement on whichever connection `$conn` is, with its arguments bound for that
/// backend: `$build` makes the statement from `(sql, args)`, `$run` runs it on the executor,
/// and `$then` turns the backend's answer into a common one; on the SQLite writer, `$write`
/// runs it.
macro_rules! on_conn {
    ($conn:expr, $sql:expr, $args:expr, $build:ident, $run:ident, $then:expr, $write:expr) => {
        match $conn {
            Conn::SqliteWrite(tx) => $write(tx),
            Conn::SqlitePool(pool) => sqlx::$build($sql, sqlite_args($args)?)
                .$run(*pool)
                .await
                .map($then)
                .map_err(StoreError::from),
            Conn::Sqlite(tx) => sqlx::$build($sql, sqlite_args($args)?)
                .$run(&mut **tx)
                .await
                .map($then)
                .map_err(StoreError::from),
            Conn::PgPool(pool) => sqlx::$build($sql, pg_args($args)?)
                .$run(*pool)
                .await
                .map($then)
                .map_err(StoreError::from),
            Conn::Pg(tx) => sqlx::$build($sql, pg_args($args)?)
                .$run(&mut **tx)
                .await
                .map($then)
                .map_err(StoreError::from),
        }
    };
}

/// A connection to the database: the pool (each statement on any free connection), or the one
/// connection of a write transaction. The store's verbs are methods of `Db`, one statement each.
pub struct Db<'s> {
    pub(super) conn: Conn<'s>,
    pub(super) backend: &'s dyn Backend,
    pub(super) stats: &'s Stats,
}

impl<'s> Db<'s> {
    fn count(&self) {
        self.stats.count_statement();
    }

    /// Runs a statement; the number of rows it changed.
    pub(super) async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        if let Some(done) = write_alone(self.alone_writer(), |tx| tx.execute(sql, args)).await {
            self.count();
            return done;
        }
        self.execute_here(sql, args).await
    }

    /// Runs a statement where this `Db` is, never in a transaction of the writer's: for one
    /// that cannot run inside a transaction (`VACUUM INTO`).
    pub(super) async fn execute_here(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        self.count();
        on_conn!(
            &mut self.conn,
            sql,
            args,
            query_with,
            execute,
            |r| r.rows_affected(),
            |tx: &mut WriteTx<'_>| tx.execute(sql, args)
        )
    }

    /// Runs a statement that returns at most one row.
    pub(super) async fn optional<T: Row + ReadRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<T>> {
        self.count();
        if let Some(rows) = read_through(self.reader(), sql, args).await? {
            return Ok(rows.into_iter().next());
        }
        if let Some(done) = write_alone(self.alone_writer(), |tx| tx.rows(sql, args)).await {
            return done.map(|rows| rows.into_iter().next());
        }
        on_conn!(
            &mut self.conn,
            sql,
            args,
            query_as_with,
            fetch_optional,
            |r| r,
            |tx: &mut WriteTx<'_>| Ok(tx.rows(sql, args)?.into_iter().next())
        )
    }

    /// Runs a statement that returns exactly one row (`NotFound` when none).
    pub(super) async fn one<T: Row + ReadRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<T> {
        self.count();
        if let Some(rows) = read_through(self.reader(), sql, args).await? {
            return rows.into_iter().next().ok_or(StoreError::NotFound);
        }
        if let Some(done) = write_alone(self.alone_writer(), |tx| tx.rows(sql, args)).await {
            return done?.into_iter().next().ok_or(StoreError::NotFound);
        }
        on_conn!(
            &mut self.conn,
            sql,
            args,
            query_as_with,
            fetch_one,
            |r| r,
            |tx: &mut WriteTx<'_>| tx
                .rows(sql, args)?
                .into_iter()
                .next()
                .ok_or(StoreError::NotFound)
        )
    }

    /// Outside a transaction on a SQLite file, a statement that writes runs on the writer, in a
    /// transaction of its own (which joins the writer's batch): every write of this process
    /// takes the one write turn, where one on a pool connection would compete with the writer
    /// for SQLite's lock, sleeping in its busy handler while the writer's batches follow each
    /// other (up to a second, measured: docs/BENCHMARKS.md, issue 16). `None` elsewhere.
    fn alone_writer(&self) -> Option<&'s SqliteWriter> {
        match self.conn {
            Conn::SqlitePool(_) => self.backend.writer(),
            _ => None,
        }
    }

    /// Outside a transaction on SQLite, a statement that only reads runs on the reader, which
    /// decodes rows where SQLite steps them (`sqlite_read`); the rest run here.
    fn reader(&self) -> Option<&'s SqliteReader> {
        match self.conn {
            Conn::SqlitePool(_) => self.backend.reader(),
            _ => None,
        }
    }

    /// Runs a statement and collects its rows.
    pub(super) async fn all<T: Row + ReadRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<T>> {
        self.count();
        if let Some(rows) = read_through(self.reader(), sql, args).await? {
            return Ok(rows);
        }
        if let Some(done) = write_alone(self.alone_writer(), |tx| tx.rows(sql, args)).await {
            return done;
        }
        on_conn!(
            &mut self.conn,
            sql,
            args,
            query_as_with,
            fetch_all,
            |r| r,
            |tx: &mut WriteTx<'_>| tx.rows(sql, args)
        )
    }
}

/// Runs `run` in a write transaction of its own on `writer`, when there is one (see
/// `Db::alone_writer`).
async fn write_alone<T>(
    writer: Option<&SqliteWriter>,
    run: impl FnOnce(&WriteTx<'_>) -> StoreResult<T>,
) -> Option<StoreResult<T>> {
    let writer = writer?;
    let written = async {
        let tx = writer.begin().await?;
        let out = run(&tx)?;
        tx.commit().await?;
        Ok(out)
    };
    Some(written.await)
}

/// Runs a statement on `reader` when there is one and the statement only reads.
async fn read_through<T: ReadRow>(
    reader: Option<&SqliteReader>,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Option<Vec<T>>> {
    match reader {
        Some(reader) => reader.read(sql, args).await,
        None => Ok(None),
    }
}

/// A write transaction: begun by `Store::write` (or `write_workspace`, `write_usage`), rolled
/// back unless `commit` is called. It holds its turn until it ends: on SQLite this process's
/// write turn, on PostgreSQL its workspace's queue when it named one.
pub struct Tx<'s> {
    db: Db<'s>,
    /// Whether it queued webhook deliveries (the worker is woken after the commit).
    pub(super) queued_webhooks: bool,
    /// Released after the transaction (declared last, so dropped last).
    _turn: Option<Turn<'s>>,
}

impl<'s> Tx<'s> {
    pub(super) fn new(db: Db<'s>, turn: Option<Turn<'s>>) -> Self {
        Tx {
            db,
            queued_webhooks: false,
            _turn: turn,
        }
    }

    /// Makes every change of the transaction durable.
    pub async fn commit(self) -> StoreResult<()> {
        let stats = self.db.stats;
        let wake = self.queued_webhooks;
        match self.db.conn {
            Conn::SqliteWrite(tx) => {
                tx.commit().await?;
                // The next writer was woken onto this thread and runs as soon as this task
                // yields: yielding here lets it take its turn now, while the rest of this
                // request (its answer) can move to another thread.
                tokio::task::yield_now().await;
            }
            Conn::Sqlite(tx) => tx.commit().await?,
            Conn::Pg(tx) => tx.commit().await?,
            Conn::SqlitePool(_) | Conn::PgPool(_) => {}
        }
        if wake {
            stats.webhooks_queued.notify_one();
        }
        Ok(())
    }

    /// The statements that differ between the backends.
    pub(super) fn backend(&self) -> &'s dyn Backend {
        self.db.backend
    }
}

impl<'s> Deref for Tx<'s> {
    type Target = Db<'s>;
    fn deref(&self) -> &Db<'s> {
        &self.db
    }
}

impl<'s> DerefMut for Tx<'s> {
    fn deref_mut(&mut self) -> &mut Db<'s> {
        &mut self.db
    }
}
