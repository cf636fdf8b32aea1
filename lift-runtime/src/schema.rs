//! JSON Schemas of handlers' messages for the AsyncAPI document (feature `schemas`).
//!
//! The route macros call `(&SchemaOf::<T>::new()).schema()` for each extractor type and the
//! return type, with the types written in the handler's signature. Method resolution picks
//! [`ViaJsonSchema`] when the type is `Json<T>` (or a result of one) with `T: JsonSchema` and
//! the feature is on, and [`NoJsonSchema`] (one auto-reference further) otherwise, so a handler
//! never needs a bound it does not have.

use std::marker::PhantomData;

use serde_json::Value;

/// A type, for the schema lookup.
pub struct SchemaOf<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> SchemaOf<T> {
    /// The probe.
    pub const fn new() -> Self {
        SchemaOf(PhantomData)
    }
}

impl<T: ?Sized> Default for SchemaOf<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Chosen when the type has a schema.
pub trait ViaJsonSchema {
    /// The schema.
    fn schema(&self) -> Option<Value>;
}

/// Chosen otherwise.
pub trait NoJsonSchema {
    /// No schema.
    fn schema(&self) -> Option<Value> {
        None
    }
}

impl<T: ?Sized> NoJsonSchema for &SchemaOf<T> {}

#[cfg(feature = "schemas")]
mod with_schemars {
    use schemars::JsonSchema;
    use serde_json::Value;

    use super::{SchemaOf, ViaJsonSchema};
    use crate::extract::Json;

    /// A draft-07 schema with every subschema inlined, so it can sit inside another document.
    pub(crate) fn schema_of<T: JsonSchema>() -> Option<Value> {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings.inline_subschemas = true;
        let schema = settings.into_generator().into_root_schema_for::<T>();
        let mut value = schema.to_value();
        if let Some(map) = value.as_object_mut() {
            map.remove("$schema");
        }
        Some(value)
    }

    impl<T: JsonSchema> ViaJsonSchema for SchemaOf<Json<T>> {
        fn schema(&self) -> Option<Value> {
            schema_of::<T>()
        }
    }

    impl<T: JsonSchema, E> ViaJsonSchema for SchemaOf<Result<Json<T>, E>> {
        fn schema(&self) -> Option<Value> {
            schema_of::<T>()
        }
    }

    impl<T: JsonSchema, E> ViaJsonSchema for SchemaOf<Result<Option<Json<T>>, E>> {
        fn schema(&self) -> Option<Value> {
            schema_of::<T>()
        }
    }
}
