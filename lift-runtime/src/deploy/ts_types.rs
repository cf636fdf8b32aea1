//! JSON Schema (draft-07, as `schemars` writes it) to TypeScript types, for the generated
//! client (see [`typescript`](super::typescript)).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The named types of a generated module: each a name and its declaration, in the order they
/// were made; a schema met twice (the same type in two routes) is declared once.
#[derive(Default)]
pub(crate) struct Types {
    declared: Vec<(String, String)>,
    by_schema: BTreeMap<String, String>,
}

impl Types {
    /// The name of the type `schema` describes, declared under `preferred` (or the schema's
    /// title when it is an identifier) unless an equal schema was declared already. Names are
    /// made unique with a number.
    pub(crate) fn name(&mut self, schema: &Value, preferred: &str) -> String {
        let key = schema.to_string();
        if let Some(name) = self.by_schema.get(&key) {
            return name.clone();
        }
        let title = schema
            .get("title")
            .and_then(Value::as_str)
            .filter(|title| {
                is_type_name(title) && title.starts_with(|c: char| c.is_ascii_uppercase())
            })
            .unwrap_or(preferred);
        let name = self.unique(title);
        self.by_schema.insert(key, name.clone());
        let definitions = definitions(schema);
        let mut out = String::new();
        doc_comment(schema, "", &mut out);
        let body = ts(schema, &definitions, 0);
        if is_object_literal(&body) {
            out.push_str(&format!("export interface {name} {body}\n"));
        } else {
            out.push_str(&format!("export type {name} = {body};\n"));
        }
        // Definitions (recursive types keep theirs) become types of their own.
        let mut names = Vec::new();
        for (def, schema) in &definitions {
            let body = ts(schema, &definitions, 0);
            out.push_str(&format!("export type {def} = {body};\n"));
            names.push((def.clone(), String::new()));
        }
        self.declared.push((name.clone(), out));
        self.declared.extend(names);
        name
    }

    /// A name no declaration has yet: `base`, else `base2`, `base3`, ...
    pub(crate) fn unique(&self, base: &str) -> String {
        let taken = |name: &str| {
            self.declared.iter().any(|(n, _)| n == name) || RESERVED_TYPES.contains(&name)
        };
        let mut name = base.to_owned();
        let mut n = 2;
        while taken(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    }

    /// Every declaration, in order.
    pub(crate) fn declarations(&self) -> String {
        self.declared
            .iter()
            .map(|(_, text)| text.as_str())
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Names the client runtime declares itself.
const RESERVED_TYPES: &[&str] = &[
    "RequestId",
    "ErrorFrame",
    "LiftError",
    "CallOptions",
    "ReconnectOptions",
    "ConnectOptions",
    "ClientEvents",
    "LiftSocket",
    "Client",
    "Frames",
    "SocketLike",
    "Pending",
    "Listener",
];

/// Whether `name` is a JavaScript identifier (ASCII), so it can name a type, a method or a
/// property without quotes.
pub(crate) fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn is_object_literal(body: &str) -> bool {
    body.starts_with('{') && body.ends_with('}') && !body.contains("} | {")
}

/// The schema's `definitions` / `$defs`, by name.
fn definitions(schema: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(defs)) = schema.get(key) {
            for (name, def) in defs {
                out.insert(type_name_of(name), def.clone());
            }
        }
    }
    out
}

/// A definition's name as a TypeScript identifier.
fn type_name_of(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match cleaned.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("_{cleaned}"),
        None => "_".to_owned(),
        _ => cleaned,
    }
}

/// A `/** ... */` comment from the schema's description, at `indent`.
fn doc_comment(schema: &Value, indent: &str, out: &mut String) {
    if let Some(text) = schema.get("description").and_then(Value::as_str) {
        let text = text.replace("*/", "*\\/");
        if text.contains('\n') {
            out.push_str(&format!("{indent}/**\n"));
            for line in text.lines() {
                out.push_str(&format!("{indent} * {line}\n").replace(" * \n", " *\n"));
            }
            out.push_str(&format!("{indent} */\n"));
        } else {
            out.push_str(&format!("{indent}/** {text} */\n"));
        }
    }
}

/// The TypeScript type of `schema`, its nested object literals indented past `depth`.
pub(crate) fn ts(schema: &Value, defs: &BTreeMap<String, Value>, depth: usize) -> String {
    let Value::Object(map) = schema else {
        return match schema {
            Value::Bool(false) => "never".to_owned(),
            _ => "unknown".to_owned(),
        };
    };
    if let Some(Value::String(target)) = map.get("$ref") {
        let name = target.rsplit('/').next().map(type_name_of);
        return match name {
            Some(name) if defs.contains_key(&name) => name,
            _ => "unknown".to_owned(),
        };
    }
    if let Some(value) = map.get("const") {
        return value.to_string();
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        return union(values.iter().map(Value::to_string).collect());
    }
    let mut parts = Vec::new();
    if let Some(base) = typed(map, defs, depth) {
        parts.push(base);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = map.get(key) {
            let options = options.iter().map(|o| ts(o, defs, depth)).collect();
            parts.push(format!("({})", union(options)));
        }
    }
    if let Some(Value::Array(all)) = map.get("allOf") {
        parts.extend(all.iter().map(|s| ts(s, defs, depth)));
    }
    match parts.len() {
        0 => "unknown".to_owned(),
        1 => {
            let only = parts.pop().unwrap_or_default();
            match only.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
                Some(inner) if !inner.contains('(') => inner.to_owned(),
                _ => only,
            }
        }
        _ => parts.join(" & "),
    }
}

/// The type the schema's `type` (and `properties`) says, if it says one.
fn typed(map: &Map<String, Value>, defs: &BTreeMap<String, Value>, depth: usize) -> Option<String> {
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if map.contains_key("properties") => vec!["object"],
        _ => return None,
    };
    let options = types
        .into_iter()
        .map(|t| match t {
            "string" => "string".to_owned(),
            "integer" | "number" => "number".to_owned(),
            "boolean" => "boolean".to_owned(),
            "null" => "null".to_owned(),
            "array" => array(map, defs, depth),
            "object" => object(map, defs, depth),
            _ => "unknown".to_owned(),
        })
        .collect();
    Some(union(options))
}

fn array(map: &Map<String, Value>, defs: &BTreeMap<String, Value>, depth: usize) -> String {
    let tuple = map
        .get("prefixItems")
        .or_else(|| map.get("items").filter(|i| i.is_array()));
    if let Some(Value::Array(items)) = tuple {
        let items: Vec<String> = items.iter().map(|i| ts(i, defs, depth)).collect();
        return format!("[{}]", items.join(", "));
    }
    match map.get("items") {
        Some(items) => {
            let item = ts(items, defs, depth);
            if item.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                format!("{item}[]")
            } else {
                format!("Array<{item}>")
            }
        }
        None => "unknown[]".to_owned(),
    }
}

fn object(map: &Map<String, Value>, defs: &BTreeMap<String, Value>, depth: usize) -> String {
    let additional = match map.get("additionalProperties") {
        Some(Value::Bool(false)) | None => None,
        Some(Value::Bool(true)) => Some("unknown".to_owned()),
        Some(schema) => Some(ts(schema, defs, depth + 1)),
    };
    let Some(Value::Object(properties)) = map.get("properties") else {
        return format!("Record<string, {}>", additional.unwrap_or("unknown".into()));
    };
    if properties.is_empty() && additional.is_some() {
        return format!("Record<string, {}>", additional.unwrap_or_default());
    }
    let required: Vec<&str> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let indent = "  ".repeat(depth + 1);
    let mut out = String::from("{\n");
    for (name, schema) in properties {
        doc_comment(schema, &indent, &mut out);
        let optional = if required.contains(&name.as_str()) {
            ""
        } else {
            "?"
        };
        let key = if is_type_name(name) {
            name.clone()
        } else {
            Value::String(name.clone()).to_string()
        };
        out.push_str(&format!(
            "{indent}{key}{optional}: {};\n",
            ts(schema, defs, depth + 1)
        ));
    }
    if additional.is_some() {
        // Other fields too, of any type (an index signature must admit every property's).
        out.push_str(&format!("{indent}[field: string]: unknown;\n"));
    }
    out.push_str(&format!("{}}}", "  ".repeat(depth)));
    out
}

fn union(mut options: Vec<String>) -> String {
    options.dedup();
    match options.len() {
        0 => "never".to_owned(),
        _ => options.join(" | "),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ts, Types};

    #[test]
    fn schemas_become_typescript_types() {
        let defs = Default::default();
        let cases = [
            (json!({"type": "string"}), "string"),
            (json!({"type": ["string", "null"]}), "string | null"),
            (json!({"type": "integer", "format": "uint32"}), "number"),
            (json!({"const": "joined"}), "\"joined\""),
            (json!({"enum": ["a", 1, null]}), "\"a\" | 1 | null"),
            (
                json!({"type": "array", "items": {"type": "boolean"}}),
                "boolean[]",
            ),
            (
                json!({"type": "array", "items": {"type": ["string", "null"]}}),
                "Array<string | null>",
            ),
            (
                json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]}),
                "[string, number]",
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "number"}}),
                "Record<string, number>",
            ),
            (
                json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
                "string | null",
            ),
            (json!(true), "unknown"),
            (json!({}), "unknown"),
            (json!({"$ref": "#/$defs/Missing"}), "unknown"),
        ];
        for (schema, expected) in cases {
            assert_eq!(ts(&schema, &defs, 0), expected, "{schema}");
        }
        let object = json!({
            "type": "object",
            "required": ["text", "from-name"],
            "properties": {
                "text": {"type": "string", "description": "What to say."},
                "from-name": {"type": "string"},
                "room": {"type": ["string", "null"]},
            },
        });
        assert_eq!(
            ts(&object, &defs, 0),
            // Properties in the order serde_json keeps them (sorted).
            "{\n  \"from-name\": string;\n  room?: string | null;\n  /** What to say. */\n  text: string;\n}"
        );
    }

    #[test]
    fn equal_schemas_are_declared_once_and_names_stay_unique() {
        let mut types = Types::default();
        let a = json!({"title": "RoomRequest", "type": "object", "properties": {"room": {"type": "string"}}});
        assert_eq!(types.name(&a, "JoinMessage"), "RoomRequest");
        assert_eq!(types.name(&a, "LeaveMessage"), "RoomRequest");
        let b = json!({"title": "RoomRequest", "type": "object", "properties": {}});
        assert_eq!(types.name(&b, "Other"), "RoomRequest2");
        let reserved = json!({"title": "Client", "type": "string"});
        assert_eq!(types.name(&reserved, "X"), "Client2");
        let recursive = json!({
            "title": "Tree",
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
        });
        assert_eq!(types.name(&recursive, "T"), "Tree");
        let text = types.declarations();
        assert!(text.contains("export type Tree = Node;"), "{text}");
        assert!(text.contains("kids?: Node[];"), "{text}");
        assert_eq!(text.matches("export interface RoomRequest ").count(), 1);
    }
}
