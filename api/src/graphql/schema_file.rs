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

    /// Staff read the role a field needs in its description, not only in the directive.
    #[test]
    fn every_field_with_a_role_names_it_in_its_description() {
        use async_graphql::parser::parse_schema;
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

        let document = match parse_schema(sdl()) {
            Ok(document) => document,
            Err(error) => panic!("the SDL does not parse: {error}"),
        };
        let mut missing = Vec::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let TypeKind::Object(object) = &ty.node.kind else {
                continue;
            };
            for field in &object.fields {
                let field = &field.node;
                let Some(role) = field.directives.iter().find_map(|d| {
                    (d.node.name.node == "requiresRole").then(|| {
                        d.node
                            .arguments
                            .iter()
                            .map(|(_, value)| value.node.to_string().to_lowercase())
                            .collect::<String>()
                    })
                }) else {
                    continue;
                };
                let description = field
                    .description
                    .as_ref()
                    .map(|d| d.node.as_str())
                    .unwrap_or_default();
                if !description.contains(&format!("Role: {role}.")) {
                    missing.push(format!("{}.{}", ty.node.name.node, field.name.node));
                }
            }
        }
        assert!(missing.is_empty(), "no `Role: …` in {missing:?}");
    }
}
