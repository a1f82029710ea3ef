# gam_check() and k_check(): residual plots, the convergence report and the basis
# dimension check, as mgcv's gam.check() and k.check().

#' Check a warmgam fit
#'
#' Draws four residual plots (a normal QQ plot of the deviance residuals, residuals
#' against the linear predictor, their histogram, and the response against the fitted
#' values), prints how the smoothing parameter optimization converged, and checks
#' each smooth's basis dimension with [k_check()].
#'
#' For generalized fits of more than 100,000 rows, the data terms of the reported
#' Hessian of the criterion (and of the smoothing-parameter covariance behind
#' `vcov(fit, unconditional = TRUE)`) come from a systematic subsample of 100,000
#' rows, with a relative error of about 0.3%; the gradient, the criterion and the fit
#' itself use every row.
#'
#' @param fit A `warmgam` fit.
#' @param plot Draw the four panels (on one page).
#' @param ... Further arguments to [k_check()].
#' @returns Invisibly, a list with the `k_check()` table (`k_table`) and the
#'   convergence facts printed (`method`, `converged`, `outer_iterations`,
#'   `gradient_range`, `hessian_range`, `rank`).
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8), data = mtcars)
#' gam_check(fit)
#' \dontshow{options(op)}
#' @export
gam_check <- function(fit, plot = TRUE, ...) {
  if (!inherits(fit, "warmgam")) abort("`fit` must be a fit made by `gam_fit()`.", "argument")
  check_flag(plot, "plot")
  if (plot) {
    old <- graphics::par(mfrow = c(2, 2))
    on.exit(graphics::par(old), add = TRUE)
    r <- fit_residuals(fit, type = "deviance")
    stats::qqnorm(r, main = "Normal QQ plot of residuals", pch = ".", cex = 2)
    stats::qqline(r, col = "red")
    graphics::plot(fit$linear.predictors, r, pch = ".", cex = 2,
                   main = "Residuals vs linear predictor", xlab = "linear predictor", ylab = "residuals")
    graphics::hist(r, breaks = "FD", main = "Histogram of residuals", xlab = "residuals")
    graphics::plot(fit$fitted.values, fit$y, pch = ".", cex = 2,
                   main = "Response vs fitted values", xlab = "fitted values", ylab = "response")
  }
  hessian <- fit$hessian_eigenvalues
  report <- list(
    method = fit$method,
    converged = fit$converged,
    outer_iterations = fit$outer_iterations,
    gradient_range = if (length(fit$gradient)) range(fit$gradient) else c(NA_real_, NA_real_),
    hessian_range = if (length(hessian)) range(hessian) else c(NA_real_, NA_real_),
    rank = length(fit$coefficients)
  )
  cat(sprintf("\nMethod: %s   Optimizer: outer Newton\n", report$method))
  cat(sprintf("%s after %d iteration%s (%s).\n",
              if (report$converged) "Full convergence" else "No convergence",
              report$outer_iterations, if (report$outer_iterations == 1) "" else "s", fit$termination))
  if (length(fit$gradient)) {
    cat(sprintf("Gradient range [%s, %s]\n", format(report$gradient_range[1], digits = 6),
                format(report$gradient_range[2], digits = 6)))
  }
  if (length(hessian)) {
    cat(sprintf("Hessian %s, eigenvalue range [%s, %s].\n",
                if (min(hessian) > 0) "positive definite" else "not positive definite",
                format(report$hessian_range[1], digits = 6), format(report$hessian_range[2], digits = 6)))
  }
  cat(sprintf("Model rank = %d / %d\n", report$rank, report$rank))
  k_table <- k_check(fit, ...)
  if (!is.null(k_table)) {
    cat("\nBasis dimension (k) checking results. Low p-value (k-index < 1) may\n")
    cat("indicate that k is too low, especially if edf is close to k'.\n\n")
    stats::printCoefmat(k_table, digits = 3)
  }
  invisible(c(report, list(k_table = k_table)))
}

#' Basis dimension check
#'
#' For each smooth term, compares the residuals of neighbouring observations (ordered
#' by the term's covariate, or each observation's three nearest neighbours in the
#' space of several covariates) with the residual variance, as mgcv's `k.check()`:
#' the k-index is half the mean squared difference of neighbouring deviance
#' residuals over their mean square. Values well below 1 mean residual pattern the smooth could
#' take up: a larger `k` may be needed. The p-value is the share of `n_rep` random
#' reorderings of the residuals giving a smaller statistic.
#'
#' @param fit A `warmgam` fit.
#' @param subsample With more rows than this, a random subsample of them is used.
#' @param n_rep Reorderings for the p-value.
#' @returns A matrix with a row per smooth and columns `k'` (its coefficients), `edf`,
#'   `k-index` and `p-value`; `NULL` for a model without smooths.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8), data = mtcars)
#' k_check(fit)
#' \dontshow{options(op)}
#' @export
k_check <- function(fit, subsample = 5000, n_rep = 400) {
  if (!inherits(fit, "warmgam")) abort("`fit` must be a fit made by `gam_fit()`.", "argument")
  check_number(subsample, "subsample", lower = 2)
  check_number(n_rep, "n_rep", lower = 1)
  if (length(fit$smooth) == 0L) return(NULL)
  resid <- fit_residuals(fit, type = "deviance")
  data <- fit$model
  rows <- seq_along(resid)
  if (length(rows) > subsample) rows <- sort(sample(rows, subsample))
  resid <- resid[rows]
  table <- t(vapply(fit$smooth, function(sm) {
    cols <- sm$first:sm$last
    covariates <- as.data.frame(lapply(sm$term, function(v) data[[v]][rows]))
    if (any(vapply(covariates, function(v) is.factor(v) || is.character(v), logical(1)))) {
      # No ordering of residuals by a factor: not checked (as mgcv).
      return(c(length(cols), sum(fit$edf[cols]), NA, NA))
    }
    if (sm$class %in% c("te", "ti")) covariates <- gradient_scaled(fit, sm, covariates)
    statistic <- neighbour_statistic(covariates)
    observed <- statistic(resid)
    permuted <- vapply(seq_len(n_rep), function(i) statistic(sample(resid)), numeric(1))
    c(length(cols), sum(fit$edf[cols]), observed / mean(resid^2), mean(permuted < observed))
  }, numeric(4)))
  dimnames(table) <- list(names(fit$smooth), c("k'", "edf", "k-index", "p-value"))
  table
}

# A tensor product's covariates are in different units: as mgcv, each is mapped to
# [0, 1] and stretched by the mean absolute slope of the fitted smooth (its `by`
# left out) along it, so that neighbours are close in the function's terms.
gradient_scaled <- function(fit, sm, covariates) {
  beta <- fit$coefficients[sm$first:sm$last]
  smooth_at <- function(vars) {
    x <- engine_result(smooth_matrix_impl(sm$label, sm$class, sm$state, lapply(vars, as.double), NULL), "fit")
    drop(x %*% beta)
  }
  f0 <- smooth_at(covariates)
  slopes <- vapply(seq_along(covariates), function(i) {
    dx <- diff(range(covariates[[i]])) / 1000
    shifted <- covariates
    shifted[[i]] <- shifted[[i]] + dx
    mean(abs(smooth_at(shifted) - f0)) / dx
  }, numeric(1))
  for (i in seq_along(covariates)) {
    v <- covariates[[i]] - min(covariates[[i]])
    covariates[[i]] <- slopes[[i]] * v / max(v)
  }
  covariates
}

# Half the mean squared difference between residuals of neighbouring rows, as a
# function of the residuals: in one dimension successive rows in covariate order;
# in more, each row against each of its three nearest other rows (Euclidean distance
# in the covariates as they are).
neighbour_statistic <- function(covariates) {
  if (ncol(covariates) == 1L) {
    o <- order(covariates[[1]])
    return(function(r) mean(diff(r[o])^2) / 2)
  }
  x <- as.matrix(covariates)
  tx <- t(x)
  nearest <- t(vapply(seq_len(nrow(x)), function(i) {
    d <- colSums((tx - x[i, ])^2)
    d[i] <- Inf
    order(d)[1:3]
  }, integer(3)))
  function(r) mean((r - r[nearest])^2) / 2
}
