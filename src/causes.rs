//! An error and its causes on one line (`what failed: why: the root cause`), as Materialize's
//! `display_with_causes` prints them: the errors of this crate say what failed and keep what
//! caused it as their `source`, and whoever logs or prints an error shows the whole chain with
//! [`Causes`]. A cause whose text its wrapper already printed is not said twice.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its causes.
pub struct Causes<'a>(pub &'a (dyn Error + 'a));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut said = self.0.to_string();
        f.write_str(&said)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !said.contains(&text) {
                write!(f, ": {text}")?;
                said = text;
            }
            next = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the tenants")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("query failed: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_once() {
        let e = Outer(Middle(std::io::Error::other("connection reset")));
        assert_eq!(
            Causes(&e).to_string(),
            "cannot read the tenants: query failed: connection reset"
        );
    }
}
