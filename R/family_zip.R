# The zero-inflated Poisson: warmgam's ziP(), and mgcv's ziP() objects read as
# warmgam's.

#' Zero-inflated Poisson family
#'
#' Counts with more zeros than a Poisson allows, as mgcv's `ziP()`: a count is zero
#' with probability `1 - p` and otherwise a zero-truncated Poisson with log mean
#' the linear predictor `gamma`, where `p = 1 - exp(-exp(theta1 + (b + exp(theta2))
#' gamma))`. `theta1` and `theta2` are estimated with the smoothing parameters
#' (minimizing the REML/ML criterion, the smoothing parameters chosen afresh at each
#' value) or fixed when given. The scale is 1. `fitted()` gives `gamma`, as mgcv's,
#' and `predict(type = "response")` the expected count `p lambda / (1 - exp(-lambda))`.
#' The smoothing parameters are chosen by REML or ML (`method = "GCV.Cp"` is refused).
#' mgcv's own `ziP()` objects are accepted by [gam_fit()] too.
#'
#' @param theta `NULL` (the default) to estimate `c(theta1, theta2)`, or those two
#'   values to fix them.
#' @param link `"identity"`, the only link (as mgcv's).
#' @param b The least slope of the zero-inflation predictor in `gamma` (0, as
#'   mgcv's).
#' @returns A family object (class `warmgam_ziP`, `family`). After a fit, the fit's
#'   `family$theta` holds `c(theta1, theta2)` and its `family$family` reads
#'   `"Zero inflated Poisson(theta1,b + exp(theta2))"`, as mgcv prints it.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(6)
#' d <- data.frame(x = runif(400))
#' lambda <- exp(1 + sin(2 * pi * d$x))
#' d$y <- ifelse(runif(400) < 0.3, 0, rpois(400, lambda))
#' fit <- gam_fit(y ~ s(x), data = d, family = ziP())
#' fit$family$theta
#' \dontshow{options(op)}
#' @export
ziP <- function(theta = NULL, link = "identity", b = 0) {
  if (inherits(link, "link-glm")) link <- link$name
  if (!identical(link, "identity")) abort("`link` of `ziP()` must be \"identity\".", "family")
  if (!is.null(theta) && (!is.numeric(theta) || length(theta) != 2L || !all(is.finite(theta)))) {
    abort("`theta` of `ziP()` must be `c(theta1, theta2)`, two finite numbers, or NULL to estimate them.", "family")
  }
  if (!is.numeric(b) || length(b) != 1L || !is.finite(b) || b < 0) {
    abort("`b` of `ziP()` must be a single non-negative number.", "family")
  }
  zip_family(theta %||% c(NA_real_, NA_real_), estimate = is.null(theta), b = as.double(b))
}

# A zero-inflated Poisson family object at `theta = c(theta1, theta2)` (NA: not yet
# estimated).
zip_family <- function(theta, estimate, b) {
  lk <- stats::make.link("identity")
  th <- theta
  slope <- b + exp(th[[2]])
  log_nonzero <- function(x) log(-expm1(-exp(x)))
  loglik <- function(y, gamma) {
    eta <- th[[1]] + slope * gamma
    ifelse(y == 0, -exp(eta), log_nonzero(eta) + y * gamma - exp(gamma) - log_nonzero(gamma) - lgamma(y + 1))
  }
  # The largest log likelihood of each count (0 for a zero, reached as gamma falls),
  # found once per distinct count (mgcv's saturated.ll()).
  saturated <- function(y) {
    counts <- unique(y[y > 0])
    best <- vapply(counts, function(k) {
      stats::optimize(function(g) loglik(k, g), log(k) + c(-5, 5), maximum = TRUE, tol = 1e-12)$objective
    }, 0)
    out <- numeric(length(y))
    out[y > 0] <- best[match(y[y > 0], counts)]
    out
  }
  # Against the saturated model (mgcv's residuals() and postproc(); its
  # dev.resids() is -2 log f, the fitting criterion's).
  dev_resids <- function(y, mu, wt) pmax(2 * wt * (saturated(y) - loglik(y, mu)), 0)
  aic <- function(y, n, mu, wt, dev) -2 * sum(wt * loglik(y, mu))
  # mgcv's postproc: the deviance minimized over a constant gamma in (mean(y) / 5,
  # 3 mean(y)).
  null_deviance <- function(y, wt, offset, eta, intercept) {
    meany <- mean(y)
    lsat <- sum(2 * wt * saturated(y))
    # Each distinct count once, its rows' weights summed (`by_distinct_response()`).
    grouped <- by_distinct_response(y, wt)
    fnull <- function(g) sum(-2 * grouped$wt * loglik(grouped$y, rep(g, length(grouped$y))))
    stats::optimize(fnull, c(meany / 5, meany * 3), tol = 1e-10)$objective + lsat
  }
  # The expected count p lambda / (1 - exp(-lambda)), and its standard error from
  # gamma's by the delta method (mgcv's predict()).
  expected_count <- function(gamma, se = NULL) {
    et <- exp(th[[1]] + slope * gamma)
    p <- -expm1(-et)
    lambda <- exp(gamma)
    mu <- ifelse(gamma < log(.Machine$double.eps) / 2, 1, lambda / -expm1(-lambda))
    fit <- p * mu
    if (is.null(se)) return(fit)
    dp <- exp(-et) * et * slope
    dmu <- (lambda + 1) * mu - mu^2
    list(fit = fit, se.fit = abs(dp * mu + dmu * p) * se)
  }
  # The count's variance at gamma: p E[Y^2 | Y > 0] - (p E[Y | Y > 0])^2.
  response_variance <- function(gamma) {
    p <- -expm1(-exp(th[[1]] + slope * gamma))
    lambda <- exp(gamma)
    nonzero <- -expm1(-lambda)
    p * (lambda + lambda^2) / nonzero - (p * lambda / nonzero)^2
  }
  # The expected information -E[l''(gamma)] = p (lambda + B''(gamma)) +
  # c^2 ((1 - p) e^eta - p B''(eta)), with B(x) = log(1 - exp(-e^x)), whose second
  # derivative is u h'(u) for u = e^x, h(u) = u / (e^u - 1).
  information_weights <- function(y, gamma) {
    second <- function(x) {
      u <- exp(x)
      em1 <- expm1(u)
      ifelse(u < 1e-8, -u / 2, u * (em1 - u * exp(u)) / em1^2)
    }
    eta <- th[[1]] + slope * gamma
    p <- -expm1(-exp(eta))
    p * (exp(gamma) + second(gamma)) + slope^2 * ((1 - p) * exp(eta) - p * second(eta))
  }
  name <- if (anyNA(theta)) "Zero inflated Poisson" else {
    sprintf("Zero inflated Poisson(%s)", paste(round(c(th[[1]], slope), 3), collapse = ","))
  }
  structure(c(list(
    family = name, link = "identity", linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = response_variance, dev.resids = dev_resids, aic = aic,
    null_deviance = null_deviance, predict_response = expected_count, information_weights = function(y, eta, w) w * information_weights(y, eta),
    # Draws for simulate(): zero with probability exp(-exp(eta)), else a
    # zero-truncated Poisson count (by inversion, as mgcv's ?ziP example draws them).
    simulate = function(object, nsim) {
      gamma <- rep(object$fitted.values, nsim)
      lambda <- exp(gamma)
      present <- stats::runif(length(gamma)) < -expm1(-exp(th[[1]] + slope * gamma))
      y <- numeric(length(gamma))
      y[present] <- stats::qpois(stats::runif(sum(present), stats::dpois(0, lambda[present]), 1), lambda[present])
      y
    },
    validmu = function(mu) all(is.finite(mu)),
    theta = theta, b = b
  ), extended_family("ziP", n_estimated = if (estimate) 2 else 0,
    # The engine's fields: theta (fixed, or where the search starts: mgcv's
    # c(0, 0)) and b.
    engine_fields = function(y) list(zip_theta = as.double(if (estimate) c(0, 0) else theta), zip_b = b),
    at_estimates = function(coords) zip_family(coords, estimate = TRUE, b = b),
    key = sprintf("(b = %.17g)%s", b, if (estimate) "(theta estimated)" else {
      sprintf("(theta = %.17g, %.17g)", theta[[1]], theta[[2]])
    }),
    mgcv_call = call("ziP", theta = theta, b = b)
  )), class = c("warmgam_ziP", "family"))
}

# mgcv's ziP() (estimated or fixed) as warmgam's; NULL for any other family.
as_zip <- function(family) {
  if (inherits(family, "warmgam_ziP")) return(family)
  if (!is.character(family$family) || !startsWith(family$family, "zero inflated Poisson")) return(NULL)
  if (!inherits(family, "extended.family") || !is.function(family$getTheta)) return(NULL)
  b <- get(".b", envir = environment(family$getTheta))
  estimate <- isTRUE(family$n.theta > 0)
  zip_family(if (estimate) c(NA_real_, NA_real_) else family$getTheta(), estimate = estimate, b = b)
}
