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
  quasi = c("identity", "log", "inverse", "1/mu^2", "sqrt", "logit", "probit", "cloglog")
)
quasi_variances <- c("constant", "mu(1-mu)", "mu", "mu^2", "mu^3")

resolve_family <- function(family) {
  if (is.character(family)) {
    fam_fun <- tryCatch(get(family, mode = "function"), error = function(e) NULL)
    if (is.null(fam_fun)) abort(sprintf("Unknown family \"%s\".", family), "family")
    family <- fam_fun
  }
  if (is.function(family)) family <- family()
  if (!inherits(family, "family")) {
    abort("`family` must be a family object such as `gaussian()` or `binomial()`.", "family")
  }
  links <- supported_links[[family$family]]
  if (is.null(links)) {
    abort(sprintf(
      "`family = %s()` is not supported; warmgam fits %s.", family$family,
      paste0(names(supported_links), "()", collapse = ", ")
    ), "family")
  }
  if (!family$link %in% links) {
    abort(sprintf(
      "`family = %s(link = \"%s\")` is not supported; its links are %s.", family$family, family$link,
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
  list(family = family$family, link = family$link, variance = family$varfun %||% "")
}

is_binomial <- function(family) family$family %in% c("binomial", "quasibinomial")

# The scale is known (1) for the binomial and Poisson families, estimated otherwise.
scale_known <- function(family) family$family %in% c("binomial", "poisson")

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
  if (!is.numeric(y) || is.matrix(y)) {
    what <- if (binomial) "a numeric vector, a factor or `cbind(successes, failures)`" else "a numeric vector"
    abort(sprintf("The response `%s` must be %s.", response_name, what), "response")
  }
  y <- if (is.double(y) && is.null(attributes(y))) y else as.double(y)
  check_support(y, weights, family, response_name)
  list(y = y, weights = weights)
}

check_support <- function(y, weights, family, response_name) {
  fam <- family$family
  variance <- family$varfun %||% ""
  positive <- weights %||% rep(1, length(y)) > 0
  yy <- y[positive]
  bad <- function(msg) abort(sprintf("The response `%s` %s for `family = %s()`.", response_name, msg, fam), "response")
  if (is_binomial(family) || (fam == "quasi" && variance == "mu(1-mu)")) {
    if (any(yy < 0 | yy > 1)) bad("must lie in [0, 1] (or be `cbind(successes, failures)`)")
    if (fam == "binomial") {
      trials <- weights %||% rep(1, length(y))
      successes <- (y * trials)[positive]
      if (any(abs(successes - round(successes)) > 1e-7 * pmax(1, abs(successes)))) {
        abort(sprintf(paste0(
          "`family = binomial()` needs whole numbers of successes: `%s` times `weights` (the trials) ",
          "is not an integer for some rows. Use `quasibinomial()` for non-integer data."
        ), response_name), "response")
      }
    }
  } else if (fam %in% c("poisson", "quasipoisson") || (fam == "quasi" && variance == "mu")) {
    if (any(yy < 0)) bad("must be non-negative")
    if (fam == "poisson" && any(abs(yy - round(yy)) > 1e-7 * pmax(1, yy))) {
      abort(sprintf(
        "`family = poisson()` needs counts: the response `%s` has non-integer values. Use `quasipoisson()` for non-integer data.",
        response_name
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
