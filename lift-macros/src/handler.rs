//! One expander for the handler family: `ws_route`, `ws_connect`, `ws_disconnect`, `ws_default`.
//!
//! Shaped as parse → check → generate: [`Handler::parse`] builds the model and collects every
//! error it finds, [`Handler::companion`] emits the item that plugs the user's function into
//! the runtime. The user's function itself is always emitted unchanged.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, Type};

use crate::args::Args;
use crate::errors::Errors;
use crate::exports::Exports;

/// Which attribute of the family is being expanded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HandlerKind {
    Route,
    Connect,
    Disconnect,
    Default,
}

impl HandlerKind {
    pub const ALL: [HandlerKind; 4] = [
        HandlerKind::Route,
        HandlerKind::Connect,
        HandlerKind::Disconnect,
        HandlerKind::Default,
    ];

    pub fn attr_name(self) -> &'static str {
        match self {
            HandlerKind::Route => "ws_route",
            HandlerKind::Connect => "ws_connect",
            HandlerKind::Disconnect => "ws_disconnect",
            HandlerKind::Default => "ws_default",
        }
    }

    /// The attribute of this family that `attr` is, judged by the last segment of its path.
    pub fn of_attr(attr: &syn::Attribute) -> Option<HandlerKind> {
        let last = attr.path().segments.last()?;
        HandlerKind::ALL
            .into_iter()
            .find(|kind| last.ident == kind.attr_name())
    }

    /// The reserved route key of the special routes.
    fn fixed_key(self) -> Option<&'static str> {
        match self {
            HandlerKind::Route => None,
            HandlerKind::Connect => Some("$connect"),
            HandlerKind::Disconnect => Some("$disconnect"),
            HandlerKind::Default => Some("$default"),
        }
    }

    fn runtime_kind(self) -> &'static str {
        match self {
            HandlerKind::Route => "Message",
            HandlerKind::Connect => "Connect",
            HandlerKind::Disconnect => "Disconnect",
            HandlerKind::Default => "Default",
        }
    }
}

/// How the handler takes the request context.
#[derive(Clone, Copy)]
enum ContextParam {
    None,
    Shared,
    Mut,
}

/// The model of one handler, checked.
pub struct Handler {
    pub kind: HandlerKind,
    /// The route key (`$connect` etc. for the special routes).
    pub key: String,
    /// Where the key was written (the attribute's literal, or the attribute itself).
    pub key_span: Span,
    pub reply: bool,
    pub krate: Option<syn::Path>,
    pub ident: syn::Ident,
    vis: syn::Visibility,
    context: ContextParam,
    extractors: Vec<Type>,
    output: Option<Type>,
}

impl Handler {
    /// Parses and checks a handler; `attr_span` is where the attribute was written.
    pub fn parse(
        kind: HandlerKind,
        args: TokenStream,
        attr_span: Span,
        func: &ItemFn,
    ) -> Result<Handler, syn::Error> {
        let mut errors = Errors::default();
        let args: Args = match syn::parse2(args) {
            Ok(args) => args,
            Err(err) => {
                errors.push(err);
                Args::default()
            }
        };

        let (key, key_span) = match (kind.fixed_key(), &args.key) {
            (None, Some(lit)) => {
                check_key(lit, &mut errors);
                (lit.value(), lit.span())
            }
            (None, None) => {
                errors.push(syn::Error::new(
                    attr_span,
                    "`#[ws_route]` needs a route key, e.g. `#[ws_route(\"sendMessage\")]`",
                ));
                (String::new(), attr_span)
            }
            (Some(fixed), Some(lit)) => {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!(
                        "`#[{}]` takes no route key: it handles the `{fixed}` route",
                        kind.attr_name()
                    ),
                ));
                (fixed.to_owned(), attr_span)
            }
            (Some(fixed), None) => (fixed.to_owned(), attr_span),
        };
        if let (Some(span), HandlerKind::Connect | HandlerKind::Disconnect) = (args.reply, kind) {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`reply` has no meaning on `#[{}]`: API Gateway sends nothing back on `{key}`",
                    kind.attr_name()
                ),
            ));
        }

        let sig = &func.sig;
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span,
                format!(
                    "a `#[{}]` handler must be an `async fn`: write `async fn {}(...)`",
                    kind.attr_name(),
                    sig.ident
                ),
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(syn::Error::new_spanned(
                &sig.generics,
                "handlers cannot be generic: the routing table calls them with concrete types",
            ));
        }

        let mut context = ContextParam::None;
        let mut extractors = Vec::new();
        for (index, input) in sig.inputs.iter().enumerate() {
            let pat_type = match input {
                FnArg::Receiver(receiver) => {
                    errors.push(syn::Error::new_spanned(
                        receiver,
                        "handlers cannot take `self`: write a free `async fn` inside the module",
                    ));
                    continue;
                }
                FnArg::Typed(pat_type) => pat_type,
            };
            match context_param(&pat_type.ty) {
                Some(Ok(found)) if index == 0 => context = found,
                Some(Ok(_)) => errors.push(syn::Error::new_spanned(
                    &pat_type.ty,
                    "the context must be the first parameter: `ctx: &WsContext` (or `&mut WsContext`), then the extractors",
                )),
                Some(Err(err)) => errors.push(err),
                None => {
                    if let Pat::Ident(pat) = &*pat_type.pat {
                        if pat.by_ref.is_some() {
                            errors.push(syn::Error::new_spanned(
                                pat,
                                "`ref` bindings are not supported in handler parameters",
                            ));
                        }
                    }
                    extractors.push((*pat_type.ty).clone());
                }
            }
        }
        let output = match &sig.output {
            syn::ReturnType::Default => None,
            syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
        };

        errors.finish()?;
        Ok(Handler {
            kind,
            key,
            key_span,
            reply: args.reply.is_some(),
            krate: args.krate,
            ident: sig.ident.clone(),
            vis: func.vis.clone(),
            context,
            extractors,
            output,
        })
    }

    /// The companion item: a braced struct named like the function (it lives in the type
    /// namespace only, so the function stays callable) implementing the runtime's `Route`.
    pub fn companion(&self, exports: &Exports) -> TokenStream {
        let Handler {
            ident, vis, key, ..
        } = self;
        let route = exports.item("Route");
        let ws_context = exports.item("WsContext");
        let box_future = exports.item("BoxFuture");
        let handler_result = exports.item("HandlerResult");
        let from_message = exports.item("FromMessage");
        let into_outcome = exports.item("into_outcome");
        let route_kind = exports.item("RouteKind");
        let kind = syn::Ident::new(self.kind.runtime_kind(), Span::call_site());
        let reply = self.reply;

        let arg_idents: Vec<syn::Ident> = (0..self.extractors.len())
            .map(|i| quote::format_ident!("__lift_arg{}", i))
            .collect();
        let extract = self.extractors.iter().zip(&arg_idents).map(|(ty, arg)| {
            quote_spanned! {ty.span()=>
                let #arg = <#ty as #from_message>::from_message(&*__lift_ctx)?;
            }
        });
        let ctx_arg = match self.context {
            ContextParam::None => quote!(),
            ContextParam::Shared => quote!(&*__lift_ctx,),
            ContextParam::Mut => quote!(&mut *__lift_ctx,),
        };
        let output_span = self
            .output
            .as_ref()
            .map_or_else(|| self.ident.span(), |ty| ty.span());
        let convert = quote_spanned! {output_span=>
            #into_outcome(__lift_output)
        };
        let doc = format!(
            "Routing entry of the handler [`{ident}()`]({ident}()) for the route key `{key}`."
        );
        quote! {
            #[doc = #doc]
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #ident {}

            impl #route for #ident {
                const KEY: &'static str = #key;
                const KIND: #route_kind = #route_kind::#kind;
                const REPLY: bool = #reply;

                fn call<'__lift>(__lift_ctx: &'__lift mut #ws_context) -> #box_future<'__lift, #handler_result> {
                    ::std::boxed::Box::pin(async move {
                        #(#extract)*
                        let __lift_output = #ident(#ctx_arg #(#arg_idents),*).await;
                        #convert
                    })
                }
            }
        }
    }
}

/// `Some` when the type is the context: `&WsContext` or `&mut WsContext` (any path ending in
/// `WsContext`); an error when it is the context taken the wrong way.
fn context_param(ty: &Type) -> Option<Result<ContextParam, syn::Error>> {
    fn is_context(ty: &Type) -> bool {
        match ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|seg| seg.ident == "WsContext"),
            Type::Paren(inner) => is_context(&inner.elem),
            _ => false,
        }
    }
    match ty {
        Type::Reference(reference) if is_context(&reference.elem) => {
            Some(Ok(if reference.mutability.is_some() {
                ContextParam::Mut
            } else {
                ContextParam::Shared
            }))
        }
        ty if is_context(ty) => Some(Err(syn::Error::new_spanned(
            ty,
            "take the context by reference: `ctx: &WsContext` or `ctx: &mut WsContext`",
        ))),
        _ => None,
    }
}

/// Checks a `ws_route` key: not empty, not reserved.
fn check_key(lit: &LitStr, errors: &mut Errors) {
    let key = lit.value();
    if key.is_empty() {
        errors.push(syn::Error::new(
            lit.span(),
            "the route key is empty: API Gateway selects a route by a non-empty key, e.g. `#[ws_route(\"sendMessage\")]`",
        ));
    } else if key.starts_with('$') {
        let hint = match key.as_str() {
            "$connect" => "use `#[ws_connect]` for `$connect`",
            "$disconnect" => "use `#[ws_disconnect]` for `$disconnect`",
            "$default" => "use `#[ws_default]` for `$default`",
            _ => {
                "use `#[ws_connect]`, `#[ws_disconnect]` or `#[ws_default]` for the special routes"
            }
        };
        errors.push(syn::Error::new(
            lit.span(),
            format!("route keys starting with `$` are reserved by API Gateway; {hint}"),
        ));
    }
}

/// The standalone attribute: the function unchanged, then its companion or the errors.
pub fn attribute(kind: HandlerKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                format!("`#[{}]` goes on an `async fn`", kind.attr_name()),
            );
            let err = err.to_compile_error();
            return quote!(#err #item);
        }
    };
    match Handler::parse(kind, args, Span::call_site(), &func) {
        Ok(handler) => {
            let companion = handler.companion(&Exports::new(handler.krate.as_ref()));
            quote!(#func #companion)
        }
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#func #err)
        }
    }
}
