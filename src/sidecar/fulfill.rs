//! Settling a Checkout Session, the one way both the webhook and the success
//! page do it: a paid session at our price becomes a report (once, however
//! often and concurrently this runs); a paid session of ours that cannot
//! (its draft was already paid through another session, was deleted or
//! changed, or the amount is not our price) is recorded as owed a refund,
//! which the engine's follow-ups make and tell the payer about; anything
//! else is recorded and left.

use uuid::Uuid;

use crate::once_map::OnceMap;
use crate::stripe::types::CheckoutSession;
use crate::stripe::{CURRENCY, PRICE_CENTS};
use crate::supabase::{SessionRecord, Supabase, SupabaseError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The session is paid and its report exists.
    Fulfilled { report_id: Uuid, created: bool },
    /// Completed, but the money has not arrived yet (a delayed method).
    AwaitingPayment,
    /// Paid, but no report can come of it: the payment is refunded; the
    /// reason is for the payer.
    Refunding(String),
    /// Not ours to fulfill, and a retry would not change that; the reason is
    /// logged.
    Rejected(String),
}

/// The draft and user a session pays for, from its metadata (falling back
/// to `client_reference_id` for the draft).
fn purchase(session: &CheckoutSession) -> Option<(Uuid, Uuid)> {
    let draft = session
        .metadata
        .get("draft_id")
        .or(session.client_reference_id.as_ref())
        .and_then(|d| Uuid::parse_str(d).ok())?;
    let user = session
        .metadata
        .get("user_id")
        .and_then(|u| Uuid::parse_str(u).ok())?;
    Some((draft, user))
}

/// Fulfills a paid session or records why not. `Err` only for failures a
/// retry can fix (the database is unavailable).
pub async fn settle(
    supabase: &Supabase,
    session: &CheckoutSession,
) -> Result<Settlement, SupabaseError> {
    let Some((draft_id, user_id)) = purchase(session) else {
        tracing::warn!(stripe.session_id = %session.id, "checkout session has no draft or user in its metadata; ignored");
        return Ok(Settlement::Rejected(
            "no draft or user in the session metadata".into(),
        ));
    };
    if !session.is_paid() {
        supabase
            .record_checkout_session(&record(session, draft_id, "awaiting_payment", None))
            .await?;
        tracing::info!(stripe.session_id = %session.id, draft.id = %draft_id, "checkout completed, payment pending");
        return Ok(Settlement::AwaitingPayment);
    }
    if let Some(detail) = wrong_price(session) {
        tracing::error!(stripe.session_id = %session.id, draft.id = %draft_id, %detail, "paid amount does not match the price; no report created");
        return refund(
            supabase,
            session,
            draft_id,
            "The amount paid does not match the price of a benchmark, so nothing was run.",
        )
        .await;
    }
    match supabase.fulfill_checkout(session, draft_id, user_id).await {
        Ok(f) => {
            if f.created {
                tracing::info!(stripe.session_id = %session.id, report.id = %f.report_id, "report created");
            }
            Ok(Settlement::Fulfilled {
                report_id: f.report_id,
                created: f.created,
            })
        }
        Err(SupabaseError::Refused { code, message }) => {
            tracing::warn!(stripe.session_id = %session.id, draft.id = %draft_id, %code, %message, "paid session refused by fulfill_checkout; refunding it");
            let why = match code.as_str() {
                "PT409" => "This benchmark was already paid for through another checkout, so this second payment was not needed.",
                "PT404" => "The benchmark this payment was for was deleted before the payment arrived, so nothing was run.",
                // Settled for good as a refund (the database refuses to
                // make a report of it, whoever asks).
                "PT410" => "This payment is being refunded, so it cannot start a benchmark.",
                _ => "The benchmark this payment was for had changed and could not be run as paid for, so nothing was run.",
            };
            refund(supabase, session, draft_id, why).await
        }
        Err(other) => Err(other),
    }
}

fn record<'a>(
    session: &'a CheckoutSession,
    draft_id: Uuid,
    status: &'static str,
    detail: Option<String>,
) -> SessionRecord<'a> {
    SessionRecord {
        session_id: &session.id,
        status,
        draft_id: Some(draft_id),
        amount_total: session.amount_total,
        currency: session.currency.as_deref(),
        detail,
        payment_intent: session.payment_intent.as_deref(),
    }
}

/// Why the amount paid is not our price, if it is not.
fn wrong_price(session: &CheckoutSession) -> Option<String> {
    let currency_matches = session
        .currency
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case(CURRENCY));
    // Tax Stripe adds on top (STRIPE_AUTOMATIC_TAX) is not ours: the price
    // is what comes before it.
    let price_paid = session.amount_subtotal.or(session.amount_total);
    (price_paid != Some(PRICE_CENTS) || !currency_matches).then(|| {
        format!(
            "paid {:?} {:?} before tax, the price is {PRICE_CENTS} {CURRENCY}",
            price_paid, session.currency
        )
    })
}

/// Records a paid session that cannot become a report as owed its refund
/// (the database schedules it, and the email that says so).
async fn refund(
    supabase: &Supabase,
    session: &CheckoutSession,
    draft_id: Uuid,
    why: &str,
) -> Result<Settlement, SupabaseError> {
    supabase
        .record_checkout_session(&record(session, draft_id, "refund_owed", Some(why.into())))
        .await?;
    Ok(Settlement::Refunding(why.into()))
}

/// Records a session that failed or expired. A paid session stays paid.
pub async fn record_unpaid_end(
    supabase: &Supabase,
    session: &CheckoutSession,
    status: &'static str,
) -> Result<(), SupabaseError> {
    let draft_id = purchase(session).map(|(draft, _)| draft);
    let now = supabase
        .record_checkout_session(&SessionRecord {
            session_id: &session.id,
            status,
            draft_id,
            amount_total: session.amount_total,
            currency: session.currency.as_deref(),
            detail: None,
            payment_intent: session.payment_intent.as_deref(),
        })
        .await?;
    tracing::info!(stripe.session_id = %session.id, event.status = status, session.status = %now, "checkout session recorded");
    Ok(())
}

/// Settlements that cannot change any more (a report exists, or the session
/// was refused for good), by session id: Stripe delivers an event more than
/// once, often at the same moment, and the webhook and the success page
/// race. The first caller settles through the database; the others wait for
/// its answer or read it. The database alone decides; this only spares it
/// the same question asked again. A settlement that can still change
/// (awaiting payment) or that failed is not kept.
pub struct Settlements(OnceMap<Settlement>);

enum NotFinal {
    AwaitingPayment,
    Failed(SupabaseError),
}

impl Settlements {
    pub fn new(capacity: usize) -> Self {
        Self(OnceMap::new(capacity))
    }

    /// [`settle`], once per session. `created` is true only for the call
    /// that created the report.
    pub async fn settle(
        &self,
        supabase: &Supabase,
        session: &CheckoutSession,
    ) -> Result<Settlement, SupabaseError> {
        let settled = self
            .0
            .get_or_try_init(&session.id, || async {
                match settle(supabase, session).await {
                    Ok(Settlement::AwaitingPayment) => Err(NotFinal::AwaitingPayment),
                    Ok(last) => Ok(last),
                    Err(e) => Err(NotFinal::Failed(e)),
                }
            })
            .await;
        match settled {
            Ok((Settlement::Fulfilled { report_id, created }, worked)) => {
                Ok(Settlement::Fulfilled {
                    report_id,
                    created: created && worked,
                })
            }
            Ok((last, _)) => Ok(last),
            Err(NotFinal::AwaitingPayment) => Ok(Settlement::AwaitingPayment),
            Err(NotFinal::Failed(e)) => Err(e),
        }
    }

    /// The report of a session settled in this process, if any.
    pub fn known_report(&self, session_id: &str) -> Option<Uuid> {
        match self.0.get(session_id)? {
            Settlement::Fulfilled { report_id, .. } => Some(report_id),
            _ => None,
        }
    }
}
