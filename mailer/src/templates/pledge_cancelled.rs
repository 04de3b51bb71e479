//! A pledge was cancelled: thanks the donor and offers a way back.

use sea_orm::ConnectionTrait;

use super::club_mail::{load_pledge, pledge_words};
use super::layout::Link;
use super::words::Words;
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "pledge_cancelled";

/// What the templates in `templates/email/pledge_cancelled/` show.
struct Mail {
    subject: String,
    cancelled: String,
    come_back: String,
    donate: Option<Link>,
}

email_templates!(
    Mail,
    "email/pledge_cancelled/subject.txt",
    "email/pledge_cancelled/html.html",
    "email/pledge_cancelled/text.txt"
);

/// Payload: `{ "pledge_id": 12, "donor_id": 3 }`.
pub async fn render(
    db: &impl ConnectionTrait,
    context: Context<'_>,
    payload: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let pledge = load_pledge(db, KIND, payload).await?;
    let words = Words::new(context.language);
    let pledged = pledge_words(&pledge, words);
    let donate = context
        .links
        .and_then(|links| links.page_url("donate"))
        .map(|url| Link::new(context, words.get("pledge-cancelled-link"), &url));
    let mail = Mail {
        subject: words.get("pledge-cancelled-subject"),
        cancelled: words.with(
            "pledge-cancelled-body",
            &[("pledge", &pledged), ("org", &context.org.legal_name)],
        ),
        come_back: words.get("pledge-cancelled-return"),
        donate,
    };
    compose(context, &mail, |_| {})
}
