//! Welcome to the Monthly Giving Club, sent when a donor's new pledge begins.

use sea_orm::ConnectionTrait;

use super::club_mail::{load_pledge, manage_url, pledge_words};
use super::layout::Link;
use super::words::Words;
use super::{Context, RenderError, Rendered};

pub const KIND: &str = "club_welcome";

/// What the templates in `templates/email/club_welcome/` show.
struct Mail {
    subject: String,
    thanks: String,
    steady: String,
    manage: Option<Link>,
}

email_templates!(
    Mail,
    "email/club_welcome/subject.txt",
    "email/club_welcome/html.html",
    "email/club_welcome/text.txt"
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
    let manage = manage_url(db, context, payload)
        .await?
        .map(|url| Link::new(context, words.get("club-welcome-link"), &url));
    let mail = Mail {
        subject: words.get("club-welcome-subject"),
        thanks: words.with(
            "club-welcome-thanks",
            &[("pledge", &pledged), ("org", &context.org.legal_name)],
        ),
        steady: words.get("club-welcome-steady"),
        manage,
    };
    compose(context, &mail, |_| {})
}
