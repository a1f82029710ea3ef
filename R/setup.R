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
      pterms = frame$pterms,
      xlevels = frame$xlevels,
      contrasts = frame$contrasts,
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

# The columns of smooth terms to leave out of a model whose smooth terms share an
# unpenalized direction (`y ~ s(x) + s(x, by = fac)`: the by-level terms add up to
# `s(x)`, and the linear parts they share are in no penalty's range), as
# `list(<term index> = <0-based columns>)`; NULL when no such direction explains why
# the model is not identifiable. mgcv fits these models through its rank-deficient
# solve, which fixes the direction; leaving out one column per shared direction (each
# lies in the null space of every penalty and of X, so some coefficient on it can be
# zero) gives the same fit. Which term gives the column changes only how the edf is
# split between the terms; mgcv's split is set by rounding in its solve. The column
# is taken from the second term the direction involves (the first by-level term, not
# `s(x)` itself), which gave mgcv's per-term edf in the tested models.
aliased_smooth_columns <- function(setup, tol = .Machine$double.eps^0.5) {
  X <- setup$X
  p0 <- setup$nsdf
  smooths <- setup$smooth
  if (!length(smooths)) return(NULL)
  # Each term's unpenalized directions: the null space of its normalized penalties.
  null_basis <- lapply(smooths, function(sm) {
    k <- sm$last - sm$first + 1
    pens <- term_penalties(sm)
    if (!length(pens)) return(diag(k))
    total <- Reduce(`+`, lapply(pens, function(pen) pen$S / norm(pen$S, "F")))
    e <- eigen(total, symmetric = TRUE)
    e$vectors[, e$values <= tol * max(e$values), drop = FALSE]
  })
  blocks <- c(list(X[, seq_len(p0), drop = FALSE]),
              Map(function(sm, z) X[, sm$first:sm$last, drop = FALSE] %*% z, smooths, null_basis))
  xn <- do.call(cbind, blocks)
  if (!ncol(xn)) return(NULL)
  # R's LINPACK QR keeps the columns in order and moves each one the earlier ones
  # span to the end: those are the shared directions, later terms' first.
  q <- qr(xn, tol = tol)
  d <- ncol(xn) - q$rank
  if (d == 0L) return(NULL)
  r <- q$rank
  R <- qr.R(q)
  u <- matrix(0, ncol(xn), d)
  u[q$pivot[seq_len(r)], ] <- -backsolve(R[seq_len(r), seq_len(r), drop = FALSE],
                                         R[seq_len(r), r + seq_len(d), drop = FALSE])
  u[q$pivot[r + seq_len(d)], ] <- diag(d)
  # The directions in the coefficients: parametric part as it is, each term's through
  # its null-space basis.
  widths <- vapply(null_basis, ncol, 1L)
  at <- p0 + c(0L, cumsum(widths))
  v <- matrix(0, ncol(X), d)
  v[seq_len(p0), ] <- u[seq_len(p0), ]
  for (t in seq_along(smooths)) {
    if (!widths[[t]]) next
    v[smooths[[t]]$first:smooths[[t]]$last, ] <- null_basis[[t]] %*% u[at[[t]] + seq_len(widths[[t]]), , drop = FALSE]
  }
  # One column per direction, from the second term the direction involves (its
  # largest entry there), eliminated from the other directions so that each choice
  # is new.
  chosen <- integer()
  for (k in seq_len(d)) {
    size <- max(abs(v[, k]))
    involved <- Filter(function(t) max(abs(v[smooths[[t]]$first:smooths[[t]]$last, k])) > 0.01 * size,
                       seq_along(smooths))
    if (!length(involved)) return(NULL)
    giver <- involved[[min(2L, length(involved))]]
    rows <- smooths[[giver]]$first:smooths[[giver]]$last
    j <- rows[which.max(abs(v[rows, k]))]
    chosen <- c(chosen, j)
    others <- setdiff(seq_len(d), seq_len(k))
    if (length(others)) v[, others] <- v[, others] - outer(v[, k], v[j, others] / v[j, k])
  }
  out <- list()
  for (t in seq_along(smooths)) {
    mine <- chosen[chosen >= smooths[[t]]$first & chosen <= smooths[[t]]$last]
    if (length(mine)) out[[as.character(t)]] <- sort(mine - smooths[[t]]$first)
  }
  out
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

# What gam_fit() refits from a set-up given as `G`: mgcv's gam(fit = FALSE) object or
# warmgam's own. mgcv's `G` can be edited before it is fitted (its model matrix,
# penalties, constraints); warmgam fits from the formula, so mgcv's set-up is built
# again from the same inputs and compared, and one that differs is refused.
setup_arguments <- function(G, given) {
  if (length(given)) {
    abort(sprintf("With `G`, the model comes from the set-up: do not also give %s.",
                  paste0("`", given, "`", collapse = ", ")), "argument")
  }
  if (inherits(G, "warmgam_setup")) {
    cl <- G$call
    env <- environment(G$formula) %||% parent.frame(2)
    pick <- function(name) if (!is.null(cl[[name]])) eval(cl[[name]], env)
    data <- pick("data")
    in_data <- function(name) if (!is.null(cl[[name]])) eval(cl[[name]], if (is.null(data)) env else data, env)
    return(list(formula = G$formula, data = data, family = G$family, weights = in_data("weights"),
                offset = in_data("offset"), subset = in_data("subset"), knots = pick("knots"), sp = NULL,
                min_sp = pick("min.sp")))
  }
  if (!inherits(G, "gam.prefit")) {
    abort("`G` must be the set-up returned by `mgcv::gam(fit = FALSE)` or `gam_fit(fit = FALSE)`.", "argument")
  }
  # The inputs of the call that made it, evaluated as gam() evaluates them: `data`
  # and `knots` in the formula's environment, `weights`, `offset` and `subset` in
  # the data first.
  env <- environment(G$formula) %||% globalenv()
  cl <- G$cl
  data <- if (!is.null(cl$data)) eval(cl$data, env)
  in_data <- function(name) if (!is.null(cl[[name]])) eval(cl[[name]], if (is.null(data)) env else data, env)
  weights <- in_data("weights")
  offset <- in_data("offset")
  subset <- in_data("subset")
  knots <- if (!is.null(cl$knots)) eval(cl$knots, env)
  min_sp <- if (!is.null(cl$min.sp)) eval(cl$min.sp, env)
  # With every smoothing parameter given, mgcv's gam(G = G) reads them from G$lsp0
  # (their logs), which a user may set after the set-up (mgcv's ?gam example does);
  # otherwise they are the call's, and G$lsp0 must be as the set-up made it.
  all_fixed <- length(G$sp) == 0 && length(G$lsp0) > 0
  sp <- if (all_fixed) unname(exp(G$lsp0)) else if (!is.null(cl$sp)) eval(cl$sp, env)
  # mgcv's set-up built again from what warmgam will fit; any other edit of `G`
  # would be silently lost. (By do.call: gam() takes `weights`, `offset` and
  # `subset` unevaluated, as model.frame does.)
  rebuilt <- tryCatch(
    do.call(mgcv::gam, list(G$formula, data = data, family = G$family, weights = weights, offset = offset,
                            subset = subset, knots = knots, sp = sp, min.sp = min_sp, fit = FALSE)),
    error = function(e) NULL
  )
  same <- function(a, b) {
    if (is.list(a) || is.list(b)) {
      return(length(a) == length(b) && all(vapply(seq_along(a), function(i) same(a[[i]], b[[i]]), NA)))
    }
    identical(dim(a), dim(b)) && length(a) == length(b) &&
      (!length(a) || max(abs(a - b)) <= 1e-10 * max(1, max(abs(b))))
  }
  unchanged <- !is.null(rebuilt) && same(rebuilt$X, G$X) && same(rebuilt$lsp0, G$lsp0) && same(rebuilt$S, G$S) &&
    same(rebuilt$off, G$off) && same(rebuilt$H, G$H) &&
    same(rebuilt$y, G$y) && same(rebuilt$w, G$w) && same(rebuilt$offset, G$offset) &&
    identical(length(rebuilt$smooth), length(G$smooth))
  if (!unchanged) {
    abort(paste(
      "`G` differs from the set-up mgcv builds from its formula and data (its model matrix, penalties or data",
      "were changed after `gam(fit = FALSE)`): warmgam fits from the formula and cannot take such a set-up.",
      "Use `mgcv::gam(G = G)` for it."
    ), "argument")
  }
  list(formula = G$formula, data = data, family = G$family, weights = weights, offset = offset, subset = subset,
       knots = knots, sp = sp, min_sp = min_sp)
}
