//! The database pool is shared by the server's workers, and each worker runs its own
//! runtime, which stops when that worker has finished its requests. A connection one
//! worker opened must keep serving the requests of the others.

use api::config::DatabaseUrl;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use tests::on_both_backends;
use tests::support::{Backend, TestDatabase};

/// How many connections the stopping worker holds at once, so that the pool opens some
/// of them there.
const HELD: usize = 4;

async fn a_connection_opened_by_a_stopped_worker_still_serves_the_others(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = api::db::connect(&DatabaseUrl::new(database.url.clone()))
        .await
        .unwrap();

    // A worker: its own runtime on its own thread, as actix-web runs each worker. It
    // holds several transactions at once, then waits to be stopped.
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel::<()>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_db = db.clone();
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut held = Vec::new();
            for _ in 0..HELD {
                held.push(worker_db.begin().await.unwrap());
            }
            for transaction in held {
                transaction.execute_unprepared("SELECT 1").await.unwrap();
                transaction.commit().await.unwrap();
            }
            opened_tx.send(()).unwrap();
            let _ = stop_rx.await;
        });
        // The runtime is dropped here, as a stopped worker's is.
    });
    opened_rx.await.unwrap();

    // Requests on another worker take those connections while the first still runs...
    let mut taken = Vec::new();
    for _ in 0..HELD {
        taken.push(db.begin().await.unwrap());
    }
    // ...and go on using them after it has stopped.
    stop_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || worker.join().unwrap())
        .await
        .unwrap();
    for (index, transaction) in taken.into_iter().enumerate() {
        let answered = transaction
            .query_one_raw(Statement::from_string(
                transaction.get_database_backend(),
                "SELECT 1 AS one",
            ))
            .await;
        assert!(
            answered.is_ok(),
            "transaction {index} failed after the worker that opened its connection stopped: {answered:?}"
        );
        transaction.commit().await.unwrap();
    }
}

on_both_backends!(a_connection_opened_by_a_stopped_worker_still_serves_the_others);
