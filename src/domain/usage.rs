//! Usage metering: batches of metered events (atomic, idempotent by key), exact hourly rollups
//! per workspace and meter, plans with monthly allowances in event units, and the quota — checked
//! and counted in one conditional statement, so parallel batches cannot overshoot it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    audit::{self, Actor},
    auth::Credential,
    permission::Permission,
    session::RequestMeta,
    workspace::{Access, Workspace, WorkspaceRef},
    Core, Error, FieldError, Result,
};
use crate::store::{HourRollup, IdempotencyRecord};

/// The most events in one batch.
pub const MAX_BATCH: usize = 1000;
/// The largest quantity one event may carry.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// Events older than this are refused.
pub const MAX_AGE: Duration = Duration::days(35);
/// Clock skew tolerated for events stamped in the future.
pub const FUTURE_SKEW: Duration = Duration::minutes(5);
/// How long a batch's `Idempotency-Key` answers retries with the first result.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
/// The built-in meters.
pub const LOCATION_EVENTS: &str = "location_events";
pub const ACTION_DELIVERIES: &str = "action_deliveries";

/// An amount of event units, kept in thousandths so that 0.5 unit is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Units(pub i64);

impl Units {
    pub const ONE: Units = Units(1000);

    pub fn whole(n: u64) -> Units {
        Units(
            i64::try_from(n)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
        )
    }

    /// A decimal amount with at most three decimals (e.g. a configured meter weight).
    pub fn from_decimal(v: f64) -> Option<Units> {
        let milli = v * 1000.0;
        let rounded = milli.round();
        ((0.0..=1e12).contains(&rounded) && (milli - rounded).abs() < 1e-6)
            .then_some(Units(rounded as i64))
    }

    /// The amount as a number (exact for every amount below 2^53 thousandths).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    fn times(self, quantity: i64) -> Units {
        Units(self.0.saturating_mul(quantity))
    }
}

impl std::ops::Add for Units {
    type Output = Units;
    fn add(self, other: Units) -> Units {
        Units(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for Units {
    fn sum<I: Iterator<Item = Units>>(iter: I) -> Units {
        iter.fold(Units(0), |a, b| a + b)
    }
}

/// A plan: its name and monthly allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    /// Event units a month; `None` is unlimited.
    pub monthly_units: Option<u64>,
    /// Whether usage past the allowance is accepted (and billed) rather than refused.
    pub overage: bool,
}

/// Plans and meter weights, from configuration.
#[derive(Debug, Clone)]
pub struct UsageSettings {
    pub plans: Vec<Plan>,
    /// Event units per unit of quantity, by meter; meters not listed weigh one unit.
    pub meters: BTreeMap<String, Units>,
}

impl Default for UsageSettings {
    fn default() -> Self {
        let plan = |name: &str, monthly_units| Plan {
            name: name.to_owned(),
            monthly_units,
            overage: false,
        };
        UsageSettings {
            plans: vec![
                plan(DEFAULT_PLAN, Some(50_000)),
                plan("developer", Some(500_000)),
                plan("pro", Some(5_000_000)),
                plan("enterprise", None),
            ],
            meters: BTreeMap::from([
                (LOCATION_EVENTS.to_owned(), Units::ONE),
                (ACTION_DELIVERIES.to_owned(), Units(500)),
            ]),
        }
    }
}

/// The plan of every new workspace.
pub const DEFAULT_PLAN: &str = "free";

impl UsageSettings {
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    /// The workspace's plan; a plan name no longer configured is held to the free plan's
    /// allowance (never to no limit at all).
    pub fn plan_of(&self, name: &str) -> Plan {
        self.plan(name)
            .or_else(|| self.plan(DEFAULT_PLAN))
            .cloned()
            .map(|p| Plan {
                name: name.to_owned(),
                ..p
            })
            .unwrap_or(Plan {
                name: name.to_owned(),
                monthly_units: Some(0),
                overage: false,
            })
    }

    pub fn weight(&self, meter: &str) -> Units {
        self.meters.get(meter).copied().unwrap_or(Units::ONE)
    }
}

/// One event as a client sent it.
#[derive(Debug, Clone, Serialize)]
pub struct EventInput {
    pub meter: String,
    pub quantity: Option<i64>,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A meter's total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterTotal {
    pub meter: String,
    pub quantity: i64,
    pub units: Units,
}

/// What a recorded batch added; kept with its idempotency key and given again to retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedBatch {
    pub events: u64,
    pub units: Units,
    pub meters: Vec<MeterTotal>,
    pub recorded_at: DateTime<Utc>,
}

/// The answer to a batch: what it recorded, and whether this is a retry's replay.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub batch: RecordedBatch,
    pub replayed: bool,
}

/// How a usage report groups its hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

impl Granularity {
    pub fn parse(s: &str) -> Option<Granularity> {
        match s {
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// The longest period one report may span at this granularity.
    fn max_span(self) -> Duration {
        match self {
            Granularity::Hour => Duration::days(31),
            Granularity::Day => Duration::days(400),
            Granularity::Month => Duration::days(3700),
        }
    }
}

/// The period and grouping of a report; unset ends default to this month so far.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub granularity: Option<Granularity>,
}

/// One bucket of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    pub start: DateTime<Utc>,
    pub meters: Vec<MeterTotal>,
    pub units: Units,
}

/// Where the workspace stands against its plan this month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthStanding {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub used: Units,
    /// `None` when the plan is unlimited.
    pub remaining: Option<Units>,
}

/// Usage of a period: totals per meter, the series, the plan and this month's standing.
/// Covers the rollup hours that start in `[from, to)`.
#[derive(Debug, Clone)]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub plan: Plan,
    pub month: MonthStanding,
    pub totals: Vec<MeterTotal>,
    pub units: Units,
    pub series: Vec<UsageBucket>,
}

/// The current UTC day's usage, as SpatialFlow's `UsageResponse` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    pub location_events: i64,
    pub action_deliveries: i64,
    /// location events + 0.5 × action deliveries (with the default weights).
    pub units: Units,
    pub tier: String,
    /// The plan's monthly allowance in whole units; `None` is unlimited.
    pub tier_limit: Option<u64>,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

/// Hours since the Unix epoch.
pub fn hour_index(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600)
}

/// Months since January 1970.
pub fn month_index(t: DateTime<Utc>) -> i64 {
    (i64::from(t.year()) - 1970) * 12 + i64::from(t.month0())
}

/// The first instant of a month numbered by [`month_index`].
pub fn month_start(index: i64) -> DateTime<Utc> {
    let year = i32::try_from(1970 + index.div_euclid(12)).unwrap_or(9999);
    let month = u32::try_from(index.rem_euclid(12)).unwrap_or(0) + 1;
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn hour_start(index: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(index.saturating_mul(3600), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A meter name: 1 to 64 characters of `a-z`, `0-9`, `_`, `.` and `-`, starting with a letter.
pub fn valid_meter(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
fn valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

impl Core {
    /// Records a batch of usage events for the workspace: all of it or, if it is invalid or
    /// would take the workspace past its plan's monthly allowance, none of it. With an
    /// idempotency key, a retry within 24 hours gets the first answer and counts nothing.
    pub async fn record_usage(
        &self,
        access: &Access,
        events: &[EventInput],
        idempotency_key: Option<&str>,
    ) -> Result<Recorded> {
        access.require(Permission::UsageRecord)?;
        if !matches!(
            access.principal.credential,
            Credential::ApiKey { .. } | Credential::WorkspaceKey { .. }
        ) {
            return Err(Error::forbidden(
                "api_key_required",
                "usage events are recorded with an API key (a personal one, or a workspace key) holding usage:record",
            ));
        }
        access.principal.require_write()?;
        let now = self.clock.now();
        let mut errors = Vec::new();
        if let Some(key) = idempotency_key {
            if !valid_idempotency_key(key) {
                errors.push(FieldError::new(
                    "Idempotency-Key",
                    "invalid",
                    "must be 1 to 255 visible ASCII characters",
                ));
            }
        }
        if events.is_empty() || events.len() > MAX_BATCH {
            errors.push(FieldError::new(
                "events",
                "length",
                format!("a batch holds 1 to {MAX_BATCH} events"),
            ));
        }
        let mut hours: BTreeMap<(i64, &str), i64> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            if errors.len() >= 20 {
                break;
            }
            if !valid_meter(&e.meter) {
                errors.push(FieldError::new(
                    &format!("events[{i}].meter"),
                    "invalid",
                    "1 to 64 characters of a-z, 0-9, `_`, `.` and `-`, starting with a letter",
                ));
            }
            let quantity = e.quantity.unwrap_or(1);
            if !(1..=MAX_QUANTITY).contains(&quantity) {
                errors.push(FieldError::new(
                    &format!("events[{i}].quantity"),
                    "range",
                    format!("must be from 1 to {MAX_QUANTITY}"),
                ));
            }
            let at = e.occurred_at.unwrap_or(now);
            if at < now - MAX_AGE {
                errors.push(FieldError::new(
                    &format!("events[{i}].occurred_at"),
                    "too_old",
                    "events older than 35 days are not accepted",
                ));
            } else if at > now + FUTURE_SKEW {
                errors.push(FieldError::new(
                    &format!("events[{i}].occurred_at"),
                    "in_future",
                    "events in the future are not accepted",
                ));
            }
            *hours.entry((hour_index(at), e.meter.as_str())).or_default() += quantity;
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }

        let usage = &self.settings.usage;
        let mut meters: BTreeMap<&str, (i64, Units)> = BTreeMap::new();
        let mut months: BTreeMap<i64, Units> = BTreeMap::new();
        let rollups: Vec<HourRollup> = hours
            .into_iter()
            .map(|((hour, meter), quantity)| {
                let units = usage.weight(meter).times(quantity);
                let month = month_index(hour_start(hour));
                let in_month = months.entry(month).or_default();
                *in_month = *in_month + units;
                let m = meters.entry(meter).or_default();
                *m = (m.0 + quantity, m.1 + units);
                HourRollup {
                    meter: meter.to_owned(),
                    hour,
                    month,
                    quantity,
                    units: units.0,
                }
            })
            .collect();
        let batch = RecordedBatch {
            events: events.len() as u64,
            units: meters.values().map(|m| m.1).sum(),
            meters: meters
                .into_iter()
                .map(|(meter, (quantity, units))| MeterTotal {
                    meter: meter.to_owned(),
                    quantity,
                    units,
                })
                .collect(),
            recorded_at: now,
        };
        let plan = usage.plan_of(&access.workspace.plan);
        let limit = match (plan.monthly_units, plan.overage) {
            (Some(units), false) => Some(Units::whole(units).0),
            _ => None,
        };
        let allowance = plan.monthly_units.map(|units| Units::whole(units).0);
        let body_hash = batch_hash(events);
        let response =
            serde_json::to_string(&batch).map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
        let record = idempotency_key.map(|key| IdempotencyRecord {
            key,
            body_hash: &body_hash,
            response: &response,
            reusable_before: now - IDEMPOTENCY_WINDOW,
        });
        let months: Vec<(i64, i64)> = months.into_iter().map(|(m, u)| (m, u.0)).collect();
        match self
            .count_batch(
                access,
                record.as_ref(),
                &rollups,
                &months,
                Quota { limit, allowance },
                now,
            )
            .await?
        {
            Counted::Recorded => {
                metrics::counter!("usage_events_total").increment(batch.events);
                Ok(Recorded {
                    batch,
                    replayed: false,
                })
            }
            Counted::Replayed {
                body_hash: first,
                response,
            } => {
                if first != body_hash {
                    return Err(Error::conflict(
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different batch in the last 24 hours",
                    ));
                }
                let batch = serde_json::from_str(&response)
                    .map_err(|e| Error::Internal(anyhow::anyhow!("stored usage answer: {e}")))?;
                Ok(Recorded {
                    batch,
                    replayed: true,
                })
            }
            Counted::OverQuota { month } => {
                let next = month_start(month_index(now) + 1);
                let start = month_start(month);
                Err(Error::QuotaExceeded {
                    retry_after: (next - now).num_seconds().max(1).unsigned_abs(),
                    detail: format!(
                        "this batch would take the workspace past the {} event units its plan `{}` allows for {}",
                        plan.monthly_units.unwrap_or(0),
                        plan.name,
                        start.format("%Y-%m"),
                    ),
                })
            }
        }
    }

    /// Usage of a period, grouped by hour, day or month (UTC), with the plan and this month's
    /// standing.
    pub async fn usage_report(&self, access: &Access, query: &UsageQuery) -> Result<UsageReport> {
        access.require(Permission::UsageRead)?;
        let now = self.clock.now();
        let this_month = month_index(now);
        let from = query.from.unwrap_or_else(|| month_start(this_month));
        let to = query.to.unwrap_or(now);
        let granularity = query.granularity.unwrap_or(Granularity::Day);
        if from >= to {
            return Err(Error::invalid("to", "range", "must be after `from`"));
        }
        if to - from > granularity.max_span() {
            return Err(Error::invalid(
                "to",
                "range_too_large",
                format!(
                    "a report by {} spans at most {} days",
                    granularity.as_str(),
                    granularity.max_span().num_days()
                ),
            ));
        }
        // Hours whose start lies in [from, to).
        let first_hour = ceil_div(from.timestamp(), 3600);
        let end_hour = ceil_div(to.timestamp(), 3600);
        let rows = self
            .store
            .read()
            .usage_rows(access.workspace.id, first_hour, end_hour, granularity)
            .await?;

        let mut series: Vec<UsageBucket> = Vec::new();
        let mut totals: BTreeMap<String, (i64, Units)> = BTreeMap::new();
        let bucket_start = |b: i64| match granularity {
            Granularity::Hour => hour_start(b),
            Granularity::Day => hour_start(b * 24),
            Granularity::Month => month_start(b),
        };
        let first_bucket = match granularity {
            Granularity::Hour => first_hour,
            Granularity::Day => first_hour.div_euclid(24),
            Granularity::Month => month_index(hour_start(first_hour)),
        };
        let last_bucket = match granularity {
            Granularity::Hour => end_hour - 1,
            Granularity::Day => (end_hour - 1).div_euclid(24),
            Granularity::Month => month_index(hour_start(end_hour - 1)),
        };
        for b in first_bucket..=last_bucket {
            series.push(UsageBucket {
                start: bucket_start(b),
                meters: Vec::new(),
                units: Units(0),
            });
        }
        for row in rows {
            let units = Units(row.units);
            let t = totals.entry(row.meter.clone()).or_default();
            *t = (t.0 + row.quantity, t.1 + units);
            let index = usize::try_from(row.bucket - first_bucket).unwrap_or(usize::MAX);
            if let Some(bucket) = series.get_mut(index) {
                bucket.units = bucket.units + units;
                bucket.meters.push(MeterTotal {
                    meter: row.meter,
                    quantity: row.quantity,
                    units,
                });
            }
        }
        let totals: Vec<MeterTotal> = totals
            .into_iter()
            .map(|(meter, (quantity, units))| MeterTotal {
                meter,
                quantity,
                units,
            })
            .collect();
        let plan = self.settings.usage.plan_of(&access.workspace.plan);
        let used = Units(
            self.store
                .read()
                .usage_month(access.workspace.id, this_month)
                .await?,
        );
        Ok(UsageReport {
            from,
            to,
            granularity,
            month: MonthStanding {
                start: month_start(this_month),
                end: month_start(this_month + 1),
                used,
                remaining: plan
                    .monthly_units
                    .map(|limit| Units((Units::whole(limit).0 - used.0).max(0))),
            },
            plan,
            units: totals.iter().map(|t| t.units).sum(),
            totals,
            series,
        })
    }

    /// The current UTC day's usage, from midnight until now: what SpatialFlow's
    /// `GET /workspaces/usage` answers, read from the same rollups as [`Core::usage_report`].
    pub async fn usage_today(&self, access: &Access) -> Result<DailyUsage> {
        let now = self.clock.now();
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now);
        let report = self
            .usage_report(
                access,
                &UsageQuery {
                    from: Some(midnight),
                    to: Some(now.max(midnight + Duration::seconds(1))),
                    granularity: Some(Granularity::Day),
                },
            )
            .await?;
        let meter = |name: &str| report.totals.iter().find(|t| t.meter == name);
        let locations = meter(LOCATION_EVENTS);
        let deliveries = meter(ACTION_DELIVERIES);
        Ok(DailyUsage {
            location_events: locations.map_or(0, |t| t.quantity),
            action_deliveries: deliveries.map_or(0, |t| t.quantity),
            units: locations.map_or(Units(0), |t| t.units)
                + deliveries.map_or(Units(0), |t| t.units),
            tier: report.plan.name,
            tier_limit: report.plan.monthly_units,
            period_start: midnight,
            period_end: now,
        })
    }

    /// Puts a workspace on a configured plan (an operator's action).
    pub async fn set_plan(
        &self,
        ws: &WorkspaceRef,
        plan: &str,
        actor: &Actor,
    ) -> Result<Workspace> {
        if self.settings.usage.plan(plan).is_none() {
            let known: Vec<&str> = self
                .settings
                .usage
                .plans
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            return Err(Error::invalid(
                "plan",
                "unknown_plan",
                format!(
                    "unknown plan {plan:?}; configured plans: {}",
                    known.join(", ")
                ),
            ));
        }
        let mut tx = self.store.write().await?;
        let before = tx.workspace_by_ref(ws).await?.ok_or(Error::NotFound)?;
        if before.plan != plan {
            tx.set_workspace_plan(before.id, plan, actor.at).await?;
            audit::record(
                &mut tx,
                &audit::workspace_plan_changed(actor, &before, plan),
            )
            .await?;
        }
        let after = tx.workspace(before.id).await?.ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(after)
    }

    /// Counts a batch in one transaction: its idempotency record, then each month's counter
    /// (a conditional upsert that refuses to pass `limit`), then the hourly rollups. A replay
    /// or a refusal writes nothing.
    async fn count_batch(
        &self,
        access: &Access,
        record: Option<&IdempotencyRecord<'_>>,
        hours: &[HourRollup],
        months: &[(i64, i64)],
        quota: Quota,
        now: DateTime<Utc>,
    ) -> Result<Counted> {
        let workspace_id = access.workspace.id;
        let mut tx = self.store.write_usage(workspace_id).await?;
        if let Some(record) = record {
            if !tx.claim_idempotency_key(workspace_id, record, now).await? {
                let (body_hash, response) = tx.idempotency_record(workspace_id, record.key).await?;
                return Ok(Counted::Replayed {
                    body_hash,
                    response,
                });
            }
        }
        let limit = quota.limit.unwrap_or(i64::MAX / 4);
        let mut crossed = Vec::new();
        for &(month, units) in months {
            let Some(total) = tx.count_month(workspace_id, month, units, limit).await? else {
                return Ok(Counted::OverQuota { month });
            };
            if let Some(allowance) = quota.allowance {
                for percent in THRESHOLDS {
                    let mark = allowance.saturating_mul(percent) / 100;
                    // Totals only grow and a workspace's batches are counted one at a time,
                    // so a mark is passed once a month.
                    if total - units < mark && total >= mark {
                        crossed.push((month, percent, allowance, total));
                    }
                }
            }
        }
        let actor = Actor::new(access.actor_id(), &RequestMeta::default(), now);
        for (month, percent, allowance, total) in crossed {
            let e = audit::usage_threshold_reached(
                &actor,
                workspace_id,
                &month_start(month).format("%Y-%m").to_string(),
                percent,
                Units(allowance),
                Units(total),
            );
            audit::record(&mut tx, &e).await?;
        }
        tx.add_hours(workspace_id, hours).await?;
        tx.commit().await?;
        Ok(Counted::Recorded)
    }
}

/// The shares of a month's allowance whose passing is an event (`usage.threshold_reached`).
const THRESHOLDS: [i64; 2] = [80, 100];

/// A batch's limits in thousandths of a unit: what refuses it (`None`: nothing, with overage
/// or no allowance) and the month's allowance the thresholds are shares of.
#[derive(Clone, Copy)]
struct Quota {
    limit: Option<i64>,
    allowance: Option<i64>,
}

/// What became of a usage batch.
enum Counted {
    Recorded,
    /// The key was used within its window; nothing was counted. The first batch's digest and
    /// answer.
    Replayed {
        body_hash: Vec<u8>,
        response: String,
    },
    /// Counting it would pass this month's allowance; nothing was counted.
    OverQuota {
        month: i64,
    },
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

/// A digest of the batch as sent, to tell a retry from a different batch under the same key.
fn batch_hash(events: &[EventInput]) -> Vec<u8> {
    let mut h = Sha256::new();
    for e in events {
        h.update((e.meter.len() as u64).to_le_bytes());
        h.update(e.meter.as_bytes());
        h.update(e.quantity.map_or([0xff; 8], i64::to_le_bytes));
        h.update(
            e.occurred_at
                .map_or([0xff; 8], |t| t.timestamp_micros().to_le_bytes()),
        );
    }
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_numbered_from_the_epoch_and_round_trip() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 24, 13, 5, 0)
            .single()
            .expect("valid");
        let m = month_index(t);
        assert_eq!(
            month_start(m),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .expect("valid")
        );
        assert_eq!(
            month_start(m + 2),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .single()
                .expect("valid")
        );
        assert_eq!(
            month_index(
                Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0)
                    .single()
                    .expect("valid")
            ),
            0
        );
    }

    #[test]
    fn half_units_are_exact() {
        assert_eq!(Units(500).times(3), Units(1500));
        assert_eq!(Units::from_decimal(0.5), Some(Units(500)));
        assert_eq!(Units::from_decimal(0.0001), None);
        assert_eq!(Units(1500).as_f64(), 1.5);
    }

    #[test]
    fn meter_names_are_checked() {
        assert!(valid_meter("location_events"));
        assert!(valid_meter("api.calls-v2"));
        assert!(!valid_meter(""));
        assert!(!valid_meter("Location"));
        assert!(!valid_meter("1abc"));
        assert!(!valid_meter(&"a".repeat(65)));
    }

    #[test]
    fn the_same_batch_hashes_the_same_and_a_different_one_does_not() {
        let e = |q| EventInput {
            meter: "m".into(),
            quantity: q,
            occurred_at: None,
        };
        assert_eq!(batch_hash(&[e(Some(1))]), batch_hash(&[e(Some(1))]));
        assert_ne!(batch_hash(&[e(Some(1))]), batch_hash(&[e(None)]));
        assert_ne!(batch_hash(&[e(Some(1))]), batch_hash(&[e(Some(2))]));
    }

    #[test]
    fn an_unknown_plan_is_held_to_the_free_allowance() {
        let s = UsageSettings::default();
        assert_eq!(s.plan("enterprise").expect("valid").monthly_units, None);
        let p = s.plan_of("gold");
        assert_eq!((p.name.as_str(), p.monthly_units), ("gold", Some(50_000)));
    }
}
