//! The money ledger: reserving each call's worst case before it is sent
//! and recording what it cost in its place (`reserve_runs`,
//! `reserve_retry`, `release_reservation`, `record_runs`:
//! supabase/schemas/ledger.sql). The database holds the ceilings; a
//! reservation past them is refused whatever the engine asks.

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Lease, Store, StoreError};
use crate::engine::schedule::Cell;

/// One call's result, as `record_runs` stores it (its keys are the
/// function's).
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub model_id: String,
    pub image_index: i32,
    pub repeat: i32,
    pub output_json: Option<String>,
    pub response_time_ms: u64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// What the attempts whose cost is known cost; the database adds the
    /// worst case of each of the others. Sent as an exact decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
    pub attempts: u32,
    pub attempts_at_worst_case: u32,
    pub passed: bool,
    pub field_diffs: serde_json::Value,
    pub fields_total: u32,
    pub fields_matched: u32,
    /// Why the provider gave no answer; none when it answered (whatever
    /// the answer said).
    pub error: Option<String>,
    /// No endpoint of the model met the report's data policy: the model
    /// is unavailable for this report, not wrong.
    pub unavailable: bool,
}

/// One call to reserve the worst case of (its keys are `reserve_runs`').
#[derive(Debug, Clone, Serialize)]
pub struct CallToReserve<'a> {
    pub model_id: &'a str,
    pub image_index: i32,
    pub repeat: i32,
    pub image_pixels: i64,
}

impl Store {
    /// Reserves the worst case of each of `calls`, in order, which the
    /// database computes from what each call sends (the report's prompt and
    /// schema, an image of its pixels, the longest answer its limits allow)
    /// at the report's price, in one round trip. The amounts reserved, in
    /// order; fewer than asked when the next would take committed money
    /// past the soft ceiling (then do not send it, nor the rest). The
    /// limits are the database's alone: the engine passes none.
    pub async fn reserve(
        &self,
        lease: &Lease,
        calls: &[CallToReserve<'_>],
    ) -> Result<Vec<Decimal>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("select amount from public.reserve_runs($1, $2, $3)")
            .await?;
        let rows = client
            .query(
                &statement,
                &[
                    &lease.report_id,
                    &lease.token,
                    &tokio_postgres::types::Json(calls),
                ],
            )
            .await
            .map_err(|e| super::fenced(lease, e))?;
        let mut reserved = Vec::with_capacity(rows.len());
        for row in &rows {
            match row.try_get::<_, Option<Decimal>>("amount")? {
                Some(amount) => reserved.push(amount),
                None => break,
            }
        }
        Ok(reserved)
    }

    /// Reserves another worst case for a call whose last attempt was (or
    /// may have been) billed; false when the hard ceiling does not allow it.
    pub async fn reserve_retry(&self, lease: &Lease, call: &Cell) -> Result<bool, StoreError> {
        let (image_index, repeat) = call.numbers();
        let row = self
            .hot_row(
                lease,
                "select public.reserve_retry($1, $2, $3, $4, $5) as reserved",
                &[
                    &lease.report_id,
                    &lease.token,
                    &call.model,
                    &image_index,
                    &repeat,
                ],
            )
            .await?;
        Ok(row.try_get("reserved")?)
    }

    /// Gives back the reservation of a call that will not be sent.
    pub async fn release_reservation(&self, lease: &Lease, call: &Cell) -> Result<(), StoreError> {
        let (image_index, repeat) = call.numbers();
        self.hot_row(
            lease,
            "select public.release_reservation($1, $2, $3, $4, $5)",
            &[
                &lease.report_id,
                &lease.token,
                &call.model,
                &image_index,
                &repeat,
            ],
        )
        .await?;
        Ok(())
    }

    /// Records calls' results, each in place of its reservation, in one
    /// round trip. Idempotent per cell; fenced by the lease.
    pub async fn record_runs(&self, lease: &Lease, runs: &[RunRecord]) -> Result<(), StoreError> {
        let runs = tokio_postgres::types::Json(runs);
        self.hot_row(
            lease,
            "select public.record_runs($1, $2, $3)",
            &[&lease.report_id, &lease.token, &runs],
        )
        .await?;
        Ok(())
    }
}
