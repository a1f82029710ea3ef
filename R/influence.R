# Leverages, influence, Cook's distances, weights and simulated responses of a
# warmgam fit, as mgcv gives them for a "gam" (whose influence.gam(),
# cooks.distance.gam() and, through class "glm", weights.glm() and simulate.lm()
# serve these).

# The working weights of the converged penalized IRLS fit: w mu'(eta)^2 / V(mu)
# (Wood 2017, section 3.1.2), zero where the prior weight is zero; for the extended
# families, the weights of the information their covariance uses (their own
# `information_weights(y, eta, w)` for prior weights `w`: mgcv's EDmu2 / 2 through the link).
working_weights <- function(object) {
  fam <- object$family
  w <- prior_weights(object)
  eta <- object$linear.predictors
  mu <- object$fitted.values
  out <- if (is.function(fam$information_weights)) {
    fam$information_weights(object$y, eta, w)
  } else {
    w * fam$mu.eta(eta)^2 / fam$variance(mu)
  }
  out[w == 0] <- 0
  out
}

# The leverages: the diagonal of the influence matrix A = X (X'WX + S)^-1 X'W of the
# penalized fit (Wood 2017, section 6.1.2), mgcv's `hat`. With the Bayesian covariance
# Vp = (X'WX + S)^-1 scale, A_ii = W_i x_i' Vp x_i / scale.
leverages <- function(object) {
  x <- fit_model_matrix(object)
  xv <- x %*% object$Vp
  drop(rowSums(xv * x)) * working_weights(object) / object$scale
}

#' Leverages, influence and simulated responses of a warmgam fit
#'
#' As mgcv gives them for its fits: `hatvalues()` and `influence()` are the
#' leverages, the diagonal of the influence (hat) matrix `A = X (X'WX + S)^-1 X'W` of
#' the penalized fit (mgcv's `fit$hat`, what `influence.gam()` returns), computed from
#' the model matrix, the working weights and the Bayesian covariance `Vp` as
#' `W_i x_i' Vp x_i / scale`; their sum is the model's effective degrees of freedom.
#' `cooks.distance()` is mgcv's `cooks.distance.gam()`: `(r_i / (1 - h_i))^2 h_i /
#' (scale * edf)` with `r_i` the Pearson residuals. `weights()` gives the prior
#' weights or the working weights of the final penalized IRLS iteration, as
#' `weights()` of an mgcv fit. `simulate()` draws new responses from the fitted
#' distribution as `stats::simulate()` does for an mgcv fit (for the Gaussian
#' family, with variance `deviance / df.residual` over the prior weights; otherwise
#' through the family's own `simulate` function), so that the same `seed` gives the
#' same draws. For a fit with `na.action = na.exclude`, `cooks.distance()` and
#' `weights()` have `NA` for the rows dropped for missing values (R's `naresid()`,
#' as `weights()` of an mgcv fit); `hatvalues()` and `influence()` have the fit's
#' rows only, as mgcv's; `simulate()` draws `NA` for the dropped rows, as for an
#' mgcv fit.
#'
#' @param model,object A `warmgam` fit.
#' @param do.coef Must be `FALSE` (the default for `influence()` of an mgcv fit is to
#'   return the leverages only, which is what is returned): the changes in the
#'   coefficients when each observation is dropped are not computed.
#' @param type For `weights()`: `"prior"` or `"working"`.
#' @param nsim Number of response vectors to simulate.
#' @param seed As for [stats::simulate()]: `NULL`, or an integer passed to
#'   [set.seed()] (the session's random number stream is then restored).
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `hatvalues()`, `influence()`, `cooks.distance()`, `weights()`: a numeric
#'   vector with one value per observation. `simulate()`: a data frame with `nsim`
#'   columns `sim_1`, `sim_2`, ... and attribute `seed`, as [stats::simulate()].
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' head(hatvalues(fit))
#' sum(hatvalues(fit)) # the effective degrees of freedom
#' head(cooks.distance(fit))
#' head(weights(fit, type = "working"))
#' head(simulate(fit, nsim = 2, seed = 1))
#' \dontshow{options(op)}
#' @name warmgam-influence
NULL

#' @rdname warmgam-influence
#' @export
hatvalues.warmgam <- function(model, ...) {
  check_dots_empty("hatvalues", ...)
  leverages(model)
}

#' @rdname warmgam-influence
#' @export
influence.warmgam <- function(model, do.coef = FALSE, ...) {
  check_dots_empty("influence", ...)
  check_flag(do.coef, "do.coef")
  if (do.coef) {
    abort(paste(
      "`do.coef = TRUE` is not available for a warmgam fit: `influence()` gives the leverages",
      "only, as mgcv's does; use `do.coef = FALSE`."
    ), "argument")
  }
  leverages(model)
}

#' @rdname warmgam-influence
#' @export
cooks.distance.warmgam <- function(model, ...) {
  check_dots_empty("cooks.distance", ...)
  pad_excluded(model, cooks_distance(model))
}

# Cook's distances of the fit's rows.
cooks_distance <- function(model) {
  hat <- leverages(model)
  res <- fit_residuals(model, type = "pearson")
  (res / (1 - hat))^2 * hat / (model$scale * sum(model$edf))
}

#' @rdname warmgam-influence
#' @export
weights.warmgam <- function(object, type = "prior", ...) {
  check_dots_empty("weights", ...)
  check_choice(type, "type", c("prior", "working"))
  pad_excluded(object, if (type == "prior") prior_weights(object) else working_weights(object))
}

#' @rdname warmgam-influence
#' @export
simulate.warmgam <- function(object, nsim = 1, seed = NULL, ...) {
  check_dots_empty("simulate", ...)
  check_number(nsim, "nsim", lower = 1)
  if (!is.null(seed)) check_number(seed, "seed")
  # The random number handling of stats:::simulate.lm(), so that a seed gives
  # the draws it gives for an mgcv fit.
  if (!exists(".Random.seed", envir = globalenv(), inherits = FALSE)) stats::runif(1)
  if (is.null(seed)) {
    rng_state <- get(".Random.seed", envir = globalenv())
  } else {
    saved <- get(".Random.seed", envir = globalenv())
    set.seed(seed)
    rng_state <- structure(seed, kind = as.list(RNGkind()))
    on.exit(assign(".Random.seed", saved, envir = globalenv()))
  }
  fam <- object$family
  # A na.exclude fit has NA rows for the rows it dropped, as simulate() of an mgcv
  # fit (whose draws for them are NA).
  mu <- pad_excluded(object, object$fitted.values)
  n <- length(mu)
  w <- pad_excluded(object, prior_weights(object))
  # A draw is made for every row, as stats:::simulate.lm() makes them.
  w[is.na(w)] <- 1
  val <- if (fam$family == "gaussian") {
    vars <- object$deviance / object$df.residual / w
    mu + stats::rnorm(n * nsim, sd = sqrt(vars))
  } else if (is.function(fam$simulate)) {
    # The family's simulate() reads what a "glm" holds (Gamma()'s, through
    # MASS::gamma.shape(), also the deviance and residual degrees of freedom).
    fam$simulate(structure(list(
      fitted.values = object$fitted.values, prior.weights = prior_weights(object), y = object$y, family = fam,
      deviance = object$deviance, df.residual = object$df.residual, na.action = object$na.action
    ), class = "glm"), nsim)
  } else {
    abort(sprintf("`simulate()` is not available for the %s family.", fam$family), "family")
  }
  if (!is.list(val)) {
    dim(val) <- c(n, nsim)
    val <- as.data.frame(val)
  } else {
    class(val) <- "data.frame"
  }
  names(val) <- paste0("sim_", seq_len(nsim))
  attr(val, "seed") <- rng_state
  val
}
