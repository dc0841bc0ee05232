//! The connection that hears `report_paid` (sent by `fulfill_checkout`
//! when a paid report waits: supabase/schemas/checkout.sql) and
//! `report_rescore` (sent by `rescore_report`: supabase/schemas/rescoring.sql).

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::database::Database;

/// What woke the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// A report was paid for.
    Paid,
    /// An owner corrected a finished report's expected JSON.
    Rescore,
}

/// The connection that LISTENs for the engine's wake-ups, and what it hears.
/// tokio-postgres hands notifications only to whoever polls the connection,
/// so its driver forwards them; when the connection ends, so do they.
pub struct Listener {
    client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<Wakeup>,
}

impl Listener {
    pub async fn connect(database: &Database) -> Result<Self, tokio_postgres::Error> {
        let (client, mut connection) = database.connect().await?;
        let (tx, notifications) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(n) = message {
                    let wakeup = match n.channel() {
                        "report_rescore" => Wakeup::Rescore,
                        _ => Wakeup::Paid,
                    };
                    if tx.send(wakeup).is_err() {
                        return;
                    }
                }
            }
        });
        client
            .batch_execute("listen report_paid; listen report_rescore")
            .await?;
        Ok(Self {
            client,
            notifications,
        })
    }

    /// The next wake-up; `None` once the connection ended.
    pub async fn next(&mut self) -> Option<Wakeup> {
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
