//! Families of response distributions: link functions (`link`) and the exponential
//! families' variance functions and deviances (`distribution`), with the derivatives
//! penalized IRLS and the Laplace-approximate REML need. Groundwork for issue 4: the
//! Gaussian identity fit does not use them yet.

pub mod distribution;
pub mod link;
pub mod normal;
