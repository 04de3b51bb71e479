use sea_orm::entity::prelude::*;

use crate::enums::{Language, ReceiptKind, ReceiptStatus};

/// A written acknowledgment for taxes, frozen at issue. A correction voids it and
/// issues a new one whose `replaces_receipt_id` points back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receipts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// "2026-000123": the tax year and the gapless sequence within it.
    #[sea_orm(unique)]
    pub number: String,
    pub tax_year: i32,
    pub sequence: i32,
    pub kind: ReceiptKind,
    pub status: ReceiptStatus,
    pub donor_id: i64,
    pub gift_id: Option<i64>,
    pub replaces_receipt_id: Option<i64>,
    pub language: Language,
    /// The donor's name and address as they were at issue.
    pub donor_name: String,
    pub donor_address: Option<String>,
    pub amount_minor: i64,
    pub deductible_minor: i64,
    pub currency: String,
    pub content_text: String,
    pub content_html: Option<String>,
    /// The PDF letter, typeset once from `document` after issue and never again.
    pub content_pdf: Option<Vec<u8>>,
    /// What the document states, frozen at issue (the mailer's `documents::Document`);
    /// absent on receipts issued before it was kept.
    pub document: Option<Json>,
    pub issued_at: DateTimeUtc,
    pub voided_at: Option<DateTimeUtc>,
    pub void_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
