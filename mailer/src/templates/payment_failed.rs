//! A pledge installment's card payment failed: asks the donor to update their card.

use sea_orm::ConnectionTrait;

use super::club_mail::{load_pledge, manage_url, pledge_words};
use super::layout::Link;
use super::words::Words;
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "payment_failed";

/// What the templates in `templates/email/payment_failed/` show.
struct Mail {
    subject: String,
    failed: String,
    retry: String,
    manage: Option<Link>,
}

email_templates!(
    Mail,
    "email/payment_failed/subject.txt",
    "email/payment_failed/html.html",
    "email/payment_failed/text.txt"
);

/// Payload: `{ "pledge_id": 12, "donor_id": 3, "invoice_id": "in_..." }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let pledge = load_pledge(db, KIND, payload).await?;
    let words = Words::new(context.language);
    let pledged = pledge_words(&pledge, words);
    let manage = manage_url(db, context, payload)
        .await?
        .map(|url| Link::new(context, words.get("payment-failed-link"), &url));
    let mail = Mail {
        subject: words.get("payment-failed-subject"),
        failed: words.with("payment-failed-body", &[("pledge", &pledged)]),
        retry: words.get("payment-failed-retry"),
        manage,
    };
    compose(context, &mail, |_| {})
}
