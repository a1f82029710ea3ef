# mgcv reference fits, stored as fixtures.
#
# A test names its reference by a key and gives it the inputs of the fit, exactly as
# it gave them to mgcv_fit() before:
#
#   ref <- mgcv_reference("bases/cr", f, d, method = "REML")
#   expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
#   q <- predict(ref, nd, se.fit = TRUE)
#
# The key's part before "/" names the fixture file (tests/testthat/fixtures/bases.rds).
# What the test asks of `ref` -- fitted(), coef(), vcov(), predict(), summary(),
# residuals(), logLik(), AIC(), anova(), a field with `$`, or an mgcv function through
# mgcv_call() -- is answered from that file. The file holds only those answers, each
# with the arguments it was asked with, and a fingerprint of the fit's inputs.
#
# tools/make_fixtures.R runs the test files with recording on: each mgcv_reference()
# then fits mgcv live (mgcv_fit(), the tight tolerances) and records every answer the
# test takes from it. So the definition of a reference is the test's own call, and
# replaying checks that the call still has the recorded inputs (formula, data,
# family, arguments; numbers to 1e-10 relative, so that another platform's last
# bits do not matter): a test changed without regenerating fails, saying so.
#
# Arguments that only mgcv can build (its own families) are given as quoted calls,
# evaluated only when recording: `family = quote(mgcv::nb())`.

reference_fixture_dir <- function() testthat::test_path("fixtures")

# The recorder (an environment) when tools/make_fixtures.R runs the tests, else NULL.
reference_recorder <- function() getOption("warmgam.reference_recorder")

reference_fixtures <- new.env(parent = emptyenv())

# The fixture file of a key: its part before the first "/" (the test file's name).
reference_file <- function(key) {
  if (!grepl("^[^/]+/.", key)) {
    stop(sprintf("A reference key is \"<file>/<case>\", not \"%s\".", key), call. = FALSE)
  }
  sub("/.*", "", key)
}

load_reference_fixture <- function(file) {
  if (is.null(reference_fixtures[[file]])) {
    path <- file.path(reference_fixture_dir(), paste0(file, ".rds"))
    if (!file.exists(path)) {
      stop(sprintf("No fixture file %s: run tools/make_fixtures.R.", path), call. = FALSE)
    }
    reference_fixtures[[file]] <- readRDS(path)
  }
  reference_fixtures[[file]]
}

mgcv_reference <- function(key, formula, data, ..., conv.tol = 1e-12) {
  args <- list(...)
  inputs <- reference_fingerprint(list(formula = formula, data = data, args = args, conv.tol = conv.tol))
  recorder <- reference_recorder()
  if (!is.null(recorder)) {
    entry <- recorder[[key]]
    if (is.null(entry)) {
      live <- lapply(args, function(a) if (is.call(a)) eval(a, globalenv()) else a)
      entry <- new.env(parent = emptyenv())
      entry$inputs <- inputs
      entry$answers <- list()
      entry$fit <- do.call(mgcv_fit, c(list(formula, data), live, list(conv.tol = conv.tol)))
      recorder[[key]] <- entry
    } else if (!is.null(fingerprint_difference(inputs, entry$inputs))) {
      stop(sprintf("Reference key \"%s\" is used for two different fits.", key), call. = FALSE)
    }
    return(structure(list(key = key, fit = entry$fit, entry = entry), class = "mgcv_reference"))
  }
  fixture <- load_reference_fixture(reference_file(key))
  stored <- fixture$references[[key]]
  if (is.null(stored)) {
    stop(sprintf("No stored reference \"%s\": run tools/make_fixtures.R.", key), call. = FALSE)
  }
  where <- fingerprint_difference(inputs, stored$inputs)
  if (!is.null(where)) {
    stop(sprintf("Reference \"%s\" was recorded with other inputs (%s differs): run tools/make_fixtures.R.",
                 key, where), call. = FALSE)
  }
  structure(list(key = key, fit = NULL, entry = stored), class = "mgcv_reference")
}

# What mgcv gives for `what` (a generic such as "predict" or an mgcv function such as
# "k.check") applied to the reference fit with the other arguments: computed and
# recorded when recording, else looked up.
mgcv_call <- function(what, ref, ...) {
  args <- list(...)
  entry <- .subset2(ref, "entry")
  fp <- reference_fingerprint(args)
  for (a in entry$answers) {
    if (identical(a$what, what) && is.null(fingerprint_difference(fp, a$args))) return(a$value)
  }
  fit <- .subset2(ref, "fit")
  if (is.null(fit)) {
    stop(sprintf("Reference \"%s\" has no stored answer to %s() with these arguments: run tools/make_fixtures.R.",
                 .subset2(ref, "key"), what), call. = FALSE)
  }
  value <- reference_answer(what, fit, args)
  entry$answers[[length(entry$answers) + 1]] <- list(what = what, args = fp, value = value)
  value
}

# Computes an answer from a live mgcv fit, keeping only what tests compare (summary
# and anova tables, plot data), never objects holding functions or environments.
reference_answer <- function(what, fit, args) {
  # Fields and values mgcv keeps in places the tests reach by name.
  extractors <- list(
    field = function(fit, name) {
      if (name %in% c("family", "smooth", "model", "call", "terms", "pred.formula", "formula")) {
        stop(sprintf("Take `%s` of a reference through mgcv_call() with an extractor.", name), call. = FALSE)
      }
      fit[[name]]
    },
    theta = function(fit) fit$family$getTheta(TRUE),
    smooth_labels = function(fit) vapply(fit$smooth, `[[`, "", "label"),
    # The model set up, not fitted (gam(fit = FALSE)): model matrix and penalties.
    setup = function(fit) {
      G <- mgcv::gam(fit$formula, data = fit$model, method = fit$method, fit = FALSE)
      list(X = G$X, S = G$S, off = G$off)
    },
    # Each smooth's columns deleted by gam.side(), 0-based and ascending, as text.
    deleted_columns = function(fit) {
      vapply(fit$smooth, function(sm) paste(sort(attr(sm, "del.index")) - 1, collapse = ","), "")
    },
    anova_pair = function(fit, other, ...) mgcv::anova.gam(fit, .subset2(other, "fit"), ...),
    # A Cox model's baseline hazard: times, cumulative hazard, its variance part and
    # the stratum of each time.
    cox_hazard = function(fit) fit$family$data[intersect(c("tr", "h", "q", "tr.strat"), names(fit$family$data))],
    # mvn()'s factor of the precision matrix.
    mvn_factor = function(fit) fit$family$data$R
  )
  if (!is.null(extractors[[what]])) return(do.call(extractors[[what]], c(list(fit), args)))
  fun <- get(what, envir = asNamespace("mgcv"), mode = "function")
  value <- do.call(fun, c(list(fit), args))
  keep <- function(x, fields) unclass(x)[intersect(fields, names(x))]
  switch(what,
    summary = ,
    summary.gam = keep(value, c("p.table", "s.table", "pTerms.table", "r.sq", "dev.expl")),
    anova.gam = keep(value, c("pTerms.table", "s.table")),
    plot.gam = lapply(value, keep, c("fit", "se")),
    value
  )
}

# The reference's generics, registered so that they dispatch from any caller.
reference_methods <- list(
  fitted = function(object, ...) mgcv_call("fitted", object, ...),
  coef = function(object, ...) mgcv_call("coef", object, ...),
  vcov = function(object, ...) mgcv_call("vcov", object, ...),
  predict = function(object, ...) mgcv_call("predict", object, ...),
  summary = function(object, ...) mgcv_call("summary", object, ...),
  residuals = function(object, ...) mgcv_call("residuals", object, ...),
  logLik = function(object, ...) mgcv_call("logLik", object, ...),
  AIC = function(object, ...) mgcv_call("AIC", object, ...),
  # anova() of one reference, or of two nested ones (the second named by its key).
  anova = function(object, ...) {
    args <- list(...)
    other <- vapply(args, inherits, NA, "mgcv_reference")
    if (!any(other)) return(mgcv_call("anova.gam", object, ...))
    do.call(mgcv_call, c(list("anova_pair", object, other = args[[which(other)]]), args[!other]))
  },
  `$` = function(x, name) mgcv_call("field", x, name)
)
for (generic in names(reference_methods)) {
  registerS3method(generic, "mgcv_reference", reference_methods[[generic]],
                   envir = if (generic == "$") baseenv() else asNamespace("stats"))
}
registerS3method("print", "mgcv_reference", function(x, ...) {
  cat(sprintf("<mgcv reference \"%s\">\n", .subset2(x, "key")))
  invisible(x)
}, envir = baseenv())

# A reference fit's inputs and a call's arguments, reduced to what identifies them:
# text for formulas, families, calls and functions; for numbers their count and three
# sums (plain, position-weighted, squared), compared to 1e-10 of the sum of absolute
# values (of squares): any one number moved by more than that is caught, while the
# last bits of another platform's exp() or summation order are not.
reference_fingerprint <- function(x) {
  if (is.null(x)) return(list(kind = "NULL"))
  if (inherits(x, "mgcv_reference")) return(list(kind = "reference", key = .subset2(x, "key")))
  if (inherits(x, "formula")) return(list(kind = "formula", text = paste(deparse(x), collapse = " ")))
  if (inherits(x, "family")) return(list(kind = "family", text = paste(x$family, x$link, x$varfun)))
  if (is.language(x)) return(list(kind = "call", text = paste(deparse(x), collapse = " ")))
  if (is.function(x)) {
    for (name in c("na.pass", "na.omit", "na.exclude", "na.fail")) {
      if (identical(x, get(name, envir = asNamespace("stats")))) return(list(kind = "function", text = name))
    }
    return(list(kind = "function", text = paste(deparse(x), collapse = " ")))
  }
  if (is.factor(x)) {
    return(list(kind = "factor", levels = levels(x), ordered = is.ordered(x),
                codes = reference_fingerprint(as.numeric(x))))
  }
  if (is.list(x)) {
    return(list(kind = "list", names = names(x), dim = dim(x), parts = lapply(unclass(x), reference_fingerprint)))
  }
  if (is.character(x) || is.logical(x)) return(list(kind = typeof(x), value = unclass(x), dim = dim(x)))
  if (is.numeric(x)) {
    v <- as.double(x)
    ok <- is.finite(v)
    w <- seq_along(v)[ok] / length(v)
    # The positions of missing values, and of infinite ones (cnorm()'s bounds) with
    # their signs as tenths.
    na <- which(!ok)
    if (any(is.infinite(v))) na <- na + ifelse(is.na(v[na]), 0, ifelse(v[na] > 0, 0.1, 0.2))
    return(list(kind = "numeric", dim = if (is.null(dim(x))) length(x) else dim(x), na = na,
                sums = c(sum(v[ok]), sum(v[ok] * w), sum(v[ok]^2)), mass = c(sum(abs(v[ok])), sum(v[ok]^2))))
  }
  stop("No fingerprint for an object of class ", class(x)[[1]], call. = FALSE)
}

# NULL when two fingerprints agree, else where they first differ.
fingerprint_difference <- function(a, b, where = "inputs") {
  if (!identical(a$kind, b$kind)) return(where)
  if (identical(a$kind, "numeric")) {
    if (!identical(as.numeric(a$dim), as.numeric(b$dim)) || !identical(a$na, b$na)) return(where)
    scale <- pmax(a$mass[c(1, 1, 2)], b$mass[c(1, 1, 2)])
    if (any(abs(a$sums - b$sums) > 1e-10 * scale)) return(where)
    return(NULL)
  }
  if (identical(a$kind, "list")) {
    if (!identical(a$names, b$names) || !identical(a$dim, b$dim) || length(a$parts) != length(b$parts)) {
      return(where)
    }
    for (i in seq_along(a$parts)) {
      name <- if (is.null(a$names) || !nzchar(a$names[[i]])) paste0("[[", i, "]]") else paste0("$", a$names[[i]])
      diff <- fingerprint_difference(a$parts[[i]], b$parts[[i]], paste0(where, name))
      if (!is.null(diff)) return(diff)
    }
    return(NULL)
  }
  if (identical(a$kind, "factor")) {
    if (!identical(a$levels, b$levels) || !identical(a$ordered, b$ordered)) return(where)
    return(fingerprint_difference(a$codes, b$codes, where))
  }
  if (!identical(a, b)) return(where)
  NULL
}
