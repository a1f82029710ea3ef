//! Families of response distributions: link functions (`link`) and the exponential
//! families' variance functions and deviances (`distribution`), with the derivatives
//! penalized IRLS and the Laplace-approximate REML need. Groundwork for issue 4: the
//! Gaussian identity fit does not use them yet.

pub mod distribution;
pub mod link;
pub mod normal;

/// A central difference of `f` at `x` with relative step `step`, for the tests'
/// finite-difference checks of the derivatives.
#[cfg(test)]
fn central(f: impl Fn(f64) -> f64, x: f64, step: f64) -> f64 {
    let h = step * x.abs().max(1e-3);
    (f(x + h) - f(x - h)) / (2.0 * h)
}
