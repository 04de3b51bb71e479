//! Pages served to people's browsers.

pub mod amounts;
pub mod checkout_guard;
pub mod circle;
pub mod console;
pub mod donate;
pub mod exports;
pub mod headers;
pub mod i18n;
pub mod manage;
pub mod page;
pub mod privacy;
pub mod receipts;
pub mod unsubscribe;
