//! The connection that hears `report_paid` (sent by `fulfill_checkout`
//! when a paid report waits: supabase/schemas/checkout.sql).

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::database::Database;

/// The connection that LISTENs for `report_paid`, and what it hears.
/// tokio-postgres hands notifications only to whoever polls the connection,
/// so its driver forwards them; when the connection ends, so do they.
pub struct Listener {
    client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    pub async fn connect(database: &Database) -> Result<Self, tokio_postgres::Error> {
        let (client, mut connection) = database.connect().await?;
        let (tx, notifications) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(n) = message {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        client.batch_execute("listen report_paid").await?;
        Ok(Self {
            client,
            notifications,
        })
    }

    /// The next notification's payload; `None` once the connection ended.
    pub async fn next(&mut self) -> Option<String> {
        self.notifications.recv().await
    }

    /// Whether the connection still answers a round trip within `timeout`
    /// (a half-open connection otherwise looks alive forever).
    pub async fn answers(&self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.client.simple_query("select 1")).await,
            Ok(Ok(_))
        )
    }
}
