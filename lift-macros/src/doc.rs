//! The routing table as documentation: `#[ws_app]` puts it on the generated `router()` and on
//! the app module, so `cargo doc` shows every route key, its handler, whether it replies, what
//! it reads and what it answers, and the first line of the handler's own doc comment.

use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type};

use crate::handler::{Handler, HandlerKind};

/// What `cargo doc` shows of one handler, taken from its signature and doc comment.
pub struct HandlerDoc {
    /// The first line of the handler's doc comment.
    summary: String,
    /// The body it reads: `Json<T>`'s `T`, `String`, `Vec<u8>`.
    request: Option<Type>,
    /// The `Ok` type of its `WsResult`.
    reply: Option<Type>,
    /// The function is `pub`: a link to it resolves from the module's public docs.
    public: bool,
}

impl HandlerDoc {
    pub fn new(func: &syn::ItemFn, extractors: &[Type], output: Option<&Type>) -> Self {
        let summary = func
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("doc"))
            .filter_map(|attr| match &attr.meta {
                syn::Meta::NameValue(nv) => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }) => Some(text.value()),
                    _ => None,
                },
                _ => None,
            })
            .flat_map(|text| {
                // `split`, not `lines`: an empty `///` line is an empty attribute, and ends the
                // first paragraph.
                text.split('\n')
                    .map(|line| line.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .take_while(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        HandlerDoc {
            summary,
            request: extractors.first().cloned(),
            reply: output.and_then(ok_type).cloned(),
            public: matches!(func.vis, syn::Visibility::Public(_)),
        }
    }
}

/// `WsResult<T>` / `Result<T, _>` → `T`; `WsResult` alone → none.
fn ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(Type::Tuple(unit)) if unit.elems.is_empty() => None,
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    }
}

/// The Markdown table of an app's routes.
pub fn table(handlers: &[Handler]) -> String {
    let mut out = String::from(
        "| route key | handler | kind | message | answer | |\n|---|---|---|---|---|---|\n",
    );
    for handler in handlers {
        let doc = &handler.doc;
        let name = handler.ident.to_string();
        let link = if doc.public {
            format!("[`{name}`](fn@{name})")
        } else {
            format!("`{name}`")
        };
        let kind = match handler.kind {
            HandlerKind::Connect => "connect",
            HandlerKind::Disconnect => "disconnect",
            HandlerKind::Default if handler.reply => "default, replies",
            HandlerKind::Default => "default",
            HandlerKind::Route if handler.reply => "replies",
            HandlerKind::Route => "one-way",
        };
        let message = doc.request.as_ref().map_or("—".to_owned(), body_doc);
        let answer = doc.reply.as_ref().map_or("—".to_owned(), body_doc);
        let cfg = if handler.cfgs.is_empty() {
            ""
        } else {
            " (under `#[cfg]`)"
        };
        out.push_str(&format!(
            "| `{}` | {link}{cfg} | {kind} | {message} | {answer} | {} |\n",
            handler.key,
            cell(&doc.summary)
        ));
    }
    out
}

/// A body type as the table shows it: `Json<T>` as JSON of `T` (linked when `T` is a plain
/// path), `String` as text, `Vec<u8>` as bytes, anything else as written.
fn body_doc(ty: &Type) -> String {
    if let Type::Path(path) = ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "Json" {
                if let PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(GenericArgument::Type(inner)) = args.args.first() {
                        return format!("JSON: {}", type_link(inner));
                    }
                }
            }
            if last.ident == "String" && path.path.segments.len() == 1 {
                return "text".to_owned();
            }
            if last.ident == "Reply" {
                return "`Reply` (text or JSON)".to_owned();
            }
        }
    }
    if written(ty) == "Vec<u8>" {
        return "bytes".to_owned();
    }
    format!("`{}`", cell(&written(ty)))
}

/// A type, linked when it is a plain path (no type arguments, no references; lifetimes, as in
/// a reply borrowed from the context, `WhoAmI<'_>`, are shown but not part of the link): the
/// module's own types and the ones it imports resolve from the generated items' docs.
fn type_link(ty: &Type) -> String {
    let text = written(ty);
    let Type::Path(path) = ty else {
        return format!("`{}`", cell(&text));
    };
    let lifetimes_only = |args: &PathArguments| match args {
        PathArguments::None => true,
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .all(|arg| matches!(arg, GenericArgument::Lifetime(_))),
        PathArguments::Parenthesized(_) => false,
    };
    if path.qself.is_some()
        || !path
            .path
            .segments
            .iter()
            .all(|seg| lifetimes_only(&seg.arguments))
    {
        return format!("`{}`", cell(&text));
    }
    let target = path
        .path
        .segments
        .iter()
        .map(|seg| seg.ident.to_string())
        .collect::<Vec<_>>()
        .join("::");
    let target = if path.path.leading_colon.is_some() {
        format!("::{target}")
    } else {
        target
    };
    format!("[`{}`]({target})", cell(&text))
}

/// A type as written, without the token spacing.
fn written(ty: &Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace("' ", "'")
}

/// Text fit for a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
