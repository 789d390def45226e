//! SQLite's hot reads (member and audit pages, the access read of every request) through
//! rusqlite, on a blocking thread: the statement runs and its rows are decoded where SQLite
//! steps them, and only the finished `Vec` crosses back to the async side. sqlx's SQLite driver hands every row from its worker thread to the task
//! over a channel, and the wake-ups that costs were half of a member page's CPU
//! (docs/BENCHMARKS.md, issue 16). The statements are the store's own, unchanged: a noun module
//! sends the same SQL text here that PostgreSQL runs; only the decoding of a row differs
//! ([`ReadRow`]).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use rusqlite::{types::Value, Connection, OpenFlags};
use uuid::Uuid;

use super::{db::Arg, ts::Ts, StoreError, StoreResult};

/// Prepared statements each reading connection keeps.
const STATEMENT_CACHE: usize = 16;

/// A row shape decoded straight from a rusqlite row (besides sqlx's `FromRow`, which the
/// other paths use).
pub trait ReadRow: Sized + Send + 'static {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Reading connections to one SQLite file, opened read-only as needed, at most `max` at once.
pub struct SqliteReader {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: tokio::sync::Semaphore,
}

impl SqliteReader {
    pub fn new(path: PathBuf, max: usize) -> Self {
        SqliteReader {
            path,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: tokio::sync::Semaphore::new(max.max(1)),
        }
    }

    /// Runs `sql` with `args` and decodes every row.
    pub async fn all<T: ReadRow>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::from)?;
        let values = args.iter().map(value).collect::<StoreResult<Vec<_>>>()?;
        let sql = sql.to_owned();
        let idle = Arc::clone(&self.idle);
        let path = self.path.clone();
        let rows = tokio::task::spawn_blocking(move || {
            let taken = idle.lock().ok().and_then(|mut v| v.pop());
            let conn = match taken {
                Some(c) => c,
                None => open(&path)?,
            };
            let rows = run(&conn, &sql, &values);
            // A connection goes back unless its statement failed (it is then closed).
            if rows.is_ok() {
                if let Ok(mut v) = idle.lock() {
                    v.push(conn);
                }
            }
            rows
        })
        .await
        .map_err(anyhow::Error::from)?
        .map_err(failure)?;
        Ok(rows)
    }
}

/// A failed read as the store reports it: a busy, locked or unopenable file is `Unavailable`.
fn failure(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked};
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, DatabaseBusy | DatabaseLocked | CannotOpen) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(anyhow::anyhow!("reading SQLite: {e}")),
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

/// Binds `values` the way sqlx does for SQLite: a parameter named `$N` (or `?N`) takes the
/// N-th value, any other the value at its own position.
fn run<T: ReadRow>(conn: &Connection, sql: &str, values: &[Value]) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
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
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(T::read(row)?);
    }
    Ok(out)
}

/// An argument as SQLite stores it (as sqlx binds it): UUIDs as 16-byte blobs, timestamps as
/// microseconds, booleans as 0 or 1.
fn value(arg: &Arg<'_>) -> StoreResult<Value> {
    Ok(match arg {
        Arg::Uuid(v) => v.map_or(Value::Null, |u| Value::Blob(u.as_bytes().to_vec())),
        Arg::Text(v) => v.map_or(Value::Null, |t| Value::Text(t.to_owned())),
        Arg::Int(v) => v.map_or(Value::Null, Value::Integer),
        Arg::Bool(v) => v.map_or(Value::Null, |b| Value::Integer(i64::from(b))),
        Arg::Bytes(v) => v.map_or(Value::Null, |b| Value::Blob(b.to_vec())),
        Arg::Ts(v) => v.map_or(Value::Null, |t| Value::Integer(t.0.timestamp_micros())),
        Arg::TextArray(_) | Arg::IntArray(_) => {
            return Err(anyhow::anyhow!("SQLite binds no arrays").into())
        }
    })
}

/// A UUID column (a 16-byte blob).
pub fn uuid(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<Uuid> {
    let bytes: [u8; 16] = row.get(column)?;
    Ok(Uuid::from_bytes(bytes))
}

/// A nullable UUID column.
pub fn optional_uuid(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<Option<Uuid>> {
    let bytes: Option<[u8; 16]> = row.get(column)?;
    Ok(bytes.map(Uuid::from_bytes))
}

/// A timestamp column (microseconds).
pub fn ts(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<Ts> {
    let micros: i64 = row.get(column)?;
    chrono::DateTime::from_timestamp_micros(micros)
        .map(Ts)
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(0, micros))
}

/// A nullable timestamp column.
pub fn optional_ts(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<Option<Ts>> {
    let micros: Option<i64> = row.get(column)?;
    micros
        .map(|m| {
            chrono::DateTime::from_timestamp_micros(m)
                .map(Ts)
                .ok_or(rusqlite::Error::IntegralValueOutOfRange(0, m))
        })
        .transpose()
}
