//! Every field of the schema, for every role. The walk is driven by the schema's own
//! introspection: for each object type reachable from `Query` or `Mutation`, and each of
//! its fields, a request that reaches the field is built and sent as a viewer, as staff
//! and as an admin. The role each field needs is read from the schema's `@requiresRole`
//! (on the field, on the type it returns, or on a connection's items). A role that may
//! see every field on the way gets no FORBIDDEN; any other gets FORBIDDEN and no data at
//! all. Fields added later are walked without any change here.

use std::collections::{BTreeMap, HashMap, VecDeque};

use async_graphql::Value as GqlValue;
use async_graphql::parser::types::{
    BaseType, ConstDirective, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::{Positioned, parse_schema};
use entity::enums::StaffRole;
use serde_json::{Value, json};
use tests::on_both_backends;
use tests::support::{Backend, TestApp, error_codes, spawn_app};

use super::*;

const INTROSPECTION: &str = "{ __schema { queryType { name } mutationType { name }
    types { kind name possibleTypes { name } enumValues { name }
      fields { name type { ...T } args { name defaultValue type { ...T } } }
      inputFields { name defaultValue type { ...T } } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The role each field declares, and each object type, as the schema states them.
struct Declared {
    fields: HashMap<(String, String), StaffRole>,
    types: HashMap<String, StaffRole>,
    returns: HashMap<(String, String), String>,
}

fn role_of(directives: &[Positioned<ConstDirective>]) -> StaffRole {
    let mut role = StaffRole::Viewer;
    for directive in directives {
        if directive.node.name.node != "requiresRole" {
            continue;
        }
        let named = directive.node.arguments.iter().find_map(|(name, value)| {
            match (&*name.node, &value.node) {
                ("role", GqlValue::Enum(role)) => Some(role.to_string()),
                _ => None,
            }
        });
        let declared = match named.as_deref() {
            Some("ADMIN") => StaffRole::Admin,
            Some("STAFF") => StaffRole::Staff,
            Some("VIEWER") => StaffRole::Viewer,
            other => panic!("unknown role {other:?} in @requiresRole"),
        };
        role = stronger(role, declared);
    }
    role
}

fn stronger(a: StaffRole, b: StaffRole) -> StaffRole {
    if a.allows(b) { a } else { b }
}

fn named(ty: &Type) -> String {
    match &ty.base {
        BaseType::Named(name) => name.to_string(),
        BaseType::List(inner) => named(inner),
    }
}

fn declared_roles() -> Declared {
    let sdl = api::graphql::schema_file::sdl();
    let document = parse_schema(&sdl).expect("the schema's SDL parses");
    let mut declared = Declared {
        fields: HashMap::new(),
        types: HashMap::new(),
        returns: HashMap::new(),
    };
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let type_name = ty.node.name.node.to_string();
        declared
            .types
            .insert(type_name.clone(), role_of(&ty.node.directives));
        if let TypeKind::Object(object) = &ty.node.kind {
            for field in &object.fields {
                let key = (type_name.clone(), field.node.name.node.to_string());
                declared
                    .fields
                    .insert(key.clone(), role_of(&field.node.directives));
                declared.returns.insert(key, named(&field.node.ty.node));
            }
        }
    }
    declared
}

impl Declared {
    /// What a field needs: its own role and the role of the type it returns; for a
    /// connection, also the role of its items (the type its `nodes` returns).
    fn needed(&self, parent: &str, field: &str) -> StaffRole {
        let key = (parent.to_owned(), field.to_owned());
        let own = self.fields.get(&key).copied().unwrap_or(StaffRole::Viewer);
        let role_of_type = |ty: &String| self.types.get(ty).copied().unwrap_or(StaffRole::Viewer);
        let Some(returned) = self.returns.get(&key) else {
            return own;
        };
        let items = self
            .returns
            .get(&(returned.clone(), "nodes".to_owned()))
            .map_or(StaffRole::Viewer, role_of_type);
        stronger(stronger(own, role_of_type(returned)), items)
    }
}

/// A type reference from introspection, unwrapped.
fn type_name(ty: &Value) -> String {
    match ty["name"].as_str() {
        Some(name) => name.to_owned(),
        None => type_name(&ty["ofType"]),
    }
}

/// A literal of `ty` the engine accepts, for a required argument.
fn literal(ty: &Value, types: &BTreeMap<String, Value>, depth: usize) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => literal(&ty["ofType"], types, depth),
        Some("LIST") => "[]".to_owned(),
        _ => {
            let name = type_name(ty);
            let definition = &types[&name];
            match (definition["kind"].as_str(), name.as_str()) {
                (_, "ID") => "\"1\"".to_owned(),
                (_, "Int") => "1".to_owned(),
                (_, "Float") => "1.0".to_owned(),
                (_, "Boolean") => "false".to_owned(),
                (_, "DateTime") => "\"2026-01-01T00:00:00Z\"".to_owned(),
                (_, "Date") => "\"2026-01-01\"".to_owned(),
                (Some("ENUM"), _) => definition["enumValues"][0]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                (Some("INPUT_OBJECT"), _) if depth < 6 => {
                    let fields: Vec<String> = definition["inputFields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|f| f["type"]["kind"] == "NON_NULL" && f["defaultValue"].is_null())
                        .map(|f| {
                            format!(
                                "{}: {}",
                                f["name"].as_str().unwrap(),
                                literal(&f["type"], types, depth + 1)
                            )
                        })
                        .collect();
                    format!("{{ {} }}", fields.join(", "))
                }
                _ => "\"x\"".to_owned(),
            }
        }
    }
}

/// `(args)` for a field: every required argument, with a literal of its type.
fn arguments(field: &Value, types: &BTreeMap<String, Value>) -> String {
    let required: Vec<String> = field["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
        .map(|a| {
            format!(
                "{}: {}",
                a["name"].as_str().unwrap(),
                literal(&a["type"], types, 0)
            )
        })
        .collect();
    if required.is_empty() {
        String::new()
    } else {
        format!("({})", required.join(", "))
    }
}

/// One step of a path: a field of `parent`, reaching an object type.
#[derive(Clone)]
struct Step {
    parent: String,
    field: String,
    arguments: String,
    /// Set when the field returns an interface or union and `... on` picks the type.
    on: Option<String>,
}

/// The shortest way to reach each object type from one root, preferring fields that
/// need no arguments (so that they return the seeded rows).
fn paths_from(root: &str, types: &BTreeMap<String, Value>) -> HashMap<String, Vec<Step>> {
    let mut paths: HashMap<String, Vec<Step>> = HashMap::new();
    paths.insert(root.to_owned(), Vec::new());
    let mut queue = VecDeque::from([root.to_owned()]);
    while let Some(current) = queue.pop_front() {
        let mut fields: Vec<&Value> = types[&current]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        fields.sort_by_key(|f| !arguments(f, types).is_empty());
        for field in fields {
            let target = type_name(&field["type"]);
            let kind = types[&target]["kind"].as_str().unwrap_or_default();
            let reached: Vec<(String, Option<String>)> = match kind {
                "OBJECT" => vec![(target.clone(), None)],
                "INTERFACE" | "UNION" => types[&target]["possibleTypes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        let name = t["name"].as_str().unwrap().to_owned();
                        (name.clone(), Some(name))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (object, on) in reached {
                if paths.contains_key(&object) {
                    continue;
                }
                let mut path = paths[&current].clone();
                path.push(Step {
                    parent: current.clone(),
                    field: field["name"].as_str().unwrap().to_owned(),
                    arguments: arguments(field, types),
                    on,
                });
                paths.insert(object.clone(), path);
                queue.push_back(object);
            }
        }
    }
    paths
}

/// The request reaching `field` of the type at the end of `path`. Under `Mutation`
/// the root field is skipped, so nothing runs: the role rule is read from the request.
fn request(
    root_keyword: &str,
    path: &[Step],
    field: &Value,
    types: &BTreeMap<String, Value>,
) -> String {
    let target = type_name(&field["type"]);
    let selection = match types[&target]["kind"].as_str() {
        Some("OBJECT" | "INTERFACE" | "UNION") => " { __typename }",
        _ => "",
    };
    // Under `Mutation`, the root field is skipped, whether it is on the path or the
    // field itself.
    let skip_field = path.is_empty() && root_keyword == "mutation";
    let mut text = format!(
        "{}{}{}{}",
        field["name"].as_str().unwrap(),
        arguments(field, types),
        if skip_field { " @skip(if: true)" } else { "" },
        selection
    );
    for (i, step) in path.iter().enumerate().rev() {
        let inner = match &step.on {
            Some(on) => format!("... on {on} {{ {text} }}"),
            None => text,
        };
        let skip = if i == 0 && root_keyword == "mutation" {
            " @skip(if: true)"
        } else {
            ""
        };
        text = format!("{}{}{} {{ {} }}", step.field, step.arguments, skip, inner);
    }
    format!("{root_keyword} {{ {text} }}")
}

async fn every_field_of_the_schema_follows_its_role_for_every_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin_token(&app).await;
    let tokens = [
        (StaffRole::Viewer, app.token(StaffRole::Viewer).await),
        (StaffRole::Staff, app.token(StaffRole::Staff).await),
        (StaffRole::Admin, admin.clone()),
    ];
    // Rows for the walk to reach, so that allowed fields really run.
    let donor = create_donor(
        &app,
        &admin,
        json!({ "displayName": "María López", "email": "maria@example.org" }),
    )
    .await;
    record_gift(&app, &admin, check_gift(donor, json!({}))).await;

    let schema = ok(&app, &admin, INTROSPECTION, json!({})).await;
    let types: BTreeMap<String, Value> = schema["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t.clone()))
        .collect();
    let declared = declared_roles();
    let query_root = schema["__schema"]["queryType"]["name"].as_str().unwrap();
    let mut roots = vec![("query", paths_from(query_root, &types))];
    if let Some(mutation_root) = schema["__schema"]["mutationType"]["name"].as_str() {
        roots.push(("mutation", paths_from(mutation_root, &types)));
    }

    let mut walked = 0;
    let mut checked: std::collections::HashSet<(String, String)> = Default::default();
    for (keyword, paths) in &roots {
        let mut reached: Vec<(&String, &Vec<Step>)> = paths.iter().collect();
        reached.sort_by_key(|(name, _)| name.as_str());
        for (object, path) in reached {
            if object.starts_with("__") {
                continue;
            }
            for field in types[object.as_str()]["fields"].as_array().unwrap() {
                let name = field["name"].as_str().unwrap();
                if !checked.insert((object.clone(), name.to_owned())) {
                    continue;
                }
                let mut needed = declared.needed(object, name);
                for step in path {
                    needed = stronger(needed, declared.needed(&step.parent, &step.field));
                }
                let text = request(keyword, path, field, &types);
                for (role, token) in &tokens {
                    check(
                        &app,
                        token,
                        *role,
                        needed,
                        &text,
                        &format!("{object}.{name}"),
                    )
                    .await;
                }
                walked += 1;
            }
        }
    }
    // Every object type's every field, from both roots; a sanity floor, not a list.
    assert!(walked > 200, "only {walked} fields walked");
}

async fn check(
    app: &TestApp,
    token: &str,
    role: StaffRole,
    needed: StaffRole,
    text: &str,
    field: &str,
) {
    let body = app.graphql(token, text, json!({})).await;
    let codes = error_codes(&body);
    if role.allows(needed) {
        assert!(
            !codes.iter().any(|c| c == "FORBIDDEN"),
            "{role} may see {field} (needs {needed}) but was refused:\n{text}\n{body}"
        );
        // Every error comes from running, not from a request the engine refused.
        for error in body["errors"].as_array().into_iter().flatten() {
            assert!(
                error.get("path").is_some(),
                "the request for {field} did not validate:\n{text}\n{body}"
            );
        }
    } else {
        assert_eq!(
            codes,
            ["FORBIDDEN"],
            "{role} may not see {field} (needs {needed}):\n{text}\n{body}"
        );
        assert_eq!(body["data"], Value::Null, "{role} {field}:\n{text}\n{body}");
    }
}

on_both_backends!(every_field_of_the_schema_follows_its_role_for_every_role);
