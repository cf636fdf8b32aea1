//! Every path the generated code uses to reach the runtime, kept in one place.
//!
//! Generated code never names `lift_runtime` items directly: it goes through the hidden
//! `__private` module, so the runtime can move things without breaking expansions, and a user
//! who renamed the crate can point the macros at it with `crate = "..."`.
//!
//! Each path is a method of [`Exports`], so a misspelt one is a compile error here, and a unit
//! test imports every one of them from the runtime, so a path the runtime does not export fails
//! this crate's tests rather than a user's build.

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

    fn path(&self, name: &str) -> TokenStream {
        let ident = proc_macro2::Ident::new(name, proc_macro2::Span::call_site());
        let root = &self.root;
        quote!(#root::#ident)
    }
}

/// One method per exported path; the test module checks that the runtime has each.
macro_rules! exports {
    ($($method:ident => $name:ident,)*) => {
        // Named like the paths (`from_message` is a trait, not a conversion).
        #[allow(dead_code, clippy::wrong_self_convention)]
        impl Exports {
            $(
                #[doc = concat!("`__private::", stringify!($name), "`")]
                pub fn $method(&self) -> TokenStream {
                    self.path(stringify!($name))
                }
            )*
        }

        #[cfg(test)]
        mod runtime_has_every_path {
            $(
                #[allow(unused_imports)]
                use lift_runtime::__private::$name;
            )*
        }
    };
}

exports! {
    router => Router,
    route => Route,
    route_info => RouteInfo,
    push_info => PushInfo,
    push => Push,
    json => Json,
    route_kind => RouteKind,
    key_index => key_index,
    ws_context => WsContext,
    box_future => BoxFuture,
    handler_result => HandlerResult,
    from_message => FromMessage,
    handler_output => HandlerOutput,
    value => Value,
    schema_of => SchemaOf,
    via_json_schema => ViaJsonSchema,
    no_json_schema => NoJsonSchema,
    probe => Probe,
    not_routed => NotRouted,
    next => Next,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_through_the_private_module() {
        let default = Exports::new(None);
        assert_eq!(
            default.router().to_string(),
            ":: lift_runtime :: __private :: Router"
        );
        let renamed: syn::Path = syn::parse_quote!(::my_lift);
        assert_eq!(
            Exports::new(Some(&renamed)).route().to_string(),
            ":: my_lift :: __private :: Route"
        );
    }
}
