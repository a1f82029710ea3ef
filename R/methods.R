# The small S3 methods of the warmgam object.

#' Methods for warmgam fits
#'
#' The methods R users expect of a fitted model. `residuals()` types follow
#' `mgcv::residuals.gam()`: `"deviance"` residuals are the signed square roots of
#' each observation's deviance, `"pearson"` are `sqrt(w) (y - mu) / sqrt(V(mu))`,
#' `"working"` are `(y - mu) / mu'(eta)` and `"response"` are `y - mu`. `logLik()`
#' follows `mgcv::logLik.gam()`: the log-likelihood from the family's `aic()` at the
#' fitted values (for an estimated scale, at the REML/ML scale estimate), with `df`
#' the total effective degrees of freedom plus one for an estimated scale; for REML
#' and ML fits the edf are `edf2`, corrected for smoothing parameter uncertainty, so
#' that `AIC()` is mgcv's (Wood, Pya and Säfken 2016). For a fit with
#' `na.action = na.exclude`, `fitted()` and `residuals()` have `NA` for the rows
#' dropped for missing values (R's `naresid()`), as for `lm()` and mgcv fits.
#' `print()` starts with the method that chose the smoothing parameters, noting
#' when it was warmgam's default REML (mgcv's `gam()` defaults to GCV.Cp).
#'
#' @param object,x A `warmgam` fit.
#' @param type The kind of residuals.
#' @param digits Significant digits of the criterion printed by `print()`.
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `coef()`: named coefficients; `vcov()`: the Bayesian covariance matrix
#'   `Vp` (`freq = TRUE`: the frequentist `Ve`; `unconditional = TRUE`: `Vc`); `fitted()`: fitted values;
#'   `residuals()`: a vector; `logLik()`: a `logLik` object; `nobs()`: the number of
#'   observations with non-zero weight; `formula()`, `family()`: as given;
#'   `print()`: `x`, invisibly.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' coef(fit)
#' AIC(fit)
#' sqrt(diag(vcov(fit, unconditional = TRUE)))
#' head(residuals(fit, "pearson"))
#' \dontshow{options(op)}
#' @name warmgam-methods
NULL

#' @rdname warmgam-methods
#' @export
coef.warmgam <- function(object, ...) {
  check_dots_empty("coef", ...)
  object$coefficients
}

#' @rdname warmgam-methods
#' @param freq Return the frequentist covariance `Ve` instead of the Bayesian `Vp`.
#' @param unconditional Return `Vc`, the Bayesian covariance corrected for the
#'   uncertainty of the estimated smoothing parameters (Wood, Pya and Säfken 2016), as
#'   `mgcv::vcov.gam(unconditional = TRUE)`. It exists for REML and ML fits with a
#'   smoothing parameter to estimate; otherwise `Vp` is returned with a warning.
#' @export
vcov.warmgam <- function(object, freq = FALSE, unconditional = FALSE, ...) {
  check_dots_empty("vcov", ...)
  check_flag(freq, "freq")
  check_flag(unconditional, "unconditional")
  if (freq) object$Ve else coefficient_covariance(object, unconditional)
}

# The Bayesian covariance of the coefficients: `Vc` when `unconditional` and the fit
# has it, else `Vp`.
coefficient_covariance <- function(object, unconditional) {
  if (!unconditional) return(object$Vp)
  if (is.null(object$Vc)) {
    warn(paste(
      "The covariance corrected for smoothing parameter uncertainty needs a REML or ML",
      "fit with a smoothing parameter to estimate; using the conditional `Vp`."
    ))
    return(object$Vp)
  }
  object$Vc
}

#' @rdname warmgam-methods
#' @export
fitted.warmgam <- function(object, ...) {
  check_dots_empty("fitted", ...)
  pad_excluded(object, object$fitted.values)
}

#' @rdname warmgam-methods
#' @export
residuals.warmgam <- function(object, type = "deviance", ...) {
  check_dots_empty("residuals", ...)
  check_choice(type, "type", c("deviance", "pearson", "working", "response"))
  pad_excluded(object, fit_residuals(object, type))
}

# The residuals of the fit's rows (without the NA rows of a na.exclude fit).
fit_residuals <- function(object, type) {
  fam <- object$family
  y <- object$y
  mu <- object$fitted.values
  w <- prior_weights(object)
  r <- as.vector(y) - mu
  if (type == "pearson" && inherits(fam, "warmgam_cnorm")) {
    abort(sprintf("`type = \"pearson\"` residuals are not defined for `%s`, as in mgcv.", fam$family), "argument")
  }
  if (is.function(fam$predict_response)) {
    # ocat() and ziP(): the linear predictor is not the response's mean. As mgcv's,
    # deviance residuals are signed by the response against the predicted response
    # (ziP's expected count; for ocat the class interval's midpoint against the
    # latent mean), response residuals are for ziP only, and Pearson residuals for
    # neither.
    if (type == "pearson" || (type == "response" && inherits(fam, "warmgam_ocat"))) {
      abort(sprintf("`type = \"%s\"` residuals are not defined for `%s`, as in mgcv.", type, fam$family),
            "argument")
    }
    if (inherits(fam, "warmgam_ziP")) r <- y - fam$predict_response(object$linear.predictors)
    if (is.function(fam$residual_sign)) r <- fam$residual_sign(y, object$linear.predictors)
  }
  switch(type,
    deviance = sign(r) * sqrt(pmax(fam$dev.resids(y, mu, w), 0)),
    pearson = sqrt(w) * r / sqrt(fam$variance(mu)),
    working = ifelse(w == 0, NA_real_, r / fam$mu.eta(object$linear.predictors)),
    response = r
  )
}

#' @rdname warmgam-methods
#' @export
logLik.warmgam <- function(object, ...) {
  check_dots_empty("logLik", ...)
  fam <- object$family
  w <- prior_weights(object)
  sc_p <- as.numeric(object$scale.estimated)
  # The dispersion the family's aic() takes is dev / sum(w): give it the scale.
  dev <- if (!object$scale.estimated) {
    sum(w)
  } else if (fam$family == "gaussian") {
    object$deviance
  } else if (!is.na(object$reml.scale)) {
    object$reml.scale * sum(w)
  } else {
    object$scale * sum(w)
  }
  aic <- fam$aic(object$y, rep(1, length(object$y)), object$fitted.values, w, dev)
  if (!is.finite(aic)) aic <- NA_real_
  # mgcv counts the edf corrected for smoothing parameter uncertainty when it has them.
  edf <- if (is.null(object$edf2)) object$edf else object$edf2
  p <- length(object$coefficients)
  # Estimated family parameters (theta, p, phi, the scaled t's two) count, as in mgcv.
  n_theta <- n_estimated_parameters(fam)
  structure(sc_p - aic / 2, df = min(sum(edf), p) + sc_p + n_theta, nobs = nobs(object), class = "logLik")
}

#' @rdname warmgam-methods
#' @export
nobs.warmgam <- function(object, ...) {
  check_dots_empty("nobs", ...)
  sum(prior_weights(object) != 0)
}

#' @rdname warmgam-methods
#' @export
formula.warmgam <- function(x, ...) {
  check_dots_empty("formula", ...)
  x$formula
}

#' @rdname warmgam-methods
#' @export
family.warmgam <- function(object, ...) {
  check_dots_empty("family", ...)
  object$family
}

# The prior weights, which the object holds only when they were given.
prior_weights <- function(object) object$prior.weights %||% rep(1, length(object$y))

# One line on how the fit used the warm-start store.
warm_start_line <- function(ws) {
  what <- switch(ws$source,
    cold = "cold start",
    exact = "exact hit, returned without iterating",
    resumed = "resumed from a checkpoint",
    seeded = "seeded by a fit of the same model to other data",
    ws$source
  )
  key <- if (is.na(ws$key)) "store not used" else paste0("key ", substr(ws$key, 1, 12))
  saved <- ""
  if (identical(ws$source, "seeded") && isTRUE(is.finite(ws$seed_outer_iterations))) {
    saved <- sprintf("; %d outer iterations against %d for the seed's own fit",
                     as.integer(ws$outer_iterations), as.integer(ws$seed_outer_iterations))
    if (isTRUE(is.finite(ws$seed_family_trials))) {
      saved <- sprintf("%s, %d family parameter values tried against %d", saved,
                       as.integer(ws$family_trials), as.integer(ws$seed_family_trials))
    }
  }
  sprintf("Warm start: %s (%s)%s", what, key, saved)
}

#' @rdname warmgam-methods
#' @export
print.warmgam <- function(x, digits = 8, ...) {
  check_dots_empty("print", ...)
  check_number(digits, "digits", lower = 1)
  cat("\n", method_line(x), "\n", sep = "")
  cat("Family:", x$family$family, "\nLink function:", x$family$link, "\n\n")
  cat("Formula:\n")
  print(x$formula)
  cat("\nEstimated degrees of freedom:\n")
  edf <- vapply(x$smooth, function(sm) sum(x$edf[sm$first:sm$last]), numeric(1))
  if (length(edf)) cat(paste(formatC(edf, digits = 4, format = "fg"), collapse = " "), " total =", format(round(sum(x$edf), 2)), "\n")
  cat(sprintf("\n%s score: %s     n = %d\n", names(x$criterion), format(unname(x$criterion), digits = digits), length(x$y)))
  cat(sprintf("Outer iterations: %d (%s)\n", x$outer_iterations, x$termination))
  cat(warm_start_line(x$warm_start), "\n", sep = "")
  built <- mgcv_built_terms_line(x)
  if (!is.null(built)) cat(built, "\n", sep = "")
  invisible(x)
}
