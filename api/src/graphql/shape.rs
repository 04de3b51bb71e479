//! What a request asks for, measured from its text and the schema before anything runs:
//! its cost (a list costs its page size times what each item asks for), its aliases,
//! the most times one field is asked for in one place, and every field it names. The
//! budget and the role rules read this, so a field added to the schema is measured and
//! checked without being listed anywhere.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::registry::{MetaField, MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Value, Variables};

use super::paging::DEFAULT_PAGE_SIZE;

/// Arguments that say how many items a list field returns.
pub const SIZE_ARGUMENTS: [&str; 3] = ["first", "last", "count"];

/// What one list costs per item when the request does not say how long it is.
pub const DEFAULT_LIST_SIZE: u64 = DEFAULT_PAGE_SIZE as u64;

/// One field of the schema, as `Type.field`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldName {
    pub parent_type: String,
    pub field: String,
}

impl std::fmt::Display for FieldName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.parent_type, self.field)
    }
}

/// The measure of one operation.
#[derive(Debug, Default)]
pub struct Shape {
    /// Every field costs 1, times the length of each list it is inside.
    pub cost: u64,
    /// How many fields carry an alias.
    pub aliases: usize,
    /// The field asked for most often within one selection, and how often.
    pub most_repeated: Option<(FieldName, usize)>,
    /// Every schema field the operation names (introspection fields aside).
    pub fields: Vec<FieldName>,
    /// Whether selections nest deeper than the walk's bound allows; the walk did not go on.
    pub too_deep: bool,
    /// Whether the walk met more fields and fragment spreads than its bound allows (a
    /// fragment counted again wherever it is spread); it did not go on, and the cost
    /// is not known.
    pub too_many_fields: bool,
    /// Whether a list's size came from the request's variables (or their defaults), so
    /// that the same document may cost more with other values.
    pub sized_by_variables: bool,
}

/// How far `measure` walks: a request past either bound is refused without being
/// walked further, so a hostile document costs no more to measure than a large one.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The deepest nesting of selections: each field's selection, inline fragment and
    /// fragment spread is one level, as the engine counts its recursion depth.
    pub depth: usize,
    /// The most fields and fragment spreads met, a fragment's fields counted again
    /// wherever it is spread.
    pub fields: usize,
}

/// Measures the operation a request runs, or `None` when the document does not name
/// one the engine would run (the engine then refuses it with its own message).
pub fn measure(
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    bounds: Bounds,
) -> Option<Shape> {
    let operation = chosen_operation(&document.operations, operation_name)?;
    let root = match operation.ty {
        OperationType::Query => registry.query_type.as_str(),
        OperationType::Mutation => registry.mutation_type.as_deref()?,
        OperationType::Subscription => registry.subscription_type.as_deref()?,
    };
    let mut values: BTreeMap<Name, Value> = BTreeMap::new();
    for definition in &operation.variable_definitions {
        if let Some(default) = &definition.node.default_value {
            values.insert(definition.node.name.node.clone(), default.node.clone());
        }
    }
    for (name, value) in variables.iter() {
        values.insert(name.clone(), value.clone());
    }
    let mut walker = Walker {
        registry,
        document,
        variables: values,
        shape: Shape::default(),
        open_fragments: Vec::new(),
        bounds,
        depth: 0,
        walked: 0,
        sized_by_variables: Cell::new(false),
    };
    let cost = walker.selection_set(root, &operation.selection_set.node);
    walker.shape.cost = cost;
    walker.shape.sized_by_variables = walker.sized_by_variables.get();
    Some(walker.shape)
}

fn chosen_operation<'a>(
    operations: &'a DocumentOperations,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(map), Some(name)) => map
            .iter()
            .find(|(key, _)| key.as_str() == name)
            .map(|(_, operation)| &operation.node),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            map.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

struct Walker<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: BTreeMap<Name, Value>,
    shape: Shape,
    /// Fragments being walked, so that a cycle (which validation refuses anyway) ends.
    open_fragments: Vec<Name>,
    bounds: Bounds,
    /// How deeply the selection being walked is nested.
    depth: usize,
    /// How many fields and fragment spreads the walk has met.
    walked: usize,
    /// Whether a size argument named a variable.
    sized_by_variables: Cell<bool>,
}

impl Walker<'_> {
    /// Counts one more field or fragment spread met; false once past the bound.
    fn step(&mut self) -> bool {
        self.walked += 1;
        if self.walked > self.bounds.fields {
            self.shape.too_many_fields = true;
            return false;
        }
        true
    }

    /// Walks one level deeper (a field's selection, an inline fragment, a spread), or
    /// stops, costing nothing, past the bound.
    fn nested(&mut self, walk: impl FnOnce(&mut Self) -> u64) -> u64 {
        if self.depth >= self.bounds.depth {
            self.shape.too_deep = true;
            return 0;
        }
        self.depth += 1;
        let cost = walk(self);
        self.depth -= 1;
        cost
    }

    /// The cost of a selection on `type_name`; also counts repeats within it.
    fn selection_set(&mut self, type_name: &str, set: &SelectionSet) -> u64 {
        let mut repeats: HashMap<FieldName, usize> = HashMap::new();
        let cost = self.selections(type_name, set, &mut repeats);
        for (field, count) in repeats {
            if self
                .shape
                .most_repeated
                .as_ref()
                .is_none_or(|(_, most)| count > *most)
            {
                self.shape.most_repeated = Some((field, count));
            }
        }
        cost
    }

    fn selections(
        &mut self,
        type_name: &str,
        set: &SelectionSet,
        repeats: &mut HashMap<FieldName, usize>,
    ) -> u64 {
        let mut cost: u64 = 0;
        for selection in &set.items {
            let part = match &selection.node {
                Selection::Field(field) => self.field(type_name, &field.node, repeats),
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |condition| condition.node.on.node.as_str());
                    self.nested(|walker| {
                        walker.selections(on, &fragment.node.selection_set.node, repeats)
                    })
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.document.fragments.get(name) {
                        Some(fragment) if !self.open_fragments.contains(name) && self.step() => {
                            self.open_fragments.push(name.clone());
                            let on = fragment.node.type_condition.node.on.node.as_str();
                            let part = self.nested(|walker| {
                                walker.selections(on, &fragment.node.selection_set.node, repeats)
                            });
                            self.open_fragments.pop();
                            part
                        }
                        _ => 0,
                    }
                }
            };
            cost = cost.saturating_add(part);
        }
        cost
    }

    fn field(
        &mut self,
        parent_type: &str,
        field: &Field,
        repeats: &mut HashMap<FieldName, usize>,
    ) -> u64 {
        if field.alias.is_some() {
            self.shape.aliases += 1;
        }
        if !self.step() {
            return 1;
        }
        let name = field.name.node.as_str();
        // Introspection is bounded by the size of the schema, not by the data.
        if name.starts_with("__") {
            return 1;
        }
        let Some(parent) = self.registry.types.get(parent_type) else {
            return 1;
        };
        let Some(meta_field) = parent.field_by_name(name) else {
            return 1;
        };
        let field_name = FieldName {
            parent_type: parent_type.to_owned(),
            field: name.to_owned(),
        };
        *repeats.entry(field_name.clone()).or_insert(0) += 1;
        self.shape.fields.push(field_name);
        let children = if field.selection_set.node.items.is_empty() {
            0
        } else {
            let child_type = MetaTypeName::concrete_typename(&meta_field.ty);
            self.nested(|walker| walker.selection_set(child_type, &field.selection_set.node))
        };
        self.items(parent, meta_field, field)
            .saturating_mul(children.saturating_add(1))
    }

    /// How many items a field returns at most, as far as the request says.
    fn items(&self, parent: &MetaType, meta_field: &MetaField, field: &Field) -> u64 {
        let sized: Vec<&str> = SIZE_ARGUMENTS
            .into_iter()
            .filter(|argument| meta_field.args.contains_key(*argument))
            .collect();
        if !sized.is_empty() {
            let asked = sized
                .iter()
                .filter_map(|argument| {
                    let value = field.get_argument(argument)?;
                    let value = value
                        .node
                        .clone()
                        .into_const_with(|name| {
                            self.sized_by_variables.set(true);
                            self.variables.get(&name).cloned().ok_or(())
                        })
                        .ok()?;
                    match value {
                        Value::Number(n) => Some(n.as_u64().unwrap_or(0)),
                        _ => None,
                    }
                })
                .max();
            let by_default = || {
                sized
                    .iter()
                    .filter_map(|argument| {
                        meta_field
                            .args
                            .get(*argument)?
                            .default_value
                            .as_deref()?
                            .parse()
                            .ok()
                    })
                    .max()
                    .unwrap_or(DEFAULT_LIST_SIZE)
            };
            return asked.unwrap_or_else(by_default);
        }
        if MetaTypeName::create(&meta_field.ty).is_list() {
            // The items of a connection were counted by the connection's own size.
            if is_connection(parent) {
                1
            } else {
                DEFAULT_LIST_SIZE
            }
        } else {
            1
        }
    }
}

/// A Relay connection: its `edges` and `nodes` are one page long.
fn is_connection(meta_type: &MetaType) -> bool {
    meta_type.field_by_name("pageInfo").is_some() && meta_type.field_by_name("edges").is_some()
}
