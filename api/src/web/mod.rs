//! Pages served to people's browsers.

pub mod console;
pub mod receipts;
