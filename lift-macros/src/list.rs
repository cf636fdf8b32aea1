//! `ws_routes![a, b::c]`: a routing table from handlers listed by path, for apps split over
//! files. Each path must name a handler (a function with a route attribute, whose companion
//! item implements the runtime's `Route`); duplicate route keys are found at compile time.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{LitStr, Path, Token};

use crate::exports::Exports;

/// Lists up to this long name both handlers of a duplicate key.
const NAMED_CLASHES: usize = 64;

struct RouteList {
    krate: Option<Path>,
    paths: Punctuated<Path, Token![,]>,
}

impl Parse for RouteList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate = None;
        if input.peek(Token![crate]) && input.peek2(Token![=]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            let path: LitStr = input.parse()?;
            krate = Some(path.parse()?);
            input.parse::<Token![;]>().map_err(|err| {
                syn::Error::new(
                    err.span(),
                    "end the option with `;`: `ws_routes![crate = \"lift\"; a, b]`",
                )
            })?;
        }
        let paths = Punctuated::parse_terminated(input).map_err(|err| {
            syn::Error::new(
                err.span(),
                "`ws_routes!` takes paths to handlers separated by commas: `ws_routes![chat::send, rooms::join]`",
            )
        })?;
        Ok(RouteList { krate, paths })
    }
}

pub fn expand(input: TokenStream) -> TokenStream {
    let list: RouteList = match syn::parse2(input) {
        Ok(list) => list,
        Err(err) => return err.to_compile_error(),
    };
    if list.paths.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "`ws_routes![]` is empty: list the handlers of the app, e.g. `ws_routes![chat::send, chat::whoami]`",
        )
        .to_compile_error();
    }
    let exports = Exports::new(list.krate.as_ref());
    let router = exports.router();
    let route_info = exports.route_info();
    let route = exports.route();
    let key_index = exports.key_index();
    let paths: Vec<&Path> = list.paths.iter().collect();

    // Every use of a path is `<path as Route>::ENTRY` at the path's span, so a path that is not
    // a handler gets one error, there, in the trait's words.
    let entries: Vec<TokenStream> = paths
        .iter()
        .map(|path| quote_spanned!(path.span()=> <#path as #route>::ENTRY))
        .collect();
    let unique = paths.iter().enumerate().skip(1).map(|(i, path)| {
        let this = &entries[i];
        let earlier = &entries[..i];
        let name = |path: &Path| quote!(#path).to_string().replace(' ', "");
        // Which earlier handler it clashes with, named, for lists of a size where one arm per
        // earlier handler is cheap; past that, the message names the duplicate alone.
        let clash = if paths.len() <= NAMED_CLASHES {
            let arms = paths[..i].iter().enumerate().map(|(j, first)| {
                let message = format!(
                    "`{}` handles the route key that `{}` handles, earlier in this `ws_routes!` list: each route key has one handler; change one key, or leave one out",
                    name(path),
                    name(first)
                );
                quote_spanned!(path.span()=> ::std::option::Option::Some(#j) => ::std::panic!(#message),)
            });
            quote_spanned! {path.span()=>
                match #key_index(#this.key, &[#(#earlier.key),*]) {
                    #(#arms)*
                    _ => {}
                }
            }
        } else {
            let message = format!(
                "`{}` handles a route key that an earlier handler in this `ws_routes!` list already handles",
                name(path)
            );
            quote_spanned! {path.span()=>
                if let ::std::option::Option::Some(_) = #key_index(#this.key, &[#(#earlier.key),*]) {
                    ::std::panic!(#message)
                }
            }
        };
        quote_spanned! {path.span()=>
            const _: () = #clash;
        }
    });
    let expanded = quote! {{
        #(#unique)*
        const __LIFT_ROUTES: &[#route_info] = &[ #(#entries),* ];
        #router::new(__LIFT_ROUTES)
    }};
    crate::debug::print("ws_routes", "ws_routes", &expanded);
    expanded
}
