//! The staff API's budget for one request, checked before the engine sees the request
//! (so before any SQL): what the token's role may see, the cost of the query (lists count
//! their page size times what each item asks for), how many aliases it uses, how often it
//! repeats one field, how deeply it nests and how many fields it names once each fragment
//! is spread where it is used. A request over budget is refused whole with
//! `QUERY_TOO_COSTLY` (or `FORBIDDEN`, or `BAD_USER_INPUT` for the nesting) and the figures.
//!
//! The checks run beside the engine rather than as one of its extensions: with any
//! extension registered, the engine sends every field of every item through the
//! extensions' chain and a look-up in its type registry.

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::registry::Registry;
use async_graphql::{OutputType, Request, Response, ServerError, Value, Variables};
use entity::enums::StaffRole;

use super::errors::{BAD_USER_INPUT, FORBIDDEN, QUERY_TOO_COSTLY, refusal};
use super::parsed::ParsedQueries;
use super::shape::{self, Bounds, DEFAULT_LIST_SIZE};
use super::{Mutation, Query};

/// The most a query may cost: a field costs 1, times the length of each list it is in.
pub const MAX_COST: u64 = 25_000;
/// The most aliased fields one request may use.
pub const MAX_ALIASES: usize = 10;
/// The most times one field may be asked for in one selection (aliases included).
pub const MAX_REPEATS: usize = 5;
/// How deeply selections may nest, each field's selection, inline fragment and fragment
/// spread one level; the engine is built with the same recursion limit.
pub const MAX_NESTING: usize = 32;
/// The most fields and fragment spreads a request may name, each fragment counted again
/// wherever it is spread.
pub const MAX_FIELDS: usize = 25_000;

/// The checks, with the schema's types as the engine registers them and the documents
/// of queries seen lately.
pub struct RequestBudget {
    registry: Registry,
    parsed: ParsedQueries,
}

impl Default for RequestBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// The staff schema's types, fields, arguments and directives, registered as the engine
/// registers them when it builds the schema.
pub fn staff_registry() -> Registry {
    let mut registry = Registry {
        query_type: <Query as OutputType>::type_name().into_owned(),
        mutation_type: Some(<Mutation as OutputType>::type_name().into_owned()),
        ..Registry::default()
    };
    <Query as OutputType>::create_type_info(&mut registry);
    <Mutation as OutputType>::create_type_info(&mut registry);
    registry
}

impl RequestBudget {
    pub fn new() -> Self {
        RequestBudget {
            registry: staff_registry(),
            parsed: ParsedQueries::default(),
        }
    }

    /// Checks `request` for a token of `role`, and hands it its parsed document so the
    /// engine does not parse it again. A request that does not parse passes: the engine
    /// refuses it with its own message. An operation whose lists are all sized in its
    /// text is checked once for each role, since its variables cannot change the outcome;
    /// one sized by a variable is checked every time, and a refusal is never kept.
    pub fn admit(&self, request: &mut Request, role: StaffRole) -> Result<(), ServerError> {
        let Some(parsed) = self.parsed.document(&request.query) else {
            return Ok(());
        };
        let operation = request.operation_name.as_deref();
        if !parsed.admitted(operation, role)
            && self.check(&parsed.document, operation, &request.variables, role)?
        {
            parsed.admit(operation, role);
        }
        request.set_parsed_query(parsed.document.clone());
        Ok(())
    }

    /// Refuses what is over budget; `Ok(true)` when the outcome holds for any variables.
    fn check(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
        role: StaffRole,
    ) -> Result<bool, ServerError> {
        let bounds = Bounds {
            depth: MAX_NESTING,
            fields: MAX_FIELDS,
        };
        let registry = &self.registry;
        let Some(shape) = shape::measure(registry, document, operation_name, variables, bounds)
        else {
            return Ok(false);
        };
        if shape.too_deep {
            return Err(refusal(
                format!(
                    "this query is nested too deep: fields, inline fragments and fragment \
                     spreads may nest at most {MAX_NESTING} levels"
                ),
                BAD_USER_INPUT,
            ));
        }
        if shape.too_many_fields {
            return Err(refusal(
                format!(
                    "this query names more than {MAX_FIELDS} fields once each fragment is \
                     spread where it is used; ask for fewer fields or spread fragments less"
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        super::access::check_fields(registry, role, &shape.fields)?;
        if shape.cost > MAX_COST {
            return Err(refusal(
                format!(
                    "this query would cost {} and the limit is {MAX_COST}: each field \
                     costs 1, times the size of every list it is in (`first`, `last` or \
                     `count`, or {DEFAULT_LIST_SIZE} when not given); ask for smaller \
                     pages or fewer nested lists",
                    shape.cost
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        if shape.aliases > MAX_ALIASES {
            return Err(refusal(
                format!(
                    "this query uses {} aliases; at most {MAX_ALIASES} are allowed",
                    shape.aliases
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        if let Some((field, times)) = &shape.most_repeated
            && *times > MAX_REPEATS
        {
            return Err(refusal(
                format!(
                    "this query asks for {field} {times} times in one place; at most \
                     {MAX_REPEATS} are allowed"
                ),
                QUERY_TOO_COSTLY,
            ));
        }
        Ok(!shape.sized_by_variables)
    }
}

/// A role check that only a resolver can make (a guard) refuses the whole request too:
/// its data is dropped rather than shown with holes.
pub fn drop_data_beside_forbidden(response: &mut Response) {
    let forbidden = response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|code| *code == Value::from(FORBIDDEN))
    });
    if forbidden {
        response.data = Value::Null;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    use async_graphql::registry::MetaType;
    use serde_json::json;

    use super::*;

    /// Each object field as `Type.field(arguments): type @role`.
    fn described(
        ty: &str,
        field: &str,
        args: impl Iterator<Item = String>,
        returns: &str,
        role: Option<String>,
    ) -> String {
        let args: Vec<String> = args.collect();
        format!(
            "{ty}.{field}({}): {returns} @{}",
            args.join(","),
            role.unwrap_or_default()
        )
    }

    #[test]
    fn the_budget_reads_the_types_the_engine_runs() {
        let document = parse_schema(super::super::schema_file::sdl()).unwrap();
        let registry = staff_registry();
        let mut engine = BTreeSet::new();
        let mut ours = BTreeSet::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let TypeKind::Object(object) = &ty.node.kind else {
                continue;
            };
            let name = ty.node.name.node.as_str();
            for field in &object.fields {
                let field = &field.node;
                let role = field.directives.iter().find_map(|d| {
                    (d.node.name.node == "requiresRole")
                        .then(|| d.node.arguments[0].1.node.to_string())
                });
                engine.insert(described(
                    name,
                    &field.name.node,
                    field.arguments.iter().map(|a| a.node.name.node.to_string()),
                    &field.ty.node.to_string(),
                    role,
                ));
            }
            let Some(MetaType::Object { fields, .. }) = registry.types.get(name) else {
                panic!("the budget does not know the type {name}");
            };
            for field in fields.values() {
                let role = field
                    .directive_invocations
                    .iter()
                    .find(|d| d.name == "requiresRole")
                    .and_then(|d| d.args.get("role"))
                    .map(|role| role.to_string());
                ours.insert(described(
                    name,
                    &field.name,
                    field.args.keys().cloned(),
                    &field.ty,
                    role,
                ));
            }
        }
        assert!(engine.len() > 300, "{}", engine.len());
        let missing: Vec<_> = engine.difference(&ours).collect();
        let extra: Vec<_> = ours.difference(&engine).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{missing:#?} {extra:#?}"
        );
        assert_eq!(registry.query_type, "Query");
        assert_eq!(registry.mutation_type.as_deref(), Some("Mutation"));
    }

    fn admit(role: StaffRole, query: &str, variables: serde_json::Value) -> Result<(), String> {
        let mut request = Request::new(query).variables(Variables::from_json(variables));
        RequestBudget::new()
            .admit(&mut request, role)
            .map_err(|error| {
                let code = error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                format!("{code} {}", error.message)
            })
    }

    /// `levels` inline fragments, one inside the other.
    fn nested(levels: usize) -> String {
        format!(
            "{{ {} __typename {} }}",
            "... on Query { ".repeat(levels),
            "} ".repeat(levels)
        )
    }

    #[test]
    fn nesting_is_walked_to_the_engines_limit_and_no_further() {
        assert_eq!(
            admit(StaffRole::Viewer, &nested(MAX_NESTING), json!({})),
            Ok(())
        );
        let refused = admit(StaffRole::Viewer, &nested(MAX_NESTING + 1), json!({})).unwrap_err();
        assert!(
            refused.starts_with("\"BAD_USER_INPUT\" this query is nested too deep"),
            "{refused}"
        );
        // Past the limit in the text, the walk still ends at it.
        let refused = admit(StaffRole::Viewer, &nested(60), json!({})).unwrap_err();
        assert!(refused.contains("nested too deep"), "{refused}");
        // Past it through fragments, each spreading the next: the text is flat.
        let mut chain = String::from("query { ...F0 }\n");
        for level in 0..5_000 {
            let next = level + 1;
            chain.push_str(&format!("fragment F{level} on Query {{ ...F{next} }}\n"));
        }
        chain.push_str("fragment F5000 on Query { __typename }\n");
        let refused = admit(StaffRole::Viewer, &chain, json!({})).unwrap_err();
        assert!(refused.contains("nested too deep"), "{refused}");
        // Deeper than the parser goes (64), the engine refuses the text itself.
        let deepest = nested(100);
        assert!(async_graphql::parser::parse_query(&deepest).is_err());
        assert_eq!(admit(StaffRole::Viewer, &deepest, json!({})), Ok(()));
    }

    /// Thirty fragments, each spreading the next twice: two fields of text, 2^30 once
    /// spread.
    fn fragment_bomb(levels: usize) -> String {
        let mut query = String::from("query { ...F0 }\n");
        for level in 0..levels {
            let next = level + 1;
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
            ));
        }
        query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        query
    }

    #[test]
    fn fragments_spread_past_the_bound_are_refused_without_being_spread_further() {
        let refused = admit(StaffRole::Viewer, &fragment_bomb(30), json!({})).unwrap_err();
        assert!(
            refused.starts_with(&format!(
                "\"QUERY_TOO_COSTLY\" this query names more than {MAX_FIELDS} fields"
            )),
            "{refused}"
        );
        // 2^14 - 1 spreads and 2^13 fields: within the bound.
        assert_eq!(
            admit(StaffRole::Viewer, &fragment_bomb(13), json!({})),
            Ok(())
        );
        // 2^13 - 1 + 2^14 + 425 = 25,000 fields and spreads: exactly the bound.
        let at_bound = fragment_bomb(13).replacen(
            "query { ...F0 }",
            &format!("query {{ ...F0 {} }}", "__typename ".repeat(425)),
            1,
        );
        assert_eq!(admit(StaffRole::Viewer, &at_bound, json!({})), Ok(()));
        let past = at_bound.replacen("__typename", "__typename __typename", 1);
        let refused = admit(StaffRole::Viewer, &past, json!({})).unwrap_err();
        assert!(
            refused.contains("names more than 25000 fields"),
            "{refused}"
        );
        // 2^14 fields and 2^15 - 1 spreads: past it.
        assert!(admit(StaffRole::Viewer, &fragment_bomb(14), json!({})).is_err());
    }

    #[test]
    fn a_field_above_the_role_is_refused_and_names_the_field() {
        let query = "query($id: ID!) { donor(id: $id) { displayName notes } }";
        let refused = admit(StaffRole::Viewer, query, json!({ "id": "1" })).unwrap_err();
        assert!(refused.starts_with("\"FORBIDDEN\""), "{refused}");
        assert!(refused.contains("Donor.notes (needs staff)"), "{refused}");
        assert!(!refused.contains("displayName"), "{refused}");
        let twice = "query($id: ID!) { donor(id: $id) { notes again: notes } }";
        let refused = admit(StaffRole::Viewer, twice, json!({ "id": "1" })).unwrap_err();
        assert_eq!(refused.matches("Donor.notes").count(), 1, "{refused}");
        assert_eq!(admit(StaffRole::Staff, query, json!({ "id": "1" })), Ok(()));
    }

    #[test]
    fn cost_aliases_and_repeats_are_refused_just_past_their_limits() {
        // n donors × (1 + nodes × (1 + 100 gifts × (1 + nodes × (1 + id)))) = 302 n.
        let nested = "query($n: Int!) { donors(first: $n) { nodes { gifts(first: 100) { nodes { id } } } } }";
        assert_eq!(admit(StaffRole::Viewer, nested, json!({ "n": 82 })), Ok(()));
        let refused = admit(StaffRole::Viewer, nested, json!({ "n": 83 })).unwrap_err();
        assert!(refused.contains("would cost 25066 "), "{refused}");
        // n donors × (1 + totalCount): exactly the limit, then just past it.
        let counted = "query($n: Int!) { donors(first: $n) { totalCount } }";
        let at_limit = MAX_COST / 2;
        assert_eq!(
            admit(StaffRole::Viewer, counted, json!({ "n": at_limit })),
            Ok(())
        );
        let refused = admit(StaffRole::Viewer, counted, json!({ "n": at_limit + 1 })).unwrap_err();
        assert!(refused.contains("would cost 25002 "), "{refused}");

        // Aliases spread over fields, so that none is repeated more than allowed.
        let aliased = |n: usize| {
            let fields: Vec<String> = (0..n)
                .map(|i| match i % 2 {
                    0 => format!("v{i}: viewer {{ name }}"),
                    _ => format!("t{i}: tiers {{ nodes {{ name }} }}"),
                })
                .collect();
            format!("{{ {} }}", fields.join(" "))
        };
        assert_eq!(
            admit(StaffRole::Viewer, &aliased(MAX_ALIASES), json!({})),
            Ok(())
        );
        let refused = admit(StaffRole::Viewer, &aliased(MAX_ALIASES + 1), json!({})).unwrap_err();
        assert!(refused.contains("11 aliases"), "{refused}");
        let repeated = |n: usize| format!("{{ {} }}", vec!["viewer { name }"; n].join(" "));
        assert_eq!(
            admit(StaffRole::Viewer, &repeated(MAX_REPEATS), json!({})),
            Ok(())
        );
        let refused = admit(StaffRole::Viewer, &repeated(MAX_REPEATS + 1), json!({})).unwrap_err();
        assert!(refused.contains("Query.viewer 6 times"), "{refused}");
    }

    #[test]
    fn an_admission_is_kept_for_its_role_and_only_when_no_variable_sizes_a_list() {
        let budget = RequestBudget::new();
        let admit = |role: StaffRole, query: &str, variables: serde_json::Value| {
            let mut request = Request::new(query).variables(Variables::from_json(variables));
            budget
                .admit(&mut request, role)
                .map_err(|error| error.message)
        };
        let kept = |query: &str, operation: Option<&str>, role: StaffRole| {
            budget
                .parsed
                .document(query)
                .unwrap()
                .admitted(operation, role)
        };

        // Admitted for staff and kept; the same text is still refused to a viewer.
        let notes = "query($id: ID!) { donor(id: $id) { displayName notes } }";
        assert_eq!(admit(StaffRole::Staff, notes, json!({ "id": "1" })), Ok(()));
        assert!(kept(notes, None, StaffRole::Staff));
        for _ in 0..2 {
            let refused = admit(StaffRole::Viewer, notes, json!({ "id": "2" })).unwrap_err();
            assert!(refused.contains("Donor.notes (needs staff)"), "{refused}");
        }
        assert!(!kept(notes, None, StaffRole::Viewer));
        assert_eq!(admit(StaffRole::Staff, notes, json!({ "id": "3" })), Ok(()));

        // A page sized by a variable is measured with each request's value.
        let sized = "query($n: Int!) { donors(first: $n) { totalCount } }";
        let at_limit = MAX_COST / 2;
        assert_eq!(
            admit(StaffRole::Viewer, sized, json!({ "n": at_limit })),
            Ok(())
        );
        assert!(!kept(sized, None, StaffRole::Viewer));
        let refused = admit(StaffRole::Viewer, sized, json!({ "n": at_limit + 1 })).unwrap_err();
        assert!(refused.contains("would cost 25002 "), "{refused}");
        // So is one sized by a variable's default.
        let by_default = "query($n: Int = 10) { donors(first: $n) { totalCount } }";
        assert_eq!(admit(StaffRole::Viewer, by_default, json!({})), Ok(()));
        assert!(!kept(by_default, None, StaffRole::Viewer));
        let refused = admit(StaffRole::Viewer, by_default, json!({ "n": 20_000 })).unwrap_err();
        assert!(refused.contains("would cost 40000 "), "{refused}");

        // Over budget in its text: refused every time, never kept.
        let costly = format!("{{ donors(first: {}) {{ totalCount }} }}", at_limit + 1);
        for _ in 0..2 {
            assert!(admit(StaffRole::Admin, &costly, json!({})).is_err());
        }
        assert!(!kept(&costly, None, StaffRole::Admin));

        // Each operation of a document by its own name.
        let two = "query A { viewer { name } } query B { donors(first: 20000) { totalCount } }";
        let mut request = Request::new(two).operation_name("A");
        assert!(budget.admit(&mut request, StaffRole::Viewer).is_ok());
        assert!(kept(two, Some("A"), StaffRole::Viewer));
        let mut request = Request::new(two).operation_name("B");
        assert!(budget.admit(&mut request, StaffRole::Viewer).is_err());
        assert!(!kept(two, Some("B"), StaffRole::Viewer));
        // Naming no operation of it, or one it lacks, passes to the engine, which
        // refuses it; nothing is kept.
        for name in [None, Some("C")] {
            let mut request = Request::new(two);
            request.operation_name = name.map(str::to_owned);
            assert!(budget.admit(&mut request, StaffRole::Viewer).is_ok());
            assert!(!kept(two, name, StaffRole::Viewer));
        }
    }

    #[test]
    fn data_is_dropped_only_beside_a_forbidden_error() {
        let data = Value::from_json(json!({ "viewer": { "name": "A" } })).unwrap();
        let coded = |code: &'static str| refusal("no".into(), code);
        let mut response = Response::new(data.clone());
        response.errors.push(coded(QUERY_TOO_COSTLY));
        drop_data_beside_forbidden(&mut response);
        assert_eq!(response.data, data);
        response.errors.push(coded(FORBIDDEN));
        drop_data_beside_forbidden(&mut response);
        assert_eq!(response.data, Value::Null);
    }
}
