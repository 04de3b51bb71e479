//! The schema in SDL, committed as `api/schema.graphql` so that changes to the API are
//! visible in review. A test fails when the file and the running schema differ; run it
//! with `UPDATE_SCHEMA=1` to rewrite the file.

use async_graphql::{EmptySubscription, Schema};

use super::{Mutation, Query};

/// The schema as staff see it, in SDL.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");

    #[test]
    fn the_committed_schema_file_matches_the_running_schema() {
        let running = sdl();
        if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1")
            && let Err(error) = std::fs::write(SCHEMA_FILE, &running)
        {
            panic!("cannot write {SCHEMA_FILE}: {error}");
        }
        let committed = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
        assert!(
            committed == running,
            "api/schema.graphql differs from the running schema; regenerate it with \
             `UPDATE_SCHEMA=1 cargo test -p api the_committed_schema_file` and commit it"
        );
    }
}
