//! An email appeal to one donor. The message and subject arrive already merged for the
//! donor (first name, last gift, ask amount, personal donate link); this template adds
//! the club invitation and the unsubscribe line in the donor's language, and the
//! `List-Unsubscribe` headers that let mail clients unsubscribe in one click. Every link
//! carries the donor's language, also in messages queued before links did.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::donor;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;

use super::layout::Link;
use super::words::Words;
use super::{CIRCLE_OF_FRIENDS, Context, RenderError, Rendered};
use crate::links;

pub const KIND: &str = "appeal";

/// What decides whether a queued appeal may still go to its donor, read when its batch's
/// delivery begins: the donor may have opted out, or their address changed, since it
/// was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub appeals_unsubscribed: bool,
    pub email_consent: bool,
    pub email_suppressed: bool,
    pub email: Option<String>,
}

/// Why an appeal queued for `to_address` must not go now to its donor, `found` as the
/// donor is now (`None`: the donor no longer exists); `None` when it may go.
pub fn refusal(found: Option<&Recipient>, to_address: &str) -> Option<String> {
    let Some(found) = found else {
        return Some("the donor no longer exists".to_owned());
    };
    if found.appeals_unsubscribed {
        Some("the donor unsubscribed from appeals".to_owned())
    } else if !found.email_consent {
        Some("the donor withdrew consent to email".to_owned())
    } else if found.email_suppressed {
        Some("the donor's address refuses mail".to_owned())
    } else if found.email.as_deref() != Some(to_address) {
        Some("the donor's address changed".to_owned())
    } else {
        None
    }
}

/// The donors `ids` as they are now, for [`refusal`], in one statement; a donor that no
/// longer exists is left out.
pub async fn recipients(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<HashMap<i64, Recipient>, DbErr> {
    let rows = donor::Entity::find()
        .select_only()
        .column(donor::Column::Id)
        .column(donor::Column::AppealsUnsubscribedAt)
        .column(donor::Column::EmailConsent)
        .column(donor::Column::EmailSuppressedAt)
        .column(donor::Column::Email)
        .filter(donor::Column::Id.is_in(ids))
        .into_tuple::<(
            i64,
            Option<DateTime<Utc>>,
            bool,
            Option<DateTime<Utc>>,
            Option<String>,
        )>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, unsubscribed, consent, suppressed, email)| {
            let recipient = Recipient {
                appeals_unsubscribed: unsubscribed.is_some(),
                email_consent: consent,
                email_suppressed: suppressed.is_some(),
                email,
            };
            (id, recipient)
        })
        .collect())
}

/// What the domain queues for each donor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppealPayload {
    pub appeal_id: i64,
    pub subject: String,
    pub body: String,
    /// The language the subject and body are written in, when it is not the donor's
    /// (the appeal has no text in the donor's language); messages queued before it was
    /// written down are taken to be in the donor's.
    #[serde(default)]
    pub content_language: Option<String>,
    pub donate_url: String,
    /// The monthly amount that brings the donor into the Circle ("$42"), when the
    /// appeal invites donors not yet in it.
    pub club_monthly_ask: Option<String>,
    /// The same amount in minor units with its currency, so it is written the way the
    /// donor's language writes amounts; messages queued before it was written down
    /// show `club_monthly_ask` as it was.
    #[serde(default)]
    pub club_monthly_ask_minor: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// The name of the Circle the invitation is to; messages queued before it was
    /// written down are about the Circle of Friends.
    #[serde(default)]
    pub circle_name: Option<String>,
    pub unsubscribe_url: String,
}

/// What the templates in `templates/email/appeal/` show.
struct Mail {
    subject: String,
    /// The message's paragraphs, each as its lines.
    paragraphs: Vec<Vec<String>>,
    /// The message as written, for the plain-text part.
    body: String,
    /// The message's `lang` and `dir` when it is not in the donor's language, so it is
    /// read and spoken in its own.
    body_language: Option<(&'static str, &'static str)>,
    donate: Link,
    invitation: Option<String>,
}

email_templates!(
    Mail,
    "email/appeal/subject.txt",
    "email/appeal/html.html",
    "email/appeal/text.txt"
);

/// Renders an appeal from its payload.
pub fn render(context: Context<'_>, payload: &serde_json::Value) -> Result<Rendered, RenderError> {
    let appeal: AppealPayload =
        serde_json::from_value(payload.clone()).map_err(|e| RenderError::BadPayload {
            kind: KIND.to_owned(),
            reason: e.to_string(),
        })?;
    let words = Words::new(context.language);
    let monthly = match (appeal.club_monthly_ask_minor, appeal.currency.as_deref()) {
        (Some(minor), Some(currency)) if appeal.club_monthly_ask.is_some() => {
            Some(words.stored_amount(minor, currency))
        }
        _ => appeal.club_monthly_ask.clone(),
    };
    let invitation = monthly.map(|monthly| {
        let circle = appeal.circle_name.as_deref().unwrap_or(CIRCLE_OF_FRIENDS);
        words.with(
            "appeal-club-invitation",
            &[("monthly", &monthly), ("circle", words.tier_name(circle))],
        )
    });
    let paragraphs = appeal
        .body
        .split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| paragraph.lines().map(str::to_owned).collect())
        .collect();
    let unsubscribe_url = links::with_language(&appeal.unsubscribe_url, context.language);
    let body_language = appeal
        .content_language
        .as_deref()
        .and_then(entity::enums::Language::parse)
        .filter(|language| *language != context.language)
        .map(|language| {
            let dir = if language == entity::enums::Language::Arabic {
                "rtl"
            } else {
                "ltr"
            };
            (language.as_str(), dir)
        });
    let mail = Mail {
        body_language,
        paragraphs,
        body: appeal.body.trim_end().to_owned(),
        donate: Link::new(context, words.get("appeal-give"), &appeal.donate_url),
        invitation,
        subject: appeal.subject,
    };
    let mut rendered = compose(context, &mail, |frame| {
        // The message greets the donor itself.
        frame.greeting = None;
        frame.unsubscribe = Some(Link::new(
            context,
            words.get("unsubscribe-line"),
            &unsubscribe_url,
        ));
    })?;
    rendered.headers = vec![
        (
            "List-Unsubscribe".to_owned(),
            format!("<{unsubscribe_url}>"),
        ),
        (
            "List-Unsubscribe-Post".to_owned(),
            "List-Unsubscribe=One-Click".to_owned(),
        ),
    ];
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use entity::enums::Language;

    use super::*;
    use crate::templates::placeholder_organization as organization;

    #[test]
    fn an_appeal_goes_only_to_a_donor_who_still_wants_it_at_that_address() {
        let willing = Recipient {
            appeals_unsubscribed: false,
            email_consent: true,
            email_suppressed: false,
            email: Some("ana@example.org".to_owned()),
        };
        assert_eq!(refusal(Some(&willing), "ana@example.org"), None);
        let cases = [
            (None, "the donor no longer exists"),
            (
                Some(Recipient {
                    appeals_unsubscribed: true,
                    ..willing.clone()
                }),
                "the donor unsubscribed from appeals",
            ),
            (
                Some(Recipient {
                    email_consent: false,
                    ..willing.clone()
                }),
                "the donor withdrew consent to email",
            ),
            (
                Some(Recipient {
                    email_suppressed: true,
                    ..willing.clone()
                }),
                "the donor's address refuses mail",
            ),
            (
                Some(Recipient {
                    email: Some("ana@elsewhere.example.org".to_owned()),
                    ..willing.clone()
                }),
                "the donor's address changed",
            ),
            (
                Some(Recipient {
                    email: None,
                    ..willing.clone()
                }),
                "the donor's address changed",
            ),
        ];
        for (found, reason) in cases {
            assert_eq!(
                refusal(found.as_ref(), "ana@example.org").as_deref(),
                Some(reason),
                "{found:?}"
            );
        }
    }

    #[test]
    fn an_arabic_appeal_speaks_arabic_around_the_message_and_links_in_arabic()
    -> Result<(), RenderError> {
        let org = organization();
        let context = Context {
            org: &org,
            language: Language::Arabic,
            to_name: Some("ليلى حداد"),
            links: None,
        };
        let payload = serde_json::json!({
            "appealId": 7,
            "subject": "ليلى، قفي معنا",
            "body": "مرحبًا ليلى،\n\nسطر أول\nسطر ثانٍ <b>",
            "donateUrl": "https://give.example.org/donate?appeal=FALL&t=1.2.3.ab",
            "clubMonthlyAsk": "$42.00",
            "clubMonthlyAskMinor": 4_200,
            "currency": "USD",
            "unsubscribeUrl": "https://give.example.org/appeals/unsubscribe?donor=3&signature=ab",
        });

        let email = render(context, &payload)?;

        assert_eq!(email.subject, "ليلى، قفي معنا");
        assert!(
            email
                .text
                .starts_with("مرحبًا ليلى،\n\nسطر أول\nسطر ثانٍ <b>\n\nللتبرع اليوم: https://give.example.org/donate?appeal=FALL&t=1.2.3.ab&lang=ar\n"),
            "{}",
            email.text
        );
        assert!(
            email.text.contains(
                "عضوية دائرة الأصدقاء متاحة عبر نادي العطاء الشهري بمبلغ 42,00\u{a0}$ شهريًا."
            ),
            "{}",
            email.text
        );
        assert!(
            email.text.ends_with(
                "لإيقاف رسائل المناشدة (سيستمر وصول إيصالاتك): https://give.example.org/appeals/unsubscribe?donor=3&signature=ab&lang=ar\n"
            ),
            "{}",
            email.text
        );
        assert!(
            email.html.contains("<p>سطر أول<br>سطر ثانٍ &#60;b&#62;</p>"),
            "{}",
            email.html
        );
        assert_eq!(
            email.headers[0],
            (
                "List-Unsubscribe".to_owned(),
                "<https://give.example.org/appeals/unsubscribe?donor=3&signature=ab&lang=ar>"
                    .to_owned()
            )
        );
        Ok(())
    }
}
