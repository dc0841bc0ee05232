//! What the report's JSON Schema says about one value: compare it as text,
//! an amount or a date; case or not; an ordered list or not. A keyword is
//! found on the value's own schema, through local `$ref`s, and in its
//! `allOf`, `anyOf` and `oneOf` branches; a child's schema through
//! `properties`, `prefixItems`, `items` (or a draft-04 `items` array) and
//! `additionalProperties`.

use serde_json::Value;

/// How a leaf is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No schema says: the expected value's own type decides.
    Auto,
    Text,
    Amount,
    Date,
    DateTime,
}

/// Schemas nested this deep, or `$ref`s followed this often, are not
/// looked into (a schema that refers to itself ends here).
const MAX_HOPS: usize = 32;

/// One value's schema within the report's schema.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    root: Option<&'a Value>,
    node: Option<&'a Value>,
}

impl<'a> Node<'a> {
    pub fn root(schema: Option<&'a Value>) -> Self {
        Self {
            root: schema,
            node: schema,
        }
    }

    fn at(&self, node: Option<&'a Value>) -> Self {
        Self {
            root: self.root,
            node,
        }
    }

    /// The node, its `$ref` targets and its composition branches, in order.
    fn parts(&self) -> Vec<&'a Value> {
        let mut parts = Vec::new();
        let mut stack: Vec<&'a Value> = self.node.into_iter().collect();
        while let Some(node) = stack.pop() {
            if parts.len() >= MAX_HOPS {
                break;
            }
            parts.push(node);
            if let Some(target) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|pointer| self.root?.pointer(pointer))
            {
                stack.push(target);
            }
            for key in ["oneOf", "anyOf", "allOf"] {
                if let Some(branches) = node.get(key).and_then(Value::as_array) {
                    stack.extend(branches.iter().rev());
                }
            }
        }
        parts
    }

    fn keyword(&self, key: &str) -> Option<&'a Value> {
        self.parts().into_iter().find_map(|part| part.get(key))
    }

    /// The schema of the property `key`.
    pub fn property(&self, key: &str) -> Self {
        let found = self.parts().into_iter().find_map(|part| {
            part.get("properties")
                .and_then(|p| p.get(key))
                .or_else(|| part.get("additionalProperties").filter(|a| a.is_object()))
        });
        self.at(found)
    }

    /// The schema of item `index` of an array.
    pub fn item(&self, index: usize) -> Self {
        let found = self.parts().into_iter().find_map(|part| {
            part.get("prefixItems")
                .and_then(|p| p.get(index))
                .or_else(|| match part.get("items") {
                    Some(Value::Array(tuple)) => tuple.get(index),
                    Some(items @ Value::Object(_)) => Some(items),
                    _ => None,
                })
        });
        self.at(found)
    }

    /// `x-ordered`, if the schema says.
    pub fn ordered(&self) -> Option<bool> {
        self.keyword("x-ordered").and_then(Value::as_bool)
    }

    /// `x-compare: "case-insensitive"`.
    pub fn case_insensitive(&self) -> bool {
        self.keyword("x-compare").and_then(Value::as_str) == Some("case-insensitive")
    }

    pub fn kind(&self) -> Kind {
        let types: Vec<&str> = match self.keyword("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let format = self.keyword("format").and_then(Value::as_str);
        if types.iter().any(|t| *t == "number" || *t == "integer") {
            Kind::Amount
        } else if types.contains(&"string") {
            match format {
                Some("date") => Kind::Date,
                Some("date-time") => Kind::DateTime,
                _ => Kind::Text,
            }
        } else {
            match format {
                Some("date") => Kind::Date,
                Some("date-time") => Kind::DateTime,
                _ => Kind::Auto,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keywords_are_found_through_refs_and_branches() {
        let schema = json!({
            "$defs": {"lines": {"type": "array", "x-ordered": true, "items": {"$ref": "#/$defs/line"}},
                      "line": {"type": "object", "properties": {"sku": {"type": "string"}}}},
            "properties": {
                "a": {"$ref": "#/$defs/lines"},
                "b": {"anyOf": [{"type": "null"}, {"type": "array", "x-ordered": true}]},
                "c": {"allOf": [{"type": "string"}, {"format": "date"}]},
                "d": {"oneOf": [{"type": "string", "x-compare": "case-insensitive"}]},
                "t": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]},
                "self": {"$ref": "#/properties/self"}
            }
        });
        let root = Node::root(Some(&schema));
        assert_eq!(root.property("a").ordered(), Some(true));
        assert_eq!(
            root.property("a").item(3).property("sku").kind(),
            Kind::Text
        );
        assert_eq!(root.property("b").ordered(), Some(true));
        assert_eq!(root.property("c").kind(), Kind::Date);
        assert!(root.property("d").case_insensitive());
        assert_eq!(root.property("t").item(0).kind(), Kind::Amount);
        assert_eq!(root.property("t").item(1).kind(), Kind::Text);
        assert_eq!(root.property("self").kind(), Kind::Auto, "a loop ends");
        assert_eq!(Node::root(None).property("x").kind(), Kind::Auto);
    }
}
