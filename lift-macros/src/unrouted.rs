//! What `#[ws_app]` does so that nothing marked as a handler is left out of the table without
//! a word:
//!
//! - **aliases imported in the module** (`use lift_runtime::ws_route as route;`) are
//!   recognised, and the handlers they mark are routed;
//! - **handlers in nested modules** are a compile error at their attribute: `#[ws_app]` routes
//!   the handlers written directly in its module;
//! - **any other attribute that makes a handler** (an alias imported outside the module) is
//!   caught by a probe: every plain function of the module is checked at compile time for a
//!   handler companion (`__private::Probe`), and one that has it is a compile error at its
//!   name;
//! - `#[cfg]`-gated handlers are routed under their `cfg` (see `Handler::cfgs`).

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{Item, UseTree};

use crate::errors::Errors;
use crate::exports::Exports;
use crate::handler::HandlerKind;

/// The handler attributes the module imports under another name: alias → kind.
#[derive(Default)]
pub struct Aliases(HashMap<String, HandlerKind>);

impl Aliases {
    /// The renames of `ws_route`, `ws_connect`, ... among the module's `use` items; those
    /// `use` items are marked `#[allow(unused_imports)]`, since `#[ws_app]` consumes the
    /// attributes they name.
    pub fn scan(items: &mut [Item]) -> Aliases {
        let mut aliases = HashMap::new();
        for item in items {
            let Item::Use(use_item) = item else { continue };
            let before = aliases.len();
            collect(&use_item.tree, &mut aliases);
            if aliases.len() > before {
                use_item
                    .attrs
                    .push(syn::parse_quote!(#[allow(unused_imports)]));
            }
        }
        Aliases(aliases)
    }

    /// The handler attribute `attr` is, by its name or an alias.
    pub fn kind_of(&self, attr: &syn::Attribute) -> Option<HandlerKind> {
        HandlerKind::of_attr(attr).or_else(|| {
            let ident = attr.path().get_ident()?;
            self.0.get(&ident.to_string()).copied()
        })
    }
}

fn collect(tree: &UseTree, aliases: &mut HashMap<String, HandlerKind>) {
    match tree {
        UseTree::Path(path) => collect(&path.tree, aliases),
        UseTree::Group(group) => group.items.iter().for_each(|tree| collect(tree, aliases)),
        UseTree::Rename(rename) => {
            if let Some(kind) = HandlerKind::ALL
                .into_iter()
                .find(|kind| rename.ident == kind.attr_name())
            {
                aliases.insert(rename.rename.to_string(), kind);
            }
        }
        UseTree::Name(_) | UseTree::Glob(_) => {}
    }
}

/// Reports (and removes) handler attributes inside modules nested in the app module, at any
/// depth.
pub fn nested(items: &mut [Item], aliases: &Aliases, app: &syn::Ident, errors: &mut Errors) {
    for item in items {
        let Item::Mod(module) = item else { continue };
        let Some((_, inner)) = &mut module.content else {
            continue;
        };
        for inner_item in inner.iter_mut() {
            let Item::Fn(func) = inner_item else { continue };
            let name = func.sig.ident.to_string();
            func.attrs.retain(|attr| {
                let Some(kind) = aliases.kind_of(attr) else {
                    return true;
                };
                errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "`{name}` is in `mod {}`, inside the `#[ws_app]` module, where it would never be routed: `#[ws_app]` routes the handlers written directly in `mod {app}`; move `{name}` there (or list it with `ws_routes![...]` in an app built without `#[ws_app]`)",
                        module.ident,
                    ),
                ));
                let _ = kind;
                false
            });
        }
        nested(inner, aliases, app, errors);
    }
}

/// The compile-time check of the module's plain functions: a fallback type per name (a glob
/// import, so a handler's companion struct of the same name takes precedence), and per
/// function a constant that fails when the name is a handler's companion.
pub fn probes(plain: &[syn::Ident], app: &syn::Ident, exports: &Exports) -> TokenStream {
    if plain.is_empty() {
        return TokenStream::new();
    }
    let probe = exports.probe();
    let not_routed = exports.not_routed();
    let checks = plain.iter().map(|ident| {
        let message = format!(
            "`{ident}` is a handler, but `#[ws_app]` does not know the attribute that makes it one, so `mod {app}`'s router would leave it out: write `#[ws_route(\"...\")]`, `#[ws_connect]`, `#[ws_disconnect]` or `#[ws_default]` by name (an alias works when it is imported inside `mod {app}`)",
        );
        quote_spanned! {ident.span()=>
            const _: () = {
                #[allow(unused_imports)]
                use #not_routed as _;
                if <#probe<#ident>>::ROUTED {
                    ::core::panic!(#message)
                }
            };
        }
    });
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, unreachable_pub)]
        mod __lift_unrouted {
            #( pub struct #plain {} )*
        }
        #[allow(unused_imports)]
        use self::__lift_unrouted::*;
        #( #checks )*
    }
}
