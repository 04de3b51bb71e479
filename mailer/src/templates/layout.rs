//! The frame every email shares: language and direction, a greeting, the organization's
//! name and postal address in the footer.

use entity::enums::Language;

use super::{Context, escape};

/// Whether a language is written right to left.
pub fn is_rtl(language: Language) -> bool {
    language == Language::Arabic
}

/// "Dear María," in the donor's language; a generic greeting without a name.
pub fn greeting(context: Context<'_>) -> String {
    match (context.language, context.to_name) {
        (Language::Spanish, Some(name)) => format!("Estimado/a {name}:"),
        (Language::Spanish, None) => "Estimado/a donante:".to_owned(),
        (Language::French, Some(name)) => format!("Bonjour {name},"),
        (Language::French, None) => "Chère donatrice, cher donateur,".to_owned(),
        (Language::Arabic, Some(name)) => format!("عزيزنا {name}،"),
        (Language::Arabic, None) => "عزيزنا المتبرع،".to_owned(),
        (Language::English, Some(name)) => format!("Dear {name},"),
        (Language::English, None) => "Dear friend,".to_owned(),
    }
}

fn footer_note(language: Language) -> &'static str {
    match language {
        Language::Spanish => "Recibe este mensaje porque apoya a",
        Language::French => "Vous recevez ce message parce que vous soutenez",
        Language::Arabic => "تصلك هذه الرسالة لأنك تدعم",
        Language::English => "You receive this message because you support",
    }
}

/// The plain-text part: body, then the footer with the postal address.
pub fn text(context: Context<'_>, body: &str) -> String {
    format!(
        "{body}\n\n--\n{note} {name}.\n{name}\n{address}\n",
        body = body.trim_end(),
        note = footer_note(context.language),
        name = context.org.legal_name,
        address = context.org.address,
    )
}

/// The HTML part: `body_html` (already escaped) inside a document in the donor's
/// language and direction, with the footer.
pub fn html(context: Context<'_>, title: &str, body_html: &str) -> String {
    let lang = context.language.as_str();
    let dir = if is_rtl(context.language) {
        "rtl"
    } else {
        "ltr"
    };
    let align = if is_rtl(context.language) {
        "right"
    } else {
        "left"
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n</head>\n\
         <body style=\"font-family: Georgia, serif; color: #222; text-align: {align};\">\n\
         <div style=\"max-width: 640px; margin: 0 auto;\">\n{body_html}\n\
         <hr>\n<p style=\"font-size: 12px; color: #666;\">{note} {name}.<br>{name}<br>{address}</p>\n\
         </div>\n</body>\n</html>\n",
        title = escape(title),
        note = escape(footer_note(context.language)),
        name = escape(&context.org.legal_name),
        address = escape(&context.org.address),
    )
}
