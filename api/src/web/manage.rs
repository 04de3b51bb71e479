//! `/manage/{token}`: a donor's own pledges, opened from the signed, expiring link in
//! every club email, without a password. The donor can change an installment, pause,
//! resume or cancel a pledge, and update their card in Stripe's billing portal. Envelope
//! pledges change here at once; card pledges change at Stripe, whose events then change
//! the pledge. A tampered or expired link gets a page that says so and shows nothing.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use entity::enums::{PledgeSource, PledgeStatus};
use entity::{Currency, MoneyError, format_minor, pledge};
use mailer::links::{ManageTokenError, manage_token_donor, verify_manage_token};
use sha2::{Digest, Sha256};

use super::amounts::{ambiguous_amount_message, amount_for_input, read_amount};
use super::donate::escape;
use super::i18n::Lang;
use super::simple_page;
use crate::domain::pledge_actions::{self, PledgeAction};
use crate::domain::{Actor, DomainError, donors};
use crate::server::AppState;

/// The page's words in one language.
struct Words {
    title: &'static str,
    invalid: &'static str,
    expired: &'static str,
    none: &'static str,
    unavailable: &'static str,
    month: &'static str,
    quarter: &'static str,
    year: &'static str,
    since: &'static str,
    active: &'static str,
    paused: &'static str,
    past_due: &'static str,
    cancelled: &'static str,
    completed: &'static str,
    new_amount: &'static str,
    change_amount: &'static str,
    pause: &'static str,
    resume: &'static str,
    confirm_cancel: &'static str,
    cancel: &'static str,
    update_card: &'static str,
    done_here: &'static str,
    done_at_processor: &'static str,
    bad_amount: &'static str,
    needs_confirmation: &'static str,
    cannot_change: &'static str,
    no_card: &'static str,
    try_later: &'static str,
}

const EN: Words = Words {
    title: "Your pledges",
    invalid: "This link is not valid. Please use the most recent link we emailed you.",
    expired: "This link has expired. Our next email will bring a new one, or write to us.",
    none: "You have no pledges.",
    unavailable: "This page is not available right now. Please try again in a few minutes.",
    month: "a month",
    quarter: "a quarter",
    year: "a year",
    since: "since",
    active: "active",
    paused: "paused",
    past_due: "payment due",
    cancelled: "cancelled",
    completed: "completed",
    new_amount: "New amount",
    change_amount: "Change the amount",
    pause: "Pause",
    resume: "Resume",
    confirm_cancel: "Yes, cancel this pledge",
    cancel: "Cancel the pledge",
    update_card: "Update my card",
    done_here: "Done. Your pledge is updated. Thank you.",
    done_at_processor: "Thank you. Your change was sent to our card processor and shows here within a few minutes.",
    bad_amount: "Please give the new amount in dollars, for example 42 or 42.50.",
    needs_confirmation: "To cancel, please tick the box that says so.",
    cannot_change: "This pledge cannot change that way now.",
    no_card: "We have no card on file for you.",
    try_later: "We could not reach our card processor. Please try again in a few minutes.",
};

const ES: Words = Words {
    title: "Sus compromisos de donación",
    invalid: "Este enlace no es válido. Use el enlace más reciente que le enviamos por correo.",
    expired: "Este enlace ha vencido. Le enviaremos uno nuevo con nuestro próximo correo, o escríbanos.",
    none: "No tiene compromisos de donación.",
    unavailable: "Esta página no está disponible en este momento. Inténtelo de nuevo en unos minutos.",
    month: "al mes",
    quarter: "cada trimestre",
    year: "al año",
    since: "desde",
    active: "activo",
    paused: "en pausa",
    past_due: "pago pendiente",
    cancelled: "cancelado",
    completed: "completado",
    new_amount: "Nuevo monto",
    change_amount: "Cambiar el monto",
    pause: "Pausar",
    resume: "Reanudar",
    confirm_cancel: "Sí, cancelar este compromiso",
    cancel: "Cancelar el compromiso",
    update_card: "Actualizar mi tarjeta",
    done_here: "Listo. Su compromiso está actualizado. Gracias.",
    done_at_processor: "Gracias. Enviamos su cambio a nuestro procesador de tarjetas; aparecerá aquí en unos minutos.",
    bad_amount: "Escriba el nuevo monto en dólares, por ejemplo 42 o 42,50.",
    needs_confirmation: "Para cancelar, marque la casilla que lo confirma.",
    cannot_change: "Este compromiso no puede cambiar así ahora.",
    no_card: "No tenemos una tarjeta registrada a su nombre.",
    try_later: "No pudimos comunicarnos con nuestro procesador de tarjetas. Inténtelo de nuevo en unos minutos.",
};

const FR: Words = Words {
    title: "Vos engagements de don",
    invalid: "Ce lien n’est pas valide. Utilisez le lien le plus récent que nous vous avons envoyé.",
    expired: "Ce lien a expiré. Notre prochain courriel en apportera un nouveau, ou écrivez-nous.",
    none: "Vous n’avez aucun engagement de don.",
    unavailable: "Cette page n’est pas disponible pour le moment. Réessayez dans quelques minutes.",
    month: "par mois",
    quarter: "par trimestre",
    year: "par an",
    since: "depuis le",
    active: "actif",
    paused: "en pause",
    past_due: "paiement en attente",
    cancelled: "annulé",
    completed: "terminé",
    new_amount: "Nouveau montant",
    change_amount: "Changer le montant",
    pause: "Mettre en pause",
    resume: "Reprendre",
    confirm_cancel: "Oui, annuler cet engagement",
    cancel: "Annuler l’engagement",
    update_card: "Mettre à jour ma carte",
    done_here: "C’est fait. Votre engagement est à jour. Merci.",
    done_at_processor: "Merci. Votre changement a été transmis à notre prestataire de paiement et apparaîtra ici d’ici quelques minutes.",
    bad_amount: "Indiquez le nouveau montant en dollars, par exemple 42 ou 42,50.",
    needs_confirmation: "Pour annuler, cochez la case de confirmation.",
    cannot_change: "Cet engagement ne peut pas changer ainsi pour le moment.",
    no_card: "Nous n’avons aucune carte enregistrée à votre nom.",
    try_later: "Nous n’avons pas pu joindre notre prestataire de paiement. Réessayez dans quelques minutes.",
};

const AR: Words = Words {
    title: "تعهّداتك بالتبرع",
    invalid: "هذا الرابط غير صالح. يُرجى استخدام أحدث رابط أرسلناه إليك بالبريد الإلكتروني.",
    expired: "انتهت صلاحية هذا الرابط. ستحمل رسالتنا القادمة رابطًا جديدًا، أو راسلنا.",
    none: "ليست لديك تعهّدات بالتبرع.",
    unavailable: "هذه الصفحة غير متاحة الآن. يُرجى المحاولة بعد بضع دقائق.",
    month: "شهريًا",
    quarter: "كل ثلاثة أشهر",
    year: "سنويًا",
    since: "منذ",
    active: "نشط",
    paused: "متوقف مؤقتًا",
    past_due: "دفعة مستحقة",
    cancelled: "ملغى",
    completed: "مكتمل",
    new_amount: "المبلغ الجديد",
    change_amount: "تغيير المبلغ",
    pause: "إيقاف مؤقت",
    resume: "استئناف",
    confirm_cancel: "نعم، أريد إلغاء هذا التعهّد",
    cancel: "إلغاء التعهّد",
    update_card: "تحديث بطاقتي",
    done_here: "تمّ. جرى تحديث تعهّدك. شكرًا لك.",
    done_at_processor: "شكرًا لك. أُرسل التغيير إلى معالج البطاقات لدينا وسيظهر هنا خلال بضع دقائق.",
    bad_amount: "يُرجى كتابة المبلغ الجديد بالدولار، مثل 42 أو 42,50.",
    needs_confirmation: "للإلغاء، يُرجى تحديد المربع الذي يؤكد ذلك.",
    cannot_change: "لا يمكن تغيير هذا التعهّد بهذه الطريقة الآن.",
    no_card: "لا توجد لدينا بطاقة مسجّلة باسمك.",
    try_later: "تعذّر الوصول إلى معالج البطاقات لدينا. يُرجى المحاولة بعد بضع دقائق.",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
        Lang::Fr => &FR,
        Lang::Ar => &AR,
    }
}

fn status_words(status: PledgeStatus, words: &Words) -> &'static str {
    match status {
        PledgeStatus::Active => words.active,
        PledgeStatus::Paused => words.paused,
        PledgeStatus::PastDue => words.past_due,
        PledgeStatus::Cancelled => words.cancelled,
        PledgeStatus::Completed => words.completed,
    }
}

fn query_lang(request: &HttpRequest) -> Lang {
    let asked: Option<String> = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    Lang::negotiate(asked.as_deref(), request)
}

fn notice(request: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())
}

fn message_page(status: StatusCode, lang: Lang, text: &str) -> HttpResponse {
    simple_page(
        status,
        lang,
        words(lang).title,
        &format!("<p>{}</p>", escape(text)),
    )
}

/// The donor the link was signed for, checked against the donor's current link
/// version, or the page to show instead. A link made before staff revoked the donor's
/// links reads as not valid.
async fn donor_from_link(
    state: &AppState,
    lang: Lang,
    token: &str,
) -> Result<i64, Box<HttpResponse>> {
    let text = words(lang);
    let refused = |status, text| Box::new(message_page(status, lang, text));
    let (Some(key), Some(claimed)) = (
        state.config.download_link_key.as_ref(),
        manage_token_donor(token),
    ) else {
        return Err(refused(StatusCode::NOT_FOUND, text.invalid));
    };
    let version = match donors::link_version(&state.db, claimed).await {
        Ok(version) => version.unwrap_or(0),
        Err(error) => return Err(Box::new(unavailable(lang, error))),
    };
    match verify_manage_token(key.expose(), token, version, Utc::now()) {
        Ok(id) => Ok(id),
        Err(ManageTokenError::Invalid) => Err(refused(StatusCode::NOT_FOUND, text.invalid)),
        Err(ManageTokenError::Expired) => Err(refused(StatusCode::GONE, text.expired)),
    }
}

fn unavailable(lang: Lang, error: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "the self-service page cannot read or change pledges");
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        words(lang).unavailable,
    )
}

fn amount_text(minor: i64, currency: &str) -> String {
    Currency::parse(currency)
        .map(|c| format_minor(minor, c))
        .unwrap_or_else(|_| format!("{minor} {currency}"))
}

/// One pledge with the forms that can change it.
fn pledge_item(pledge: &pledge::Model, token: &str, lang: Lang) -> String {
    let text = words(lang);
    let every = match crate::domain::pledges::months_between_installments(pledge.frequency) {
        1 => text.month,
        3 => text.quarter,
        _ => text.year,
    };
    let mut item = format!(
        "<li style=\"margin-bottom: 1.5rem;\"><strong>{} {}</strong> · {} {} · {}",
        escape(&amount_text(pledge.installment_minor, &pledge.currency)),
        every,
        text.since,
        escape(&pledge.starts_on.to_string()),
        status_words(pledge.status, text)
    );
    if matches!(
        pledge.status,
        PledgeStatus::Cancelled | PledgeStatus::Completed
    ) {
        item.push_str("</li>");
        return item;
    }
    let action = format!(
        "/manage/{}/pledges/{}?lang={}",
        escape(token),
        pledge.id,
        lang.code()
    );
    let field = format!("amount-{}", pledge.id);
    item.push_str(&format!(
        "\n<form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"action\" value=\"change_amount\">\
         <label for=\"{field}\">{}</label> \
         <input id=\"{field}\" name=\"amount\" inputmode=\"decimal\" size=\"8\" required value=\"{}\"> \
         <button type=\"submit\">{}</button></form>",
        text.new_amount,
        escape(&amount_for_input(pledge.installment_minor, lang)),
        text.change_amount,
    ));
    let (toggle, label) = if pledge.status == PledgeStatus::Paused {
        ("resume", text.resume)
    } else {
        ("pause", text.pause)
    };
    item.push_str(&format!(
        "\n<form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"action\" value=\"{toggle}\">\
         <button type=\"submit\">{label}</button></form>"
    ));
    let confirm = format!("confirm-{}", pledge.id);
    item.push_str(&format!(
        "\n<form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"action\" value=\"cancel\">\
         <input type=\"checkbox\" id=\"{confirm}\" name=\"confirm\" value=\"yes\" required> \
         <label for=\"{confirm}\">{}</label> \
         <button type=\"submit\">{}</button></form></li>",
        text.confirm_cancel, text.cancel,
    ));
    item
}

/// `GET /manage/{token}?lang=es`
pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let lang = query_lang(&request);
    let donor_id = match donor_from_link(&state, lang, &token).await {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let notice = match notice(&request).as_deref() {
        Some("here") => Some(words(lang).done_here),
        Some("processor") => Some(words(lang).done_at_processor),
        _ => None,
    };
    render(&state, lang, &token, donor_id, StatusCode::OK, notice).await
}

async fn render(
    state: &AppState,
    lang: Lang,
    token: &str,
    donor_id: i64,
    status: StatusCode,
    notice: Option<&str>,
) -> HttpResponse {
    let text = words(lang);
    let pledges = pledge_actions::pledges_of_donor(&state.db, donor_id).await;
    let pledges = match pledges {
        Ok(pledges) => pledges,
        Err(error) => return unavailable(lang, error),
    };
    let mut body = String::new();
    if let Some(notice) = notice {
        let role = if status.is_success() {
            "status"
        } else {
            "alert"
        };
        body.push_str(&format!(
            "<p role=\"{role}\" style=\"border-inline-start: 4px solid #555; padding: 0.5rem 1rem;\">{}</p>\n",
            escape(notice)
        ));
    }
    if pledges.is_empty() {
        body.push_str(&format!("<p>{}</p>", escape(text.none)));
    } else {
        let items: Vec<String> = pledges
            .iter()
            .map(|p| pledge_item(p, token, lang))
            .collect();
        body.push_str(&format!(
            "<ul style=\"padding-inline-start: 1rem;\">\n{}\n</ul>",
            items.join("\n")
        ));
    }
    let has_card_pledge = pledges.iter().any(|p| {
        p.source == PledgeSource::StripeSubscription
            && !matches!(p.status, PledgeStatus::Cancelled | PledgeStatus::Completed)
    });
    if has_card_pledge {
        body.push_str(&format!(
            "\n<form method=\"post\" action=\"/manage/{}/card?lang={}\">\
             <button type=\"submit\">{}</button></form>",
            escape(token),
            lang.code(),
            text.update_card
        ));
    }
    simple_page(status, lang, text.title, &body)
}

/// The page again, with what stood in the way of the donor's request.
async fn refuse(
    state: &AppState,
    lang: Lang,
    token: &str,
    donor_id: i64,
    notice: &'static str,
) -> HttpResponse {
    render(
        state,
        lang,
        token,
        donor_id,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(notice),
    )
    .await
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The actor a donor's own change is recorded under in the audit log.
fn donor_actor(donor_id: i64) -> Actor {
    Actor {
        name: format!("donor {donor_id} (self-service link)"),
        token_id: None,
    }
}

/// `POST /manage/{token}/pledges/{id}` with `action` = `change_amount` (and `amount`),
/// `pause`, `resume` or `cancel` (and `confirm=yes`).
pub async fn change(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, i64)>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (token, pledge_id) = path.into_inner();
    let lang = query_lang(&request);
    let text = words(lang);
    let donor_id = match donor_from_link(&state, lang, &token).await {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    // A pledge of someone else is answered as if it did not exist.
    let pledge = match pledge_actions::find_pledge(&state.db, pledge_id).await {
        Ok(pledge) if pledge.donor_id == donor_id => pledge,
        Ok(_) | Err(DomainError::NotFound { .. }) => {
            return message_page(StatusCode::NOT_FOUND, lang, text.invalid);
        }
        Err(error) => return unavailable(lang, error),
    };
    let refuse = |notice: &'static str| refuse(&state, lang, &token, donor_id, notice);
    let action = match field("action").as_str() {
        "pause" => PledgeAction::Pause,
        "resume" => PledgeAction::Resume,
        "cancel" if field("confirm") == "yes" => PledgeAction::Cancel {
            reason: Some("cancelled by the donor from the self-service page".into()),
        },
        "cancel" => return refuse(text.needs_confirmation).await,
        "change_amount" => {
            let currency = Currency::parse(&pledge.currency).unwrap_or(Currency::Usd);
            match read_amount(&field("amount"), lang, currency) {
                Ok(amount) => PledgeAction::ChangeAmount(amount),
                Err(MoneyError::Ambiguous(_)) => {
                    return refuse(ambiguous_amount_message(lang)).await;
                }
                Err(_) => return refuse(text.bad_amount).await,
            }
        }
        _ => return refuse(text.cannot_change).await,
    };
    let outcome = pledge_actions::change_pledge(
        &state.db,
        &state.processor,
        &state.config.club_policy(),
        &donor_actor(donor_id),
        pledge.id,
        action,
        None,
    )
    .await;
    match outcome {
        Ok(outcome) => {
            let done = if outcome.requested_of_processor {
                "processor"
            } else {
                "here"
            };
            see_other(format!("/manage/{token}?lang={}&done={done}", lang.code()))
        }
        Err(DomainError::Validation { .. } | DomainError::Conflict { .. }) => {
            refuse(text.cannot_change).await
        }
        Err(DomainError::Payment(_)) => refuse(text.try_later).await,
        Err(error) => unavailable(lang, error),
    }
}

/// `POST /manage/{token}/card`: opens Stripe's billing portal, where the donor updates
/// the card their pledges are paid with, and comes back here.
pub async fn update_card(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let lang = query_lang(&request);
    let text = words(lang);
    let donor_id = match donor_from_link(&state, lang, &token).await {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let refuse = |notice: &'static str| refuse(&state, lang, &token, donor_id, notice);
    let return_url = state
        .config
        .public_url
        .join(&format!("manage/{}?lang={}", token.as_str(), lang.code()))
        .map(String::from)
        .unwrap_or_default();
    // One portal session per donor, minute and return address: a double tap opens the
    // same one, and a page in another language asks for a session of its own (Stripe
    // refuses a key sent again with other parameters).
    let return_to = Sha256::digest(return_url.as_bytes());
    let key = format!(
        "portal-{donor_id}-{}-{:x}",
        Utc::now().timestamp() / 60,
        u64::from_be_bytes(return_to[..8].try_into().unwrap_or_default())
    );
    let portal = pledge_actions::billing_portal_url(
        &state.db,
        &state.processor,
        donor_id,
        &return_url,
        &key,
    )
    .await;
    match portal {
        Ok(Some(url)) => see_other(url),
        Ok(None) => refuse(text.no_card).await,
        Err(DomainError::Payment(error)) => {
            tracing::warn!(%error, donor_id, "cannot open the billing portal");
            refuse(text.try_later).await
        }
        Err(error) => unavailable(lang, error),
    }
}
