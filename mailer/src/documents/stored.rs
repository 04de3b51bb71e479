//! A receipt's PDF: typeset from its frozen document the first time anyone needs it (the
//! mailer before the first send, or a download), stored, and never typeset again, so
//! every reader gets the same bytes.

use std::sync::{Arc, Mutex};

use entity::enums::ReceiptStatus;
use entity::receipt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    Iterable, QueryFilter, QueryResult, QuerySelect,
};

use super::{Document, TypesetError, render_pdf};

/// Why a receipt's PDF could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the receipt's stored document could not be read: {0}")]
    Document(#[from] serde_json::Error),
    #[error(transparent)]
    Typeset(#[from] TypesetError),
    #[error("the typesetting task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// Whether the receipt has a PDF, stored or still to be typeset from its document.
pub fn has_pdf(receipt: &receipt::Model) -> bool {
    receipt.content_pdf.is_some() || receipt.document.is_some()
}

/// The receipt's PDF as stored, typeset and stored first if nobody has yet. `None` for a
/// receipt issued before documents were kept and without a PDF. `receipt` may have been
/// read without its PDF's bytes ([`receipts_without_pdfs`]): what is stored is read then.
pub async fn stored_pdf(
    db: &impl ConnectionTrait,
    receipt: &receipt::Model,
) -> Result<Option<Vec<u8>>, PdfError> {
    if let Some(pdf) = &receipt.content_pdf {
        return Ok(Some(pdf.clone()));
    }
    if let Some(pdf) = read_stored(db, receipt.id).await? {
        return Ok(Some(pdf));
    }
    let Some(document) = &receipt.document else {
        return Ok(None);
    };
    let document = Document::from_json(document)?;
    // Typesetting takes milliseconds of CPU: off the async workers.
    let pdf = tokio::task::spawn_blocking(move || render_pdf(&document)).await??;
    // Two readers may typeset at once; only the first to store wins, and both answer
    // with what is stored.
    receipt::Entity::update_many()
        .col_expr(receipt::Column::ContentPdf, Expr::value(pdf))
        .filter(receipt::Column::Id.eq(receipt.id))
        .filter(receipt::Column::ContentPdf.is_null())
        .exec(db)
        .await?;
    Ok(read_stored(db, receipt.id).await?)
}

/// The PDF stored for receipt `id`, if any.
async fn read_stored(db: &impl ConnectionTrait, id: i64) -> Result<Option<Vec<u8>>, DbErr> {
    Ok(receipt::Entity::find_by_id(id)
        .select_only()
        .column(receipt::Column::ContentPdf)
        .into_tuple::<Option<Vec<u8>>>()
        .one(db)
        .await?
        .flatten())
}

/// The PDFs stored for receipts `ids`, each beside its receipt's id, read in one
/// statement; a receipt with none stored is left out.
pub async fn stored_pdfs(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<Vec<(i64, Vec<u8>)>, DbErr> {
    receipt::Entity::find()
        .select_only()
        .column(receipt::Column::Id)
        .column(receipt::Column::ContentPdf)
        .filter(receipt::Column::Id.is_in(ids))
        .filter(receipt::Column::ContentPdf.is_not_null())
        .into_tuple::<(i64, Vec<u8>)>()
        .all(db)
        .await
}

/// The receipts `ids` without their PDFs' bytes (`content_pdf` left empty), each with
/// whether a PDF is stored for it: a batch of messages reads its receipts ahead this way
/// and reads their stored PDFs ([`stored_pdfs`]) only when it is sent, so the batch read
/// ahead holds none of them.
pub async fn receipts_without_pdfs(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<Vec<(receipt::Model, bool)>, DbErr> {
    struct Row(receipt::Model, bool);
    impl FromQueryResult for Row {
        fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
            Ok(Row(
                receipt::Model::from_query_result(row, pre)?,
                row.try_get(pre, "pdf_stored")?,
            ))
        }
    }
    let rows = receipt::Entity::find()
        .select_only()
        .columns(receipt::Column::iter().filter(|c| !matches!(c, receipt::Column::ContentPdf)))
        .column_as(Expr::value(Option::<Vec<u8>>::None), "content_pdf")
        .column_as(receipt::Column::ContentPdf.is_not_null(), "pdf_stored")
        .filter(receipt::Column::Id.is_in(ids))
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|Row(r, stored)| (r, stored)).collect())
}

/// The PDFs that issued `receipts` lack, typeset from their documents, each beside its
/// receipt's id. Each receipt comes with whether a PDF is stored for it (its bytes may not
/// have been read, [`receipts_without_pdfs`]). A document that cannot be typeset is left
/// out.
pub async fn typeset_missing(receipts: &[(receipt::Model, bool)]) -> Vec<(i64, Vec<u8>)> {
    let documents: Vec<(i64, serde_json::Value)> = receipts
        .iter()
        .filter(|(r, stored)| {
            !stored && r.content_pdf.is_none() && r.status == ReceiptStatus::Issued
        })
        .map(|(r, _)| r)
        .filter_map(|r| Some((r.id, r.document.clone()?)))
        .collect();
    // Typesetting takes milliseconds of CPU: off the async workers, on as many threads
    // as there are processors, each taking the next document as soon as it is done with
    // one, so no thread waits for a busy async worker to hand it more. The threads are
    // the batch's own and run in the background (`TYPESETTING_NICENESS`). A document
    // that cannot be typeset, or whose typesetting panics, is left out, and the rest go
    // on. A thread that cannot be started leaves its share to the others; if none
    // starts, every document is left out, and each message reads or typesets its own.
    let parallel = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(documents.len());
    let queue = Arc::new(Mutex::new(documents.into_iter()));
    let threads: Vec<_> = (0..parallel)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let (done, typeset) = tokio::sync::oneshot::channel();
            let started = std::thread::Builder::new()
                .name("typesetting".to_owned())
                .spawn(move || {
                    // The batch waits for the result; it went on only if it was dropped.
                    let _ = done.send(typeset_from(&queue));
                });
            if let Err(error) = started {
                tracing::warn!(%error, "cannot start a typesetting thread");
            }
            typeset
        })
        .collect();
    let mut typeset = Vec::new();
    for thread in threads {
        typeset.extend(thread.await.unwrap_or_default());
    }
    typeset
}

/// How far below the rest of the process a typesetting thread is scheduled (the nice
/// value it adds, up to 19): typesetting a batch's PDFs is background work, and
/// when the processors are busy they go first to requests, webhooks and the
/// transactions that issue receipts, which others wait on. The typesetting still has
/// every processor the rest leaves idle.
const TYPESETTING_NICENESS: i32 = 10;

/// Lowers the calling thread's scheduling priority by [`TYPESETTING_NICENESS`]. On
/// Linux a thread's nice value is its own; elsewhere nothing changes. If the system
/// refuses, the thread runs at the process's priority.
fn in_background() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Ok(nice) = rustix::process::getpriority_process(Some(thread)) {
            let lowered = nice.saturating_add(TYPESETTING_NICENESS).min(19);
            if let Err(error) = rustix::process::setpriority_process(Some(thread), lowered) {
                tracing::debug!(%error, "a typesetting thread keeps the process's priority");
            }
        }
    }
}

/// What one typesetting thread does: lowers its own priority, then typesets documents
/// from the shared queue until it is empty.
fn typeset_from(
    queue: &Mutex<impl Iterator<Item = (i64, serde_json::Value)>>,
) -> Vec<(i64, Vec<u8>)> {
    in_background();
    let mut typeset = Vec::new();
    while let Some((id, document)) = next_of(queue) {
        let pdf =
            std::panic::catch_unwind(|| render_pdf(&Document::from_json(&document).ok()?).ok());
        if let Ok(Some(pdf)) = pdf {
            typeset.push((id, pdf));
        }
    }
    typeset
}

/// The next document of a queue shared by the typesetting threads.
fn next_of<T>(queue: &Mutex<impl Iterator<Item = T>>) -> Option<T> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .next()
}

/// Stores `typeset` PDFs (from [`typeset_missing`]) in one transaction: a batch of
/// sends commits its documents once, not once each. Returns those it stored. A receipt
/// whose PDF someone stored first is left out: the one stored is the one every reader
/// gets, and `stored_pdf` reads it.
pub async fn store_typeset(
    db: &DatabaseConnection,
    typeset: Vec<(i64, Vec<u8>)>,
) -> Result<Vec<(i64, Vec<u8>)>, DbErr> {
    if typeset.is_empty() {
        return Ok(typeset);
    }
    let txn = crate::database::begin_write(db).await?;
    let mut stored = Vec::with_capacity(typeset.len());
    for (id, pdf) in typeset {
        let done = receipt::Entity::update_many()
            .col_expr(receipt::Column::ContentPdf, Expr::value(pdf.clone()))
            .filter(receipt::Column::Id.eq(id))
            .filter(receipt::Column::ContentPdf.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected == 1 {
            stored.push((id, pdf));
        }
    }
    txn.commit().await?;
    Ok(stored)
}

#[cfg(all(test, target_os = "linux"))]
// A failed system call should stop the test where it happened.
#[allow(clippy::expect_used)]
mod tests {
    use std::sync::Mutex;

    use super::{TYPESETTING_NICENESS, typeset_from};

    fn own_priority() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid()))
            .expect("a thread reads its own priority")
    }

    #[test]
    fn a_typesetting_thread_runs_below_the_thread_that_started_it() {
        let started_by = own_priority();
        let (typeset, priority) = std::thread::spawn(|| {
            let queue = Mutex::new(std::iter::empty());
            (typeset_from(&queue), own_priority())
        })
        .join()
        .expect("the typesetting thread ends");
        assert!(typeset.is_empty());
        assert_eq!(
            priority,
            started_by.saturating_add(TYPESETTING_NICENESS).min(19)
        );
        assert_eq!(
            own_priority(),
            started_by,
            "the caller's own priority is kept"
        );
    }
}
