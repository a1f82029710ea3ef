# as_mgcv(): an mgcv "gam" object for a warmgam fit, so that the tools written for
# mgcv's class (predict.gam(), plot.gam(), vis.gam(), gam.check(), gam.vcomp(),
# summary.gam(), gratia, itsadug) work on it.
#
# warmgam's bases span the same spaces as mgcv's but differ by column signs and
# rotations, so its coefficients cannot be copied into mgcv's object. Instead mgcv
# fits the same model at warmgam's smoothing parameters (and the negative binomial
# theta or Tweedie power warmgam chose): with every smoothing parameter given,
# mgcv::gam() does no smoothing parameter search but one penalized fit, and every
# component of the result (coefficients, Vp, Ve, edf, the smooths) is mgcv's own, at
# warmgam's optimum.

#' Convert a warmgam fit to an mgcv "gam" object
#'
#' Builds mgcv's own object for the model of a [gam_fit()] fit, fitted by
#' `mgcv::gam()` at the smoothing parameters warmgam chose (and, for [nb()] and
#' [tw()], at its estimate of `theta` or of the power `p`, held fixed). Since the
#' smoothing parameters are given, mgcv runs one penalized fit, without a search. The
#' result is a true `"gam"` object: every component (coefficients in mgcv's basis,
#' `Vp`, `Ve`, `edf`, the smooths) is mgcv's, so that `mgcv::predict.gam()`,
#' `plot.gam()`, `vis.gam()`, `gam.check()`, `gam.vcomp()`, `summary.gam()` and
#' packages built on them (gratia, itsadug) work on it, and its predictions, fitted
#' values and edf are those of the warmgam fit.
#'
#' The data are the fit's model frame (`fit$model`) when it holds every variable the
#' formula names; otherwise (a response or offset such as `log(y)` or `offset(log(t))`)
#' the `data` of the fit's call, looked up in the formula's environment, or the
#' `data` given here. The knots are those of the call (`knots = `), or those given.
#'
#' mgcv's `"cs"` penalty, and the null-space basis of its `"fs"` terms with a base
#' of more than one null-space dimension (`m = 2` for `"tp"`), are set by rounding
#' in its eigen routine (see [s()]): for such terms mgcv's fit at warmgam's
#' smoothing parameters differs from warmgam's (by ~1e-3 relative), with a warning.
#'
#' The smoothing parameters were chosen by warmgam's search, which the object
#' describes in `mgcv.conv` (iterations, gradient, whether the Hessian was positive
#' definite; `gam.check()` prints it); `outer.info` is `NULL`, so
#' `mgcv::gam.vcomp()` gives standard deviations without confidence intervals (use
#' [gam_vcomp()] for them).
#'
#' @param fit A warmgam fit, from [gam_fit()].
#' @param data Optional data frame with the variables of the fit's formula (the data
#'   the model was fitted to), used instead of those found as described above.
#' @param knots Optional knots, as given to [gam_fit()]; by default those of the
#'   fit's call.
#' @returns An object of class `c("gam", "glm", "lm")` as `mgcv::gam()` returns,
#'   with `sp` equal to the warmgam fit's smoothing parameters and `gcv.ubre` its
#'   criterion (mgcv's value at those smoothing parameters). A warning is given when
#'   mgcv's fitted values differ from warmgam's by more than 1e-6 (relative).
#'   Requires the mgcv package.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + am, data = mtcars)
#' if (requireNamespace("mgcv", quietly = TRUE)) {
#'   g <- as_mgcv(fit)
#'   class(g)
#'   nd <- data.frame(hp = c(100, 200), wt = c(2.5, 3.5), am = c(0, 1))
#'   # The same predictions (and standard errors) as warmgam's.
#'   mgcv::predict.gam(g, nd, se.fit = TRUE)
#'   predict(fit, nd, se.fit = TRUE)
#'   summary(g)
#' }
#' \dontshow{options(op)}
#' @export
as_mgcv <- function(fit, data = NULL, knots = NULL) {
  if (!inherits(fit, "warmgam")) {
    abort(sprintf(
      "`fit` must be a warmgam fit made by `gam_fit()`, not an object of class `%s`.",
      paste(class(fit), collapse = "/")
    ), "argument")
  }
  if (!requireNamespace("mgcv", quietly = TRUE)) {
    abort("`as_mgcv()` needs the mgcv package; install it with `install.packages(\"mgcv\")`.", "argument")
  }
  if (!is.null(data) && !is.data.frame(data)) {
    abort("`data` must be a data frame holding the variables of the fit's formula.", "argument")
  }
  env <- environment(fit$formula) %||% globalenv()
  formula <- mgcv_formula(fit$formula, env)
  mf <- fit$model
  data <- as_mgcv_data(fit, data, formula, env)
  for (extra in c("(weights)", "(offset)")) {
    if (!is.null(mf[[extra]])) data[[paste0(".warmgam", gsub("[()]", "", extra))]] <- mf[[extra]]
  }
  if (is.null(knots) && !is.null(fit$call$knots)) {
    knots <- tryCatch(eval(fit$call$knots, env), error = function(e) {
      abort(sprintf("Could not find the knots of the fit's call (%s); give them as `knots`.",
                    conditionMessage(e)), "argument")
    })
  }
  select <- if (is.null(fit$call$select)) FALSE else isTRUE(eval(fit$call$select, env))
  sp <- if (length(fit$sp)) fit$sp
  # mgcv fits from the data (with any weights and offset as its columns) and the
  # control, named in the call as `.warmgam_data` and `.warmgam_control` in the
  # formula's environment (a child of the user's, with mgcv's s(), te(), ti()).
  cl <- call("gam", formula = formula, data = quote(.warmgam_data), family = mgcv_family(fit$family),
             method = fit$method, gamma = fit$gamma, select = select,
             control = quote(.warmgam_control))
  cl[[1]] <- quote(mgcv::gam)
  if (!is.null(mf[["(weights)"]])) cl$weights <- quote(.warmgamweights)
  if (!is.null(mf[["(offset)"]])) cl$offset <- quote(.warmgamoffset)
  if (!is.null(knots)) cl$knots <- knots
  if (!is.null(sp)) cl$sp <- unname(sp)
  # A binomial or Poisson fit with an estimated scale (GCV, `scale < 0`).
  if (fit$scale.estimated && scale_known(fit$family)) cl$scale <- -1
  fenv <- environment(formula)
  fenv$.warmgam_data <- data
  # mgcv's default convergence tolerance of the penalized IRLS (1e-7) leaves
  # non-Gaussian fits ~1e-8 from the converged fit; warmgam's are converged further.
  fenv$.warmgam_control <- mgcv::gam.control(epsilon = 1e-12)
  g <- eval(cl, fenv)
  # The object's call and formula are then those of the user's model, as for an
  # mgcv fit of it: the call names the fit's data, weights and offset as the
  # warmgam call did (termplot(), for plot.gam(all.terms = TRUE), and update()
  # evaluate them in the formula's environment), with the smoothing parameters.
  environment(g$formula) <- env
  g$call <- user_gam_call(fit, cl, knots)
  # With every smoothing parameter given, mgcv's `sp` (the ones it estimated) is
  # empty and `full.sp` holds them; `sp` is set to warmgam's (named as mgcv's), as
  # the object of a search that ended at them would have it. The smooths record
  # given smoothing parameters as fixed (`sp >= 0`); they are recorded as estimated
  # (-1), as they were (gam.vcomp() rescales only those).
  if (!is.null(sp)) {
    g$sp <- sp
    for (i in seq_along(g$smooth)) g$smooth[[i]]$sp[] <- -1
  }
  # mgcv's `outer.info` here describes its search over the scale alone (a 1 x 1
  # Hessian, from which gam.vcomp() would compute intervals for every component by
  # recycling). The search that chose the smoothing parameters was warmgam's: it is
  # described instead as mgcv describes a search without `outer.info` (`mgcv.conv`),
  # which gam.check() reports; gam.vcomp() then gives the standard deviations
  # without intervals (gam_vcomp() gives them).
  if (!is.null(sp)) {
    g$outer.info <- NULL
    g$mgcv.conv <- list(
      iter = fit$outer_iterations, fully.converged = isTRUE(fit$converged),
      rms.grad = if (length(fit$gradient)) sqrt(mean(fit$gradient^2)) else 0,
      hess.pos.def = length(fit$hessian_eigenvalues) > 0 && all(fit$hessian_eigenvalues > 0)
    )
  }
  if (is.null(g$na.action) && !is.null(fit$na.action)) g$na.action <- fit$na.action
  if (!is.finite(g$gcv.ubre)) g$gcv.ubre <- fit$criterion
  diff <- max(abs(g$fitted.values - fit$fitted.values)) / max(abs(fit$fitted.values), .Machine$double.xmin)
  if (!is.finite(diff) || diff > 1e-6) {
    warn(sprintf(paste(
      "mgcv's fit at warmgam's smoothing parameters differs from the warmgam fit:",
      "fitted values by %.2g (relative). Check that `data` and `knots` are those of the fit",
      "(a difference is expected with \"cs\" terms and \"fs\" terms with m = 2, whose",
      "penalties mgcv sets up by rounding, and with \"gp\" terms of several covariates,",
      "whose basis mgcv takes from an iteration stopped at a tolerance)."
    ), diff))
  }
  g
}

# The call recorded in the object: the warmgam call as an mgcv::gam() call at the
# fit's smoothing parameters (`fitted`, the call that was evaluated, gives them and
# the method), without warmgam's own arguments.
user_gam_call <- function(fit, fitted, knots) {
  out <- fitted
  out$formula <- fit$call$formula %||% fit$formula
  out$data <- fit$call$data
  out$weights <- fit$call$weights
  out$offset <- fit$call$offset
  out$knots <- fit$call$knots %||% knots
  # The rows the fit used, as its call chose them.
  for (arg in c("subset", "na.action", "drop.unused.levels")) {
    if (!is.null(fit$call[[arg]])) out[[arg]] <- fit$call[[arg]]
  }
  out$control <- NULL
  fam <- fit$family
  out$family <- if (inherits(fam, "warmgam_nb")) {
    call("nb", theta = fam$theta, link = fam$link)
  } else if (inherits(fam, "warmgam_tweedie")) {
    call("tw", theta = fam$p, link = fam$link)
  } else if (!is.null(fam[["mgcv_call"]])) {
    fam$mgcv_call
  } else {
    fit$call$family
  }
  if (!isTRUE(out$select)) out$select <- NULL
  if (identical(out$gamma, 1)) out$gamma <- NULL
  out
}

# The fit's formula as mgcv's gam() reads it: warmgam's s(), te() and ti() (also
# written `warmgam::s()`) become mgcv's, by evaluating the formula's terms in an
# environment where those names are mgcv's (mgcv's interpret.gam() evaluates the
# terms in the formula's environment).
mgcv_formula <- function(formula, env) {
  strip <- function(e) {
    if (!is.call(e)) return(e)
    head <- e[[1]]
    if (is.call(head) && identical(as.character(head[[1]]), "::") &&
          as.character(head[[3]]) %in% c("s", "te", "ti")) {
      e[[1]] <- as.name(as.character(head[[3]]))
    }
    for (i in seq_along(e)[-1]) if (!is.null(e[[i]])) e[[i]] <- strip(e[[i]])
    e
  }
  f <- strip(formula)
  ns <- asNamespace("mgcv")
  environment(f) <- list2env(list(s = ns$s, te = ns$te, ti = ns$ti), parent = env)
  class(f) <- "formula"
  f
}

# The data for mgcv: the model frame when it holds every variable the formula names
# (it is the fit's data after dropping incomplete rows), else the call's data (or
# `data` given) with the rows the fit dropped removed.
as_mgcv_data <- function(fit, data, formula, env) {
  mf <- fit$model
  vars <- all.vars(formula)
  if (is.null(data)) {
    own <- setdiff(names(mf), c("(weights)", "(offset)"))
    if (all(vars %in% own)) {
      # Built directly so that a matrix response (cnorm's `cbind(y, censor)`) stays one column.
      return(structure(as.list(mf)[own], class = "data.frame", row.names = attr(mf, "row.names")))
    }
    if (is.null(fit$call$data)) {
      abort(paste(
        "The fit's model frame does not hold every variable of its formula and the fit",
        "was made without `data`; give the data as `as_mgcv(fit, data = )`."
      ), "argument")
    }
    data <- tryCatch(eval(fit$call$data, env), error = function(e) NULL)
    if (!is.data.frame(data)) {
      abort(sprintf(
        "Could not find the fit's data (`%s`) from its formula's environment; give it as `as_mgcv(fit, data = )`.",
        deparse_one(fit$call$data)
      ), "argument")
    }
  }
  omit <- fit$na.action
  if (!is.null(fit$call$subset) && nrow(data) != nrow(mf) && all(row.names(mf) %in% row.names(data))) {
    # The rows of a fit to a subset, by their names (the model frame keeps those of `data`).
    data <- data[row.names(mf), , drop = FALSE]
  } else if (!is.null(omit) && nrow(data) == nrow(mf) + length(omit)) {
    data <- data[-as.integer(omit), , drop = FALSE]
  }
  if (nrow(data) != nrow(mf)) {
    abort(sprintf(
      "`data` has %d rows where the fit used %d (after removing incomplete rows); give the data the model was fitted to.",
      nrow(data), nrow(mf)
    ), "argument")
  }
  data
}

# The fit's family as mgcv takes it: warmgam's negative binomial and Tweedie at the
# theta or power it used (estimated or given), held fixed, as mgcv's nb() and tw().
mgcv_family <- function(family) {
  if (inherits(family, "warmgam_nb")) return(mgcv::nb(theta = family$theta, link = family$link))
  # warmgam's extended families, by mgcv's constructor at their values.
  if (!is.null(family[["mgcv_call"]])) return(eval(family$mgcv_call, asNamespace("mgcv")))
  if (inherits(family, "warmgam_tweedie")) {
    fam <- mgcv::tw(theta = family$p, link = family$link)
    # mgcv's tw() (1.8-41) makes its functions in an environment whose parent is the
    # global environment, so they find mgcv's ldTweedie() only when mgcv is attached.
    env <- environment(fam$ls)
    if (identical(parent.env(env), globalenv())) parent.env(env) <- asNamespace("mgcv")
    return(fam)
  }
  family
}
