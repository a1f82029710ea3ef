# Adaptive smooths, `s(x, bs = "ad")` and `s(x, z, bs = "ad")` (mgcv's
# `smooth.construct.ad.smooth.spec`): a spline whose penalty's weight varies over the
# covariate, itself a small spline with a smoothing parameter per function. The
# engine builds the base basis (a margin) and the weighted difference penalties.

# mgcv's base basis of an adaptive smooth: `xt$bs` when it is "cr", "cc", "ps" or
# "cp", else a P-spline.
adaptive_base <- function(xt) {
  bs <- if (is.list(xt)) xt$bs
  if (is.character(bs) && length(bs) >= 1L && bs[[1]] %in% c("cr", "cc", "ps", "cp")) bs[[1]] else "ps"
}

# Whether warmgam builds the term itself: one covariate on any of the bases, two on
# P-splines with one `k` and at least 3 weight functions a direction (with fewer,
# mgcv's `te()` replaces the weight basis by a default one and its criterion
# differs from ours by a constant; its constructor takes those).
adaptive_native <- function(vars, k, m, xt) {
  if (!is.numeric(k) || length(k) != 1L) return(FALSE)
  if (length(vars) == 1L) return(TRUE)
  length(vars) == 2L && adaptive_base(xt) == "ps" &&
    (all(is.na(m)) || (is.numeric(m) && (isTRUE(prod(m) == 1) || isTRUE(all(m >= 3)))))
}

# The spec of an adaptive smooth: its base basis as margins (one, or the two of a
# tensor product), `k` each (mgcv's defaults: 40 for one covariate, 15 a margin for
# two), and `m` the penalty basis dimension (5, or 3 a direction).
adaptive_spec <- function(vars, k, m, xt, by_name, id, fx, sp, pc, call) {
  dim <- length(vars)
  # (mgcv's two-covariate adaptive smooth is its tensor product, and named so.)
  label <- term_label(if (dim == 2L) "te" else "s", vars, by_name)
  if (!is.finite(k)) abort(sprintf("`k` of `%s` must be a single number (negative for the default).", label), "argument")
  k <- if (k < 0) if (dim == 1L) 40 else 15 else round(k)
  if (!(length(m) == 1L && is.na(m)) &&
        (!is.numeric(m) || length(m) > dim || anyNA(m) || any(!is.finite(m)) || any(m != round(m)))) {
    abort(sprintf("`m` of `%s` (the penalty basis dimension) must be %s whole number%s, not %s.", label,
                  if (dim == 1L) "one" else "one or two", if (dim == 1L) "" else "s", deparse_one(m)), "argument")
  }
  # (mgcv reads `xt$bs` alone and takes a P-spline for any other base, silently.)
  ok_xt <- is.null(xt) || (is.list(xt) && all(names(xt) %in% "bs") &&
                             (is.null(xt$bs) || (is.character(xt$bs) && length(xt$bs) == 1L &&
                                                   xt$bs %in% c("cr", "cc", "ps", "cp"))))
  if (!ok_xt) {
    abort(sprintf("`xt` of `%s` may only name the base basis: `xt = list(bs = )` with \"ps\", \"cr\", \"cc\" or \"cp\".",
                  label), "argument")
  }
  base <- adaptive_base(xt)
  # Base bases with a single penalty (mgcv's `p.order = c(2, 2)`, the P-splines'
  # default); a penalty basis of no functions leaves the base unpenalized.
  fixed_base <- dim == 1L && !is.na(m[[1]]) && m[[1]] <= 0
  # (As the base's own constructor: too small a P-spline is an error, a cubic
  # regression spline is raised to its minimum.)
  k <- raise_k(k, base, 1, NA, label)
  margins <- lapply(vars, function(v) list(term = v, dim = 1, bs = base, k = k, m = NA))
  spec <- c(list(term = vars, dim = dim, k = -1, bs = "ad", m = if (fixed_base) 1 else m, by = by_name,
                 label = label, id = if (!is.null(id)) as.character(id), margins = margins),
            penalty_arguments(if (fixed_base) TRUE else fx, sp, pc, vars, "ad", label), call)
  structure(spec, class = "warmgam_smooth_spec")
}
