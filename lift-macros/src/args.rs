//! Parsing of the attribute arguments: `#[ws_route("key", reply, crate = "path")]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Token};

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

impl Args {
    /// Parses `tokens` as the arguments of `#[attr(...)]`, whose valid options are `options`
    /// (used in the hint of an unknown-option error).
    pub fn parse(tokens: TokenStream, attr: &str, options: &[&str]) -> syn::Result<Args> {
        let parser = |input: ParseStream| parse_args(input, attr, options);
        parser.parse2(tokens)
    }
}

/// The arguments of an attribute that takes only `crate = "path"` (`ws_app`, `ws_middleware`):
/// a route key or `reply` is reported with the given messages. Errors go to `errors`.
pub fn crate_only(
    tokens: TokenStream,
    attr: &str,
    no_key: &str,
    no_reply: &str,
    errors: &mut crate::errors::Errors,
) -> Option<syn::Path> {
    match Args::parse(tokens, attr, &["crate = \"...\""]) {
        Ok(args) => {
            if let Some(key) = &args.key {
                errors.push(syn::Error::new(key.span(), no_key));
            }
            if let Some(span) = args.reply {
                errors.push(syn::Error::new(span, no_reply));
            }
            args.krate
        }
        Err(err) => {
            errors.push(err);
            None
        }
    }
}

fn valid_options(options: &[&str]) -> String {
    let list: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match list.len() {
        0 => "it takes no options".to_owned(),
        1 => format!("the only option is {}", list[0]),
        _ => format!(
            "the options are {} and {}",
            list[..list.len() - 1].join(", "),
            list[list.len() - 1]
        ),
    }
}

fn parse_args(input: ParseStream, attr: &str, options: &[&str]) -> syn::Result<Args> {
    let mut args = Args::default();
    if input.peek(LitStr) {
        args.key = Some(input.parse()?);
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    } else if input.peek(syn::Lit) {
        let lit: syn::Lit = input.parse()?;
        return Err(syn::Error::new(
            lit.span(),
            format!("the route key must be a string literal: `#[{attr}(\"sendMessage\")]`"),
        ));
    }
    while !input.is_empty() {
        if input.peek(Token![crate]) {
            let kw: Token![crate] = input.parse()?;
            input.parse::<Token![=]>().map_err(|err| {
                syn::Error::new(
                    err.span(),
                    "write `crate = \"path\"`, e.g. `crate = \"lift\"`",
                )
            })?;
            let path: LitStr = input.parse()?;
            if args.krate.is_some() {
                return Err(syn::Error::new(kw.span, "`crate` is given twice"));
            }
            args.krate = Some(path.parse()?);
        } else if input.peek(syn::Ident) {
            let ident: syn::Ident = input.parse()?;
            if ident == "reply" {
                if args.reply.is_some() {
                    return Err(syn::Error::new(ident.span(), "`reply` is given twice"));
                }
                args.reply = Some(ident.span());
            } else if ident == "key" || ident == "route" {
                return Err(syn::Error::new(
                    ident.span(),
                    format!("the route key comes first, as a plain string: `#[{attr}(\"sendMessage\")]`"),
                ));
            } else {
                return Err(syn::Error::new(
                    ident.span(),
                    format!(
                        "unknown option `{ident}` for `#[{attr}]`; {}",
                        valid_options(options)
                    ),
                ));
            }
            if input.peek(Token![=]) {
                let eq: Token![=] = input.parse()?;
                return Err(syn::Error::new(
                    eq.span,
                    format!("`{ident}` takes no value"),
                ));
            }
        } else if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            return Err(syn::Error::new(
                lit.span(),
                "only one route key per handler: each route key needs its own handler",
            ));
        } else {
            return Err(input.error(format!(
                "unexpected tokens in `#[{attr}(...)]`; {}",
                valid_options(options)
            )));
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(args)
}
