//! The words and layout of a receipt or year-end statement, in the donor's language: the
//! plain text, the HTML and the PDF letter (letterhead, donor address block, table of
//! gifts, signature line).
//!
//! A document is frozen when it is issued: what it states (`Document`) is stored with the
//! receipt as JSON beside its text and HTML, in the issuing transaction. The PDF, the
//! costly part, is typeset from that stored statement later, once, by whoever needs it
//! first (the mailer before the first send, or a download), and stored; every later
//! reader gets those stored bytes (`stored_pdf`), so what was sent and what is
//! downloaded stay byte-identical.
//!
//! In an Arabic document, amounts, numbers and names carry Unicode isolate marks, so
//! "2026-000003" or "$50.00" keep their order inside right-to-left sentences: the PDF
//! orders text by them, the HTML turns them into `<bdi>`, and the plain text drops them.

use chrono::{DateTime, Datelike, Utc};
use entity::enums::{Language, PaymentMethod, ReceiptKind, TributeKind};
use entity::{Currency, format_minor};
use serde::{Deserialize, Serialize};

use crate::config::Organization;
use crate::templates::escape;

mod pdf;
mod stored;
mod typeset;

pub use stored::{PdfError, has_pdf, stored_pdf};

pub use typeset::TypesetError;
use typeset::without_direction_marks;

/// Gifts with benefits above this amount (in cents) carry the quid-pro-quo disclosure.
pub const QUID_PRO_QUO_THRESHOLD_MINOR: i64 = 7_500;

/// One gift as the document lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GiftLine {
    pub received_at: DateTime<Utc>,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub benefits_minor: i64,
    pub benefits_description: Option<String>,
    pub method: PaymentMethod,
    pub fund: String,
    pub tribute: Option<(TributeKind, String)>,
}

impl GiftLine {
    /// What the donor gave, net of refunds.
    pub fn net_minor(&self) -> i64 {
        (self.amount_minor - self.refunded_minor).max(0)
    }

    /// The part of the net gift that is deductible: net minus the value of benefits.
    pub fn deductible_minor(&self) -> i64 {
        (self.net_minor() - self.benefits_minor).max(0)
    }
}

/// The organization as a document states it, fixed at issue: a later change of name,
/// address or time zone does not change a document already issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Letterhead {
    pub legal_name: String,
    pub ein: String,
    pub address: String,
    /// The IANA name of the zone dates are shown in.
    pub timezone: String,
    /// Issued before the organization's identity was set: a sample, not a tax receipt.
    pub sample: bool,
}

impl From<&Organization> for Letterhead {
    fn from(org: &Organization) -> Self {
        Letterhead {
            legal_name: org.legal_name.clone(),
            ein: org.ein.clone(),
            address: org.address.clone(),
            timezone: org.timezone.name().to_owned(),
            sample: org.issues_samples(),
        }
    }
}

impl Letterhead {
    fn timezone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// Everything a document states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub letterhead: Letterhead,
    pub language: Language,
    pub kind: ReceiptKind,
    pub number: String,
    pub tax_year: i32,
    pub issued_at: DateTime<Utc>,
    pub donor_name: String,
    pub donor_address: Option<String>,
    pub currency: Currency,
    pub lines: Vec<GiftLine>,
    /// The number of the receipt this one corrects.
    pub replaces: Option<String>,
}

/// The rendered document and its totals.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub html: String,
    pub amount_minor: i64,
    pub deductible_minor: i64,
}

struct Words {
    receipt: &'static str,
    statement: &'static str,
    issued: &'static str,
    replaces: &'static str,
    thanks_one: &'static str,
    thanks_year: &'static str,
    columns: [&'static str; 6],
    total: &'static str,
    no_benefits: &'static str,
    benefits: &'static str,
    deductible: &'static str,
    quid_pro_quo: &'static str,
    in_honor: &'static str,
    in_memory: &'static str,
    exempt: &'static str,
    /// The mark on a document issued before the organization's identity was set.
    sample: &'static str,
    signature: &'static str,
    months: [&'static str; 12],
}

fn words(language: Language) -> Words {
    match language {
        Language::Spanish => Words {
            receipt: "Recibo",
            statement: "Resumen anual de donaciones",
            issued: "Emitido el",
            replaces: "Este recibo reemplaza el recibo anulado",
            thanks_one: "Gracias por su donación de {amount} del {date} ({method}) al fondo {fund}.",
            thanks_year: "Gracias por sus donaciones de {year}. Este resumen enumera cada donación, con los reembolsos descontados.",
            columns: [
                "Fecha",
                "Fondo",
                "Forma de pago",
                "Monto",
                "Beneficios",
                "Deducible",
            ],
            total: "Total",
            no_benefits: "No se proporcionaron bienes ni servicios a cambio de esta contribución.",
            benefits: "A cambio de su contribución del {date} recibió: {description}, con un valor estimado de buena fe de {value}.",
            deductible: "El monto deducible para fines del impuesto federal sobre la renta es {amount}.",
            quid_pro_quo: "El monto de su contribución deducible para fines del impuesto federal sobre la renta se limita al exceso del dinero aportado sobre el valor de los bienes o servicios proporcionados por {org}.",
            in_honor: "En honor de",
            in_memory: "En memoria de",
            exempt: "{org} es una organización exenta de impuestos según la sección 501(c)(3) del Código de Rentas Internas. EIN {ein}.",
            sample: "MUESTRA — NO ES UN RECIBO FISCAL. El nombre legal, el EIN y la dirección de la organización aún no están configurados: este documento muestra datos de ejemplo y no sirve para fines fiscales.",
            signature: "Dirección de Desarrollo",
            months: [
                "enero",
                "febrero",
                "marzo",
                "abril",
                "mayo",
                "junio",
                "julio",
                "agosto",
                "septiembre",
                "octubre",
                "noviembre",
                "diciembre",
            ],
        },
        Language::French => Words {
            receipt: "Reçu",
            statement: "Relevé annuel des dons",
            issued: "Émis le",
            replaces: "Ce reçu remplace le reçu annulé",
            thanks_one: "Merci pour votre don de {amount} du {date} ({method}) au fonds {fund}.",
            thanks_year: "Merci pour vos dons de {year}. Ce relevé énumère chaque don, remboursements déduits.",
            columns: [
                "Date",
                "Fonds",
                "Paiement",
                "Montant",
                "Avantages",
                "Déductible",
            ],
            total: "Total",
            no_benefits: "Aucun bien ni service n'a été fourni en échange de cette contribution.",
            benefits: "En échange de votre contribution du {date}, vous avez reçu : {description}, d'une valeur estimée de bonne foi de {value}.",
            deductible: "Le montant déductible de l'impôt fédéral sur le revenu est de {amount}.",
            quid_pro_quo: "Le montant déductible de votre contribution est limité à l'excédent de la somme versée sur la valeur des biens ou services fournis par {org}.",
            in_honor: "En l'honneur de",
            in_memory: "En mémoire de",
            exempt: "{org} est une organisation exonérée d'impôt au titre de la section 501(c)(3) de l'Internal Revenue Code. EIN {ein}.",
            sample: "SPÉCIMEN — CE N'EST PAS UN REÇU FISCAL. Le nom légal, l'EIN et l'adresse de l'organisation ne sont pas encore configurés : ce document montre des valeurs d'exemple et ne peut pas servir aux impôts.",
            signature: "Direction du développement",
            months: [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ],
        },
        Language::Arabic => Words {
            receipt: "إيصال",
            statement: "كشف التبرعات السنوي",
            issued: "صدر في",
            replaces: "يحل هذا الإيصال محل الإيصال الملغى",
            thanks_one: "شكراً لتبرعك بمبلغ {amount} بتاريخ {date} ({method}) لصندوق {fund}.",
            thanks_year: "شكراً لتبرعاتك في عام {year}. يسرد هذا الكشف كل تبرع بعد خصم المبالغ المستردة.",
            columns: [
                "التاريخ",
                "الصندوق",
                "طريقة الدفع",
                "المبلغ",
                "المزايا",
                "القابل للخصم",
            ],
            total: "المجموع",
            no_benefits: "لم تُقدَّم أي سلع أو خدمات مقابل هذا التبرع.",
            benefits: "مقابل تبرعك بتاريخ {date} حصلت على: {description}، بقيمة تقديرية بحسن نية قدرها {value}.",
            deductible: "المبلغ القابل للخصم لأغراض ضريبة الدخل الفيدرالية هو {amount}.",
            quid_pro_quo: "يقتصر المبلغ القابل للخصم من تبرعك على ما يزيد عن قيمة السلع أو الخدمات التي قدمتها {org}.",
            in_honor: "تكريماً لـ",
            in_memory: "إحياءً لذكرى",
            exempt: "{org} منظمة معفاة من الضرائب بموجب القسم 501(c)(3) من قانون الإيرادات الداخلية. الرقم الضريبي {ein}.",
            sample: "نموذج — ليس إيصالاً ضريبياً. لم يُضبط بعد الاسم القانوني للمنظمة ورقمها الضريبي وعنوانها: يعرض هذا المستند بيانات تجريبية ولا يصلح للأغراض الضريبية.",
            signature: "إدارة التنمية",
            months: [
                "يناير",
                "فبراير",
                "مارس",
                "أبريل",
                "مايو",
                "يونيو",
                "يوليو",
                "أغسطس",
                "سبتمبر",
                "أكتوبر",
                "نوفمبر",
                "ديسمبر",
            ],
        },
        Language::English => Words {
            receipt: "Receipt",
            statement: "Year-end giving statement",
            issued: "Issued",
            replaces: "This receipt replaces voided receipt",
            thanks_one: "Thank you for your gift of {amount} on {date} by {method} to the {fund}.",
            thanks_year: "Thank you for your gifts in {year}. This statement lists every gift, net of refunds.",
            columns: ["Date", "Fund", "Method", "Amount", "Benefits", "Deductible"],
            total: "Total",
            no_benefits: "No goods or services were provided in exchange for this contribution.",
            benefits: "In exchange for your contribution on {date} you received {description}, with a good-faith estimated value of {value}.",
            deductible: "The amount deductible for federal income tax purposes is {amount}.",
            quid_pro_quo: "The amount of your contribution that is deductible for federal income tax purposes is limited to the excess of the money contributed over the value of goods or services provided by {org}.",
            in_honor: "In honor of",
            in_memory: "In memory of",
            exempt: "{org} is a tax-exempt organization under section 501(c)(3) of the Internal Revenue Code. EIN {ein}.",
            sample: "SAMPLE — NOT A TAX RECEIPT. The organization's legal name, EIN and address are not configured yet: this document shows placeholders and cannot be used for taxes.",
            signature: "Development Director",
            months: [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ],
        },
    }
}

fn method_name(language: Language, method: PaymentMethod) -> &'static str {
    use PaymentMethod::*;
    match (language, method) {
        (Language::Spanish, Card) => "tarjeta",
        (Language::Spanish, Bank) => "transferencia bancaria",
        (Language::Spanish, Check) => "cheque",
        (Language::Spanish, Cash) => "efectivo",
        (Language::Spanish, Stock) => "acciones",
        (Language::Spanish, Daf) => "fondo asesorado por donantes",
        (Language::Spanish, Wire) => "giro bancario",
        (Language::French, Card) => "carte",
        (Language::French, Bank) => "virement bancaire",
        (Language::French, Check) => "chèque",
        (Language::French, Cash) => "espèces",
        (Language::French, Stock) => "actions",
        (Language::French, Daf) => "fonds orienté par le donateur",
        (Language::French, Wire) => "virement",
        (Language::Arabic, Card) => "بطاقة",
        (Language::Arabic, Bank) => "تحويل مصرفي",
        (Language::Arabic, Check) => "شيك",
        (Language::Arabic, Cash) => "نقداً",
        (Language::Arabic, Stock) => "أسهم",
        (Language::Arabic, Daf) => "صندوق يوجهه المتبرع",
        (Language::Arabic, Wire) => "حوالة",
        (Language::English, Card) => "card",
        (Language::English, Bank) => "bank transfer",
        (Language::English, Check) => "check",
        (Language::English, Cash) => "cash",
        (Language::English, Stock) => "stock",
        (Language::English, Daf) => "donor-advised fund",
        (Language::English, Wire) => "wire transfer",
    }
}

fn date_in(letterhead: &Letterhead, language: Language, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&letterhead.timezone());
    let month = words(language).months[local.month0() as usize];
    match language {
        Language::English => format!("{month} {}, {}", local.day(), local.year()),
        Language::Spanish => format!("{} de {month} de {}", local.day(), local.year()),
        Language::French | Language::Arabic => {
            format!("{} {month} {}", local.day(), local.year())
        }
    }
}

/// Starts a stretch that reads left to right whatever surrounds it (an amount, a number).
const LEFT_TO_RIGHT_ISOLATE: char = '\u{2066}';
/// Starts a stretch that reads in the direction of its own first letter (a name).
const FIRST_STRONG_ISOLATE: char = '\u{2068}';
const POP_DIRECTIONAL_ISOLATE: char = '\u{2069}';

/// How values are set inside the sentences of a document in `language`: in a
/// right-to-left language each is isolated, as `<bdi>` does in HTML; elsewhere they are
/// left as they are.
#[derive(Clone, Copy)]
struct Isolation {
    right_to_left: bool,
}

impl Isolation {
    fn of(language: Language) -> Self {
        Isolation {
            right_to_left: language == Language::Arabic,
        }
    }

    fn wrap(self, open: char, text: &str) -> String {
        if self.right_to_left {
            format!("{open}{text}{POP_DIRECTIONAL_ISOLATE}")
        } else {
            text.to_owned()
        }
    }

    /// An amount, a receipt number, an EIN: digits and signs that read left to right.
    fn ltr(self, text: &str) -> String {
        self.wrap(LEFT_TO_RIGHT_ISOLATE, text)
    }

    /// A name or description typed by people, in whatever script.
    fn name(self, text: &str) -> String {
        self.wrap(FIRST_STRONG_ISOLATE, text)
    }
}

/// Escaped HTML text in which isolated stretches become `<bdi>` elements.
fn html_text(text: &str) -> String {
    escape(text)
        .replace(LEFT_TO_RIGHT_ISOLATE, "<bdi dir=\"ltr\">")
        .replace(FIRST_STRONG_ISOLATE, "<bdi>")
        .replace(POP_DIRECTIONAL_ISOLATE, "</bdi>")
}

/// The document's parts as sentences, shared by the text, HTML and PDF.
struct Parts {
    title: String,
    issued: String,
    replaces: Option<String>,
    intro: String,
    tributes: Vec<String>,
    rows: Vec<[String; 6]>,
    totals: [String; 6],
    acknowledgment: Vec<String>,
    exempt: String,
    sample: Option<String>,
    signature: String,
}

fn parts(doc: &Document, language: Language) -> Parts {
    let w = words(language);
    let iso = Isolation::of(language);
    let money = |minor: i64| iso.ltr(&format_minor(minor, doc.currency));
    let date = |at: DateTime<Utc>| date_in(&doc.letterhead, language, at);
    let org = iso.name(&doc.letterhead.legal_name);
    let net: i64 = doc.lines.iter().map(GiftLine::net_minor).sum();
    let benefits_total: i64 = doc.lines.iter().map(|l| l.benefits_minor).sum();
    let deductible: i64 = doc.lines.iter().map(GiftLine::deductible_minor).sum();
    let title = match doc.kind {
        ReceiptKind::Gift => format!("{} {}", w.receipt, iso.ltr(&doc.number)),
        ReceiptKind::YearEndStatement => {
            format!(
                "{} {} — {}",
                w.statement,
                doc.tax_year,
                iso.ltr(&doc.number)
            )
        }
    };
    let intro = match (doc.kind, doc.lines.first()) {
        (ReceiptKind::Gift, Some(line)) => w
            .thanks_one
            .replace("{amount}", &money(line.net_minor()))
            .replace("{date}", &date(line.received_at))
            .replace("{method}", method_name(language, line.method))
            .replace("{fund}", &iso.name(&line.fund)),
        _ => w.thanks_year.replace("{year}", &doc.tax_year.to_string()),
    };
    let tributes = doc
        .lines
        .iter()
        .filter_map(|line| line.tribute.as_ref())
        .map(|(kind, name)| {
            let lead = match kind {
                TributeKind::InHonorOf => w.in_honor,
                TributeKind::InMemoryOf => w.in_memory,
            };
            format!("{lead} {}.", iso.name(name))
        })
        .collect();
    let rows = doc
        .lines
        .iter()
        .map(|line| {
            [
                date(line.received_at),
                line.fund.clone(),
                method_name(language, line.method).to_owned(),
                money(line.net_minor()),
                money(line.benefits_minor),
                money(line.deductible_minor()),
            ]
        })
        .collect();
    let totals = [
        w.total.to_owned(),
        String::new(),
        String::new(),
        money(net),
        money(benefits_total),
        money(deductible),
    ];
    let mut acknowledgment = Vec::new();
    if benefits_total == 0 {
        acknowledgment.push(w.no_benefits.to_owned());
    } else {
        for line in doc.lines.iter().filter(|l| l.benefits_minor > 0) {
            acknowledgment.push(
                w.benefits
                    .replace("{date}", &date(line.received_at))
                    .replace(
                        "{description}",
                        &iso.name(line.benefits_description.as_deref().unwrap_or("—")),
                    )
                    .replace("{value}", &money(line.benefits_minor)),
            );
        }
        acknowledgment.push(w.deductible.replace("{amount}", &money(deductible)));
        if doc
            .lines
            .iter()
            .any(|l| l.benefits_minor > 0 && l.amount_minor > QUID_PRO_QUO_THRESHOLD_MINOR)
        {
            acknowledgment.push(w.quid_pro_quo.replace("{org}", &org));
        }
    }
    Parts {
        title,
        issued: format!("{} {}", w.issued, date(doc.issued_at)),
        replaces: doc
            .replaces
            .as_ref()
            .map(|number| format!("{} {}.", w.replaces, iso.ltr(number))),
        intro,
        tributes,
        rows,
        totals,
        acknowledgment,
        exempt: w
            .exempt
            .replace("501(c)(3)", &iso.ltr("501(c)(3)"))
            .replace("{org}", &org)
            .replace("{ein}", &iso.ltr(&doc.letterhead.ein)),
        sample: doc.letterhead.sample.then(|| w.sample.to_owned()),
        signature: format!("{}, {org}", w.signature),
    }
}

/// Renders the document's text and HTML in its language, with its totals: cheap enough
/// for the transaction that issues it.
pub fn render(doc: &Document) -> Rendered {
    let p = parts(doc, doc.language);
    Rendered {
        text: render_text(doc, &p),
        html: render_html(doc, &p),
        amount_minor: doc.lines.iter().map(GiftLine::net_minor).sum(),
        deductible_minor: doc.lines.iter().map(GiftLine::deductible_minor).sum(),
    }
}

/// Typesets the document's PDF letter in its language, with the fonts compiled into the
/// service, Arabic right to left. Costly: done once per document, outside the issuing
/// transaction (see `stored_pdf`).
pub fn render_pdf(doc: &Document) -> Result<Vec<u8>, TypesetError> {
    pdf::render(doc, &parts(doc, doc.language))
}

impl Document {
    /// The stored form, kept with the receipt.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// Reads a stored document back.
    pub fn from_json(value: &serde_json::Value) -> Result<Document, serde_json::Error> {
        Document::deserialize(value)
    }
}

fn render_text(doc: &Document, p: &Parts) -> String {
    let mut out = p
        .sample
        .as_ref()
        .map(|sample| format!("*** {sample} ***\n\n"))
        .unwrap_or_default();
    out.push_str(&format!(
        "{}\nEIN {}\n{}\n\n{}\n{}\n",
        doc.letterhead.legal_name, doc.letterhead.ein, doc.letterhead.address, p.title, p.issued
    ));
    if let Some(replaces) = &p.replaces {
        out.push_str(replaces);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&doc.donor_name);
    out.push('\n');
    if let Some(address) = &doc.donor_address {
        out.push_str(address);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&p.intro);
    out.push('\n');
    for tribute in &p.tributes {
        out.push_str(tribute);
        out.push('\n');
    }
    out.push('\n');
    let header = words(doc.language).columns.join(" | ");
    out.push_str(&header);
    out.push('\n');
    for row in p.rows.iter().chain(std::iter::once(&p.totals)) {
        out.push_str(&row.join(" | "));
        out.push('\n');
    }
    out.push('\n');
    for sentence in &p.acknowledgment {
        out.push_str(sentence);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&p.exempt);
    if let Some(sample) = &p.sample {
        out.push_str(&format!("\n\n*** {sample} ***"));
    }
    out.push_str("\n\n____________________________\n");
    out.push_str(&p.signature);
    out.push('\n');
    // Plain text has no markup to isolate with; mail readers order it by its letters.
    without_direction_marks(&out)
}

fn render_html(doc: &Document, p: &Parts) -> String {
    let dir = if doc.language == Language::Arabic {
        "rtl"
    } else {
        "ltr"
    };
    let cell = |tag: &str, text: &str| {
        format!(
            "<{tag} style=\"padding: 4px 8px; border-bottom: 1px solid #ccc;\">{}</{tag}>",
            html_text(text)
        )
    };
    let header: String = words(doc.language)
        .columns
        .iter()
        .map(|c| cell("th", c))
        .collect();
    let rows: String = p
        .rows
        .iter()
        .map(|row| {
            format!(
                "<tr>{}</tr>",
                row.iter().map(|c| cell("td", c)).collect::<String>()
            )
        })
        .collect();
    let totals: String = p.totals.iter().map(|c| cell("th", c)).collect();
    let paragraphs = |items: &[String]| -> String {
        items
            .iter()
            .map(|s| format!("<p>{}</p>", html_text(s)))
            .collect()
    };
    format!(
        "<div class=\"receipt\" lang=\"{lang}\" dir=\"{dir}\">\n{sample}\
         <div class=\"letterhead\"><strong><bdi>{org}</bdi></strong><br>EIN <bdi dir=\"ltr\">{ein}</bdi><br><bdi dir=\"ltr\">{org_address}</bdi></div>\n\
         <h2>{title}</h2>\n<p>{issued}</p>\n{replaces}\
         <p class=\"donor\"><bdi>{donor}</bdi>{donor_address}</p>\n\
         <p>{intro}</p>\n{tributes}\
         <table style=\"border-collapse: collapse;\">\n<thead><tr>{header}</tr></thead>\n<tbody>{rows}</tbody>\n<tfoot><tr>{totals}</tr></tfoot>\n</table>\n\
         {acknowledgment}\n<p>{exempt}</p>\n<p>____________________________<br>{signature}</p>\n</div>",
        lang = doc.language.as_str(),
        sample = p
            .sample
            .as_ref()
            .map(|sample| format!(
                "<p class=\"sample\" style=\"border: 3px solid #b00020; color: #b00020; \
                 padding: 8px; font-weight: bold;\">{}</p>\n",
                escape(sample)
            ))
            .unwrap_or_default(),
        org = escape(&doc.letterhead.legal_name),
        ein = escape(&doc.letterhead.ein),
        org_address = escape(&doc.letterhead.address),
        title = html_text(&p.title),
        issued = html_text(&p.issued),
        replaces = p
            .replaces
            .as_ref()
            .map(|r| format!("<p>{}</p>\n", html_text(r)))
            .unwrap_or_default(),
        donor = escape(&doc.donor_name),
        donor_address = doc
            .donor_address
            .as_ref()
            .map(|a| {
                a.lines()
                    .map(|line| format!("<br><bdi dir=\"ltr\">{}</bdi>", escape(line)))
                    .collect::<String>()
            })
            .unwrap_or_default(),
        intro = html_text(&p.intro),
        tributes = paragraphs(&p.tributes),
        acknowledgment = paragraphs(&p.acknowledgment),
        exempt = html_text(&p.exempt),
        signature = html_text(&p.signature),
    )
}

#[cfg(test)]
// Test data that does not parse should stop the test where it happened.
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use entity::enums::PaymentMethod;

    fn document(language: Language) -> Document {
        Document {
            letterhead: Letterhead {
                legal_name: "Immigrant Legal Defense Fund".to_owned(),
                ein: "12-3456789".to_owned(),
                address: "1458 Howard Street, San Francisco, CA 94103".to_owned(),
                timezone: "America/Los_Angeles".to_owned(),
                sample: false,
            },
            language,
            kind: ReceiptKind::Gift,
            number: "2026-000003".to_owned(),
            tax_year: 2026,
            issued_at: DateTime::parse_from_rfc3339("2026-03-15T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            donor_name: "ليلى حداد".to_owned(),
            donor_address: Some("2130 W. 6th Street\nLos Angeles, CA 90057".to_owned()),
            currency: Currency::parse("USD").unwrap(),
            lines: vec![GiftLine {
                received_at: DateTime::parse_from_rfc3339("2026-03-14T18:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                amount_minor: 5_000,
                refunded_minor: 0,
                benefits_minor: 0,
                benefits_description: None,
                method: PaymentMethod::Card,
                fund: "Santa Ana Deportation Defense Fund".to_owned(),
                tribute: None,
            }],
            replaces: None,
        }
    }

    #[test]
    fn arabic_html_isolates_numbers_amounts_and_addresses() {
        let html = render(&document(Language::Arabic)).html;

        assert!(
            html.contains("إيصال <bdi dir=\"ltr\">2026-000003</bdi>"),
            "{html}"
        );
        assert!(html.contains("<bdi dir=\"ltr\">$50.00</bdi>"), "{html}");
        assert!(
            html.contains("<bdi>Santa Ana Deportation Defense Fund</bdi>"),
            "{html}"
        );
        assert!(
            html.contains("<br><bdi dir=\"ltr\">2130 W. 6th Street</bdi>"),
            "{html}"
        );
        assert!(html.contains("<bdi>ليلى حداد</bdi>"), "{html}");
    }

    #[test]
    fn the_plain_text_carries_no_direction_marks() {
        let text = render(&document(Language::Arabic)).text;

        assert!(text.contains("إيصال 2026-000003"), "{text}");
        assert!(
            !text.contains(['\u{2066}', '\u{2068}', '\u{2069}']),
            "{text}"
        );
    }

    #[test]
    fn english_html_has_no_isolates_inside_its_sentences() {
        let html = render(&document(Language::English)).html;

        assert!(html.contains("Receipt 2026-000003"), "{html}");
        assert!(html.contains("Thank you for your gift of $50.00"), "{html}");
    }

    #[test]
    fn a_document_reads_back_as_it_was_stored() {
        let document = document(Language::Arabic);

        let stored = document.to_json().unwrap();

        assert_eq!(Document::from_json(&stored).unwrap(), document);
    }

    #[test]
    fn dates_are_shown_in_the_letterhead_time_zone() {
        let mut document = document(Language::English);
        document.issued_at = DateTime::parse_from_rfc3339("2027-01-01T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);

        let text = render(&document).text;

        assert!(text.contains("Issued December 31, 2026"), "{text}");
    }
}
