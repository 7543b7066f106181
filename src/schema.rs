//! OpenAPI schemas of the domain's closed vocabularies.
//!
//! The domain crate knows nothing of OpenAPI, so the API documents its enums here: each schema is a string
//! enum of exactly the words of the domain type ([`Vocabulary::ALL`]), under the type's name. A response
//! field of such a type says `#[schema(value_type = crate::schema::Outcome)]`.

use leadgate_domain::vocabulary::Vocabulary;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string enum of `T`'s words.
fn words<T: Vocabulary>(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(T::ALL.iter().map(|v| v.word())))
        .into()
}

/// Declares a schema named like the domain type, with that type's words.
macro_rules! vocabulary_schema {
    ($name:ident => $ty:ty, $description:literal) => {
        #[doc = concat!("The OpenAPI schema of [`", stringify!($ty), "`].")]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                words::<$ty>($description)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

vocabulary_schema!(Outcome => leadgate_domain::ledger::Outcome, "Outcome of one message in the ledger.");
vocabulary_schema!(Protocol => leadgate_domain::collector::Protocol, "IMAP or POP3.");
vocabulary_schema!(
    AfterImport => leadgate_domain::collector::AfterImport,
    "What a collector does with a message after its lead is committed."
);
vocabulary_schema!(
    SubjectFilter => leadgate_domain::collector::SubjectFilter,
    "Who decides which new IMAP messages hold the keyword."
);
