//! Exports: staff ask for donors, gifts or pledges as a CSV file and get a signed link
//! that opens it for an hour.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::requires_role;
use super::context::{actor, config, db};
use super::donors::DonorFilter;
use super::errors::{GqlResultExt, INTERNAL, coded};
use super::gifts::GiftFilter;
use super::pledges::PledgeFilter;
use super::tokens::Role;
use crate::domain::exports::{self, ExportRequest};

/// Where to download an export: a signed link that needs no token and stops opening at
/// `expiresAt`. The file is written when the link is opened, so it holds the records
/// as they are then.
#[derive(SimpleObject)]
pub struct ExportLink {
    /// The file's address (CSV, UTF-8, one header line).
    pub url: String,
    /// When the link stops opening.
    pub expires_at: DateTime<Utc>,
}

async fn export(ctx: &Context<'_>, request: ExportRequest) -> Result<ExportLink> {
    let config = config(ctx)?;
    let Some(key) = &config.download_link_key else {
        return Err(coded(
            "exports need DOWNLOAD_LINK_KEY, which signs their links",
            INTERNAL,
        ));
    };
    let link = exports::request_export(db(ctx)?, &actor(ctx)?, key.expose(), request)
        .await
        .gql()?;
    let url = config
        .public_url
        .join(&link.path)
        .map_err(|error| coded(format!("PUBLIC_URL cannot hold a link: {error}"), INTERNAL))?;
    Ok(ExportLink {
        url: url.to_string(),
        expires_at: link.expires_at,
    })
}

#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Every donor matching the filter as a CSV file, in the import template's columns
    /// (see the README), contact details included. Role: staff. Audited with the filter.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn export_donors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which donors; all of them when left out.")] filter: Option<DonorFilter>,
    ) -> Result<ExportLink> {
        let filter = filter.unwrap_or_default().parse(ctx, false).await?;
        export(ctx, ExportRequest::Donors(filter)).await
    }

    /// Every gift matching the filter as a CSV file, each naming its donor by external
    /// id and email. Role: staff. Audited with the filter.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn export_gifts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which gifts; all of them when left out.")] filter: Option<GiftFilter>,
    ) -> Result<ExportLink> {
        let filter = filter.unwrap_or_default().parse(ctx)?;
        export(ctx, ExportRequest::Gifts(filter)).await
    }

    /// Every pledge matching the filter as a CSV file, each naming its donor by external
    /// id and email. Role: staff. Audited with the filter.
    #[graphql(directive = requires_role::apply(Role::Staff))]
    async fn export_pledges(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which pledges; all of them when left out.")] filter: Option<PledgeFilter>,
    ) -> Result<ExportLink> {
        let filter = filter.unwrap_or_default().parse(ctx)?;
        export(ctx, ExportRequest::Pledges(filter)).await
    }
}
