//! The donation checkout's defences against card testers and forged posts: a signed,
//! short-lived form token (the form's `attempt` field), an `Origin` check against
//! `PUBLIC_URL`, a honeypot field, the minimum gift, and budgets of Checkout Sessions
//! per client address, per donor email and for the whole service, so that nobody can
//! use the page to try stolen cards at the organization's expense.
//!
//! The budgets live in this process's memory, bounded in size; each process of a
//! deployment keeps its own.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use entity::Currency;
use entity::enums::Language;
use fluent_templates::fluent_bundle::FluentValue;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use mailer::templates::words::PerLanguage;
use sha2::{Digest, Sha256};
use url::{Origin, Url};

use super::amounts::money;
use super::donate::FieldError;
use super::i18n::Words;
use super::page::{Layout, MessagePage, respond};
use crate::config::{Budget, CheckoutSettings};
use crate::domain::donations::Donation;

/// The field only robots fill in: hidden from sight, labelled for screen readers.
pub const HONEYPOT_FIELD: &str = "website";
/// Keys each budget remembers at most; past that, the stalest are forgotten.
const MAX_TRACKED_KEYS: usize = 50_000;
/// A form token dated this far ahead of the clock is still taken (clock skew
/// between processes).
const FUTURE_SKEW_SECS: i64 = 60;

type HmacSha256 = Hmac<Sha256>;

/// Why a post was refused before anything was checked with Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The post came from another site's page (or said nothing of where it came from).
    ForeignOrigin,
    /// The hidden field was filled in.
    Honeypot,
    /// The form token was missing, altered or too old: the donor sends the form again.
    FormToken(TokenProblem),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Missing,
    Forged,
    Expired,
}

/// Checks a donation post before it may cost a Checkout Session.
pub struct CheckoutGuard {
    settings: CheckoutSettings,
    key: Vec<u8>,
    public_origin: Origin,
    budgets: Mutex<Budgets>,
    /// The currency the minimum is shown in: the organization's.
    currency: Currency,
    /// What the form says for the guard, in each language.
    form_words: PerLanguage<FormWords>,
}

impl CheckoutGuard {
    /// `link_key` is the service's link key (`DOWNLOAD_LINK_KEY`), which signs form tokens.
    pub fn new(settings: CheckoutSettings, link_key: &str, public_url: &Url) -> CheckoutGuard {
        let budgets = Budgets {
            address: Limiter::new(settings.per_address),
            email: Limiter::new(settings.per_email),
            global: Limiter::new(settings.global),
        };
        CheckoutGuard {
            key: link_key.as_bytes().to_vec(),
            public_origin: public_url.origin(),
            budgets: Mutex::new(budgets),
            form_words: FormWords::each_language(&settings, Currency::Usd),
            settings,
            currency: Currency::Usd,
        }
    }

    pub fn min_gift_minor(&self) -> i64 {
        self.settings.min_gift_minor
    }

    /// A new form token: when it was issued, a random nonce, and their signature.
    pub fn issue_form_token(&self) -> String {
        use rand::Rng;
        let nonce: [u8; 16] = rand::rng().random();
        self.form_token_at(chrono::Utc::now().timestamp(), &hex::encode(nonce))
    }

    fn form_token_at(&self, issued: i64, nonce: &str) -> String {
        format!(
            "{issued}.{nonce}.{}",
            hex::encode(self.token_mac(issued, nonce))
        )
    }

    fn token_mac(&self, issued: i64, nonce: &str) -> Vec<u8> {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return Vec::new();
        };
        mac.update(b"donate-form\0");
        mac.update(issued.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(nonce.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks a form token as of `now` (Unix seconds): canonical, signed by us, not older
    /// than `CHECKOUT_FORM_MAX_AGE_SECS`.
    pub fn check_form_token_at(&self, token: &str, now: i64) -> Result<(), TokenProblem> {
        if token.is_empty() {
            return Err(TokenProblem::Missing);
        }
        let mut parts = token.split('.');
        let (Some(issued), Some(nonce), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenProblem::Forged);
        };
        let lower_hex = |text: &str, len: usize| {
            text.len() == len
                && text
                    .trim_start_matches(|c: char| matches!(c, '0'..='9' | 'a'..='f'))
                    .is_empty()
        };
        let Some(issued_at) = issued
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && n.to_string() == issued)
        else {
            return Err(TokenProblem::Forged);
        };
        if !lower_hex(nonce, 32) || !lower_hex(signature, 64) {
            return Err(TokenProblem::Forged);
        }
        let Ok(presented) = hex::decode(signature) else {
            return Err(TokenProblem::Forged);
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return Err(TokenProblem::Forged);
        };
        mac.update(b"donate-form\0");
        mac.update(issued.as_bytes());
        mac.update(b"\0");
        mac.update(nonce.as_bytes());
        if mac.verify_slice(&presented).is_err() || issued_at > now + FUTURE_SKEW_SECS {
            return Err(TokenProblem::Forged);
        }
        let max_age = i64::try_from(self.settings.form_max_age.as_secs()).unwrap_or(i64::MAX);
        if now.saturating_sub(issued_at) > max_age {
            return Err(TokenProblem::Expired);
        }
        Ok(())
    }

    /// Whether the post says it comes from our own page: its `Origin`, or without one
    /// its `Referer`, is `PUBLIC_URL`'s origin. A post that says neither is refused;
    /// browsers send `Origin` with every form post.
    pub fn comes_from_our_page(&self, request: &HttpRequest) -> bool {
        if !self.settings.check_origin {
            return true;
        }
        let headers = request.headers();
        let stated = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER));
        stated
            .and_then(|value| value.to_str().ok())
            .and_then(|text| Url::parse(text).ok())
            .is_some_and(|url| url.origin() == self.public_origin)
    }

    /// Everything about a post that needs no database and no Stripe: where it came
    /// from, the hidden field, and the form token.
    pub fn screen(
        &self,
        request: &HttpRequest,
        honeypot: Option<&str>,
        token: &str,
    ) -> Result<(), Refusal> {
        if !self.comes_from_our_page(request) {
            return Err(Refusal::ForeignOrigin);
        }
        if self.settings.honeypot && honeypot.is_some_and(|v| !v.is_empty()) {
            return Err(Refusal::Honeypot);
        }
        self.check_form_token_at(token, chrono::Utc::now().timestamp())
            .map_err(Refusal::FormToken)
    }

    /// The donor's address: the connection's peer, or behind a trusted proxy the
    /// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_address(&self, request: &HttpRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip();
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .collect();
        Some(client_address_from(
            peer,
            &forwarded.join(","),
            &self.settings.trusted_proxies,
        ))
    }

    /// The minimum gift, as a field error on the amount when the donation is below it.
    pub fn below_minimum(&self, donation: &Donation, lang: Language) -> Option<FieldError> {
        (donation.amount.amount_minor() < self.settings.min_gift_minor).then(|| FieldError {
            field: "amount",
            message: self.with_minimum(lang, "guard-below-minimum"),
        })
    }

    /// The guard for an organization keeping its books in `currency` (USD otherwise).
    pub fn in_currency(self, currency: Currency) -> CheckoutGuard {
        CheckoutGuard {
            currency,
            form_words: FormWords::each_language(&self.settings, currency),
            ..self
        }
    }

    /// The message `id` with the smallest gift written in `lang`.
    fn with_minimum(&self, lang: Language, id: &str) -> String {
        with_minimum(lang, id, &self.settings, self.currency)
    }

    /// Takes one Checkout Session from every budget that applies, or none when any is
    /// spent; then says how long until the spent one allows another.
    pub fn take_checkout_budget(
        &self,
        address: Option<IpAddr>,
        email: &str,
    ) -> Result<(), Duration> {
        self.take_checkout_budget_at(address, email, Instant::now())
    }

    pub fn take_checkout_budget_at(
        &self,
        address: Option<IpAddr>,
        email: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut budgets = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        let address = address.map(address_key);
        let email = email_key(email);
        let address_turn = match (&budgets.address, address) {
            (Some(limiter), Some(key)) => Some(limiter.check(&key, now)),
            _ => None,
        };
        let email_turn = budgets.email.as_ref().map(|l| l.check(&email, now));
        let global_turn = budgets.global.as_ref().map(|l| l.check(&(), now));
        let wait = [&address_turn, &email_turn, &global_turn]
            .into_iter()
            .filter_map(|turn| turn.as_ref().and_then(|t| t.as_ref().err()))
            .max()
            .copied();
        if let Some(wait) = wait {
            return Err(wait);
        }
        if let (Some(limiter), Some(key), Some(Ok(next))) =
            (budgets.address.as_mut(), address, address_turn)
        {
            limiter.commit(key, next, now);
        }
        if let (Some(limiter), Some(Ok(next))) = (budgets.email.as_mut(), email_turn) {
            limiter.commit(email, next, now);
        }
        if let (Some(limiter), Some(Ok(next))) = (budgets.global.as_mut(), global_turn) {
            limiter.commit((), next, now);
        }
        Ok(())
    }

    /// The hidden field's label (when the page has one) and the minimum, for the form.
    pub fn form_words(&self, lang: Language) -> &FormWords {
        self.form_words.of(lang)
    }
}

/// The message `id` in `lang` with the minimum gift of `settings` in `currency`.
fn with_minimum(
    lang: Language,
    id: &str,
    settings: &CheckoutSettings,
    currency: Currency,
) -> String {
    let minimum = money(lang, settings.min_gift_minor, currency);
    Words(lang).with(id, &[("minimum", FluentValue::from(minimum))])
}

/// What the form says for the guard.
#[derive(Debug, Clone, Default)]
pub struct FormWords {
    /// The label of the field only robots fill in; none when the page has no such field.
    pub honeypot_label: Option<String>,
    pub minimum_hint: String,
}

impl FormWords {
    /// What the form says for a guard with `settings` asking in `currency`, in each
    /// language: the same on every page.
    fn each_language(settings: &CheckoutSettings, currency: Currency) -> PerLanguage<FormWords> {
        PerLanguage::new(|lang| FormWords {
            honeypot_label: settings
                .honeypot
                .then(|| Words(lang).get("guard-honeypot-label")),
            minimum_hint: with_minimum(lang, "guard-minimum-hint", settings, currency),
        })
    }
}

/// What the donor is told when the form token failed, above the form shown again.
pub fn form_token_notice(lang: Language) -> String {
    Words(lang).get("guard-form-expired")
}

/// A page that leads back to the donation form.
fn back_to_form(lang: Language, title_id: &str, text: String) -> MessagePage {
    let t = Words(lang);
    MessagePage::new(Layout::new(lang, t.get(title_id), "/donate", &[]), text).with_link(
        format!("/donate?lang={}", lang.as_str()),
        t.get("guard-back-to-form"),
    )
}

/// The page for a post from another site, or one that filled the hidden field:
/// nothing was created, and the way back is the donation page.
pub fn refused_page(lang: Language) -> HttpResponse {
    let text = Words(lang).get("guard-refused-body");
    respond(
        StatusCode::FORBIDDEN,
        &back_to_form(lang, "guard-refused-title", text),
    )
}

/// The polite page for a donor over a budget: 429, with `Retry-After`.
pub fn over_budget_page(lang: Language, wait: Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let minutes = seconds.div_ceil(60);
    let text = Words(lang).with(
        "guard-busy-body",
        &[("minutes", FluentValue::from(minutes))],
    );
    let mut response = respond(
        StatusCode::TOO_MANY_REQUESTS,
        &back_to_form(lang, "guard-busy-title", text).with_role("status"),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The address a budget counts: IPv4 as it is, IPv6 by its /64 (one subscriber's
/// network), IPv4 written as IPv6 as IPv4.
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::from(segments)
        }
        v4 => v4,
    }
}

/// Emails are kept as a short digest of their normalized form.
fn email_key(email: &str) -> [u8; 16] {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn client_address_from(peer: IpAddr, forwarded: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    // Right to left: each trusted proxy names the one before it; the first address
    // not a trusted proxy is the client. Anything unreadable stops the walk.
    for entry in forwarded.rsplit(',') {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

struct Budgets {
    address: Option<Limiter<IpAddr>>,
    email: Option<Limiter<[u8; 16]>>,
    global: Option<Limiter<()>>,
}

/// A keyed budget by the generic cell rate algorithm: each key keeps only the time
/// at which its budget is whole again.
struct Limiter<K> {
    interval: Duration,
    tolerance: Duration,
    next_free: HashMap<K, Instant>,
}

impl<K: Eq + Hash + Copy> Limiter<K> {
    fn new(budget: Budget) -> Option<Limiter<K>> {
        if budget.count == 0 {
            return None;
        }
        let interval = budget.window / budget.count;
        Some(Limiter {
            interval,
            tolerance: interval * budget.burst.saturating_sub(1),
            next_free: HashMap::new(),
        })
    }

    /// `Ok(next)` with the key's new state when one more is allowed, else how long to wait.
    fn check(&self, key: &K, now: Instant) -> Result<Instant, Duration> {
        let theoretical = self.next_free.get(key).map_or(now, |t| (*t).max(now));
        let ahead = theoretical.saturating_duration_since(now);
        if ahead > self.tolerance {
            Err(ahead - self.tolerance)
        } else {
            Ok(theoretical + self.interval)
        }
    }

    fn commit(&mut self, key: K, next: Instant, now: Instant) {
        if self.next_free.len() >= MAX_TRACKED_KEYS && !self.next_free.contains_key(&key) {
            // A key whose budget is whole again is the same as a key never seen.
            self.next_free.retain(|_, t| *t > now);
            if self.next_free.len() >= MAX_TRACKED_KEYS
                && let Some(stalest) = self
                    .next_free
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(k, _)| *k)
            {
                self.next_free.remove(&stalest);
            }
        }
        self.next_free.insert(key, next);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn settings() -> CheckoutSettings {
        crate::config::Config::from_sources(None, |_| None)
            .map(|c| c.checkout)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn guard_with(settings: CheckoutSettings) -> CheckoutGuard {
        let url = Url::parse("https://give.example.org/").unwrap_or_else(|e| panic!("{e}"));
        CheckoutGuard::new(settings, &"k".repeat(40), &url)
    }

    /// A guard with the default settings, for the pages' tests too.
    pub(crate) fn guard() -> CheckoutGuard {
        guard_with(settings())
    }

    const NONCE: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_form_and_its_errors_state_the_minimum_in_the_organizations_currency() {
        let mut settings = settings();
        settings.min_gift_minor = 500;
        settings.honeypot = true;
        let usd = guard_with(settings.clone());
        assert_eq!(
            usd.form_words(Language::English).minimum_hint,
            "The smallest gift this page takes is $5.00."
        );
        let cad = guard_with(settings.clone()).in_currency(Currency::Cad);
        let english = cad.form_words(Language::English);
        assert_eq!(
            english.minimum_hint,
            "The smallest gift this page takes is 5.00 CAD."
        );
        assert_eq!(
            english.honeypot_label.as_deref(),
            Some("Leave this field empty")
        );
        assert!(
            cad.form_words(Language::French)
                .minimum_hint
                .contains("5,00 CAD"),
            "{}",
            cad.form_words(Language::French).minimum_hint
        );
        assert_eq!(
            cad.with_minimum(Language::English, "guard-below-minimum"),
            "The amount must be at least 5.00 CAD."
        );
        settings.honeypot = false;
        assert_eq!(
            guard_with(settings)
                .form_words(Language::Spanish)
                .honeypot_label,
            None
        );
    }

    #[test]
    fn a_form_token_is_good_until_its_last_second_and_expired_after() {
        let guard = guard();
        let token = guard.form_token_at(1_000_000, NONCE);
        assert_eq!(guard.check_form_token_at(&token, 1_000_000), Ok(()));
        assert_eq!(guard.check_form_token_at(&token, 1_003_600), Ok(()));
        assert_eq!(
            guard.check_form_token_at(&token, 1_003_601),
            Err(TokenProblem::Expired)
        );
    }

    #[test]
    fn a_form_token_from_the_future_or_altered_is_forged() {
        let guard = guard();
        let token = guard.form_token_at(1_000_000, NONCE);
        assert_eq!(
            guard.check_form_token_at(&token, 1_000_000 - 61),
            Err(TokenProblem::Forged)
        );
        assert_eq!(guard.check_form_token_at(&token, 1_000_000 - 60), Ok(()));
        let other_key = CheckoutGuard::new(
            settings(),
            &"x".repeat(40),
            &Url::parse("https://give.example.org/").unwrap_or_else(|e| panic!("{e}")),
        );
        let foreign = other_key.form_token_at(1_000_000, NONCE);
        let later = guard.form_token_at(1_000_100, NONCE);
        let signature = token.rsplit('.').next().unwrap_or_default();
        for bad in [
            foreign,
            format!("1000100.{NONCE}.{signature}"),
            format!("01000000.{NONCE}.{signature}"),
            format!("+1000000.{NONCE}.{signature}"),
            token.to_uppercase(),
            format!("{token}.x"),
            later.replacen(NONCE, &NONCE.replace('0', "1"), 1),
            "attempt-1".to_owned(),
        ] {
            assert_eq!(
                guard.check_form_token_at(&bad, 1_000_100),
                Err(TokenProblem::Forged),
                "{bad}"
            );
        }
        assert_eq!(
            guard.check_form_token_at("", 1_000_000),
            Err(TokenProblem::Missing)
        );
    }

    #[test]
    fn an_address_gets_its_burst_then_one_more_each_interval() {
        let guard = guard();
        let start = Instant::now();
        let address: IpAddr = [203, 0, 113, 9].into();
        let mut taken = 0;
        for n in 0..10 {
            let email = format!("donor{n}@example.org");
            if guard
                .take_checkout_budget_at(Some(address), &email, start)
                .is_ok()
            {
                taken += 1;
            }
        }
        assert_eq!(taken, 3, "the burst");
        let refused = guard.take_checkout_budget_at(Some(address), "x@example.org", start);
        assert_eq!(refused, Err(Duration::from_secs(120)));
        let later = start + Duration::from_secs(119);
        assert!(
            guard
                .take_checkout_budget_at(Some(address), "y@example.org", later)
                .is_err()
        );
        let later = start + Duration::from_secs(120);
        assert!(
            guard
                .take_checkout_budget_at(Some(address), "y@example.org", later)
                .is_ok()
        );
    }

    #[test]
    fn one_email_gets_three_sessions_an_hour_from_any_address() {
        let guard = guard();
        let start = Instant::now();
        for n in 0..3u8 {
            assert!(
                guard
                    .take_checkout_budget_at(
                        Some([198, 51, 100, n].into()),
                        "Ana@Example.org",
                        start
                    )
                    .is_ok()
            );
        }
        let refused = guard.take_checkout_budget_at(
            Some([198, 51, 100, 77].into()),
            "ana@example.org",
            start,
        );
        assert_eq!(refused, Err(Duration::from_secs(1200)));
    }

    #[test]
    fn a_refusal_by_one_budget_spends_nothing_from_the_others() {
        let mut settings = settings();
        settings.global = Budget {
            count: 4,
            window: Duration::from_secs(60),
            burst: 4,
        };
        let guard = guard_with(settings);
        let start = Instant::now();
        let busy: IpAddr = [203, 0, 113, 1].into();
        for n in 0..20 {
            let _ = guard.take_checkout_budget_at(Some(busy), &format!("d{n}@example.org"), start);
        }
        // The busy address spent 3 of the global 4; its 17 refusals spent nothing.
        assert!(
            guard
                .take_checkout_budget_at(Some([203, 0, 113, 2].into()), "e@example.org", start)
                .is_ok()
        );
        let ceiling =
            guard.take_checkout_budget_at(Some([203, 0, 113, 3].into()), "f@example.org", start);
        assert_eq!(ceiling, Err(Duration::from_secs(15)));
    }

    #[test]
    fn a_budget_of_zero_is_off() {
        let mut settings = settings();
        settings.per_address.count = 0;
        settings.per_email.count = 0;
        settings.global.count = 0;
        let guard = guard_with(settings);
        let now = Instant::now();
        for _ in 0..100 {
            assert!(
                guard
                    .take_checkout_budget_at(Some([192, 0, 2, 1].into()), "a@example.org", now)
                    .is_ok()
            );
        }
    }

    #[test]
    fn the_budgets_forget_addresses_past_their_bound() {
        let mut settings = settings();
        settings.per_email.count = 0;
        settings.global.count = 0;
        let guard = guard_with(settings);
        let now = Instant::now();
        for n in 0..(MAX_TRACKED_KEYS as u32 + 10) {
            let address = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            let _ = guard.take_checkout_budget_at(Some(address), "a@example.org", now);
        }
        let budgets = guard.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            budgets
                .address
                .as_ref()
                .is_some_and(|l| l.next_free.len() <= MAX_TRACKED_KEYS)
        );
    }

    #[test]
    fn ipv6_addresses_share_the_budget_of_their_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let two: IpAddr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address_key(one), address_key(two));
        assert_eq!(address_key(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}")),
            "192.0.2.1/32".parse().unwrap_or_else(|e| panic!("{e}")),
        ];
        let proxy: IpAddr = [10, 0, 0, 5].into();
        let stranger: IpAddr = [198, 51, 100, 1].into();
        let donor: IpAddr = [203, 0, 113, 50].into();
        assert_eq!(
            client_address_from(stranger, "203.0.113.50", &trusted),
            stranger
        );
        assert_eq!(client_address_from(proxy, "203.0.113.50", &trusted), donor);
        // A client cannot choose its address by writing one in front of its own.
        assert_eq!(
            client_address_from(proxy, "1.1.1.1, 203.0.113.50, 192.0.2.1", &trusted),
            donor
        );
        assert_eq!(client_address_from(proxy, "garbage", &trusted), proxy);
        assert_eq!(client_address_from(proxy, "", &trusted), proxy);
        assert_eq!(client_address_from(proxy, "203.0.113.50", &[]), proxy);
    }

    #[test]
    fn every_language_says_the_minimum_and_the_wait() {
        let guard = guard();
        for lang in crate::web::i18n::LANGUAGES {
            let words = guard.form_words(lang);
            let minimum = money(lang, guard.min_gift_minor(), Currency::Usd);
            assert!(words.minimum_hint.contains(&minimum), "{lang:?}");
            let wait = Words(lang).with("guard-busy-body", &[("minutes", FluentValue::from(7))]);
            assert!(wait.contains('7'), "{lang:?}: {wait}");
        }
        let one =
            Words(Language::English).with("guard-busy-body", &[("minutes", FluentValue::from(1))]);
        assert!(one.contains("about a minute"), "{one}");
    }
}
