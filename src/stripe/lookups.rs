//! Stripe's answer about a Checkout Session, asked at most once per session
//! id: the success page may be loaded, refreshed or hammered any number of
//! times, concurrently, and Stripe is asked once (the webhook, not this
//! page, is what fulfils a payment Stripe confirms later). The memory is
//! bounded: the oldest answers are forgotten past `capacity` sessions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::client::StripeClient;
use super::types::{CheckoutSession, SessionId};

/// Why Stripe gave no session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("Stripe knows no such checkout session")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

type Answer = Arc<OnceCell<Result<CheckoutSession, LookupError>>>;

pub struct SessionLookups {
    capacity: usize,
    answers: Mutex<(HashMap<String, Answer>, VecDeque<String>)>,
}

impl SessionLookups {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            answers: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    fn slot(&self, id: &SessionId) -> Answer {
        let mut guard = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let (answers, order) = &mut *guard;
        if let Some(answer) = answers.get(id.as_str()) {
            return answer.clone();
        }
        while answers.len() >= self.capacity {
            match order.pop_front() {
                Some(oldest) => answers.remove(&oldest),
                None => break,
            };
        }
        let answer = Answer::default();
        answers.insert(id.as_str().to_owned(), answer.clone());
        order.push_back(id.as_str().to_owned());
        answer
    }

    /// The session as Stripe described it the one time it was asked.
    pub async fn retrieve(
        &self,
        stripe: &StripeClient,
        id: &SessionId,
    ) -> Result<CheckoutSession, LookupError> {
        self.slot(id)
            .get_or_init(|| async {
                stripe.retrieve_checkout_session(id).await.map_err(|e| {
                    if e.is_not_found() {
                        LookupError::NotFound
                    } else {
                        LookupError::Failed(e.to_string())
                    }
                })
            })
            .await
            .clone()
    }
}
