# General smooth models (mgcv's general families): a list of formulae, one linear
# predictor each, and a family whose log likelihood depends on all of them, such as
# mgcv's gaulss() (Wood, Pya & Saefken 2016, JASA 111:1548-1563). Each predictor's
# model is set up as a warmgam model on the same rows; the engine fits them jointly
# by the Laplace-approximate REML (src/rust/src/fit/general.rs).

# The general families the engine fits, each with its number of linear predictors.
general_family_lps <- c(gaulss = 2L, gumbls = 2L, gammals = 2L, multinom = NA, ziplss = 2L, gevlss = 3L,
                        shash = 4L, twlss = 3L, `Cox PH` = 1L, `Multivariate normal` = NA)

# The number of linear predictors (multinom(K) has K) and the most the engine takes.
n_predictors <- function(family) family$nlp %||% general_family_lps[[family$family]]
max_predictors <- 4L

# Responses a general family cannot take: a test per family (TRUE where valid) and
# what is expected.
general_support <- list(
  gammals = list(valid = function(y, family) y > 0, expected = "positive"),
  multinom = list(valid = function(y, family) y >= 0 & y <= family$nlp & y == round(y),
                  expected = "class number (0 to K)", every_class = TRUE),
  ziplss = list(valid = function(y, family) y >= 0 & y == round(y), expected = "non-negative whole number"),
  twlss = list(valid = function(y, family) y >= 0, expected = "non-negative")
)

# The engine's name of a general family (mgcv names its Cox family "Cox PH").
engine_family_name <- function(family) {
  if (is_cox_family(family)) return("cox.ph")
  if (is_mvn_family(family)) return("mvn")
  family$family
}

is_mvn_family <- function(family) identical(family$family, "Multivariate normal")

# The functions that make the general families named `names` (mgcv's family names).
family_call_names <- function(names) {
  called <- c(`Cox PH` = "cox.ph", `Multivariate normal` = "mvn")
  ifelse(names %in% names(called), called[names], names)
}

is_general_family <- function(family) inherits(family, "general.family")

# The family object, when it is a general one (a function or name is called first);
# NULL otherwise.
general_family <- function(family) {
  if (identical(family, "cox.ph")) family <- mgcv::cox.ph
  if (is.character(family) && length(family) == 1L && family %in% names(general_family_lps)) {
    family <- get(family, envir = asNamespace("mgcv"), mode = "function")
  }
  if (is.function(family)) {
    called <- tryCatch(family(), error = function(e) NULL)
    if (is_general_family(called)) family <- called
  }
  if (!is_general_family(family)) return(NULL)
  if (!family$family %in% names(general_family_lps)) {
    abort(sprintf(
      "`family = %s()` is not supported yet; of mgcv's general families warmgam fits %s.",
      family$family, paste0(family_call_names(names(general_family_lps)), "()", collapse = ", ")
    ), "family")
  }
  # (mvn() and multinom() have no per-row derivative arrays: any number of
  # predictors.)
  if (n_predictors(family) > max_predictors && !is_mvn_family(family) && family$family != "multinom") {
    abort(sprintf("`%s()` with %d linear predictors is not supported yet; warmgam fits at most %d.",
                  family$family, n_predictors(family), max_predictors), "family")
  }
  family
}

# The log likelihood of each `y` under a general family at the linear predictors
# `eta` (a matrix, one column per predictor): gam_cv()'s score of held-out rows.
general_row_loglik <- function(family, y, eta) {
  eta <- as.matrix(eta)
  storage.mode(eta) <- "double"
  engine_result(general_loglik_impl(list(
    family = family$family, links = general_links(family), constants = as.double(general_constants(family)),
    y = as.double(y), eta = unname(eta)
  )))
}

# The engine's constants of a general family, read off its links: gaulss's `b`, the
# standard deviation's lower bound (its logb link's inverse is 1 / (exp(eta) + b));
# gumbls' and gammals' `b`, the log scale's (their log link's inverse is
# b + log(1 + exp(eta))); shash's `b` (its logeb link's inverse is log(exp(eta) + b))
# and `phiPen`, its ridge on the log kurtosis; twlss' limits `a` and `b` of its power.
general_constants <- function(family) {
  switch(family$family,
    twlss = c(get(".a", environment(family$ll)), get(".b", environment(family$ll))),
    gaulss = 1 / family$linfo[[2]]$linkinv(0) - 1,
    gumbls = ,
    gammals = family$linfo[[2]]$linkinv(-50) - log1p(exp(-50)),
    multinom = family$nlp,
    shash = c(exp(family$linfo[[2]]$linkinv(-50)) - exp(-50), get("phiPen", environment(family$ll))),
    ziplss = ,
    gevlss = ,
    `Multivariate normal` = ,
    `Cox PH` = numeric()
  )
}

# Each predictor's link name (multinom's are identities it does not name).
general_links <- function(family) {
  as.character(family$link %||% rep("identity", n_predictors(family)))
}

# A predictor's smooth label as mgcv writes it: `s(x)` of the second predictor is
# `s.1(x)`.
lp_label <- function(label, k) {
  if (k == 1L) label else sub("^([A-Za-z0-9_]+)\\(", paste0("\\1.", k - 1L, "("), label)
}

lp_names <- function(names, k) if (k == 1L || !length(names)) names else paste0(names, ".", k - 1L)

# The blocks of terms of a list of formulae, each as a formula with the response
# (mgcv's later formulae are one-sided), and the linear predictors each block
# enters: the formulae without a left side are the predictors in order (the first,
# with the response, is predictor 1); a formula whose left side is predictor
# numbers (mgcv's `1 + 2 ~ s(x) - 1`) is a block shared by those predictors.
lp_formulae <- function(formula, family) {
  n_lp <- n_predictors(family)
  shape <- sprintf(paste("a list of %d formulae, the first with the response, such as `list(y ~ s(x), ~ s(z))`",
                         "(and any formulae shared by several predictors, `1 + 2 ~ s(x) - 1`)"), n_lp)
  if (!is.list(formula) || !all(vapply(formula, inherits, logical(1), what = "formula"))) {
    abort(sprintf("`formula` for `%s()` must be %s.", family$family, shape), "formula")
  }
  shared <- vapply(seq_along(formula), function(j) {
    j > 1L && length(formula[[j]]) == 3L && !is.null(predictor_numbers(formula[[j]][[2]]))
  }, logical(1))
  if (sum(!shared) != n_lp) {
    abort(sprintf("`formula` for `%s()` must be %s: it has %d predictor formulae.", family$family, shape,
                  sum(!shared)), "formula")
  }
  if (length(formula[[1]]) != 3L) {
    abort(sprintf("The first formula of `formula` must have the response: %s.", shape), "formula")
  }
  response <- formula[[1]][[2]]
  predictor <- cumsum(!shared)
  blocks <- lapply(seq_along(formula), function(j) {
    f <- formula[[j]]
    if (j == 1L) return(list(formula = f, lp = 1L))
    if (shared[[j]]) {
      lp <- sort(unique(predictor_numbers(f[[2]])))
      if (any(lp < 1L | lp > n_lp)) {
        abort(sprintf("Formula %d of `formula` is shared by predictors %s, but `%s()` has predictors 1 to %d.",
                      j, paste(lp, collapse = " + "), family$family, n_lp), "formula")
      }
      # (The right side's terms alone: a left side of one number is no response.)
      if (attr(stats::terms(eval(call("~", f[[3]]))), "intercept") == 1L) {
        abort(sprintf(paste("Formula %d of `formula` is shared by predictors %s and has an intercept, which",
                            "each predictor has already: write it with `- 1`, as mgcv's examples do."),
                      j, paste(lp, collapse = " + ")), "formula")
      }
      rhs <- f[[3]]
    } else {
      if (length(f) == 3L) {
        abort(sprintf(paste("Formula %d of `formula` must be one-sided (`~ s(z)`): only the first has the",
                            "response (a formula shared by predictors names them, `1 + 2 ~ s(x) - 1`)."), j),
              "formula")
      }
      lp <- predictor[[j]]
      rhs <- f[[2]]
    }
    g <- eval(call("~", response, rhs))
    environment(g) <- environment(f)
    list(formula = g, lp = lp)
  })
  list(formulae = lapply(blocks, `[[`, "formula"), lp = lapply(blocks, `[[`, "lp"))
}

# The predictor numbers of a shared formula's left side (`1 + 2`), or NULL when it is
# not a sum of whole numbers (a response).
predictor_numbers <- function(lhs) {
  if (is.numeric(lhs) && length(lhs) == 1L && lhs == round(lhs)) return(as.integer(lhs))
  if (is.call(lhs) && identical(lhs[[1]], as.name("+")) && length(lhs) == 3L) {
    parts <- lapply(as.list(lhs)[-1], predictor_numbers)
    if (!any(vapply(parts, is.null, logical(1)))) return(unlist(parts))
  }
  NULL
}

# The data's rows that every predictor's variables have (the others dropped, or an
# error for `na.fail`), so that each predictor's model is set up on the same rows.
general_rows <- function(formulae, data, subset, na_action) {
  if (is.null(data)) return(NULL)
  # A list of variables (as mgcv's examples give `data`) as the data frame it is.
  if (!is.data.frame(data)) {
    data <- tryCatch(as.data.frame(data, stringsAsFactors = FALSE), error = function(e) {
      abort("`data` must be a data frame, or a list of variables of one length.", "argument")
    })
  }
  if (!is.null(subset)) data <- data[subset, , drop = FALSE]
  vars <- intersect(unique(unlist(lapply(formulae, all.vars))), names(data))
  keep <- if (length(vars)) stats::complete.cases(as.data.frame(data)[vars]) else rep(TRUE, NROW(data))
  if (!all(keep) && na_action == "na.fail") {
    abort("The model's variables have missing values and `na.action` is na.fail.", "missing_values")
  }
  out <- data[keep, , drop = FALSE]
  attr(out, "dropped") <- which(!keep)
  out
}

# Fits a general smooth model: gam_fit() with a list of formulae and a general family.
gam_fit_general <- function(formula, data, family, method, sp, knots, select, control, threads, subset,
                            na_action, drop_unused_levels, fit, call, refused, optimizer, cache, status = NULL) {
  if (length(refused)) {
    abort(sprintf(
      "`%s` is not supported with the general family `%s()` yet.", refused[[1]], family$family
    ), "argument")
  }
  if (method != "REML") {
    warn(sprintf("`method = \"%s\"` is not used: `%s()` is fitted by REML, as mgcv fits its general families.",
                 method, family$family))
  }
  cox <- is_cox_family(family)
  mvn <- is_mvn_family(family)
  if (cox) formula <- cox_formulae(formula)
  blocks <- if (mvn) mvn_formulae(formula, family) else lp_formulae(formula, family)
  formulae <- blocks$formulae
  rows <- general_rows(formulae, data, subset, na_action)
  if (cox) {
    surv <- cox_survival(formulae[[1]], rows, status, subset, attr(rows, "dropped"))
    formulae[[1]] <- surv$formula
  }
  setups <- lapply(formulae, function(f) {
    gam_fit(f, data = rows, knots = knots, select = select, fit = FALSE, drop.unused.levels = drop_unused_levels)
  })
  # mgcv's cox.ph() has no intercept: the baseline hazard takes its place.
  if (cox) {
    setups[[1]] <- drop_intercept(setups[[1]])
    if (!ncol(setups[[1]]$X)) {
      abort("A `cox.ph()` model needs a covariate: its intercept is the baseline hazard, which is not a coefficient.",
            "formula")
    }
  }
  # As mgcv's gam(fit = FALSE) returns its set-up model: one per predictor here.
  if (!fit) return(setups)
  n <- vapply(setups, function(s) nrow(s$X), 1)
  if (length(unique(n)) != 1L) {
    abort("The formulae's variables have missing values in different rows; give them in `data`.", "missing_values")
  }
  # (mvn()'s responses are one per formula: a matrix, by columns.)
  y_matrix <- if (mvn) vapply(setups, function(s) as.double(s$y), numeric(n[[1]]))
  y <- if (mvn) as.double(y_matrix) else as.double(setups[[1]]$y)
  bad <- which(!is.finite(y))
  if (length(bad)) abort(sprintf("The response must be finite; row %d is not.", bad[[1]]), "response")
  support <- general_support[[family$family]]
  bad <- if (!is.null(support)) which(!support$valid(y, family))
  if (length(bad)) {
    abort(sprintf("`%s()` needs a %s response; %d row(s) are not (the first: row %d, value %s).",
                  family$family, support$expected, length(bad), bad[[1]], format(y[[bad[[1]]]])), "response")
  }
  # A class without rows has no finite coefficients (and mgcv's postproc fails).
  absent <- if (isTRUE(support$every_class)) setdiff(0:family$nlp, y)
  if (length(absent)) {
    abort(sprintf("`%s(K = %d)` needs every class 0 to %d in the response; class %d has no rows.",
                  family$family, family$nlp, family$nlp, absent[[1]]), "response")
  }
  # Each block's columns, and each predictor's blocks (its own, and shared ones).
  p <- vapply(setups, function(s) ncol(s$X), 1)
  first <- cumsum(c(0, p))[seq_along(p)]
  block_cols <- lapply(seq_along(p), function(j) first[[j]] + seq_len(p[[j]]))
  feeds <- lapply(seq_len(n_predictors(family)), function(k) blocks_of(blocks$lp, k))
  offsets <- predictor_offsets(setups, feeds)
  if (mvn && any(vapply(offsets, function(o) any(o != 0), NA))) {
    abort("`mvn()` does not take offsets (nor does mgcv's).", "argument")
  }
  # mvn()'s precision matrix parameters: unpenalized coefficients after all others.
  n_theta <- if (mvn) family$nlp * (family$nlp + 1) / 2 else 0
  n_sp <- vapply(setups, function(s) as.double(s$n_sp), 1)
  sp_first <- cumsum(c(0, n_sp))[seq_along(n_sp)]
  penalties <- unlist(lapply(seq_along(setups), function(k) {
    s <- setups[[k]]
    Map(function(S, off, spi) list(S = S, start = off - 1 + first[[k]], sp_index = spi - 1 + sp_first[[k]]),
        s$S, s$off, s$sp_index)
  }), recursive = FALSE)
  total_sp <- sum(n_sp)
  if (!is.null(sp) && (!is.numeric(sp) || length(sp) != total_sp)) {
    abort(sprintf("`sp` must have %d values, one per smoothing parameter (negative to estimate).", total_sp),
          "argument")
  }
  smooth <- unlist(lapply(seq_along(setups), function(k) {
    lapply(setups[[k]]$smooth, function(sm) {
      sm$label <- lp_label(sm$label, k)
      sm$first <- sm$first + first[[k]]
      sm$last <- sm$last + first[[k]]
      sm$sp_index <- sm$sp_index + sp_first[[k]]
      sm$lp <- k
      sm
    })
  }), recursive = FALSE)
  names(smooth) <- vapply(smooth, `[[`, "", "label")
  coef_names <- unlist(lapply(seq_along(setups), function(k) {
    s <- setups[[k]]
    smooth_names <- s$term.names[seq_along(s$term.names) > s$nsdf]
    c(lp_names(s$term.names[seq_len(s$nsdf)], k), if (k > 1L) sub("^([A-Za-z0-9_]+)\\(", paste0("\\1.", k - 1L, "("),
                                                                   smooth_names) else smooth_names)
  }))
  coef_names <- c(coef_names, if (n_theta) paste0("R.", seq_len(n_theta)))
  raw <- fit_general_impl(list(
    X = do.call(cbind, c(lapply(setups, `[[`, "X"), if (n_theta) list(matrix(0, n[[1]], n_theta)))),
    y = y,
    family = engine_family_name(family),
    links = general_links(family),
    status = if (cox) surv$status else numeric(),
    strata = if (cox && !is.null(surv$stratum)) as.double(match(surv$stratum, unique(surv$stratum))) else numeric(),
    constants = as.double(general_constants(family)),
    lp_start = lapply(feeds, function(js) as.double(first[js])),
    lp_end = lapply(feeds, function(js) as.double(first[js] + p[js])),
    offset = offsets,
    penalties = penalties,
    sp = as.double(sp %||% rep(-1, total_sp)),
    terms = lapply(smooth, function(sm) {
      list(start = sm$first - 1, end = sm$last, null_space_dim = as.double(sm$null_space_dim))
    }),
    tol = control$outer_tol,
    max_iter = as.double(control$outer_max_iter),
    max_step = control$max_step,
    threads = as.double(threads),
    cache = general_cache_spec(cache, control, formula, family, coef_names)
  ))
  res <- engine_result(raw)
  warn_store_outcome(res$warm_start)
  lpi <- lapply(feeds, function(js) unlist(block_cols[js]))
  parts <- lapply(seq_along(setups), function(k) {
    s <- setups[[k]]
    list(pterms = s$pterms, xlevels = s$xlevels, contrasts = s$contrasts, smooth = s$smooth,
         assign = s$assign, coefficients = stats::setNames(numeric(p[[k]]), colnames(s$X)),
         drop_intercept = isTRUE(s$drop_intercept))
  })
  coefficients <- stats::setNames(res$coefficients, coef_names)
  dimnames(res$Vp) <- dimnames(res$Ve) <- dimnames(res$Vc) <- list(coef_names, coef_names)
  sp_labels <- unlist(lapply(seq_along(setups), function(k) {
    lp_label(sp_names(setups[[k]]$smooth, n_sp[[k]]), k)
  }))
  fit <- structure(
    list(
      coefficients = coefficients,
      fitted.values = res$parameters,
      linear.predictors = res$linear_predictors,
      y = if (mvn) y_matrix else y,
      # (No weights: mgcv's general families' functions read unit ones here.)
      prior.weights = rep(1, NROW(y)),
      Vp = res$Vp,
      Ve = res$Ve,
      Vc = res$Vc,
      edf = stats::setNames(res$edf, coef_names),
      edf1 = stats::setNames(res$edf1, coef_names),
      edf2 = stats::setNames(res$edf2, coef_names),
      sp = stats::setNames(res$sp, sp_labels),
      criterion = c(REML = res$criterion),
      loglik = res$loglik,
      aic = -2 * res$loglik + 2 * sum(res$edf),
      smooth = smooth,
      term_tests = res$term_tests,
      lpi = lpi,
      # Per block of terms (a predictor's own formula, or one shared by several):
      # its columns, the predictors it enters, its parametric columns and set-up.
      block_cols = block_cols,
      block_lp = blocks$lp,
      nsdf = vapply(setups, `[[`, 1, "nsdf"),
      parts = parts,
      offset = offsets,
      converged = res$converged && res$inner_converged,
      termination = res$termination,
      outer_iterations = res$iterations,
      gradient = res$gradient,
      method = "REML",
      optimizer = optimizer,
      family = family,
      formula = formula,
      call = call,
      data = rows,
      na.action = attr(rows, "dropped"),
      warm_start = list(
        source = res$warm_start$source,
        outer_iterations = res$iterations,
        key = if (nzchar(res$warm_start$key)) res$warm_start$key else NA_character_,
        seed_outer_iterations = res$warm_start$seed_outer_iterations,
        family_trials = NA_real_
      )
    ),
    class = "warmgam_general"
  )
  if (mvn) return(mvn_postproc(fit, n_theta))
  if (!cox) return(general_postproc(fit))
  fit$formula <- formula[[1]]
  fit$y <- surv$y
  fit$prior.weights <- surv$status
  fit$linear.predictors <- drop(fit$linear.predictors)
  class(fit) <- c("warmgam_cox", class(fit))
  cox_postproc(fit, setups[[1]]$X, surv)
}

# The store's settings and the model's identity for a general fit (NULL: the store is
# not used), as cache_spec() gives them for the other fits: the formulae, the family
# with its links and constants, and the coefficients' names (the model's terms).
general_cache_spec <- function(cache, control, formula, family, coef_names) {
  store <- store_settings(cache)
  if (is.null(store)) return(NULL)
  c(store, list(
    # A store that is to be verified is not used by a general fit: it runs cold.
    verify = isTRUE(control$verify_warm),
    formula = paste(vapply(formula, function(f) paste(deparse(f, width.cutoff = 500L), collapse = " "), ""),
                    collapse = "; "),
    family = sprintf("%s(%s)", family$family, paste(format(general_constants(family), digits = 17), collapse = ",")),
    link = paste(general_links(family), collapse = ","),
    names = coef_names
  ))
}

# The blocks of terms that predictor `k` takes, in order, from each block's
# predictors (`block_lp`).
blocks_of <- function(block_lp, k) which(vapply(block_lp, `%in%`, x = k, NA))

# Each predictor's offset: the sum of those of the blocks it takes (`feeds`).
predictor_offsets <- function(setups, feeds) {
  lapply(feeds, function(js) Reduce(`+`, lapply(setups[js], function(s) as.double(s$offset))))
}

# What mgcv's gam() does after fitting a general family, through the family's own
# functions: its `postproc` (gumbls' fitted mean, gammals' mean on the response
# scale, null deviances), then the deviance as the sum of squared deviance
# residuals.
general_postproc <- function(object) {
  post <- object$family$postproc
  if (identical(object$family$family, "twlss")) {
    # (Not for the model of constants that twlss_null_deviance() fits.)
    if (!isTRUE(object$family$null_model)) object$null.deviance <- twlss_null_deviance(object)
  } else if (is.expression(post)) {
    # Evaluated where mgcv evaluates it (it calls mgcv's internal functions).
    env <- new.env(parent = asNamespace("mgcv"))
    env$object <- object
    eval(post, env)
    object <- env$object
  } else if (is.function(post)) {
    out <- post(family = object$family, y = object$y, prior.weights = rep(1, length(object$y)),
                fitted = object$fitted.values, linear.predictors = object$linear.predictors,
                offset = object$offset, intercept = TRUE)
    object$deviance <- out$deviance
    object$null.deviance <- out$null.deviance
  }
  object$deviance <- object$deviance %||% sum(object$family$residuals(object, "deviance")^2)
  object
}

# twlss' null deviance as mgcv's postproc defines it: the Tweedie deviance of the
# response about the maximum likelihood mean and power of a model of constants (power
# limits 1.001 and 1.999, as mgcv's tw.null.fit()), at the fit's own scales. The
# constants are fitted by the engine (mgcv's tw.null.fit() takes longer than the
# model's fit).
twlss_null_deviance <- function(object) {
  y <- object$y
  a <- 1.001
  b <- 1.999
  family <- mgcv::twlss(a = a, b = b)
  family$null_model <- TRUE
  null <- gam_fit(list(y ~ 1, ~1, ~1), data = data.frame(y = y), family = family, cache = FALSE)
  mu <- null$fitted.values[1, 1]
  p <- a + (b - a) / (1 + exp(-null$fitted.values[1, 2]))
  y1 <- y + (y == 0)
  theta <- (y1^(1 - p) - mu^(1 - p)) / (1 - p)
  kappa <- (y^(2 - p) - mu^(2 - p)) / (2 - p)
  sum(pmax(2 * (y * theta - kappa) * object$prior.weights / exp(object$fitted.values[, 3]), 0))
}

# mgcv's mvn() takes a list of formulae, one per response and linear predictor,
# each with its response (`list(y0 ~ s(x0), y1 ~ s(x1))`).
mvn_formulae <- function(formula, family) {
  d <- family$nlp
  ok <- is.list(formula) && length(formula) == d &&
    all(vapply(formula, function(f) inherits(f, "formula") && length(f) == 3L, NA))
  if (!ok) {
    abort(sprintf("`formula` for `mvn(d = %d)` must be a list of %d formulae, each with its response (`list(y0 ~ s(x0), y1 ~ s(x1))`).",
                  d, d), "formula")
  }
  list(formulae = formula, lp = as.list(seq_len(d)))
}

# What mgcv's mvn() post-processing gives a fit: the precision matrix's factor `R`
# (upper triangular, rows of it in the last coefficients, its diagonal on the log
# scale) in `family$data`, and the deviances of the residuals scaled by it.
mvn_postproc <- function(object, n_theta) {
  d <- ncol(object$y)
  theta <- utils::tail(unname(object$coefficients), n_theta)
  R <- matrix(0, d, d)
  k <- 1
  for (i in seq_len(d)) {
    for (j in i:d) {
      R[i, j] <- if (i == j) exp(theta[[k]]) else theta[[k]]
      k <- k + 1
    }
  }
  object$family$data <- list(R = R)
  object$deviance <- sum((R %*% t(object$y - object$fitted.values))^2)
  object$null.deviance <- sum((R %*% (t(object$y) - colMeans(object$y)))^2)
  object
}

# The log likelihood of each row of `y` (a matrix of responses) under a fitted mvn()
# family, its precision matrix's factor `R` in `family$data`, at the means `eta`.
mvn_row_loglik <- function(family, y, eta) {
  R <- family$data$R
  sum(log(diag(R))) - 0.5 * colSums((R %*% t(as.matrix(y) - eta))^2) - 0.5 * ncol(R) * log(2 * pi)
}
