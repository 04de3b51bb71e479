//! One migration set that runs unchanged on SQLite and PostgreSQL.
//!
//! Enum-like columns are text with a CHECK listing their values (no PostgreSQL enum
//! types, which SQLite cannot hold), and every foreign key is declared in its
//! `CREATE TABLE` because SQLite cannot add one to an existing table.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_schema;
mod m20261124_000002_seed_defaults;
mod m20261125_060101_installment_receipt_policy;
mod m20261125_061001_pledge_installments_skipped;
mod m20261125_070101_tribute_show_amount;
mod m20261129_010001_stripe_event_outcomes;
mod m20261129_020001_gift_processor_fee;
mod m20261129_060001_created_checkout_sessions;
mod m20261130_010001_checkout_choices;
mod m20261130_020001_stripe_disputes;
mod m20261130_030001_refund_requests;
mod m20261130_030002_pledge_change_requests;
mod m20261130_040001_donor_link_version;
mod m20261130_050001_circle_tier;
mod m20261130_110001_pledge_stripe_state_at;
mod m20261130_110002_stripe_refund_failures;
mod m20261201_000001_receipt_document;
mod m20261201_030001_external_ids;
mod m20261201_040001_donor_aliases;
mod m20261202_300001_translations;
mod m20261203_010001_receipt_pdf_storage;
mod m20261204_010001_outbox_claim_order;
mod m20261205_010001_pledges_by_appeal;
mod m20261205_020001_gift_totals_from_indexes;
mod m20261205_030001_gifts_vacuumed_as_they_arrive;
mod m20261205_040001_club_summary_from_indexes;
mod m20261207_010001_lz4_for_written_documents;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_schema::Migration),
            Box::new(m20261124_000002_seed_defaults::Migration),
            Box::new(m20261125_060101_installment_receipt_policy::Migration),
            Box::new(m20261125_061001_pledge_installments_skipped::Migration),
            Box::new(m20261125_070101_tribute_show_amount::Migration),
            Box::new(m20261129_010001_stripe_event_outcomes::Migration),
            Box::new(m20261129_020001_gift_processor_fee::Migration),
            Box::new(m20261129_060001_created_checkout_sessions::Migration),
            Box::new(m20261130_010001_checkout_choices::Migration),
            Box::new(m20261130_030001_refund_requests::Migration),
            Box::new(m20261130_030002_pledge_change_requests::Migration),
            Box::new(m20261130_020001_stripe_disputes::Migration),
            Box::new(m20261130_040001_donor_link_version::Migration),
            Box::new(m20261130_050001_circle_tier::Migration),
            Box::new(m20261130_110001_pledge_stripe_state_at::Migration),
            Box::new(m20261130_110002_stripe_refund_failures::Migration),
            Box::new(m20261201_000001_receipt_document::Migration),
            Box::new(m20261201_030001_external_ids::Migration),
            Box::new(m20261201_040001_donor_aliases::Migration),
            Box::new(m20261202_300001_translations::Migration),
            Box::new(m20261203_010001_receipt_pdf_storage::Migration),
            Box::new(m20261204_010001_outbox_claim_order::Migration),
            Box::new(m20261205_010001_pledges_by_appeal::Migration),
            Box::new(m20261205_020001_gift_totals_from_indexes::Migration),
            Box::new(m20261205_030001_gifts_vacuumed_as_they_arrive::Migration),
            Box::new(m20261205_040001_club_summary_from_indexes::Migration),
            Box::new(m20261207_010001_lz4_for_written_documents::Migration),
        ]
    }
}

/// Runs `sql` on PostgreSQL; on SQLite, which has no such setting, nothing.
pub(crate) async fn on_postgres_only(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Creates index `create` on `table`'s `columns`, then drops index `drop`. The two have
/// different names: on SQLite the statements may run on two pooled connections, and one
/// that has not seen a drop yet refuses to create an index of the same name.
pub(crate) async fn replace_index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    create: &str,
    columns: &[&'static str],
    drop: &str,
) -> Result<(), DbErr> {
    let mut index = Index::create()
        .name(create)
        .table(Alias::new(table))
        .to_owned();
    for column in columns {
        index.col(Alias::new(*column));
    }
    manager.create_index(index).await?;
    manager
        .get_connection()
        .execute_unprepared(&format!("DROP INDEX {drop}"))
        .await?;
    Ok(())
}
