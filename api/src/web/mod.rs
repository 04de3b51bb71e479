//! Pages served to people's browsers.

pub mod circle;
pub mod console;
pub mod donate;
pub mod i18n;
pub mod manage;
pub mod receipts;
pub mod unsubscribe;
