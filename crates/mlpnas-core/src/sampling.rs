//! Sampling helpers every controller can share: uniform draws over the valid sequences of a
//! space (weighted by completion counts) and exhaustive enumeration.

use rand::Rng;

use crate::error::ControllerError;
use crate::space::{SearchSpace, TokenId};

/// Whether `prefix` is a complete sequence ([`SearchSpace::is_complete`]).
pub fn is_complete(space: &dyn SearchSpace, prefix: &[TokenId]) -> bool {
    space.is_complete(prefix)
}

/// One sequence drawn uniformly among the valid sequences of `space`: each next token is chosen
/// with probability proportional to its number of completions.
pub fn sample_uniform<R: Rng + ?Sized>(space: &dyn SearchSpace, rng: &mut R) -> Result<Vec<TokenId>, ControllerError> {
    let mut prefix: Vec<TokenId> = Vec::with_capacity(space.max_len());
    while !is_complete(space, &prefix) {
        let mut weighted: Vec<(TokenId, u128)> = Vec::new();
        let mut total: u128 = 0;
        for t in space.allowed_next(&prefix) {
            prefix.push(t);
            let w = space.completions(&prefix);
            prefix.pop();
            if w > 0 {
                total = total.saturating_add(w);
                weighted.push((t, w));
            }
        }
        if total == 0 {
            return Err(ControllerError::Other(format!("the search space has no valid sequence extending {prefix:?}")));
        }
        let mut r = rng.random_range(0..total);
        let mut chosen = None;
        for &(t, w) in &weighted {
            if r < w {
                chosen = Some(t);
                break;
            }
            r -= w;
        }
        // `chosen` is only `None` when the total saturated at `u128::MAX`: take the last token.
        let Some(t) = chosen.or_else(|| weighted.last().map(|&(t, _)| t)) else {
            return Err(ControllerError::Other(format!("no token to draw after {prefix:?}")));
        };
        prefix.push(t);
    }
    Ok(prefix)
}

/// Every valid sequence of `space`, in depth-first (token id) order.
pub fn enumerate(space: &dyn SearchSpace) -> Vec<Vec<TokenId>> {
    fn walk(space: &dyn SearchSpace, prefix: &mut Vec<TokenId>, out: &mut Vec<Vec<TokenId>>) {
        if is_complete(space, prefix) {
            out.push(prefix.clone());
            return;
        }
        for t in space.allowed_next(prefix) {
            prefix.push(t);
            if space.completions(prefix) > 0 {
                walk(space, prefix, out);
            }
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    walk(space, &mut Vec::with_capacity(space.max_len()), &mut out);
    out
}
