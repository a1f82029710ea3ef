//! The registry of basis classes. A class is one file in `basis/`: its basis type
//! with `impl RawBasis` (what a built basis does), and one `ClassEntry` per `bs` name
//! it builds (how it is built on data, and how large it can be). Both are listed
//! here, once; nothing else in the engine names a class. The recipe for a new class
//! is in `tools/notes/adding-a-class-or-family.md`.

use ndarray::Array2;

use super::bs;
use super::cc::{self, CcBasis};
use super::cp::{self, CpBasis};
use super::cr::{self, CrBasis};
use super::ds;
use super::fs::FsBasis;
use super::given::GivenBasis;
use super::gp::{self, GpBasis};
use super::mrf::{self, MrfBasis};
use super::ps::{self, PsBasis};
use super::re::{self, ReBasis};
use super::soap::{self, SoapBasis};
use super::sos::{self, SosBasis};
use super::state::{Fields, State};
use super::sz::SzBasis;
use super::tensor::TensorBasis;
use super::tp::{self, TpBasis};
use super::{rows, CHUNK_ROWS};
use crate::error::{EngineError, Result};

/// A basis built on the data: the raw (unconstrained, unscaled) columns of a term.
pub trait RawBasis: Sized {
    /// The class names this type rebuilds from a stored state (the store records the
    /// class of each term by its index in `state::CLASSES`).
    const STORED: &'static [&'static str];
    /// The stored class name of this basis.
    fn class(&self) -> &'static str;
    /// Number of covariates it takes (`None`: any, as a random effect's slopes).
    fn n_vars(&self) -> Option<usize>;
    /// Number of raw columns.
    fn width(&self) -> usize;
    /// The basis at `vars`, row-major into `out` (`rows x width()`).
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]);
    /// Adds `diag(by) X beta` to `out`. By default from the rows of `X`, formed a
    /// chunk at a time; a class that can evaluate a point's few non-zero columns
    /// directly does better.
    fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        dot_by_rows(self, vars, beta, by, out)
    }
    /// The fields that rebuild the basis (`read_state`'s input).
    fn write_state(&self, st: &mut State);
    /// The basis of stored class `class` from its fields.
    fn read_state(f: &Fields<'_>, class: &str) -> Result<Self>;
}

/// `RawBasis::dot` from the rows of `X`, formed a chunk at a time.
pub(super) fn dot_by_rows<B: RawBasis>(basis: &B, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
    let k = basis.width();
    let mut raw = vec![0.0; CHUNK_ROWS.min(out.len()) * k];
    let mut start = 0;
    while start < out.len() {
        let len = CHUNK_ROWS.min(out.len() - start);
        basis.fill_raw(&rows(vars, start, len), &mut raw[..len * k]);
        for (r, (o, row)) in out[start..start + len].iter_mut().zip(raw.chunks_exact(k)).enumerate() {
            let v: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
            *o += by.map_or(v, |b| v * b[start + r]);
        }
        start += len;
    }
}

impl<T: RawBasis> RawBasis for Box<T> {
    const STORED: &'static [&'static str] = T::STORED;
    fn class(&self) -> &'static str {
        (**self).class()
    }
    fn n_vars(&self) -> Option<usize> {
        (**self).n_vars()
    }
    fn width(&self) -> usize {
        (**self).width()
    }
    fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
        (**self).fill_raw(vars, out)
    }
    fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
        (**self).dot(vars, beta, by, out)
    }
    fn write_state(&self, st: &mut State) {
        (**self).write_state(st)
    }
    fn read_state(f: &Fields<'_>, class: &str) -> Result<Self> {
        T::read_state(f, class).map(Box::new)
    }
}

/// The `RawBasis` items of a basis of one covariate whose type has `fill_x` and
/// `dot_x` (the basis at, and its product with coefficients at, values of it).
macro_rules! one_covariate_basis {
    () => {
        fn n_vars(&self) -> Option<usize> {
            Some(1)
        }

        fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
            self.fill_x(vars[0], out)
        }

        fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
            self.dot_x(vars[0], beta, by, out)
        }
    };
}
pub(crate) use one_covariate_basis;

/// `Basis`: one variant per basis type, each call passed to its `RawBasis`.
macro_rules! basis_types {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A term's built basis, of one of the registered types.
        #[derive(Debug, Clone)]
        pub enum Basis {
            $($variant($ty),)*
        }

        impl Basis {
            pub fn class(&self) -> &'static str {
                match self { $(Basis::$variant(b) => b.class(),)* }
            }

            pub fn n_vars(&self) -> Option<usize> {
                match self { $(Basis::$variant(b) => b.n_vars(),)* }
            }

            pub fn width(&self) -> usize {
                match self { $(Basis::$variant(b) => b.width(),)* }
            }

            pub fn fill_raw(&self, vars: &[&[f64]], out: &mut [f64]) {
                match self { $(Basis::$variant(b) => b.fill_raw(vars, out),)* }
            }

            /// Adds `diag(by) X beta` to `out` (`X` the raw basis at `vars`).
            pub fn dot(&self, vars: &[&[f64]], beta: &[f64], by: Option<&[f64]>, out: &mut [f64]) {
                match self { $(Basis::$variant(b) => b.dot(vars, beta, by, out),)* }
            }

            /// The raw basis at `vars` as a matrix (`rows x width()`).
            pub fn matrix(&self, vars: &[&[f64]]) -> Array2<f64> {
                let (n, k) = (vars[0].len(), self.width());
                let mut out = vec![0.0; n * k];
                self.fill_raw(vars, &mut out);
                Array2::from_shape_vec((n, k), out).expect("row-major shape")
            }

            pub(super) fn write_state(&self, st: &mut State) {
                match self { $(Basis::$variant(b) => b.write_state(st),)* }
            }

            /// The basis of stored class `class`; `None` for a class no type rebuilds.
            pub(super) fn read_state(f: &Fields<'_>, class: &str) -> Option<Result<Basis>> {
                $(if <$ty as RawBasis>::STORED.contains(&class) {
                    return Some(<$ty as RawBasis>::read_state(f, class).map(Basis::$variant));
                })*
                None
            }

            /// Every stored class name some type rebuilds.
            #[cfg(test)]
            pub(super) fn stored_classes() -> Vec<&'static str> {
                [$(<$ty as RawBasis>::STORED,)*].concat()
            }
        }
    };
}

basis_types! {
    Cr(CrBasis),
    Cc(CcBasis),
    Cp(CpBasis),
    Ps(PsBasis),
    Tp(TpBasis),
    Gp(GpBasis),
    Mrf(MrfBasis),
    Sos(SosBasis),
    Soap(Box<SoapBasis>),
    Re(ReBasis),
    Tensor(TensorBasis),
    Fs(Box<FsBasis>),
    Sz(Box<SzBasis>),
    Given(GivenBasis),
}

/// What a class's constructor is given: the term's covariates and settings.
pub struct ClassArgs<'v> {
    pub label: &'v str,
    pub vars: &'v [&'v [f64]],
    /// Basis dimension; `None` for the class default.
    pub k: Option<usize>,
    /// Penalty/basis orders (mgcv's `m`); empty for the class default.
    pub m: &'v [usize],
    pub knots: Option<&'v [f64]>,
    /// Real-valued settings of a class (a Gaussian process's correlation function,
    /// range and power: mgcv's `m` for `gp`); empty for the default.
    pub parameters: &'v [f64],
    /// A penalty the spec gives (a Markov random field's, from its neighbours).
    pub penalty: Option<&'v Array2<f64>>,
    /// Threads the construction may use (the model's, shared among its terms).
    pub threads: usize,
}

impl ClassArgs<'_> {
    /// The covariate of a one-dimensional class.
    pub fn one_covariate(&self, bs: &str) -> Result<&[f64]> {
        match self.vars {
            [x] => Ok(x),
            _ => Err(EngineError::InvalidSpec {
                what: format!(
                    "`{}`: bs = \"{bs}\" is one-dimensional but the term has {} covariates",
                    self.label,
                    self.vars.len()
                ),
            }),
        }
    }

    /// Refuses covariates on a scale the construction cannot take, for a class that
    /// raises them to powers up to `power` (`check_scale`).
    pub fn check_scale(&self, power: usize) -> Result<()> {
        super::check_scale(self.label, self.vars, power)
    }
}

/// A class's basis built on the data, with its unscaled penalties (one for most
/// classes, one per derivative order of a `bs` spline) and, when the construction
/// forms it anyway (`tp`), the raw model matrix on the data.
pub struct Built {
    pub basis: Basis,
    pub penalties: Vec<Array2<f64>>,
    pub raw: Option<Array2<f64>>,
}

impl Built {
    /// A basis with a single penalty.
    pub fn one(basis: Basis, penalty: Array2<f64>, raw: Option<Array2<f64>>) -> Built {
        Built { basis, penalties: vec![penalty], raw }
    }

    /// The basis, its one penalty and raw matrix, for a tensor margin or a factor
    /// smooth's base, which take a single penalty (as mgcv's margins do).
    pub fn single(self, label: &str) -> Result<(Basis, Array2<f64>, Option<Array2<f64>>)> {
        let Built { basis, mut penalties, raw } = self;
        match penalties.len() {
            1 => Ok((basis, penalties.remove(0), raw)),
            n => Err(EngineError::InvalidSpec {
                what: format!("`{label}`: a margin or factor smooth base must have one penalty, not {n}"),
            }),
        }
    }
}

/// What a term's size is bounded from before it is built.
pub struct SizeArgs<'v> {
    pub k: Option<usize>,
    /// Number of covariates.
    pub dim: usize,
    pub m: &'v [usize],
    pub knots: Option<&'v [f64]>,
    /// Rows the basis is built on.
    pub rows: usize,
    /// The size of a penalty the spec gives (an mrf's regions).
    pub penalty_dim: Option<usize>,
    /// The class's real-valued settings (a soap film's grid size and boundary).
    pub parameters: &'v [f64],
}

/// One `bs` name: how its basis is built, and how large it can be.
#[derive(Debug)]
pub struct ClassEntry {
    /// mgcv's name for it (`bs = "cr"`).
    pub name: &'static str,
    /// Whether it can be a margin of `te()`/`ti()` and the base of `fs`.
    pub margin: bool,
    /// Whether its coefficients are already the function's values at points (its
    /// knots), so that a tensor margin of it needs no reparameterization to values
    /// (mgcv's `np = TRUE`).
    pub values_parameterized: bool,
    pub build: fn(&ClassArgs<'_>) -> Result<Built>,
    /// At least the columns, and at least the numbers its stored state holds.
    pub bounds: fn(&SizeArgs<'_>) -> (usize, usize),
}

/// Every `bs` name a single term can have.
pub static CLASS_ENTRIES: [&ClassEntry; 16] = [
    &cr::CR,
    &cr::CS,
    &cc::CC,
    &cp::CP,
    &ps::PS,
    &bs::BS,
    &tp::TP,
    &tp::TS,
    &ds::DS,
    &gp::GP,
    &sos::SOS,
    &soap::SO,
    &soap::SF,
    &soap::SW,
    &mrf::MRF,
    &re::RE,
];

impl ClassEntry {
    /// Whether the class's terms have no identifiability constraint (mgcv's empty
    /// `C`): a soap film's interior part, zero on the boundary.
    pub fn unconstrained(&self) -> bool {
        self.name == "sw"
    }
}

/// The class named `bs`.
pub fn class_entry(bs: &str) -> Option<&'static ClassEntry> {
    CLASS_ENTRIES.iter().copied().find(|c| c.name == bs)
}

/// The classes that can be margins, by name (for messages).
pub fn margin_names() -> Vec<&'static str> {
    CLASS_ENTRIES.iter().filter(|c| c.margin).map(|c| c.name).collect()
}

/// What kind of term a spec is: a single class, a tensor product of margins of
/// such classes, or a factor smooth interaction of a base class.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Class(&'static ClassEntry),
    /// `te()`, or `ti()` when `interaction`.
    Tensor {
        interaction: bool,
    },
    /// `s(x, g, bs = "fs")`.
    FactorSmooth,
    /// `s(g, x, bs = "sz")`.
    SumToZeroFactor,
    /// `s(x, bs = "ad")`: the base basis (or the two margins of a tensor product) in
    /// `margins`, with adaptive penalties.
    Adaptive,
    /// Built by mgcv in the R layer (`given::GivenBasis`): `SmoothSpec::given`.
    Given,
}

impl Kind {
    /// The kind named by mgcv's `bs` (`"te"`/`"ti"` for tensor products).
    pub fn parse(bs: &str) -> Option<Kind> {
        match bs {
            "te" => Some(Kind::Tensor { interaction: false }),
            "ti" => Some(Kind::Tensor { interaction: true }),
            "fs" => Some(Kind::FactorSmooth),
            "sz" => Some(Kind::SumToZeroFactor),
            "ad" => Some(Kind::Adaptive),
            "mgcv" => Some(Kind::Given),
            _ => class_entry(bs).map(Kind::Class),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Kind::Class(c) => c.name,
            Kind::Tensor { interaction: false } => "te",
            Kind::Tensor { interaction: true } => "ti",
            Kind::FactorSmooth => "fs",
            Kind::SumToZeroFactor => "sz",
            Kind::Adaptive => "ad",
            Kind::Given => "mgcv",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basis::state::CLASSES;

    /// Every stored class is rebuilt by exactly one type, and every class a type
    /// writes is in the store's append-only list.
    #[test]
    fn stored_classes_match_the_store_list() {
        let mut stored = Basis::stored_classes();
        stored.sort_unstable();
        let mut listed = CLASSES.to_vec();
        listed.sort_unstable();
        assert_eq!(stored, listed);
        for name in [
            "cr", "cs", "cc", "cp", "ps", "bs", "ds", "gp", "sos", "so", "sf", "sw", "mrf", "tp", "ts", "re", "te",
            "ti", "fs", "sz", "mgcv",
        ] {
            assert_eq!(Kind::parse(name).map(|k| k.name()), Some(name));
        }
        assert!(Kind::parse("nope").is_none());
    }
}
