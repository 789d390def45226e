//! Fixed-window rate-limit counters, shared by every replica: counting a hit inside the
//! transaction it guards, and dropping old windows.

use super::{db::Db, StoreResult};

impl Db<'_> {
    /// Counts one hit of `bucket` in the window starting at `window_start` (seconds since the
    /// epoch); the window's hits including this one. A rollback uncounts it.
    pub async fn hit_rate_limit(&mut self, bucket: &str, window_start: i64) -> StoreResult<i64> {
        let (hits,): (i64,) = self
            .one(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
                 RETURNING hits",
                &[bucket.into(), window_start.into()],
            )
            .await?;
        Ok(hits)
    }

    /// Takes one hit of `bucket` back from the window starting at `window_start`.
    pub async fn unhit_rate_limit(&mut self, bucket: &str, window_start: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE rate_limits SET hits = hits - 1 \
             WHERE bucket = $1 AND window_start = $2 AND hits > 0",
            &[bucket.into(), window_start.into()],
        )
        .await?;
        Ok(())
    }

    /// Drops counters of windows that started before `before` (seconds since the epoch); the
    /// number dropped.
    pub async fn prune_rate_limits(&mut self, before: i64) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM rate_limits WHERE window_start < $1",
            &[before.into()],
        )
        .await
    }
}
