# Ordered categorical responses: warmgam's ocat(), and mgcv's ocat() objects read as
# warmgam's.

#' Ordered categorical family
#'
#' An ordered categorical response with `R` classes coded `1..R`, as mgcv's
#' `ocat()`: the class is where a latent logistic variable with mean the linear
#' predictor falls among `R - 1` cut points, the first fixed at -1. The other cut
#' points are estimated with the smoothing parameters (minimizing the REML/ML
#' criterion over the logs of their gaps, the smoothing parameters chosen afresh at
#' each value) or fixed when given. The scale is 1. `fitted()` gives the latent
#' mean (the linear predictor), and `predict(type = "response")` a matrix of class
#' probabilities, one column per class, as mgcv's. mgcv's own `ocat()` objects are
#' accepted by [gam_fit()] too.
#'
#' @param theta `NULL` (the default) to estimate the cut points; the `R - 2` gaps
#'   between successive cut points, all positive, to fix them, or all negative to
#'   start the search from their absolute values (as mgcv's `ocat()`).
#' @param link `"identity"`, the only link (as mgcv's).
#' @param R The number of classes, at least 2 (needed when `theta` is `NULL`).
#' @returns A family object (class `warmgam_ocat`, `family`). After a fit, the fit's
#'   `family$cuts` holds the cut points and its `family$family` reads
#'   `"Ordered Categorical(cut points)"`, as mgcv prints it.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(5)
#' d <- data.frame(x = runif(400))
#' latent <- 3 * sin(2 * pi * d$x) + rlogis(400)
#' d$y <- findInterval(latent, c(-1, 0.5, 2)) + 1
#' fit <- gam_fit(y ~ s(x), data = d, family = ocat(R = 4))
#' fit$family$cuts
#' head(predict(fit, type = "response"))
#' \dontshow{options(op)}
#' @export
ocat <- function(theta = NULL, link = "identity", R = NULL) {
  if (inherits(link, "link-glm")) link <- link$name
  if (!identical(link, "identity")) abort("`link` of `ocat()` must be \"identity\".", "family")
  if (!is.null(theta)) {
    ok <- is.numeric(theta) && length(theta) >= 1L && all(is.finite(theta)) && all(theta != 0) &&
      (all(theta > 0) || all(theta < 0))
    if (!ok) {
      abort(paste("`theta` of `ocat()` must be the R - 2 gaps between cut points, all positive (fixed) or all",
                  "negative (starting values)."), "family")
    }
    if (!is.null(R) && R != length(theta) + 2) {
      abort(sprintf("`theta` of `ocat()` has %d gaps, so `R` must be %d.", length(theta), length(theta) + 2), "family")
    }
    R <- length(theta) + 2
  }
  if (!is.numeric(R) || length(R) != 1L || !is.finite(R) || R < 2 || R != round(R) || R > 64) {
    abort("`R` of `ocat()` must be the number of classes, a whole number from 2 to 64.", "family")
  }
  estimate <- R > 2 && (is.null(theta) || all(theta < 0))
  cuts <- if (!is.null(theta)) -1 + cumsum(c(0, abs(theta))) else rep(NA_real_, R - 1)
  ocat_family(cuts, estimate = estimate, R = as.integer(R), start = if (estimate && !is.null(theta)) cuts)
}

# An ordered categorical family object with cut points `cuts` (NA: not yet
# estimated; `start` the cut points a search starts from, when given).
ocat_family <- function(cuts, estimate, R, start = NULL) {
  lk <- stats::make.link("identity")
  alpha <- c(-Inf, cuts, Inf)
  log_probability <- function(y, mu) {
    upper <- alpha[y + 1] - mu
    lower <- alpha[y] - mu
    # The difference of the two tails that is accurate (mgcv's Fdiff()).
    ifelse(upper <= 0, log(stats::plogis(upper) - stats::plogis(lower)),
           ifelse(lower >= 0, log(stats::plogis(-lower) - stats::plogis(-upper)),
                  log1p(-stats::plogis(lower) - stats::plogis(-upper))))
  }
  dev_resids <- function(y, mu, wt) -2 * wt * log_probability(y, mu)
  aic <- function(y, n, mu, wt, dev) -2 * sum(wt * log_probability(y, mu))
  null_deviance <- function(y, wt, offset, eta, intercept) {
    intercept_null_deviance(dev_resids, lk, as.vector(y), wt, offset, eta, grouped = TRUE)
  }
  # mgcv's predict(type = "response"): each class's probability, and its standard
  # error from the linear predictor's by the delta method.
  probabilities <- function(eta, se = NULL) {
    at_cut <- vapply(cuts, function(a) stats::plogis(a - eta), numeric(length(eta)))
    cdf <- cbind(0, matrix(at_cut, length(eta)), 1)
    prob <- t(diff(t(cdf)))
    dimnames(prob) <- list(names(eta), NULL)
    if (is.null(se)) return(prob)
    dens <- cbind(0, matrix(at_cut * (1 - at_cut), length(eta)), 0)
    se_prob <- abs(t(diff(t(dens)))) * se
    dimnames(se_prob) <- dimnames(prob)
    list(fit = prob, se.fit = se_prob)
  }
  # The observed information -d2 log P / dmu2 (mgcv takes it as the expected):
  # with the logistic density f = F (1 - F) and f' = f (1 - 2F) at the two cut
  # points, P' = f(a) - f(b), P'' = f'(b) - f'(a).
  information_weights <- function(y, eta) {
    at <- function(cut) {
      big <- is.infinite(cut)
      cdf <- stats::plogis(cut - eta)
      f <- ifelse(big, 0, cdf * (1 - cdf))
      list(f = f, f1 = f * (1 - 2 * cdf))
    }
    a <- at(alpha[y])
    b <- at(alpha[y + 1])
    p <- exp(log_probability(y, eta))
    r1 <- (a$f - b$f) / p
    r2 <- (b$f1 - a$f1) / p
    r1^2 - r2
  }
  name <- if (anyNA(cuts)) "Ordered Categorical" else {
    sprintf("Ordered Categorical(%s)", paste(round(cuts, 2), collapse = ","))
  }
  structure(c(list(
    family = name, link = "identity", linkfun = lk$linkfun, linkinv = lk$linkinv, mu.eta = lk$mu.eta,
    valideta = lk$valideta, variance = function(mu) rep(pi^2 / 3, length(mu)),
    dev.resids = dev_resids, aic = aic, null_deviance = null_deviance, predict_response = probabilities,
    information_weights = function(y, eta, w) w * information_weights(y, eta),
    # mgcv's sign of a deviance residual: the class interval's midpoint against the
    # latent mean (-1 for the first class, 1 for the last).
    residual_sign = function(y, eta) sign((alpha[y + 1] + alpha[y]) / 2 - eta),
    # Draws for simulate(): the class where the latent logistic variable falls.
    simulate = function(object, nsim) {
      latent <- rep(object$fitted.values, nsim) + stats::rlogis(length(object$fitted.values) * nsim)
      findInterval(latent, cuts) + 1
    },
    validmu = function(mu) all(is.finite(mu)),
    cuts = cuts, classes = R
  ), extended_family("ocat", n_estimated = if (estimate) R - 2 else 0,
    # The engine's field for the cut points: fixed, or where the search starts
    # (mgcv's start from the classes' cumulative frequencies, unless given).
    engine_fields = function(y) list(cuts = as.double(if (!estimate) cuts else start %||% ocat_start(R, y))),
    at_estimates = function(coords) ocat_family(-1 + cumsum(c(0, exp(coords))), estimate = TRUE, R = R),
    key = sprintf("(R = %d)%s", R, if (estimate) "(cuts estimated)" else {
      sprintf("(cuts = %s)", paste(sprintf("%.17g", cuts), collapse = ", "))
    }),
    mgcv_call = if (R > 2) call("ocat", theta = diff(cuts)) else call("ocat", R = 2)
  )), class = c("warmgam_ocat", "family"))
}

# mgcv's ocat() (estimated or fixed cut points) as warmgam's; NULL for any other
# family.
as_ocat <- function(family) {
  if (inherits(family, "warmgam_ocat")) return(family)
  if (!is.character(family$family) || !startsWith(family$family, "Ordered Categorical")) return(NULL)
  if (!inherits(family, "extended.family") || !is.function(family$getTheta)) return(NULL)
  R <- length(family$getTheta()) + 2L
  estimate <- R > 2 && isTRUE(family$n.theta > 0)
  ocat_family(if (estimate) rep(NA_real_, R - 1) else family$getTheta(TRUE), estimate = estimate, R = R)
}

# mgcv's starting cut points: from the cumulative class frequencies (each class
# counted once more), logits shifted so that the first is -1, gaps at least 0.01.
ocat_start <- function(R, y) {
  p <- cumsum(tabulate(c(seq_len(R), y), nbins = R) / (length(y) + R))
  shift <- if (p[[1]] == 0) 5 else -1 - stats::qlogis(p[[1]])
  logits <- c(-1, stats::qlogis(p[2:(R - 1)]) + shift)
  -1 + cumsum(c(0, pmax(diff(logits), 0.01)))
}

# mgcv's null deviance for the extended families it fits an intercept for
# (find.null.dev()): the deviance minimized over a constant added to the offset,
# searched around the link of the fitted means' weighted mean, the interval doubled
# until the minimum is inside it.
intercept_null_deviance <- function(dev_resids, lk, y, wt, offset, eta, grouped = FALSE) {
  # `grouped` (for deviance residuals linear in the weight, of a response without
  # attributes): with one offset for all rows, each distinct response counts once
  # with its rows' weights summed. An ordered categorical response has R values, and
  # its null deviance row by row took 0.9 s of a 1e5-row fit's 0.9 s exact hit.
  centre <- lk$linkfun(mean(lk$linkinv(eta - offset) * wt) / mean(wt))
  if (grouped && length(unique(offset)) <= 1L) {
    distinct <- by_distinct_response(y, wt)
    y <- distinct$y
    wt <- distinct$wt
    offset <- if (length(offset)) offset[[1]] else 0
  }
  fnull <- function(g) sum(dev_resids(y, lk$linkinv(g + offset), wt))
  width <- abs(centre) * 0.1 + 1
  repeat {
    op <- stats::optimize(fnull, c(centre - width, centre + width), tol = 1e-10)
    if (op$minimum > centre - width && op$minimum < centre + width) return(op$objective)
    width <- width * 2
  }
}

# The distinct values of a response with their rows' weights summed, when they are
# fewer than half the rows (else `y` and `wt` as they are).
by_distinct_response <- function(y, wt) {
  wt <- rep_len(wt, length(y))
  values <- unique(y)
  if (length(values) * 2L > length(y)) return(list(y = y, wt = wt))
  list(y = values, wt = as.double(rowsum(wt, match(y, values), reorder = FALSE)))
}
