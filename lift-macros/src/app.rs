//! `#[ws_app]`: scans an inline module, expands its handlers and generates `router()`, whose
//! routing table is a compile-time `match` on the route key.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Item, ItemMod};

use crate::errors::Errors;
use crate::exports::Exports;
use crate::handler::{Handler, HandlerKind};
use crate::unrouted::Aliases;

/// API Gateway's default quota of routes per API.
const MAX_ROUTES: usize = 300;

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut module: ItemMod = match syn::parse2(item.clone()) {
        Ok(module) => module,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                "`#[ws_app]` goes on an inline module: `#[ws_app] mod chat { ... }`",
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let mut errors = Errors::default();
    let krate = crate::args::crate_only(
        args,
        "ws_app",
        "`#[ws_app]` takes no route key; put `#[ws_route(\"...\")]` on the handlers inside",
        "`reply` belongs on a route: `#[ws_route(\"key\", reply)]`",
        &mut errors,
    );
    let exports = Exports::new(krate.as_ref());

    let Some((_, items)) = &mut module.content else {
        errors.push(syn::Error::new(
            module.semi.span(),
            "`#[ws_app]` needs the module's body to see its routes: write the module inline, `mod name { ... }`, or list handlers from other files with `ws_routes![file::handler, ...]`",
        ));
        let err = errors.finish().unwrap_err().to_compile_error();
        return quote!(#module #err);
    };

    let aliases = Aliases::scan(items);
    crate::unrouted::nested(items, &aliases, &module.ident, &mut errors);
    let mut handlers: Vec<Handler> = Vec::new();
    let mut pushes: Vec<crate::push::Push> = Vec::new();
    let mut plain: Vec<syn::Ident> = Vec::new();
    let mut attempted = 0;
    let mut expanded: Vec<Item> = Vec::with_capacity(items.len());
    for mut item in std::mem::take(items) {
        let push_impl = crate::push::take(&mut item, &mut errors).map(|push| {
            let implementation = crate::push::impl_push(&push, &exports);
            pushes.push(push);
            Item::Verbatim(implementation)
        });
        let Item::Fn(func) = &mut item else {
            if let Some(attrs) = item_attrs(&mut item) {
                attrs.retain(|attr| {
                    if !crate::push::is_push(attr) {
                        return true;
                    }
                    errors.push(syn::Error::new_spanned(
                        attr,
                        "`#[ws_push]` goes on a struct with named fields: the frame's type",
                    ));
                    false
                });
                // Reported here and removed, so the attribute does not expand on its own.
                attrs.retain(|attr| {
                    let Some(kind) = aliases.kind_of(attr) else {
                        return true;
                    };
                    attempted += 1;
                    errors.push(syn::Error::new_spanned(
                        attr,
                        format!(
                            "`#[{}]` goes on an `async fn`, not on this item",
                            kind.attr_name()
                        ),
                    ));
                    false
                });
            }
            expanded.push(item);
            expanded.extend(push_impl);
            continue;
        };
        func.attrs.retain(|attr| {
            if !crate::push::is_push(attr) {
                return true;
            }
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[ws_push]` goes on the struct a handler sends, not on a function: `#[ws_push(\"message\")] #[derive(Serialize)] pub struct Message { ... }`",
            ));
            false
        });
        let Some(position) = func
            .attrs
            .iter()
            .position(|attr| aliases.kind_of(attr).is_some())
        else {
            if func.sig.ident != "router" {
                plain.push(func.sig.ident.clone());
            }
            expanded.push(item);
            continue;
        };
        let attr = func.attrs.remove(position);
        let kind = aliases.kind_of(&attr).expect("found above");
        attempted += 1;
        // Only one route attribute per function; the others are reported and removed.
        func.attrs.retain(|other| {
            if aliases.kind_of(other).is_none() {
                return true;
            }
            errors.push(syn::Error::new_spanned(
                other,
                "a function handles one route: remove this second route attribute, or write a second function",
            ));
            false
        });
        let args = match &attr.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                errors.push(syn::Error::new(
                    nv.span(),
                    "write the arguments in parentheses, e.g. `#[ws_route(\"sendMessage\")]`",
                ));
                TokenStream::new()
            }
        };
        let attr_span = attr
            .path()
            .segments
            .last()
            .map_or_else(|| attr.span(), |seg| seg.ident.span());
        match Handler::parse(kind, args, attr_span, func) {
            Ok(handler) if handler.ident == "router" => {
                errors.push(syn::Error::new_spanned(
                    &handler.ident,
                    format!(
                        "a handler in `#[ws_app]` cannot be named `router`: the module's generated `router()` has that name; rename the function (the route key `{}` stays as it is)",
                        handler.key
                    ),
                ));
                // Emitted under another name, so `app::router()` finds the stand-in below
                // and adds no error of its own.
                func.sig.ident =
                    syn::Ident::new("__lift_handler_named_router", func.sig.ident.span());
                expanded.push(item);
            }
            Ok(handler) => {
                if let Some(own) = &handler.krate {
                    errors.push(syn::Error::new_spanned(
                        own,
                        "inside `#[ws_app]`, `crate = \"...\"` goes on the app, where it applies to every handler: `#[ws_app(crate = \"...\")]`",
                    ));
                }
                let companion = handler.companion(&exports);
                expanded.push(item);
                expanded.push(Item::Verbatim(companion));
                handlers.push(handler);
            }
            Err(err) => {
                errors.push(err);
                let sanitized = crate::handler::sanitized(func);
                expanded.push(Item::Fn(sanitized));
            }
        }
    }

    check_duplicates(&handlers, &mut errors);
    crate::push::check_duplicates(&pushes, &mut errors);
    if attempted == 0 {
        errors.push(syn::Error::new(
            module.ident.span(),
            "this app has no handlers: add an `async fn` with `#[ws_route(\"key\")]`, `#[ws_connect]`, `#[ws_disconnect]` or `#[ws_default]`",
        ));
    }
    if handlers.len() > MAX_ROUTES {
        errors.push(syn::Error::new(
            module.ident.span(),
            format!(
                "this app has {} routes; API Gateway allows {MAX_ROUTES} per API by default (ask AWS for more, then split the app)",
                handlers.len()
            ),
        ));
    }
    *items = expanded;

    let name = module.ident.to_string();
    let expanded = match errors.finish() {
        Ok(()) => {
            let table = crate::doc::table(&handlers);
            let section = format!(
                "\n\n# Routes\n\nGenerated by `#[ws_app]` from the handlers of this module (see [`router`]).\n\n{table}{}",
                crate::push::doc(&pushes)
            );
            // An inner attribute: its links resolve in the module, as `router()`'s do.
            let mut doc: syn::Attribute = syn::parse_quote!(#[doc = #section]);
            doc.style = syn::AttrStyle::Inner(Default::default());
            module.attrs.push(doc);
            let router = router_fn(&handlers, &pushes, &exports, &table);
            items.push(Item::Verbatim(router));
            let probes = crate::unrouted::probes(&plain, &module.ident, &exports);
            items.push(Item::Verbatim(probes));
            quote!(#module)
        }
        Err(err) => {
            // A stand-in `router()`, so code calling it adds no error to the ones above.
            let has_router = items
                .iter()
                .any(|item| matches!(item, Item::Fn(f) if f.sig.ident == "router"));
            if !has_router {
                let router = exports.router();
                items.push(Item::Verbatim(quote! {
                    #[doc(hidden)]
                    #[allow(dead_code)]
                    pub fn router() -> #router {
                        ::core::unreachable!("this app did not compile")
                    }
                }));
            }
            let err = err.to_compile_error();
            quote!(#module #err)
        }
    };
    crate::debug::print("ws_app", &name, &expanded);
    expanded
}

/// The attributes of an item, for the kinds that can carry them.
fn item_attrs(item: &mut Item) -> Option<&mut Vec<syn::Attribute>> {
    Some(match item {
        Item::Const(i) => &mut i.attrs,
        Item::Enum(i) => &mut i.attrs,
        Item::Impl(i) => &mut i.attrs,
        Item::Mod(i) => &mut i.attrs,
        Item::Static(i) => &mut i.attrs,
        Item::Struct(i) => &mut i.attrs,
        Item::Trait(i) => &mut i.attrs,
        Item::Type(i) => &mut i.attrs,
        Item::Use(i) => &mut i.attrs,
        Item::Union(i) => &mut i.attrs,
        Item::Macro(i) => &mut i.attrs,
        _ => return None,
    })
}

/// One error per duplicate, at the duplicate, naming the first handler and its line.
/// Handlers under `#[cfg]` are left out: two of them may share a key under exclusive `cfg`s.
fn check_duplicates(handlers: &[Handler], errors: &mut Errors) {
    let mut seen: HashMap<&str, &Handler> = HashMap::new();
    for handler in handlers.iter().filter(|h| h.cfgs.is_empty()) {
        let Some(first) = seen.get(handler.key.as_str()) else {
            seen.insert(&handler.key, handler);
            continue;
        };
        let line = first.key_span.start().line;
        let at = if line > 0 {
            format!("`{}` (line {line})", first.ident)
        } else {
            format!("`{}`", first.ident)
        };
        let message = match handler.kind {
            HandlerKind::Route => format!(
                "route key `{}` is already handled by {at}; each route key has one handler: change this key, or remove one of the two",
                handler.key
            ),
            kind => format!(
                "a second `#[{}]`: {at} already handles `{}`, and an app has one; merge the two functions",
                kind.attr_name(),
                handler.key
            ),
        };
        errors.push(syn::Error::new(handler.key_span, message));
    }
}

fn router_fn(
    handlers: &[Handler],
    pushes: &[crate::push::Push],
    exports: &Exports,
    table: &str,
) -> TokenStream {
    let router = exports.router();
    let route_info = exports.route_info();
    let idents: Vec<_> = handlers.iter().map(|h| &h.ident).collect();
    let cfgs: Vec<_> = handlers.iter().map(|h| &h.cfgs).collect();
    // The table of route infos: a constant, or, when some handlers are under `#[cfg]`, built
    // once with those entries under their `cfg`.
    let routes = if handlers.iter().all(|h| h.cfgs.is_empty()) {
        quote! {
            const __LIFT_ROUTES: &[#route_info] = &[ #( #route_info::of::<#idents>() ),* ];
        }
    } else {
        quote! {
            static __LIFT_TABLE: ::std::sync::OnceLock<::std::vec::Vec<#route_info>> =
                ::std::sync::OnceLock::new();
            let __LIFT_ROUTES: &'static [#route_info] = __LIFT_TABLE.get_or_init(|| {
                let mut __lift_routes = ::std::vec::Vec::new();
                #(
                    #(#cfgs)*
                    __lift_routes.push(#route_info::of::<#idents>());
                )*
                __lift_routes
            });
        }
    };
    let pushes = if pushes.is_empty() {
        TokenStream::new()
    } else {
        let table = crate::push::table(pushes, exports);
        quote! {
            #table
            let __lift_router = __lift_router.with_pushes(__LIFT_PUSHES);
        }
    };
    let doc = format!(
        "The routing table of this app, generated by `#[ws_app]` from the handlers in this module. Pass it to `lift_runtime::App::new`.\n\n{table}"
    );
    quote! {
        #[doc = #doc]
        pub fn router() -> #router {
            #routes
            let __lift_router = #router::new(__LIFT_ROUTES);
            #pushes
            __lift_router
        }
    }
}
