# The model set up but not fitted (gam_fit(fit = FALSE), as mgcv's `G`), and the
# aliased parametric columns a fit fixes at zero, found from that setup.

# The set-up model from the engine: the whole model matrix and each term's penalties
# (its `state`), as a `warmgam_setup` object.
new_warmgam_setup <- function(spec, frame, formula, family, method, call) {
  setup <- engine_result(model_setup_impl(spec), "setup")
  named <- named_terms(setup$smooths, spec$smooth_info, frame$xp)
  smooth <- named$smooth
  coef_names <- named$coef_names
  colnames(setup$X) <- coef_names
  # The parametric penalties' smoothing parameters come first, one each.
  parametric <- Map(function(pen, i) list(S = pen$S, first = pen$start + 1, sp = i),
                    spec$para_pen, seq_along(spec$para_pen))
  penalties <- c(parametric, unlist(lapply(smooth, term_penalties), recursive = FALSE))
  structure(
    list(
      X = setup$X,
      S = lapply(penalties, `[[`, "S"),
      off = vapply(penalties, `[[`, 1, "first"),
      rank = vapply(penalties, function(pen) qr(pen$S)$rank, 1),
      sp_index = vapply(penalties, `[[`, 1, "sp"),
      n_sp = setup$n_sp,
      sp = spec$sp,
      smooth = smooth,
      term.names = coef_names,
      nsdf = ncol(frame$xp),
      assign = attr(frame$xp, "assign"),
      y = frame$y,
      w = frame$weights %||% rep(1, length(frame$y)),
      offset = frame$offset %||% rep(0, length(frame$y)),
      family = family,
      formula = formula,
      method = method,
      call = call
    ),
    class = "warmgam_setup"
  )
}

# A term's penalties: each matrix on the term's coefficients, its first column in the
# model matrix (1-based, mgcv's `off`) and its smoothing parameter's index.
term_penalties <- function(sm) {
  k <- sm$last - sm$first + 1
  values <- sm$state$penalty
  lapply(seq_len(sm$n_penalties), function(q) {
    list(S = matrix(values[(q - 1) * k * k + seq_len(k * k)], k, k), first = sm$first, sp = sm$sp_index[[q]])
  })
}

#' Print a model set up without fitting
#'
#' @param x A `warmgam_setup` object from `gam_fit(fit = FALSE)`.
#' @param ... Unused.
#' @returns `x`, invisibly.
#' @examples
#' setup <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars, fit = FALSE)
#' setup
#' dim(setup$X)
#' @export
print.warmgam_setup <- function(x, ...) {
  cat("warmgam model setup (not fitted)\n")
  cat(sprintf("Formula: %s\n", deparse_one(x$formula)))
  cat(sprintf("%d rows, %d coefficients (%d parametric), %d penalties, %d smoothing parameters\n",
              nrow(x$X), ncol(x$X), x$nsdf, length(x$S), as.integer(x$n_sp)))
  invisible(x)
}

# The parametric columns of a model that cannot be fitted because it is not
# identifiable, which fixing at zero makes it so: those left over by a pivoted QR (by
# column norm, as LAPACK's) of what the smooth terms, with their penalties, leave
# unexplained of the parametric columns (so a parametric column is dropped rather
# than a smooth's). mgcv's fit drops the same columns in its examples (`y ~ x + s(x)`
# drops `x`, of two proportional columns the smaller, an empty factor cell's column).
# `integer(0)` when none is (the columns are only nearly dependent), NULL when the
# smooth terms themselves are not identifiable.
aliased_columns <- function(setup, tol = .Machine$double.eps^0.5) {
  p0 <- setup$nsdf
  if (p0 == 0L) return(integer())
  X <- setup$X
  xp <- X[, seq_len(p0), drop = FALSE]
  p <- ncol(X)
  if (p > p0) {
    # The smooth columns with a square root of their (normalized) penalties below.
    total <- matrix(0, p - p0, p - p0)
    for (i in seq_along(setup$S)) {
      at <- setup$off[[i]] - p0 - 1L + seq_len(ncol(setup$S[[i]]))
      total[at, at] <- total[at, at] + setup$S[[i]] / norm(setup$S[[i]], "F")
    }
    e <- eigen(total, symmetric = TRUE)
    root <- t(e$vectors %*% diag(sqrt(pmax(e$values, 0)), length(e$values)))
    smooth <- rbind(X[, -seq_len(p0), drop = FALSE], root)
    qs <- qr(smooth, tol = tol)
    if (qs$rank < ncol(smooth)) return(NULL)
    xp <- qr.resid(qs, rbind(xp, matrix(0, nrow(root), p0)))
  }
  qp <- qr(xp, LAPACK = TRUE)
  r <- abs(diag(qr.R(qp)))
  scale <- max(abs(qr.R(qp)))
  rank <- sum(r > tol * max(scale, sqrt(.Machine$double.xmin)))
  if (rank == p0) return(integer())
  sort(qp$pivot[(rank + 1):p0])
}

# An engine result fitted without the parametric columns `aliased` (of `p0`) put in
# the full model's coordinates: those coefficients are zero, with zero variance and
# edf, as mgcv reports them.
restore_aliased <- function(res, aliased, p0) {
  keep <- setdiff(seq_len(p0), aliased)
  p <- length(res$coefficients) + length(aliased)
  index <- c(keep, (p0 + 1L):p)[seq_along(res$coefficients)]
  widen <- function(v) if (!is.null(v)) replace(numeric(p), index, v)
  square <- function(m) {
    if (is.null(m)) return(NULL)
    out <- matrix(0, p, p)
    out[index, index] <- m
    out
  }
  res$coefficients <- widen(res$coefficients)
  res$edf <- widen(res$edf)
  res$edf1 <- widen(res$edf1)
  res$edf2 <- widen(res$edf2)
  res$Vp <- square(res$Vp)
  res$Ve <- square(res$Ve)
  res$Vc <- square(res$Vc)
  res$smooths <- lapply(res$smooths, function(sm) {
    sm$first <- sm$first + length(aliased)
    sm$last <- sm$last + length(aliased)
    sm
  })
  res
}
