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
/// language and direction, with the footer. The organization's name and postal address
/// are isolated, so inside Arabic a street number stays before its street.
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
         <hr>\n<p style=\"font-size: 12px; color: #666;\">{note} <bdi>{name}</bdi>.<br><bdi>{name}</bdi><br><bdi dir=\"ltr\">{address}</bdi></p>\n\
         </div>\n</body>\n</html>\n",
        title = escape(title),
        note = escape(footer_note(context.language)),
        name = escape(&context.org.legal_name),
        address = escape(&context.org.address),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        Organization, PLACEHOLDER_ADDRESS, PLACEHOLDER_EIN, PLACEHOLDER_LEGAL_NAME,
    };

    #[test]
    fn the_footer_keeps_the_address_numbers_in_place_inside_arabic() {
        let org = Organization {
            legal_name: PLACEHOLDER_LEGAL_NAME.to_owned(),
            ein: PLACEHOLDER_EIN.to_owned(),
            address: PLACEHOLDER_ADDRESS.to_owned(),
            timezone: chrono_tz::America::Los_Angeles,
            tribute_notifications_per_day: 3,
        };
        let context = Context {
            org: &org,
            language: Language::Arabic,
            to_name: None,
            links: None,
        };

        let html = html(context, "إيصال", "<p>شكراً</p>");

        assert!(
            html.contains("<bdi dir=\"ltr\">1458 Howard Street, San Francisco, CA 94103</bdi>"),
            "{html}"
        );
        assert!(
            html.contains("<bdi>Immigrant Legal Defense Fund</bdi>"),
            "{html}"
        );
    }
}
