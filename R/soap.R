# Soap film smoothers (`bs = "so"`, `"sf"`, `"sw"`; Wood, Bravington & Hedley 2008)
# built natively: the boundary and settings checked and packed here, the grid, its
# fields and the basis in the engine (src/rust/src/basis/soap.rs).

soap_classes <- c("so", "sf", "sw")
# The soap film classes a tensor product's margin can be (mgcv's te() takes these).
soap_margin_classes <- c("sf", "sw")

# Whether warmgam builds this soap film term itself: two covariates and a boundary
# of loops in `xt`. A boundary basis other than the cyclic cubic spline (`bndSpec`),
# and known boundary values (a loop's `f`, the term's offset) with a `by` variable or
# on the interior part alone (`"sw"`), are left to mgcv's constructor.
soap_native <- function(vars, xt, bs, by_name) {
  known <- is.list(xt) && is.list(xt$bnd) &&
    any(vapply(xt$bnd, function(loop) is.list(loop) && !is.null(loop$f), logical(1)))
  length(vars) == 2L && is.list(xt) && is.list(xt$bnd) && length(xt$bnd) > 0L &&
    all(names(xt) %in% c("bnd", "nmax")) &&
    all(vapply(xt$bnd, is.list, logical(1))) && !(known && (bs == "sw" || !is.null(by_name)))
}

# The spec of a soap film term (its boundary read when the data are, by name).
soap_spec <- function(vars, bs, k, xt, by_name, id, fx, sp, pc, call) {
  label <- term_label("s", vars, by_name)
  if (!is.numeric(k) || anyNA(k) || any(!is.finite(k))) {
    abort(sprintf("`k` of `%s` must be numbers: one per boundary loop, or one for all.", label), "argument")
  }
  if (!is.null(id) && (length(id) != 1L || is.na(id))) {
    abort(sprintf("`id` of `%s` must be a single label or number.", label), "argument")
  }
  spec <- c(list(term = vars, dim = 2L, k = -1, bs = bs, m = NA_real_, by = by_name, label = label,
                 id = if (!is.null(id)) as.character(id), soap = soap_settings(xt, k, vars, label)),
            penalty_arguments(fx, sp, pc, vars, bs, label), call)
  structure(spec, class = "warmgam_smooth_spec")
}

# The boundary loops (closed or not; each with one element named like each covariate,
# as mgcv reads them), each loop's `k` (mgcv's: one value recycled or one per loop,
# default 10, at least 4) and the grid size `nmax` (default 200), checked.
soap_settings <- function(xt, k, vars, label) {
  loops <- lapply(seq_along(xt$bnd), function(l) {
    loop <- xt$bnd[[l]]
    if (!all(vars %in% names(loop))) {
      abort(sprintf("Loop %d of `xt$bnd` of `%s` must have elements named `%s` and `%s`.",
                    l, label, vars[[1]], vars[[2]]), "argument")
    }
    x <- loop[[vars[[1]]]]
    y <- loop[[vars[[2]]]]
    if (!is.numeric(x) || !is.numeric(y) || length(x) != length(y) || length(x) < 3L ||
          anyNA(x) || anyNA(y) || any(!is.finite(c(x, y)))) {
      abort(sprintf("Loop %d of `xt$bnd` of `%s` must give finite `%s` and `%s` of one length, at least 3 vertices.",
                    l, label, vars[[1]], vars[[2]]), "argument")
    }
    f <- loop$f
    if (!is.null(f) && (!is.numeric(f) || length(f) != length(x) || anyNA(f) || any(!is.finite(f)))) {
      abort(sprintf("`f` of loop %d of `xt$bnd` of `%s` (its boundary values) must be finite numbers, one per vertex.",
                    l, label), "argument")
    }
    list(x = as.double(x), y = as.double(y), f = if (!is.null(f)) as.double(f))
  })
  n_loops <- length(loops)
  if (length(k) != 1L && length(k) != n_loops) {
    abort(sprintf("`k` of `%s` must have one value or one per boundary loop (%d); it has %d.",
                  label, n_loops, length(k)), "argument")
  }
  k <- rep_len(round(k), n_loops)
  k[k < 0] <- 10
  if (any(k < 4)) {
    warn(sprintf("`k` of `%s` was raised to 4 (a boundary loop's least), as mgcv does.", label))
    k[k < 4] <- 4
  }
  nmax <- xt$nmax %||% 200
  if (!is.numeric(nmax) || length(nmax) != 1L || !is.finite(nmax) || nmax < 3 || nmax > 5000) {
    abort(sprintf("`xt$nmax` of `%s` (grid cells along the longer side) must be a number from 3 to 5000.", label),
          "argument")
  }
  list(loops = loops, k = as.double(k), nmax = round(nmax))
}

# The soap film's settings as the engine takes them (`unpack()` in soap.rs): nmax, the
# number of loops, each loop's k, number of vertices and number of given boundary
# values, every x, every y, then the given values.
soap_parameters <- function(soap) {
  loops <- soap$loops
  as.double(c(soap$nmax, length(loops), soap$k, lengths(lapply(loops, `[[`, "x")),
              lengths(lapply(loops, `[[`, "f")), unlist(lapply(loops, `[[`, "x")),
              unlist(lapply(loops, `[[`, "y")), unlist(lapply(loops, `[[`, "f"))))
}

# A fitted soap film term's boundary loops (closed), from its stored grid
# (`write_state` in soap.rs: the grid's shape holds each loop's number of vertices;
# the boundary each loop's x then y).
soap_loops <- function(sm) {
  shape <- sm$state$grid
  coords <- sm$state$boundary
  if (is.null(shape) || is.null(coords)) return(NULL)
  n_loops <- shape[[6]]
  lengths <- shape[6 + seq_len(n_loops)]
  ends <- cumsum(2 * lengths)
  lapply(seq_len(n_loops), function(l) {
    at <- ends[[l]] - 2 * lengths[[l]]
    list(x = coords[at + seq_len(lengths[[l]])], y = coords[at + lengths[[l]] + seq_len(lengths[[l]])])
  })
}

# Whether some loop of the soap film has given boundary values (a known part).
soap_known <- function(soap) any(vapply(soap$loops, function(l) !is.null(l$f), logical(1)))

# The soap film's known part at `x`, `y` (its loops' given boundary values extended
# inside), which mgcv adds to the linear predictor as an offset; NaN outside.
soap_known_part <- function(label, parameters, x, y) {
  engine_result(soap_known_part_impl(label, parameters, as.double(x), as.double(y)), "basis")
}

# A soap film term's knots (the wiggly part's sources): `knots` as given, the `so`
# film's knots outside the boundary dropped with a warning (as mgcv's constructor
# drops them); NULL for `sf`, which has none.
soap_knots <- function(sm, knots) {
  given <- lapply(sm$term, function(v) knots[[v]])
  if (sm$bs == "sf") return(NULL)
  if (length(given) != 2L || any(vapply(given, is.null, logical(1)))) {
    abort(sprintf("`%s` needs the knots of its interior part: `knots = data.frame(%s = , %s = )`.",
                  sm$label, sm$term[[1]], sm$term[[2]]), "argument")
  }
  x <- as.double(given[[1]])
  y <- as.double(given[[2]])
  if (length(x) != length(y) || !length(x) || anyNA(c(x, y))) {
    abort(sprintf("The knots of `%s` must give `%s` and `%s` alike, without missing values.",
                  sm$label, sm$term[[1]], sm$term[[2]]), "argument")
  }
  if (sm$bs == "so") {
    bnd <- lapply(sm$soap$loops, function(l) list(x = l$x, y = l$y))
    keep <- mgcv::inSide(bnd, x, y)
    if (!all(keep)) {
      warn(sprintf("%d knots of `%s` are outside its boundary and were dropped, as mgcv does.", sum(!keep), sm$label))
      x <- x[keep]
      y <- y[keep]
    }
  }
  c(x, y)
}
