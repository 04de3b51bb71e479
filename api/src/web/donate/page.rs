//! The donation pages' views: what `api/templates/donate*.html` show, worked out from
//! the form, its errors, the appeal's campaign and the Circle.

use askama::Template;
use entity::Currency;
use entity::enums::Language;
use fluent_templates::fluent_bundle::FluentValue;

use super::super::amounts::{amount_placeholder, money, whole_money};
use super::super::checkout_guard::{self, HONEYPOT_FIELD};
use super::super::i18n::{Words, tier_name};
use super::super::page::Layout;
use super::form::{DonationForm, FieldError};
use super::reads::PagePresets;
use crate::domain::payments::AppealProgress;
use crate::domain::tiers::Circle;

/// Preset amounts, in whole units of the page's currency, besides the monthly amount
/// that reaches the Circle.
const PRESETS: [u32; 4] = [25, 50, 100, 250];

pub(super) struct FormView<'a> {
    pub(super) lang: Language,
    pub(super) form: &'a DonationForm,
    pub(super) errors: &'a [FieldError],
    pub(super) funds: &'a [(String, String)],
    pub(super) appeal: Option<&'a AppealProgress>,
    /// Said above the form: Stripe could not be reached, or the form must be sent again.
    pub(super) notice: Option<String>,
    pub(super) guard: &'a checkout_guard::CheckoutGuard,
    /// The preset amounts, the Circle's monthly amount among them with its note.
    pub(super) presets: &'a PagePresets,
}

/// The monthly amount, in whole units of the page's currency, that reaches the Circle.
fn circle_preset(circle: &Circle) -> Option<u32> {
    u32::try_from(circle.monthly_minor() / 100).ok()
}

/// The page's preset amounts in whole units, smallest first: the standing ones and the
/// Circle's monthly amount.
fn presets(circle: Option<&Circle>) -> Vec<u32> {
    let mut all = PRESETS.to_vec();
    if let Some(monthly) = circle.and_then(circle_preset)
        && !all.contains(&monthly)
    {
        all.push(monthly);
        all.sort_unstable();
    }
    all
}

/// A preset amount as a page in one language writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetWords {
    /// In whole units of the page's currency.
    pub amount: u32,
    pub label: String,
    /// The Circle's note, beside the monthly amount that joins it.
    pub note: Option<String>,
}

/// The preset amounts a page in `language` offers in `currency`, smallest first, with
/// the Circle's note beside its monthly amount.
pub(super) fn preset_words(
    language: Language,
    circle: Option<&Circle>,
    currency: Currency,
) -> Vec<PresetWords> {
    let circle_monthly = circle.and_then(circle_preset);
    presets(circle)
        .into_iter()
        .map(|amount| PresetWords {
            amount,
            label: whole_money(language, i64::from(amount) * 100, currency),
            note: circle
                .filter(|_| Some(amount) == circle_monthly)
                .map(|circle| circle_note(language, circle, currency)),
        })
        .collect()
}

/// One preset amount's radio button.
pub struct Preset<'a> {
    pub value: String,
    pub label: &'a str,
    pub checked: bool,
    /// The Circle's note, beside the monthly amount that joins it.
    pub note: Option<&'a str>,
}

/// A line of the error summary: the message and the field it leads to.
pub struct ErrorLink {
    pub target: String,
    pub message: String,
}

/// The appeal's campaign: how far it got, or, once ended, what it raised.
pub struct CampaignView {
    pub name: String,
    pub raised: String,
    pub goal: String,
    pub max: i64,
    pub value: i64,
    /// The result, said instead of a progress bar once the campaign has ended.
    pub ended: Option<String>,
}

pub struct FundOption {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "donate.html")]
pub(super) struct DonatePage<'a> {
    layout: Layout,
    t: Words,
    form: &'a DonationForm,
    errors: &'a [FieldError],
    summary: Vec<ErrorLink>,
    campaign: Option<CampaignView>,
    notice: Option<String>,
    honeypot: Option<&'a str>,
    honeypot_field: &'static str,
    minimum_hint: &'a str,
    presets: Vec<Preset<'a>>,
    other_checked: bool,
    placeholder: String,
    funds: Vec<FundOption>,
}

impl DonatePage<'_> {
    /// The message of `field`'s error, when it has one.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// The Circle's note: the monthly amount that joins it, its name and its yearly threshold,
/// all from the tier.
fn circle_note(language: Language, circle: &Circle, currency: Currency) -> String {
    Words(language).with(
        "donate-circle-note",
        &[
            (
                "monthly",
                FluentValue::from(whole_money(language, circle.monthly_minor(), currency)),
            ),
            (
                "circle",
                FluentValue::from(tier_name(language, &circle.tier).to_owned()),
            ),
            (
                "yearly",
                FluentValue::from(whole_money(language, circle.tier.threshold_minor, currency)),
            ),
        ],
    )
}

/// Where an error's link in the summary leads: the control at fault. An amount error
/// leads to the typed amount when the donor typed or chose "Other", to the checked
/// preset otherwise.
fn error_target(field: &str, form: &DonationForm, presets: &[u32]) -> String {
    match field {
        "frequency" => "frequency-once".to_owned(),
        "tribute_kind" => "tribute-none".to_owned(),
        "amount" if form.amount_is_other() => "amount_other".to_owned(),
        "amount" => {
            let preset = presets
                .iter()
                .find(|p| p.to_string() == form.amount)
                .or(presets.first());
            preset.map_or("amount_other".to_owned(), |p| format!("amount-{p}"))
        }
        other => other.to_owned(),
    }
}

fn campaign_view(language: Language, progress: &AppealProgress) -> Option<CampaignView> {
    if progress.goal_minor <= 0 {
        return None;
    }
    let currency = Currency::parse(&progress.currency).unwrap_or(Currency::Usd);
    let raised = money(language, progress.raised_minor, currency);
    let goal = money(language, progress.goal_minor, currency);
    let ended = progress
        .has_ended(chrono::Utc::now().date_naive())
        .then(|| {
            Words(language).with(
                "donate-campaign-ended",
                &[
                    (
                        "campaign",
                        FluentValue::from(progress.campaign_name.clone()),
                    ),
                    ("raised", FluentValue::from(raised.clone())),
                    ("goal", FluentValue::from(goal.clone())),
                ],
            )
        });
    Some(CampaignView {
        name: progress.campaign_name.clone(),
        raised,
        goal,
        max: progress.goal_minor,
        value: progress.raised_minor.clamp(0, progress.goal_minor),
        ended,
    })
}

pub(super) fn donate_page<'a>(view: &FormView<'a>) -> DonatePage<'a> {
    let t = Words(view.lang);
    let form = view.form;
    let all_presets = view.presets.amounts();
    let other_checked = form.amount_is_other();
    let presets = view
        .presets
        .0
        .iter()
        .map(|preset| {
            let value = preset.amount.to_string();
            Preset {
                checked: !other_checked && form.amount == value,
                value,
                label: &preset.label,
                note: preset.note.as_deref(),
            }
        })
        .collect();
    let funds = view
        .funds
        .iter()
        .map(|(code, name)| FundOption {
            code: code.clone(),
            name: name.clone(),
            selected: *code == form.fund || (form.fund.is_empty() && code == "GENERAL"),
        })
        .collect();
    let guard = view.guard.form_words(view.lang);
    DonatePage {
        layout: Layout::new(
            view.lang,
            t.get("donate-title"),
            "/donate",
            &[("appeal", &form.appeal), ("frequency", &form.frequency)],
        ),
        t,
        form,
        errors: view.errors,
        summary: view
            .errors
            .iter()
            .map(|error| ErrorLink {
                target: error_target(error.field, form, &all_presets),
                message: error.message.clone(),
            })
            .collect(),
        campaign: view.appeal.and_then(|a| campaign_view(view.lang, a)),
        notice: view.notice.clone(),
        honeypot: guard.honeypot_label.as_deref(),
        honeypot_field: HONEYPOT_FIELD,
        minimum_hint: &guard.minimum_hint,
        presets,
        other_checked,
        placeholder: amount_placeholder(view.lang),
        funds,
    }
}

/// The amount fields for a suggested amount: its preset when there is one, otherwise
/// "other" with the amount typed in.
pub(super) fn suggested_amount(minor: i64, presets: &[u32]) -> (String, String) {
    let dollars = minor / 100;
    let cents = minor % 100;
    match u32::try_from(dollars) {
        Ok(whole) if cents == 0 && presets.contains(&whole) => (whole.to_string(), String::new()),
        _ if cents == 0 => ("other".to_owned(), dollars.to_string()),
        _ => ("other".to_owned(), format!("{dollars}.{cents:02}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_personal_ask_selects_its_preset_or_is_typed_in() {
        let presets = presets(None);
        assert_eq!(
            suggested_amount(10_000, &presets),
            ("100".to_owned(), String::new())
        );
        assert_eq!(
            suggested_amount(7_500, &presets),
            ("other".to_owned(), "75".to_owned())
        );
        assert_eq!(
            suggested_amount(7_550, &presets),
            ("other".to_owned(), "75.50".to_owned())
        );
    }

    #[test]
    fn only_the_preset_the_donor_chose_is_checked_and_none_once_they_typed_another() {
        let guard = checkout_guard::tests::guard();
        let presets = PagePresets::new(None, Language::English, Currency::Usd);
        let checked = |amount: &str, other: &str| {
            let form = DonationForm {
                amount: amount.to_owned(),
                amount_other: other.to_owned(),
                ..DonationForm::default()
            };
            let page = donate_page(&FormView {
                lang: Language::English,
                form: &form,
                errors: &[],
                funds: &[],
                appeal: None,
                notice: None,
                guard: &guard,
                presets: &presets,
            });
            let checked: Vec<String> = page
                .presets
                .iter()
                .filter(|p| p.checked)
                .map(|p| p.value.clone())
                .collect();
            (checked, page.other_checked)
        };
        assert_eq!(checked("50", ""), (vec!["50".to_owned()], false));
        assert_eq!(checked("", ""), (vec![], false));
        assert_eq!(checked("other", "75"), (vec![], true));
        assert_eq!(checked("50", "75"), (vec![], true));
    }

    #[test]
    fn an_amount_error_leads_to_the_amount_the_donor_gave() {
        let presets = presets(None);
        let form = |amount: &str, other: &str| DonationForm {
            amount: amount.to_owned(),
            amount_other: other.to_owned(),
            ..DonationForm::default()
        };
        assert_eq!(
            error_target("amount", &form("other", "abc"), &presets),
            "amount_other"
        );
        assert_eq!(
            error_target("amount", &form("50", "abc"), &presets),
            "amount_other"
        );
        assert_eq!(
            error_target("amount", &form("50", ""), &presets),
            "amount-50"
        );
        assert_eq!(error_target("amount", &form("", ""), &presets), "amount-25");
        assert_eq!(error_target("name", &form("", ""), &presets), "name");
    }
}
