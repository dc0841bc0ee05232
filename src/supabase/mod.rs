//! The database through Supabase's REST API (PostgREST, via postgrest-rs):
//! reads as the calling user, so row-level security decides what they see,
//! and the business functions as the service role.

mod account;

pub use account::AccountDeletion;

use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::config::SupabaseSettings;
use crate::config::{ExposeSecret, SecretString};
use crate::stripe::types::{Charge, CheckoutSession, Dispute};

#[derive(Debug, thiserror::Error)]
pub enum SupabaseError {
    /// The database or the API is down or failing: worth retrying later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A business rule refused the call (a `PTxyz` error from a function);
    /// retrying will not change the answer.
    #[error("refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// The caller's token was not accepted by the API.
    #[error("the API did not accept the caller's token")]
    Unauthorized,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A draft as the checkout needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Draft {
    pub status: String,
    pub selected_models: Vec<String>,
    pub image_count: i32,
    /// Changes whenever the draft does; part of the checkout idempotency key.
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Fulfillment {
    pub report_id: Uuid,
    pub created: bool,
}

/// What we know of a Checkout Session.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SessionState {
    pub status: String,
    pub report_id: Option<Uuid>,
}

#[derive(Clone)]
pub struct Supabase {
    /// Sends the anon key as `apikey`; requests carry the user's token.
    user_rest: postgrest::Postgrest,
    /// Sends the service-role key, which bypasses row-level security.
    service_rest: postgrest::Postgrest,
    service_role_key: SecretString,
    /// `<project>/storage/v1`, for signing image URLs as the service role.
    storage_url: String,
    /// `<project>/auth/v1`, for Auth's admin API.
    auth_url: String,
    http: reqwest::Client,
}

/// One recorded call of a report, as `read_report_runs` gives it to the
/// report's readers (without the answer and its differences).
#[derive(Debug, Clone, Deserialize)]
pub struct ReportRun {
    pub model_id: String,
    pub image_index: i64,
    /// Which of the call's answers (0 unless the report asked each call
    /// more than once).
    #[serde(default)]
    pub repeat: i64,
    pub passed: bool,
    pub fields_total: i64,
    pub fields_matched: i64,
    #[serde(deserialize_with = "crate::money::exact_option", default)]
    pub cost: Option<rust_decimal::Decimal>,
    pub response_time_ms: Option<i64>,
    pub error: Option<String>,
    #[serde(default)]
    pub unavailable: bool,
}

/// A model's price in the catalog today.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogPrice {
    pub id: String,
    #[serde(deserialize_with = "crate::money::exact")]
    pub prompt_usd_per_mtok: rust_decimal::Decimal,
    #[serde(deserialize_with = "crate::money::exact")]
    pub completion_usd_per_mtok: rust_decimal::Decimal,
    #[serde(deserialize_with = "crate::money::exact")]
    pub image_usd: rust_decimal::Decimal,
}

impl Supabase {
    pub fn new(settings: &SupabaseSettings) -> Self {
        Self {
            user_rest: postgrest::Postgrest::new(settings.rest_url())
                .insert_header("apikey", settings.anon_key.as_str()),
            service_rest: postgrest::Postgrest::new(settings.rest_url())
                .insert_header("apikey", settings.service_role_key.expose_secret()),
            service_role_key: settings.service_role_key.clone(),
            storage_url: format!("{}/storage/v1", settings.url),
            auth_url: format!("{}/auth/v1", settings.url),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP client with a timeout"),
        }
    }

    /// The report as its page reads it, for `caller` (an access token: the
    /// owner) or, with none, for whoever holds `share_token`; `None` when
    /// that reader may not read it.
    pub async fn read_report(
        &self,
        caller: Option<&str>,
        report_id: Uuid,
        share_token: Option<&str>,
    ) -> Result<Option<serde_json::Value>, SupabaseError> {
        let value: serde_json::Value = Self::send(self.reader_rpc(
            caller,
            "read_report",
            json!({"p_report_id": report_id, "p_share_token": share_token}),
        ))
        .await?;
        Ok((!value.is_null()).then_some(value))
    }

    /// The report's calls, for the same readers as `read_report`.
    pub async fn read_report_runs(
        &self,
        caller: Option<&str>,
        report_id: Uuid,
        share_token: Option<&str>,
    ) -> Result<Vec<ReportRun>, SupabaseError> {
        Self::send(
            self.reader_rpc(
                caller,
                "read_report_runs",
                json!({"p_report_id": report_id, "p_share_token": share_token}),
            )
            .select("model_id,image_index,repeat,passed,fields_total,fields_matched,cost,response_time_ms,error,unavailable"),
        )
        .await
    }

    /// Stops the watch whose unsubscribe token this is, as the signed-out
    /// holder of the mail's link (`stop_report_watch`); whether one was.
    pub async fn stop_report_watch(&self, token: &str) -> Result<bool, SupabaseError> {
        Self::send(self.reader_rpc(None, "stop_report_watch", json!({ "p_token": token }))).await
    }

    fn reader_rpc(
        &self,
        caller: Option<&str>,
        function: &str,
        args: serde_json::Value,
    ) -> postgrest::Builder {
        let call = self.user_rest.rpc(function, args.to_string());
        match caller {
            Some(token) => call.auth(token),
            None => call,
        }
    }

    /// Today's prices of those of `ids` the catalog offers.
    pub async fn catalog_prices(&self, ids: &[String]) -> Result<Vec<CatalogPrice>, SupabaseError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Self::send(
            self.user_rest
                .from("model_catalog")
                .select("id,prompt_usd_per_mtok,completion_usd_per_mtok,image_usd")
                .eq("active", "true")
                .in_("id", ids),
        )
        .await
    }

    /// What `/ready` judges the service by (`public.readiness()`).
    pub async fn readiness(&self) -> Result<crate::sidecar::Readiness, SupabaseError> {
        Self::send(self.service_rpc("readiness", json!({}))).await
    }

    /// What `/metrics` shows of the shop (`public.operations_metrics()`).
    pub async fn operations_metrics(&self) -> Result<crate::sidecar::ShopFigures, SupabaseError> {
        Self::send(self.service_rpc("operations_metrics", json!({}))).await
    }

    /// The image paths of a report for its share link's holder, when the
    /// owner shares its images; `None` otherwise.
    pub async fn shared_report_images(
        &self,
        report_id: Uuid,
        share_token: &str,
    ) -> Result<Option<Vec<String>>, SupabaseError> {
        Self::send(self.service_rpc(
            "shared_report_images",
            json!({"p_report_id": report_id, "p_share_token": share_token}),
        ))
        .await
    }

    /// The object `path` of `bucket`, read with the service role, as a
    /// response whose body is still to be streamed; `None` when Storage has
    /// no such object, or the name is not one we read (`storage::name_is_safe`).
    pub async fn download_object(
        &self,
        bucket: &str,
        path: &str,
    ) -> Result<Option<reqwest::Response>, SupabaseError> {
        let Some(download) = crate::storage::service_download(
            &self.http,
            &self.storage_url,
            &self.service_role_key,
            bucket,
            path,
        ) else {
            return Ok(None);
        };
        let response = download
            .send()
            .await
            .map_err(|e| SupabaseError::Unavailable(e.to_string()))?;
        match response.status().as_u16() {
            200 => Ok(Some(response)),
            400 | 404 => Ok(None),
            status => Err(SupabaseError::Unavailable(format!(
                "Storage answered {status} to a download"
            ))),
        }
    }

    fn as_user(&self, table: &str, access_token: &str) -> postgrest::Builder {
        self.user_rest.from(table).auth(access_token)
    }

    fn service_rpc(&self, function: &str, args: serde_json::Value) -> postgrest::Builder {
        self.service_rest
            .rpc(function, args.to_string())
            .auth(self.service_role_key.expose_secret())
    }

    async fn send<T: serde::de::DeserializeOwned>(
        builder: postgrest::Builder,
    ) -> Result<T, SupabaseError> {
        let response = builder
            .execute()
            .await
            .map_err(|e| SupabaseError::Unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| SupabaseError::Unavailable(e.to_string()))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&body).map_err(|e| {
                SupabaseError::Unavailable(format!("unexpected answer ({e}): {body:.200}"))
            });
        }
        let error: ApiError = serde_json::from_str(&body).unwrap_or(ApiError {
            code: None,
            message: None,
        });
        let code = error.code.unwrap_or_default();
        let message = error
            .message
            .unwrap_or_else(|| body.chars().take(200).collect());
        match status {
            401 if code != "42501" => Err(SupabaseError::Unauthorized),
            _ if code.starts_with("PT") => Err(SupabaseError::Refused { code, message }),
            _ => Err(SupabaseError::Unavailable(format!(
                "{status} {code}: {message}"
            ))),
        }
    }

    /// The draft if the caller may see it (their own); `None` otherwise.
    pub async fn draft_for_caller(
        &self,
        access_token: &str,
        draft_id: Uuid,
    ) -> Result<Option<Draft>, SupabaseError> {
        #[derive(Deserialize)]
        struct Row {
            status: String,
            selected_models: Vec<String>,
            upload_data: serde_json::Value,
            updated_at: String,
        }
        let rows: Vec<Row> = Self::send(
            self.as_user("benchmark_drafts", access_token)
                .select("status,selected_models,upload_data,updated_at")
                .eq("id", draft_id.to_string()),
        )
        .await?;
        Ok(rows.into_iter().next().map(|row| Draft {
            status: row.status,
            selected_models: row.selected_models,
            image_count: row.upload_data["images"]
                .as_array()
                .map_or(0, |a| a.len() as i32),
            updated_at: row.updated_at,
        }))
    }

    /// `fulfill_checkout`: the report for a paid session, created once.
    pub async fn fulfill_checkout(
        &self,
        session: &CheckoutSession,
        draft_id: Uuid,
        user_id: Uuid,
    ) -> Result<Fulfillment, SupabaseError> {
        let rows: Vec<Fulfillment> = Self::send(self.service_rpc(
            "fulfill_checkout",
            json!({
                "p_stripe_session_id": session.id,
                "p_draft_id": draft_id,
                "p_user_id": user_id,
                "p_amount_total": session.amount_total,
                "p_currency": session.currency,
                "p_payment_intent": session.payment_intent,
            }),
        ))
        .await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| SupabaseError::Unavailable("fulfill_checkout returned no row".into()))
    }

    /// `checkout_session_state`: a session we created (or Stripe told us
    /// about), with its report if it has one; `None` for any other id.
    pub async fn checkout_session_state(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionState>, SupabaseError> {
        let rows: Vec<SessionState> = Self::send(self.service_rpc(
            "checkout_session_state",
            json!({ "p_stripe_session_id": session_id }),
        ))
        .await?;
        Ok(rows.into_iter().next())
    }

    /// `admit_checkout`: counts one checkout against the user's hourly
    /// allowance, or refuses it (`Refused` with code `PT429` and the
    /// sentence to show).
    pub async fn admit_checkout(&self, user_id: Uuid) -> Result<(), SupabaseError> {
        let _admitted: bool =
            Self::send(self.service_rpc("admit_checkout", json!({ "p_user_id": user_id }))).await?;
        Ok(())
    }

    /// `open_checkout_session`: records a new session for a draft; returns
    /// the draft's other open sessions, to expire.
    pub async fn open_checkout_session(
        &self,
        session_id: &str,
        draft_id: Uuid,
    ) -> Result<Vec<String>, SupabaseError> {
        Self::send(self.service_rpc(
            "open_checkout_session",
            json!({ "p_stripe_session_id": session_id, "p_draft_id": draft_id }),
        ))
        .await
    }

    /// `record_checkout_session`: a session's non-paid state; returns the
    /// state it has afterwards (`paid` stays `paid`).
    pub async fn record_checkout_session(
        &self,
        record: &SessionRecord<'_>,
    ) -> Result<String, SupabaseError> {
        Self::send(self.service_rpc(
            "record_checkout_session",
            json!({
                "p_stripe_session_id": record.session_id,
                "p_status": record.status,
                "p_draft_id": record.draft_id,
                "p_amount_total": record.amount_total,
                "p_currency": record.currency,
                "p_detail": record.detail,
                "p_payment_intent": record.payment_intent,
            }),
        ))
        .await
    }

    /// `charge.refunded`: what `record_charge_refunded` made of it
    /// (`refunded`, `already_refunded`, `partially_refunded`, `unknown`).
    pub async fn record_charge_refunded(&self, charge: &Charge) -> Result<String, SupabaseError> {
        Self::send(self.service_rpc(
            "record_charge_refunded",
            json!({
                "p_payment_intent": charge.payment_intent,
                "p_charge_id": charge.id,
                "p_amount": charge.amount,
                "p_amount_refunded": charge.amount_refunded,
            }),
        ))
        .await
    }

    /// `charge.dispute.created`: `recorded`, or `already_recorded`.
    pub async fn record_charge_dispute(&self, dispute: &Dispute) -> Result<String, SupabaseError> {
        Self::send(self.service_rpc(
            "record_charge_dispute",
            json!({
                "p_dispute_id": dispute.id,
                "p_payment_intent": dispute.payment_intent,
                "p_charge_id": dispute.charge,
                "p_amount": dispute.amount,
                "p_currency": dispute.currency,
                "p_reason": dispute.reason,
                "p_status": dispute.status,
            }),
        ))
        .await
    }
}

pub struct SessionRecord<'a> {
    pub session_id: &'a str,
    pub status: &'static str,
    pub draft_id: Option<Uuid>,
    pub amount_total: Option<i64>,
    pub currency: Option<&'a str>,
    pub detail: Option<String>,
    pub payment_intent: Option<&'a str>,
}
