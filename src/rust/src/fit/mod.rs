//! Fitting a model: what is asked (`spec`), the assembled model (`design`), the
//! parameters searched (`problem`), the driver that builds, optimizes and verifies
//! (`driver`), where a search starts (`start`), and what a fit reports (`report`); the Gaussian criterion
//! (`gaussian`), generalized fits (`pirls`, `laml`, `gcv`, `glm`, `rows`), the outer
//! Newton iteration (`outer`) and the summaries (`influence`, `uncertainty`,
//! `term_tests`) below them (Wood 2017 §6.2, §6.9-6.10; Wood 2011).

mod aliasing;
pub mod cox;
pub mod gaussian;
pub mod gcv;
pub mod general;
pub mod general_laml;
pub mod glm;
pub mod influence;
pub mod laml;
pub mod mvn;
pub mod outer;
pub mod penalty;
pub mod pirls;
pub mod row_source;
pub mod rows;
pub mod size;
pub mod softmax;
pub mod term_tests;
pub mod uncertainty;

mod design;
mod driver;
mod family_search;
mod given;
mod nesting;
mod passes;
mod problem;
mod report;
mod setup;
mod spec;
mod start;

pub use design::{design, design_from, penalty_set, Design};
pub use driver::{prepare, Iterate, Prepared, Progress};
pub use passes::{gram, MAX_DESIGN_BYTES};
pub use report::{linear_predictor_of, n_family_parameters, rebuild, restore, FitResult};
pub use setup::{setup, Setup};
#[cfg(test)]
pub(crate) use spec::uniform_stream;
pub use spec::{Control, GivenStart, Method, ModelSpec, ParametricPenalty};
