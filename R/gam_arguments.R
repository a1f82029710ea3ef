# The arguments gam_fit() takes from mgcv's gam() that choose rows or settings rather
# than the model: `subset`, `na.action`, `optimizer`, `scale`, and `control` given as
# an mgcv gam.control() list. Each is checked here and turned into what the model
# frame and the engine take.

# The na.action of a fit, by name: one of "na.omit", "na.exclude", "na.fail" (a
# function or its name; `NULL` for R's option, as model.frame() reads it).
resolve_na_action <- function(na.action) {
  if (is.null(na.action)) na.action <- getOption("na.action", "na.omit")
  known <- list(na.omit = stats::na.omit, na.exclude = stats::na.exclude, na.fail = stats::na.fail)
  name <- if (is.character(na.action) && length(na.action) == 1L) {
    na.action
  } else if (is.function(na.action)) {
    names(Filter(function(f) identical(f, na.action), known))[1]
  }
  if (is.null(name) || is.na(name) || !name %in% names(known)) {
    abort(paste(
      "`na.action` must be na.omit (the default), na.exclude or na.fail (a function or its name);",
      "rows with missing values cannot be fitted, so na.pass is not taken."
    ), "argument")
  }
  name
}

# `subset` (as lm() and mgcv's gam(): evaluated in `data`, applied before rows with
# missing values are dropped): logical, or row numbers or names.
check_subset <- function(subset) {
  if (is.null(subset)) return(invisible())
  if (!(is.logical(subset) || is.numeric(subset) || is.character(subset)) || is.matrix(subset)) {
    abort("`subset` must be a logical vector (one value per row), row numbers or row names, as in `lm()`.",
          "argument")
  }
  invisible(subset)
}

# mgcv's `optimizer`: c("outer", "newton") (the default), "outer" with "bfgs",
# "optim", "nlm" or "nlm.fd", "efs" or "perf". All of them search for the same
# optimum of the criterion, which warmgam's Newton search finds; as in mgcv, "efs"
# fits REML whatever `method` says, and "perf" (performance iteration) is taken as
# "outer" with REML and ML. Returns the optimizer and the method to fit.
resolve_optimizer <- function(optimizer, method) {
  outer <- c("newton", "bfgs", "optim", "nlm", "nlm.fd")
  ok <- is.character(optimizer) && length(optimizer) %in% 1:2 && !anyNA(optimizer) &&
    optimizer[[1]] %in% c("outer", "efs", "perf") && (length(optimizer) == 1L || optimizer[[2]] %in% outer)
  if (!ok) {
    abort(paste0(
      "`optimizer` must be one of mgcv's: \"outer\" with one of ", paste0("\"", outer, "\"", collapse = ", "),
      " (default c(\"outer\", \"newton\")), \"efs\" or \"perf\". warmgam finds the same optimum with its own ",
      "Newton search whichever is named."
    ), "argument")
  }
  if (optimizer[[1]] == "efs" && method != "REML") {
    warn(sprintf(paste(
      "`optimizer = \"efs\"` fits REML only (as mgcv's Fellner-Schall iteration):",
      "`method = \"%s\"` is replaced by \"REML\"."
    ), method))
    method <- "REML"
  }
  list(optimizer = optimizer, method = method)
}

# GCV or GACV (UBRE when the scale is known): a prediction error, not a likelihood.
prediction_error <- function(method) method %in% c("GCV.Cp", "GACV.Cp")

# `scale` as mgcv's gam() reads it: 0 (the default) for a known scale of 1 with the
# binomial, Poisson and negative binomial families and an estimated one otherwise; a
# negative value for an estimated scale; a positive value for a known scale (the
# engine's `known_scale`). Returns whether the scale is estimated and, for a known
# scale other than the family's own 1, its value.
resolve_scale <- function(scale, family, method) {
  check_number(scale, "scale")
  known <- scale_known(family)
  fam <- family_id(family)
  if (scale == 0) return(list(estimated = !known, known = NULL))
  if (fam %in% unit_scale_families) {
    # mgcv's negative binomial, beta regression and scaled t always have scale 1.
    if (scale != 1) {
      warn(sprintf("`scale = %s` is not used: the scale of `%s()` is 1 (as in mgcv).", format(scale),
                   c(negbin = "nb", betar = "betar", scat = "scat", ocat = "ocat", ziP = "ziP", cnorm = "cnorm")[[fam]]))
    }
    return(list(estimated = FALSE, known = NULL))
  }
  if (known && !prediction_error(method)) {
    # mgcv's REML and ML take the binomial and Poisson scale as 1 whatever `scale` says.
    if (scale != 1) {
      warn(sprintf(paste(
        "`scale = %s` is not used: with `method = \"%s\"` the scale of the %s family is 1 (as in mgcv);",
        "use `method = \"GCV.Cp\"` with `scale = -1`, or the quasi family, for an estimated scale."
      ), format(scale), method, fam))
    }
    return(list(estimated = FALSE, known = NULL))
  }
  if (scale < 0) return(list(estimated = TRUE, known = NULL))
  if (known && scale == 1) return(list(estimated = FALSE, known = NULL))
  if (estimates_parameter(family)) {
    abort(sprintf(paste(
      "`scale = %s` (a known scale) cannot be combined with a family parameter estimated with the",
      "smoothing parameters (`%s`); give the parameter (e.g. `tw(p = 1.5)`), or use `scale = 0`."
    ), format(scale), family$family), "argument")
  }
  list(estimated = FALSE, known = as.double(scale))
}

# The family id the engine fits when `scale_estimated` overrides the family's own
# scale: a binomial or Poisson fit with an estimated scale (GCV with `scale < 0`) is
# the quasi family's fit.
engine_family_id <- function(family, scale_estimated) {
  fam <- family_id(family)
  if (scale_estimated && fam %in% c("binomial", "poisson")) paste0("quasi", fam) else fam
}

# mgcv 1.8-41's gam.control() defaults, and the nlm settings it derives from
# `epsilon`.
mgcv_control_defaults <- function(epsilon = 1e-7) {
  ndigit <- min(max(2, ceiling(-log10(epsilon))), floor(-log10(.Machine$double.eps)))
  list(
    nthreads = 1, ncv.threads = 1, irls.reg = 0, epsilon = 1e-7, maxit = 200, mgcv.tol = 1e-7,
    mgcv.half = 15, trace = FALSE, rank.tol = .Machine$double.eps^0.5,
    nlm = list(ndigit = ndigit, gradtol = epsilon * 10, stepmax = 2, steptol = 1e-4, iterlim = 200,
               check.analyticals = FALSE),
    optim = list(factr = 1e7),
    newton = list(conv.tol = 1e-6, maxNstep = 5, maxSstep = 2, maxHalf = 30, use.svd = FALSE),
    outerPIsteps = 0, idLinksBases = TRUE, scalePenalty = TRUE, efs.lspmax = 15, efs.tol = 0.1,
    keepData = FALSE, scale.est = "fletcher", edge.correct = FALSE
  )
}

# The settings an mgcv control list names that warmgam has already warned about in
# this session (one warning per setting).
mgcv_control_noticed <- new.env(parent = emptyenv())

# `control` as gam_fit() takes it: a gam_control() object as it is, or an mgcv
# gam.control() list (all of it or some of its settings, as mgcv's gam() takes it).
# From the mgcv list, `newton$conv.tol` (when not mgcv's default 1e-6, which is
# looser than warmgam's) gives `outer_tol`, `newton$maxNstep` gives `max_step`,
# `nthreads` the threads (when `threads` is not given) and `keepData` keeps the
# data; other settings that differ from mgcv's defaults are named in a warning,
# once per setting and session. Returns the control, the threads (NULL: as given)
# and whether to keep the data.
resolve_control <- function(control) {
  if (inherits(control, "warmgam_control")) return(list(control = control, threads = NULL, keep_data = FALSE))
  defaults <- mgcv_control_defaults()
  if (!is.list(control) || !is.null(attr(control, "class")) ||
        (length(control) && (is.null(names(control)) || !all(names(control) %in% names(defaults))))) {
    unknown <- setdiff(names(control), names(defaults))
    abort(paste0(
      "`control` must be made by `gam_control()`, or be an mgcv `gam.control()` list",
      if (is.list(control) && length(unknown)) sprintf(" (it has no setting `%s`)", unknown[[1]]), "."
    ), "argument")
  }
  epsilon <- control$epsilon %||% defaults$epsilon
  if (!is.numeric(epsilon) || length(epsilon) != 1L || !is.finite(epsilon) || epsilon <= 0) {
    abort("`control$epsilon` must be a positive number, as for mgcv's `gam.control()`.", "argument")
  }
  defaults <- mgcv_control_defaults(epsilon)
  newton <- utils::modifyList(defaults$newton, control$newton %||% list())
  conv_tol <- newton$conv.tol
  max_step <- newton$maxNstep
  if (!is.numeric(conv_tol) || length(conv_tol) != 1L || !is.finite(conv_tol) || conv_tol <= 0) {
    abort("`control$newton$conv.tol` must be a positive number.", "argument")
  }
  if (!is.numeric(max_step) || length(max_step) != 1L || !is.finite(max_step) || max_step <= 0) {
    abort("`control$newton$maxNstep` must be a positive number.", "argument")
  }
  out <- gam_control(
    outer_tol = if (conv_tol == defaults$newton$conv.tol) formals(gam_control)$outer_tol else conv_tol,
    max_step = max_step
  )
  nthreads <- control$nthreads %||% 1
  check_number(nthreads, "control$nthreads", lower = 1)
  keep_data <- control$keepData %||% FALSE
  check_flag(keep_data, "control$keepData")
  # The settings with no counterpart, where they differ from mgcv's defaults.
  differs <- function(name, given, default) {
    if (is.list(default)) {
      if (!is.list(given)) return(name)
      inner <- intersect(names(given), names(default))
      unknown <- setdiff(names(given), names(default))
      nested <- lapply(inner, function(i) differs(paste0(name, "$", i), given[[i]], default[[i]]))
      return(c(if (length(unknown)) paste0(name, "$", unknown), unlist(nested)))
    }
    if (!identical(unname(given), default) && !isTRUE(all.equal(given, default))) name
  }
  unused <- setdiff(names(control), c("newton", "nthreads", "keepData"))
  ignored <- unlist(lapply(unused, function(n) differs(n, control[[n]], defaults[[n]])))
  ignored <- c(ignored, setdiff(unlist(differs("newton", control$newton %||% list(), defaults$newton)),
                                c("newton$conv.tol", "newton$maxNstep")))
  fresh <- setdiff(ignored, names(mgcv_control_noticed))
  if (length(fresh)) {
    for (n in fresh) assign(n, TRUE, envir = mgcv_control_noticed)
    warn(sprintf(paste(
      "mgcv `control` setting%s %s ha%s no counterpart in warmgam and %s not used (warmgam's",
      "Newton search and inner iteration have their own settings: see `gam_control()`). Said once per session."
    ), if (length(fresh) > 1) "s" else "", paste0("`", fresh, "`", collapse = ", "),
    if (length(fresh) > 1) "ve" else "s", if (length(fresh) > 1) "are" else "is"))
  }
  list(control = out, threads = if (nthreads != 1) nthreads, keep_data = keep_data)
}

# The printed line saying how smoothing parameters were chosen, and mgcv's default
# when the fit took warmgam's.
method_line <- function(x) {
  default <- is.null(x$call$method)
  sprintf("Method: %s%s", x$method, if (default && x$method == "REML") " (mgcv's gam() default is GCV.Cp)" else "")
}

# Pads a vector or matrix of values for the fit's rows with NA for the rows a
# na.exclude fit dropped (R's naresid()/napredict()); as it is otherwise.
pad_excluded <- function(object, x) {
  if (!inherits(object$na.action, "exclude")) return(x)
  stats::naresid(object$na.action, x)
}
