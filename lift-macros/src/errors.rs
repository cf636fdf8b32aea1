//! Error collection: report every problem at once, not only the first (serde's `Ctxt`).

/// Errors found so far; combined into one `syn::Error` at the end.
#[derive(Default)]
pub struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, err: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(err),
            None => self.first = Some(err),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        match self.first {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}
