# plot(): the smooth terms' partial effects, as mgcv's plot.gam draws them.

#' Plot the terms of a warmgam fit
#'
#' One panel per smooth term: its partial effect (centred, as fitted) with a band of
#' `se_mult` standard errors, a rug of the covariate and, optionally, the partial
#' residuals. Smooths of two covariates are drawn as a heat map with contour lines;
#' a factor `by` gives one panel per level; with `all.terms = TRUE` the parametric
#' terms are drawn too. Base graphics only.
#'
#' @param x A `warmgam` fit.
#' @param residuals Add partial residuals (working residuals plus the term's fitted
#'   values) to one-dimensional panels.
#' @param select Plot only these smooth terms (numbers, in the order of `x$smooth`).
#' @param pages If positive, fit all panels on this many pages (`par(mfrow)`);
#'   `0` uses the current layout, one panel per plot.
#' @param shade Shade the band instead of drawing it as dashed lines.
#' @param seWithMean Include the uncertainty of the model's overall mean in the band
#'   (as mgcv's `seWithMean`): the smooth's columns are combined with the other
#'   columns at their means in the data.
#' @param unconditional Take the band from `Vc`, the covariance corrected for
#'   smoothing parameter uncertainty (see [vcov.warmgam()]), as mgcv's `unconditional`.
#' @param trans A function applied to the effect and the band before drawing (e.g.
#'   `exp`).
#' @param all.terms Also plot the parametric terms.
#' @param rug Draw the covariate's values along the axis.
#' @param se_mult How many standard errors wide the band is (2, as mgcv).
#' @param n Grid points for a one-dimensional panel; `n2` per side for two dimensions.
#' @param n2 See `n`.
#' @param too.far For two-dimensional panels, grid points farther than this from the
#'   nearest data point (covariates scaled to the unit square) are not drawn.
#' @param theta,phi For a spline on the sphere (`bs = "sos"`), the longitude and
#'   latitude (degrees) the globe is seen from: it is drawn as mgcv draws it, the
#'   visible hemisphere in orthographic projection with the effect as a heat map and
#'   its contours, a graticule every 10 degrees of latitude and 20 of longitude, and
#'   the data points on that side.
#' @param ... Further graphical parameters for the panels.
#' @returns Invisibly, a list with one entry per panel: `label`, `data` (the grid
#'   of covariate values used, as for `predict()`), `fit` and `se` (the term's
#'   effect and standard error there, as `predict(type = "terms", se.fit = TRUE)`
#'   gives them, `se` with the mean's uncertainty when `seWithMean = TRUE`), and for
#'   one-dimensional smooths with `residuals = TRUE`, `x_resid` and `p_resid`; a
#'   spline on the sphere's also has `lat` and `lon` of its screen points. A
#'   random effect's panel is a normal QQ plot: `x` (quantiles) and `fit` (the
#'   sorted effects).
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + am, data = mtcars)
#' plot(fit, pages = 1, residuals = TRUE, shade = TRUE)
#' \dontshow{options(op)}
#' @export
plot.warmgam <- function(x, residuals = FALSE, select = NULL, pages = 0, shade = FALSE,
                         seWithMean = FALSE, unconditional = FALSE, trans = identity, all.terms = FALSE, rug = TRUE,
                         se_mult = 2, n = 100, n2 = 40, too.far = 0.1, theta = 30, phi = 30, ...) {
  check_flag(shade, "shade")
  check_number(pages, "pages", lower = 0)
  check_drawing(rug, se_mult, trans)
  check_number(theta, "theta")
  check_number(phi, "phi", lower = -90, upper = 90)
  panels <- term_panels(x, select, residuals, seWithMean, unconditional, all.terms, n, n2, too.far, c(theta, phi))
  draw_pages(panels, rep(list(x), length(panels)), pages, shade, trans, rug, se_mult, ...)
}

# Draws `panels` (each with the fit it came from, in `owners`) laid out on `pages`
# pages (0: one panel at a time, as mgcv), and returns them invisibly; a message
# when there is nothing to draw.
draw_pages <- function(panels, owners, pages, shade, trans, rug, se_mult, ...) {
  if (length(panels) == 0L) {
    message("The model has no terms to plot.")
    return(invisible(list()))
  }
  if (pages > 0) {
    per_page <- ceiling(length(panels) / pages)
    cols <- ceiling(sqrt(per_page))
    old <- graphics::par(mfrow = c(ceiling(per_page / cols), cols))
    on.exit(graphics::par(old), add = TRUE)
  }
  for (i in seq_along(panels)) draw_panel(panels[[i]], owners[[i]], shade, trans, rug, se_mult, ...)
  invisible(panels)
}

# The drawing arguments plot() and autoplot() share.
check_drawing <- function(rug, se_mult, trans) {
  check_flag(rug, "rug")
  check_number(se_mult, "se_mult", lower = 0)
  if (!is.function(trans)) abort("`trans` must be a function such as `exp`.", "argument")
}

# The data behind each panel of plot() and autoplot(): smooth terms (those in
# `select`), then with `all.terms` the parametric terms.
term_panels <- function(x, select, residuals, seWithMean, unconditional, all.terms, n, n2, too.far, globe = NULL) {
  check_flag(residuals, "residuals")
  check_flag(seWithMean, "seWithMean")
  check_flag(unconditional, "unconditional")
  check_flag(all.terms, "all.terms")
  smooths <- seq_along(x$smooth)
  if (!is.null(select)) {
    if (!is.numeric(select) || any(!select %in% smooths)) {
      abort(sprintf("`select` must pick smooth terms among 1 to %d.", length(smooths)), "argument")
    }
    smooths <- select
  }
  panels <- lapply(smooths, function(i) {
    smooth_panel(x, x$smooth[[i]], residuals, seWithMean, unconditional, n, n2, too.far, globe)
  })
  if (all.terms && is.null(select)) {
    panels <- c(panels, parametric_panels(x, n, unconditional))
  }
  Filter(Negate(is.null), panels)
}

# A grid of `data` for predict(): the term's covariates vary, every other variable the
# model needs is held at its first value in the data (it does not enter the term).
term_grid <- function(object, values) {
  base <- object$model[rep(1L, nrow(values)), setdiff(names(object$model), names(values)), drop = FALSE]
  grid <- cbind(base, values)
  row.names(grid) <- NULL
  grid
}

# The term's effect and standard error at `values` of its covariates (`grid`, as
# predict() takes it): its `by` variable at 1 or at the term's level, every other
# variable held (term_grid()).
term_effect <- function(object, sm, values, unconditional) {
  by_name <- smooth_by_name(sm)
  if (!is.null(by_name)) {
    by <- object$model[[by_name]]
    values[[by_name]] <- if (is.factor(by)) factor(sm$by_level, levels = levels(by)) else 1
  }
  grid <- term_grid(object, values)
  pred <- stats::predict(object, newdata = grid, type = "terms", se.fit = TRUE, unconditional = unconditional)
  list(grid = grid, fit = unname(pred$fit[, sm$label]), se = unname(pred$se.fit[, sm$label]))
}

smooth_panel <- function(object, sm, residuals, seWithMean, unconditional, n, n2, too.far, globe = NULL) {
  data <- object$model
  if (sm$class == "re") {
    # A random effect: its estimated effects against normal quantiles.
    effects <- unname(object$coefficients[sm$first:sm$last])
    return(list(label = sm$label, ylab = "effects", term = sm$term, dim = 1L, qq = TRUE,
                fit = sort(effects), x = stats::qnorm(stats::ppoints(length(effects)))))
  }
  if (sm$class %in% c("fs", "sz")) return(factor_smooth_panel(object, sm, unconditional, n))
  if (sm$class == "mrf") return(mrf_panel(object, sm, unconditional))
  if (sm$class == "sos" && !is.null(globe)) return(sphere_panel(object, sm, unconditional, n2, globe[[1]], globe[[2]]))
  covariates <- lapply(sm$term, function(v) data[[v]])
  # A tensor product with a Markov random field margin has no surface to draw.
  if (length(sm$mrf_levels)) return(NULL)
  edf <- sum(object$edf[sm$first:sm$last])
  # (A soap film is drawn over its whole domain, with its boundary, as mgcv draws it.)
  loops <- if (sm$class %in% soap_classes) soap_loops(sm)
  if (length(sm$term) == 1L) {
    range_x <- range(covariates[[1]])
    values <- stats::setNames(data.frame(seq(range_x[1], range_x[2], length.out = n)), sm$term)
  } else if (length(sm$term) == 2L) {
    spans <- if (!is.null(loops)) {
      list(unlist(lapply(loops, `[[`, "x")), unlist(lapply(loops, `[[`, "y")))
    } else {
      covariates[1:2]
    }
    axes <- lapply(spans, function(v) seq(min(v), max(v), length.out = n2))
    values <- stats::setNames(expand.grid(axes[[1]], axes[[2]]), sm$term[1:2])
  } else {
    return(NULL)
  }
  effect <- term_effect(object, sm, values, unconditional)
  grid <- effect$grid
  fit <- effect$fit
  se <- if (seWithMean) se_with_mean(object, sm, grid, unconditional) else effect$se
  panel <- list(label = sm$label, ylab = sprintf("%s,%s)", sub("\\)$", "", sm$label), format(round(edf, 2))),
                term = sm$term, dim = length(sm$term), data = grid, fit = fit, se = se,
                x_data = covariates)
  if (panel$dim == 2L && !is.null(loops)) {
    # Outside its boundary a soap film is NA; the boundary is drawn.
    panel$excluded <- rep(FALSE, nrow(values))
    panel$boundary <- loops
  } else if (panel$dim == 2L) {
    panel$excluded <- too_far(values[[1]], values[[2]], covariates[[1]], covariates[[2]], too.far)
  }
  if (residuals && panel$dim == 1L) {
    by_name <- smooth_by_name(sm)
    at_data <- stats::predict(object, newdata = object$model, type = "terms")[, sm$label]
    in_level <- if (!is.null(by_name) && is.factor(data[[by_name]])) data[[by_name]] == sm$by_level else TRUE
    panel$x_resid <- covariates[[1]][in_level]
    panel$p_resid <- unname(at_data + fit_residuals(object, type = "working"))[in_level]
  }
  panel
}

# A factor smooth: every level's curve (every combination of levels of a "sz"
# term's factors, the first factor's varying slowest) over the numeric covariate's
# range, in one panel (as mgcv draws them); NULL for a base smooth of several
# covariates.
factor_smooth_panel <- function(object, sm, unconditional, n) {
  x_name <- setdiff(sm$term, sm$fs_factor)
  if (length(x_name) != 1L) return(NULL)
  x <- object$model[[x_name]]
  axis <- seq(min(x), max(x), length.out = n)
  factor_levels <- sm$fs_levels %||% list(sm$re_levels)
  combos <- rev(expand.grid(rev(factor_levels), KEEP.OUT.ATTRS = FALSE, stringsAsFactors = FALSE))
  levels <- do.call(paste, c(unname(combos), sep = ":"))
  values <- stats::setNames(
    data.frame(rep(axis, length(levels)),
               lapply(seq_along(factor_levels), function(j) {
                 factor(rep(combos[[j]], each = n), levels = factor_levels[[j]])
               })),
    c(x_name, sm$fs_factor)
  )
  grid <- term_grid(object, values)
  pred <- stats::predict(object, newdata = grid, type = "terms", se.fit = TRUE, unconditional = unconditional)
  edf <- sum(object$edf[sm$first:sm$last])
  list(label = sm$label, ylab = sprintf("%s,%s)", sub("\\)$", "", sm$label), format(round(edf, 2))),
       term = x_name, dim = 1L, fs = TRUE, levels = levels, data = grid,
       fit = unname(pred$fit[, sm$label]), se = unname(pred$se.fit[, sm$label]), x_data = list(x))
}

# mgcv's seWithMean: the smooth's columns at the grid, every other column of the model
# matrix at its mean over the data, with the full Bayesian covariance.
se_with_mean <- function(object, sm, grid, unconditional) {
  x_grid <- stats::predict(object, newdata = grid, type = "lpmatrix")
  means <- colMeans(fit_model_matrix(object))
  x1 <- matrix(means, nrow(x_grid), length(means), byrow = TRUE)
  cols <- sm$first:sm$last
  x1[, cols] <- x_grid[, cols]
  sqrt(pmax(0, rowSums((x1 %*% coefficient_covariance(object, unconditional)) * x1)))
}

# Grid points farther than `dist` from every data point, in the unit square.
too_far <- function(gx, gy, x, y, dist) {
  scale <- function(v, ref) (v - min(ref)) / (max(ref) - min(ref))
  px <- scale(x, x)
  py <- scale(y, y)
  if (length(px) > 5000) {
    keep <- round(seq(1, length(px), length.out = 5000))
    px <- px[keep]
    py <- py[keep]
  }
  gxs <- scale(gx, x)
  gys <- scale(gy, y)
  vapply(seq_along(gxs), function(i) min((px - gxs[i])^2 + (py - gys[i])^2) > dist^2, logical(1))
}

parametric_panels <- function(object, n, unconditional) {
  labels <- attr(object$pterms, "term.labels")
  lapply(labels, function(lab) {
    v <- object$model[[lab]]
    if (is.null(v)) return(NULL)
    values <- if (is.factor(v)) {
      stats::setNames(data.frame(factor(levels(v), levels = levels(v))), lab)
    } else {
      stats::setNames(data.frame(seq(min(v), max(v), length.out = n)), lab)
    }
    grid <- term_grid(object, values)
    pred <- stats::predict(object, newdata = grid, type = "terms", se.fit = TRUE, unconditional = unconditional)
    list(label = lab, ylab = sprintf("Partial for %s", lab), term = lab, dim = 1L, parametric = TRUE,
         factor = is.factor(v), data = grid, fit = unname(pred$fit[, lab]),
         se = unname(pred$se.fit[, lab]), x_data = list(v))
  })
}

draw_panel <- function(p, object, shade, trans, rug, se_mult, ...) {
  if (is.null(p)) return(invisible())
  if (!is.null(p$polys)) return(draw_map(p, trans, ...))
  if (isTRUE(p$sphere)) return(draw_sphere(p, trans, rug, ...))
  if (isTRUE(p$qq)) {
    graphics::plot(p$x, p$fit, xlab = "Gaussian quantiles", ylab = p$ylab, main = p$label, ...)
    graphics::abline(0, stats::sd(p$fit), lty = 2)
    return(invisible())
  }
  if (isTRUE(p$fs)) {
    curves <- matrix(trans(p$fit), ncol = length(p$levels))
    graphics::matplot(unique(p$data[[p$term]]), curves, type = "l", lty = 1,
                      col = grDevices::hcl.colors(ncol(curves), "Dark 3"), xlab = p$term, ylab = p$ylab, ...)
    if (rug) graphics::rug(p$x_data[[1]])
    return(invisible())
  }
  lower <- trans(p$fit - se_mult * p$se)
  upper <- trans(p$fit + se_mult * p$se)
  fit <- trans(p$fit)
  if (p$dim == 2L) {
    gx <- unique(p$data[[p$term[1]]])
    gy <- unique(p$data[[p$term[2]]])
    z <- fit
    z[p$excluded] <- NA
    z <- matrix(z, length(gx), length(gy))
    graphics::image(gx, gy, z, col = grDevices::hcl.colors(50, "YlOrRd", rev = TRUE),
                    xlab = p$term[1], ylab = p$term[2], main = p$ylab, ...)
    graphics::contour(gx, gy, z, add = TRUE)
    for (loop in p$boundary) graphics::lines(loop$x, loop$y, lwd = 2)
    if (rug) graphics::points(p$x_data[[1]], p$x_data[[2]], pch = ".", col = "grey40")
    return(invisible())
  }
  xv <- p$data[[p$term]]
  if (isTRUE(p$factor)) {
    idx <- seq_along(xv)
    graphics::plot(idx, fit, ylim = range(lower, upper), xaxt = "n", pch = 19,
                   xlab = p$term, ylab = p$ylab, ...)
    graphics::axis(1, at = idx, labels = levels(xv))
    graphics::segments(idx, lower, idx, upper, lty = 2)
    return(invisible())
  }
  ylim <- range(lower, upper, if (!is.null(p$p_resid)) trans(p$p_resid), finite = TRUE)
  graphics::plot(xv, fit, type = "n", ylim = ylim, xlab = p$term, ylab = p$ylab, ...)
  if (shade) {
    graphics::polygon(c(xv, rev(xv)), c(upper, rev(lower)), col = "grey85", border = NA)
  } else {
    graphics::lines(xv, upper, lty = 2)
    graphics::lines(xv, lower, lty = 2)
  }
  graphics::lines(xv, fit)
  if (!is.null(p$p_resid)) graphics::points(p$x_resid, trans(p$p_resid), pch = ".", cex = 2)
  if (rug) graphics::rug(p$x_data[[1]])
  invisible()
}
