//! The R binding: the only module that touches extendr. It converts the R layer's spec
//! lists into engine types, runs the engine, and returns plain R lists; every engine
//! error becomes an R error here.

pub mod basis;
pub mod cache;
pub mod error;
pub mod family;
pub mod fit;
pub mod lanczos;
pub mod linalg;
pub mod vector_math;
pub mod warm;
pub mod warm_general;

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::raw::c_void;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use extendr_api::prelude::*;
use extendr_api::Result;
use std::borrow::Cow;

use ndarray::{Array2, ArrayView2, CowArray, ShapeBuilder};

use basis::{Smooth, SmoothSpec, State};
use cache::key::ModelIdentity;
use cache::store::{StoreLimits, WarmStartStore};
use fit::term_tests::TermTest;
use fit::Method;
use fit::{Control, ModelSpec};
use warm::CacheSettings;

/// An error carrying `msg`. Entry points hand it to R as `list(error = msg)` (see
/// `value_or_error`), never as an extendr `Err`, so no `%` escaping is needed here.
fn r_error(msg: impl std::fmt::Display) -> Error {
    Error::Other(msg.to_string())
}

/// Named fields of an R list.
struct Fields(HashMap<String, Robj>);

impl Fields {
    fn new(list: &List) -> Fields {
        Fields(list.iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn get(&self, name: &str) -> Result<&Robj> {
        self.0.get(name).ok_or_else(|| r_error(format!("internal: spec lacks `{name}`")))
    }

    fn is_null(&self, name: &str) -> bool {
        self.0.get(name).is_none_or(|r| r.is_null())
    }

    fn reals(&self, name: &str) -> Result<Vec<f64>> {
        self.get(name)?
            .as_real_slice()
            .map(|s| s.to_vec())
            .ok_or_else(|| r_error(format!("internal: `{name}` must be a double vector")))
    }

    fn real(&self, name: &str) -> Result<f64> {
        self.get(name)?.as_real().ok_or_else(|| r_error(format!("internal: `{name}` must be a number")))
    }

    fn string(&self, name: &str) -> Result<String> {
        self.get(name)?
            .as_str()
            .map(|s| s.to_string())
            .ok_or_else(|| r_error(format!("internal: `{name}` must be a string")))
    }

    fn flag(&self, name: &str) -> Result<bool> {
        self.get(name)?.as_bool().ok_or_else(|| r_error(format!("internal: `{name}` must be TRUE or FALSE")))
    }

    fn list(&self, name: &str) -> Result<List> {
        self.get(name)?.as_list().ok_or_else(|| r_error(format!("internal: `{name}` must be a list")))
    }

    /// A double matrix borrowed from R (column-major), without copying.
    fn matrix(&self, name: &str) -> Result<ArrayView2<'_, f64>> {
        view_matrix(self.get(name)?, name)
    }
}

/// A double matrix from R, viewed without a copy (column-major).
fn view_matrix<'r>(robj: &'r Robj, name: &str) -> Result<ArrayView2<'r, f64>> {
    let data = robj.as_real_slice().ok_or_else(|| r_error(format!("internal: `{name}` must be a double matrix")))?;
    let dim = robj.dim().ok_or_else(|| r_error(format!("internal: `{name}` must be a matrix")))?;
    let (n, p) = (dim[0].0 as usize, dim[1].0 as usize);
    ArrayView2::from_shape((n, p).f(), data).map_err(|_| r_error(format!("internal: `{name}` has a bad shape")))
}

fn to_matrix(a: &Array2<f64>) -> Robj {
    RMatrix::new_matrix(a.nrows(), a.ncols(), |r, c| a[(r, c)]).into()
}

/// The R objects a spec borrows its data from, held for as long as the spec lives.
struct SpecObjects {
    top: Fields,
    control: Fields,
    /// Per smooth term: its fields and its covariate vectors.
    smooths: Vec<(Fields, Vec<Robj>)>,
    /// Columns of ones and of zeros at least as long as the data, standing in for
    /// weights, offset and intercept the R layer leaves out (`NULL`).
    ones: Rc<Vec<f64>>,
    zeros: Rc<Vec<f64>>,
}

/// Shared columns of ones and of zeros.
type ConstantColumns = (Rc<Vec<f64>>, Rc<Vec<f64>>);

thread_local! {
    /// Reused from fit to fit: filling fresh vectors of the data's length with ones
    /// costs an exact store hit a noticeable share of its time.
    static CONSTANT_COLUMNS: RefCell<ConstantColumns> = RefCell::new(Default::default());
}

/// Shared columns of ones and zeros of length `n` or more.
fn constant_columns(n: usize) -> ConstantColumns {
    CONSTANT_COLUMNS.with(|c| {
        let mut c = c.borrow_mut();
        if c.0.len() < n {
            *c = (Rc::new(vec![1.0; n]), Rc::new(vec![0.0; n]));
        }
        (c.0.clone(), c.1.clone())
    })
}

impl SpecObjects {
    fn new(spec: &List) -> Result<SpecObjects> {
        let top = Fields::new(spec);
        let control = Fields::new(&top.list("control")?);
        let smooths = top
            .list("smooths")?
            .values()
            .map(|s| {
                let list = s.as_list().ok_or_else(|| r_error("internal: smooth spec must be a list"))?;
                let fields = Fields::new(&list);
                let vars = fields.list("vars")?.values().collect();
                Ok((fields, vars))
            })
            .collect::<Result<Vec<_>>>()?;
        let (ones, zeros) = constant_columns(top.get("y")?.len());
        Ok(SpecObjects { top, control, smooths, ones, zeros })
    }
}

/// A double vector borrowed from R, without copying.
fn doubles<'a>(robj: &'a Robj, what: &str) -> Result<Cow<'a, [f64]>> {
    robj.as_real_slice()
        .map(Cow::Borrowed)
        .ok_or_else(|| r_error(format!("internal: `{what}` must be a double vector")))
}

fn smooth_spec<'a>(f: &'a Fields, vars: &'a [Robj]) -> Result<SmoothSpec<'a>> {
    let k = basis_dimension(f)?;
    Ok(SmoothSpec {
        label: f.string("label")?,
        kind: {
            let bs = f.string("bs")?;
            basis::Kind::parse(&bs).ok_or_else(|| r_error(format!("internal: unknown basis \"{bs}\"")))?
        },
        k,
        vars: vars.iter().map(|v| doubles(v, "covariate")).collect::<Result<_>>()?,
        by: if f.is_null("by") { None } else { Some(doubles(f.get("by")?, "by")?) },
        centre: f.flag("centre")?,
        knots: if f.is_null("knots") { None } else { Some(f.reals("knots")?) },
        knots_sampled: f.flag("knots_sampled")?,
        knots_sample: if f.is_null("knots_sample") { None } else { Some(f.reals("knots_sample")?) },
        knots_pending: !f.is_null("knots_pending") && f.flag("knots_pending")?,
        m: if f.is_null("m") { Vec::new() } else { f.reals("m")?.iter().map(|v| *v as usize).collect() },
        parameters: if f.is_null("parameters") { Vec::new() } else { f.reals("parameters")? },
        penalty: if f.is_null("penalty") { None } else { Some(f.matrix("penalty")?.to_owned()) },
        select: f.flag("select")?,
        id: if f.is_null("id") { None } else { Some(f.string("id")?) },
        margins: if f.is_null("margins") { Vec::new() } else { margin_specs(f.get("margins")?)? },
        pooled: if f.is_null("pooled") {
            None
        } else {
            let list = f.get("pooled")?.as_list().ok_or_else(|| r_error("internal: `pooled` must be a list"))?;
            Some(
                list.values()
                    .map(|v| {
                        v.as_real_slice()
                            .map(|s| Cow::Owned(s.to_vec()))
                            .ok_or_else(|| r_error("internal: pooled covariates must be doubles"))
                    })
                    .collect::<Result<_>>()?,
            )
        },
        side: if f.is_null("side") { None } else { Some(side_spec(f.get("side")?)?) },
        fixed: !f.is_null("fixed") && f.flag("fixed")?,
        point: if f.is_null("point") { None } else { Some(f.reals("point")?) },
        sp: if f.is_null("sp") {
            Vec::new()
        } else {
            f.reals("sp")?.into_iter().map(|v| (v.is_finite() && v >= 0.0).then_some(v)).collect()
        },
        given: if f.is_null("given_x") {
            None
        } else {
            let penalties = f.get("given_s")?.as_list().ok_or_else(|| r_error("internal: `given_s` must be a list"))?;
            Some(basis::Given {
                x: f.matrix("given_x")?.to_owned(),
                penalties: penalties
                    .values()
                    .map(|s| view_matrix(&s, "given_s").map(|v| v.to_owned()))
                    .collect::<Result<_>>()?,
            })
        },
    })
}

/// A nested term's `side`: `list(lower = <0-based term indices>, constant = <flag>,
/// delete = <0-based columns or NULL>)`.
fn side_spec(robj: &Robj) -> Result<basis::Side> {
    let list = robj.as_list().ok_or_else(|| r_error("internal: `side` must be a list"))?;
    let f = Fields::new(&list);
    let indices = |name: &str| -> Result<Vec<usize>> {
        let v = if f.is_null(name) { Vec::new() } else { f.reals(name)? };
        if v.iter().any(|v| v.fract() != 0.0 || *v < 0.0) {
            return Err(r_error(format!("internal: `side${name}` must hold 0-based indices")));
        }
        Ok(v.iter().map(|v| *v as usize).collect())
    };
    Ok(basis::Side { lower: indices("lower")?, constant: f.flag("constant")?, delete: indices("delete")? })
}

/// A term's `k`: `NULL` for the class default, else a positive whole number.
fn basis_dimension(f: &Fields) -> Result<Option<usize>> {
    if f.is_null("k") {
        return Ok(None);
    }
    match f.real("k")? {
        k if k >= 1.0 && k.fract() == 0.0 && k < 1e9 => Ok(Some(k as usize)),
        k => Err(r_error(format!("internal: `k` must be a positive whole number, not {k}"))),
    }
}

/// A tensor product's margins: a list of `list(bs, k, dim, m, knots, knots_sampled)`.
fn margin_specs(robj: &Robj) -> Result<Vec<basis::tensor::MarginSpec>> {
    let list = robj.as_list().ok_or_else(|| r_error("internal: `margins` must be a list"))?;
    list.values()
        .map(|m| {
            let m = m.as_list().ok_or_else(|| r_error("internal: a margin must be a list"))?;
            let f = Fields::new(&m);
            let k = basis_dimension(&f)?;
            Ok(basis::tensor::MarginSpec {
                class: {
                    let bs = f.string("bs")?;
                    basis::class_entry(&bs).ok_or_else(|| r_error(format!("internal: unknown basis \"{bs}\"")))?
                },
                k,
                dim: f.real("dim")? as usize,
                m: if f.is_null("m") { Vec::new() } else { f.reals("m")?.iter().map(|v| *v as usize).collect() },
                knots: if f.is_null("knots") { None } else { Some(f.reals("knots")?) },
                knots_sampled: f.flag("knots_sampled")?,
                penalty: if f.is_null("penalty") { None } else { Some(f.matrix("penalty")?.to_owned()) },
                parameters: if f.is_null("parameters") { Vec::new() } else { f.reals("parameters")? },
            })
        })
        .collect()
}

fn model_spec(objects: &SpecObjects) -> Result<ModelSpec<'_>> {
    let f = &objects.top;
    let smooths = objects.smooths.iter().map(|(fields, vars)| smooth_spec(fields, vars)).collect::<Result<Vec<_>>>()?;
    let method = f.string("method")?;
    let method = Method::parse(&method).ok_or_else(|| r_error(format!("unknown method \"{method}\"")))?;
    let sp = if f.is_null("sp") {
        Vec::new()
    } else {
        f.reals("sp")?.into_iter().map(|v| if v.is_finite() && v >= 0.0 { Some(v) } else { None }).collect()
    };
    let control = &objects.control;
    let n = f.get("y")?.len();
    let (family, link, variance) = (f.string("family")?, f.string("link")?, f.string("variance")?);
    // The family's parameters, for a family with them, are in their own fields (`theta`).
    let mut parameters = Vec::new();
    for field in family::Family::parameter_fields(&family) {
        parameters.extend(f.reals(field)?);
    }
    let mut family = family::Family::from_r(&family, &link, &variance, &parameters)
        .ok_or_else(|| r_error(format!("family `{family}` with link `{link}` is not supported")))?;
    if !f.is_null("known_scale") {
        let scale = f.real("known_scale")?;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(r_error("internal: `known_scale` must be a positive number"));
        }
        family.given_scale = Some(scale);
    }
    Ok(ModelSpec {
        y: doubles(f.get("y")?, "y")?,
        censor: if f.is_null("censor") { None } else { Some(doubles(f.get("censor")?, "censor")?) },
        // `NULL`: unit weights, no offset.
        weights: if f.is_null("weights") {
            Cow::Borrowed(&objects.ones[..n])
        } else {
            doubles(f.get("weights")?, "weights")?
        },
        offset: if f.is_null("offset") {
            Cow::Borrowed(&objects.zeros[..n])
        } else {
            doubles(f.get("offset")?, "offset")?
        },
        // `NULL`: the intercept alone, a column of ones.
        xp: if f.is_null("xp") {
            CowArray::from(
                ArrayView2::from_shape((n, 1).f(), &objects.ones[..n])
                    .map_err(|_| r_error("internal: intercept column"))?,
            )
        } else {
            CowArray::from(f.matrix("xp")?)
        },
        smooths,
        family,
        method,
        gamma: f.real("gamma")?,
        sp,
        min_sp: if f.is_null("min_sp") { Vec::new() } else { f.reals("min_sp")? },
        control: Control {
            tol: control.real("outer_tol")?,
            max_iter: control.real("outer_max_iter")? as usize,
            max_step: control.real("max_step")?,
        },
        threads: f.real("threads")?.max(1.0) as usize,
        intercept: f.flag("intercept")?,
        estimate_parameter: !f.is_null("estimate_parameter") && f.flag("estimate_parameter")?,
        check_aliasing: f.is_null("check_aliasing") || f.flag("check_aliasing")?,
        aliased: if f.is_null("aliased") { 0 } else { f.real("aliased")? as usize },
        start: if f.is_null("in_out_sp") {
            None
        } else {
            Some(fit::GivenStart {
                log_sp: f.reals("in_out_sp")?.iter().map(|v| v.ln()).collect(),
                log_scale: if f.is_null("in_out_scale") { None } else { Some(f.real("in_out_scale")?.ln()) },
            })
        },
        parametric_penalties: if f.is_null("para_pen") {
            Vec::new()
        } else {
            parametric_penalties(f.get("para_pen")?)?
        },
    })
}

/// `paraPen` as the R layer gives it: a list of `list(start = <0-based column>, S =
/// <matrix>, sp = <negative to estimate>)`.
fn parametric_penalties(robj: &Robj) -> Result<Vec<fit::ParametricPenalty>> {
    let list = robj.as_list().ok_or_else(|| r_error("internal: `para_pen` must be a list"))?;
    list.values()
        .map(|p| {
            let p = p.as_list().ok_or_else(|| r_error("internal: a parametric penalty must be a list"))?;
            let f = Fields::new(&p);
            let sp = f.real("sp")?;
            Ok(fit::ParametricPenalty {
                start: f.real("start")? as usize,
                s: f.matrix("S")?.to_owned(),
                sp: (sp.is_finite() && sp >= 0.0).then_some(sp),
            })
        })
        .collect()
}

/// The store settings and the model's identity (`spec$cache`; `NULL` bypasses the store).
fn cache_settings(spec: &List) -> Result<(Option<CacheSettings>, ModelIdentity)> {
    let f = Fields::new(spec);
    if f.is_null("cache") {
        return Ok((None, ModelIdentity::default()));
    }
    let c = Fields::new(&f.list("cache")?);
    let names = c.get("names")?;
    let parametric_names = names.as_str_iter().map(|it| it.map(|s| s.to_string()).collect()).unwrap_or_default();
    let identity = ModelIdentity {
        formula: c.string("formula")?,
        family: c.string("family")?,
        link: c.string("link")?,
        parametric_names,
    };
    let max_age_days = c.real("max_age_days")?;
    let settings = CacheSettings {
        dir: PathBuf::from(c.string("dir")?),
        shared: c.flag("shared")?,
        limits: StoreLimits {
            max_bytes: c.real("max_bytes")?.clamp(0.0, u64::MAX as f64) as u64,
            max_age: Duration::try_from_secs_f64(max_age_days * 86400.0).unwrap_or(Duration::MAX),
        },
        refresh: c.flag("refresh")?,
        verify: c.flag("verify")?,
    };
    Ok((Some(settings), identity))
}

/// An R object, as the C API passes it.
type Sexp = *mut c_void;

extern "C" {
    fn R_ToplevelExec(fun: extern "C" fn(*mut c_void), data: *mut c_void) -> i32;
    fn R_CheckUserInterrupt();
    fn R_tryCatch(
        body: extern "C" fn(*mut c_void) -> Sexp,
        body_data: *mut c_void,
        conditions: Sexp,
        handler: extern "C" fn(Sexp, *mut c_void) -> Sexp,
        handler_data: *mut c_void,
        finally: Option<extern "C" fn(*mut c_void)>,
        finally_data: *mut c_void,
    ) -> Sexp;
    fn R_PreserveObject(object: Sexp);
    fn R_ReleaseObject(object: Sexp);
    static R_NilValue: Sexp;
}

/// What one interrupt check hands through R's C API: the condition classes to catch,
/// and the condition caught (null when none).
struct InterruptCheck {
    classes: Sexp,
    caught: Sexp,
}

/// R checks its time limits (`setTimeLimit()`) at one call of `R_CheckUserInterrupt`
/// in this many (R_CheckTimeLimits skips 5 in 6, to save the clock reads); the engine
/// polls far less often than R's evaluator, so each poll makes that many calls.
const CALLS_PER_TIME_CHECK: usize = 6;

extern "C" fn poll_interrupt(_: *mut c_void) -> Sexp {
    // SAFETY: runs inside R_tryCatch (below), which catches what it signals.
    unsafe {
        for _ in 0..CALLS_PER_TIME_CHECK {
            R_CheckUserInterrupt();
        }
        R_NilValue
    }
}

extern "C" fn keep_condition(condition: Sexp, data: *mut c_void) -> Sexp {
    // SAFETY: `data` is the `InterruptCheck` of `check_interrupt`, alive for the call;
    // the condition is preserved until `take_condition` releases it.
    unsafe {
        let check = &mut *(data as *mut InterruptCheck);
        R_PreserveObject(condition);
        check.caught = condition;
        R_NilValue
    }
}

extern "C" fn check_interrupt(data: *mut c_void) {
    // SAFETY: called inside R_ToplevelExec with a live `InterruptCheck`; R_tryCatch
    // establishes an R-level tryCatch for the classes, so the condition an interrupt
    // or a time limit (`setTimeLimit()`) signals is handed to `keep_condition` and
    // the jump ends inside R_tryCatch, not across Rust frames.
    unsafe {
        let check = &mut *(data as *mut InterruptCheck);
        let classes = check.classes;
        R_tryCatch(poll_interrupt, std::ptr::null_mut(), classes, keep_condition, data, None, std::ptr::null_mut());
    }
}

thread_local! {
    /// The condition that stopped the current engine call (Ctrl-C's interrupt, or
    /// the error of a time limit), for the R layer to raise as it is.
    static STOPPED_BY: RefCell<Option<Robj>> = const { RefCell::new(None) };
}

/// True when R wants the computation to stop: the user pressed Ctrl-C, or a time
/// limit (`setTimeLimit()`) has passed. The condition R signalled is kept
/// (`STOPPED_BY`), so that the R layer raises that very condition, and nothing is
/// printed. `R_CheckUserInterrupt` would longjmp over Rust frames: it runs inside
/// `R_tryCatch` (which catches the condition) inside `R_ToplevelExec` (which stops
/// any other jump, reported as FALSE). Main R thread only.
fn user_interrupted(classes: &Robj) -> bool {
    let mut check = InterruptCheck { classes: unsafe { classes.get() } as Sexp, caught: std::ptr::null_mut() };
    // SAFETY: main R thread (extendr calls run on it); `check` outlives the call.
    let completed = unsafe { R_ToplevelExec(check_interrupt, &mut check as *mut InterruptCheck as *mut c_void) != 0 };
    if !check.caught.is_null() {
        // SAFETY: a live R object preserved by `keep_condition`; the Robj protects it
        // from here on.
        let condition = unsafe {
            let robj = Robj::from_sexp(check.caught as _);
            R_ReleaseObject(check.caught);
            robj
        };
        STOPPED_BY.with(|s| *s.borrow_mut() = Some(condition));
        return true;
    }
    !completed
}

/// The condition kept by `user_interrupted`, if any.
fn take_stopped_by() -> Option<Robj> {
    STOPPED_BY.with(|s| s.borrow_mut().take())
}

fn state_list(state: &State) -> Robj {
    List::from_pairs(state.iter().map(|(k, v)| (k.as_str(), Robj::from(v.clone())))).into()
}

fn test_list(t: &TermTest) -> Robj {
    match t {
        TermTest::Wald { stat, stat1, rank, rank1, weights } => {
            list!(kind = "wald", stat = *stat, stat1 = *stat1, rank = *rank, rank1 = *rank1, weights = weights.clone())
                .into()
        }
        TermTest::RandomEffect { stat, weights, rank } => {
            list!(kind = "random", stat = *stat, stat1 = *stat, rank = *rank, rank1 = *rank, weights = weights.clone())
                .into()
        }
    }
}

/// Why an engine call failed: a kind that becomes the R condition's class
/// (`warmgam_error_<kind>`) and the message.
struct Failure {
    kind: &'static str,
    message: String,
}

impl From<error::EngineError> for Failure {
    fn from(e: error::EngineError) -> Failure {
        Failure { kind: e.kind(), message: e.to_string() }
    }
}

/// The binding's own failures: a spec the R layer built wrongly, or an R object of
/// the wrong type.
impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let message = match e {
            Error::Other(m) => m,
            other => other.to_string(),
        };
        Failure { kind: "internal", message }
    }
}

/// Engine results cross to R as a value or as `list(error = message, kind = )`:
/// returning an `Err` to extendr would unwind through a panic, which prints a panic
/// message and backtrace on the user's console before the R error.
fn value_or_error(res: std::result::Result<Robj, Failure>) -> Robj {
    let stopped_by = take_stopped_by();
    match res {
        Ok(v) => v,
        Err(Failure { kind, message }) => match stopped_by {
            // The R layer raises R's own condition.
            Some(condition) => list!(error = message, kind = kind, condition = condition).into(),
            None => list!(error = message, kind = kind).into(),
        },
    }
}

/// Panics in the engine caught so far in this call (the message of the first).
static PANIC_MESSAGE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
/// Engine calls in progress: while one is, panics are the engine's own.
static ENGINE_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Replaces the panic hook, once, by one that is quiet during engine calls: it keeps
/// the message for the R error instead of printing a backtrace on the user's
/// console. Outside them (another Rust package in the same R process), the previous
/// hook runs as before.
fn quiet_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ENGINE_CALLS.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return previous(info);
            }
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let mut at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            // For developers: where the panic came from (`WARMGAM_BACKTRACE=1`).
            if std::env::var_os("WARMGAM_BACKTRACE").is_some() {
                at.push_str(&format!("\n{}", std::backtrace::Backtrace::force_capture()).replace('%', "%%"));
            }
            if let Ok(mut slot) = PANIC_MESSAGE.lock() {
                slot.get_or_insert(format!("{what}{at}"));
            }
        }));
    });
}

/// Runs an engine call: its value, or `list(error =)` for an error or a panic (a bug:
/// the message says so, and nothing is printed).
fn engine_call(call: impl FnOnce() -> std::result::Result<Robj, Failure>) -> Robj {
    quiet_panics();
    take_stopped_by();
    ENGINE_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    ENGINE_CALLS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let panicked = PANIC_MESSAGE.lock().ok().and_then(|mut m| m.take());
    match outcome {
        Ok(result) => value_or_error(result),
        Err(_) => list!(
            error = format!(
                "warmgam's engine failed on these data ({}); this is a bug in warmgam: please report it with the call that caused it",
                panicked.unwrap_or_else(|| "no message".into())
            ),
            kind = "bug"
        )
        .into(),
    }
}

/// Each smooth term as the R object keeps it: its columns, penalties and smoothing
/// parameters, and its state for `predict()`.
fn smooth_list(design: &fit::Design<'_>) -> Vec<Robj> {
    let links = design.penalty_links();
    let mut next_penalty = design.parametric.len();
    design
        .smooths
        .iter()
        .zip(&design.first_col)
        .map(|(sm, &first)| {
            let count = sm.penalties().count();
            // The (1-based) smoothing parameter of each of the term's penalties.
            let sp_index: Vec<f64> = links[next_penalty..next_penalty + count].iter().map(|l| (l + 1) as f64).collect();
            next_penalty += count;
            list!(
                label = sm.label.as_str(),
                class = sm.basis.class(),
                first = (first + 1) as f64,
                last = (first + sm.ncoef()) as f64,
                rank = sm.rank as f64,
                null_space_dim = sm.null_space_dim as f64,
                n_penalties = count as f64,
                sp_index = sp_index,
                state = state_list(&sm.state())
            )
            .into()
        })
        .collect()
}

/// The model set up, not fitted (`gam_fit(fit = FALSE)`): the model matrix `X`, the
/// terms (as a fit keeps them, each penalty's matrix in its `state`) and the number
/// of smoothing parameters; `list(error =)` on failure.
/// @noRd
#[extendr]
fn model_setup_impl(spec: List) -> Robj {
    engine_call(|| model_setup(spec))
}

fn model_setup(spec: List) -> std::result::Result<Robj, Failure> {
    let objects = SpecObjects::new(&spec)?;
    let spec = model_spec(&objects)?;
    let classes = Robj::from(vec!["interrupt", "error"]);
    let setup = fit::setup(&spec, &mut || user_interrupted(&classes))?;
    Ok(list!(
        X = to_matrix(&setup.x),
        smooths = List::from_values(smooth_list(&setup.design)),
        n_sp = setup.design.n_smoothing_parameters() as f64
    )
    .into())
}

/// Fits a model described by the R layer's spec list; `list(error =)` on failure.
/// @noRd
#[extendr]
fn fit_gam_impl(spec: List) -> Robj {
    engine_call(|| fit_gam(spec))
}

fn fit_gam(spec: List) -> std::result::Result<Robj, Failure> {
    let (cache, identity) = cache_settings(&spec)?;
    let objects = SpecObjects::new(&spec)?;
    let spec = model_spec(&objects)?;
    let classes = Robj::from(vec!["interrupt", "error"]);
    let (design, res, warm) = warm::fit_warm(&spec, &identity, cache.as_ref(), &mut || user_interrupted(&classes))?;
    let smooths = smooth_list(&design);
    let tests: Vec<Robj> = res.term_tests.iter().map(test_list).collect();
    Ok(list!(
        coefficients = res.coefficients,
        linear_predictor = res.linear_predictor,
        edf = res.edf,
        edf1 = res.edf1,
        Vp = to_matrix(&res.vp),
        Ve = to_matrix(&res.ve),
        Vc = res.vc.as_ref().map_or(Robj::from(()), to_matrix),
        edf2 = res.edf2.clone().map_or(Robj::from(()), Robj::from),
        scale = res.scale,
        criterion = res.criterion,
        sp = res.sp,
        converged = res.termination.is_converged(),
        termination = res.termination.as_str(),
        iterations = res.iterations as f64,
        gradient = res.gradient,
        hessian_eigenvalues = res.hessian_eigenvalues,
        deviance = res.deviance,
        null_deviance = res.null_deviance,
        null_space_dim = res.null_space_dim as f64,
        extra = res.family_parameters,
        inner_converged = res.inner_converged,
        smooths = List::from_values(smooths),
        term_tests = List::from_values(tests),
        warm_start = warm_start_list(warm, Some(res.family_trials as f64))
    )
    .into())
}

/// The saturated beta log density of each `y` in (0, 1) at precision `phi`
/// (`family::beta::saturated_log_density`): betar()'s deviance residuals.
/// @noRd
#[extendr]
fn beta_saturated_impl(y: &[f64], phi: f64) -> Vec<f64> {
    y.iter().map(|&v| family::beta::saturated_log_density(v, phi)).collect()
}

/// The known part of a soap film term whose boundary loops have given values, at
/// `(x, y)` (`basis::soap::known_part`; NaN outside the boundary): the term's offset
/// in fitting and prediction. `parameters` as the term's class parameters.
/// @noRd
#[extendr]
fn soap_known_part_impl(label: &str, parameters: &[f64], x: &[f64], y: &[f64]) -> Robj {
    engine_call(|| Ok(basis::soap::known_part(label, parameters, x, y)?.into()))
}

/// The fingerprint (hex) of numeric columns, hashed as a fit's exact key hashes its
/// data, on `threads` threads: the exact-hit benchmark's reference cost.
/// @noRd
#[extendr]
fn hash_columns_impl(columns: List, threads: f64) -> Robj {
    engine_call(|| {
        let robjs: Vec<Robj> = columns.values().collect();
        let slices: Vec<&[f64]> = robjs
            .iter()
            .map(|c| c.as_real_slice().ok_or_else(|| r_error("internal: `columns` must be double vectors")))
            .collect::<Result<_>>()?;
        Ok(cache::key::columns_fingerprint(&slices, threads.max(1.0) as usize).to_hex().into())
    })
}

/// The log likelihood of each row of `y` under a general family (`family`, `links`,
/// `constants` as for `fit_general_impl`) at the linear predictors `eta` (an
/// `n x K` matrix): gam_cv()'s score of held-out rows; `list(error =)` on failure.
/// @noRd
#[extendr]
fn general_loglik_impl(spec: List) -> Robj {
    engine_call(|| general_loglik(spec))
}

fn general_loglik(spec: List) -> std::result::Result<Robj, Failure> {
    let f = Fields::new(&spec);
    let links: Vec<String> =
        f.get("links")?.as_str_vector().unwrap_or_default().iter().map(|s| s.to_string()).collect();
    let name = f.string("family")?;
    let y = f.reals("y")?;
    let eta_robj = f.get("eta")?.clone();
    let eta = view_matrix(&eta_robj, "eta")?;
    if eta.nrows() != y.len() {
        return Err(r_error("internal: `eta` must have a row per response").into());
    }
    let rows = |loglik: &dyn Fn(f64, &[f64]) -> f64| -> Vec<f64> {
        (0..y.len()).map(|i| loglik(y[i], &eta.row(i).to_vec())).collect()
    };
    if name == "multinom" {
        return Ok(rows(&fit::softmax::row_loglik).into());
    }
    let family = family::general::GeneralFamily::from_r(&name, &links, &f.reals("constants")?)
        .ok_or_else(|| r_error("internal: a general family or link the engine does not fit"))?;
    if eta.ncols() != family.n_lp() {
        return Err(r_error("internal: `eta` must have a column per predictor").into());
    }
    Ok(rows(&|y, e| family.loglik(y, e)).into())
}

/// How a fit used the store, as the R layer's `warm_start` reads it; `family_trials`
/// for a fit with a family parameter search (NA otherwise).
fn warm_start_list(warm: warm::WarmReport, family_trials: Option<f64>) -> Robj {
    let count = |v: Option<u64>| v.map_or(Rfloat::na(), |i| Rfloat::from(i as f64));
    list!(
        source = warm.source.as_str(),
        key = warm.key.unwrap_or_default(),
        problem = warm.problem.unwrap_or_default(),
        notices = warm.notices,
        verified = warm.verified.map_or(Rbool::na(), Rbool::from),
        seed_outer_iterations = count(warm.seed_iterations),
        family_trials = family_trials.map_or(Rfloat::na(), Rfloat::from),
        seed_family_trials = count(warm.seed_family_trials)
    )
    .into()
}

/// Fits a general smooth model (several linear predictors, a general family) from
/// the R layer's list: the whole model matrix `X`, each predictor's blocks of columns
/// (`lp_start[[k]]`, `lp_end[[k]]`, 0-based, end exclusive; a block shared by several
/// predictors is in each of their lists) and offsets, the penalties (each
/// `S` with its first column `start` and smoothing parameter `sp_index`, 0-based),
/// the smoothing parameters (`sp`, negative where estimated), the smooth terms'
/// columns for their tests, and the optimizer settings; `list(error =)` on failure.
/// @noRd
#[extendr]
fn fit_general_impl(spec: List) -> Robj {
    engine_call(|| fit_general(spec))
}

fn fit_general(spec: List) -> std::result::Result<Robj, Failure> {
    let f = Fields::new(&spec);
    let x_robj = f.get("X")?.clone();
    let x = view_matrix(&x_robj, "X")?;
    let y = f.reals("y")?;
    let links: Vec<String> =
        f.get("links")?.as_str_vector().unwrap_or_default().iter().map(|s| s.to_string()).collect();
    let name = f.string("family")?;
    let likelihood = if name == "mvn" {
        // Each response's predictor is its own block of columns.
        let cols: Vec<Vec<usize>> = f
            .list("lp_start")?
            .values()
            .zip(f.list("lp_end")?.values())
            .map(|(a, b)| {
                let (a, b) = (a.as_real_slice().unwrap_or_default(), b.as_real_slice().unwrap_or_default());
                a.iter().zip(b).flat_map(|(a, b)| *a as usize..*b as usize).collect()
            })
            .collect();
        fit::general::Likelihood::Mvn(fit::mvn::MvnStats::new(x, cols, &y, f.real("threads")? as usize))
    } else if name == "multinom" {
        // (Its predictors are each class's log odds against class 0: identity links.)
        fit::general::Likelihood::Softmax(f.list("lp_start")?.len())
    } else if name == "cox.ph" {
        // Each row's status (1 an event) and stratum code (empty: one stratum).
        let sets = fit::cox::RiskSets::new(&y, &f.reals("status")?, &f.reals("strata")?);
        fit::general::Likelihood::Cox(sets)
    } else {
        fit::general::Likelihood::Rows(
            family::general::GeneralFamily::from_r(&name, &links, &f.reals("constants")?)
                .ok_or_else(|| r_error("internal: a general family or link the engine does not fit"))?,
        )
    };
    // Each predictor's blocks of columns: `lp_start[[k]]`, `lp_end[[k]]`.
    let reals_of = |o: Robj| o.as_real_slice().map(|v| v.to_vec()).unwrap_or_default();
    let lp: Vec<Vec<std::ops::Range<usize>>> = f
        .list("lp_start")?
        .values()
        .zip(f.list("lp_end")?.values())
        .map(|(a, b)| reals_of(a).iter().zip(&reals_of(b)).map(|(a, b)| *a as usize..*b as usize).collect())
        .collect();
    let offset: Vec<Vec<f64>> =
        f.list("offset")?.values().map(|o| o.as_real_slice().map(|v| v.to_vec()).unwrap_or_default()).collect();
    let mut penalties = Vec::new();
    let mut sp_links = Vec::new();
    for pen in f.list("penalties")?.values() {
        let pen = Fields::new(&List::try_from(pen)?);
        penalties.push(fit::penalty::Penalty { start: pen.real("start")? as usize, s: pen.matrix("S")?.to_owned() });
        sp_links.push(pen.real("sp_index")? as usize);
    }
    let fixed: Vec<Option<f64>> = f.reals("sp")?.iter().map(|v| (v.is_finite() && *v >= 0.0).then(|| v.ln())).collect();
    let terms = f
        .list("terms")?
        .values()
        .map(|t| {
            let t = Fields::new(&List::try_from(t)?);
            Ok(fit::general::GeneralTerm {
                cols: t.real("start")? as usize..t.real("end")? as usize,
                null_space_dim: t.real("null_space_dim")? as usize,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let settings = fit::general::GeneralSettings {
        tol: f.real("tol")?,
        max_iter: f.real("max_iter")? as usize,
        max_step: f.real("max_step")?,
        threads: f.real("threads")? as usize,
    };
    let model = fit::general::GeneralModel {
        x,
        lp,
        offset,
        y: &y,
        likelihood,
        penalties: fit::penalty::PenaltySet::new(x.ncols(), penalties),
        links: sp_links,
        fixed,
        terms,
        settings,
    };
    let classes = Robj::from(vec!["interrupt", "error"]);
    let mut monitor = |_: usize, _: &[f64], _: &fit::outer::Eval| {
        if user_interrupted(&classes) {
            Err(error::EngineError::Interrupted)
        } else {
            Ok(())
        }
    };
    let (cache, identity) = cache_settings(&spec)?;
    let (res, warm) = warm_general::fit_general_warm(&model, &identity, cache.as_ref(), &mut monitor)?;
    let columns = |v: &[Vec<f64>]| {
        let n = v.first().map_or(0, |c| c.len());
        let flat: Vec<f64> = v.iter().flatten().copied().collect();
        to_matrix(&ndarray::Array2::from_shape_vec((n, v.len()).f(), flat).expect("columns of equal length"))
    };
    let tests: Vec<Robj> = res.term_tests.iter().map(test_list).collect();
    Ok(list!(
        coefficients = res.coefficients,
        Vp = to_matrix(&res.vp),
        Ve = to_matrix(&res.ve),
        edf = res.edf,
        edf1 = res.edf1,
        Vc = to_matrix(&res.vc),
        edf2 = res.edf2,
        loglik = res.ll,
        criterion = res.criterion,
        sp = res.sp,
        iterations = res.iterations as f64,
        termination = res.termination.as_str(),
        converged = res.termination.is_converged(),
        inner_converged = res.inner_converged,
        gradient = res.gradient,
        linear_predictors = columns(&res.eta),
        parameters = columns(&res.parameters),
        term_tests = List::from_values(tests),
        warm_start = warm_start_list(warm, None)
    )
    .into())
}

/// A smooth term's columns of the model matrix at new covariate values;
/// `list(error =)` on failure.
/// @noRd
#[extendr]
fn smooth_matrix_impl(label: &str, class: &str, state: List, vars: List, by: Nullable<Vec<f64>>) -> Robj {
    engine_call(|| smooth_matrix(label, class, state, vars, by))
}

fn smooth_matrix(
    label: &str,
    class: &str,
    state: List,
    vars: List,
    by: Nullable<Vec<f64>>,
) -> std::result::Result<Robj, Failure> {
    let state: State = state
        .iter()
        .map(|(k, v)| {
            v.as_real_slice()
                .map(|s| (k.to_string(), s.to_vec()))
                .ok_or_else(|| r_error("internal: stored basis fields must be doubles"))
        })
        .collect::<Result<_>>()?;
    let smooth = Smooth::from_state(label, class, &state)?;
    let vars: Vec<Vec<f64>> = vars
        .values()
        .map(|v| v.as_real_slice().map(|s| s.to_vec()).ok_or_else(|| r_error("internal: covariates must be doubles")))
        .collect::<Result<_>>()?;
    if vars.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Failure {
            kind: "non_finite",
            message: format!("`newdata` has non-finite values in a covariate of `{label}`"),
        });
    }
    let refs: Vec<&[f64]> = vars.iter().map(|v| v.as_slice()).collect();
    let count_ok = match smooth.basis.n_vars() {
        Some(d) => refs.len() == d,
        None => matches!(refs.len(), 1 | 2),
    };
    let by = match by {
        Nullable::NotNull(b) => Some(b),
        Nullable::Null => None,
    };
    let rows = refs.first().map_or(0, |v| v.len());
    if !count_ok || refs.iter().any(|v| v.len() != rows) || by.as_ref().is_some_and(|b| b.len() != rows) {
        return Err(r_error(format!("internal: `{label}` was given covariates that do not fit its basis")).into());
    }
    Ok(to_matrix(&smooth.predict_matrix(&refs, by.as_deref())))
}

/// The Tweedie log density at each `y`, `mu` (power `p`, scale `phi`), for the
/// family's `aic()`.
/// @noRd
#[extendr]
fn tweedie_log_density_impl(y: &[f64], mu: &[f64], p: f64, phi: f64) -> Vec<f64> {
    let mut terms = family::tweedie::SeriesTerms::new(p);
    y.iter().zip(mu).map(|(&y, &mu)| family::tweedie::log_density(&mut terms, y, mu, phi)[0]).collect()
}

/// What the store at `dir` holds: keys, entries, bytes, oldest and newest entry times
/// (seconds since the epoch, `NA` when empty), and with `verify` the damaged entries.
/// @noRd
#[extendr]
fn cache_info_impl(dir: &str, verify: bool) -> Robj {
    engine_call(|| Ok(cache_info(dir, verify)))
}

fn cache_info(dir: &str, verify: bool) -> Robj {
    let info = WarmStartStore::existing(std::path::Path::new(dir)).info(verify);
    list!(
        keys = info.keys as f64,
        entries = info.entries as f64,
        bytes = info.bytes as f64,
        oldest = info.oldest.map_or(Rfloat::na(), Rfloat::from),
        newest = info.newest.map_or(Rfloat::na(), Rfloat::from),
        damaged = info.damaged as f64
    )
    .into()
}

/// Removes every entry of the store at `dir`; returns how many.
/// @noRd
#[extendr]
fn cache_clear_impl(dir: &str) -> Robj {
    engine_call(|| Ok(Robj::from(WarmStartStore::existing(std::path::Path::new(dir)).clear() as f64)))
}

/// The 1-based position of the first double vector in `columns` holding a non-finite
/// value, or 0 when all are finite.
/// @noRd
#[extendr]
fn first_non_finite_impl(columns: List) -> f64 {
    columns
        .values()
        .position(|col| col.as_real_slice().is_some_and(|v| v.iter().any(|x| !x.is_finite())))
        .map_or(0.0, |i| (i + 1) as f64)
}

extendr_module! {
    mod warmgam;
    fn fit_gam_impl;
    fn fit_general_impl;
    fn general_loglik_impl;
    fn hash_columns_impl;
    fn beta_saturated_impl;
    fn soap_known_part_impl;
    fn model_setup_impl;
    fn first_non_finite_impl;
    fn smooth_matrix_impl;
    fn tweedie_log_density_impl;
    fn cache_info_impl;
    fn cache_clear_impl;
}
