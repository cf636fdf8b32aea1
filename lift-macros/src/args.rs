//! Parsing of the attribute arguments: `#[ws_route("key", reply, crate = "path")]`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

mod kw {
    syn::custom_keyword!(reply);
}

/// The arguments of a handler attribute, before they are checked against its kind.
#[derive(Default)]
pub struct Args {
    /// The route key, when one was given (only `ws_route` takes one).
    pub key: Option<LitStr>,
    /// `reply` was given: the route is a two-way route.
    pub reply: Option<Span>,
    /// `crate = "path"`: where the runtime crate is, for users who renamed it.
    pub krate: Option<syn::Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        if input.peek(LitStr) {
            args.key = Some(input.parse()?);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::reply) {
                let kw: kw::reply = input.parse()?;
                if args.reply.is_some() {
                    return Err(syn::Error::new(kw.span, "`reply` is given twice"));
                }
                args.reply = Some(kw.span);
            } else if lookahead.peek(Token![crate]) {
                let kw: Token![crate] = input.parse()?;
                input.parse::<Token![=]>()?;
                let path: LitStr = input.parse()?;
                if args.krate.is_some() {
                    return Err(syn::Error::new(kw.span, "`crate` is given twice"));
                }
                args.krate = Some(path.parse()?);
            } else if input.peek(syn::Lit) {
                let lit: syn::Lit = input.parse()?;
                return Err(syn::Error::new(
                    lit.span(),
                    "the route key must be a string literal and come first, e.g. `#[ws_route(\"sendMessage\")]`",
                ));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}
