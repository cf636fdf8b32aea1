//! `#[ws_middleware]`: checks a middleware's signature at compile time.
//!
//! A middleware is `async fn name(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>>`:
//! it returns what `next.run(ctx)` returned (the handler's reply, if any, or its error),
//! possibly rewritten. The
//! function is emitted unchanged (any such function can be passed to `App::middleware`); the
//! attribute adds spanned errors for the shapes that cannot work and a check, at the function's
//! name, that it satisfies the runtime's `Middleware` trait (for example that its future is
//! `Send`).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{FnArg, ItemFn, Type};

use crate::errors::Errors;
use crate::exports::Exports;
use crate::handler::{check_signature_of, sanitized};
use crate::output::{last_ident_is, type_args};

const SHAPE: &str = "async fn name(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>>";

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                format!("`#[ws_middleware]` goes on a function: `{SHAPE}`"),
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let mut errors = Errors::default();
    let krate = crate::args::crate_only(
        args,
        "ws_middleware",
        "a middleware runs for every route and takes no route key",
        "`reply` belongs on a route, not on a middleware",
        &mut errors,
    );
    check_signature_of("ws_middleware", "a middleware", &func.sig, &mut errors);
    check_inputs(&func, &mut errors);
    check_output(&func.sig, &mut errors);

    let expanded = match errors.finish() {
        Ok(()) => {
            let exports = Exports::new(krate.as_ref());
            let ws_context = exports.ws_context();
            let next = exports.next();
            let box_future = exports.box_future();
            let handler_result = exports.handler_result();
            let ident = &func.sig.ident;
            // The future boxed as `Send`, as `App::middleware` will: a middleware holding a
            // non-`Send` value across `.await` gets one error, at its name, naming the value
            // (through the `Middleware` trait the error would list its other implementors).
            let check = quote_spanned! {ident.span()=>
                #[allow(dead_code)]
                const _: () = {
                    fn __lift_check_middleware<'__lift>(
                        ctx: &'__lift mut #ws_context,
                        next: #next<'__lift>,
                    ) -> #box_future<'__lift, #handler_result> {
                        ::std::boxed::Box::pin(#ident(ctx, next))
                    }
                };
            };
            quote!(#func #check)
        }
        Err(err) => {
            let err = err.to_compile_error();
            let stand_in = stand_in(&func, &Exports::new(krate.as_ref()));
            quote!(#stand_in #err)
        }
    };
    crate::debug::print("ws_middleware", &func.sig.ident.to_string(), &expanded);
    expanded
}

/// Beside the errors: the user's function under another name (its body is still checked), and
/// under its own name a function of the middleware's shape, so `App::middleware(name)` adds
/// no error of its own to the ones that say what to fix.
fn stand_in(func: &ItemFn, exports: &Exports) -> TokenStream {
    let mut user = sanitized(func);
    let ident = func.sig.ident.clone();
    user.sig.ident = quote::format_ident!("__lift_invalid_middleware_{}", ident);
    let vis = &func.vis;
    let ws_context = exports.ws_context();
    let next = exports.next();
    let handler_result = exports.handler_result();
    quote! {
        #[allow(dead_code, non_snake_case)]
        #user
        #[allow(unused_variables, dead_code)]
        #vis async fn #ident(ctx: &mut #ws_context, next: #next<'_>) -> #handler_result {
            ::core::unreachable!("this middleware did not compile")
        }
    }
}

fn check_inputs(func: &ItemFn, errors: &mut Errors) {
    let inputs: Vec<&FnArg> = func.sig.inputs.iter().collect();
    let typed: Vec<&Type> = inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pat) => Some(&*pat.ty),
            FnArg::Receiver(receiver) => {
                errors.push(syn::Error::new_spanned(
                    receiver,
                    "a middleware cannot take `self`: make it a free `async fn`",
                ));
                None
            }
        })
        .collect();
    match typed.first() {
        None => {
            errors.push(syn::Error::new_spanned(
                &func.sig.ident,
                format!("a middleware takes the context and the rest of the chain: `{SHAPE}`"),
            ));
            return;
        }
        Some(Type::Reference(reference)) if last_ident_is(&reference.elem, "WsContext") => {
            if reference.mutability.is_none() {
                errors.push(syn::Error::new_spanned(
                    reference,
                    "a middleware takes the context as `&mut WsContext`, to pass it on with `next.run(ctx)`",
                ));
            }
        }
        Some(other) => errors.push(syn::Error::new_spanned(
            other,
            format!("the first parameter of a middleware is the context, `ctx: &mut WsContext`: `{SHAPE}`"),
        )),
    }
    match typed.get(1) {
        None => errors.push(syn::Error::new_spanned(
            &func.sig.inputs,
            format!("a middleware takes `next: Next<'_>` after the context and calls `next.run(ctx).await`: `{SHAPE}`"),
        )),
        Some(ty) if last_ident_is(ty, "Next") => {}
        Some(other) => errors.push(syn::Error::new_spanned(
            other,
            format!("the second parameter of a middleware is the rest of the chain, `next: Next<'_>`: `{SHAPE}`"),
        )),
    }
    for extra in typed.iter().skip(2) {
        errors.push(syn::Error::new_spanned(
            extra,
            "a middleware takes only the context and `Next`; read the message from the context (`ctx.body()`)",
        ));
    }
}

fn check_output(sig: &syn::Signature, errors: &mut Errors) {
    let ok = match &sig.output {
        syn::ReturnType::Default => false,
        syn::ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) => path.path.segments.last().is_some_and(|seg| {
                seg.ident == "WsResult" && first_type_arg_is(&seg.arguments, "Option")
                    || seg.ident == "HandlerResult"
                    || seg.ident == "Result" && result_args_fit(&seg.arguments)
            }),
            _ => false,
        },
    };
    if !ok {
        let message = format!(
            "a middleware returns what `next.run(ctx).await` returns, `WsResult<Option<Reply>>` (the handler's reply, if any, or its error): `{SHAPE}`"
        );
        errors.push(match &sig.output {
            syn::ReturnType::Default => syn::Error::new_spanned(&sig.ident, message),
            syn::ReturnType::Type(_, ty) => syn::Error::new_spanned(ty, message),
        });
    }
}

/// Whether `Result<..>`'s arguments can be `Option<Reply>, WsError`: both named so, or not both
/// given (an alias of the user's, such as `Result<T>`, is left to the type checker).
fn result_args_fit(arguments: &syn::PathArguments) -> bool {
    match type_args(arguments).as_slice() {
        [ok, err] => last_ident_is(ok, "Option") && last_ident_is(err, "WsError"),
        _ => true,
    }
}

/// Whether the only generic argument is a type whose path ends in `name`.
fn first_type_arg_is(arguments: &syn::PathArguments, name: &str) -> bool {
    let syn::PathArguments::AngleBracketed(args) = arguments else {
        return false;
    };
    match (args.args.len(), args.args.first()) {
        (1, Some(syn::GenericArgument::Type(ty))) => last_ident_is(ty, name),
        _ => false,
    }
}
