# Cox proportional hazards models (mgcv's `cox.ph()`): the general-family fit
# (R/general.R) of one linear predictor, without an intercept, whose likelihood is
# Cox's partial likelihood over risk sets (src/rust/src/fit/cox.rs). Here: the
# survival data (times, strata, event indicators), Breslow's baseline hazard after
# the fit, and the survival function's predictions (Klein & Moeschberger 2003,
# Survival Analysis, §8.8), as mgcv's `cox.ph()` gives them.

is_cox_family <- function(family) identical(family$family, "Cox PH")

# A Cox model's formula as the one-formula list the general fit takes.
cox_formulae <- function(formula) {
  if (inherits(formula, "formula")) return(list(formula))
  if (is.list(formula) && length(formula) == 1L && inherits(formula[[1]], "formula")) return(formula)
  abort("`formula` for `cox.ph()` must be one formula, `time ~ s(x)` or `cbind(time, stratum) ~ s(x)`.", "formula")
}

# The survival data of the rows kept (`rows`, NULL when the variables come from the
# formula's environment): each row's time and stratum from the response (`time`, or
# `cbind(time, stratum)` as mgcv's), its status from `weights` (1 an event, 0
# censored; every row an event when NULL, as mgcv), and the formula the set-up
# takes, its response the times themselves.
cox_survival <- function(formula, rows, status, subset, dropped) {
  response <- eval(formula[[2]], rows, environment(formula))
  stratum <- NULL
  if (is.matrix(response)) {
    if (ncol(response) != 2L) {
      abort(sprintf("The response of a `cox.ph()` model is `time` or `cbind(time, stratum)`; `%s` has %d columns.",
                    deparse(formula[[2]]), ncol(response)), "response")
    }
    stratum <- response[, 2]
    response <- response[, 1]
  }
  if (!is.numeric(response)) abort("The survival times of a `cox.ph()` model must be numeric.", "response")
  time <- as.double(response)
  n <- length(time)
  bad <- which(!is.finite(time) | time < 0)
  if (length(bad)) {
    abort(sprintf("`cox.ph()` needs non-negative survival times; %d row(s) are not (the first: row %d, value %s).",
                  length(bad), bad[[1]], format(time[[bad[[1]]]])), "response")
  }
  if (is.null(status)) {
    status <- rep(1, n)
  } else {
    if (!is.null(subset)) status <- status[subset]
    if (length(dropped)) status <- status[-dropped]
    if (length(status) != n) {
      abort(sprintf("`weights` (the event indicator of `cox.ph()`) has %d values for %d rows.", length(status), n),
            "argument")
    }
    bad <- which(is.na(status) | !status %in% c(0, 1))
    if (length(bad)) {
      abort(sprintf(paste("`weights` of a `cox.ph()` model is the event indicator: 1 for an event, 0 for a",
                          "censored time; row %d has %s."), bad[[1]], format(status[[bad[[1]]]])), "argument")
    }
  }
  if (!any(status == 1)) abort("A `cox.ph()` model needs at least one event (`weights` of 1).", "argument")
  setup <- formula
  setup[[2]] <- as.name(".warmgam_cox_time")
  env <- new.env(parent = environment(formula))
  env$.warmgam_cox_time <- time
  environment(setup) <- env
  list(time = time, status = as.double(status), stratum = stratum, formula = setup,
       y = if (is.null(stratum)) time else cbind(time, stratum))
}

# A set-up model without its intercept column (mgcv's `drop.intercept`): the other
# parametric columns keep the contrasts they have with it.
drop_intercept <- function(setup) {
  keep <- colnames(setup$X) != "(Intercept)"
  if (all(keep)) return(setup)
  removed <- sum(!keep)
  setup$X <- setup$X[, keep, drop = FALSE]
  setup$off <- setup$off - removed
  setup$term.names <- setup$term.names[keep]
  setup$assign <- setup$assign[keep[seq_along(setup$assign)]]
  setup$nsdf <- setup$nsdf - removed
  setup$smooth <- lapply(setup$smooth, function(sm) {
    sm$first <- sm$first - removed
    sm$last <- sm$last - removed
    sm
  })
  setup$drop_intercept <- TRUE
  setup
}

# Breslow's estimate of the cumulative baseline hazard at each distinct time of each
# stratum, after a fit with linear predictor `eta` (offset included) and model
# matrix `X`, with what the survival function's standard errors need (mgcv's
# `cox.ph()$hazard`): by stratum, times decreasing, `h` the cumulative hazard, `q`
# its variance part `sum D_j / S_j^2`, `a` (a row per time) `sum D_j b_j / S_j^2`
# with `b_j = sum_{R_j} exp(eta_i) x_i`, and each row's time index `r`.
cox_hazard <- function(time, status, stratum, eta, X) {
  strata <- if (is.null(stratum)) rep(1, length(time)) else stratum
  levels <- unique(strata)
  parts <- lapply(levels, function(s) {
    idx <- which(strata == s)
    ord <- idx[order(time[idx], decreasing = TRUE)]
    tr <- unique(time[ord])
    r <- match(time[ord], tr)
    last <- cumsum(tabulate(r, nbins = length(tr)))
    gamma <- exp(eta[ord])
    at_risk <- cumsum(gamma)[last]
    events <- tabulate(r[status[ord] == 1], nbins = length(tr))
    later <- function(v) rev(cumsum(rev(v)))
    # (Column by column: `apply()` drops a one-row result to a vector.)
    a <- matrix(0, length(tr), ncol(X))
    for (k in seq_len(ncol(X))) {
      b <- cumsum(gamma * X[ord, k])[last]
      a[, k] <- later(b * events / at_risk^2)
    }
    list(
      tr = tr, stratum = rep(s, length(tr)), h = later(events / at_risk), q = later(events / at_risk^2),
      km = later(events / last), a = a, rows = ord, r = r
    )
  })
  offsets <- cumsum(c(0, vapply(parts, function(p) length(p$tr), 1L)))
  r <- integer(length(time))
  for (k in seq_along(parts)) r[parts[[k]]$rows] <- parts[[k]]$r + offsets[[k]]
  list(
    tr = unlist(lapply(parts, `[[`, "tr")), stratum = unlist(lapply(parts, `[[`, "stratum")),
    h = unlist(lapply(parts, `[[`, "h")), q = unlist(lapply(parts, `[[`, "q")),
    km = unlist(lapply(parts, `[[`, "km")),
    a = do.call(rbind, lapply(parts, `[[`, "a")), r = r
  )
}

# What mgcv's `cox.ph()` post-processing gives a fit: the baseline hazard, the
# survival function at each row's own time as fitted values, and the null deviance
# (of the model without covariates); the deviance is then the sum of squared
# deviance residuals, as for the other general families.
cox_postproc <- function(object, X, surv) {
  eta <- drop(object$linear.predictors)
  object$hazard <- cox_hazard(surv$time, surv$status, surv$stratum, eta, X)
  object$fitted.values <- exp(-object$hazard$h[object$hazard$r] * exp(eta))
  base <- cox_hazard(surv$time, surv$status, surv$stratum, rep(0, length(eta)), matrix(0, length(eta), 0))
  s0 <- pmin(exp(-base$h[base$r]), 1 - 2 * .Machine$double.eps)
  w <- surv$status
  object$null.deviance <- 2 * sum(abs(w + log(s0) + w * log(-log(s0))))
  object$deviance <- sum(object$family$residuals(object, "deviance")^2)
  object
}

# The survival function at times `time` (strata `stratum`) for linear predictors
# `eta` and model-matrix rows `x`, with standard errors from `V` (mgcv's `coxpred`):
# `s = exp(-h(t) exp(eta))`, `se = exp(eta) s sqrt(q(t) + v'V v)`, `v = a(t) - x h(t)`,
# at the last fitted time at or before `t` of the row's stratum (1 and 0 before the
# first).
cox_survival_at <- function(hazard, time, stratum, eta, x, V) {
  n <- length(time)
  s <- rep(1, n)
  se <- rep(0, n)
  strata <- if (is.null(stratum)) rep(hazard$stratum[[1]], n) else stratum
  unknown <- setdiff(unique(strata), hazard$stratum)
  if (length(unknown)) {
    abort(sprintf("`newdata` has stratum %s, which the model was not fitted with.", format(unknown[[1]])), "newdata")
  }
  # Each row's fitted time: the stratum's last at or before `t` (its times are
  # decreasing in the table, so the increasing ones are read backwards).
  at <- rep(NA_integer_, n)
  for (st in unique(strata)) {
    rows <- which(strata == st)
    idx <- which(hazard$stratum == st)
    increasing <- rev(idx)
    k <- findInterval(time[rows], hazard$tr[increasing])
    at[rows[k > 0]] <- increasing[k[k > 0]]
  }
  fitted <- which(!is.na(at))
  if (length(fitted)) {
    j <- at[fitted]
    h <- hazard$h[j]
    s[fitted] <- exp(-h * exp(eta[fitted]))
    v <- hazard$a[j, , drop = FALSE] - x[fitted, , drop = FALSE] * h
    se[fitted] <- exp(eta[fitted]) * s[fitted] * sqrt(pmax(0, hazard$q[j] + rowSums((v %*% V) * v)))
  }
  list(fit = s, se.fit = se)
}

#' Cox proportional hazards additive models
#'
#' A fit with mgcv's `cox.ph()` family: `gam_fit(time ~ s(x) + z, family =
#' mgcv::cox.ph(), weights = event)`, the response the survival time (or
#' `cbind(time, stratum)` for a stratified model, each stratum with its own baseline
#' hazard), `weights` the event indicator (1 an event, 0 a censored time; every row
#' an event when not given), as mgcv's. The smoothing parameters maximize the
#' Laplace-approximate restricted likelihood of Cox's partial likelihood (Breslow's
#' handling of tied times), and the baseline hazard is Breslow's estimate (Wood, Pya
#' & Säfken 2016, JASA 111:1548-1563). The model has no intercept: the baseline
#' hazard takes its place.
#'
#' The methods are those of [warmgam_general] fits, with these differences:
#' `predict(type = "link")` gives a vector (the log hazard ratio), and
#' `predict(type = "response")` the survival function at each row's time (`newdata`
#' must hold the response's variables), with standard errors as mgcv's; `fitted()`
#' values are the survival function at each row's own time; `residuals()` are
#' `"deviance"`, `"martingale"`, `"score"` or `"schoenfeld"` residuals.
#'
#' @param object A `warmgam_cox` fit.
#' @param newdata A data frame of covariates (and, for `type = "response"`, the
#'   survival times and strata); the fitted data when missing.
#' @param type `"link"`, `"response"` or `"lpmatrix"` for `predict()`;
#'   `"deviance"`, `"martingale"`, `"score"` or `"schoenfeld"` for `residuals()`
#'   (the last two are matrices with a column per coefficient, as mgcv's: the score
#'   process for checking proportional hazards, each term's columns scaled by its
#'   covariance and listed in `attr(, "term")`, and Schoenfeld residuals).
#' @param se.fit Whether to return standard errors too.
#' @param unconditional Whether standard errors use the covariance corrected for
#'   smoothing parameter uncertainty (`Vc`) rather than `Vp`.
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `predict()`: a vector (a list with `fit` and `se.fit` when `se.fit =
#'   TRUE`; a matrix for `"lpmatrix"`); `residuals()`: a vector, or a matrix for
#'   `"score"` and `"schoenfeld"`; `nobs()`: the number of events (as mgcv's: what
#'   `BIC()` counts), and `logLik()` with it as its `nobs`.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' set.seed(3)
#' n <- 300
#' d <- data.frame(x = runif(n), z = runif(n))
#' event_time <- rexp(n, exp(sin(2 * pi * d$x) - 1))
#' censor_time <- runif(n, 0, 4)
#' d$time <- pmin(event_time, censor_time)
#' d$event <- as.numeric(event_time <= censor_time)
#' fit <- gam_fit(time ~ s(x) + s(z), data = d, family = mgcv::cox.ph(), weights = event)
#' summary(fit)
#' # The survival function at time 1 for two covariate values.
#' predict(fit, data.frame(time = 1, x = c(0.25, 0.75), z = 0.5), type = "response", se.fit = TRUE)
#' \dontshow{options(op)}
#' @name warmgam_cox
NULL

#' @rdname warmgam_cox
#' @export
predict.warmgam_cox <- function(object, newdata, type = "link", se.fit = FALSE, unconditional = FALSE, ...) {
  check_dots_empty("predict", ...)
  check_choice(type, "type", c("link", "response", "lpmatrix"))
  check_flag(se.fit, "se.fit")
  check_flag(unconditional, "unconditional")
  if (missing(newdata)) newdata <- NULL
  if (type == "lpmatrix") return(predict.warmgam_general(object, newdata, type = "lpmatrix"))
  general_type <- if (type == "response") "link" else type
  out <- predict.warmgam_general(object, newdata, type = general_type, se.fit = se.fit || type == "response",
                                 unconditional = unconditional)
  if (type == "link") {
    if (!se.fit) return(drop(out))
    return(list(fit = drop(out$fit), se.fit = drop(out$se.fit)))
  }
  if (is.null(newdata) && !se.fit) return(object$fitted.values)
  V <- if (unconditional) object$Vc else object$Vp
  at <- newdata %||% object$data
  surv <- if (is.null(newdata)) {
    list(time = cox_time_of(object$y), stratum = cox_stratum_of(object$y))
  } else {
    lhs <- object$formula[[2]]
    if (!all(all.vars(lhs) %in% names(newdata))) {
      abort(sprintf("`predict(type = \"response\")` of a `cox.ph()` model needs the response `%s` in `newdata`.",
                    deparse(lhs)), "missing_variable")
    }
    response <- eval(lhs, newdata, environment(object$formula))
    list(time = as.double(cox_time_of(response)), stratum = cox_stratum_of(response))
  }
  x <- if (is.null(at)) {
    abort("`predict(type = \"response\")` needs `newdata`: the fit was made without `data`.", "argument")
  } else {
    predict.warmgam_general(object, at, type = "lpmatrix")
  }
  eta <- drop(out$fit)
  res <- cox_survival_at(object$hazard, surv$time, surv$stratum, eta, x, V)
  names(res$fit) <- names(res$se.fit) <- names(eta)
  if (se.fit) res else res$fit
}

#' @rdname warmgam_cox
#' @export
logLik.warmgam_cox <- function(object, ...) {
  out <- NextMethod()
  attr(out, "nobs") <- nobs.warmgam_cox(object)
  out
}

#' @rdname warmgam_cox
#' @export
nobs.warmgam_cox <- function(object, ...) {
  # The events, as mgcv's (its rows of nonzero weight): what BIC counts for a Cox
  # model (Volinsky & Raftery 2000, Biometrics 56:256-262).
  sum(object$prior.weights != 0)
}

cox_time_of <- function(y) if (is.matrix(y)) y[, 1] else y
cox_stratum_of <- function(y) if (is.matrix(y)) y[, 2] else NULL

#' @rdname warmgam_cox
#' @export
residuals.warmgam_cox <- function(object, type = "deviance", ...) {
  check_dots_empty("residuals", ...)
  check_choice(type, "type", c("deviance", "martingale", "score", "schoenfeld"))
  if (type %in% c("deviance", "martingale")) return(object$family$residuals(object, type))
  if (is.null(object$data)) abort(sprintf("`type = \"%s\"` residuals need the fit's data: fit with `data`.", type),
                                  "argument")
  X <- predict.warmgam_general(object, object$data, type = "lpmatrix")
  res <- cox_schoenfeld(cox_time_of(object$y), object$prior.weights, cox_stratum_of(object$y),
                        drop(object$linear.predictors), X)
  out <- if (type == "schoenfeld") res$schoenfeld else cox_scaled_score(object, res$score)
  colnames(out) <- names(object$coefficients)
  out
}

# Schoenfeld residuals (each event's covariates less their mean over the rows at
# risk, weighted by exp(eta); NA for censored rows) and their running sums back
# from the last time, less the drift a proportional hazard would give them (the
# score process that mgcv's `cox.ph()` residuals check proportionality with),
# stratum by stratum, each row's risk set the rows before it in decreasing time.
cox_schoenfeld <- function(time, status, stratum, eta, X) {
  strata <- if (is.null(stratum)) rep(1, length(time)) else stratum
  schoenfeld <- score <- matrix(0, nrow(X), ncol(X))
  for (s in unique(strata)) {
    rows <- which(strata == s)
    o <- rows[order(time[rows], decreasing = TRUE)]
    g <- exp(eta[o])
    Xo <- X[o, , drop = FALSE]
    r <- (Xo - apply(g * Xo, 2, cumsum) / cumsum(g)) * status[o]
    r <- matrix(r, ncol = ncol(X))
    m <- nrow(r)
    run <- matrix(apply(r[m:1, , drop = FALSE], 2, cumsum), ncol = ncol(X))[m:1, , drop = FALSE]
    events <- which(status[o] != 0)
    if (length(events)) {
      # The share of the stratum's events still to come, stepped at each event.
      drift <- stats::approx(events, seq(1, 0, length.out = length(events)), xout = seq_len(m),
                             method = "constant", rule = 2)$y
      run <- run - outer(drift, run[1, ])
    }
    schoenfeld[o, ] <- r
    score[o, ] <- run
  }
  schoenfeld[status == 0, ] <- NA
  list(schoenfeld = schoenfeld, score = score)
}

# Score residuals scaled as mgcv's: each parametric coefficient's column by its
# standard deviation, each smooth's block by the Cholesky factor of its covariance,
# with the columns of each term in `attr(, "term")`.
cox_scaled_score <- function(object, res) {
  term <- list()
  np <- object$nsdf[[1]]
  if (np) {
    ii <- seq_len(np)
    res[, ii] <- t(sqrt(diag(object$Vp)[ii]) * t(res[, ii, drop = FALSE]))
    term$parametric <- ii
  }
  for (sm in object$smooth) {
    ii <- sm$first:sm$last
    res[, ii] <- res[, ii, drop = FALSE] %*% t(chol(object$Vp[ii, ii]))
    term[[sm$label]] <- ii
  }
  attr(res, "term") <- term
  res
}

# Cox's log partial likelihood (Breslow's ties) of times `time` (a vector, or
# `cbind(time, stratum)`), event indicators `status` and linear predictor `eta`.
cox_partial_loglik <- function(time, status, eta) {
  stratum <- cox_stratum_of(time)
  time <- cox_time_of(time)
  strata <- if (is.null(stratum)) rep(1, length(time)) else stratum
  shift <- max(eta)
  total <- 0
  for (s in unique(strata)) {
    rows <- which(strata == s)
    o <- rows[order(time[rows], decreasing = TRUE)]
    # Each time's risk set: the rows up to the last one tied with it.
    runs <- rle(time[o])$lengths
    at_risk <- rep(cumsum(exp(eta[o] - shift))[cumsum(runs)], runs)
    total <- total + sum(status[o] * (eta[o] - shift - log(at_risk)))
  }
  total
}

# gam_cv()'s score of a Cox model's fold (Verweij & van Houwelingen 1993, Statistics
# in Medicine 12:2305-2314): the fold's contribution to the cross-validated partial
# likelihood, `l(beta_-k) - l_-k(beta_-k)` (the full data's partial likelihood at the
# fold fit's coefficients less the training rows' own), negated and per held-out
# row, so that the folds' mean weighted by their held-out rows is -CVPL / n. The
# held-out rows alone have too few risk sets to score a fold by.
cox_cv_score <- function(y, eta, status, test) {
  -(cox_partial_loglik(y, status, eta) - cox_partial_loglik(rows_of(y, !test), status[!test], eta[!test])) / sum(test)
}
