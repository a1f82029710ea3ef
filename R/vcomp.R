# gam_vcomp(): the smoothing parameters of a REML/ML fit as variance components,
# with confidence intervals, as mgcv's gam.vcomp().

#' Variance components of a warmgam fit
#'
#' A smooth's penalty is equivalent to a Gaussian random effect whose variance is
#' `scale / sp` (Wood 2017, section 5.8), so that a REML or ML fit estimates
#' variance components: for a random effect `s(g, bs = "re")` its standard deviation,
#' as a mixed model would. As mgcv's `gam.vcomp()`, this gives for each smoothing
#' parameter the standard deviation `sqrt(scale / sp)` (with `rescale`, `sp`
#' divided by the factor by which the penalty was scaled when the basis was set up,
#' so that it refers to the penalty as the basis defines it) and for an estimated
#' scale its square root (the scale the criterion chose, mgcv's `reml.scale`: for
#' ML `D_p / n`, not the Pearson estimate in `fit$scale`), with confidence intervals from the Hessian of the REML/ML
#' criterion with respect to the log smoothing parameters and the log scale: Wald
#' intervals for the log standard deviations, from the Hessian's generalized inverse
#' (Wood 2017, section 6.11.1).
#'
#' The Hessian is not kept by the fit; it is computed here from fits at fixed
#' smoothing parameters around the estimates (central differences with step
#' `1e-3` in the log smoothing parameters; for an estimated scale, the profile
#' Hessian is completed by the exact derivatives in the log scale, which for a
#' Gaussian family are those of `D_p / (2 scale) + (n - M_p) log(scale) / 2`).
#' This costs `2 k^2 + 1` fits for `k` smoothing parameters, each a single fit
#' without a search: it refits the model from its call (`data` as given to
#' [gam_fit()], found from the formula's environment).
#'
#' @param fit A `warmgam` fit by REML or ML, of a family whose scale is known or
#'   the Gaussian family.
#' @param rescale Refer the standard deviations to the penalties as the bases
#'   define them (undoing the scaling warmgam, as mgcv, applies to them).
#' @param conf.lev The confidence level of the intervals.
#' @returns A matrix with one row per smoothing parameter (named as `fit$sp`) and,
#'   for an estimated scale, a row `scale`; columns `std.dev`, `lower` and `upper`.
#'   Attribute `rank` is the rank of the Hessian.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' d <- transform(mtcars, carb = factor(carb))
#' fit <- gam_fit(mpg ~ s(hp, k = 6) + s(carb, bs = "re"), data = d)
#' gam_vcomp(fit)
#' \dontshow{options(op)}
#' @export
gam_vcomp <- function(fit, rescale = TRUE, conf.lev = 0.95) {
  if (!inherits(fit, "warmgam")) abort("`fit` must be a fit made by `gam_fit()`.", "argument")
  check_flag(rescale, "rescale")
  if (!is.numeric(conf.lev) || length(conf.lev) != 1L || !is.finite(conf.lev) || conf.lev <= 0 || conf.lev >= 1) {
    abort("`conf.lev` must be a single number between 0 and 1 (exclusive).", "argument")
  }
  if (!fit$method %in% c("REML", "ML")) {
    abort('Variance components need a REML or ML fit; refit with `method = "REML"`.', "method")
  }
  if (!length(fit$sp)) abort("`fit` has no smoothing parameters, hence no variance components.", "argument")
  fam <- fit$family
  if (estimates_parameter(fam)) {
    abort("Variance components are not available with an estimated family parameter (`theta`, `p`, `phi`).",
          "family")
  }
  if (fit$scale.estimated && fam$family != "gaussian") {
    abort(sprintf(
      "Variance components are available for the Gaussian family and families of known scale, not %s.",
      fam$family
    ), "family")
  }
  sp <- fit$sp
  if (rescale) sp <- sp / penalty_scales(fit)
  hess <- vcomp_hessian(fit)
  h <- hess$h
  # The scale is the one the criterion chose (mgcv's reml.scale: for ML D_p / n,
  # not the Pearson estimate).
  vc <- hess$scale / sp
  j <- matrix(0, nrow(h), ncol(h))
  diag(j) <- -0.5
  if (fit$scale.estimated) {
    j[, ncol(j)] <- 0.5
    vc <- c(vc, scale = hess$scale)
  }
  # mgcv's generalized inverse: eigenvalues below max * eps^75 (none, in double
  # precision) are dropped.
  eh <- eigen(h, symmetric = TRUE)
  keep <- eh$values > max(eh$values) * .Machine$double.eps^75
  iv <- numeric(length(eh$values))
  iv[keep] <- 1 / eh$values[keep]
  v <- j %*% (eh$vectors %*% (iv * t(eh$vectors))) %*% t(j)
  lsd <- log(sqrt(vc))
  crit <- stats::qnorm(1 - (1 - conf.lev) / 2)
  sd_lsd <- sqrt(pmax(diag(v), 0))
  out <- cbind(std.dev = exp(lsd), lower = exp(lsd - crit * sd_lsd), upper = exp(lsd + crit * sd_lsd))
  rownames(out) <- c(names(fit$sp), if (fit$scale.estimated) "scale")
  attr(out, "rank") <- sum(keep)
  out
}

# The factor by which each smoothing parameter's penalty was scaled when its basis
# was set up (mgcv's S.scale); a shared (`id`) parameter takes its first term's.
penalty_scales <- function(fit) {
  out <- rep(1, length(fit$sp))
  for (sm in rev(fit$smooth)) {
    s <- sm$state$s_scale
    if (length(s) == length(sm$sp_index)) out[sm$sp_index] <- s
  }
  out
}

# The Hessian `h` of the REML/ML criterion in the log smoothing parameters (and,
# for an estimated scale, the log scale, last), at the fit's estimates, and the
# scale there (1 when known).
vcomp_hessian <- function(fit, step = 1e-3) {
  rho <- log(fit$sp)
  k <- length(rho)
  at <- function(delta) vcomp_point(fit, exp(rho + delta))
  base <- at(rep(0, k))
  plus <- lapply(seq_len(k), function(i) at(step * (seq_len(k) == i)))
  minus <- lapply(seq_len(k), function(i) at(-step * (seq_len(k) == i)))
  hp <- matrix(0, k, k)
  for (i in seq_len(k)) {
    hp[i, i] <- (plus[[i]]$criterion - 2 * base$criterion + minus[[i]]$criterion) / step^2
    for (l in seq_len(i - 1L)) {
      e <- function(a, b) at(step * (a * (seq_len(k) == i) + b * (seq_len(k) == l)))$criterion
      hp[i, l] <- hp[l, i] <- (e(1, 1) - e(1, -1) - e(-1, 1) + e(-1, -1)) / (4 * step^2)
    }
  }
  if (!fit$scale.estimated) return(list(h = hp, scale = 1))
  # The criterion is D_p / (2 phi) + (n - M_p) log(phi) / 2 + f(rho) (REML; n for ML),
  # minimized over phi at phi* = D_p / (n - M_p): its profile Hessian in rho is
  # H_rr - H_rt H_tr / H_tt, with H_tt = D_p / (2 phi*) and
  # H_tr = -(dD_p / drho) / (2 phi*).
  n <- nobs(fit)
  m_p <- if (fit$method == "REML") fit$n_parametric + sum(vapply(fit$smooth, function(sm) sm$null_space_dim, 1)) else 0
  phi <- base$dp / (n - m_p)
  d_dp <- vapply(seq_len(k), function(i) (plus[[i]]$dp - minus[[i]]$dp) / (2 * step), 1)
  h_tt <- base$dp / (2 * phi)
  h_tr <- -d_dp / (2 * phi)
  h_rr <- hp + outer(h_tr, h_tr) / h_tt
  list(h = rbind(cbind(h_rr, h_tr), c(h_tr, h_tt)), scale = phi)
}

# The criterion and the penalized deviance D_p of the model refitted with its
# smoothing parameters fixed at `sp`. D_p is the deviance plus b' S b, with the
# total penalty S = scale Vp^-1 - X'WX (Vp = scale (X'WX + S)^-1).
vcomp_point <- function(fit, sp) {
  call <- fit$call
  call$sp <- unname(sp)
  call$cache <- FALSE
  refit <- tryCatch(
    suppressWarnings(eval(call, environment(fit$formula))),
    error = function(e) {
      abort(sprintf(
        "Could not refit the model at fixed smoothing parameters (%s); the data of its call must be reachable from the formula's environment.",
        conditionMessage(e)
      ), "argument")
    }
  )
  dp <- NA_real_
  if (fit$scale.estimated) {
    x <- fit_model_matrix(refit)
    w <- working_weights(refit)
    s <- refit$scale * solve(refit$Vp) - crossprod(x * sqrt(w))
    b <- refit$coefficients
    dp <- refit$deviance + drop(crossprod(b, s %*% b))
  }
  list(criterion = unname(refit$criterion), dp = dp)
}
