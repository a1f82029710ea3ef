# The scaled t family: warmgam's scat(), and mgcv's scat() objects read as warmgam's.

#' Scaled t family
#'
#' Heavy-tailed (robust) regression, as mgcv's `scat()`: `y - mu` is `sigma` times
#' a t variate with `nu` degrees of freedom. `nu` and `sigma` are estimated with the
#' smoothing parameters (minimizing the REML/ML criterion over `log(nu - min.df)` and
#' `log(sigma)`, the smoothing parameters chosen afresh at each value), or fixed
#' when given. The scale is 1. mgcv's own `scat()` objects are accepted by
#' [gam_fit()] too.
#'
#' @param theta `NULL` (the default) to estimate `nu` and `sigma`; `c(nu, sigma)`,
#'   both positive, to fix them; both negative to estimate them starting from their
#'   absolute values (as mgcv's `scat()`).
#' @param link `"identity"` (the default), `"log"` or `"inverse"`.
#' @param min.df The least degrees of freedom `nu` may take (3, as mgcv's).
#' @returns A family object (class `warmgam_scat`, `family`). After a fit, the fit's
#'   `family$nu` and `family$sigma` hold the parameters and its `family$family`
#'   reads `"Scaled t(nu,sigma)"`, as mgcv prints it.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(4)
#' d <- data.frame(x = runif(300))
#' d$y <- sin(2 * pi * d$x) + 0.3 * rt(300, df = 4)
#' fit <- gam_fit(y ~ s(x), data = d, family = scat())
#' c(fit$family$nu, fit$family$sigma)
#' \dontshow{options(op)}
#' @export
scat <- function(theta = NULL, link = "identity", min.df = 3) {
  if (!is.numeric(min.df) || length(min.df) != 1L || !is.finite(min.df) || min.df < 0) {
    abort("`min.df` of `scat()` must be a single non-negative number.", "family")
  }
  start <- NULL
  if (!is.null(theta)) {
    ok <- is.numeric(theta) && length(theta) == 2L && all(is.finite(theta)) && all(theta != 0) &&
      (all(theta > 0) || all(theta < 0))
    if (!ok) {
      abort(paste("`theta` of `scat()` must be `c(nu, sigma)`, both positive (fixed) or both negative",
                  "(starting values), or NULL to estimate them."), "family")
    }
    if (abs(theta[[1]]) <= min.df) {
      abort(sprintf("`theta[1]` of `scat()` (nu) must exceed `min.df` (%s).", format(min.df)), "family")
    }
    if (all(theta < 0)) start <- abs(theta)
  }
  if (inherits(link, "link-glm")) link <- link$name
  if (!is.character(link) || length(link) != 1L || !link %in% scat_links) {
    abort(sprintf("`link` of `scat()` must be one of %s.", paste0("\"", scat_links, "\"", collapse = ", ")), "family")
  }
  estimate <- is.null(theta) || all(theta < 0)
  scat_family(if (estimate) c(NA_real_, NA_real_) else theta, estimate = estimate, link = link,
              min_df = as.double(min.df), start = start)
}

scat_links <- c("identity", "log", "inverse")

# A scaled t family object at `theta = c(nu, sigma)` (NA: not yet estimated; `start`
# the starting values when given).
scat_family <- function(theta, estimate, link, min_df, start = NULL) {
  lk <- stats::make.link(link)
  nu <- theta[[1]]
  sig <- theta[[2]]
  dev_resids <- function(y, mu, wt) wt * (nu + 1) * log1p(((y - mu) / sig)^2 / nu)
  aic <- function(y, n, mu, wt, dev) {
    term <- -lgamma((nu + 1) / 2) + lgamma(nu / 2) + log(sig * sqrt(pi * nu)) +
      (nu + 1) * log1p(((y - mu) / sig)^2 / nu) / 2
    2 * sum(term * wt)
  }
  null_deviance <- function(y, wt, offset, eta, intercept) {
    intercept_null_deviance(dev_resids, lk, y, wt, offset, eta)
  }
  shown <- round(c(nu, sig), 3)
  if (isTRUE(shown[[1]] > 999)) shown[[1]] <- Inf
  name <- if (anyNA(theta)) "Scaled t" else sprintf("Scaled t(%s)", paste(shown, collapse = ","))
  structure(c(list(
    family = name, link = link, linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = function(mu) rep(sig^2 * nu / (nu - 2), length(mu)),
    dev.resids = dev_resids, aic = aic, null_deviance = null_deviance,
    # Draws for simulate(): mu + sigma t_nu (mgcv's scat()$rd).
    simulate = function(object, nsim) {
      mu <- rep(object$fitted.values, nsim)
      mu + sig * stats::rt(length(mu), df = nu)
    },
    # The expected information per unit weight, (nu + 1) / (sigma^2 (nu + 3)) mu'(eta)^2.
    information_weights = function(y, eta, w) w * (nu + 1) / (sig^2 * (nu + 3)) * lk$mu.eta(eta)^2,
    validmu = function(mu) all(is.finite(mu)),
    nu = nu, sigma = sig, min_df = min_df
  ), extended_family("scat", n_estimated = if (estimate) 2 else 0,
    # The engine's fields: nu and sigma (fixed, or where the search starts: mgcv's
    # start, nu = min.df + e^1.5 and sigma = 0.8 sd(y), unless given), and min.df.
    engine_fields = function(y) {
      at <- if (!estimate) c(nu, sig) else start %||% c(min_df + exp(1.5), 0.8 * stats::sd(y))
      if (!is.finite(at[[2]]) || at[[2]] <= 0) at[[2]] <- 1
      list(nu = as.double(at[[1]]), sigma = as.double(at[[2]]), min_df = min_df)
    },
    at_estimates = function(coords) {
      scat_family(c(min_df + exp(coords[[1]]), exp(coords[[2]])), estimate = TRUE, link = link, min_df = min_df)
    },
    key = sprintf("(min.df = %.17g)%s", min_df,
                  if (estimate) "(nu, sigma estimated)" else sprintf("(nu = %.17g, sigma = %.17g)", nu, sig)),
    mgcv_call = call("scat", theta = c(nu, sig), link = link, min.df = min_df)
  )), class = c("warmgam_scat", "family"))
}

# mgcv's scat() (estimated or fixed) as warmgam's; NULL for any other family.
as_scat <- function(family) {
  if (inherits(family, "warmgam_scat")) return(family)
  if (!is.character(family$family) || !startsWith(family$family, "scaled t")) return(NULL)
  if (!inherits(family, "extended.family") || !is.function(family$getTheta)) return(NULL)
  if (!family$link %in% scat_links) {
    abort(sprintf("`link = \"%s\"` is not supported for `scat()`; use one of %s.", family$link,
                  paste0("\"", scat_links, "\"", collapse = ", ")), "family")
  }
  min_df <- get(".min.df", envir = environment(family$getTheta))
  estimate <- isTRUE(family$n.theta > 0)
  theta <- family$getTheta(TRUE)
  scat_family(if (estimate) c(NA_real_, NA_real_) else theta, estimate = estimate, link = family$link,
              min_df = min_df)
}
