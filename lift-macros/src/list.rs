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
    /// `; push: a::Frame, b::Other`: the frames the app pushes.
    pushes: Vec<Path>,
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
        let hint = |err: syn::Error| {
            syn::Error::new(
                err.span(),
                "`ws_routes!` takes paths to handlers separated by commas, then the pushed frames: `ws_routes![chat::send, rooms::join; push: chat::Message]`",
            )
        };
        let mut paths = Punctuated::new();
        while !input.is_empty() && !input.peek(Token![;]) {
            paths.push_value(input.parse::<Path>().map_err(hint)?);
            if !input.peek(Token![,]) {
                break;
            }
            paths.push_punct(input.parse::<Token![,]>()?);
        }
        let mut pushes = Vec::new();
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            let keyword: syn::Ident = input.parse().map_err(hint)?;
            if keyword != "push" {
                return Err(syn::Error::new(
                    keyword.span(),
                    "after `;`, list the frames the app pushes (declared with `#[ws_push(\"type\")]`): `ws_routes![a, b; push: Message, Typing]`",
                ));
            }
            input.parse::<Token![:]>()?;
            let list = Punctuated::<Path, Token![,]>::parse_terminated(input).map_err(hint)?;
            pushes = list.into_iter().collect();
        }
        if !input.is_empty() {
            return Err(hint(input.error("unexpected")));
        }
        Ok(RouteList {
            krate,
            paths,
            pushes,
        })
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
                if #key_index(#this.key, &[#(#earlier.key),*]).is_some() {
                    ::std::panic!(#message)
                }
            }
        };
        quote_spanned! {path.span()=>
            const _: () = #clash;
        }
    });
    let pushes = pushes_of(&list.pushes, &exports);
    let expanded = quote! {{
        #(#unique)*
        const __LIFT_ROUTES: &[#route_info] = &[ #(#entries),* ];
        #router::new(__LIFT_ROUTES) #pushes
    }};
    crate::debug::print("ws_routes", "ws_routes", &expanded);
    expanded
}

/// `.with_pushes(...)` for the listed frames (nothing without any): each `<path as Push>::INFO`
/// at its path, so a type not declared with `#[ws_push]` is one error there; two frames with one
/// `"type"` are a compile-time error at the second.
fn pushes_of(paths: &[Path], exports: &Exports) -> TokenStream {
    if paths.is_empty() {
        return TokenStream::new();
    }
    let push = exports.push();
    let push_info = exports.push_info();
    let key_index = exports.key_index();
    let entries: Vec<TokenStream> = paths
        .iter()
        .map(|path| quote_spanned!(path.span()=> <#path as #push>::INFO))
        .collect();
    let unique = paths.iter().enumerate().skip(1).map(|(i, path)| {
        let this = &entries[i];
        let earlier = &entries[..i];
        let message = format!(
            "`{}` has the `\"type\"` of a frame earlier in this `ws_routes!` list: a client tells frames apart by their type, so each has its own",
            quote!(#path).to_string().replace(' ', "")
        );
        quote_spanned! {path.span()=>
            const _: () = if #key_index(#this.tag, &[#(#earlier.tag),*]).is_some() {
                ::std::panic!(#message)
            };
        }
    });
    quote! {
        .with_pushes({
            #(#unique)*
            const __LIFT_PUSHES: &[#push_info] = &[ #(#entries),* ];
            __LIFT_PUSHES
        })
    }
}
