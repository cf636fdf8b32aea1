//! Every path the generated code uses to reach the runtime, kept in one place.
//!
//! Generated code never names `lift_runtime` items directly: it goes through the hidden
//! `__private` module, so the runtime can move things without breaking expansions, and a user
//! who renamed the crate can point the macros at it with `crate = "..."`.

use proc_macro2::TokenStream;
use quote::quote;

/// The path to the runtime's hidden module, `::lift_runtime::__private` unless overridden.
#[derive(Clone)]
pub struct Exports {
    root: TokenStream,
}

impl Exports {
    pub fn new(krate: Option<&syn::Path>) -> Self {
        let root = match krate {
            Some(path) => quote!(#path::__private),
            None => quote!(::lift_runtime::__private),
        };
        Exports { root }
    }

    pub fn item(&self, name: &str) -> TokenStream {
        let ident = proc_macro2::Ident::new(name, proc_macro2::Span::call_site());
        let root = &self.root;
        quote!(#root::#ident)
    }
}
