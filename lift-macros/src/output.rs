//! What a handler may return, checked on its signature where the mistake is plain, so the user
//! reads one sentence at the return type instead of a trait error and a list of impls. Types
//! the syntax cannot judge (a user's alias) are left to the type checker, whose error carries
//! the runtime's `HandlerOutput` hint.

use syn::{GenericArgument, PathArguments, ReturnType, Type};

use crate::errors::Errors;

/// The shapes a handler returns, for the hints.
const SHAPES: &str = "`WsResult` (nothing to send back), `WsResult<Reply>` or `WsResult<Json<T>>`";

pub fn check_output(sig: &syn::Signature, errors: &mut Errors) {
    let name = &sig.ident;
    let ty = match &sig.output {
        ReturnType::Default => {
            errors.push(syn::Error::new_spanned(
                name,
                format!("a handler returns a `WsResult`: write `async fn {name}(...) -> WsResult {{ ... Ok(()) }}`"),
            ));
            return;
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    let message = match ty {
        Type::Tuple(tuple) if tuple.elems.is_empty() => Some(
            "a handler returns a `WsResult`, so an error can reach the client as an error frame: write `-> WsResult` and end with `Ok(())`".to_owned(),
        ),
        Type::Path(path) => {
            let segments = &path.path.segments;
            let last = segments.last().expect("a path has a segment");
            match last.ident.to_string().as_str() {
                "Reply" | "Json" | "String" => Some(format!(
                    "a handler returns its reply inside a `WsResult`: write `-> WsResult<{}>` and return `Ok(...)` (one of {SHAPES})",
                    quote::ToTokens::to_token_stream(ty).to_string().replace(' ', "")
                )),
                "Result" => result_error(segments.len(), &last.arguments),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(message) = message {
        errors.push(syn::Error::new_spanned(ty, message));
    }
}

/// The complaint about a `Result` whose error is not a `WsError`, if it plainly is not.
fn result_error(segments: usize, arguments: &PathArguments) -> Option<String> {
    let args = type_args(arguments);
    let plainly_other = match args.as_slice() {
        // `Result<T, E>`: E must be `WsError`.
        [_, err] => !last_ident_is(err, "WsError"),
        // `anyhow::Result<T>`, `io::Result<T>`: another crate's alias, never `WsError`. A bare
        // `Result<T>` may be the user's own alias.
        [_] => segments > 1,
        _ => false,
    };
    plainly_other.then(|| {
        format!(
            "a handler's error is a `WsError`, which the runtime turns into the error frame the client gets: return {SHAPES}, and turn other errors into one with `.map_err(|err| WsError::internal(err.to_string()))?` (or `WsError::bad_request`, ...)"
        )
    })
}

/// The type arguments of a path segment (`Result<T, E>` → `[T, E]`).
pub fn type_args(arguments: &PathArguments) -> Vec<&Type> {
    match arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `ty` is a path whose last segment is `name`.
pub fn last_ident_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == name),
        _ => false,
    }
}
