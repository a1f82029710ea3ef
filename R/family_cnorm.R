# The censored normal family: warmgam's cnorm(), and mgcv's cnorm() objects read as
# warmgam's.

#' Censored normal family
#'
#' Tobit regression, log-normal accelerated failure time models and models of
#' rounded or interval data, as mgcv's `cnorm()`: a normal response with mean `mu`
#' and standard deviation `sigma` that may be observed exactly, only as an interval,
#' or only as a bound. `sigma` is estimated with the smoothing parameters
#' (minimizing the REML criterion over `log(sigma)`, the smoothing parameters chosen
#' afresh at each value), or fixed when given. The scale is 1. mgcv's own `cnorm()`
#' objects are accepted by [gam_fit()] too.
#'
#' The response is a two-column matrix `cbind(y, censor)`, as mgcv's: `censor == y`
#' for an exact observation, `censor == -Inf` when the value is at most `y`, `censor
#' == Inf` when it is at least `y`, and any other finite `censor` when the value lies
#' between `y` and `censor`. A plain vector response is all exact. A prior weight `w`
#' divides the row's variance by `w`.
#'
#' warmgam's REML score uses the normal log likelihood of the exact rows. mgcv
#' 1.8-41's saturated log likelihood has `log(2 pi)` more per exact row (a sign
#' error; its `aic` and `logLik()` are right), so its `-REML` score is lower than
#' warmgam's by exactly `log(2 pi)` times the number of exact rows: the estimates
#' are the same.
#'
#' @param theta `NULL` (the default) to estimate `sigma`; a positive number to fix
#'   `sigma` at it; a negative number to estimate `sigma` starting from its absolute
#'   value (as mgcv's `cnorm()`).
#' @param link `"identity"` (the default), `"log"` or `"sqrt"`.
#' @returns A family object (class `warmgam_cnorm`, `family`). After a fit, the
#'   fit's `family$sigma` holds the estimate and its `family$family` reads
#'   `"cnorm(sigma)"`, as mgcv prints it.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' # A Tobit model: values below 0 are recorded as "at most 0".
#' set.seed(3)
#' d <- data.frame(x = runif(300))
#' latent <- 2 * sin(2 * pi * d$x) + rnorm(300)
#' d$y <- cbind(pmax(latent, 0), ifelse(latent < 0, -Inf, pmax(latent, 0)))
#' fit <- gam_fit(y ~ s(x), data = d, family = cnorm())
#' fit$family$sigma
#' \dontshow{options(op)}
#' @export
cnorm <- function(theta = NULL, link = "identity") {
  start <- NULL
  if (!is.null(theta)) {
    if (!is.numeric(theta) || length(theta) != 1L || !is.finite(theta) || theta == 0) {
      abort(paste("`theta` of `cnorm()` must be a single non-zero number: positive to fix sigma,",
                  "negative to start its search there, or NULL to estimate it."), "family")
    }
    if (theta < 0) start <- -theta
  }
  if (inherits(link, "link-glm")) link <- link$name
  if (!is.character(link) || length(link) != 1L || !link %in% cnorm_links) {
    abort(sprintf("`link` of `cnorm()` must be one of %s.", paste0("\"", cnorm_links, "\"", collapse = ", ")),
          "family")
  }
  estimate <- is.null(theta) || theta < 0
  cnorm_family(if (estimate) NA_real_ else theta, estimate = estimate, link = link, start = start)
}

cnorm_links <- c("identity", "log", "sqrt")

# A censored normal family object at `sigma` (NA: not yet estimated; `start` the
# search's starting value when given).
cnorm_family <- function(sigma, estimate, link, start = NULL) {
  lk <- stats::make.link(link)
  dev_resids <- function(y, mu, wt) cnorm_deviance(y, mu, wt, sigma)$deviance
  aic <- function(y, n, mu, wt, dev) {
    parts <- cnorm_deviance(y, mu, wt, sigma)
    s <- sigma / sqrt(wt)
    sum((parts$deviance + ifelse(parts$exact, log(2 * pi) + 2 * log(s), -2 * parts$log_saturated))[wt > 0])
  }
  null_deviance <- function(y, wt, offset, eta, intercept) {
    intercept_null_deviance(dev_resids, lk, y, wt, offset, eta)
  }
  name <- if (is.na(sigma)) "cnorm" else sprintf("cnorm(%s)", round(sigma, 3))
  structure(c(list(
    family = name, link = link, linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = function(mu) rep(sigma^2, length(mu)),
    dev.resids = dev_resids, aic = aic, null_deviance = null_deviance,
    # The observed information, taken as the expected (mgcv's EDmu2 is its Dmu2):
    # half the deviance's second derivative in mu, through the link.
    information_weights = function(y, eta, w) {
      cnorm_curvature(y, lk$linkinv(eta), w, sigma) / 2 * lk$mu.eta(eta)^2
    },
    validmu = function(mu) all(is.finite(mu)),
    sigma = sigma
  ), extended_family("cnorm", n_estimated = if (estimate) 1 else 0,
    # The engine's field: sigma, fixed, or where the search starts (the given start,
    # else the standard deviation of the first response column).
    engine_fields = function(y) {
      if (!estimate) return(list(sigma = as.double(sigma)))
      at <- start %||% stats::sd(y)
      list(sigma = if (is.finite(at) && at > 0) as.double(at) else 1)
    },
    at_estimates = function(coords) cnorm_family(exp(coords[[1]]), estimate = TRUE, link = link),
    key = if (estimate) "(sigma estimated)" else sprintf("(sigma = %.17g)", sigma),
    mgcv_call = call("cnorm", theta = sigma, link = link)
  )), class = c("warmgam_cnorm", "family"))
}

# mgcv's cnorm() (estimated or fixed sigma) as warmgam's; NULL for any other family.
as_cnorm <- function(family) {
  if (inherits(family, "warmgam_cnorm")) return(family)
  if (!is.character(family$family)) return(NULL)
  if (!identical(family$family, "censored normal") && !startsWith(family$family, "cnorm(")) return(NULL)
  if (!inherits(family, "extended.family") || !is.function(family$getTheta)) return(NULL)
  if (!family$link %in% cnorm_links) {
    abort(sprintf("`link = \"%s\"` is not supported for `cnorm()`; use one of %s.", family$link,
                  paste0("\"", cnorm_links, "\"", collapse = ", ")), "family")
  }
  estimate <- isTRUE(family$n.theta > 0)
  cnorm_family(if (estimate) NA_real_ else family$getTheta(TRUE), estimate = estimate, link = family$link,
               start = if (estimate) exp(family$getTheta()))
}

# The rows' censoring: the standardized ends `a < b` of each censored row's interval
# at `mu` (infinite for a bound), its half-width `h`, and which rows are exact.
cnorm_ends <- function(y, mu, wt, sigma) {
  censor <- attr(y, "censor") %||% y
  y <- as.vector(y)
  s <- sigma / sqrt(wt)
  exact <- censor == y
  lo <- ifelse(censor == -Inf, -Inf, pmin(y, censor))
  hi <- ifelse(censor == Inf, Inf, pmax(y, censor))
  list(y = y, s = s, exact = exact, a = (lo - mu) / s, b = (hi - mu) / s, h = (hi - lo) / (2 * s))
}

# log(pnorm(b) - pnorm(a)) for a < b, from the tail where the difference is accurate.
log_interval_probability <- function(a, b) {
  upper <- a >= 0
  lower <- b <= 0 & !upper
  out <- log1p(-(stats::pnorm(a) + stats::pnorm(-b)))
  if (any(upper)) {
    top <- stats::pnorm(-a[upper], log.p = TRUE)
    out[upper] <- top + log(-expm1(stats::pnorm(-b[upper], log.p = TRUE) - top))
  }
  if (any(lower)) {
    top <- stats::pnorm(b[lower], log.p = TRUE)
    out[lower] <- top + log(-expm1(stats::pnorm(a[lower], log.p = TRUE) - top))
  }
  out
}

# The unit deviances: `(y - mu)^2 / s^2` for exact rows, `2 log P_sat - 2 log P(mu)`
# for censored ones (zero at the interval's centre; P_sat = 1 for a bound).
cnorm_deviance <- function(y, mu, wt, sigma) {
  e <- cnorm_ends(y, mu, wt, sigma)
  d <- ((e$y - mu) / e$s)^2
  log_saturated <- ifelse(is.finite(e$h), log(2 * stats::pnorm(e$h) - 1), 0)
  censored <- !e$exact
  if (any(censored)) {
    d[censored] <- 2 * (log_saturated[censored] - log_interval_probability(e$a[censored], e$b[censored]))
  }
  list(deviance = d, exact = e$exact, log_saturated = log_saturated)
}

# The deviance's second derivative in mu (the observed information, doubled).
cnorm_curvature <- function(y, mu, wt, sigma) {
  e <- cnorm_ends(y, mu, wt, sigma)
  out <- 2 / e$s^2
  censored <- !e$exact
  if (any(censored)) {
    a <- e$a[censored]
    b <- e$b[censored]
    s <- e$s[censored]
    log_p <- log_interval_probability(a, b)
    ratio <- function(x) ifelse(is.finite(x), exp(stats::dnorm(x, log = TRUE) - log_p), 0)
    slope <- function(x) ifelse(is.finite(x), x, 0)
    # With P' = -(phi(b) - phi(a)) / s and P'' = -(b phi(b) - a phi(a)) / s^2:
    # d'' = -2 (P'' / P - (P' / P)^2).
    first <- -(ratio(b) - ratio(a)) / s
    second <- -(slope(b) * ratio(b) - slope(a) * ratio(a)) / s^2
    out[censored] <- -2 * (second - first^2)
  }
  out
}
