# emmeans support for warmgam fits, through the two methods emmeans' "xtending"
# vignette asks of a new model class: recover_data() (the data, to build the
# reference grid) and emm_basis() (the linear functions of the coefficients at
# each grid point, their covariance and degrees of freedom). Both follow emmeans'
# own methods for mgcv's "gam" (recover_data.gam(), emm_basis.gam()), so that the
# estimated marginal means are those of the mgcv fit: random-effect smooths
# (`bs = "re"`, `"fs"`) are left out of the grid and of the predictions, and the
# degrees of freedom are the residual ones. Registered when emmeans loads
# (R/register.R).

#' Estimated marginal means of a warmgam fit (emmeans)
#'
#' emmeans' `ref_grid()`, `emmeans()`, `emtrends()`, `contrast()`, ... work on a
#' `warmgam` fit, through methods for emmeans' `recover_data()` and `emm_basis()`
#' registered when emmeans is loaded. They give what emmeans gives for the same
#' model fitted by `mgcv::gam()`: as emmeans does for mgcv, smooth random effects
#' (`bs = "re"` and `"fs"` terms) are excluded (set to zero) and are not grid
#' variables, the covariance is the Bayesian `Vp` (or `Ve`, `Vc`: see `freq` and
#' `unconditional`), and the degrees of freedom are the residual degrees of freedom
#' of the fit.
#'
#' @param object A `warmgam` fit.
#' @param trms,xlev,grid What emmeans passes: the terms, factor levels and the
#'   reference grid.
#' @param freq Use the frequentist covariance `Ve` (as `vcov(fit, freq = TRUE)`).
#' @param unconditional Use `Vc`, corrected for smoothing parameter uncertainty.
#' @param vcov. A covariance matrix, or a function of the fit returning one, to use
#'   instead (emmeans' `vcov.` argument).
#' @param ... For `recover_data()`, what emmeans passes on to its own data
#'   recovery (`data`, `params`); for `emm_basis()`, emmeans' own `misc` and
#'   `options`, which it does not need.
#' @returns `recover_data()`: the data frame emmeans builds its reference grid from;
#'   `emm_basis()`: the list emmeans expects (`X`, `bhat`, `nbasis`, `V`, `dffun`,
#'   `dfargs`, `misc`).
#' @examplesIf requireNamespace("emmeans", quietly = TRUE)
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' d <- transform(mtcars, cyl = factor(cyl))
#' fit <- gam_fit(mpg ~ s(hp, k = 6) + cyl, data = d)
#' emmeans::emmeans(fit, ~ cyl)
#' emmeans::emtrends(fit, ~ cyl, var = "hp")
#' \dontshow{options(op)}
#' @name warmgam-emmeans
NULL

# The labels of a fit's random-effect smooths, which emmeans leaves out for mgcv
# fits (its .smooth.is.random(): classes "random.effect" and "fs.interaction").
random_smooths <- function(object) {
  names(Filter(function(sm) sm$class %in% c("re", "fs"), object$smooth))
}

#' @rdname warmgam-emmeans
recover_data.warmgam <- function(object, ...) {
  fixed <- unlist(lapply(object$smooth, function(sm) {
    if (sm$class %in% c("re", "fs")) "" else c(sm$term, smooth_by_name(sm))
  }))
  fixed <- union(emmeans::.all.vars(stats::delete.response(object$pterms)), fixed)
  fixed <- setdiff(fixed, c("1", "", "NA"))
  env <- environment(object$formula) %||% parent.frame()
  trms <- stats::terms(stats::reformulate(if (length(fixed)) fixed else "1", env = env))
  emmeans::recover_data(object$call, trms, object$na.action, frame = object$model, ...)
}

#' @rdname warmgam-emmeans
emm_basis.warmgam <- function(object, trms, xlev, grid, freq = FALSE, unconditional = FALSE, vcov. = NULL,
                              ...) {
  check_flag(freq, "freq")
  check_flag(unconditional, "unconditional")
  rand <- random_smooths(object)
  # The random effects' variables are not grid variables: any value serves, as
  # their columns are set to zero.
  for (v in unique(unlist(lapply(object$smooth[rand], `[[`, "term")))) {
    if (is.null(grid[[v]])) grid[[v]] <- rep(object$model[[v]][1], nrow(grid))
  }
  x <- predict.warmgam(object, newdata = grid, type = "lpmatrix", exclude = if (length(rand)) rand)
  keep <- if (length(rand)) apply(x, 2, function(col) !all(col == 0)) else rep(TRUE, ncol(x))
  v <- if (is.null(vcov.)) {
    vcov.warmgam(object, freq = freq, unconditional = unconditional)
  } else if (is.function(vcov.)) {
    vcov.(object)
  } else {
    vcov.
  }
  v <- as.matrix(v)
  if (nrow(v) != length(object$coefficients) || ncol(v) != nrow(v)) {
    abort(sprintf("`vcov.` must be a %d x %d matrix or a function of the fit returning one.",
                  length(object$coefficients), length(object$coefficients)), "argument")
  }
  fam <- object$family
  list(
    X = x[, keep, drop = FALSE], bhat = as.numeric(object$coefficients[keep]),
    nbasis = matrix(NA_real_, 1L, 1L), V = v[keep, keep, drop = FALSE],
    dffun = function(k, dfargs) dfargs$df, dfargs = list(df = object$df.residual),
    misc = emmeans::.std.link.labels(list(link = fam$link, family = fam$family), list())
  )
}
