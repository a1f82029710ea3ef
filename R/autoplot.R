# autoplot(): the panels of plot() drawn with ggplot2, for users who compose their
# figures with it. ggplot2 is suggested, not required.

#' ggplot2 panels of a warmgam fit
#'
#' The same panels as [plot.warmgam()], from the same data, drawn with ggplot2 (which
#' must be installed): a smooth's partial effect with its band of `se_mult` standard
#' errors and a rug, two-dimensional smooths as a filled heat map with contour lines,
#' random effects as a normal QQ plot, and with `all.terms = TRUE` the parametric terms.
#'
#' @param object A `warmgam` fit.
#' @inheritParams plot.warmgam
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns A `ggplot` object when there is one panel; otherwise a list of them (class
#'   `warmgam_ggplots`, whose `print()` draws each in turn), in the order of
#'   `plot()`'s panels. Each plot's `data` holds the panel's values: the covariate
#'   (`x`, and `y` for two-dimensional smooths), `fit`, `se`, `lower` and `upper`
#'   (on the scale `trans` gives).
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'   fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + am, data = mtcars)
#'   plots <- ggplot2::autoplot(fit)
#'   plots[[1]]
#' }
#' \dontshow{options(op)}
#' @exportS3Method ggplot2::autoplot
autoplot.warmgam <- function(object, select = NULL, residuals = FALSE, seWithMean = FALSE,
                             unconditional = FALSE, trans = identity, all.terms = FALSE,
                             rug = TRUE, se_mult = 2, n = 100, n2 = 40, too.far = 0.1, ...) {
  check_dots_empty("autoplot", ...)
  if (!requireNamespace("ggplot2", quietly = TRUE)) {
    abort("`autoplot()` needs the ggplot2 package; use `plot()` for base graphics.", "dependency")
  }
  check_drawing(rug, se_mult, trans)
  panels <- term_panels(object, select, residuals, seWithMean, unconditional, all.terms, n, n2, too.far)
  plots <- lapply(panels, panel_ggplot, trans = trans, rug = rug, se_mult = se_mult)
  if (length(plots) == 1L) plots[[1]] else structure(plots, class = "warmgam_ggplots")
}

#' @export
print.warmgam_ggplots <- function(x, ...) {
  check_dots_empty("print", ...)
  for (p in x) print(p)
  invisible(x)
}

# One panel of term_panels() as a ggplot.
panel_ggplot <- function(p, trans, rug, se_mult) {
  gg <- ggplot2::ggplot
  aes <- ggplot2::aes
  if (isTRUE(p$qq)) {
    data <- data.frame(x = p$x, fit = p$fit)
    return(gg(data, aes(x = .data$x, y = .data$fit)) +
      ggplot2::geom_point() +
      ggplot2::geom_abline(intercept = 0, slope = stats::sd(p$fit), linetype = 2) +
      ggplot2::labs(x = "Gaussian quantiles", y = p$ylab, title = p$label))
  }
  data <- data.frame(fit = trans(p$fit), se = p$se, lower = trans(p$fit - se_mult * p$se),
                     upper = trans(p$fit + se_mult * p$se))
  if (isTRUE(p$fs)) {
    data$x <- p$data[[p$term]]
    data$level <- factor(rep(p$levels, each = nrow(data) / length(p$levels)), levels = p$levels)
    return(gg(data, aes(x = .data$x, y = .data$fit, colour = .data$level)) +
      ggplot2::geom_line() + ggplot2::labs(x = p$term, y = p$ylab, colour = NULL))
  }
  if (p$dim == 2L) {
    data$x <- p$data[[p$term[1]]]
    data$y <- p$data[[p$term[2]]]
    data$fit[p$excluded] <- NA
    covariates <- data.frame(x = p$x_data[[1]], y = p$x_data[[2]])
    plot <- gg(data, aes(x = .data$x, y = .data$y)) +
      ggplot2::geom_raster(aes(fill = .data$fit)) +
      ggplot2::geom_contour(aes(z = .data$fit), colour = "black", na.rm = TRUE) +
      ggplot2::scale_fill_distiller(palette = "YlOrRd", direction = 1, na.value = "transparent") +
      ggplot2::labs(x = p$term[1], y = p$term[2], fill = NULL, title = p$ylab)
    if (rug) plot <- plot + ggplot2::geom_point(data = covariates, size = 0.3, colour = "grey40")
    return(plot)
  }
  data$x <- p$data[[p$term]]
  plot <- gg(data, aes(x = .data$x, y = .data$fit))
  if (isTRUE(p$factor)) {
    return(plot + ggplot2::geom_pointrange(aes(ymin = .data$lower, ymax = .data$upper)) +
      ggplot2::labs(x = p$term, y = p$ylab))
  }
  plot <- plot + ggplot2::geom_ribbon(aes(ymin = .data$lower, ymax = .data$upper), fill = "grey85") +
    ggplot2::geom_line()
  if (!is.null(p$p_resid)) {
    resid <- data.frame(x = p$x_resid, fit = trans(p$p_resid))
    plot <- plot + ggplot2::geom_point(data = resid, size = 0.6, alpha = 0.5)
  }
  if (rug) plot <- plot + ggplot2::geom_rug(data = data.frame(x = p$x_data[[1]], fit = NA_real_), sides = "b")
  plot + ggplot2::labs(x = p$term, y = p$ylab)
}
