# Beta regression: warmgam's betar(), and mgcv's betar() objects read as warmgam's.

#' Beta regression family
#'
#' Beta regression for a response in (0, 1) (proportions that are not counts of
#' successes: cover, rates, indices), as mgcv's `betar()`: `y` has a beta
#' distribution with mean `mu` and precision `phi`, so that
#' `Var(y) = mu (1 - mu) / (1 + phi)`. `phi` is estimated with the smoothing
#' parameters (minimizing the REML/ML criterion over it, the smoothing parameters
#' chosen afresh at each value) or fixed when given. The scale is 1. As mgcv does,
#' responses of exactly 0 or 1 are moved `100 * .Machine$double.eps` inside the
#' interval; any other value outside \[0, 1\] is an error. The fitting criterion
#' uses `-2 log f` as its deviance, as mgcv's; the reported `deviance`, deviance
#' residuals and `summary()`'s deviance explained are against the saturated model,
#' as mgcv reports them. mgcv's own `betar()` objects are accepted by [gam_fit()]
#' too.
#'
#' @param theta The precision `phi`; `NULL` (the default) to estimate it.
#' @param link `"logit"` (the default), `"probit"`, `"cloglog"` or `"cauchit"`.
#' @returns A family object (class `warmgam_betar`, `family`). After a fit, the
#'   fit's `family$phi` holds the precision and its `family$family` reads
#'   `"Beta regression(phi)"`, as mgcv prints it.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(3)
#' d <- data.frame(x = runif(300))
#' mu <- plogis(sin(2 * pi * d$x))
#' d$y <- rbeta(300, mu * 8, (1 - mu) * 8)
#' fit <- gam_fit(y ~ s(x), data = d, family = betar())
#' fit$family$phi
#' \dontshow{options(op)}
#' @export
betar <- function(theta = NULL, link = "logit") {
  if (!is.null(theta) && (!is.numeric(theta) || length(theta) != 1L || !is.finite(theta) || theta <= 0)) {
    abort("`theta` of `betar()` must be a single positive number (the precision), or NULL to estimate it.", "family")
  }
  if (inherits(link, "link-glm")) link <- link$name
  if (!is.character(link) || length(link) != 1L || !link %in% beta_links) {
    abort(sprintf("`link` of `betar()` must be one of %s.", paste0("\"", beta_links, "\"", collapse = ", ")), "family")
  }
  betar_family(theta %||% NA_real_, estimate = is.null(theta), link = link)
}

beta_links <- c("logit", "probit", "cloglog", "cauchit")

# mgcv moves responses at 0 and 1 this far inside (its betar(eps =) default).
beta_eps <- .Machine$double.eps * 100

# A beta regression family object at precision `phi` (NA: not yet estimated).
betar_family <- function(phi, estimate, link) {
  lk <- stats::make.link(link)
  ph <- phi
  log_density <- function(y, mu) stats::dbeta(y, mu * ph, (1 - mu) * ph, log = TRUE)
  # The unit deviance against the saturated model (mgcv's residuals() and
  # postproc(); its dev.resids() is -2 log f, the fitting criterion's).
  # The saturated log density depends on the data alone: kept for the last `y` seen
  # (the deviance and the null deviance ask for the same one).
  saturated <- local({
    seen <- NULL
    value <- NULL
    function(y) {
      if (!identical(y, seen)) {
        value <<- beta_saturated_loglik(y, ph)
        seen <<- y
      }
      value
    }
  })
  dev_resids <- function(y, mu, wt) pmax(2 * wt * (saturated(y) - log_density(y, mu)), 0)
  aic <- function(y, n, mu, wt, dev) -2 * sum(wt * log_density(y, mu))
  # mgcv's postproc: at the weighted mean response (the offset alone without an
  # intercept), against the saturated model.
  null_deviance <- function(y, wt, offset, eta, intercept) {
    mu <- if (intercept) sum(wt * y) / sum(wt) else lk$linkinv(offset)
    sum(dev_resids(y, mu, wt))
  }
  name <- if (is.na(phi)) "Beta regression" else sprintf("Beta regression(%s)", round(phi, 3))
  structure(c(list(
    family = name, link = link, linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = function(mu) mu * (1 - mu) / (1 + ph), dev.resids = dev_resids, aic = aic,
    null_deviance = null_deviance,
    # Draws for simulate(): beta variates, kept inside (0, 1) as mgcv's betar()$rd.
    simulate = function(object, nsim) {
      mu <- rep(object$fitted.values, nsim)
      pmin(pmax(stats::rbeta(length(mu), mu * ph, (1 - mu) * ph), beta_eps), 1 - beta_eps)
    },
    # The expected information per unit weight, phi^2 (trigamma(mu phi) +
    # trigamma((1 - mu) phi)) mu'(eta)^2.
    information_weights = function(y, eta, w) {
      mu <- lk$linkinv(eta)
      w * ph^2 * (trigamma(mu * ph) + trigamma((1 - mu) * ph)) * lk$mu.eta(eta)^2
    },
    validmu = function(mu) all(is.finite(mu)) && all(mu > 0 & mu < 1),
    phi = phi
  ), extended_family("betar", n_estimated = if (estimate) 1 else 0,
    # The engine's field: phi, fixed, or where the search starts (the moment
    # estimate mean (1 - mean) / var - 1 of the response).
    engine_fields = function(y) {
      if (!estimate) return(list(phi = as.double(phi)))
      m <- mean(y)
      v <- stats::var(y)
      start <- if (is.finite(v) && v > 0) m * (1 - m) / v - 1 else 1
      list(phi = min(max(start, 0.01), 1e6))
    },
    at_estimates = function(coords) betar_family(exp(coords), estimate = TRUE, link = link),
    key = if (estimate) "(phi estimated)" else sprintf("(phi = %.17g)", phi),
    mgcv_call = call("betar", theta = phi, link = link)
  )), class = c("warmgam_betar", "family"))
}

# mgcv's betar() (estimated or fixed precision) as warmgam's; NULL for any other
# family.
as_betar <- function(family) {
  if (inherits(family, "warmgam_betar")) return(family)
  if (!is.character(family$family) || !startsWith(family$family, "Beta regression")) return(NULL)
  if (!inherits(family, "extended.family") || !is.function(family$getTheta)) return(NULL)
  if (!family$link %in% beta_links) {
    abort(sprintf("`link = \"%s\"` is not supported for `betar()`; use one of %s.", family$link,
                  paste0("\"", beta_links, "\"", collapse = ", ")), "family")
  }
  estimate <- isTRUE(family$n.theta > 0)
  betar_family(if (estimate) NA_real_ else family$getTheta(TRUE), estimate = estimate, link = family$link)
}

# The log density at the mean that maximizes it, for each `y` in (0, 1): the
# saturated model's (by Newton's method inside a shrinking bracket, in the engine:
# family::beta::saturated_log_density).
beta_saturated_loglik <- function(y, phi) beta_saturated_impl(as.double(y), as.double(phi))
