# Markov random field smooths (`s(region, bs = "mrf", xt = )`): the geography in
# `xt` becomes the engine's penalty over the regions, as mgcv's constructor makes it
# (`?mrf`): a neighbour list gives each region its number of neighbours on the
# diagonal and -1 for each neighbour; polygons give the neighbour list (regions
# that share a vertex are neighbours, as mgcv's pol2nb() finds them); a penalty
# matrix is taken as it is.

# `xt` of an mrf term, checked when the term is written.
check_mrf_xt <- function(xt, label) {
  given <- if (is.list(xt)) intersect(c("polys", "nb", "penalty"), names(xt)[!vapply(xt, is.null, TRUE)])
  if (!length(given)) {
    abort(sprintf(paste(
      "`%s` with `bs = \"mrf\"` needs its geography in `xt`: `list(polys = )` (a polygon per region),",
      "`list(nb = )` (a neighbour list named by region) or `list(penalty = )` (a square matrix)."
    ), label), "argument")
  }
  invisible(xt)
}

# The regions of an mrf term at the data: their levels (the knots' when given, as
# mgcv takes them: regions without data are allowed), each row's code, and the
# penalty in the levels' order.
mrf_regions <- function(sm, mf, knots) {
  x <- mf[[sm$term[[1]]]]
  if (!is.factor(x)) {
    warn(sprintf("The covariate of `%s` should be a factor; it was converted, as mgcv does.", sm$label))
    x <- as.factor(x)
  }
  given <- knots[[sm$term[[1]]]]
  levels <- if (is.null(given)) levels(x) else levels(as.factor(given))
  if (length(levels) < 2L) {
    abort(sprintf("`%s` has %d region; a Markov random field needs at least two.", sm$label, length(levels)),
          "covariate")
  }
  codes <- match(as.character(x), levels)
  if (anyNA(codes)) {
    abort(sprintf("The data of `%s` contain regions that are not in its knots: %s.", sm$label,
                  paste(utils::head(unique(as.character(x)[is.na(codes)]), 5), collapse = ", ")), "covariate")
  }
  if (!is.null(sm$k) && sm$k > length(levels)) {
    abort(sprintf("`k` of `%s` is %d, more than its %d regions.", sm$label, as.integer(sm$k), length(levels)),
          "argument")
  }
  polys <- if (!is.null(sm$mrf_xt$polys)) merge_polygons(sm$mrf_xt$polys, sm$label)
  list(codes = as.double(codes), levels = levels, penalty = mrf_penalty(sm$mrf_xt, levels, sm$label), polys = polys)
}

# Codes of new data's regions for prediction; a region the fit does not know is an
# error (mgcv's basis has no column for it).
mrf_codes <- function(sm, x, levels) {
  codes <- match(as.character(x), levels)
  if (anyNA(codes)) {
    abort(sprintf("`newdata` has regions that `%s` was not fitted with: %s.", sm$label,
                  paste(utils::head(unique(as.character(x)[is.na(codes)]), 5), collapse = ", ")), "newdata")
  }
  as.double(codes)
}

mrf_penalty <- function(xt, levels, label) {
  n <- length(levels)
  if (!is.null(xt$penalty)) {
    s <- xt$penalty
    if (!is.matrix(s) || !is.numeric(s) || nrow(s) != ncol(s) || ncol(s) != n || any(!is.finite(s))) {
      abort(sprintf("`xt$penalty` of `%s` must be a finite %d x %d matrix, one row and column per region.",
                    label, n, n), "argument")
    }
    if (!is.null(colnames(s))) {
      if (!setequal(colnames(s), levels)) {
        abort(sprintf("The column names of `xt$penalty` of `%s` must be its regions.", label), "argument")
      }
      s <- s[levels, levels]
    }
    if (max(abs(s - t(s))) > 1e-10 * max(abs(s))) {
      abort(sprintf("`xt$penalty` of `%s` must be symmetric.", label), "argument")
    }
    return(matrix(as.double(s), n, n))
  }
  nb <- xt$nb %||% polygon_neighbours(merge_polygons(xt$polys, label))
  if (!is.list(nb) || is.null(names(nb)) || !setequal(names(nb), levels) || length(nb) != n) {
    abort(sprintf(paste(
      "The regions of `xt$%s` of `%s` must be named, one per region of the data (or knots): %d regions,",
      "%d named in `xt`."
    ), if (is.null(xt$nb)) "polys" else "nb", label, n, length(nb)), "argument")
  }
  if (length(nb) && !is.numeric(nb[[1]])) nb <- lapply(nb, function(v) which(names(nb) %in% v))
  s <- matrix(0, n, n, dimnames = list(levels, levels))
  for (i in seq_along(nb)) {
    ind <- nb[[i]]
    if (!is.numeric(ind) || any(ind != round(ind)) || any(ind < 1 | ind > n)) {
      abort(sprintf("`xt$nb` of `%s`: the neighbours of region \"%s\" must be region numbers from 1 to %d (or names).",
                    label, names(nb)[[i]], n), "argument")
    }
    s[names(nb)[[i]], names(nb)[[i]]] <- length(ind)
    for (j in ind) if (j != i) s[names(nb)[[i]], names(nb)[[j]]] <- -1
  }
  asym <- which(s != t(s), arr.ind = TRUE)
  if (nrow(asym)) {
    abort(sprintf("`xt$nb` of `%s` is not symmetric: region \"%s\" lists \"%s\" as a neighbour but not the reverse.",
                  label, rownames(s)[asym[1, 1]], colnames(s)[asym[1, 2]]), "argument")
  }
  unname(s)
}

# Polygons of one region given in several pieces are one region (as mgcv reads
# `polys`): its pieces joined with an NA row between them.
merge_polygons <- function(polys, label) {
  if (!is.list(polys) || is.null(names(polys))) {
    abort(sprintf("`xt$polys` of `%s` must be a named list of polygons (two-column matrices).", label), "argument")
  }
  ok <- vapply(polys, function(p) is.matrix(p) && ncol(p) == 2L && is.numeric(p), logical(1))
  if (!all(ok)) {
    abort(sprintf("`xt$polys` of `%s`: region \"%s\" is not a two-column numeric matrix.", label,
                  names(polys)[!ok][[1]]), "argument")
  }
  out <- list()
  for (nm in unique(names(polys))) {
    pieces <- polys[names(polys) == nm]
    out[[nm]] <- do.call(rbind, c(pieces[1], lapply(pieces[-1], function(p) rbind(c(NA, NA), p))))
  }
  out
}

# Regions whose polygons share a vertex (exactly: coordinates compared as written,
# `sprintf("%a")` being exact) are neighbours.
polygon_neighbours <- function(polys) {
  keys <- lapply(polys, function(p) {
    p <- p[!is.na(rowSums(p)), , drop = FALSE]
    unique(paste(sprintf("%a", p[, 1]), sprintf("%a", p[, 2])))
  })
  region <- rep(seq_along(keys), lengths(keys))
  shared <- split(region, unlist(keys, use.names = FALSE))
  nb <- rep(list(integer()), length(polys))
  for (g in shared[lengths(shared) > 1L]) for (i in g) nb[[i]] <- c(nb[[i]], setdiff(g, i))
  nb <- lapply(nb, function(v) sort(unique(v)))
  names(nb) <- names(polys)
  nb
}

# plot()'s panel of an mrf term: its effect per region (as predict(type = "terms")
# gives it), drawn as a map when the fit has the regions' polygons, else against the
# regions as a factor.
mrf_panel <- function(object, sm, unconditional) {
  values <- stats::setNames(data.frame(factor(sm$re_levels, levels = sm$re_levels)), sm$term[[1]])
  effect <- term_effect(object, sm, values, unconditional)
  list(label = sm$label, ylab = sm$label, term = sm$term[[1]], dim = 1L, factor = TRUE, data = effect$grid,
       fit = effect$fit, se = effect$se,
       x_data = list(object$model[[sm$term[[1]]]]), polys = sm$mrf_polys, regions = sm$re_levels)
}

# A map: each region's polygon filled by its effect (light to dark red, low to high).
draw_map <- function(p, trans, ...) {
  fit <- trans(p$fit)
  palette <- grDevices::hcl.colors(50, "YlOrRd", rev = TRUE)
  shade <- palette[cut(fit, 50, labels = FALSE, include.lowest = TRUE)]
  corners <- do.call(rbind, p$polys)
  graphics::plot(range(corners[, 1], na.rm = TRUE), range(corners[, 2], na.rm = TRUE), type = "n", asp = 1,
                 xlab = "", ylab = "", main = p$ylab, ...)
  for (region in names(p$polys)) {
    graphics::polygon(p$polys[[region]], col = shade[match(region, p$regions)], border = "grey40")
  }
  invisible()
}
