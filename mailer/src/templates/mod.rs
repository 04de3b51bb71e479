//! One module per email kind, each rendering a subject, an HTML part and a plain-text
//! part in the donor's language from the message's payload. The parts are askama
//! templates in `mailer/templates/email/<kind>/` (`subject.txt`, `html.html`,
//! `text.txt`) that extend the shared `base.html` and `base.txt`; the words are Fluent
//! messages in `mailer/locales/<language>/` (see [`words`]). askama escapes every value
//! in the HTML part; every message ends with the organization's postal address.
//!
//! To add a kind: its three templates, a module with `KIND`, its words in every
//! language, `email_templates!` and `render`, and one arm in [`render`].

/// Declares a kind's three templates over its `$mail` (the values its templates show)
/// and `compose`, which renders them: the subject first, since the HTML part's title
/// is the subject. `adjust` changes the shared frame, as an appeal does to drop the
/// greeting and add the unsubscribe line.
macro_rules! email_templates {
    ($mail:ty, $subject:tt, $html:tt, $text:tt) => {
        #[derive(askama::Template)]
        #[template(path = $subject)]
        struct Subject<'a> {
            m: &'a $mail,
        }

        #[derive(askama::Template)]
        #[template(path = $html)]
        struct Html<'a> {
            frame: &'a $crate::templates::layout::Frame,
            m: &'a $mail,
        }

        #[derive(askama::Template)]
        #[template(path = $text)]
        struct Text<'a> {
            frame: &'a $crate::templates::layout::Frame,
            m: &'a $mail,
        }

        fn compose(
            context: $crate::templates::Context<'_>,
            m: &$mail,
            adjust: impl FnOnce(&mut $crate::templates::layout::Frame),
        ) -> Result<$crate::templates::Rendered, $crate::templates::RenderError> {
            use askama::Template as _;
            let subject = Subject { m }.render()?;
            let mut frame = $crate::templates::layout::Frame::new(context, &subject);
            adjust(&mut frame);
            Ok($crate::templates::Rendered {
                html: Html { frame: &frame, m }.render()?,
                text: Text { frame: &frame, m }.render()?,
                subject,
                attachments: Vec::new(),
                headers: Vec::new(),
            })
        }
    };
}

pub mod appeal;
pub mod club_mail;
pub mod club_welcome;
pub mod layout;
pub mod payment_failed;
pub mod pledge_cancelled;
pub mod receipt;
pub mod receipt_voided;
pub mod tier_welcome;
pub mod tribute;
pub mod words;

use std::collections::HashMap;
use std::sync::Mutex;

use entity::enums::{Language, ReceiptStatus};
use entity::{donor, outbox};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::config::Organization;

/// A message ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
    /// Extra headers the message carries, such as `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
}

/// A file sent with a message, such as a receipt's PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a message could not be rendered. Except for a database error, retrying would
/// not help.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no template for email kind {0:?}")]
    UnknownKind(String),
    #[error("the {kind} payload is not usable: {reason}")]
    BadPayload { kind: String, reason: String },
    #[error("{0} no longer exists")]
    Missing(String),
    #[error("the receipt's PDF could not be typeset: {0}")]
    Pdf(String),
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error("a template failed: {0}")]
    Template(#[from] askama::Error),
}

/// What every template may use.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub org: &'a Organization,
    pub language: Language,
    /// The recipient's name as the message was queued.
    pub to_name: Option<&'a str>,
    /// Signs links to receipts, when configured.
    pub links: Option<&'a crate::links::DownloadLinks>,
}

/// What rendering a batch of messages reads from the database, read for the whole batch
/// at once: the receipts its receipt emails name, the PDFs they lack (typeset when
/// read, stored together by [`Prefetched::store`]), and their donors' link versions;
/// then, as its own delivery begins ([`Prefetched::read_before_sending`]), the PDFs
/// stored earlier and whether its appeals' donors still want them. Each message
/// takes its receipt out when it renders.
#[derive(Debug, Default)]
pub struct Prefetched {
    receipts: Mutex<HashMap<i64, entity::receipt::Model>>,
    link_versions: HashMap<i64, i64>,
    /// PDFs typeset for receipts that had none, not stored yet.
    typeset: Mutex<Vec<(i64, Vec<u8>)>>,
    /// The donors the batch's appeals are addressed to.
    appeal_donors: Vec<i64>,
    /// Those donors as they were when the batch's delivery began (`None`: no longer
    /// exists); empty until then.
    appeal_recipients: Mutex<HashMap<i64, Option<appeal::Recipient>>>,
}

impl Prefetched {
    /// Reads what `messages` will need, in one statement per table, and typesets the
    /// PDFs their receipts lack.
    pub async fn read(
        db: &sea_orm::DatabaseConnection,
        messages: &[outbox::Model],
    ) -> Result<Prefetched, DbErr> {
        let mut appeal_donors: Vec<i64> = messages
            .iter()
            .filter(|m| m.kind == appeal::KIND)
            .filter_map(|m| m.donor_id)
            .collect();
        appeal_donors.sort_unstable();
        appeal_donors.dedup();
        let ids: Vec<i64> = messages
            .iter()
            .filter(|m| m.kind == receipt::KIND)
            .filter_map(|m| m.payload.get("receipt_id")?.as_i64())
            .collect();
        if ids.is_empty() {
            return Ok(Prefetched {
                appeal_donors,
                ..Prefetched::default()
            });
        }
        // Stored PDFs stay in the database until the batch's delivery begins
        // (`read_before_sending`): reading the batch holds only the PDFs it typesets.
        let read = crate::documents::receipts_without_pdfs(db, ids).await?;
        let mut donors: Vec<i64> = read.iter().map(|(r, _)| r.donor_id).collect();
        donors.sort_unstable();
        donors.dedup();
        let link_versions = donor::Entity::find()
            .select_only()
            .column(donor::Column::Id)
            .column(donor::Column::LinkVersion)
            .filter(donor::Column::Id.is_in(donors))
            .into_tuple::<(i64, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let typeset = crate::documents::typeset_missing(&read).await;
        Ok(Prefetched {
            receipts: Mutex::new(read.into_iter().map(|(r, _)| (r.id, r)).collect()),
            link_versions,
            typeset: Mutex::new(typeset),
            appeal_donors,
            appeal_recipients: Mutex::default(),
        })
    }

    /// Stores the PDFs [`Prefetched::read`] typeset, in one transaction, before any
    /// message of the batch renders: each receipt stored then carries its PDF. If that
    /// fails, or someone stored a receipt's PDF first, the message reads what is stored
    /// (or typesets and stores its own).
    pub async fn store(&self, db: &sea_orm::DatabaseConnection) {
        let typeset = match self.typeset.lock() {
            Ok(mut typeset) => std::mem::take(&mut *typeset),
            Err(_) => return,
        };
        let stored = match crate::documents::store_typeset(db, typeset).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "cannot store a batch's receipt PDFs together");
                return;
            }
        };
        self.hold_pdfs(stored);
    }

    /// Reads, as the batch's delivery begins, what each message would otherwise read
    /// on its own: the PDFs stored for its receipts, and its appeals' donors as they are
    /// now. One statement each; if one fails, each message reads its own.
    pub async fn read_before_sending(&self, db: &impl ConnectionTrait) {
        self.read_stored(db).await;
        self.read_appeal_recipients(db).await;
    }

    /// Whether the batch's appeals may still go: their donors as they are now.
    async fn read_appeal_recipients(&self, db: &impl ConnectionTrait) {
        if self.appeal_donors.is_empty() {
            return;
        }
        let mut found = match appeal::recipients(db, self.appeal_donors.clone()).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "cannot read a batch's appeal recipients together");
                return;
            }
        };
        let Ok(mut recipients) = self.appeal_recipients.lock() else {
            return;
        };
        for id in &self.appeal_donors {
            recipients.insert(*id, found.remove(id));
        }
    }

    /// The donor `id` as the batch read it when its delivery began (`Some(None)`: no
    /// longer exists); `None` when the batch did not read it.
    pub fn appeal_recipient(&self, id: i64) -> Option<Option<appeal::Recipient>> {
        self.appeal_recipients.lock().ok()?.get(&id).cloned()
    }

    /// The PDFs stored for the batch's receipts that it does not hold yet, so its
    /// messages read none one by one. Only the batch being sent holds them (a batch only
    /// read holds what it typeset), and each message takes its receipt's PDF away when it
    /// renders.
    async fn read_stored(&self, db: &impl ConnectionTrait) {
        let wanted: Vec<i64> = match self.receipts.lock() {
            Ok(receipts) => receipts
                .values()
                .filter(|r| r.content_pdf.is_none() && r.status == ReceiptStatus::Issued)
                .map(|r| r.id)
                .collect(),
            Err(_) => return,
        };
        if wanted.is_empty() {
            return;
        }
        let stored = match crate::documents::stored_pdfs(db, wanted).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "cannot read a batch's stored receipt PDFs together");
                return;
            }
        };
        self.hold_pdfs(stored);
    }

    /// Gives the batch's receipts the PDFs stored for them, each beside its receipt's id.
    fn hold_pdfs(&self, stored: Vec<(i64, Vec<u8>)>) {
        let Ok(mut receipts) = self.receipts.lock() else {
            return;
        };
        for (id, pdf) in stored {
            if let Some(receipt) = receipts.get_mut(&id) {
                receipt.content_pdf = Some(pdf);
            }
        }
    }

    /// How many PDFs the batch holds in memory, and their bytes: those typeset and not
    /// stored yet, and those stored with its receipts.
    pub fn pdfs_held(&self) -> (usize, usize) {
        let mut held = (0, 0);
        let mut count = |pdf: &[u8]| {
            held.0 += 1;
            held.1 += pdf.len();
        };
        if let Ok(typeset) = self.typeset.lock() {
            typeset.iter().for_each(|(_, pdf)| count(pdf));
        }
        if let Ok(receipts) = self.receipts.lock() {
            receipts
                .values()
                .filter_map(|r| r.content_pdf.as_deref())
                .for_each(&mut count);
        }
        held
    }

    /// The receipt read for the batch, handed to the one message that names it.
    fn take_receipt(&self, id: i64) -> Option<entity::receipt::Model> {
        self.receipts.lock().ok()?.remove(&id)
    }

    fn link_version(&self, donor_id: i64) -> Option<i64> {
        self.link_versions.get(&donor_id).copied()
    }
}

/// Renders a queued message with the template its kind names.
pub async fn render(
    db: &impl ConnectionTrait,
    org: &Organization,
    links: Option<&crate::links::DownloadLinks>,
    message: &outbox::Model,
) -> Result<Rendered, RenderError> {
    render_prefetched(db, org, links, message, &Prefetched::default()).await
}

/// [`render`], with what was read for its batch; anything not there is read now.
pub async fn render_prefetched(
    db: &impl ConnectionTrait,
    org: &Organization,
    links: Option<&crate::links::DownloadLinks>,
    message: &outbox::Model,
    prefetched: &Prefetched,
) -> Result<Rendered, RenderError> {
    let context = Context {
        org,
        links,
        language: message.language,
        to_name: message.to_name.as_deref(),
    };
    match message.kind.as_str() {
        receipt::KIND => {
            receipt::render_prefetched(db, context, &message.payload, prefetched).await
        }
        appeal::KIND => appeal::render(context, &message.payload),
        receipt_voided::KIND => receipt_voided::render(db, context, &message.payload).await,
        club_welcome::KIND => club_welcome::render(db, context, &message.payload).await,
        tier_welcome::KIND => tier_welcome::render(db, context, &message.payload).await,
        payment_failed::KIND => payment_failed::render(db, context, &message.payload).await,
        pledge_cancelled::KIND => pledge_cancelled::render(db, context, &message.payload).await,
        tribute::KIND => tribute::render(context, &message.payload),
        other => Err(RenderError::UnknownKind(other.to_owned())),
    }
}

/// The name of the tier the organization started with, which reads differently in
/// each language.
pub const CIRCLE_OF_FRIENDS: &str = "Circle of Friends";

/// A tier's name as a donor reading `language` sees it: the name staff wrote in that
/// language; failing that, for the tier the organization started with, its name in each
/// language; otherwise the tier's own name.
pub fn tier_name(language: Language, tier: &entity::giving_tier::Model) -> &str {
    match tier
        .translations
        .as_ref()
        .and_then(|t| t.get(language, entity::TranslatedField::Name))
    {
        Some(name) => name,
        None => built_in_tier_name(language, &tier.name),
    }
}

/// What a tier's members receive, as a donor reading `language` sees it: staff's text
/// in that language, otherwise the tier's own.
pub fn tier_benefits(language: Language, tier: &entity::giving_tier::Model) -> Option<&str> {
    let own = tier.benefits.as_deref()?;
    Some(entity::localized(
        tier.translations.as_ref(),
        language,
        entity::TranslatedField::Benefits,
        own,
    ))
}

/// The tier the organization started with reads differently in each language; any
/// other name is shown as staff wrote it.
pub(crate) fn built_in_tier_name(language: Language, name: &str) -> &str {
    if name == CIRCLE_OF_FRIENDS {
        words::circle_of_friends(language)
    } else {
        name
    }
}

/// The version a donor's links are signed with now (see [`crate::links`]); `None`
/// when the donor no longer exists.
pub(crate) async fn donor_link_version(
    db: &impl ConnectionTrait,
    donor_id: i64,
) -> Result<Option<i64>, RenderError> {
    use sea_orm::{EntityTrait, QuerySelect};
    Ok(entity::donor::Entity::find_by_id(donor_id)
        .select_only()
        .column(entity::donor::Column::LinkVersion)
        .into_tuple::<i64>()
        .one(db)
        .await?)
}

/// Reads an integer field of a payload.
pub(crate) fn payload_id(
    kind: &str,
    payload: &serde_json::Value,
    field: &str,
) -> Result<i64, RenderError> {
    payload
        .get(field)
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| RenderError::BadPayload {
            kind: kind.to_owned(),
            reason: format!("{field} must be an integer"),
        })
}

/// The organization as the defaults leave it, for the templates' tests.
#[cfg(test)]
pub(crate) fn placeholder_organization() -> Organization {
    use crate::config::{PLACEHOLDER_ADDRESS, PLACEHOLDER_EIN, PLACEHOLDER_LEGAL_NAME};
    Organization {
        legal_name: PLACEHOLDER_LEGAL_NAME.to_owned(),
        ein: PLACEHOLDER_EIN.to_owned(),
        address: PLACEHOLDER_ADDRESS.to_owned(),
        timezone: chrono_tz::America::Los_Angeles,
        tribute_notifications_per_day: 3,
    }
}
