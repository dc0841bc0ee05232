//! Stripe's answer about a Checkout Session, asked at most once per session
//! id: the success page may be loaded, refreshed or hammered any number of
//! times, concurrently, and Stripe is asked once (the webhook, not this
//! page, is what fulfills a payment Stripe confirms later). The memory is
//! bounded: the oldest answers are forgotten past `capacity` sessions.

use super::client::StripeClient;
use super::types::{CheckoutSession, SessionId};
use crate::once_map::OnceMap;

/// Why Stripe gave no session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("Stripe knows no such checkout session")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

pub struct SessionLookups(OnceMap<Result<CheckoutSession, LookupError>>);

impl SessionLookups {
    pub fn new(capacity: usize) -> Self {
        Self(OnceMap::new(capacity))
    }

    /// The session as Stripe described it the one time it was asked.
    pub async fn retrieve(
        &self,
        stripe: &StripeClient,
        id: &SessionId,
    ) -> Result<CheckoutSession, LookupError> {
        let asked = self
            .0
            .get_or_try_init(id.as_str(), || async {
                Ok::<_, std::convert::Infallible>(
                    stripe.retrieve_checkout_session(id).await.map_err(|e| {
                        if e.is_not_found() {
                            LookupError::NotFound
                        } else {
                            LookupError::Failed(e.to_string())
                        }
                    }),
                )
            })
            .await;
        match asked {
            Ok((answer, _)) => answer,
            Err(never) => match never {},
        }
    }
}
