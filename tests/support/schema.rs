//! Checks a JSON document against the JSON Schemas of `doc/`: the subset
//! they use (`type`, `const`, `enum`, `required`, `properties`,
//! `additionalProperties: false`, `items`, and the two hex `pattern`s).
//! No small, well-kept crate does only this; the full validators pull in
//! a regex engine, an HTTP client and more.

use serde_json::Value;

/// `doc/NAME`, parsed.
pub fn load(name: &str) -> Value {
    let path = super::manifest_dir().join("doc").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Panics, naming the path in the document, unless `doc` fits `schema`.
pub fn check(doc: &Value, schema: &Value) {
    if let Err(e) = validate(doc, schema, "$") {
        panic!("{e}\nin {doc:#}");
    }
}

fn validate(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in schema")),
        };
        if !types.iter().any(|t| has_type(value, t)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(constant) = schema.get("const") {
        if value != constant {
            return Err(format!("{at}: {value} is not {constant}"));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(Value::String(pattern)), Value::String(s)) = (schema.get("pattern"), value) {
        if !matches_pattern(pattern, s) {
            return Err(format!("{at}: {s:?} does not match {pattern}"));
        }
    }
    if let Value::Object(object) = value {
        validate_object(object, schema, at)?;
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(item, item_schema, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn validate_object(
    object: &serde_json::Map<String, Value>,
    schema: &Value,
    at: &str,
) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = required.as_str().unwrap();
        if !object.contains_key(name) {
            return Err(format!("{at}: required field `{name}` is missing"));
        }
    }
    for (name, field) in object {
        match properties.and_then(|p| p.get(name)) {
            Some(field_schema) => validate(field, field_schema, &format!("{at}.{name}"))?,
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                return Err(format!("{at}: field `{name}` is not in the schema"))
            }
            None => {}
        }
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => panic!("unknown type {name} in schema"),
    }
}

fn matches_pattern(pattern: &str, s: &str) -> bool {
    match pattern {
        "^[0-9a-f]{40}$" => {
            s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        "^[0-9A-F]+$" => !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')),
        _ => panic!("pattern {pattern} is not supported by tests/support/schema.rs"),
    }
}
