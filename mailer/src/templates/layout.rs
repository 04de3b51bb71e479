//! The frame every email shares, filled into `templates/email/base.html` and
//! `base.txt`: language and direction, a greeting, the organization's name and postal
//! address in the footer, and for appeals the unsubscribe line.

use entity::enums::Language;

use super::Context;
use super::words::Words;
use crate::links;

/// Whether a language is written right to left.
pub fn is_rtl(language: Language) -> bool {
    language == Language::Arabic
}

/// "Dear María," in the donor's language; a generic greeting without a name. No
/// language's greeting assumes the donor's gender.
pub fn greeting(context: Context<'_>) -> String {
    let words = Words::new(context.language);
    match context.to_name {
        Some(name) => words.with("greeting-named", &[("name", name)]),
        None => words.get("greeting-unnamed"),
    }
}

/// A link with the words it is shown with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    /// The address, carrying the donor's language so the page opens in it.
    pub url: String,
    /// The link as a line of the plain-text part: "See your pledges: https://…".
    pub text_line: String,
}

impl Link {
    pub fn new(context: Context<'_>, label: String, url: &str) -> Link {
        let url = links::with_language(url, context.language);
        let text_line =
            Words::new(context.language).with("link-line", &[("label", &label), ("url", &url)]);
        Link {
            label,
            url,
            text_line,
        }
    }
}

/// What the base layouts show around a message's body.
#[derive(Debug, Clone)]
pub struct Frame {
    pub lang: &'static str,
    pub dir: &'static str,
    pub align: &'static str,
    pub title: String,
    /// Most messages open with a greeting; an appeal's text brings its own.
    pub greeting: Option<String>,
    pub footer_why: String,
    pub org_name: String,
    pub address: String,
    /// The unsubscribe line appeals end with.
    pub unsubscribe: Option<Link>,
}

impl Frame {
    /// The frame of a message titled `title` that opens with a greeting.
    pub fn new(context: Context<'_>, title: &str) -> Frame {
        let words = Words::new(context.language);
        let rtl = is_rtl(context.language);
        Frame {
            lang: context.language.as_str(),
            dir: if rtl { "rtl" } else { "ltr" },
            align: if rtl { "right" } else { "left" },
            title: title.to_owned(),
            greeting: Some(greeting(context)),
            footer_why: words.with("footer-why", &[("org", &context.org.legal_name)]),
            org_name: context.org.legal_name.clone(),
            address: context.org.address.clone(),
            unsubscribe: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use askama::Template;

    use super::*;
    use crate::templates::placeholder_organization as organization;

    #[derive(Template)]
    #[template(path = "email/base.html")]
    struct Page<'a> {
        frame: &'a Frame,
    }

    #[test]
    fn the_footer_keeps_the_address_numbers_in_place_inside_arabic() -> askama::Result<()> {
        let org = organization();
        let context = Context {
            org: &org,
            language: Language::Arabic,
            to_name: None,
            links: None,
        };

        let html = Page {
            frame: &Frame::new(context, "إيصال"),
        }
        .render()?;

        assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
        assert!(
            html.contains("<bdi dir=\"ltr\">1458 Howard Street, San Francisco, CA 94103</bdi>"),
            "{html}"
        );
        assert!(
            html.contains("<bdi>Immigrant Legal Defense Fund</bdi>"),
            "{html}"
        );
        Ok(())
    }

    #[test]
    fn no_greeting_assumes_the_donors_gender() {
        let org = organization();
        let greet = |language, to_name| {
            greeting(Context {
                org: &org,
                language,
                to_name,
                links: None,
            })
        };
        // The masculine "عزيزنا" (our dear, to a man) was every Arabic donor's greeting.
        assert_eq!(
            greet(Language::Arabic, Some("ليلى حداد")),
            "مرحبًا ليلى حداد،"
        );
        assert_eq!(greet(Language::Arabic, None), "تحية طيبة،");
        assert!(!greet(Language::Arabic, Some("ليلى")).contains("عزيز"));
        assert_eq!(greet(Language::Spanish, Some("Ana")), "Estimado/a Ana:");
        assert_eq!(
            greet(Language::French, None),
            "Chère donatrice, cher donateur,"
        );
    }

    #[test]
    fn markup_in_a_donors_name_is_escaped() -> askama::Result<()> {
        let org = organization();
        let context = Context {
            org: &org,
            language: Language::English,
            to_name: Some("<script>alert('x')</script> & \"y\""),
            links: None,
        };

        let html = Page {
            frame: &Frame::new(context, "Hello"),
        }
        .render()?;

        assert!(!html.contains("<script>"), "{html}");
        // askama writes the characters it escapes as numeric references.
        assert!(html.contains("&#60;script&#62;"), "{html}");
        Ok(())
    }
}
