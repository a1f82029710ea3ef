# Smooth term specifications, and interpretation of a model formula into its
# parametric part and its smooth terms.

#' Define a smooth term in a warmgam formula
#'
#' Used inside the formula of [gam_fit()], as in mgcv: `s(x)` is a smooth of `x`,
#' `s(x, z)` a thin plate spline of `x` and `z`.
#'
#' @param ... The covariates (unquoted names) the smooth is a function of. A named
#'   argument that is not one of the others is an error naming it (it is never taken
#'   for a covariate).
#' @param k The basis dimension (before the identifiability constraint). The default
#'   (`-1`, or any negative number) is mgcv's: 10 for one-dimensional smooths, 30
#'   for a two-dimensional thin plate spline. As in mgcv, a `k` that is not a whole
#'   number is rounded, and one below the basis's minimum (3 for `"cr"`, 4 for
#'   `"cc"`, one more than the null space dimension for `"tp"`) is raised to it,
#'   both with a warning; a P-spline's `k` below its order is an error.
#' @param bs The basis: `"tp"` (thin plate regression spline, the default, any number
#'   of covariates), `"cr"` (cubic regression spline), `"cc"` (cyclic cubic spline),
#'   `"ps"` (P-spline), `"cp"` (cyclic P-spline: `k` B-splines on `k + 1` evenly
#'   spaced knots over the data's range, wrapped round), `"bs"` (B-splines with
#'   derivative penalties, Wood 2017: `m = c(degree, order, order, ..)` gives one
#'   penalty per derivative order, by default `c(3, 2)`), `"gp"` (Gaussian process
#'   smooth, any number of covariates: a low-rank kriging basis on the distinct
#'   covariate points, or mgcv's subsample of 2000 of them, with `m = c(type, range,
#'   power)` as mgcv's: correlation 1 spherical, 2 power exponential, 3 (default) to
#'   5 Matern, negative for a stationary process; range by default the largest
#'   distance between knots), `"mrf"` (Markov random field over the levels of a
#'   factor of regions, its geography in `xt`; `k` below the number of regions gives
#'   mgcv's reduced-rank version, the `k` smoothest directions), `"cs"` and `"ts"` (`"cr"` and `"tp"` with shrinkage: their
#'   null space is penalized too, lightly, so a whole term can be shrunk to zero), or
#'   `"re"` (a random effect: `s(g, bs = "re")` gives each level
#'   of the factor `g` an effect shrunk towards zero, `s(g, x, bs = "re")` random
#'   slopes in `x`; `k` is not used). Predictions for a level the fit did not see
#'   leave its random effect out (zero), as mgcv does. `"fs"` is a factor smooth
#'   interaction: `s(x, g, bs = "fs")` fits a curve in `x` for each level of the
#'   factor `g`, all with the same smoothing parameters and with every part of each
#'   curve penalized, so that they behave as random effects (their base basis is
#'   `xt`, by default `"tp"`; `k` is the base basis's dimension). As in mgcv, a level
#'   not seen in fitting predicts zero. mgcv's null-space basis for these terms is
#'   set by rounding in its eigen routine; warmgam fixes it (the first direction is
#'   the constant), so fits agree with mgcv's exactly only when the base has a
#'   one-dimensional null space (`m = 1` for `"tp"`), and closely otherwise.
#'   `"sz"` (`s(g, x, bs = "sz")`, factors and numeric covariates): each level's
#'   (each combination of levels') deviation from a main effect `s(x)`, the
#'   deviations summing to zero over each factor's levels, each with its own
#'   smoothing parameter (one shared with `id`); its base basis is `xt` as for
#'   `"fs"`, and a level not seen in fitting has no deviation; a factor `by` gives
#'   one such term per level, and a numeric `by` that is not constant drops the
#'   sum-to-zero constraint, as in mgcv. Factors alone are, as in mgcv, a random
#'   effect of them; no factor is mgcv's base smooth, built by mgcv.
#'   `"ds"` (Duchon spline, any number of covariates, `m = c(m, s)` as mgcv's,
#'   default `c(2, 0)`, a thin plate spline's construction on Duchon's radial
#'   function; mgcv's 2000-point subsample as for `"tp"`).
#'   `"sos"` (spline on the sphere: `s(lat, lon, bs = "sos")`, degrees; `m` as
#'   mgcv's: 0, the default, Wendelberger's second-order spline; 1 to 4, Wahba's
#'   pseudo-splines of penalty order `(m + 2) / 2`; -1, a Duchon spline of the
#'   3-D embedding whose null space also holds the coordinates; -2, first
#'   derivatives).
#'   `"ad"` (adaptive smooth, Wood 2017 §5.3.5: a spline whose second-difference
#'   penalty is weighted by a small spline of `m` functions, default 5, each with its
#'   own smoothing parameter; `k` default 40; base basis `xt = list(bs = )`, `"ps"`
#'   by default, or `"cr"`, `"cc"`, `"cp"`). With two covariates it is, as in mgcv,
#'   a tensor product of P-splines named `te(x,z)`, `k` (default 15) a margin and
#'   `m` (default 3) weight functions a direction; fewer than 3, another base or two
#'   values of `k` have mgcv build it.
#'   `"so"`, `"sf"`, `"sw"` (soap film over the domain the loops of
#'   `xt = list(bnd = , nmax = )` bound, Wood, Bravington & Hedley 2008: `"sf"` the
#'   boundary's cyclic spline, `k` knots per loop, extended inside; `"sw"` the
#'   interior part, one function per knot given in `gam_fit(knots = )`, zero on the
#'   boundary; `"so"` both), on mgcv's grid of `nmax` cells (default 200) along the
#'   longer side; predictions outside the boundary are `NA`. A loop's known
#'   boundary values (its `f`) are the term's offset, as in mgcv; `xt$bndSpec`, or
#'   known values with a `by` or on `"sw"`, have mgcv build it.
#'   Any other class mgcv can build (a class of your own with a `smooth.construct` method, ...)
#'   is built by mgcv's constructor (`mgcv::smoothCon()`), fitted by warmgam's engine
#'   as a penalized block and predicted by mgcv's `PredictMat()`; `print()` and
#'   `summary()` name such terms. So are terms using an argument only mgcv's
#'   constructor reads (`m = c(2, 0)` for `"tp"`, `xt = list(S = )` or `by` for
#'   `"re"`).
#' @param m The order of the penalty (and of the B-splines for `"ps"`, given as
#'   `c(basis, penalty)`); `NA` for the default. As in mgcv, a thin plate spline
#'   uses its default order when `m` is 0 or too low for its number of covariates
#'   `d` (`2m <= d`), and `"cr"`, `"cc"` and `"re"` do not use `m`. mgcv's
#'   `m = c(order, 0)` for `"tp"` (dropping the null space) has the term built by
#'   mgcv's constructor (see `bs`). A P-spline `m` below 0, or any `m` that is not a
#'   whole number, is an error. For `"bs"`, `m = c(degree, derivative orders)`:
#'   `m = c(3, 2, 1)` penalizes both the second and the first derivative, each with a
#'   smoothing parameter of its own (a degree-0 B-spline is built by mgcv's
#'   constructor).
#' @param by A numeric variable multiplying the smooth, or a factor giving one smooth
#'   per level (include the factor as a parametric term too, as in mgcv). For an
#'   ordered factor, as in mgcv, the first level has no smooth: `y ~ og + s(x) +
#'   s(x, by = og)` models each other level's difference from the first.
#' @param xt For `bs = "fs"`, the base basis of each level's curve: `"tp"` (the
#'   default), `"cr"`, `"cc"` or `"ps"` (or `list(bs = )`, as mgcv takes it). For a
#'   thin plate spline (`"tp"`, `"ts"`, or an `"fs"` term's tp base),
#'   `list(max.knots = , seed = )` as in mgcv: with more distinct covariate points
#'   than `max.knots` (default 2000) the basis is built on a random sample of
#'   `max.knots` of them, drawn with `seed` (default 1). Any other use of `xt` (such
#'   as mgcv's penalty list `S` for `"re"`) is an error naming it. For `bs = "mrf"`,
#'   the geography, as mgcv takes it: `list(polys = )` (a named list with a
#'   two-column matrix of vertices per region; regions sharing a vertex are
#'   neighbours, and `plot()` draws the term as a map), `list(nb = )` (a list named by
#'   region of each region's neighbours, as numbers or names) or `list(penalty = )`
#'   (a symmetric matrix, rows and columns named by region).
#' @param id A label: terms with the same `id` share their smoothing parameters (for
#'   a factor `by`, all levels share them) and, as in mgcv, one basis: every term
#'   takes the first one's `bs`, `k` and `m`, and when their covariates differ the
#'   basis is built from all their covariate values together.
#' @param fx `TRUE` for an unpenalized regression spline with `k - 1` degrees of
#'   freedom (no smoothing parameter), as mgcv's `fx = TRUE`.
#' @param sp The term's own smoothing parameter(s), one per penalty (two with
#'   `select = TRUE` where the basis has a null space; one per penalty of a factor
#'   smooth); a negative value is estimated. They override `gam_fit(sp = )`, as in
#'   mgcv.
#' @param pc A point constraint, as mgcv's: the term is zero at these covariate
#'   values (a number per covariate, in order or named, e.g. `pc = list(x = 0.5)`)
#'   instead of summing to zero over the data. Applied also with a numeric `by`.
#' @returns A `warmgam_smooth_spec` object describing the term (not evaluated data).
#' @examples
#' s(x, k = 20, bs = "cr")
#' s(x, fx = TRUE, k = 5)
#' s(x, pc = 0)
#' s(x, z)
#' @export
s <- function(..., k = -1, bs = "tp", m = NA, by = NA, id = NULL, xt = NULL, fx = FALSE, sp = NULL, pc = NULL) {
  dots <- split_term_dots(substitute(list(...)))
  vars <- dots$vars
  if (length(vars) == 0L) {
    abort("`s()` needs at least one covariate.", "formula")
  }
  by_name <- by_variable_name(substitute(by))
  check_term_extras(dots$extras, "s", term_label("s", vars, by_name), parent.frame())
  if (!is.character(bs) || length(bs) != 1L) {
    abort(sprintf("`bs` of `s(%s)` must be one class name.", paste(vars, collapse = ", ")), "basis")
  }
  # What warmgam has no native code for is built by mgcv's own constructor.
  native <- bs %in% c("tp", "ts", "cr", "cs", "cc", "ps", "re", "fs", "bs", "cp", "gp", "mrf", "sz", "ds", "sos") &&
    !(bs %in% c("tp", "ts") && length(m) == 2L && isTRUE(m[[2]] == 0)) &&
    # A degree-0 B-spline (piecewise constant) is mgcv's alone.
    !(bs == "bs" && isTRUE(m[[1]] == 0)) &&
    # mgcv takes a cyclic P-spline with one basis function fewer than its order.
    !(bs == "cp" && is.numeric(k) && length(k) == 1L && k >= 0 && k < min_basis_k("cp", 1, m)) &&
    !(bs == "re" && (!is.null(by_name) || (is.list(xt) && !is.null(xt$S))))
  native <- native || (bs == "ad" && adaptive_native(vars, k, m, xt)) || (bs %in% soap_classes && soap_native(vars, xt, bs, by_name))
  # (The option sends native classes there too: the tests compare the two paths.)
  if (!native || bs %in% getOption("warmgam.mgcv_classes")) return(mgcv_term(sys.call(), parent.frame()))
  if (bs == "ad") {
    return(adaptive_spec(vars, k, m, xt, by_name, id, fx, sp, pc, term_call(sys.call(), parent.frame())))
  }
  if (bs %in% soap_classes) {
    return(soap_spec(vars, bs, k, xt, by_name, id, fx, sp, pc, term_call(sys.call(), parent.frame())))
  }
  if (bs == "sos" && length(vars) != 2L) {
    abort(sprintf("`bs = \"sos\"` takes latitude and longitude (in degrees); `s(%s)` has %d covariates.",
                  paste(vars, collapse = ", "), length(vars)), "basis")
  }
  if (length(vars) > 1L && !bs %in% c("tp", "ts", "re", "fs", "gp", "sz", "ds", "sos")) {
    abort(sprintf(
      "`bs = \"%s\"` is one-dimensional but `s(%s)` has %d covariates; use `bs = \"tp\"`.",
      bs, paste(vars, collapse = ", "), length(vars)
    ), "basis")
  }
  label <- term_label("s", vars, by_name)
  if (!is.numeric(k) || length(k) != 1L || !is.finite(k)) {
    abort(sprintf("`k` of `%s` must be a single number (negative for the default).", label), "argument")
  }
  if (k != round(k)) {
    warn(sprintf("`k` of `%s` should be a whole number and has been rounded to %d, as mgcv does.", label, round(k)))
    k <- round(k)
  }
  if (!is.null(id) && (length(id) != 1L || is.na(id))) {
    abort(sprintf("`id` of `%s` must be a single label or number.", label), "argument")
  }
  base_bs <- if (is.list(xt)) xt$bs else xt
  factor_smooth <- bs %in% c("fs", "sz")
  if (factor_smooth && !is.null(base_bs) &&
        (!is.character(base_bs) || length(base_bs) != 1L || !base_bs %in% c("tp", "cr", "cc", "ps"))) {
    abort(sprintf("`xt` of `%s` must name the base basis: \"tp\", \"cr\", \"cc\" or \"ps\".", label), "basis")
  }
  # A Markov random field's `xt` is its geography (read when the data are).
  tp_sample <- if (bs != "mrf") term_tp_sample(xt, bs, base_bs, label)
  if (bs == "mrf") check_mrf_xt(xt, label)
  m <- if (bs == "ds") {
    duchon_m(m, length(vars), label)
  } else if (bs == "sos") {
    sphere_m(m, label)
  } else {
    check_m(m, if (factor_smooth) base_bs %||% "tp" else bs, label)
  }
  if (!bs %in% c("re", "mrf") && k >= 0) {
    # As mgcv's constructors: a negative k means the default, a smaller one than the
    # basis can have is raised to its minimum (a P-spline's is an error, as in mgcv).
    if (factor_smooth) {
      k <- raise_k(k, base_bs %||% "tp", length(vars) - 1L, m, label)
    } else {
      k <- raise_k(k, bs, length(vars), m, label)
    }
  }
  structure(
    c(list(term = vars, dim = length(vars), k = as.numeric(k), bs = bs, m = m,
           by = by_name, label = label, id = if (!is.null(id)) as.character(id),
           base_bs = if (factor_smooth) base_bs %||% "tp", tp_sample = tp_sample,
           mrf_xt = if (bs == "mrf") xt),
      penalty_arguments(fx, sp, pc, vars, bs, label), term_call(sys.call(), parent.frame())),
    class = "warmgam_smooth_spec"
  )
}

# The term's call as written and where it was evaluated, for mgcv's constructor
# should the data ask for it (matrix covariates, mgcv_term()).
term_call <- function(call, env) list(call = call, call_env = env)

# A term's `fx`, `sp` and `pc`, checked, as the spec keeps them: `fixed` (a flag),
# `sp` (NULL, or one value per penalty, NA to estimate) and `point` (NULL, or the
# constraint's covariate values in the term's order).
penalty_arguments <- function(fx, sp, pc, vars, bs, label) {
  if (!is.logical(fx) || length(fx) == 0L || anyNA(fx)) {
    abort(sprintf("`fx` of `%s` must be TRUE or FALSE.", label), "argument")
  }
  if (length(fx) > 1L && length(unique(fx)) > 1L) {
    abort(sprintf(paste(
      "`fx = %s` of `%s` fixes some margins only, which warmgam does not support yet;",
      "give one value for the whole term."
    ), deparse_one(fx), label), "argument")
  }
  fixed <- isTRUE(fx[[1]])
  if (!is.null(sp) && (!is.numeric(sp) || length(sp) == 0L || anyNA(sp) || any(!is.finite(sp)))) {
    abort(sprintf("`sp` of `%s` must be numbers (negative to estimate).", label), "argument")
  }
  if ((fixed || !is.null(pc)) && bs %in% c("re", "fs", "sz")) {
    abort(sprintf("`%s` of `%s` does not apply to `bs = \"%s\"`; remove it.",
                  if (fixed) "fx" else "pc", label, bs), "argument")
  }
  if (fixed && !is.null(sp)) {
    abort(sprintf("`%s` has `fx = TRUE` (no smoothing parameter) and `sp`; give one of them.", label), "argument")
  }
  list(fixed = fixed, sp = if (!is.null(sp)) ifelse(sp < 0, NA_real_, as.double(sp)),
       point = point_constraint(pc, vars, label))
}

# mgcv's `pc`: one value per covariate, matched by name when named, else in order.
point_constraint <- function(pc, vars, label) {
  if (is.null(pc)) return(NULL)
  pc <- as.list(pc)
  if (length(pc) < length(vars)) {
    abort(sprintf("`pc` of `%s` must give a value for each covariate (%s).", label,
                  paste(vars, collapse = ", ")), "argument")
  }
  if (is.null(names(pc))) names(pc) <- vars[seq_along(pc)]
  point <- lapply(vars, function(v) pc[[v]])
  ok <- vapply(point, function(v) is.numeric(v) && length(v) == 1L && is.finite(v), logical(1))
  if (!all(ok)) {
    abort(sprintf("`pc` of `%s` must hold one finite number for `%s`.", label, vars[!ok][[1]]), "argument")
  }
  as.double(unlist(point))
}

#' Tensor product smooths in a warmgam formula
#'
#' Used inside the formula of [gam_fit()], as in mgcv. `te(x, z)` is a smooth
#' function of `x` and `z` built as the tensor product of a marginal basis for each
#' covariate, with one smoothing parameter per margin: each direction gets its own
#' smoothness, and the fit does not depend on the covariates' units (unlike an
#' isotropic `s(x, z)`). `ti(x, z)` is the same product without the main effects (each
#' margin is centred), for models such as `y ~ s(x) + s(z) + ti(x, z)` that separate
#' an interaction from the main effects.
#'
#' A smooth nested in another (`s(x) + te(x, z)`, `s(x) + s(x, z)`, `s(x, by = f) +
#' te(x, z, by = f)`) is made identifiable as mgcv's `gam.side()` does: the larger
#' term loses the columns of its basis that the smaller terms (and the intercept)
#' already span, the same columns mgcv deletes, and its penalties lose the matching
#' rows and columns. The fit, `predict()`, `plot()` and `summary()` are mgcv's. Random
#' effects and factor smooths are exempt, as in mgcv. For an interaction without the
#' main effects, `ti()` is the cleaner model.
#'
#' @param ... The covariates (unquoted names). mgcv's arguments `np`, `xt` (and
#'   `mc` for `ti()`) are accepted: given with a value other than mgcv's default
#'   (`np = TRUE`, `NULL`), the term is built by mgcv's constructor
#'   (`mgcv::smoothCon()`) and predicted by mgcv's `PredictMat()`, except `xt` for
#'   `"mrf"` margins: as in mgcv, one value for every margin (`xt = list(nb = nb)`)
#'   or one per margin (`xt = list(list(polys = polys), NULL)`), the geography of
#'   each `"mrf"` margin (see [s()]). Any other named argument is an error naming it.
#' @param k The basis dimension of each margin: one number for all, or one per
#'   margin. The default is 5 per dimension of the margin (`5^d`), as mgcv. As in
#'   mgcv, `k` is rounded, a value below 3 sets every margin to the default with a
#'   warning, and a margin's `k` below its basis's minimum is raised to it (see
#'   [s()]).
#' @param bs The basis of each margin, for all margins or one per margin: `"cr"` (the
#'   default), `"cc"`, `"ps"`, `"cp"`, `"bs"`, `"mrf"` (a factor of regions, its
#'   geography in `xt`; below the number of regions, `k` gives mgcv's reduced rank:
#'   the default 5 does), `"gp"` (a Gaussian process, of one or more covariates),
#'   `"sf"` and `"sw"` (soap film parts of two covariates, `xt` per margin holding
#'   the boundary),
#'   `"tp"` and `"ts"` natively (a `"bs"` margin's several penalty orders have mgcv
#'   build the term); any other class mgcv's `te()` takes has the term built by
#'   mgcv's constructor. As in mgcv, a margin of several covariates (see `d`) given
#'   `"cr"`, `"cs"`, `"ps"` or `"cp"` is a thin plate spline.
#' @param m The penalty order of each margin (`NA` for the default): one value for
#'   all, one per margin, or a list with one entry per margin (for a `"ps"` margin
#'   `c(basis, penalty)`, for a `"gp"` margin its correlation function, range and
#'   power), each read as [s()] reads it.
#' @param d The number of covariates in each margin, summing to the number of
#'   covariates: `te(x, z, t, d = c(2, 1))` is a thin plate spline of `x` and `z`
#'   times a smooth of `t`. The default is one covariate per margin.
#' @param by A numeric variable multiplying the smooth, or a factor giving one smooth
#'   per level, as for [s()].
#' @param id A label: terms with the same `id` share their smoothing parameters.
#' @param fx `TRUE` for an unpenalized tensor product (one value, or the same value
#'   for every margin).
#' @param sp The term's own smoothing parameters, one per margin (negative to
#'   estimate); they override `gam_fit(sp = )`.
#' @param pc A point constraint: the term is zero at these covariate values (see
#'   [s()]).
#' @returns A `warmgam_smooth_spec` object describing the term.
#' @examples
#' te(x, z)
#' te(x, z, k = c(6, 8), bs = c("cr", "ps"))
#' ti(x, z)
#' te(lon, lat, time, d = c(2, 1), bs = c("tp", "cr"))
#' @export
te <- function(..., k = NA, bs = "cr", m = NA, d = NA, by = NA, id = NULL, fx = FALSE, sp = NULL, pc = NULL) {
  dots <- split_term_dots(substitute(list(...)))
  by_name <- by_variable_name(substitute(by))
  label <- term_label("te", dots$vars, by_name)
  xt <- tensor_xt(dots$extras, "te", bs, dots$vars, d, label, parent.frame())
  if (isFALSE(xt) || !all(bs %in% margin_classes) || !native_margin_m(m, bs)) {
    return(mgcv_term(sys.call(), parent.frame()))
  }
  c_spec(tensor_spec("te", dots$vars, k, bs, m, d, by_name, id, xt),
         c(penalty_arguments(fx, sp, pc, dots$vars, "te", label), term_call(sys.call(), parent.frame())))
}

#' @rdname te
#' @export
ti <- function(..., k = NA, bs = "cr", m = NA, d = NA, by = NA, id = NULL, fx = FALSE, sp = NULL, pc = NULL) {
  dots <- split_term_dots(substitute(list(...)))
  by_name <- by_variable_name(substitute(by))
  label <- term_label("ti", dots$vars, by_name)
  xt <- tensor_xt(dots$extras, "ti", bs, dots$vars, d, label, parent.frame())
  if (isFALSE(xt) || !all(bs %in% margin_classes) || !native_margin_m(m, bs)) {
    return(mgcv_term(sys.call(), parent.frame()))
  }
  c_spec(tensor_spec("ti", dots$vars, k, bs, m, d, by_name, id, xt),
         c(penalty_arguments(fx, sp, pc, dots$vars, "ti", label), term_call(sys.call(), parent.frame())))
}

# Whether a tensor product's `m` is one warmgam reads: a value per margin or one for
# all, or a list of them (a margin whose `m` is a vector: a Gaussian process's
# settings, a B-spline's degree and penalty order). A "bs" margin with several
# penalty orders (mgcv's te() then refuses it) and a thin plate margin without its
# null space (`c(2, 0)`) are mgcv's.
native_margin_m <- function(m, bs) {
  if (!is.list(m)) return(TRUE)
  bs <- rep_len(bs, length(m))
  readable <- vapply(m, function(v) is.numeric(v) || (length(v) == 1L && is.na(v)), logical(1))
  several <- lengths(m) > 2L & bs == "bs"
  no_null <- vapply(seq_along(m), function(i) {
    bs[[i]] %in% c("tp", "ts") && length(m[[i]]) == 2L && isTRUE(m[[i]][[2]] == 0)
  }, logical(1))
  all(readable & !several & !no_null)
}

# A term spec with more fields.
c_spec <- function(spec, more) structure(c(unclass(spec), more), class = class(spec))

#' Tensor product smooths with a penalty per component: mgcv's t2()
#'
#' Used inside the formula of [gam_fit()]: `t2(x, z)` is Wood, Scheipl & Faraway's
#' (2013) tensor product, with a separate penalty for each product of the margins'
#' penalized and unpenalized parts. warmgam builds it with mgcv's own constructor
#' (`mgcv::t2()` and `mgcv::smoothCon()`), fits it with its engine and predicts it
#' with mgcv's `PredictMat()`; the arguments are mgcv's.
#'
#' @param ... The covariates (unquoted names), and any other argument of mgcv's
#'   `t2()` (`k`, `bs`, `m`, `d`, `by`, `xt`, `id`, `sp`, `full`, `ord`, `pc`).
#' @returns A `warmgam_smooth_spec` object describing the term.
#' @examples
#' t2(x, z)
#' t2(x, z, full = TRUE)
#' @export
t2 <- function(...) mgcv_term(sys.call(), parent.frame())

# A term warmgam has no native code for (a class of mgcv's or of the user's own
# `smooth.construct` method, `t2()`, or an argument only mgcv's constructor reads),
# as mgcv's own term spec: `call` (the s()/te()/ti()/t2() call as written) evaluated
# with mgcv's function in `env`. It is built on the data by mgcv's smoothCon() and
# fitted by the engine as a penalized block; mgcv's PredictMat() predicts it.
mgcv_term <- function(call, env) {
  kind <- sub("^.*::", "", deparse_one(call[[1]]))
  call[[1]] <- call("::", as.name("mgcv"), as.name(kind))
  spec <- tryCatch(eval(call, env), error = function(e) {
    abort(sprintf("mgcv cannot make the term `%s`: %s", deparse_one(call), conditionMessage(e)), "basis")
  })
  # From mgcv's namespace: its own classes, and those defined on the search path.
  method <- utils::getS3method("smooth.construct", class(spec)[[1]], optional = TRUE, envir = asNamespace("mgcv"))
  if (is.null(method)) {
    abort(sprintf(paste(
      "Unknown basis in `%s`: neither warmgam nor mgcv has a constructor for class \"%s\"",
      "(a `smooth.construct.%s()` method)."
    ), deparse_one(call), class(spec)[[1]], class(spec)[[1]]), "basis")
  }
  structure(
    list(term = spec$term, dim = spec$dim, k = -1, bs = "mgcv", m = NA,
         by = if (!identical(spec$by, "NA")) spec$by, label = spec$label,
         id = if (!is.null(spec$id)) as.character(spec$id), mgcv = spec, mgcv_class = class(spec)[[1]]),
    class = "warmgam_smooth_spec"
  )
}

# The `...` of a term constructor: its unnamed entries are the covariates (their
# names as text); named entries are other arguments (mgcv's `fx`, `sp`, ...).
split_term_dots <- function(dots) {
  dots <- as.list(dots)[-1]
  named <- if (is.null(names(dots))) rep(FALSE, length(dots)) else nzchar(names(dots))
  list(vars = vapply(dots[!named], deparse_one, character(1)), extras = dots[named])
}

term_label <- function(kind, vars, by_name) {
  label <- paste0(kind, "(", paste(vars, collapse = ","), ")")
  if (!is.null(by_name)) label <- paste0(label, ":", by_name)
  label
}

# The name of a term's `by` variable (the expression as text), or NULL for none
# (mgcv's default `by = NA`).
by_variable_name <- function(expr) {
  if (length(expr) == 1L && is.atomic(expr) && is.na(expr)) return(NULL)
  deparse_one(expr)
}

# A fitted term's `by` variable name, or NULL. Fits made by warmgam 0.5.1 and
# earlier kept mgcv's text "NA" for none.
smooth_by_name <- function(sm) {
  if (identical(sm$by_name, "NA")) NULL else sm$by_name
}

# The arguments of mgcv's te() and ti() that warmgam's native code does not read,
# with the value that means "not used" (mgcv's default); any other value has the
# term built by mgcv's constructor (mgcv_term()).
term_extras <- list(
  np = list(default = TRUE, kinds = c("te", "ti")),
  xt = list(default = NULL, kinds = c("te", "ti")),
  mc = list(default = NULL, kinds = "ti")
)

# A tensor term's `xt`, one entry per margin as mgcv's te() reads it (one value, or
# NULL, for every margin; else one per margin), when warmgam builds the term: its
# Markov random field margins' geographies. FALSE when the term's other arguments
# or an `xt` for another class have mgcv build it.
tensor_xt <- function(extras, kind, bs, vars, d, label, env) {
  if (!check_term_extras(extras[names(extras) != "xt"], kind, label, env)) return(FALSE)
  n <- if (length(d) == 1L && is.na(d)) length(vars) else length(d)
  xt <- if ("xt" %in% names(extras)) tryCatch(eval(extras$xt, env), error = function(e) e)
  if (inherits(xt, "error")) return(FALSE)
  if (!any(bs %in% c("mrf", soap_margin_classes))) return(if (is.null(xt)) vector("list", n) else FALSE)
  per_margin <- if (is.null(xt) || length(xt) == 1L) rep(list(xt), n) else if (length(xt) == n) xt else return(FALSE)
  bs <- rep_len(bs, n)
  d <- if (length(d) == 1L && is.na(d)) rep(1, n) else rep_len(d, n)
  for (i in seq_len(n)) {
    if (bs[[i]] == "mrf") {
      check_mrf_xt(per_margin[[i]], label)
    } else if (bs[[i]] %in% soap_margin_classes) {
      # (A soap film margin's boundary; known values are mgcv's, as are its other
      # settings.)
      xt_i <- per_margin[[i]]
      if (d[[i]] != 2 || !soap_native(c("x", "y"), xt_i, bs[[i]], NULL) ||
            any(vapply(xt_i$bnd, function(l) !is.null(l$f), logical(1)))) {
        return(FALSE)
      }
    } else if (!is.null(per_margin[[i]]) && !bs[[i]] %in% c("cr", "cc", "ps", "cp", "bs")) {
      # (Those classes read no `xt`; what a thin plate margin would read is mgcv's.)
      return(FALSE)
    }
  }
  per_margin
}

# Whether `value` is mgcv's default `default` (for a flag, given once or per margin).
is_term_default <- function(value, default) {
  if (is.logical(default)) {
    return(is.logical(value) && length(value) >= 1L && !anyNA(value) && all(value == default))
  }
  identical(value, default)
}

# Named arguments of a term that warmgam's constructor has no parameter for (they
# arrive in `...`, and would otherwise be taken for covariates): an argument mgcv's
# constructor does not have is refused, naming it. Returns whether all the others
# hold mgcv's default value (else mgcv's constructor builds the term).
check_term_extras <- function(extras, kind, label, env) {
  defaults <- TRUE
  for (name in names(extras)) {
    known <- term_extras[[name]]
    if (is.null(known) || !kind %in% known$kinds) {
      abort(sprintf("`%s()` has no argument `%s` (in `%s`); remove it.", kind, name, label), "argument")
    }
    value <- tryCatch(eval(extras[[name]], env), error = function(e) e)
    if (inherits(value, "error") || !is_term_default(value, known$default)) defaults <- FALSE
  }
  defaults
}

# The classes a margin of te() or ti() can use.
margin_classes <- c("cr", "cc", "ps", "cp", "bs", "mrf", "gp", "tp", "ts", "sf", "sw")

# The spec of a te() or ti() term, its arguments checked against its margins.
tensor_spec <- function(kind, vars, k, bs, m, d, by_name, id, xt = NULL) {
  label <- paste0(kind, "(", paste(vars, collapse = ","), ")")
  if (length(vars) == 0L) abort(sprintf("`%s()` needs at least one covariate.", kind), "formula")
  if (length(d) == 1L && is.na(d)) d <- rep(1, length(vars))
  if (!is.numeric(d) || anyNA(d) || any(d < 1) || any(d != round(d)) || sum(d) != length(vars)) {
    abort(sprintf(
      "`d` of `%s` must give each margin's number of covariates, summing to %d; it is %s.",
      label, length(vars), deparse_one(d)
    ), "argument")
  }
  n_margins <- length(d)
  per_margin <- function(value, name) {
    if (length(value) == 1L) return(rep(value, n_margins))
    if (length(value) != n_margins) {
      abort(sprintf(
        "`%s` of `%s` must have one value or one per margin (%d); it has %d.",
        name, label, n_margins, length(value)
      ), "argument")
    }
    value
  }
  bs <- per_margin(bs, "bs")
  if (!is.character(bs) || any(!bs %in% margin_classes)) {
    abort(sprintf(
      "The margins of `%s` can use `bs` %s, not %s.",
      label, paste0("\"", margin_classes, "\"", collapse = ", "), deparse_one(bs)
    ), "basis")
  }
  # As mgcv's te(): a one-dimensional class asked for a margin of several covariates
  # becomes a thin plate spline.
  bs[d > 1 & bs %in% c("cr", "cs", "ps", "cp")] <- "tp"
  if (any(d > 1 & !bs %in% c("tp", "ts", "gp", soap_margin_classes))) {
    abort(sprintf("A margin of `%s` with several covariates must use `bs = \"tp\"`, `\"ts\"` or `\"gp\"`.", label),
          "basis")
  }
  if (any(d != 2 & bs %in% soap_margin_classes)) {
    abort(sprintf("A soap film margin of `%s` takes two covariates (`d`).", label), "basis")
  }
  if (!is.null(by_name)) label <- paste0(label, ":", by_name)
  k <- if (length(k) == 1L && is.na(k)) 5^d else per_margin(k, "k")
  if (!is.numeric(k) || anyNA(k) || any(!is.finite(k))) {
    abort(sprintf("`k` of `%s` must be numbers, one per margin or one for all.", label), "argument")
  }
  # As mgcv's te(): k is rounded, and any k below 3 sets every margin to the default.
  k <- round(k)
  if (any(k < 3)) {
    warn(sprintf(
      "`k` of `%s` has a value below 3: every margin's `k` was reset to the default (5 per covariate), as mgcv does.",
      label
    ))
    k <- 5^d
  }
  m <- if (length(m) == 1L && is.na(m)) rep(NA_real_, n_margins) else per_margin(m, "m")
  m <- lapply(seq_len(n_margins), function(i) if (bs[[i]] %in% soap_margin_classes) NA_real_ else check_m(m[[i]], bs[[i]], label))
  k <- vapply(seq_len(n_margins), function(i) {
    if (bs[[i]] %in% soap_margin_classes) return(k[[i]])
    raise_k(k[[i]], bs[[i]], d[[i]], m[[i]], label)
  }, numeric(1))
  if (!is.null(id) && (length(id) != 1L || is.na(id))) {
    abort(sprintf("`id` of `%s` must be a single label or number.", label), "argument")
  }
  last <- cumsum(d)
  margins <- lapply(seq_len(n_margins), function(i) {
    term <- vars[(last[i] - d[i] + 1):last[i]]
    list(term = term, dim = d[[i]], bs = bs[[i]], k = as.numeric(k[[i]]),
         m = m[[i]], mrf_xt = if (bs[[i]] == "mrf") xt[[i]],
         soap = if (bs[[i]] %in% soap_margin_classes) soap_settings(xt[[i]], k[[i]], term, label))
  })
  structure(
    list(term = vars, dim = length(vars), k = -1, bs = kind, m = NA, by = by_name, label = label,
         id = if (!is.null(id)) as.character(id), margins = margins),
    class = "warmgam_smooth_spec"
  )
}

# What warmgam takes from a term's `xt`, as mgcv's constructors take it: for a thin
# plate spline (also an "fs" term's tp base), `max.knots` and `seed`, the size of the
# random subsample of distinct points the basis is built on when there are more
# (default 2000) and the seed of its draw (default 1); for "fs", `bs`, the base
# basis (checked by s()). Any other use of `xt` (a random effect's penalty list
# `S`, ...) is refused, naming it. Returns list(max_knots, seed).
term_tp_sample <- function(xt, bs, base_bs, label) {
  out <- list(max_knots = 2000, seed = 1)
  if (is.null(xt)) return(out)
  factor_smooth <- bs %in% c("fs", "sz")
  tp <- bs %in% c("tp", "ts", "gp", "ds", "sos") || (factor_smooth && (base_bs %||% "tp") %in% c("tp", "ts"))
  allowed <- c(if (tp) c("max.knots", "seed"), if (factor_smooth) "bs")
  if (factor_smooth && is.character(xt)) return(out)
  unused <- if (is.list(xt) && !is.null(names(xt)) && all(nzchar(names(xt)))) setdiff(names(xt), allowed) else "?"
  if (length(unused)) {
    what <- if (identical(unused, "?")) "an unnamed value" else paste0("`", unused[[1]], "`")
    uses <- c(
      if (tp) "`list(max.knots = , seed = )` (the thin plate spline's point subsample)",
      if (factor_smooth) "the base basis (`\"tp\"` or `list(bs = )`)"
    )
    abort(sprintf(
      "`xt` of `%s` holds %s, which warmgam does not support for `bs = \"%s\"`; %s.",
      label, what, bs,
      if (length(uses)) paste("it takes only", paste(uses, collapse = " and ")) else "remove it"
    ), "argument")
  }
  for (name in intersect(names(xt), c("max.knots", "seed"))) {
    v <- xt[[name]]
    if (!is.numeric(v) || length(v) != 1L || !is.finite(v) || v != round(v) || (name == "max.knots" && v < 1)) {
      abort(sprintf("`xt$%s` of `%s` must be a single whole number%s.", name, label,
                    if (name == "max.knots") " of at least 1" else ""), "argument")
    }
    out[[if (name == "max.knots") "max_knots" else "seed"]] <- as.numeric(v)
  }
  out
}

# A term's (or margin's) `m`, checked against what the engine implements for basis
# `bs`, as mgcv reads it: for "tp"/"ts" the penalty order m[1] (0, negative or too low
# an order for the dimension means the default, as in mgcv; a second value of 0,
# mgcv's "drop the null space", is not implemented); for "ps" c(B-spline order - 2,
# penalty order), one value meaning both; "cr", "cs", "cc" and "re" have a fixed
# penalty and, as in mgcv, do not use `m`.
check_m <- function(m, bs, label) {
  if (length(m) == 1L && is.na(m)) return(NA_real_)
  if (bs == "gp") return(check_gp_m(m, label))
  # A "bs" spline takes its degree and any number of penalized derivative orders.
  most <- if (bs == "bs") Inf else 2L
  if (!is.numeric(m) || length(m) == 0L || length(m) > most || anyNA(m) || any(!is.finite(m)) ||
        any(m != round(m))) {
    abort(sprintf(
      "`m` of `%s` must be %s whole numbers (or NA for the default), not %s.", label,
      if (bs == "bs") "one or more" else "one or two", deparse_one(m)
    ), "argument")
  }
  if (bs %in% c("tp", "ts") && length(m) == 2L && m[[2]] == 0) {
    abort(sprintf(paste(
      "`m = %s` of `%s` asks mgcv to drop the thin plate spline's null space, which warmgam",
      "does not support yet; give the penalty order alone (`m = %d`)."
    ), deparse_one(m), label, as.integer(m[[1]])), "argument")
  }
  if (bs %in% c("ps", "cp") && any(m < 0)) {
    abort(sprintf(
      "`m` of `%s` (a P-spline's `c(basis order - 2, penalty order)`) must not be negative; it is %s.",
      label, deparse_one(m)
    ), "argument")
  }
  if (bs == "bs" && any(m < 0)) {
    abort(sprintf(
      "`m` of `%s` (a B-spline's `c(degree, penalized derivative orders)`) must not be negative; it is %s.",
      label, deparse_one(m)
    ), "argument")
  }
  if (bs == "bs" && length(m) > 1L && any(m[-1] > m[[1]])) {
    abort(sprintf(
      "`m` of `%s`: a derivative of order above the degree %d of the B-splines is zero; penalize orders up to %d.",
      label, as.integer(m[[1]]), as.integer(m[[1]])
    ), "argument")
  }
  if (bs == "bs" && anyDuplicated(m[-1])) {
    abort(sprintf("`m` of `%s` penalizes a derivative order twice; give each order once.", label), "argument")
  }
  m
}

# A Gaussian process's `m`, as mgcv reads it: the correlation function (1
# spherical, 2 power exponential, 3-5 Matern 1.5, 2.5, 3.5; negative: stationary,
# only a constant unpenalized), the range (non-positive: the largest distance
# between knots) and the power exponential's power in (0, 2].
check_gp_m <- function(m, label) {
  ok <- is.numeric(m) && length(m) >= 1L && length(m) <= 3L && !anyNA(m) && all(is.finite(m)) &&
    abs(m[[1]]) == round(abs(m[[1]])) && abs(m[[1]]) >= 1 && abs(m[[1]]) <= 5 &&
    (length(m) < 3L || (m[[3]] > 0 && m[[3]] <= 2))
  if (!ok) {
    abort(sprintf(paste(
      "`m` of `%s` must be `c(type, range, power)` as in mgcv's Gaussian process smooths: type 1 to 5",
      "(negative for a stationary process), a range (0 or less for the default) and a power in (0, 2]; it is %s."
    ), label, deparse_one(m)), "argument")
  }
  m
}

# A Duchon spline's `m = c(m, s)` as mgcv's constructor settles it: defaults
# c(2, 0), m a whole number of at least 1, s a multiple of 1/2 with |s| < d/2, moved
# (with mgcv's warnings) to give a continuous function, 2(m + s) > d.
# A spline on the sphere's `m`, the kernel's order, as mgcv reads it: rounded, above
# 4 taken as 4 and below -2 as -1 (with a warning here). NA for mgcv's default, 0.
sphere_m <- function(m, label) {
  if (length(m) == 1L && is.na(m)) return(NA_real_)
  if (!is.numeric(m) || length(m) != 1L || !is.finite(m)) {
    abort(sprintf("`m` of `%s` must be one whole number from -2 to 4 (the penalty's order), not %s.",
                  label, deparse_one(m)), "argument")
  }
  order <- round(m)
  if (order > 4) order <- 4
  if (order < -2) order <- -1
  if (order != m) warn(sprintf("`m` of `%s` was taken as %d, as mgcv does.", label, order))
  if (order == 0) NA_real_ else as.double(order)
}

duchon_m <- function(m, d, label) {
  if (!is.numeric(m) && !all(is.na(m)) || length(m) > 2L || length(m) == 0L) {
    abort(sprintf("`m` of `%s` must be `c(m, s)` as in mgcv's Duchon splines, not %s.", label, deparse_one(m)),
          "argument")
  }
  m <- as.double(m)
  if (is.na(m[1])) m[1] <- 2
  if (length(m) < 2L || is.na(m[2])) m[2] <- 0
  m[1] <- max(1, round(m[1]))
  m[2] <- round(m[2] * 2) / 2
  if (m[2] >= d / 2) {
    m[2] <- (d - 1) / 2
    warn(sprintf("`s` (m[2]) of `%s` reduced to %g, as mgcv does.", label, m[2]))
  }
  if (m[2] <= -d / 2) {
    m[2] <- -(d - 1) / 2
    warn(sprintf("`s` (m[2]) of `%s` increased to %g, as mgcv does.", label, m[2]))
  }
  if (sum(m) <= d / 2) {
    m[2] <- 1 / 2 + d / 2 - m[1]
    if (m[2] >= d / 2) abort(sprintf("No suitable `s` (m[2]) for `%s`: increase m[1].", label), "argument")
    warn(sprintf("`s` (m[2]) of `%s` modified to %g to give a continuous function, as mgcv does.", label, m[2]))
  }
  m
}

# The smallest basis dimension of basis `bs` in `dim` covariates with penalty order
# `m` (mgcv's minimum: a thin plate spline needs one column beyond its null space).
min_basis_k <- function(bs, dim, m) {
  m1 <- if (length(m) && !is.na(m[[1]])) m[[1]] else NA
  switch(bs,
    tp = , ts = tp_null_space_dim(dim, m1) + 1,
    cr = , cs = 3,
    cc = 4,
    ps = {
      m1 <- if (is.na(m1)) 2 else m1
      m2 <- if (length(m) > 1L && !is.na(m[[2]])) m[[2]] else m1
      max(m1 + 2, m2 + 1)
    },
    # mgcv: k + 1 knots and B-splines of order m[1] + 2 on them; a cyclic
    # order-m[2] difference needs k > m[2].
    cp = {
      m1 <- if (is.na(m1)) 2 else m1
      m2 <- if (length(m) > 1L && !is.na(m[[2]])) m[[2]] else m1
      max(m1 + 2, m2 + 1)
    },
    bs = if (is.na(m1)) 4 else m1 + 1,
    gp = dim + 2,
    ds = choose(m[[1]] + dim - 1, dim) + 1,
    sos = 2,
    1
  )
}

# The number of polynomials of degree below `m` in `dim` covariates, the null space
# of a thin plate spline penalty of order `m` (Wood 2003). An order with 2m <= dim
# (or none) is replaced by the smallest with 2m >= dim + 2, as mgcv does.
tp_null_space_dim <- function(dim, m) {
  if (is.na(m) || 2 * m <= dim) m <- ceiling((dim + 2) / 2)
  choose(m + dim - 1, dim)
}

# `k` raised to the basis's minimum with mgcv's warning; for a P-spline, whose
# smallest k depends on its order, too small a k is an error as in mgcv.
raise_k <- function(k, bs, dim, m, label) {
  min_k <- min_basis_k(bs, dim, m)
  if (k < 0 || k >= min_k) return(k)
  if (bs %in% c("ps", "cp", "bs")) {
    abort(sprintf(
      "`k` of `%s` is %d, too small for its %s basis: give at least %d (or a negative k for the default).",
      label, as.integer(k), if (bs == "bs") "B-spline" else "P-spline", as.integer(min_k)
    ), "argument")
  }
  warn(sprintf(
    "basis dimension, k, of `%s` increased to minimum possible (%d for `bs = \"%s\"`), as mgcv does.",
    label, as.integer(min_k), bs
  ))
  as.numeric(min_k)
}

deparse_one <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = " ")

smooth_call_names <- c("s", "warmgam::s", "mgcv::s", "te", "warmgam::te", "mgcv::te", "ti", "warmgam::ti", "mgcv::ti",
                       "t2", "warmgam::t2", "mgcv::t2")

# Splits `formula` into the response, the parametric term labels, the offset
# expressions and the smooth specs. Smooth calls are evaluated with warmgam's s()
# whichever package is attached.
interpret_formula <- function(formula, env = environment(formula)) {
  if (!inherits(formula, "formula") || length(formula) != 3L) {
    abort("`formula` must be a two-sided formula such as `y ~ s(x)`.", "formula")
  }
  tt <- stats::terms(formula)
  labels <- attr(tt, "term.labels")
  variables <- as.list(attr(tt, "variables"))[-1]
  offsets <- attr(tt, "offset")
  offset_exprs <- if (length(offsets)) variables[offsets] else list()
  is_smooth <- vapply(labels, function(lab) {
    e <- str2lang(lab)
    if (!is.call(e)) return(FALSE)
    deparse_one(e[[1]]) %in% smooth_call_names
  }, logical(1))
  smooth_env <- list2env(list(s = s, te = te, ti = ti, t2 = t2), parent = env)
  smooths <- lapply(labels[is_smooth], function(lab) {
    e <- str2lang(lab)
    e[[1]] <- as.name(sub("^.*::", "", deparse_one(e[[1]])))
    eval(e, smooth_env)
  })
  bad <- labels[!is_smooth][grepl("(^|[^a-zA-Z0-9._])(s|te|ti|t2)\\(", labels[!is_smooth])]
  if (length(bad)) {
    abort(sprintf("Smooth terms cannot be interacted with other terms: `%s`.", bad[[1]]), "formula")
  }
  list(
    response = formula[[2]],
    parametric = labels[!is_smooth],
    intercept = attr(tt, "intercept") == 1L,
    offsets = offset_exprs,
    smooths = smooths
  )
}

# Nested smooths, made identifiable as mgcv's gam.side() does: a term whose
# covariates (each with the term's `by` variable and level) include a covariate of
# a smaller term (fewer covariates, or as many and earlier) can represent some of
# that term's functions, and the engine deletes those of its columns
# (src/rust/src/fit/nesting.rs). For each engine term: NULL, or `list(lower =
# <0-based indices of the smaller terms, in mgcv's order>, constant = <whether the
# parametric columns span a constant>)`. Random effects and factor smooths are left
# out, as in mgcv; a ti() term is not checked (its margins are centred, so it holds
# no function of fewer of its covariates: mgcv's check deletes nothing there) but is
# checked against.
side_constraints <- function(smooths, xp, intercept_only) {
  if (length(smooths) < 2L) return(vector("list", length(smooths)))
  names <- lapply(smooths, function(sm) paste0(sm$term, sm$by_name %||% "", sm$by_level %||% ""))
  all_names <- unlist(names)
  sides <- vector("list", length(smooths))
  if (!anyDuplicated(all_names)) return(sides)
  dims <- lengths(lapply(smooths, `[[`, "term"))
  constrained <- vapply(smooths, function(sm) !sm$bs %in% c("re", "fs", "sz") && !isFALSE(sm$side_constrain), logical(1))
  if (max(dims) == 1L) warn("The model has repeated 1-d smooths of the same variable (mgcv warns the same).")
  order <- which(constrained)[order(dims[constrained], which(constrained))]
  # The terms using each covariate, by number of covariates then position.
  users <- lapply(stats::setNames(nm = unique(all_names)), function(v) {
    order[vapply(order, function(i) v %in% names[[i]], logical(1))]
  })
  constant <- NULL
  for (i in order) {
    if (smooths[[i]]$bs == "ti") next
    lower <- integer()
    for (v in names[[i]]) {
      b <- users[[v]]
      lower <- union(lower, b[seq_len(match(i, b) - 1L)])
    }
    if (!length(lower)) next
    constant <- constant %||% spans_constant(xp, intercept_only)
    sides[[i]] <- list(lower = as.double(lower - 1L), constant = constant)
  }
  sides
}

# Whether the parametric model matrix spans a constant, as gam.side() decides it: a
# column that does not vary, or the constant fitted exactly by all of them (a
# factor's full set of levels without an intercept).
spans_constant <- function(xp, intercept_only) {
  if (intercept_only) return(TRUE)
  if (ncol(xp) == 0L) return(FALSE)
  if (any(apply(xp, 2, stats::sd) < .Machine$double.eps^0.75)) return(TRUE)
  ones <- rep(1, nrow(xp))
  max(abs(qr.fitted(qr(xp), ones) - ones)) < .Machine$double.eps^0.75
}

# The formula of the parametric part (with any offset() terms).
parametric_formula <- function(parts, env) {
  rhs <- c(parts$parametric, vapply(parts$offsets, deparse_one, character(1)))
  if (!parts$intercept) rhs <- c(rhs, "-1")
  if (length(rhs) == 0L) rhs <- "1"
  f <- stats::as.formula(paste(deparse_one(parts$response), "~", paste(rhs, collapse = " + ")), env = env)
  f
}

# A formula naming every variable the model uses, for model.frame().
frame_formula <- function(parts, env) {
  smooth_vars <- unique(unlist(lapply(parts$smooths, function(sm) {
    c(sm$term, sm$by)
  })))
  rhs <- c(parts$parametric, vapply(parts$offsets, deparse_one, character(1)), smooth_vars)
  if (length(rhs) == 0L) rhs <- "1"
  stats::as.formula(paste(deparse_one(parts$response), "~", paste(rhs, collapse = " + ")), env = env)
}
