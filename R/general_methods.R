# Methods for general smooth models (R/general.R fits them): print, summary,
# predict (one column per linear predictor), plot (each block of terms as a
# single-predictor view), residuals, vcov, logLik, nobs and family.

#' Methods for general smooth models
#'
#' A fit of several linear predictors with a general family (`gam_fit(list(y ~ s(x),
#' ~ s(z)), family = mgcv::gaulss())`): `print()`, `summary()` (mgcv's tables, each
#' term labelled by its predictor as mgcv does: `s.1(z)` is a smooth of the second),
#' `predict()` (one column per linear predictor), `residuals()`, `vcov()`,
#' `logLik()`, `plot()`. Families: mgcv's `gaulss()`, `gumbls()`, `gammals()`, `ziplss()`,
#' `gevlss()`, `shash()`, `twlss()`, `multinom(K)` and `mvn(d)` (one formula per
#' response; the fit's `family$data$R` is the factor of the precision matrix, as
#' mgcv's); Cox models ([warmgam_cox]) have methods of their own too.
#'
#' @param object,x A `warmgam_general` fit.
#' @param newdata A data frame of covariates; the fitted data when missing.
#' @param type For `predict()`: `"link"` (the linear predictors), `"response"` (the
#'   family's parameters on its response scale, as mgcv's: for `gaulss()` the mean
#'   and `1 / sigma`) or `"lpmatrix"` (the model matrix, with the columns of each
#'   predictor in `attr(, "lpi")`). For `residuals()`: `"deviance"`, `"pearson"` or
#'   `"response"`, as the family's residuals function gives them.
#' @param se.fit Whether to return standard errors too.
#' @param unconditional Whether standard errors use the covariance corrected for
#'   smoothing parameter uncertainty (`Vc`) rather than `Vp`.
#' @param digits Significant digits to print.
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `predict()`: a matrix with one column per linear predictor (a list with
#'   `fit` and `se.fit` when `se.fit = TRUE`); `summary()`: a `summary.warmgam_general`
#'   object; `print()`: its argument, invisibly; `vcov()`: the Bayesian covariance
#'   matrix; `logLik()`: the log likelihood with its effective degrees of freedom;
#'   `family()`: the family object.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(list(accel ~ s(times, k = 20), ~ s(times)), data = MASS::mcycle,
#'                family = mgcv::gaulss())
#' summary(fit)
#' head(predict(fit, type = "response"))
#' \dontshow{options(op)}
#' @name warmgam_general
NULL

#' @rdname warmgam_general
#' @export
print.warmgam_general <- function(x, ...) {
  check_dots_empty("print", ...)
  cat("\nFamily:", x$family$family, "\nLink functions:", paste(general_links(x$family), collapse = " "), "\n\nFormula:\n")
  for (f in formulae_of(x)) print(f)
  cat(sprintf("\nTotal edf: %s   -REML = %s   n = %d\n", format(sum(x$edf), digits = 5),
              format(unname(x$criterion), digits = 8), NROW(x$y)))
  if (!x$converged) cat("The fit did not converge:", x$termination, "\n")
  cat(warm_start_line(x$warm_start), "\n", sep = "")
  invisible(x)
}

#' @rdname warmgam_general
#' @export
summary.warmgam_general <- function(object, ...) {
  check_dots_empty("summary", ...)
  beta <- object$coefficients
  se <- sqrt(diag(object$Vp))
  parametric <- unlist(Map(function(idx, np) idx[seq_len(np)], object$block_cols, object$nsdf))
  z <- beta[parametric] / se[parametric]
  p_table <- cbind(Estimate = beta[parametric], `Std. Error` = se[parametric], `z value` = z,
                   `Pr(>|z|)` = 2 * stats::pnorm(abs(z), lower.tail = FALSE))
  # (A model without parametric terms, such as a Cox model of smooths, has no table.)
  if (!nrow(p_table)) p_table <- NULL
  s_table <- NULL
  if (length(object$smooth)) {
    s_table <- t(vapply(seq_along(object$smooth), function(i) {
      sm <- object$smooth[[i]]
      test <- object$term_tests[[i]]
      c(edf = sum(object$edf[sm$first:sm$last]), Ref.df = test$rank, Chi.sq = test$stat,
        `p-value` = smooth_p_value(test, NROW(object$y) - sum(object$edf), scale_known = TRUE))
    }, numeric(4)))
    rownames(s_table) <- names(object$smooth)
  }
  structure(
    list(p.table = p_table, s.table = s_table,
         dev.expl = if (is.null(object$null.deviance)) NA_real_ else
           (object$null.deviance - object$deviance) / object$null.deviance,
         criterion = object$criterion, n = NROW(object$y), family = object$family, formula = object$formula),
    class = "summary.warmgam_general"
  )
}

#' @rdname warmgam_general
#' @export
print.summary.warmgam_general <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots_empty("print", ...)
  # (mvn() and multinom() name no links: theirs are identities.)
  cat("\nFamily:", x$family$family, "\nLink function:", paste(general_links(x$family), collapse = " "),
      "\n\nFormula:\n")
  for (f in formulae_of(x)) print(f)
  print_coefficient_tables(x, digits)
  cat(sprintf("\nDeviance explained = %s%%\n-REML = %s  Scale est. = 1         n = %d\n",
              formatC(100 * x$dev.expl, digits = 1, format = "f"), format(unname(x$criterion), digits = 5), x$n))
  invisible(x)
}

#' @rdname warmgam_general
#' @export
predict.warmgam_general <- function(object, newdata, type = "link", se.fit = FALSE, unconditional = FALSE, ...) {
  check_dots_empty("predict", ...)
  check_flag(unconditional, "unconditional")
  V <- if (unconditional) object$Vc else object$Vp
  check_choice(type, "type", c("link", "response", "lpmatrix"))
  check_flag(se.fit, "se.fit")
  if (missing(newdata) || is.null(newdata)) {
    if (type == "lpmatrix") abort("`type = \"lpmatrix\"` needs `newdata`.", "argument")
    newdata <- NULL
  } else if (!is.data.frame(newdata) && !is.list(newdata)) {
    abort("`newdata` must be a data frame.", "newdata")
  }
  if (is.null(newdata)) {
    eta <- object$linear.predictors
    x <- NULL
  } else {
    blocks <- lapply(object$parts, function(part) model_matrix_at(part, newdata))
    if (type == "lpmatrix") {
      out <- do.call(cbind, lapply(blocks, `[[`, "x"))
      # (mvn()'s precision parameters are coefficients of no predictor: zero columns.)
      extra <- length(object$coefficients) - ncol(out)
      if (extra > 0) out <- cbind(out, matrix(0, nrow(out), extra))
      colnames(out) <- names(object$coefficients)
      attr(out, "lpi") <- object$lpi
      return(out)
    }
    eta <- vapply(seq_along(object$lpi), function(k) {
      js <- predictor_blocks(object, k)
      Reduce(`+`, lapply(js, function(j) {
        drop(blocks[[j]]$x %*% object$coefficients[object$block_cols[[j]]]) + blocks[[j]]$offset
      }))
    }, numeric(nrow(blocks[[1]]$x)))
    eta <- matrix(eta, ncol = length(object$lpi))
    x <- predictor_matrices(object, lapply(blocks, `[[`, "x"))
  }
  if (se.fit && is.null(x)) {
    if (is.null(object$data)) abort("`se.fit = TRUE` needs `newdata`: the fit was made without `data`.", "argument")
    x <- predictor_matrices(object, lapply(object$parts, function(part) model_matrix_at(part, object$data)$x))
  }
  # (mgcv's cox.ph() has one link, identity, and no `linfo`.)
  links <- object$family$linfo %||% list(stats::make.link(object$family$link))
  if (type == "response" && is.function(object$family$predict)) {
    # The family's own response scale (gumbls' location, gammals' mean, multinom's
    # class probabilities), as mgcv's predict.gam asks it.
    scale_of <- function(e) as.matrix(object$family$predict(object$family, eta = e)[[1]])
    fit <- scale_of(eta)
    if (!se.fit) return(fit)
    return(list(fit = fit, se.fit = response_se(scale_of, eta, x, object$lpi, V)))
  }
  fit <- if (type == "link") eta else vapply(seq_along(links), function(k) links[[k]]$linkinv(eta[, k]),
                                             numeric(nrow(eta)))
  fit <- matrix(fit, ncol = length(links))
  if (!se.fit) return(fit)
  se <- vapply(seq_along(x), function(k) {
    idx <- object$lpi[[k]]
    s <- sqrt(pmax(0, rowSums((x[[k]] %*% V[idx, idx, drop = FALSE]) * x[[k]])))
    if (type == "response") s * abs(links[[k]]$mu.eta(eta[, k])) else s
  }, numeric(nrow(eta)))
  list(fit = fit, se.fit = matrix(se, ncol = length(links)))
}

#' @param pages,select,shade,seWithMean,trans,all.terms,rug,se_mult,n,n2,too.far As
#'   for [plot.warmgam()]: every predictor's smooth terms are drawn in turn, as mgcv
#'   draws them (`select` counts over all of them).
#' @rdname warmgam_general
#' @export
plot.warmgam_general <- function(x, select = NULL, pages = 0, shade = FALSE, seWithMean = FALSE,
                                 unconditional = FALSE, trans = identity, all.terms = FALSE, rug = TRUE,
                                 se_mult = 2, n = 100, n2 = 40, too.far = 0.1, ...) {
  check_flag(shade, "shade")
  check_number(pages, "pages", lower = 0)
  check_drawing(rug, se_mult, trans)
  if (is.null(x$data)) abort("`plot()` needs the fit's data: fit with `data`.", "argument")
  views <- lapply(seq_along(x$parts), function(k) lp_view(x, k))
  counts <- vapply(views, function(v) length(v$smooth), 1L)
  if (!is.null(select) && (!is.numeric(select) || any(!select %in% seq_len(sum(counts))))) {
    abort(sprintf("`select` must pick smooth terms among 1 to %d.", sum(counts)), "argument")
  }
  panels <- list()
  owner <- list()
  for (k in seq_along(views)) {
    mine <- seq_len(counts[[k]]) + sum(counts[seq_len(k - 1)])
    chosen <- if (is.null(select)) seq_len(counts[[k]]) else which(mine %in% select)
    if (!length(chosen) && !(all.terms && is.null(select))) next
    got <- if (length(chosen)) {
      term_panels(views[[k]], chosen, FALSE, seWithMean, unconditional, FALSE, n, n2, too.far)
    }
    if (all.terms && is.null(select)) got <- c(got, Filter(Negate(is.null), parametric_panels(views[[k]], n, unconditional)))
    panels <- c(panels, got)
    owner <- c(owner, rep(list(views[[k]]), length(got)))
  }
  draw_pages(panels, owner, pages, shade, trans, rug, se_mult, ...)
}

# A fit's formulae as a list (a Cox model has one formula).
formulae_of <- function(x) if (inherits(x$formula, "formula")) list(x$formula) else x$formula

# The blocks of terms predictor `k` takes, in order.
predictor_blocks <- function(object, k) blocks_of(object$block_lp, k)

# Each predictor's model matrix (its columns `lpi[[k]]`) from the blocks' `x`.
predictor_matrices <- function(object, x) {
  lapply(seq_along(object$lpi), function(k) do.call(cbind, x[predictor_blocks(object, k)]))
}

# Block `k` of a general fit's terms (a predictor's own formula, or one shared by
# several) as a single-predictor warmgam fit, for the term-level machinery
# (predict(type = "terms"), plot panels): its coefficients, covariances and edf,
# its terms labelled as in the whole fit.
lp_view <- function(object, k) {
  idx <- object$block_cols[[k]]
  part <- object$parts[[k]]
  first <- idx[[1]] - 1L
  smooth <- Filter(function(sm) sm$lp == k, object$smooth)
  smooth <- lapply(smooth, function(sm) {
    sm$first <- sm$first - first
    sm$last <- sm$last - first
    sm
  })
  structure(
    list(
      coefficients = stats::setNames(object$coefficients[idx], names(part$coefficients)),
      Vp = object$Vp[idx, idx, drop = FALSE], Vc = object$Vc[idx, idx, drop = FALSE],
      edf = object$edf[idx], smooth = smooth, pterms = part$pterms, xlevels = part$xlevels,
      contrasts = part$contrasts, assign = part$assign, n_parametric = object$nsdf[[k]], model = object$data,
      drop_intercept = part$drop_intercept,
      family = stats::gaussian()
    ),
    class = "warmgam"
  )
}

#' @rdname warmgam_general
#' @export
residuals.warmgam_general <- function(object, type = "deviance", ...) {
  check_dots_empty("residuals", ...)
  check_choice(type, "type", c("deviance", "pearson", "response"))
  object$family$residuals(object, type)
}

# Standard errors on a family's response scale `scale_of(eta)` by the delta method:
# its derivatives in each linear predictor (central differences) with the
# predictors' covariances at each row, `x_a' V_ab x_b`. (mgcv 1.8-41's own
# `predict` functions get some of these wrong: gumbls' and gammals' second column
# uses one variance for every row, ziplss' mixes up its two predictors' columns.)
response_se <- function(scale_of, eta, x, lpi, V) {
  K <- ncol(eta)
  h <- 1e-6 * pmax(1, abs(eta))
  dim(h) <- dim(eta)
  jac <- lapply(seq_len(K), function(k) {
    up <- down <- eta
    up[, k] <- eta[, k] + h[, k]
    down[, k] <- eta[, k] - h[, k]
    (scale_of(up) - scale_of(down)) / (2 * h[, k])
  })
  out <- 0 * jac[[1]]
  for (a in seq_len(K)) {
    for (b in seq_len(K)) {
      cov_ab <- rowSums((x[[a]] %*% V[lpi[[a]], lpi[[b]], drop = FALSE]) * x[[b]])
      out <- out + jac[[a]] * jac[[b]] * cov_ab
    }
  }
  out[out < 0] <- 0
  sqrt(out)
}

#' @rdname warmgam_general
#' @export
vcov.warmgam_general <- function(object, unconditional = FALSE, ...) {
  check_dots_empty("vcov", ...)
  check_flag(unconditional, "unconditional")
  if (unconditional) object$Vc else object$Vp
}

#' @rdname warmgam_general
#' @export
logLik.warmgam_general <- function(object, ...) {
  check_dots_empty("logLik", ...)
  # As mgcv's logLik.gam: the effective degrees of freedom corrected for smoothing
  # parameter uncertainty, at most the number of coefficients.
  df <- min(sum(object$edf2), length(object$coefficients))
  structure(object$loglik, df = df, nobs = NROW(object$y), class = "logLik")
}

#' @rdname warmgam_general
#' @export
nobs.warmgam_general <- function(object, ...) NROW(object$y)

#' @rdname warmgam_general
#' @export
family.warmgam_general <- function(object, ...) {
  check_dots_empty("family", ...)
  object$family
}
