# concurvity(): how far each smooth term could be, is, or is on average, explained by
# the other terms, as mgcv's concurvity().

#' Concurvity of the terms of a fit
#'
#' Concurvity is the smooth analogue of collinearity: a term whose function can be
#' closely matched by a combination of the other terms is poorly identified. For a
#' term with columns `X_j` and fitted contribution `f = X_j b`, let `g` be the part of
#' `f` lying in the span of the model's other columns. Three measures between 0 (no
#' concurvity) and 1 (total), as mgcv reports them:
#' * `worst`: the largest `||g||^2 / ||f||^2` over all coefficient vectors `b`;
#' * `observed`: the same ratio at the fitted coefficients;
#' * `estimate`: the share of the term's column space, in the sum-of-squares sense,
#'   that the other terms span (`||R_12||^2 / ||R_2||^2` in the QR factorization of
#'   the model matrix with the term's columns last).
#'
#' @param fit A `warmgam` fit.
#' @param full `TRUE`: each term against all the others (a `3 x m` matrix, with a
#'   column `para` that, as in mgcv, measures the first parametric column: the
#'   intercept, when there is one). `FALSE`: each pair of terms (a list of
#'   three `m x m` matrices: row term explained by column term).
#' @returns See `full`.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + s(disp, k = 8), data = mtcars)
#' concurvity(fit)
#' \dontshow{options(op)}
#' @export
concurvity <- function(fit, full = TRUE) {
  if (!inherits(fit, "warmgam")) abort("`fit` must be a fit made by `gam_fit()`.", "argument")
  check_flag(full, "full")
  if (length(fit$smooth) == 0L) abort("The model has no smooth terms.", "argument")
  # Every measure depends on the model matrix only through its cross-products, so its
  # triangular factor stands in for it.
  x <- qr.R(qr(fit_model_matrix(fit), tol = 0))
  blocks <- lapply(fit$smooth, function(sm) sm$first:sm$last)
  labels <- names(fit$smooth)
  first <- min(vapply(blocks, min, numeric(1)))
  if (first > 1) {
    # As mgcv (1.8-41) computes it, the `para` measures are those of the first
    # parametric column alone (the intercept, when the model has one).
    blocks <- c(list(1L), blocks)
    labels <- c("para", labels)
  }
  beta <- fit$coefficients
  measures <- c("worst", "observed", "estimate")
  if (full) {
    out <- vapply(blocks, function(j) concurvity_of(x[, -j, drop = FALSE], x[, j, drop = FALSE], beta[j]),
                  numeric(3))
    dimnames(out) <- list(measures, labels)
    return(out)
  }
  m <- length(blocks)
  out <- lapply(measures, function(.) matrix(1, m, m, dimnames = list(labels, labels)))
  names(out) <- measures
  for (i in seq_len(m)) {
    for (j in seq_len(m)) {
      if (i == j) next
      values <- concurvity_of(x[, blocks[[i]], drop = FALSE], x[, blocks[[j]], drop = FALSE], beta[blocks[[j]]])
      for (k in 1:3) out[[k]][i, j] <- values[[k]]
    }
  }
  out
}

# The three measures for the term with columns `xj` (coefficients `b`) against the
# columns `xi`: with [xi, xj] = QR and R = [R11 R12; 0 R22], the term's part in the
# span of `xi` is Q [R12; 0] b, all of it Q [R12; R22] b.
concurvity_of <- function(xi, xj, b) {
  r <- ncol(xi)
  rr <- qr.R(qr(cbind(xi, xj), tol = 0))
  r2 <- rr[, -seq_len(r), drop = FALSE]
  r12 <- r2[seq_len(r), , drop = FALSE]
  # ||[R12; R22] b|| = ||Rt b||, so the worst case is the largest singular value of
  # R12 Rt^-1, squared.
  rt <- qr.R(qr(r2, tol = 0))
  worst <- svd(t(backsolve(rt, t(r12), transpose = TRUE)))$d[1]^2
  observed <- sum((r12 %*% b)^2) / sum((rt %*% b)^2)
  estimate <- sum(r12^2) / sum(r2^2)
  c(worst, observed, estimate)
}
