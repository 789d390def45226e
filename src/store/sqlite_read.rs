//! SQLite's reads outside a transaction (the access read of every request, member and audit
//! pages, every other read) through rusqlite, on reading threads of their own
//! (`JobThreads`), each with its own read-only connection: the statement runs and its rows are
//! decoded where SQLite steps them, and only the finished `Vec` crosses back to the async side.
//! sqlx's SQLite driver hands every row from its worker thread to the task over a channel,
//! and the wake-ups that costs were half of a member page's CPU (docs/BENCHMARKS.md, issue
//! 16). The statements are the store's own, unchanged: a noun module sends the same SQL text
//! here that PostgreSQL runs; only the decoding of a row differs ([`ReadRow`]). A statement
//! that writes is handed back (`None`) to run on a writing connection.

use std::{path::PathBuf, time::Duration};

use super::{db::Arg, Constraint, StoreError, StoreResult};
use crate::job_threads::JobThreads;
use rusqlite::{
    types::{FromSql, ToSqlOutput, Value, ValueRef},
    Connection, OpenFlags,
};

/// Prepared statements each reading connection keeps.
const STATEMENT_CACHE: usize = 64;

/// A row shape decoded straight from a rusqlite row (besides sqlx's `FromRow`, which the
/// other paths use).
pub trait ReadRow: Sized + Send + 'static {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Reading threads on one SQLite file, each with its own read-only connection.
pub struct SqliteReader {
    threads: JobThreads<ReadingConnection>,
}

impl SqliteReader {
    /// Starts `max` reading threads.
    pub fn new(path: PathBuf, max: usize) -> std::io::Result<Self> {
        let threads = JobThreads::start("roster-read", max, move || ReadingConnection {
            path: path.clone(),
            conn: None,
        })?;
        Ok(SqliteReader { threads })
    }

    /// Runs `sql` with `args` and decodes every row; `None` when the statement writes (it
    /// must run on a writing connection instead).
    pub async fn read<T: ReadRow>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<Vec<T>>> {
        let values = args.iter().map(value).collect::<StoreResult<Vec<_>>>()?;
        let sql = sql.to_owned();
        let rows = self
            .threads
            .run(move |reading: &mut ReadingConnection| reading.read(&sql, &values))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(failure)?;
        Ok(rows)
    }
}

/// A reading thread's connection, opened on its first statement and again after one failed.
struct ReadingConnection {
    path: PathBuf,
    conn: Option<Connection>,
}

impl ReadingConnection {
    fn read<T: ReadRow>(
        &mut self,
        sql: &str,
        values: &[Value],
    ) -> rusqlite::Result<Option<Vec<T>>> {
        let conn = match self.conn.take() {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let rows = read_only(&conn, sql, values);
        // A connection whose statement failed is closed; the next statement opens another.
        if rows.is_ok() {
            self.conn = Some(conn);
        }
        rows
    }
}

/// [`run`], for a statement that only reads (`None` for one that writes).
fn read_only<T: ReadRow>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
) -> rusqlite::Result<Option<Vec<T>>> {
    let mut stmt = conn.prepare_cached(sql)?;
    if !stmt.readonly() {
        return Ok(None);
    }
    rows(&mut stmt, values).map(Some)
}

/// A failed statement as the store reports it: a busy, locked or unopenable file is
/// `Unavailable`, a named constraint's refusal `Conflict`, no row where one must be `NotFound`.
pub(super) fn failure(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{CannotOpen, ConstraintViolation, DatabaseBusy, DatabaseLocked};
    match &e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, DatabaseBusy | DatabaseLocked | CannotOpen) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        rusqlite::Error::SqliteFailure(f, Some(message)) if f.code == ConstraintViolation => {
            match Constraint::named(None, message) {
                Some(c) => StoreError::Conflict(c),
                None => StoreError::Other(anyhow::anyhow!("SQLite: {e}")),
            }
        }
        _ => StoreError::Other(anyhow::anyhow!("SQLite: {e}")),
    }
}

fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Binds `values` to `stmt` the way sqlx does for SQLite: a parameter named `$N` (or `?N`)
/// takes the N-th value, any other the value at its own position.
pub(super) fn bind<V: rusqlite::ToSql>(
    stmt: &mut rusqlite::Statement<'_>,
    values: &[V],
) -> rusqlite::Result<()> {
    for i in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.get(1..))
            .and_then(|digits| digits.parse::<usize>().ok())
            .unwrap_or(i);
        let v = values
            .get(n - 1)
            .ok_or(rusqlite::Error::InvalidParameterCount(n, values.len()))?;
        stmt.raw_bind_parameter(i, v)?;
    }
    Ok(())
}

/// Runs `sql` with `values` bound and decodes every row.
pub(super) fn run<T: ReadRow, V: rusqlite::ToSql>(
    conn: &Connection,
    sql: &str,
    values: &[V],
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    rows(&mut stmt, values)
}

/// Binds `values` to a prepared statement, runs it and decodes every row.
fn rows<T: ReadRow, V: rusqlite::ToSql>(
    stmt: &mut rusqlite::Statement<'_>,
    values: &[V],
) -> rusqlite::Result<Vec<T>> {
    bind(stmt, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(T::read(row)?);
    }
    Ok(out)
}

/// An argument as SQLite stores it (as sqlx binds it): UUIDs as 16-byte blobs, timestamps as
/// microseconds, booleans as 0 or 1.
impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Uuid(v) => v.as_ref().map_or(ToSqlOutput::Owned(Value::Null), |u| {
                ToSqlOutput::Borrowed(ValueRef::Blob(u.as_bytes()))
            }),
            Arg::Text(v) => v.map_or(ToSqlOutput::Owned(Value::Null), |t| {
                ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes()))
            }),
            Arg::Int(v) => ToSqlOutput::Owned(v.map_or(Value::Null, Value::Integer)),
            Arg::Bool(v) => ToSqlOutput::Owned(v.map_or(Value::Null, |b| Value::Integer(b.into()))),
            Arg::Bytes(v) => v.map_or(ToSqlOutput::Owned(Value::Null), |b| {
                ToSqlOutput::Borrowed(ValueRef::Blob(b))
            }),
            Arg::Ts(v) => ToSqlOutput::Owned(
                v.map_or(Value::Null, |t| Value::Integer(t.0.timestamp_micros())),
            ),
            Arg::TextArray(_) | Arg::IntArray(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite binds no arrays".into(),
                ))
            }
        })
    }
}

/// An argument owned, to send to a reading thread.
fn value(arg: &Arg<'_>) -> StoreResult<Value> {
    let owned = rusqlite::ToSql::to_sql(arg).map_err(|e| anyhow::anyhow!("binding: {e}"))?;
    Ok(match owned {
        ToSqlOutput::Borrowed(v) => v.into(),
        ToSqlOutput::Owned(v) => v,
        _ => return Err(anyhow::anyhow!("unexpected bound value").into()),
    })
}

/// Implements [`ReadRow`] for a row struct by reading each named field from the column of the
/// same name (any `FromSql` type: the `uuid` feature reads 16-byte blobs, `Ts` microseconds),
/// or, for a field written `name: flatten`, from the same row as a row of its own.
macro_rules! read_row {
    ($ty:ident { $($field:ident $(: $flat:ident)?),* $(,)? }) => {
        impl $crate::store::sqlite_read::ReadRow for $ty {
            fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok($ty { $($field: $crate::store::sqlite_read::read_row!(@field row, $field $(, $flat)?)),* })
            }
        }
    };
    (@field $row:ident, $field:ident) => { $row.get(stringify!($field))? };
    (@field $row:ident, $field:ident, flatten) => {
        $crate::store::sqlite_read::ReadRow::read($row)?
    };
}
pub(super) use read_row;

macro_rules! read_tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: FromSql + Send + 'static),+> ReadRow for ($($t,)+) {
            fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $t>($i)?,)+))
            }
        }
    };
}
read_tuple!(A 0);
read_tuple!(A 0, B 1);
read_tuple!(A 0, B 1, C 2);
read_tuple!(A 0, B 1, C 2, D 3);
