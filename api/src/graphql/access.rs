//! Who may see what. A field declares the role it needs with `@requiresRole` (on the
//! field, or on the type it returns, so every way of reaching a receipt follows the
//! receipts' rule); a field without one is open to every valid token. A request that
//! names any field its token's role may not see is refused whole, before it runs:
//! `FORBIDDEN` and no data, never a `null` where the schema promises a value.

use async_graphql::registry::{MetaDirectiveInvocation, MetaType, MetaTypeName, Registry};
use async_graphql::{ServerError, TypeDirective, Value};
use entity::enums::StaffRole;

use super::errors::{FORBIDDEN, refusal};
use super::shape::FieldName;
use super::tokens::Role;

/// The name the directive has in the schema.
pub const DIRECTIVE: &str = "requiresRole";

/// Only tokens with this role or a higher one may ask for this field (on a type: for
/// any field that returns it). Requests naming it with a lower role are refused whole.
#[TypeDirective(
    name = "requiresRole",
    location = "FieldDefinition",
    location = "Object"
)]
pub fn requires_role(role: Role) {}

/// The role a field needs: the stronger of its own and its type's; a field that
/// returns a connection needs what the connection's items need.
pub fn required_role(registry: &Registry, field: &FieldName) -> StaffRole {
    let Some(meta_field) = registry
        .types
        .get(&field.parent_type)
        .and_then(|parent| parent.field_by_name(&field.field))
    else {
        return StaffRole::Viewer;
    };
    let own = declared(&meta_field.directive_invocations);
    let Some(MetaType::Object {
        directive_invocations,
        fields,
        ..
    }) = registry
        .types
        .get(MetaTypeName::concrete_typename(&meta_field.ty))
    else {
        return own;
    };
    let mut needed = stronger(own, declared(directive_invocations));
    if let Some(MetaType::Object {
        directive_invocations,
        ..
    }) = fields.get("nodes").and_then(|nodes| {
        registry
            .types
            .get(MetaTypeName::concrete_typename(&nodes.ty))
    }) {
        needed = stronger(needed, declared(directive_invocations));
    }
    needed
}

fn declared(invocations: &[MetaDirectiveInvocation]) -> StaffRole {
    invocations
        .iter()
        .filter(|invocation| invocation.name == DIRECTIVE)
        .filter_map(|invocation| match invocation.args.get("role") {
            Some(Value::Enum(name)) => role_named(name.as_str()),
            _ => None,
        })
        .fold(StaffRole::Viewer, stronger)
}

fn role_named(name: &str) -> Option<StaffRole> {
    match name {
        "VIEWER" => Some(StaffRole::Viewer),
        "STAFF" => Some(StaffRole::Staff),
        "ADMIN" => Some(StaffRole::Admin),
        _ => None,
    }
}

fn stronger(a: StaffRole, b: StaffRole) -> StaffRole {
    if a.allows(b) { a } else { b }
}

/// Refuses the request when `role` may not see one of `fields`, naming each of them.
pub fn check_fields(
    registry: &Registry,
    role: StaffRole,
    fields: &[FieldName],
) -> Result<(), ServerError> {
    let mut refused: Vec<String> = Vec::new();
    for field in fields {
        let needed = required_role(registry, field);
        if role.allows(needed) {
            continue;
        }
        let described = format!("{field} (needs {needed})");
        if !refused.contains(&described) {
            refused.push(described);
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(refusal(
        format!(
            "your token has the {role} role, which may not see {}; nothing was run",
            refused.join(", ")
        ),
        FORBIDDEN,
    ))
}
