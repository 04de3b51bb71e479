//! The donation pages' words in each language the page offers.

use actix_web::HttpRequest;
use actix_web::http::header;
use entity::enums::Language;

use super::amounts::whole_amount;
use crate::domain::tiers::Circle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
    Fr,
    Ar,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Es, Lang::Fr, Lang::Ar];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
            Lang::Ar => "ar",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
            Lang::Fr => "Français",
            Lang::Ar => "العربية",
        }
    }

    pub fn dir(self) -> &'static str {
        if self == Lang::Ar { "rtl" } else { "ltr" }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// `?lang=` first, then the browser's `Accept-Language` in order, then English.
    pub fn negotiate(query_lang: Option<&str>, request: &HttpRequest) -> Lang {
        if let Some(lang) = query_lang.and_then(Lang::parse) {
            return lang;
        }
        let accept = request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut ranked: Vec<(f32, Lang)> = accept
            .split(',')
            .enumerate()
            .filter_map(|(index, part)| {
                let mut pieces = part.split(';');
                let lang = Lang::parse(pieces.next()?)?;
                let quality = pieces
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                    .unwrap_or(1.0_f32);
                // Earlier entries win ties.
                Some((quality - index as f32 * 0.0001, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Lang::En, |(_, lang)| *lang)
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Es => &ES,
            Lang::Fr => &FR,
            Lang::Ar => &AR,
        }
    }
}

pub struct Text {
    pub title: &'static str,
    pub intro: &'static str,
    pub language: &'static str,
    pub frequency: &'static str,
    pub once: &'static str,
    pub monthly: &'static str,
    pub amount: &'static str,
    pub other_amount: &'static str,
    pub fund: &'static str,
    pub tribute: &'static str,
    pub tribute_none: &'static str,
    pub in_honor: &'static str,
    pub in_memory: &'static str,
    pub tribute_name: &'static str,
    pub notify_name: &'static str,
    pub notify_email: &'static str,
    pub tribute_show_amount: &'static str,
    pub about_you: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub consent: &'static str,
    pub anonymous: &'static str,
    pub submit: &'static str,
    pub secure: &'static str,
    pub errors_heading: &'static str,
    pub err_frequency: &'static str,
    pub err_amount: &'static str,
    pub err_amount_range: &'static str,
    pub err_fund: &'static str,
    pub err_tribute_kind: &'static str,
    pub err_tribute_name: &'static str,
    pub err_notify_name: &'static str,
    pub err_notify_email: &'static str,
    pub err_name: &'static str,
    pub err_email: &'static str,
    pub unavailable: &'static str,
    pub raised: &'static str,
    pub goal: &'static str,
    pub thanks_title: &'static str,
    pub thanks_paid: &'static str,
    pub thanks_processing: &'static str,
    pub thanks_failed: &'static str,
    pub thanks_unknown: &'static str,
    pub cancelled_title: &'static str,
    pub cancelled_body: &'static str,
    pub try_again: &'static str,
    pub required: &'static str,
}

pub static EN: Text = Text {
    title: "Give to defend immigrants",
    intro: "Your gift pays for lawyers who stand beside immigrants facing deportation.",
    language: "Language",
    frequency: "How often",
    once: "Once",
    monthly: "Monthly",
    amount: "Amount (US dollars)",
    other_amount: "Other amount",
    fund: "Where your gift goes",
    tribute: "Give in honor or in memory of someone (optional)",
    tribute_none: "No tribute",
    in_honor: "In honor of",
    in_memory: "In memory of",
    tribute_name: "Name of the person honored",
    notify_name: "Whom should we tell? (name)",
    notify_email: "Email of the person to tell",
    tribute_show_amount: "Tell them the amount of my gift",
    about_you: "About you",
    name: "Your name",
    email: "Your email",
    consent: "Email me updates and appeals",
    anonymous: "Keep my gift anonymous",
    submit: "Continue to secure payment",
    secure: "You will pay on Stripe's secure page. We never see your card number.",
    errors_heading: "Please correct the following:",
    err_frequency: "Choose once or monthly.",
    err_amount: "Choose an amount or type one, like 25 or 25.50.",
    err_amount_range: "The amount must be at least $1.00 and at most $100,000.00.",
    err_fund: "Choose where your gift goes.",
    err_tribute_kind: "Choose in honor of or in memory of.",
    err_tribute_name: "Give the name of the person your gift honors.",
    err_notify_name: "Give the name of the person to notify on one line, at most 200 characters.",
    err_notify_email: "Give a valid email address for the person to notify, or leave it empty.",
    err_name: "Give your name.",
    err_email: "Give a valid email address, like name@example.org.",
    unavailable: "We could not reach our payment processor, and nothing was charged. Please try again in a moment.",
    raised: "raised",
    goal: "goal",
    thanks_title: "Thank you",
    thanks_paid: "Your gift was received. Your receipt is on its way by email.",
    thanks_processing: "Your payment is still processing. We will email your receipt as soon as it completes.",
    thanks_failed: "Your payment did not go through, and nothing was charged.",
    thanks_unknown: "We are confirming your gift with our payment processor. Your receipt will arrive by email.",
    cancelled_title: "Your gift was not completed",
    cancelled_body: "Nothing was charged. You can try again whenever you are ready.",
    try_again: "Try again",
    required: "required",
};

pub static ES: Text = Text {
    title: "Done para defender a los inmigrantes",
    intro: "Su donación paga abogados que acompañan a inmigrantes en proceso de deportación.",
    language: "Idioma",
    frequency: "Frecuencia",
    once: "Una vez",
    monthly: "Mensual",
    amount: "Cantidad (dólares estadounidenses)",
    other_amount: "Otra cantidad",
    fund: "Destino de su donación",
    tribute: "Done en honor o en memoria de alguien (opcional)",
    tribute_none: "Sin dedicatoria",
    in_honor: "En honor de",
    in_memory: "En memoria de",
    tribute_name: "Nombre de la persona homenajeada",
    notify_name: "¿A quién avisamos? (nombre)",
    notify_email: "Correo electrónico de esa persona",
    tribute_show_amount: "Indicarle el monto de mi donación",
    about_you: "Sus datos",
    name: "Su nombre",
    email: "Su correo electrónico",
    consent: "Envíenme noticias y llamamientos por correo",
    anonymous: "Mantener mi donación anónima",
    submit: "Continuar al pago seguro",
    secure: "Pagará en la página segura de Stripe. Nunca vemos el número de su tarjeta.",
    errors_heading: "Por favor corrija lo siguiente:",
    err_frequency: "Elija una vez o mensual.",
    err_amount: "Elija una cantidad o escríbala, como 25 o 25,50.",
    err_amount_range: "La cantidad debe ser de al menos $1,00 y como máximo $100.000,00.",
    err_fund: "Elija el destino de su donación.",
    err_tribute_kind: "Elija en honor de o en memoria de.",
    err_tribute_name: "Escriba el nombre de la persona a quien honra su donación.",
    err_notify_name: "Escriba el nombre de la persona a avisar en una línea, de 200 caracteres como máximo.",
    err_notify_email: "Escriba un correo válido para la persona a avisar, o déjelo vacío.",
    err_name: "Escriba su nombre.",
    err_email: "Escriba un correo electrónico válido, como nombre@ejemplo.org.",
    unavailable: "No pudimos comunicarnos con el procesador de pagos y no se hizo ningún cargo. Inténtelo de nuevo en un momento.",
    raised: "recaudado",
    goal: "meta",
    thanks_title: "Gracias",
    thanks_paid: "Recibimos su donación. Su recibo llegará por correo electrónico.",
    thanks_processing: "Su pago aún se está procesando. Le enviaremos su recibo en cuanto se complete.",
    thanks_failed: "Su pago no se completó y no se hizo ningún cargo.",
    thanks_unknown: "Estamos confirmando su donación con el procesador de pagos. Su recibo llegará por correo electrónico.",
    cancelled_title: "Su donación no se completó",
    cancelled_body: "No se hizo ningún cargo. Puede intentarlo de nuevo cuando quiera.",
    try_again: "Intentar de nuevo",
    required: "obligatorio",
};

pub static FR: Text = Text {
    title: "Donnez pour défendre les immigrés",
    intro: "Votre don paie des avocats aux côtés des immigrés menacés d'expulsion.",
    language: "Langue",
    frequency: "Fréquence",
    once: "Une fois",
    monthly: "Mensuel",
    amount: "Montant (dollars américains)",
    other_amount: "Autre montant",
    fund: "Affectation de votre don",
    tribute: "Donner en l'honneur ou à la mémoire de quelqu'un (facultatif)",
    tribute_none: "Sans dédicace",
    in_honor: "En l'honneur de",
    in_memory: "À la mémoire de",
    tribute_name: "Nom de la personne honorée",
    notify_name: "Qui devons-nous prévenir ? (nom)",
    notify_email: "Adresse e-mail de cette personne",
    tribute_show_amount: "Lui indiquer le montant de mon don",
    about_you: "Vos coordonnées",
    name: "Votre nom",
    email: "Votre adresse e-mail",
    consent: "M'envoyer des nouvelles et des appels par e-mail",
    anonymous: "Garder mon don anonyme",
    submit: "Continuer vers le paiement sécurisé",
    secure: "Vous paierez sur la page sécurisée de Stripe. Nous ne voyons jamais votre numéro de carte.",
    errors_heading: "Veuillez corriger ce qui suit :",
    err_frequency: "Choisissez une fois ou mensuel.",
    err_amount: "Choisissez un montant ou saisissez-le, par exemple 25 ou 25,50.",
    err_amount_range: "Le montant doit être d'au moins 1,00 $ et d'au plus 100 000,00 $.",
    err_fund: "Choisissez l'affectation de votre don.",
    err_tribute_kind: "Choisissez « en l'honneur de » ou « à la mémoire de ».",
    err_tribute_name: "Indiquez le nom de la personne honorée.",
    err_notify_name: "Indiquez le nom de la personne à prévenir sur une ligne, 200 caractères au plus.",
    err_notify_email: "Indiquez une adresse e-mail valide pour la personne à prévenir, ou laissez vide.",
    err_name: "Indiquez votre nom.",
    err_email: "Indiquez une adresse e-mail valide, comme nom@exemple.org.",
    unavailable: "Nous n'avons pas pu joindre notre prestataire de paiement, et rien n'a été débité. Réessayez dans un instant.",
    raised: "collectés",
    goal: "objectif",
    thanks_title: "Merci",
    thanks_paid: "Votre don a bien été reçu. Votre reçu arrive par e-mail.",
    thanks_processing: "Votre paiement est en cours de traitement. Nous vous enverrons votre reçu dès qu'il sera terminé.",
    thanks_failed: "Votre paiement n'a pas abouti, et rien n'a été débité.",
    thanks_unknown: "Nous confirmons votre don auprès de notre prestataire de paiement. Votre reçu arrivera par e-mail.",
    cancelled_title: "Votre don n'a pas été finalisé",
    cancelled_body: "Rien n'a été débité. Vous pouvez réessayer quand vous voulez.",
    try_again: "Réessayer",
    required: "obligatoire",
};

pub static AR: Text = Text {
    title: "تبرّع للدفاع عن المهاجرين",
    intro: "تبرعك يدفع أتعاب محامين يقفون إلى جانب المهاجرين المهددين بالترحيل.",
    language: "اللغة",
    frequency: "عدد المرات",
    once: "مرة واحدة",
    monthly: "شهرياً",
    amount: "المبلغ (بالدولار الأمريكي)",
    other_amount: "مبلغ آخر",
    fund: "وجهة تبرعك",
    tribute: "تبرّع تكريماً لشخص أو إحياءً لذكراه (اختياري)",
    tribute_none: "بدون إهداء",
    in_honor: "تكريماً لـ",
    in_memory: "إحياءً لذكرى",
    tribute_name: "اسم الشخص المُكرَّم",
    notify_name: "من نُبلغ؟ (الاسم)",
    notify_email: "البريد الإلكتروني لمن نُبلغه",
    tribute_show_amount: "أخبروه بقيمة تبرعي",
    about_you: "معلوماتك",
    name: "اسمك",
    email: "بريدك الإلكتروني",
    consent: "أرسلوا لي الأخبار والنداءات بالبريد الإلكتروني",
    anonymous: "اجعل تبرعي مجهول الاسم",
    submit: "المتابعة إلى الدفع الآمن",
    secure: "ستدفع على صفحة Stripe الآمنة. لا نرى رقم بطاقتك أبداً.",
    errors_heading: "يرجى تصحيح ما يلي:",
    err_frequency: "اختر مرة واحدة أو شهرياً.",
    err_amount: "اختر مبلغاً أو اكتبه، مثل 25 أو 25,50.",
    err_amount_range: "يجب أن يكون المبلغ بين 1,00 و100.000,00 دولار.",
    err_fund: "اختر وجهة تبرعك.",
    err_tribute_kind: "اختر التكريم أو إحياء الذكرى.",
    err_tribute_name: "اكتب اسم الشخص الذي يكرّمه تبرعك.",
    err_notify_name: "اكتب اسم الشخص المراد إبلاغه في سطر واحد، بحد أقصى 200 حرف.",
    err_notify_email: "اكتب بريداً إلكترونياً صحيحاً للشخص المراد إبلاغه، أو اتركه فارغاً.",
    err_name: "اكتب اسمك.",
    err_email: "اكتب بريداً إلكترونياً صحيحاً، مثل name@example.org.",
    unavailable: "تعذّر الاتصال بمعالج الدفع، ولم يُخصم أي مبلغ. يرجى المحاولة بعد قليل.",
    raised: "تم جمعه",
    goal: "الهدف",
    thanks_title: "شكراً لك",
    thanks_paid: "وصلنا تبرعك. سيصلك الإيصال بالبريد الإلكتروني.",
    thanks_processing: "ما زالت عملية الدفع قيد المعالجة. سنرسل إيصالك فور اكتمالها.",
    thanks_failed: "لم تكتمل عملية الدفع، ولم يُخصم أي مبلغ.",
    thanks_unknown: "نتحقق من تبرعك مع معالج الدفع. سيصلك الإيصال بالبريد الإلكتروني.",
    cancelled_title: "لم يكتمل تبرعك",
    cancelled_body: "لم يُخصم أي مبلغ. يمكنك المحاولة مجدداً متى شئت.",
    try_again: "حاول مجدداً",
    required: "مطلوب",
};

/// A tier's name as a page in `lang` writes it, the same as in email.
pub fn tier_name(lang: Lang, name: &str) -> &str {
    let language = match lang {
        Lang::En => Language::English,
        Lang::Es => Language::Spanish,
        Lang::Fr => Language::French,
        Lang::Ar => Language::Arabic,
    };
    mailer::templates::tier_name(language, name)
}

/// The note beside the donation page's Circle preset: the monthly amount that joins
/// the Circle, its name and its yearly threshold.
pub fn circle_note(lang: Lang, circle: &Circle) -> String {
    let name = tier_name(lang, &circle.tier.name);
    let monthly = whole_amount(circle.monthly_minor(), lang);
    let yearly = whole_amount(circle.tier.threshold_minor, lang);
    match lang {
        Lang::En => format!("${monthly} a month joins the {name} (${yearly} or more a year)"),
        Lang::Es => format!("${monthly} al mes le une al {name} (${yearly} o más al año)"),
        Lang::Fr => format!(
            "{monthly} $ par mois vous fait entrer dans le {name} ({yearly} $ ou plus par an)"
        ),
        Lang::Ar => format!("{monthly} دولاراً شهرياً تضمك إلى {name} ({yearly} دولار أو أكثر سنوياً)"),
    }
}
