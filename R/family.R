# Families: which ones the engine fits, and the response each one takes.

# The families and links the engine fits (R's family objects; quasi() with the
# variance functions below).
supported_links <- list(
  gaussian = c("identity", "log", "inverse"),
  binomial = c("logit", "probit", "cloglog", "cauchit", "log"),
  quasibinomial = c("logit", "probit", "cloglog", "cauchit", "log"),
  poisson = c("log", "identity", "sqrt"),
  quasipoisson = c("log", "identity", "sqrt"),
  Gamma = c("inverse", "log", "identity"),
  inverse.gaussian = c("1/mu^2", "inverse", "log", "identity"),
  quasi = c("identity", "log", "inverse", "1/mu^2", "sqrt", "logit", "probit", "cloglog"),
  negbin = c("log", "identity", "sqrt"),
  tweedie = c("log", "identity", "sqrt"),
  betar = c("logit", "probit", "cloglog", "cauchit"),
  scat = c("identity", "log", "inverse"),
  ocat = "identity",
  ziP = "identity",
  cnorm = c("identity", "log", "sqrt")
)
quasi_variances <- c("constant", "mu(1-mu)", "mu", "mu^2", "mu^3")
# Links a family takes only as R's power() links (`Gamma(link = power(0.5))`).
power_only_links <- list(Gamma = "sqrt", inverse.gaussian = "sqrt")

# R's power(lambda) links (`quasi(link = power(1/3))`, mgcv's `Tweedie(p, link =
# power(0.1))`) are named "mu^lambda", lambda rounded to 3 digits (power() itself
# gives "log" for lambda <= 0 and "identity" for 1). The powers below are fitted
# as the named link; any other keeps its name, which the engine reads as mu^lambda.
power_links <- c("1" = "identity", "0.5" = "sqrt", "0" = "log", "-1" = "inverse", "-2" = "1/mu^2")

# The families a power link other than the named ones is fitted for (not the
# binomial's, whose means lie in (0, 1)).
power_families <- c("gaussian", "poisson", "quasipoisson", "Gamma", "inverse.gaussian", "quasi", "negbin",
                    "tweedie")

is_power_link <- function(link) is.character(link) && length(link) == 1L && startsWith(link, "mu^")

# A link named by another power: "mu^lambda" with lambda other than the named ones.
is_general_power <- function(link) is_power_link(link) && !link %in% paste0("mu^", names(power_links))

power_link_name <- function(link) {
  lambda <- suppressWarnings(as.numeric(substring(link, 4L)))
  if (is.na(lambda) || !is.finite(lambda)) {
    abort(sprintf("`link = \"%s\"` is not a power link this engine can read.", link), "family")
  }
  name <- power_links[match(lambda, as.numeric(names(power_links)))]
  if (is.na(name)) link else unname(name)
}

# The link functions of the link named `link` (as R's make.link(), power() for
# "mu^lambda").
link_functions <- function(link) {
  if (is_power_link(link)) stats::power(as.numeric(substring(link, 4L))) else stats::make.link(link)
}

# A link given as a name or as an R link object (`power(0.5)`, `make.link("log")`),
# as the name of a link the engine fits.
link_name <- function(link) {
  if (inherits(link, "link-glm")) {
    # power()'s name keeps 3 digits of its power; the link keeps them all.
    lambda <- power_lambda(link$linkfun)
    link <- if (!is.null(lambda) && is_general_power(link$name)) sprintf("mu^%.17g", lambda) else link$name
  }
  if (is_power_link(link)) link <- power_link_name(link)
  link
}

# The exact power of a link function made by R's power(); NULL for another.
power_lambda <- function(linkfun) {
  lambda <- tryCatch(get("lambda", envir = environment(linkfun), inherits = FALSE), error = function(e) NULL)
  if (is.numeric(lambda) && length(lambda) == 1L && is.finite(lambda)) lambda
}

# The link as the engine reads it: its name, or for another power "mu^lambda" with
# the power in full (power()'s name rounds it to 3 digits).
engine_link <- function(family) {
  if (!is_general_power(family$link)) return(family$link)
  lambda <- power_lambda(family$linkfun) %||% as.numeric(substring(family$link, 4L))
  sprintf("mu^%.17g", lambda)
}

# The family with its link functions replaced by those of the link named `link`.
relink <- function(family, link) {
  lk <- link_functions(link)
  family$link <- link
  for (f in c("linkfun", "linkinv", "mu.eta", "valideta")) family[[f]] <- lk[[f]]
  family
}

resolve_family <- function(family) {
  if (is.character(family)) {
    fam_fun <- tryCatch(get(family, mode = "function"), error = function(e) NULL)
    if (is.null(fam_fun)) abort(sprintf("Unknown family \"%s\".", family), "family")
    family <- fam_fun
  }
  if (is.function(family)) family <- family()
  if (!inherits(family, c("family", "extended.family"))) {
    abort("`family` must be a family object such as `gaussian()` or `binomial()`.", "family")
  }
  power_link <- is_power_link(family$link)
  given_link <- family$link
  if (power_link) family <- relink(family, power_link_name(family$link))
  own <- as_negbin(family) %||% as_tweedie(family) %||% as_betar(family) %||% as_scat(family) %||%
    as_ocat(family) %||% as_zip(family) %||% as_cnorm(family)
  if (!is.null(own)) {
    if (!own$link %in% supported_links[[family_id(own)]] && !is_general_power(own$link)) {
      abort(sprintf("`link = \"%s\"` is not supported for `%s`; use \"log\", \"identity\" or \"sqrt\".",
                    own$link, own$family), "family")
    }
    return(own)
  }
  links <- supported_links[[family$family]]
  # R's Gamma() and inverse.gaussian() name only some links, but take others as
  # power() objects.
  if (power_link) links <- c(links, power_only_links[[family$family]])
  if (is.null(links)) {
    abort(sprintf(
      "`family = %s()` is not supported; warmgam fits %s.", family$family,
      paste0(c(setdiff(names(supported_links), c("negbin", "tweedie")), "nb", "tw"), "()", collapse = ", ")
    ), "family")
  }
  if (!family$link %in% links && !(is_general_power(family$link) && family$family %in% power_families)) {
    abort(sprintf(
      "`family = %s(link = %s)` is not supported; its links are %s.", family$family,
      if (power_link) sprintf("power(%s)", substring(given_link, 4L)) else paste0("\"", family$link, "\""),
      paste0("\"", links, "\"", collapse = ", ")
    ), "family")
  }
  if (family$family == "quasi" && !family$varfun %in% quasi_variances) {
    abort(sprintf(
      "`quasi(variance = \"%s\")` is not supported; use one of %s.", family$varfun,
      paste0("\"", quasi_variances, "\"", collapse = ", ")
    ), "family")
  }
  family
}

# The family as the engine and the store's keys name it.
family_fields <- function(family) {
  list(family = family_id(family), link = family$link, variance = family$varfun %||% "")
}

is_binomial <- function(family) family$family %in% c("binomial", "quasibinomial")

# The scale is known (1) for the binomial and Poisson families, estimated otherwise.
scale_known <- function(family) family_id(family) %in% c("binomial", "poisson", unit_scale_families)

# The families whose scale is 1 whatever `scale` says (as in mgcv).
unit_scale_families <- c("negbin", "betar", "scat", "ocat", "ziP", "cnorm")

# Whether the family's own parameter (the negative binomial theta, the Tweedie
# power, the beta precision) is estimated with the smoothing parameters.
estimates_parameter <- function(family) {
  isTRUE(family$estimate_theta) || isTRUE(family$estimate_p) || isTRUE(family[["n_estimated"]] > 0)
}

# What every extended family warmgam builds itself (betar(), scat(), ocat(), ziP())
# gives the generic code, spliced into its family object: `engine_id` (the engine's
# and the store's name), `n_estimated` (how many parameters the engine searches),
# `engine_fields(y)` (the spec's fields: fixed values or the search's start),
# `at_estimates(coords)` (the family at the engine's estimates, its search
# coordinates), `key` (what the store's model key adds: fixed values are part of the
# model, estimated ones are not), `mgcv_call` (mgcv's constructor at these values,
# for as_mgcv()) and `reml_only` (mgcv fits it by REML whatever `method` says).
extended_family <- function(engine_id, n_estimated, engine_fields, at_estimates, key, mgcv_call) {
  list(engine_id = engine_id, n_estimated = n_estimated, engine_fields = engine_fields,
       at_estimates = at_estimates, key = key, mgcv_call = mgcv_call, reml_only = TRUE)
}

# How many of the family's own parameters are estimated (the scaled t has two).
n_estimated_parameters <- function(family) {
  family[["n_estimated"]] %||% as.numeric(estimates_parameter(family))
}

# The engine spec's fields for the family's own parameters (fixed values, or where
# their search starts): the fields the engine reads for the family, by name.
family_parameter_fields <- function(family, y) {
  c(
    list(
      theta = negbin_theta_start(family, y),
      power = if (is.null(family[["p"]]) || is.na(family[["p"]])) 1.5 else family[["p"]]
    ),
    if (is.function(family[["engine_fields"]])) family$engine_fields(y)
  )
}

# The response and prior weights a family fits, from the model frame's response `y`
# and `weights` (NULL: all 1): binomial responses may be 0/1 (numeric, logical or a
# factor whose first level is failure), proportions with the trials as weights, or
# `cbind(successes, failures)`; checked against the family's support.
family_response <- function(y, weights, family, response_name) {
  binomial <- is_binomial(family)
  if (binomial && is.matrix(y) && ncol(y) == 2L && is.numeric(y)) {
    trials <- y[, 1] + y[, 2]
    if (any(y < 0)) abort(sprintf("`%s` must have non-negative successes and failures.", response_name), "response")
    y <- ifelse(trials == 0, 0, y[, 1] / trials)
    weights <- (weights %||% 1) * trials
    weights <- as.double(rep_len(weights, length(y)))
  } else if (binomial && is.factor(y)) {
    y <- as.double(y != levels(y)[[1]])
  } else if (binomial && is.logical(y)) {
    y <- as.double(y)
  }
  censor <- NULL
  if (family_id(family) == "cnorm" && is.matrix(y) && ncol(y) == 2L && is.numeric(y)) {
    # mgcv's censored response: the second column bounds the first (`?cnorm`).
    censor <- as.double(y[, 2])
    y <- y[, 1]
    if (anyNA(censor)) abort(sprintf("The second column of `%s` has missing values.", response_name), "response")
    bad <- which(!is.finite(y))
    if (length(bad)) {
      abort(sprintf(paste("The first column of `%s` must be finite (a bound goes in the second column, as",
                          "-Inf or Inf); rows %s are not."), response_name, paste(utils::head(bad, 5), collapse = ", ")),
            "response")
    }
  }
  if (!is.numeric(y) || is.matrix(y)) {
    what <- if (binomial) {
      "a numeric vector, a factor or `cbind(successes, failures)`"
    } else if (family_id(family) == "cnorm") {
      "a numeric vector or a two-column matrix `cbind(y, censor)`"
    } else {
      "a numeric vector"
    }
    abort(sprintf("The response `%s` must be %s.", response_name, what), "response")
  }
  y <- if (is.double(y) && is.null(attributes(y))) y else as.double(y)
  check_support(y, weights, family, response_name)
  # As mgcv's betar(): responses at 0 and 1 are moved just inside the interval.
  if (family_id(family) == "betar") y <- pmin(pmax(y, beta_eps), 1 - beta_eps)
  list(y = y, weights = weights, censor = censor)
}

# Whether every value is a whole number to 1e-7 relative; exact integers (the usual
# case) are settled by one comparison per value.
whole_numbers <- function(x) {
  off <- x[x != round(x)]
  !any(abs(off - round(off)) > 1e-7 * pmax(1, abs(off)))
}

check_support <- function(y, weights, family, response_name) {
  fam <- family_id(family)
  variance <- family$varfun %||% ""
  # Rows with zero weight carry no information and are not checked.
  yy <- if (is.null(weights)) y else y[weights > 0]
  bad <- function(msg) abort(sprintf("The response `%s` %s for `family = %s()`.", response_name, msg, fam), "response")
  if (is_binomial(family) || (fam == "quasi" && variance == "mu(1-mu)")) {
    if (any(yy < 0 | yy > 1)) bad("must lie in [0, 1] (or be `cbind(successes, failures)`)")
    if (fam == "binomial") {
      successes <- if (is.null(weights)) y else (y * weights)[weights > 0]
      if (!whole_numbers(successes)) {
        abort(sprintf(paste0(
          "`family = binomial()` needs whole numbers of successes: `%s` times `weights` (the trials) ",
          "is not an integer for some rows. Use `quasibinomial()` for non-integer data."
        ), response_name), "response")
      }
    }
  } else if (fam %in% c("poisson", "quasipoisson", "negbin", "tweedie") || (fam == "quasi" && variance == "mu")) {
    if (any(yy < 0)) bad("must be non-negative")
    if (fam == "poisson" && !whole_numbers(yy)) {
      abort(sprintf(
        "`family = poisson()` needs counts: the response `%s` has non-integer values. Use `quasipoisson()` for non-integer data.",
        response_name
      ), "response")
    }
  } else if (fam == "ziP") {
    counted <- if (is.null(weights)) TRUE else weights > 0
    bad_rows <- which(!is.na(y) & (y < 0 | y != round(y)) & counted)
    if (length(bad_rows)) {
      abort(sprintf("The response `%s` must be non-negative counts for `family = ziP()`; rows %s are not.",
                    response_name, paste(utils::head(bad_rows, 5), collapse = ", ")), "response")
    }
    if (min(yy) == 0 && max(yy) == 1) {
      abort(sprintf(paste("The response `%s` is binary: a zero-inflated Poisson makes no sense for it (as mgcv",
                          "says); use `binomial()`."), response_name), "response")
    }
  } else if (fam == "ocat") {
    counted <- if (is.null(weights)) TRUE else weights > 0
    outside <- which(!is.na(y) & (y < 1 | y > family$classes | y != round(y)) & counted)
    if (length(outside)) {
      abort(sprintf(
        "The response `%s` must be a class label 1..%d for `family = ocat()`; rows %s are not.", response_name,
        family$classes, paste(utils::head(outside, 5), collapse = ", ")
      ), "response")
    }
  } else if (fam == "betar") {
    counted <- if (is.null(weights)) TRUE else weights > 0
    outside <- which(!is.na(y) & (y < 0 | y > 1) & counted)
    if (length(outside)) {
      abort(sprintf(
        "The response `%s` must lie in [0, 1] for `family = betar()`; rows %s are outside it.", response_name,
        paste(utils::head(outside, 5), collapse = ", ")
      ), "response")
    }
  } else if (fam %in% c("Gamma", "inverse.gaussian")) {
    if (any(yy <= 0)) bad("must be positive")
  } else if (fam == "quasi" && variance %in% c("mu^2", "mu^3")) {
    if (any(yy < 0)) bad("must be non-negative")
  }
  if (fam == "gaussian" && family$link == "log" && any(yy <= 0)) {
    bad("must be positive with the log link (the starting means are the data)")
  }
  if (fam == "gaussian" && family$link == "inverse" && any(yy == 0)) {
    bad("must be non-zero with the inverse link")
  }
  invisible()
}

#' Negative binomial family
#'
#' The negative binomial distribution for overdispersed counts, with variance
#' `mu + mu^2 / theta`, as mgcv's `nb()`: `theta` is estimated with the smoothing
#' parameters (by minimizing the REML/ML criterion over it, the smoothing parameters
#' chosen afresh at each `theta`), or fixed when given (needed with
#' `method = "GCV.Cp"`). The corrected covariance `vcov(unconditional = TRUE)` (and
#' the `edf2` that `AIC()` counts) allows for the smoothing parameters' uncertainty
#' but not for `theta`'s, which mgcv includes: `AIC()` can differ from mgcv's in the
#' fifth digit. The scale is 1. mgcv's own
#' `nb()` and `negbin(theta)` objects are accepted by [gam_fit()] too.
#'
#' @param theta The shape parameter; `NULL` (the default) to estimate it.
#' @param link `"log"` (the default), `"identity"` or `"sqrt"`, as a name or a link
#'   object (`power(0.5)` is `"sqrt"`, `power(1)` `"identity"`).
#' @returns A family object (class `warmgam_nb`, `family`). After a fit, the fit's
#'   `family$theta` holds the estimate and its `family$family` reads
#'   `"Negative Binomial(theta)"`, as mgcv prints it.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(1)
#' d <- data.frame(x = runif(200))
#' d$y <- rnbinom(200, mu = exp(1 + sin(2 * pi * d$x)), size = 3)
#' fit <- gam_fit(y ~ s(x), data = d, family = nb())
#' fit$family$theta
#' \dontshow{options(op)}
#' @export
nb <- function(theta = NULL, link = "log") {
  if (!is.null(theta) && (!is.numeric(theta) || length(theta) != 1L || !is.finite(theta) || theta <= 0)) {
    abort("`theta` of `nb()` must be a single positive number, or NULL to estimate it.", "family")
  }
  link <- link_name(link)
  check_count_link(link, "nb")
  negbin_family(theta %||% NA_real_, estimate = is.null(theta), link = link)
}

# The links nb() and tw() take, as mgcv's.
check_count_link <- function(link, fn) {
  if (!is.character(link) || length(link) != 1L || !(link %in% c("log", "identity", "sqrt") || is_general_power(link))) {
    abort(sprintf("`link` of `%s()` must be \"log\", \"identity\", \"sqrt\" or a power().", fn), "family")
  }
  invisible(link)
}

# A negative binomial family object at `theta` (NA: not yet estimated).
negbin_family <- function(theta, estimate, link) {
  lk <- link_functions(link)
  th <- theta
  # The unit deviance, and -2 log likelihood (mgcv's negbin()$dev.resids and $aic).
  dev_resids <- function(y, mu, wt) {
    ylogy <- ifelse(y > 0, y * log(y / mu), 0)
    2 * wt * (ylogy - (y + th) * log((y + th) / (mu + th)))
  }
  aic <- function(y, n, mu, wt, dev) {
    term <- (y + th) * log(mu + th) - ifelse(y > 0, y * log(mu), 0) + lgamma(y + 1) -
      th * log(th) + lgamma(th) - lgamma(th + y)
    2 * sum(term * wt)
  }
  name <- if (is.na(theta)) "Negative Binomial" else sprintf("Negative Binomial(%s)", format(theta, digits = 4))
  structure(list(
    family = name, link = link, linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = function(mu) mu + mu^2 / th, dev.resids = dev_resids, aic = aic,
    validmu = function(mu) all(is.finite(mu)) && all(mu > 0),
    theta = theta, estimate_theta = estimate
  ), class = c("warmgam_nb", "family"))
}

# mgcv's nb() (estimated or fixed theta) and negbin(theta) as warmgam's; NULL for any
# other family.
as_negbin <- function(family) {
  if (inherits(family, "warmgam_nb")) return(family)
  if (!is.character(family$family) || !startsWith(tolower(family$family), "negative binomial")) return(NULL)
  if (!is.function(family$getTheta)) return(NULL)
  # mgcv's nb() (an extended family) gives theta itself with getTheta(TRUE);
  # negbin()'s getTheta() takes no argument.
  extended <- inherits(family, "extended.family")
  theta <- if (extended) family$getTheta(TRUE) else family$getTheta()
  estimate <- extended && isTRUE(family$n.theta > 0)
  out <- negbin_family(if (estimate) NA_real_ else theta, estimate = estimate, link = family$link)
  # mgcv fits its extended nb() by REML whatever `method` says; negbin(theta) by GCV too.
  out$reml_only <- extended
  out
}

# The family's name for the engine and the store's keys.
family_id <- function(family) {
  if (inherits(family, "warmgam_nb")) {
    "negbin"
  } else if (inherits(family, "warmgam_tweedie")) {
    "tweedie"
  } else if (!is.null(family[["engine_id"]])) {
    family$engine_id
  } else {
    family$family
  }
}

#' Tweedie family
#'
#' The Tweedie distribution with power `1 < p < 2`: a compound Poisson-gamma
#' distribution for non-negative data with exact zeros (insurance claims, rainfall,
#' biomass), with variance `phi * mu^p`, as mgcv's `tw()`. `p` is estimated with the
#' smoothing parameters (over mgcv's default range \[1.01, 1.99\], minimizing the
#' REML/ML criterion, the smoothing parameters chosen afresh at each `p`) or fixed
#' when given; the scale `phi` is estimated by REML/ML (an estimated `p` reports that
#' scale, as mgcv's `tw()`; a fixed one reports Fletcher's estimate, as mgcv's
#' `Tweedie(p)`). mgcv's `tw()` and `Tweedie(p)` objects are accepted by [gam_fit()]
#' too. The log density is summed by the series of Dunn and Smyth (2005).
#'
#' @param p The power; `NULL` (the default) to estimate it.
#' @param link `"log"` (the default), `"identity"` or `"sqrt"`, as a name or a link
#'   object (`power(0.5)` is `"sqrt"`, `power(1)` `"identity"`).
#' @returns A family object (class `warmgam_tweedie`, `family`); after a fit, the
#'   fit's `family$p` holds the power.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(2)
#' d <- data.frame(x = runif(300))
#' counts <- rpois(300, exp(sin(2 * pi * d$x)))
#' d$y <- vapply(counts, function(k) sum(rgamma(k, shape = 2, rate = 2)), numeric(1))
#' fit <- gam_fit(y ~ s(x), data = d, family = tw())
#' fit$family$p
#' \dontshow{options(op)}
#' @export
tw <- function(p = NULL, link = "log") {
  if (!is.null(p) && (!is.numeric(p) || length(p) != 1L || !is.finite(p) || p <= 1 || p >= 2)) {
    abort("`p` of `tw()` must be a single number strictly between 1 and 2, or NULL to estimate it.", "family")
  }
  link <- link_name(link)
  check_count_link(link, "tw")
  tweedie_family(p %||% NA_real_, estimate = is.null(p), link = link)
}

# A Tweedie family object at power `p` (NA: not yet estimated).
tweedie_family <- function(p, estimate, link) {
  lk <- link_functions(link)
  pw <- p
  dev_resids <- function(y, mu, wt) {
    ya <- ifelse(y > 0, y^(2 - pw) / ((1 - pw) * (2 - pw)), 0)
    pmax(2 * wt * (ya - y * mu^(1 - pw) / (1 - pw) + mu^(2 - pw) / (2 - pw)), 0)
  }
  aic <- function(y, n, mu, wt, dev) {
    scale <- dev / sum(wt)
    -2 * sum(tweedie_log_density_impl(as.double(y), as.double(mu), pw, scale) * wt) + 2
  }
  name <- if (is.na(p)) "Tweedie" else sprintf("Tweedie(p=%s)", format(p, digits = 4))
  structure(list(
    family = name, link = link, linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = function(mu) mu^pw, dev.resids = dev_resids, aic = aic,
    validmu = function(mu) all(is.finite(mu)) && all(mu > 0),
    p = p, estimate_p = estimate
  ), class = c("warmgam_tweedie", "family"))
}

# mgcv's tw() (estimated or fixed power) and Tweedie(p) as warmgam's; NULL for any
# other family.
as_tweedie <- function(family) {
  if (inherits(family, "warmgam_tweedie")) return(family)
  if (!is.character(family$family) || !startsWith(family$family, "Tweedie")) return(NULL)
  if (inherits(family, "extended.family") && is.function(family$getTheta)) {
    estimate <- isTRUE(family$n.theta > 0)
    out <- tweedie_family(if (estimate) NA_real_ else family$getTheta(TRUE), estimate = estimate, link = family$link)
    # mgcv fits its extended tw() by REML whatever `method` says; Tweedie(p) by GCV too.
    out$reml_only <- TRUE
    return(out)
  }
  power <- suppressWarnings(as.numeric(sub("^Tweedie\\((.*)\\)$", "\\1", family$family)))
  if (is.na(power) || power <= 1 || power >= 2) return(NULL)
  tweedie_family(power, estimate = FALSE, link = family$link)
}
