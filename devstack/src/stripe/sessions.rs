//! Checkout Sessions: created, retrieved, shown on a hosted pay page whose
//! Pay button marks them paid and sends `checkout.session.completed`.

use serde_json::{json, Value};
use warp::http::{header, HeaderMap, StatusCode};
use warp::reply::{Reply, Response};

use super::form::Form;
use super::{random_id, stripe_error, Refusal, Stripe};

impl Stripe {
    pub(super) fn create_session(&self, form: &Form) -> Result<Value, Refusal> {
        for required in [
            "mode",
            "success_url",
            "cancel_url",
            "line_items[0][price_data][currency]",
            "line_items[0][price_data][product_data][name]",
        ] {
            form.require(required)?;
        }
        let quantity = form.integer("line_items[0][quantity]")?;
        let unit_amount = form.integer("line_items[0][price_data][unit_amount]")?;
        let id = random_id("cs_test_");
        let now = chrono::Utc::now().timestamp();
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "url": format!("{}/pay/{id}", self.config.public_url),
            "amount_subtotal": unit_amount * quantity,
            "amount_total": unit_amount * quantity,
            "currency": form.get("line_items[0][price_data][currency]"),
            "customer_email": form.get("customer_email"),
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.object("metadata["),
            "payment_intent": null,
            "payment_intent_data": {
                "metadata": form.object("payment_intent_data[metadata]["),
                "receipt_email": form.get("payment_intent_data[receipt_email]"),
            },
            "invoice_creation": {"enabled": form.get("invoice_creation[enabled]").as_deref() == Some("true")},
            "tax_id_collection": {"enabled": form.get("tax_id_collection[enabled]").as_deref() == Some("true")},
            "automatic_tax": {"enabled": form.get("automatic_tax[enabled]").as_deref() == Some("true")},
            "line_items": [{
                "quantity": quantity,
                "name": form.get("line_items[0][price_data][product_data][name]"),
                "description": form.get("line_items[0][price_data][product_data][description]"),
                "unit_amount": unit_amount,
            }],
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "livemode": false,
            "created": now,
            "expires_at": now + 24 * 3600,
        });
        self.state
            .lock()
            .unwrap()
            .sessions
            .insert(id, session.clone());
        Ok(session)
    }

    pub(super) fn retrieve_session(&self, headers: &HeaderMap, id: &str) -> Response {
        if let Some(refused) = self.admit(headers) {
            return refused;
        }
        let mut state = self.state.lock().unwrap();
        state.retrievals.push(id.to_owned());
        match state.sessions.get(id) {
            Some(session) => warp::reply::json(session).into_response(),
            None => stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("No such checkout.session: '{id}'"),
                Some("session"),
            ),
        }
    }

    /// `POST /v1/checkout/sessions/:id/expire`: an open session can no
    /// longer be paid; `checkout.session.expired` goes out. Any other is
    /// refused, as Stripe does.
    pub(super) fn expire_session(&self, headers: &HeaderMap, id: &str) -> Response {
        if let Some(refused) = self.admit(headers) {
            return refused;
        }
        let expired = {
            let mut state = self.state.lock().unwrap();
            let Some(session) = state.sessions.get_mut(id) else {
                return stripe_error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("No such checkout.session: '{id}'"),
                    Some("session"),
                );
            };
            if session["status"] != "open" {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!(
                        "Only Checkout Sessions with a status in [\"open\"] can be expired; this one is {}.",
                        session["status"]
                    ),
                    None,
                );
            }
            session["status"] = json!("expired");
            session.clone()
        };
        self.deliver("checkout.session.expired", expired.clone());
        warp::reply::json(&expired).into_response()
    }

    pub(super) fn pay_page(&self, id: &str) -> Response {
        let Some(session) = self.state.lock().unwrap().sessions.get(id).cloned() else {
            return warp::reply::with_status(
                warp::reply::html("<h1>No such checkout</h1>".to_owned()),
                StatusCode::NOT_FOUND,
            )
            .into_response();
        };
        let item = &session["line_items"][0];
        let text = |v: &Value| {
            v.as_str()
                .unwrap_or("")
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;")
        };
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let paid = session["payment_status"] == "paid";
        let expired = session["status"] == "expired";
        let html = format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (test mode)</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;background:#f6f9fc;color:#1a1f36;display:grid;place-items:center;min-height:100vh;margin:0}}
main{{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 4px 24px #0001;max-width:26rem}}
.badge{{background:#ffde92;color:#5f3e00;border-radius:4px;padding:0 .4rem;font-size:.8rem}}
button{{width:100%;padding:.8rem;border:0;border-radius:6px;background:#635bff;color:#fff;font-size:1rem;cursor:pointer}}</style></head>
<body><main><p><span class="badge">TEST MODE</span> Local Stripe stand-in</p>
<h1 id="product">{name}</h1><p id="description">{description}</p>
<p id="amount"><strong>{dollars}.{cents:02} {currency}</strong></p><p id="email">{email}</p>
{action}
<p><a id="cancel" href="{cancel}">Cancel and go back</a></p></main></body></html>"#,
            name = text(&item["name"]),
            description = text(&item["description"]),
            dollars = amount / 100,
            cents = amount % 100,
            currency = text(&session["currency"]).to_uppercase(),
            email = text(&session["customer_email"]),
            cancel = text(&session["cancel_url"]),
            action = if paid {
                "<p id=\"paid\">This checkout is already paid.</p>".to_owned()
            } else if expired {
                "<p id=\"expired\">This checkout has expired.</p>".to_owned()
            } else {
                format!("<form method=\"post\" action=\"/pay/{id}\"><button id=\"pay\" type=\"submit\">Pay</button></form>")
            },
        );
        warp::reply::html(html).into_response()
    }

    /// The Pay button: the session becomes complete and paid, the
    /// `checkout.session.completed` event goes out, the browser goes on to
    /// `success_url`.
    pub(super) fn pay(&self, id: &str) -> Response {
        let session = {
            let mut state = self.state.lock().unwrap();
            let Some(session) = state.sessions.get_mut(id) else {
                return stripe_error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("No such checkout.session: '{id}'"),
                    None,
                );
            };
            if session["status"] == "expired" {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "This Checkout Session has expired and can no longer be paid.".into(),
                    None,
                );
            }
            let first_payment = session["payment_status"] != "paid";
            if first_payment {
                session["status"] = json!("complete");
                session["payment_status"] = json!("paid");
                session["payment_intent"] = json!(random_id("pi_test_"));
            }
            (session.clone(), first_payment)
        };
        let (session, first_payment) = session;
        if first_payment {
            self.charge_for(&session);
            self.deliver("checkout.session.completed", session.clone());
        }
        let success = session["success_url"]
            .as_str()
            .unwrap_or("/")
            .replace("{CHECKOUT_SESSION_ID}", id);
        let mut response = Response::new(Vec::<u8>::new().into());
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(
            header::LOCATION,
            success.parse().unwrap_or_else(|_| "/".parse().unwrap()),
        );
        response
    }
}
