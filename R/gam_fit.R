# gam_fit(): the model-fitting entry point, and the warmgam object it returns.

#' Fit a generalized additive model
#'
#' Fits a GAM with smoothing parameters chosen by REML (default), ML or GCV, using
#' warmgam's Rust engine. Non-Gaussian families are fitted by penalized IRLS, with
#' the smoothing parameters (and an unknown scale) chosen by Newton's method on the
#' Laplace-approximate REML or ML criterion with its exact derivatives (Wood 2011). Formulas, bases, penalties and the numbers reported follow
#' mgcv's `gam()`, so a model fitted with `mgcv::gam()` can be refitted by changing
#' the function name.
#'
#' @param formula A model formula: a response, parametric terms (numeric
#'   variables, factors, interactions, `offset()`) and smooth terms made by [s()].
#'   For a general family (mgcv's `gaulss()`, `gumbls()`, `gammals()`, `ziplss()`,
#'   `gevlss()`, `shash()`, `twlss()`, `multinom()`), a list of formulae, one per linear
#'   predictor, the first with the response (`list(y ~ s(x), ~ s(z))`), and any
#'   formulae of terms shared by several predictors, their left side naming them
#'   (`1 + 2 ~ s(x) - 1`), as mgcv's; for `mvn(d)`, one formula per response, each
#'   with its response (`list(y0 ~ s(x), y1 ~ s(z))`); see [warmgam_general].
#' @param data A data frame holding the variables; when missing, variables are taken
#'   from the formula's environment.
#' @param family The error distribution and link, as an R family object (or its
#'   name): `gaussian()` (links identity, log, inverse), `binomial()` (logit, probit,
#'   cloglog, cauchit, log), `poisson()` (log, identity, sqrt), `Gamma()` (inverse,
#'   log, identity), `inverse.gaussian()` (1/mu^2, inverse, log, identity),
#'   `quasibinomial()`, `quasipoisson()` and `quasi()` with a standard variance
#'   function, the negative binomial [nb()] and the Tweedie [tw()] (log, identity,
#'   sqrt; `theta` or the power estimated or fixed; mgcv's `nb()`, `negbin()`,
#'   `tw()` and `Tweedie()` objects are accepted too), beta regression [betar()]
#'   (logit, probit, cloglog, cauchit; the precision estimated or fixed) and the
#'   scaled t [scat()] (identity, log, inverse; `nu` and `sigma` estimated or
#'   fixed), ordered categorical responses [ocat()] (cut points estimated or
#'   fixed), the zero-inflated Poisson [ziP()] (REML/ML; `theta` estimated or
#'   fixed) and the censored normal [cnorm()] (identity, log, sqrt; `sigma`
#'   estimated or fixed; a `cbind(y, censor)` response), mgcv's `betar()`, `scat()`,
#'   `ocat()`, `ziP()` and `cnorm()` accepted too. A
#'   binomial response may be 0/1 (numeric, logical, or a factor whose first level is
#'   failure), proportions with the numbers of trials as `weights`, or
#'   `cbind(successes, failures)`. The scale is 1 for binomial, Poisson, negative
#'   binomial and the extended families above, and estimated otherwise. mgcv's
#'   `cox.ph()` (or `"cox.ph"`) fits a Cox proportional hazards model of survival
#'   times, `weights` its event indicator; see [warmgam_cox].
#' @param method How smoothing parameters are chosen: `"REML"` (default), `"ML"` or
#'   `"GCV.Cp"` (GCV when the scale is estimated, UBRE/Mallows' Cp when it is known,
#'   as mgcv) or `"GACV.Cp"` (as `"GCV.Cp"`, with GACV, `D/n + 2 tau P / (n (n -
#'   tau))` for the Pearson statistic `P`, in place of GCV). Note that mgcv's `gam()` defaults to `"GCV.Cp"`: give
#'   `method = "GCV.Cp"` to refit an mgcv model that did not name its method.
#' @param weights Optional prior weights (non-negative, finite): a vector or the
#'   name of a column of `data`. For `cox.ph()`, the event indicator (1 an event,
#'   0 a censored time), as mgcv's.
#' @param offset Optional offset added to the linear predictor in fitting (as mgcv,
#'   it is not added by `predict()`; a formula `offset()` term is).
#' @param sp Optional smoothing parameters, one per smooth term (per level for a
#'   factor `by`); negative entries are estimated.
#' @param min.sp Optional lower bounds for the smoothing parameters, one per
#'   smoothing parameter in the order of `sp` (as mgcv's `min.sp`): each penalty is
#'   multiplied by `sp + min.sp`, and `fit$sp` reports the `sp` part, as mgcv's
#'   `full.sp` does (add `min.sp` to get the multipliers).
#' @param knots Optional named list of knot vectors, e.g. `list(x = 0:10)`, for
#'   `"cr"`, `"cc"`, `"ps"` and `"tp"` smooths (for a thin plate spline of several
#'   covariates, one vector per covariate, all of one length; used when there are at
#'   least `k` distinct knots, as in mgcv). Without knots, a thin plate spline of more
#'   than 2000 rows is built on mgcv's random sample of 2000 of its distinct points
#'   (drawn with seed 1; the session's random number stream is left as it was).
#' @param gamma Inflation factor for the model's degrees of freedom in the criterion
#'   (`> 1` gives smoother fits), as mgcv's `gamma`.
#' @param select Add to every smooth with an unpenalized null space (linear
#'   functions, say) a second penalty on that null space, with a smoothing parameter
#'   of its own, so that whole terms can be penalized out of the model (mgcv's
#'   `select = TRUE`). Such terms then have two smoothing parameters, named with
#'   suffixes `1` (wiggliness) and `2` (null space).
#' @param cache Use the warm-start store ([warmgam_cache]): `TRUE` (default) starts
#'   from what earlier fits learned and records this one, `FALSE` bypasses the store,
#'   `"refresh"` fits cold and overwrites the stored result. `options(warmgam.cache =
#'   FALSE)` turns the store off for the session.
#' @param threads Number of threads for the engine's matrix products; default
#'   `getOption("warmgam.threads", 2)`.
#' @param control Optimizer settings from [gam_control()], or an mgcv
#'   `gam.control()` list (all of it or some of its settings, as mgcv's `gam()`
#'   takes it). From such a list, `newton$maxNstep` is `max_step`, `newton$conv.tol`
#'   is `outer_tol` (its convergence test is alike: gradient and criterion change
#'   relative to the criterion; mgcv's default 1e-6 leaves warmgam's tighter 1e-8),
#'   `nthreads` is `threads` (when `threads` is not given) and `keepData = TRUE`
#'   keeps the data as `fit$data`. The other settings (the inner iteration's
#'   `epsilon` and `maxit`, `nlm`, `optim`, `trace`, ...) have no counterpart: those
#'   that differ from mgcv's defaults are named in a warning, once per setting in a
#'   session.
#' @param subset Rows of the data to fit, as in `lm()` and mgcv's `gam()`: a logical
#'   vector or row numbers, evaluated in `data` (e.g. `subset = x > 0`); applied
#'   before rows with missing values are dropped.
#' @param na.action What to do with rows with missing values in a variable the
#'   model uses: `na.omit` (drop them; the default, from `getOption("na.action")`
#'   as for `lm()` and mgcv), `na.exclude` (drop them, but `fitted()`,
#'   `residuals()`, `predict()` without `newdata`, `weights()` and
#'   `cooks.distance()` give `NA` for them, as R's `naresid()`/`napredict()`), or
#'   `na.fail` (an error naming the variable). A function or its name.
#' @param drop.unused.levels As in mgcv: `TRUE` (the default) drops the levels of
#'   factors that no fitted row has. With `FALSE` the levels are kept (and known to
#'   `predict()`): a parametric factor's empty level is an all-zero column, aliased
#'   and fixed at zero as mgcv fixes it, a random effect's (`s(g, bs = "re")`) is
#'   penalized to zero as in mgcv, and a factor `by`'s is an error (a smooth with no
#'   data, which mgcv's fit fails on too).
#' @param optimizer mgcv's `optimizer`: `c("outer", "newton")` (the default),
#'   `"outer"` with `"bfgs"`, `"optim"`, `"nlm"` or `"nlm.fd"`, `"efs"` or `"perf"`.
#'   They are ways to the same optimum of the criterion, which warmgam's Newton
#'   search finds whichever is named: the fit is the same (mgcv's own fits differ
#'   only by its optimizers' tolerances; for `"perf"`, mgcv's performance
#'   iteration, with `method = "GCV.Cp"` and a non-Gaussian family, by the
#'   difference between its fixed point and the optimum). As in mgcv, `"efs"` fits
#'   REML whatever `method` says (with a warning when it says otherwise). Kept as
#'   `fit$optimizer`.
#' @param scale As mgcv's: `0` (the default) for a scale of 1 with the binomial,
#'   Poisson and negative binomial families and an estimated scale otherwise; a
#'   negative value for an estimated scale (for binomial and Poisson fits by
#'   `"GCV.Cp"`, which then minimizes GCV instead of UBRE; with REML and ML their
#'   scale stays 1, as in mgcv, with a warning). A positive value is a known scale:
#'   REML/ML then use it in the likelihood and `"GCV.Cp"` minimizes UBRE with it, as
#'   mgcv (for the binomial and Poisson families only under `"GCV.Cp"`, as in mgcv).
#' @param fit `FALSE` to set the model up without fitting it (mgcv's `fit = FALSE`):
#'   the result is a `warmgam_setup` object, a list with the model matrix `X`
#'   (columns named as the fit's coefficients), the penalties `S` (each on its
#'   term's coefficients, starting at column `off`, using smoothing parameter
#'   `sp_index` of `n_sp`; `rank` their ranks), the given `sp`, the terms (`smooth`,
#'   with each term's `first` and `last` column), `nsdf` (parametric columns) and
#'   `assign`, and the response `y`, prior weights `w`, `offset`, `family`,
#'   `formula` and `method`. The store is not used.
#' @param paraPen Penalties on parametric terms, as mgcv's: a list named by terms of
#'   the formula (such as a matrix covariate `X` in `y ~ X + s(z)`), each a list of
#'   penalty matrices on that term's columns, with optional `sp` (one per matrix;
#'   negative to estimate) and `rank` (checked against the matrix). Each penalty has
#'   a smoothing parameter of its own, named after the term (with a number when a
#'   term has several), before the smooths' as in mgcv. `L` is not supported.
#' @param in.out mgcv's own warm start: `list(sp = , scale = )`, where the smoothing
#'   parameter search starts (one positive value per smoothing parameter, as `fit$sp`
#'   holds them; `scale` is used where the scale is searched with them, for
#'   generalized families with an unknown scale). It changes where the search
#'   starts, never its optimum; such a fit reports `warm_start$source = "in.out"`. It
#'   comes before a seed from the warm-start store (a fit of the same model to other
#'   data), after a stored result or checkpoint of this very fit.
#' @param G A model set up by mgcv's `gam(fit = FALSE)` (class `gam.prefit`) or
#'   warmgam's `gam_fit(fit = FALSE)` (class `warmgam_setup`), as mgcv's `G`: the
#'   model is fitted from the set-up's formula, data, family, weights, offset and
#'   knots, with this call's `method`, `sp`, `gamma`, `scale`, `control`,
#'   `optimizer`, `in.out` and `fit`; `formula`, `data`, `family`, `weights`,
#'   `offset`, `knots`, `subset`, `na.action` and `paraPen` may not be given with it.
#'   warmgam refits from the set-up's formula rather than its matrices, so an mgcv
#'   set-up whose model matrix or penalties were changed after `gam(fit = FALSE)` is
#'   refused (the set-up is rebuilt and compared).
#' @returns An object of class `warmgam`: a list with `coefficients`,
#'   `fitted.values` (on the response scale), `linear.predictors`, `residuals`, `sp`
#'   (named), `scale` (for an estimated scale, mgcv's estimate from the Pearson
#'   statistic), `reml.scale` (the scale REML/ML chose with the smoothing parameters;
#'   1 when known), `scale.estimated`, `edf`
#'   (per coefficient), `criterion` (the minimized criterion, on the scale of mgcv's
#'   `gcv.ubre`), `method`, `converged` (`FALSE`, with a warning, when the search
#'   stopped at the iteration limit or an inner fit did not converge),
#'   `outer_iterations`, `Vp` (Bayesian
#'   covariance), `Ve` (frequentist covariance), `Vc` and `edf2` (the covariance and
#'   edf corrected for smoothing parameter uncertainty; REML/ML only, else `NULL`),
#'   `call`, `formula`, `terms`, `family`,
#'   the smooth terms' bases and what `predict()` needs, and `warm_start`: how the fit
#'   used the store (`source`: `"cold"`, `"exact"`, `"resumed"`, `"seeded"` or `"in.out"`;
#'   `outer_iterations` done in this call; `key`, the hex fingerprint of the call;
#'   for a seeded fit `seed_outer_iterations`, the outer iterations the seed's own
#'   fit took, which this fit's count is to be compared with: what the seed saved;
#'   for a family whose parameters are searched (`nb()`, `tw()`, `betar()`, ...),
#'   `family_trials`, the values of them this call tried (each a search of the
#'   smoothing parameters), and for a seeded fit `seed_family_trials`, the seed's
#'   own count).
#'   `prior.weights` and `offset` hold the weights and offset as given (`NULL` when
#'   none was); `na.action`, the rows dropped for missing values (as `lm()`'s);
#'   `optimizer`, as given.
#' @details
#' **Coming from mgcv.** The arguments mean what they mean for mgcv's `gam()`, with
#' one difference of default: warmgam chooses smoothing parameters by REML unless
#' told otherwise, where mgcv's `gam()` uses GCV.Cp (mgcv's own documentation
#' recommends REML). A model fitted by `mgcv::gam()` without `method` is refitted by
#' `gam_fit(..., method = "GCV.Cp")`; `print()` of a fit says when REML was the
#' default.
#'
#' Several `offset()` terms in the formula are added together, with `offset` (as
#' `lm()` and `glm()` do; mgcv 1.8-41 keeps the first `offset()` term only, with a
#' warning from its formula parser); `predict()` adds the formula's offsets but not
#' `offset`, as mgcv's. A response that is a one-column matrix (`y <- X %*% b`) is
#' fitted as the vector it holds. R's power links (`quasi(link = power(1/3))`,
#' `Tweedie(1.25, link = power(0.1))`, `Gamma(link = power(0.5))`) are fitted with
#' their power in full (R's `power()` names it with 3 digits), as the link they equal
#' where there is one (`power(1)` identity, `power(0.5)` sqrt; R's `power()` gives
#' the log link for powers <= 0, and link objects named `"mu^-1"` and `"mu^-2"` are
#' the inverse and 1/mu^2 links), for every family but the binomial.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + am, data = mtcars)
#' summary(fit)
#' # A logistic additive model.
#' bin <- gam_fit(am ~ s(hp, k = 5), data = mtcars, family = binomial())
#' predict(bin, data.frame(hp = c(100, 200)), type = "response")
#' predict(fit, newdata = data.frame(hp = 150, wt = 3, am = 1), se.fit = TRUE)
#' # The same call again is answered by the warm-start store.
#' gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + am, data = mtcars)$warm_start$source
#' \dontshow{options(op)}
#' @export
gam_fit <- function(formula, data, family = gaussian(), method = "REML", weights = NULL,
                    offset = NULL, sp = NULL, knots = NULL, gamma = 1, select = FALSE,
                    cache = TRUE, threads = NULL, control = gam_control(), subset = NULL,
                    na.action, drop.unused.levels = TRUE, optimizer = c("outer", "newton"),
                    scale = 0, fit = TRUE, in.out = NULL, paraPen = NULL, G = NULL, min.sp = NULL) {
  if (!is.null(G)) {
    given <- intersect(names(match.call())[-1],
                       c("formula", "data", "family", "weights", "offset", "knots", "subset", "na.action", "paraPen"))
    args <- setup_arguments(G, given)
    return(gam_fit(
      args$formula, data = args$data, family = args$family, method = method, weights = args$weights,
      offset = args$offset, sp = sp %||% args$sp, knots = args$knots, gamma = gamma, select = select, cache = cache,
      threads = threads, control = control, subset = args$subset, optimizer = optimizer, scale = scale, fit = fit,
      in.out = in.out, min.sp = min.sp %||% args$min_sp
    ))
  }
  call <- match.call()
  general <- general_family(family)
  if (!is.null(general) || (is.list(formula) && !inherits(formula, "formula"))) {
    if (is.null(general)) {
      abort("`formula` is a list of formulae: that needs a general family, such as mgcv's `gaulss()`.", "formula")
    }
    if (missing(data)) data <- NULL
    # What general fits do not take yet, by value: a `G` from mgcv passes unit
    # weights, zero offsets and the defaults explicitly.
    w_raw <- eval(substitute(weights), data, parent.frame())
    o_raw <- eval(substitute(offset), data, parent.frame())
    # (A Cox model's weights are its event indicator.)
    cox <- is_cox_family(general)
    refused <- c(
      weights = !cox && !is.null(w_raw) && !all(w_raw == 1, na.rm = TRUE),
      offset = !is.null(o_raw) && !all(o_raw == 0, na.rm = TRUE),
      gamma = !identical(gamma, 1) && !identical(gamma, 1L),
      scale = !identical(scale, 0) && !identical(scale, 0L),
      in.out = !is.null(in.out), paraPen = !is.null(paraPen), min.sp = !is.null(min.sp)
    )
    refused <- names(refused)[refused]
    check_cache(cache)
    mapped <- resolve_control(control)
    # Any of mgcv's optimizers is taken, as for other families: the same optimum.
    settings <- resolve_optimizer(optimizer, method)
    return(gam_fit_general(
      formula, data, general, settings$method, sp, knots, select, mapped$control,
      resolve_threads(threads %||% mapped$threads),
      subset = eval(substitute(subset), data, parent.frame()),
      na_action = resolve_na_action(if (missing(na.action)) NULL else na.action),
      drop_unused_levels = drop.unused.levels, fit = fit, call = call, refused = refused,
      optimizer = settings$optimizer, cache = cache, status = if (cox) w_raw
    ))
  }
  family <- resolve_family(family)
  check_choice(method, "method", c("REML", "ML", "GCV.Cp", "GACV.Cp"))
  settings <- resolve_optimizer(optimizer, method)
  method <- settings$method
  if (prediction_error(method) && (estimates_parameter(family) || isTRUE(family[["reml_only"]]))) {
    # mgcv's gam() fits every extended family (estimated parameters or not) by REML
    # whatever `method` says (GCV/UBRE is not a likelihood in a family's parameter:
    # UBRE keeps falling as the negative binomial theta does). The same here, said.
    warn(sprintf(paste(
      "`method = \"%s\"` is not used: `%s` is fitted by REML, as mgcv's gam() fits its extended",
      "families (give a fixed parameter to warmgam's `nb()` or `tw()`, or use mgcv's `negbin()` or `Tweedie()`,",
      "for GCV/UBRE)."
    ), method, family$family))
    method <- "REML"
  }
  scale_setting <- resolve_scale(scale, family, method)
  scale_estimated <- scale_setting$estimated
  na_action <- resolve_na_action(if (missing(na.action)) NULL else na.action)
  check_flag(drop.unused.levels, "drop.unused.levels")
  check_number(gamma, "gamma", lower = .Machine$double.eps)
  check_cache(cache)
  check_flag(select, "select")
  check_flag(fit, "fit")
  in_out <- check_in_out(in.out)
  if (!is.null(min.sp) && (!is.numeric(min.sp) || !length(min.sp) || !all(is.finite(min.sp)) || any(min.sp < 0))) {
    abort("`min.sp` must be a vector of finite non-negative numbers, one per smoothing parameter.", "argument")
  }
  mapped <- resolve_control(control)
  control <- mapped$control
  threads <- resolve_threads(threads %||% mapped$threads)
  if (missing(formula) || !inherits(formula, "formula")) {
    abort("`formula` must be a formula such as `y ~ s(x)`.", "formula")
  }
  env <- environment(formula) %||% parent.frame()
  if (missing(data)) data <- NULL
  if (!is.null(data) && !is.list(data)) {
    abort("`data` must be a data frame or a list.", "argument")
  }
  w_raw <- eval(substitute(weights), data, parent.frame())
  o_raw <- eval(substitute(offset), data, parent.frame())
  s_raw <- tryCatch(
    eval(substitute(subset), data, parent.frame()),
    error = function(e) abort(sprintf("`subset` could not be evaluated: %s", conditionMessage(e)), "argument")
  )
  frame <- model_frame(formula, data, env, w_raw, o_raw, family, subset = s_raw, na_action = na_action,
                       drop_unused_levels = drop.unused.levels)
  para_pen <- parametric_penalties(paraPen, frame)
  # With the store, sampled knots are drawn only when the store has no exact hit.
  spec <- engine_spec(frame, family, method, gamma, sp, knots, select, control, threads, para_pen,
                      defer_knots = fit && isTRUE(cache))
  frame$offset <- spec$offset
  spec$family <- engine_family_id(family, scale_estimated)
  spec$cache <- cache_spec(cache, control, frame, formula, family)
  # A binomial or Poisson fit with an estimated scale is another model for the store.
  if (!is.null(spec$cache) && scale_estimated && scale_known(family)) {
    spec$cache$family <- paste(spec$cache$family, "(scale estimated)")
  }
  spec$known_scale <- scale_setting$known
  spec$min_sp <- if (!is.null(min.sp)) as.double(min.sp)
  spec$in_out_sp <- in_out$sp
  spec$in_out_scale <- in_out$scale
  if (!fit) return(new_warmgam_setup(spec, frame, formula, family, method, call))
  if (is.null(spec$cache)) spec <- draw_pending_knots(spec)
  raw <- fit_gam_impl(spec)
  if (is_engine_error(raw, "knots_pending")) {
    spec <- draw_pending_knots(spec)
    raw <- fit_gam_impl(spec)
  }
  aliased <- NULL
  if (is_engine_error(raw, "identifiability")) {
    setup <- new_warmgam_setup(spec, frame, formula, family, method, call)
    aliased <- aliased_columns(setup)
    shared <- if (is.null(aliased)) aliased_smooth_columns(setup)
    if (length(shared)) {
      # Smooth terms sharing unpenalized directions: one column per direction left
      # out of a later term, which leaves the fit as mgcv's rank-deficient solve
      # gives it; the criterion still counts the direction as unpenalized (M_p).
      for (t in names(shared)) {
        i <- as.integer(t)
        side <- spec$smooths[[i]]$side %||% list(lower = numeric(), constant = FALSE)
        side$delete <- as.double(shared[[t]])
        spec$smooths[[i]]["side"] <- list(side)
      }
      spec$aliased <- as.double((spec$aliased %||% 0) + length(unlist(shared)))
      raw <- fit_gam_impl(spec)
      labels <- vapply(setup$smooth[as.integer(names(shared))], `[[`, "", "label")
      message(sprintf(paste(
        "Smooth terms share %d unpenalized direction(s), which the data cannot separate: one column of %s",
        "is left out for each, as mgcv's rank-deficient fit fixes them (the fit is the same)."
      ), length(unlist(shared)), paste0("`", labels, "`", collapse = ", ")))
    } else if (!is.null(aliased) && !length(aliased)) {
      # Nearly dependent, not aliased at mgcv's tolerance: fitted as mgcv fits it.
      aliased <- NULL
      raw <- fit_gam_impl(c(spec, check_aliasing = FALSE))
    } else if (!is.null(aliased) && !is.null(spec$para_pen)) {
      # Dropping columns would move the parametric penalties' columns: the engine's
      # error stands.
      aliased <- NULL
    } else if (!is.null(aliased)) {
      # Fitted without them, then put back at zero, as mgcv fixes them.
      reduced <- spec
      reduced$xp <- spec$xp[, -aliased, drop = FALSE]
      reduced$aliased <- as.double(length(aliased))
      if (!is.null(reduced$cache)) reduced$cache$names <- reduced$cache$names[-aliased]
      raw <- fit_gam_impl(reduced)
      if (!is_engine_error(raw)) raw <- restore_aliased(raw, aliased, ncol(frame$xp))
      message(sprintf(
        "Aliased parametric coefficients, fixed at zero as mgcv does (NA in summary()): %s.",
        paste0("`", colnames(frame$xp)[aliased], "`", collapse = ", ")
      ))
    }
  }
  res <- engine_result(raw)
  warn_store_outcome(res$warm_start)
  if (length(in_out$sp) && length(in_out$sp) != length(res$sp)) {
    abort(sprintf("`in.out$sp` has %d values; the model has %d smoothing parameters.",
                  length(in_out$sp), length(res$sp)), "argument")
  }
  fit <- new_warmgam(res, frame, spec, call, formula, family, method, gamma, scale_estimated)
  fit$optimizer <- settings$optimizer
  fit$aliased <- if (!is.null(aliased)) colnames(frame$xp)[aliased]
  if (isTRUE(mapped$keep_data) && !is.null(data)) fit$data <- data
  warn_fit_problems(fit, res)
  fit
}

#' Optimizer settings for gam_fit()
#'
#' @param outer_tol Convergence tolerance of the outer Newton iteration on the log
#'   smoothing parameters: converged when the gradient and the last change of the
#'   criterion are below `outer_tol * (1 + |criterion|)`.
#' @param outer_max_iter Maximum number of outer iterations.
#' @param max_step Largest Newton step in any log smoothing parameter.
#' @param verify_warm Re-check an exact hit of the warm-start store before returning
#'   it: the stored smoothing parameters must lie where a cold search can go, one
#'   inner fit there must reproduce the stored criterion and coefficients with a
#'   converged gradient, and no smoothing parameter may sit on a plateau of the
#'   criterion above the cold start's value; else the hit is discarded and the fit
#'   runs cold (see [warmgam_cache]). Hits from a store that others can write to are
#'   always verified.
#' @returns A list of class `warmgam_control`.
#' @examples
#' gam_control(outer_tol = 1e-10)
#' @export
gam_control <- function(outer_tol = 1e-8, outer_max_iter = 200, max_step = 5,
                        verify_warm = FALSE) {
  check_number(outer_tol, "outer_tol", lower = 0)
  check_number(outer_max_iter, "outer_max_iter", lower = 1)
  check_number(max_step, "max_step", lower = .Machine$double.eps)
  check_flag(verify_warm, "verify_warm")
  structure(
    list(outer_tol = as.double(outer_tol), outer_max_iter = as.double(outer_max_iter),
         max_step = as.double(max_step), verify_warm = verify_warm),
    class = "warmgam_control"
  )
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# The engine returns `list(error = message, kind = )` instead of raising, so that
# its errors reach the user as classed R conditions: `warmgam_error_<kind>` (what
# failed: "range", "memory", "basis", "identifiability", ...) and
# `warmgam_error_<what>` (where: "engine", "newdata", ...). When R itself stopped
# the engine (Ctrl-C, a `setTimeLimit()` limit), `condition` is what R signalled: a
# time limit's error is raised as it is; an interrupt is signalled (so
# `tryCatch(interrupt = )` sees it), then raised as a classed error.
engine_result <- function(res, what = "engine") {
  if (!is.list(res) || !identical(names(res)[[1]], "error") ||
        !all(names(res) %in% c("error", "kind", "condition"))) {
    return(res)
  }
  condition <- res$condition
  if (inherits(condition, "interrupt")) {
    signalCondition(condition)
    abort(res$error, "interrupted")
  }
  if (inherits(condition, "condition")) stop(condition)
  abort(res$error, unique(c(res$kind, what)))
}

# mgcv's `paraPen`: for named parametric terms, penalty matrices on their columns
# (one row and column per column), with optional `sp` (one per matrix, negative to
# estimate) and `rank` (checked). As the engine takes them: list(penalties =
# list(list(start = <0-based column>, S = , sp = )), names = <their smoothing
# parameters' names, as mgcv's>).
parametric_penalties <- function(paraPen, frame) {
  if (is.null(paraPen)) return(NULL)
  if (!is.list(paraPen) || is.null(names(paraPen)) || any(!nzchar(names(paraPen)))) {
    abort("`paraPen` must be a named list: for each penalized parametric term, a list of penalty matrices.",
          "argument")
  }
  labels <- attr(frame$pterms, "term.labels")
  assign <- attr(frame$xp, "assign")
  penalties <- list()
  sp_labels <- character()
  for (term in names(paraPen)) {
    index <- match(term, labels)
    if (is.na(index)) {
      abort(sprintf("`paraPen` names `%s`, which is not a parametric term of the formula (%s).",
                    term, paste0("`", labels, "`", collapse = ", ")), "argument")
    }
    cols <- which(assign == index)
    entry <- paraPen[[term]]
    if (!is.list(entry)) abort(sprintf("`paraPen$%s` must be a list of penalty matrices.", term), "argument")
    extra <- if (is.null(names(entry))) rep(FALSE, length(entry)) else names(entry) %in% c("L", "rank", "sp")
    unknown <- setdiff(names(entry)[nzchar(names(entry) %||% "") & !extra], "")
    if (length(unknown)) {
      abort(sprintf("`paraPen$%s` has `%s`; it takes penalty matrices, `sp` and `rank`.", term, unknown[[1]]),
            "argument")
    }
    if (!is.null(entry$L)) {
      abort(sprintf("`paraPen$%s$L` (smoothing parameters as linear functions of others) is not supported yet.",
                    term), "argument")
    }
    mats <- entry[!extra]
    for (i in seq_along(mats)) {
      S <- mats[[i]]
      if (!is.matrix(S) || !is.numeric(S) || any(dim(S) != length(cols)) || any(!is.finite(S)) ||
            max(abs(S - t(S))) > 1e-8 * max(abs(S), 1)) {
        abort(sprintf("Penalty %d of `paraPen$%s` must be a symmetric %d x %d matrix (one row per column of `%s`).",
                      i, term, length(cols), length(cols), term), "argument")
      }
      if (!is.null(entry$rank) && length(entry$rank) >= i && entry$rank[[i]] != qr(S)$rank) {
        abort(sprintf("`paraPen$%s$rank[%d]` is %s but the penalty has rank %d.", term, i,
                      format(entry$rank[[i]]), qr(S)$rank), "argument")
      }
    }
    sp <- entry$sp %||% rep(-1, length(mats))
    if (!is.numeric(sp) || length(sp) != length(mats)) {
      abort(sprintf("`paraPen$%s$sp` must have one value per penalty (%d).", term, length(mats)), "argument")
    }
    for (i in seq_along(mats)) {
      penalties[[length(penalties) + 1L]] <- list(start = as.double(min(cols) - 1L), S = unname(1 * mats[[i]]),
                                                 sp = if (sp[[i]] < 0) -1 else as.double(sp[[i]]))
    }
    sp_labels <- c(sp_labels, if (length(mats) == 1L) term else paste0(term, seq_along(mats)))
  }
  list(penalties = penalties, names = sp_labels)
}

# mgcv's `in.out`: `list(sp = , scale = )`, the start of the smoothing parameter
# search (positive smoothing parameters, one per smoothing parameter; the engine
# checks their number) and, where the scale is searched with them, of the scale.
check_in_out <- function(in.out) {
  if (is.null(in.out)) return(list())
  if (!is.list(in.out) || is.null(in.out$sp) || !all(names(in.out) %in% c("sp", "scale"))) {
    abort("`in.out` must be a list with `sp` (and optionally `scale`), as mgcv's.", "argument")
  }
  sp <- in.out$sp
  if (!is.numeric(sp) || !length(sp) || anyNA(sp) || any(!is.finite(sp)) || any(sp <= 0)) {
    abort("`in.out$sp` must be positive smoothing parameters.", "argument")
  }
  scale <- in.out$scale
  if (!is.null(scale)) check_number(scale, "in.out$scale", lower = .Machine$double.xmin)
  list(sp = as.double(sp), scale = if (!is.null(scale)) as.double(scale))
}

# Whether `res` is the engine's `list(error = , kind = )` (of `kind`, when given).
is_engine_error <- function(res, kind = NULL) {
  is.list(res) && length(res) > 0L && identical(names(res)[[1]], "error") &&
    (is.null(kind) || identical(res$kind, kind))
}

check_cache <- function(cache) {
  ok <- (is.logical(cache) && length(cache) == 1L && !is.na(cache)) || identical(cache, "refresh")
  if (!ok) abort('`cache` must be TRUE, FALSE or "refresh".', "argument")
  invisible(cache)
}

resolve_threads <- function(threads) {
  threads <- threads %||% getOption("warmgam.threads", 2L)
  check_number(threads, "threads", lower = 1)
  as.double(floor(threads))
}

# The model frame: response, parametric variables, smooth covariates, weights and
# offset, with incomplete rows dropped; checked for the problems a user can make.
model_frame <- function(formula, data, env, weights, offset, family = stats::gaussian(), subset = NULL,
                        na_action = "na.omit", drop_unused_levels = TRUE) {
  parts <- interpret_formula(formula, env)
  ff <- frame_formula(parts, env)
  vars <- all.vars(ff)
  found <- vars %in% names(data) | vapply(vars, exists, logical(1), envir = env)
  if (!all(found)) {
    abort(sprintf(
      "Variable `%s` used in `formula` is not in `data` (or the formula's environment).",
      vars[!found][[1]]
    ), "missing_variable")
  }
  n_data <- if (is.null(data)) NULL else NROW(data[[vars[[1]]]])
  if (!is.null(weights)) {
    if (!is.numeric(weights) || any(!is.finite(weights[!is.na(weights)])) || any(weights < 0, na.rm = TRUE)) {
      abort("`weights` must be finite and non-negative.", "weights")
    }
  }
  if (!is.null(offset) && !is.numeric(offset)) {
    abort("`offset` must be numeric.", "argument")
  }
  check_subset(subset)
  mf <- tryCatch(
    do.call(stats::model.frame, list(
      ff, data = if (is.null(data)) env else data, weights = weights, offset = offset, subset = subset,
      na.action = stats::na.pass, drop.unused.levels = drop_unused_levels
    )),
    error = function(e) abort(sprintf("Could not build the model frame: %s", conditionMessage(e)), "data")
  )
  if (nrow(mf) == 0L && !is.null(subset)) abort("`subset` keeps no rows.", "argument")
  if (nrow(mf) == 0L) {
    abort(if (is.null(data)) "The model's variables have no values (length 0)." else "`data` has no rows.", "data")
  }
  # A one-column matrix response (`y <- X %*% b`) is the vector it holds, as in mgcv.
  if (is.matrix(mf[[1L]]) && ncol(mf[[1L]]) == 1L && (is.numeric(mf[[1L]]) || is.logical(mf[[1L]]))) {
    mf[[1L]] <- as.vector(mf[[1L]])
  }
  full <- mf
  mf <- drop_incomplete(mf, na_action, drop_unused_levels)
  if (nrow(mf) == 0L) abort_no_complete_rows(full)
  if (!drop_unused_levels) check_empty_levels(mf, parts)
  w_used <- stats::model.weights(mf)
  if (!is.null(w_used) && all(w_used == 0)) {
    abort(sprintf(
      "All `weights` are zero%s, so there is nothing to fit; give some rows a positive weight.",
      if (!is.null(attr(mf, "na.action"))) " (in the rows without missing values)" else ""
    ), "weights")
  }
  # The frame's first column is the response; `model.response()` would add row names
  # that cost more than the rest of the frame to strip again.
  response <- family_response(
    mf[[1L]], if (!is.null(stats::model.weights(mf))) as.double(stats::model.weights(mf)),
    family, deparse_one(parts$response)
  )
  # Integers are always finite (and NA has been dealt with); double columns are
  # checked in one pass each, without temporaries.
  doubles <- vapply(mf, function(col) is.double(col) && !is.matrix(col), logical(1))
  bad <- first_non_finite_impl(unname(as.list(mf)[doubles]))
  if (bad > 0) {
    abort(sprintf(
      "Variable `%s` has non-finite values (Inf or NaN); remove or fix them.", names(mf)[doubles][[bad]]
    ), "non_finite")
  }
  pf <- parametric_formula(parts, env)
  pterms <- stats::terms(pf)
  intercept_only <- length(attr(pterms, "term.labels")) == 0L && attr(pterms, "intercept") == 1L
  xp <- if (intercept_only) {
    # The engine makes the column of ones itself; only its name and `assign` are kept.
    structure(matrix(1, 0L, 1L, dimnames = list(NULL, "(Intercept)")), assign = 0L)
  } else {
    stats::model.matrix(pterms, mf)
  }
  # Row names would be a string per row: nothing downstream needs them (`dimnames<-`
  # changes the matrix in place, where `rownames<-` would copy it).
  dimnames(xp) <- list(NULL, colnames(xp))
  offset_cols <- vapply(parts$offsets, deparse_one, character(1))
  formula_offset <- if (length(offset_cols)) rowSums(as.matrix(as.data.frame(mf[offset_cols]))) else 0
  list(
    parts = parts, mf = mf, pterms = pterms, xp = xp, intercept_only = intercept_only,
    y = response$y,
    censor = response$censor,
    # NULL when not given: the engine uses ones and zeros of its own, so that no
    # vector of the data's length is allocated to say nothing.
    weights = response$weights,
    offset = if (!identical(formula_offset, 0) || !is.null(mf[["(offset)"]])) {
      as.double(rep_len(formula_offset, nrow(mf)) + (mf[["(offset)"]] %||% 0))
    },
    xlevels = stats::.getXlevels(pterms, mf),
    contrasts = attr(xp, "contrasts")
  )
}

# With `drop.unused.levels = FALSE`, a factor level without rows gives mgcv an
# all-zero column (a parametric factor: aliased, fixed at zero, as warmgam does too)
# or a smooth for no data (a factor `by`, which mgcv's fit fails on, and so is an
# error here); a random effect's (`bs = "re"`) empty level is penalized and is
# fitted as mgcv fits it.
check_empty_levels <- function(mf, parts) {
  by_vars <- unlist(lapply(parts$smooths, `[[`, "by"))
  for (v in intersect(names(mf), by_vars)) {
    x <- mf[[v]]
    if (!is.factor(x)) next
    empty <- setdiff(levels(x), as.character(unique(x)))
    if (length(empty)) {
      abort(sprintf(paste(
        "`drop.unused.levels = FALSE` keeps level \"%s\" of `%s`, which no row of the fit has: the",
        "smooth for that level has no data (mgcv's fit fails on it too). Use `drop.unused.levels = TRUE`",
        "(the default)."
      ), empty[[1]], v), "argument")
    }
  }
  invisible()
}

# When no row of the model frame `full` is complete: an error naming the variables
# missing in every row, else those missing in some, before the engine meets an empty
# frame.
abort_no_complete_rows <- function(full) {
  vars <- names(full)
  pretty <- ifelse(vars == "(weights)", "weights", ifelse(vars == "(offset)", "offset", vars))
  missing_all <- vapply(full, function(v) all(is.na(v)), logical(1))
  missing_some <- vapply(full, anyNA, logical(1))
  abort(if (any(missing_all)) {
    sprintf("No rows left after removing rows with missing values: `%s` is missing (NA) in every row.",
            pretty[missing_all][[1]])
  } else {
    sprintf("No rows left after removing rows with missing values in `%s`: no row has all of them.",
            paste(pretty[missing_some], collapse = "`, `"))
  }, "data")
}

# `na.omit` for a model frame, without its cost when nothing is missing (it always
# copies the frame, and the copy's explicit row names make later steps slow): rows
# with a missing value are dropped, the "omit" record is kept as `na.omit` keeps it,
# and factor levels no longer present are dropped as `model.frame` would.
drop_incomplete <- function(mf, na_action = "na.omit", drop_unused_levels = TRUE) {
  if (!anyNA(mf, recursive = TRUE)) {
    return(mf)
  }
  complete <- stats::complete.cases(mf)
  if (na_action == "na.fail") {
    vars <- names(mf)[vapply(mf, anyNA, logical(1))]
    pretty <- ifelse(vars == "(weights)", "weights", ifelse(vars == "(offset)", "offset", vars))
    abort(sprintf(
      paste("`%s` %s missing values and `na.action` is na.fail (%d incomplete rows); remove them or use",
            "na.omit or na.exclude."),
      paste(pretty, collapse = "`, `"), if (length(pretty) > 1L) "have" else "has", sum(!complete)
    ), "missing_values")
  }
  omit <- which(!complete)
  names(omit) <- attr(mf, "row.names")[omit]
  class(omit) <- if (na_action == "na.exclude") "exclude" else "omit"
  terms <- attr(mf, "terms")
  mf <- mf[complete, , drop = FALSE]
  if (drop_unused_levels) {
    for (v in names(mf)) {
      if (is.factor(mf[[v]])) mf[[v]] <- mf[[v]][, drop = TRUE]
    }
  }
  attr(mf, "terms") <- terms
  attr(mf, "na.action") <- omit
  mf
}

# One smooth term as the engine takes it and the fit keeps it. `engine_fields` go to
# the engine (read by name in src/rust/src/lib.rs, `smooth_spec()`): the label, the
# basis name (a class, "te"/"ti" or "fs"), `k` (a random effect's or factor
# smooth's number of levels), the covariates as double vectors, the `by` values
# (NULL for none), whether to centre, given knots, `m` (NA for the class default), an
# `id`, tensor or base margins, and the covariates pooled over an `id`'s terms.
# `info_fields` stay in R for predict(), plot() and summary(): the covariate names,
# the `by` variable's name and level, and a factor's levels.
engine_smooth <- function(label, bs, k, vars, term, by = NULL, by_name = NULL, by_level = NULL, centre = TRUE,
                          knots = NULL, m = NULL, id = NULL, margins = NULL, pooled = NULL, re_levels = NULL,
                          fs_factor = NULL, fixed = FALSE, point = NULL, sp = NULL) {
  # A Gaussian process's `m` holds real settings, not orders: the engine takes them
  # as the class's parameters.
  real_m <- bs %in% c("gp", "ds", "sos")
  list(label = label, bs = bs, k = basis_dimension(k), vars = vars, by = by, centre = centre,
       knots = knot_values(knots), knots_sampled = knots_sampled(knots),
       knots_sample = if (knots_sampled(knots)) knots$sample,
       knots_pending = knots_sampled(knots) && !is.null(knots$draw),
       knots_draw = if (knots_sampled(knots)) knots$draw, m = if (!real_m) penalty_orders(m),
       parameters = if (real_m && !all(is.na(m))) as.double(m), id = id, margins = margins, pooled = pooled,
       side = NULL, fixed = fixed, point = point, sp = sp, given_x = NULL, given_s = NULL, term = term,
       by_name = by_name, by_level = by_level, re_levels = re_levels, fs_factor = fs_factor, mgcv = NULL,
       mgcv_map = NULL)
}
# A margin of a tensor product, or a factor smooth's base, as the engine takes it
# (`margin_specs()` in lib.rs); `m` is NA for the class default.
engine_margin <- function(bs, k, dim, m, knots, penalty = NULL) {
  # (A Gaussian process's `m` holds real settings: the class's parameters.)
  real_m <- identical(bs, "gp")
  list(bs = bs, k = basis_dimension(k), dim = as.double(dim), m = if (!real_m) penalty_orders(m),
       knots = knot_values(knots), knots_sampled = knots_sampled(knots), penalty = penalty,
       parameters = if (real_m && !all(is.na(m))) as.double(m))
}

# `m` as the engine takes it: NULL for the class default (NA).
penalty_orders <- function(m) if (all(is.na(m))) NULL else as.double(m)

# `k` as the engine takes it: NULL for the class default (mgcv's negative `k`).
basis_dimension <- function(k) if (is.null(k) || is.na(k) || k < 0) NULL else as.double(k)

engine_fields <- c("label", "bs", "k", "vars", "by", "centre", "knots", "knots_sampled", "knots_sample",
                   "knots_pending", "m", "parameters", "penalty",
                   "id", "margins", "pooled",
                   "side", "fixed", "point", "sp", "given_x", "given_s")
info_fields <- c("label", "term", "by_name", "by_level", "re_levels", "fs_factor", "fs_levels", "mgcv", "mgcv_map",
                 "mrf_polys", "mrf_levels", "soap_parameters")

# Expands the smooth specs (a factor `by` gives one term per level) into what the
# engine takes, reading covariates from `mf`.
smooth_terms <- function(smooths, mf, knots = NULL, defer_knots = FALSE) {
  out <- list()
  for (sm in smooths) {
    # Matrix covariates (mgcv's linear functional terms, `?linear.functional.terms`)
    # and a P-spline's knot range are built by mgcv's constructor.
    matrix_data <- any(vapply(c(sm$term, sm$by), function(v) is.matrix(mf[[v]]), logical(1)))
    # (mgcv's B-spline constructor also reads four knots as the ends of the data
    # and of the outer knots.)
    n_knots <- length(knots[[sm$term[[1]]]])
    ps_range <- (identical(sm$bs, "ps") && n_knots == 2L) || (identical(sm$bs, "bs") && n_knots %in% c(2L, 4L))
    # A "sz" term of factors alone is mgcv's random effect of them (its constructor
    # hands it to the "re" class); without a factor (mgcv's base smooth) or with a
    # `by` it is mgcv's.
    n_factors <- if (identical(sm$bs, "sz")) {
      sum(vapply(sm$term, function(v) is.factor(mf[[v]]) || is.character(mf[[v]]), logical(1)))
    }
    if (identical(sm$bs, "sz") && n_factors == length(sm$term) && is.null(sm$by) && is.null(sm$id)) {
      out[[length(out) + 1L]] <- random_effect_term(sm, mf)
      next
    }
    sz_other <- identical(sm$bs, "sz") && (n_factors == 0L || n_factors == length(sm$term))
    if (sm$bs != "mgcv" && !is.null(sm$call) && (matrix_data || ps_range || sz_other)) {
      sm <- mgcv_term(sm$call, sm$call_env)
    }
    if (sm$bs == "mgcv") {
      out <- c(out, mgcv_built_terms(sm, mf, knots))
      next
    }
    if (sm$bs == "re") {
      out[[length(out) + 1L]] <- random_effect_term(sm, mf)
      next
    }
    if (sm$bs %in% c("fs", "sz")) {
      out <- c(out, by_terms(factor_smooth_term(sm, mf, knots), sm, mf))
      next
    }
    mrf <- if (sm$bs == "mrf") mrf_regions(sm, mf, knots)
    # A tensor product's Markov random field margins: their regions, by covariate.
    margin_mrf <- margin_regions(sm, mf, knots)
    vars <- if (!is.null(mrf)) list(mrf$codes) else lapply(sm$term, function(v) {
      if (!is.null(margin_mrf[[v]])) return(margin_mrf[[v]]$codes)
      x <- mf[[v]]
      if (!is.numeric(x)) {
        abort(sprintf("The covariate `%s` of `%s` must be numeric.", v, sm$label), "covariate")
      }
      as.double(x)
    })
    kn <- if (!is.null(sm$soap)) {
      soap_knots(sm, knots)
    } else if (is.null(sm$margins) && is.null(mrf)) {
      smooth_knots(sm, sm$pooled %||% vars, knots, defer_knots)
    }
    base <- engine_smooth(
      sm$label, sm$bs, sm$k, vars, sm$term, by_name = sm$by, knots = kn, m = sm$m, id = sm$id,
      margins = tensor_margins(sm, sm$pooled %||% vars, knots, margin_mrf), pooled = sm$pooled,
      fixed = isTRUE(sm$fixed), point = sm$point, sp = sm$sp
    )
    if (length(margin_mrf)) base$mrf_levels <- lapply(margin_mrf, `[[`, "levels")
    # A margin without a constraint (a soap film's interior part, zero on the
    # boundary) leaves the tensor product unconstrained, as mgcv's te() does.
    if (any(vapply(sm$margins %||% list(), function(mg) identical(mg$bs, "sw"), logical(1)))) base$centre <- FALSE
    if (!is.null(sm$soap)) {
      # The film's own constraint is mgcv's sum-to-zero; the interior part alone is
      # zero on the boundary and has none, nor has a film with a known part (given
      # boundary values, added to the model's offset as mgcv adds it).
      base$parameters <- soap_parameters(sm$soap)
      base$centre <- sm$bs != "sw" && !soap_known(sm$soap)
      if (soap_known(sm$soap)) {
        base$soap_parameters <- base$parameters
        base$term_offset <- soap_known_part(sm$label, base$parameters, vars[[1]], vars[[2]])
      }
    }
    if (!is.null(mrf)) {
      base$penalty <- mrf$penalty
      base$re_levels <- mrf$levels
      base$mrf_polys <- mrf$polys
    }
    out <- c(out, by_terms(base, sm, mf))
  }
  out
}

# A term as the engine takes it, with its `by` variable: itself without one; with a
# numeric one, multiplied by it; with a factor, one copy per level.
by_terms <- function(base, sm, mf) {
  if (is.null(sm$by)) return(list(base))
  by <- mf[[sm$by]]
  if (is.factor(by)) {
    # As mgcv: one smooth per level, except the first of an ordered factor (its
    # reference level, whose curve is the term's without `by`).
    return(lapply(if (is.ordered(by)) levels(by)[-1] else levels(by), function(lev) {
      one <- base
      one$by <- as.double(by == lev)
      one$by_level <- lev
      one$label <- paste0(sm$label, lev)
      one
    }))
  }
  if (!is.numeric(by)) abort(sprintf("The `by` variable `%s` must be numeric or a factor.", sm$by), "covariate")
  base$by <- as.double(by)
  # A non-constant numeric `by` makes the term identifiable without a constraint
  # (a point constraint applies all the same, as in mgcv); a term without one (a
  # factor smooth) stays so.
  base$centre <- base$centre && (length(unique(by)) == 1L || !is.null(sm$point))
  list(base)
}

# A term built by mgcv's smoothCon() on the data (one per level of a factor `by`),
# as the engine takes it: its model matrix (constraint absorbed) and penalties
# (scaled), with the row numbers as its covariate; mgcv's smooth object (without its
# model matrix) is kept for PredictMat().
mgcv_built_terms <- function(sm, mf, knots) {
  built <- tryCatch(
    mgcv::smoothCon(sm$mgcv, data = mf, knots = knots, absorb.cons = TRUE, scale.penalty = TRUE, n = nrow(mf)),
    error = function(e) abort(sprintf("mgcv could not build `%s`: %s", sm$label, conditionMessage(e)), "basis")
  )
  rows <- as.double(seq_len(nrow(mf)) - 1L)
  lapply(built, function(b) {
    x <- b$X
    b$X <- b$Xp <- NULL
    map <- prediction_map(b, x, mf)
    term <- engine_smooth(
      b$label, "mgcv", NULL, list(rows), b$term, by_name = if (!identical(b$by, "NA")) b$by,
      by_level = b$by.level, centre = FALSE, id = sm$id,
      sp = if (!is.null(b$sp)) ifelse(b$sp < 0, NA_real_, as.double(b$sp))
    )
    # A term with a known part (a soap film with given boundary values) has mgcv put
    # it in the linear predictor as an offset (`attr(X, "offset")`).
    term$term_offset <- if (!is.null(attr(x, "offset"))) as.double(attr(x, "offset"))
    term$given_x <- if (is.double(x)) x else matrix(as.double(x), nrow(x))
    term$given_s <- lapply(b$S, function(s) matrix(as.double(s), nrow(s)))
    b$warmgam_class <- sub("\\.smooth\\.spec$", "", sm$mgcv_class)
    term$mgcv <- b
    term$mgcv_map <- map
    term$side_constrain <- !isFALSE(b$side.constrain)
    term
  })
}

# How a term mgcv built is predicted in the columns it was fitted with. Mostly
# mgcv's PredictMat() gives those columns (NULL: no map). For some classes (t2())
# it gives them under another constraint, the same functions up to a constant:
# PredictMat = 1 shift' + X T on the data, exactly, so that new rows are (PredictMat
# - 1 shift') T^-1 (`list(shift, inverse)`). Anything else is refused.
# The check reads a spread of rows (every row of a small data set): PredictMat() on
# all of a large one costs as much as building the term again.
prediction_map <- function(b, x, mf) {
  n <- nrow(mf)
  rows <- if (n > max(2000, 5 * ncol(x))) unique(round(seq(1, n, length.out = max(2000, 5 * ncol(x))))) else seq_len(n)
  if (length(rows) < n) {
    map <- tryCatch(prediction_map(b, x[rows, , drop = FALSE], mf[rows, , drop = FALSE]), error = function(e) e)
    if (!inherits(map, "error")) return(map)
  }
  p <- mgcv::PredictMat(b, mf, n = n)
  scale <- max(abs(x), 1)
  if (identical(dim(p), dim(x)) && max(abs(p - x)) <= 1e-9 * scale) return(NULL)
  fit <- if (ncol(p) == ncol(x)) qr(cbind(1, x))
  t1 <- if (!is.null(fit) && fit$rank == ncol(x) + 1L) qr.coef(fit, p)
  if (is.null(t1) || max(abs(cbind(1, x) %*% t1 - p)) > 1e-8 * max(abs(p), 1)) {
    abort(sprintf(paste(
      "mgcv's prediction matrix for `%s` does not reproduce the columns it was built with,",
      "so warmgam cannot predict it."
    ), b$label), "basis")
  }
  list(shift = t1[1, ], inverse = solve(t1[-1, , drop = FALSE]))
}

# The columns of a term mgcv built at `data`, as the fit has them: PredictMat()
# mapped to the fitted columns, less any deleted because a smaller nested term spans
# them (fit/nesting.rs).
mgcv_columns <- function(sm, data) {
  x <- mgcv::PredictMat(sm$mgcv, data, n = NROW(data[[sm$term[[1]]]]))
  offset <- attr(x, "offset")
  if (!is.null(sm$mgcv_map)) x <- sweep(x, 2, sm$mgcv_map$shift) %*% sm$mgcv_map$inverse
  if (length(sm$state$deleted)) x <- x[, -(sm$state$deleted + 1), drop = FALSE]
  # The term's known part (attr "offset"), which predictions add as mgcv's do.
  attr(x, "offset") <- offset
  x
}

# A tensor product's margins as the engine takes them, each with its knots (given by
# covariate name, or a thin plate margin's subsample); NULL for other terms.
tensor_margins <- function(sm, vars, knots, mrf = NULL) {
  if (is.null(sm$margins)) return(NULL)
  names(vars) <- sm$term
  lapply(sm$margins, function(mg) {
    if (identical(mg$bs, "mrf")) {
      # (Its knots, if any, are its regions: margin_regions() read them.)
      return(engine_margin(mg$bs, mg$k, mg$dim, mg$m, NULL, penalty = mrf[[mg$term]]$penalty))
    }
    if (!is.null(mg$soap)) {
      margin <- list(term = mg$term, bs = mg$bs, soap = mg$soap, label = sm$label)
      out <- engine_margin(mg$bs, NULL, mg$dim, NA, soap_knots(margin, knots))
      out$parameters <- soap_parameters(mg$soap)
      return(out)
    }
    margin <- list(term = mg$term, dim = mg$dim, bs = mg$bs, k = mg$k, label = sm$label)
    engine_margin(mg$bs, mg$k, mg$dim, mg$m, smooth_knots(margin, unname(vars[mg$term]), knots))
  })
}

# The regions of a tensor product's Markov random field margins at the data, as
# mrf_regions() gives them, named by covariate (an empty list for none).
margin_regions <- function(sm, mf, knots) {
  out <- list()
  for (mg in sm$margins) {
    if (!identical(mg$bs, "mrf")) next
    margin <- list(term = mg$term, label = sm$label, k = mg$k, mrf_xt = mg$mrf_xt)
    out[[mg$term]] <- mrf_regions(margin, mf, knots)
  }
  out
}

# Terms with one `id` share their smoothing parameters and, as in mgcv, one basis:
# each takes the first one's settings (`bs`, `k`, `m`, margins) with its own
# covariates, and when their covariates differ the basis (its knots, constraint and
# penalty scaling) is built from all of their values stacked, each term's columns
# from its own rows.
link_ids <- function(smooths, mf) {
  ids <- unique(unlist(lapply(smooths, `[[`, "id")))
  for (id in ids) {
    members <- which(vapply(smooths, function(sm) identical(sm$id, id), logical(1)))
    base <- smooths[[members[1]]]
    labels <- paste(vapply(smooths[members], `[[`, "", "label"), collapse = ", ")
    for (i in members[-1]) {
      sm <- smooths[[i]]
      if (sm$dim != base$dim) {
        abort(sprintf("Terms with `id = \"%s\"` must have the same number of covariates (%s).", id, labels),
              "argument")
      }
      clone <- base
      clone[c("term", "label", "by", "id")] <- sm[c("term", "label", "by", "id")]
      if (!is.null(base$margins)) {
        last <- cumsum(vapply(base$margins, `[[`, 1, "dim"))
        for (j in seq_along(clone$margins)) {
          clone$margins[[j]]$term <- sm$term[(last[j] - base$margins[[j]]$dim + 1):last[j]]
        }
      }
      smooths[[i]] <- clone
    }
    terms <- lapply(smooths[members], `[[`, "term")
    if (length(unique(terms)) > 1L) {
      if (base$bs %in% c("re", "fs", "sz")) {
        abort(sprintf(
          "Terms with `id = \"%s\"` and `bs = \"%s\"` must have the same covariates (%s).", id, base$bs, labels
        ), "argument")
      }
      pooled <- lapply(seq_len(base$dim), function(j) {
        unlist(lapply(terms, function(t) as.double(mf[[t[j]]])), use.names = FALSE)
      })
      for (i in members) smooths[[i]]$pooled <- pooled
    }
  }
  smooths
}

# The smoothing parameters' names, as mgcv's: each is named after the first term
# that uses it (a shared `id` parameter after its first term), with suffixes 1 and 2
# for a term with two penalties (`select`).
sp_names <- function(smooth, n, parametric = NULL) {
  out <- character(n)
  out[seq_along(parametric)] <- parametric
  for (sm in rev(smooth)) {
    suffix <- if (sm$n_penalties == 1) "" else seq_len(sm$n_penalties)
    # A term mgcv built has mgcv's names for its penalties (t2()'s "rr", "nr", ...).
    labels <- names(sm$mgcv$S)
    if (sm$n_penalties > 1 && length(labels) == sm$n_penalties && all(nzchar(labels))) suffix <- labels
    out[sm$sp_index] <- paste0(sm$label, suffix)
  }
  out
}

# A random effect `s(g, bs = "re")`: one coefficient per level of the factor (of the
# interaction of several factors), times the product of any numeric covariates
# (random slopes), as mgcv's `~ g:x - 1` columns. The engine takes the level codes.
random_effect_term <- function(sm, mf) {
  cols <- lapply(sm$term, function(v) mf[[v]])
  parts <- random_effect_parts(cols)
  is_factor <- parts$is_factor
  if (!any(is_factor)) {
    abort(sprintf("`%s` with `bs = \"re\"` needs a factor (the grouping variable); `%s` is numeric.",
                  sm$label, paste(sm$term, collapse = "`, `")), "covariate")
  }
  if (!is.null(sm$by)) abort(sprintf("`by` is not supported with `bs = \"re\"` in `%s`.", sm$label), "basis")
  if (!all(vapply(cols[!is_factor], is.numeric, logical(1)))) {
    abort(sprintf("The covariates of `%s` must be factors or numeric.", sm$label), "covariate")
  }
  groups <- interaction(lapply(cols[is_factor], as.factor), drop = FALSE)
  vars <- c(list(as.double(as.integer(groups))), parts$slope)
  engine_smooth(sm$label, "re", nlevels(groups), vars, sm$term, centre = FALSE, re_levels = levels(groups),
                sp = sm$sp)
}

# A factor smooth interaction `s(x, g, bs = "fs")`: a base smooth of the numeric
# covariates for each level of the one factor. The engine takes the numeric
# covariates then the level codes, and the base smooth as a margin.
factor_smooth_term <- function(sm, mf, knots) {
  cols <- lapply(sm$term, function(v) mf[[v]])
  is_factor <- vapply(cols, function(v) is.factor(v) || is.character(v), logical(1))
  if ((sm$bs == "fs" && sum(is_factor) != 1L) || !any(is_factor) || all(is_factor)) {
    abort(sprintf(
      "`%s` with `bs = \"%s\"` needs %s and at least one numeric covariate.", sm$label, sm$bs,
      if (sm$bs == "fs") "exactly one factor" else "a factor"
    ), "covariate")
  }
  if (!is.null(sm$by) && sm$bs == "fs") {
    abort(sprintf("`by` is not supported with `bs = \"fs\"` in `%s`.", sm$label), "basis")
  }
  numeric_terms <- sm$term[!is_factor]
  vars <- lapply(cols[!is_factor], function(v) {
    if (!is.numeric(v)) abort(sprintf("The covariates of `%s` must be numeric or a factor.", sm$label), "covariate")
    as.double(v)
  })
  groups <- lapply(cols[is_factor], as.factor)
  base <- list(term = numeric_terms, dim = length(numeric_terms), bs = sm$base_bs, label = sm$label,
               tp_sample = sm$tp_sample)
  margin <- engine_margin(sm$base_bs, sm$k, length(numeric_terms), sm$m, smooth_knots(base, vars, knots))
  n_levels <- vapply(groups, nlevels, numeric(1))
  # A "sz" term's own constraint, the deviations summing to zero over each factor's
  # levels, is its basis's (`centre`; by_terms() drops it for a numeric `by`, as
  # mgcv does), and its factors' numbers of levels are the class's parameters.
  term <- engine_smooth(sm$label, sm$bs, prod(n_levels), c(vars, lapply(groups, function(g) as.double(as.integer(g)))),
                        sm$term, by_name = sm$by, centre = sm$bs == "sz", id = sm$id, margins = list(margin),
                        re_levels = if (length(groups) == 1L) levels(groups[[1]]), fs_factor = sm$term[is_factor],
                        sp = sm$sp)
  term$fs_levels <- lapply(groups, levels)
  if (sm$bs == "sz") term$parameters <- as.double(n_levels)
  term
}

# A random effect's covariates: which are grouping factors, and the random-slope
# covariate (the product of the numeric ones) as a list of zero or one vector.
random_effect_parts <- function(cols) {
  is_factor <- vapply(cols, function(v) is.factor(v) || is.character(v), logical(1))
  slopes <- lapply(cols[!is_factor], as.double)
  list(is_factor = is_factor, slope = if (length(slopes)) list(Reduce(`*`, slopes)))
}

# A smooth's knots: those supplied in `knots` (by covariate name; for a thin plate
# spline of several covariates, one vector per covariate), else, for a thin plate
# spline of many rows, mgcv's random subsample of its distinct points.
smooth_knots <- function(sm, vars, knots, defer = FALSE) {
  # (By name, so that a data frame of knots for other covariates gives NULL.)
  given <- stats::setNames(lapply(sm$term, function(v) knots[[v]]), sm$term)
  if (length(given) == sm$dim && !any(vapply(given, is.null, logical(1)))) {
    lens <- lengths(given)
    if (!all(vapply(given, is.numeric, logical(1))) || any(lens != lens[[1]])) {
      abort(sprintf("`knots` for `%s` must be numeric vectors of one length.", sm$label), "argument")
    }
    if (sm$bs == "cc" && lens[[1]] == 2L) {
      # As mgcv's cyclic constructor: two values are the ends of the cycle, and the
      # k knots are placed through the data and those ends.
      return(spread_knots(c(given[[1]], vars[[1]]), if (is.null(sm$k) || sm$k < 0) 10 else sm$k))
    }
    if (sm$dim == 1L || sm$bs %in% c("tp", "ts", "gp", "ds", "sos")) return(as.double(unlist(given, use.names = FALSE)))
  }
  sample <- sm$tp_sample %||% list(max_knots = 2000, seed = 1)
  if (!sm$bs %in% c("tp", "ts", "gp", "ds", "sos")) return(NULL)
  if (length(vars[[1]]) <= sample$max_knots) return(NULL)
  # Drawn from the data (mgcv's `max.knots`): the store counts them as data, and its
  # keys cover how they are drawn (`sample`) instead of the drawn values, so that
  # an exact hit can be served before drawing them, which takes 13 ms per
  # covariate at 1e5 rows (`defer`: the draw is left to `draw_pending_knots()`).
  # (mgcv's Gaussian process and Duchon spline order the distinct points before
  # centring them.)
  draw <- list(vars = vars, max_knots = sample$max_knots, seed = sample$seed,
               centre = !sm$bs %in% c("gp", "ds", "sos"))
  structure(list(knots = if (!defer) draw_knots(draw), sample = knots_sample(sample), draw = if (defer) draw),
            class = "warmgam_sampled_knots")
}

# The knots `draw` (from smooth_knots()) describes; NULL when every distinct point
# is a knot.
draw_knots <- function(draw) tp_subsample(draw$vars, draw$max_knots, draw$seed, centre = draw$centre)

# How sampled knots are drawn, as the engine's keys cover it: mgcv's `max.knots` and
# seed, and R's random number generator kinds (which `sample()` follows).
knots_sample <- function(sample) {
  kinds <- RNGkind()
  as.double(c(sample$max_knots, sample$seed, match(kinds[[1]], rng_kinds), match(kinds[[3]], c("Rounding", "Rejection"))))
}
rng_kinds <- c("Wichmann-Hill", "Marsaglia-Multicarry", "Super-Duper", "Mersenne-Twister", "Knuth-TAOCP",
               "user-supplied", "Knuth-TAOCP-2002", "L'Ecuyer-CMRG")

# `spec` with the knots that engine_spec(defer_knots = TRUE) left to draw drawn (the
# engine had no exact hit to serve without them).
draw_pending_knots <- function(spec) {
  for (i in seq_along(spec$knots_draws)) {
    draw <- spec$knots_draws[[i]]
    if (is.null(draw)) next
    spec$smooths[[i]]["knots"] <- list(draw_knots(draw))
    spec$smooths[[i]]$knots_pending <- FALSE
  }
  spec$knots_draws <- NULL
  spec
}

# `k` knots through the distinct values of `x`: the ends at its range, the others at
# evenly spaced positions in its sorted distinct values, interpolating between
# neighbours (mgcv's knot placement for cyclic splines).
spread_knots <- function(x, k) {
  x <- sort(unique(as.double(x)))
  n <- length(x)
  if (k > n) abort(sprintf("%d knots need at least %d distinct covariate values; there are %d.", k, k, n), "argument")
  if (k == 2) return(range(x))
  at <- (n - 1) / (k - 1) * seq_len(k - 2)
  lower <- floor(at) + 1
  frac <- at + 1 - lower
  c(x[[1]], x[lower] * (1 - frac) + x[pmin(lower + 1, n)] * frac, x[[n]])
}

# Whether knots from smooth_knots() were drawn from the data.
knots_sampled <- function(knots) inherits(knots, "warmgam_sampled_knots")

# The knots the engine takes from smooth_knots()'s result (drawn or given).
knot_values <- function(knots) if (knots_sampled(knots)) knots$knots else knots

# With more than `max_knots` rows, mgcv's thin plate spline uses as its points a
# random sample of `max_knots` of the distinct (centred) covariate points, drawn with
# the seed 1 and the user's random number stream left as it was (`?tprs`; both set
# by the term's `xt = list(max.knots = , seed = )`). The same draw with R's own
# generator gives the same points, hence the same basis.
tp_subsample <- function(vars, max_knots = 2000L, seed = 1L, centre = TRUE) {
  n <- length(vars[[1]])
  if (n <= max_knots) return(NULL)
  centred <- if (centre) lapply(vars, function(v) v - mean(v)) else vars
  # The distinct points in mgcv's order (`uniquecombs(ordered = TRUE)`): by value in
  # one dimension, else by the text of the row in C-locale order.
  key <- if (length(vars) == 1L) centred[[1]] else do.call(paste, c(lapply(centred, as.character), sep = "*"))
  distinct <- which(!duplicated(key))
  distinct <- distinct[order(key[distinct], method = "radix")]
  if (length(distinct) <= max_knots) return(NULL)
  rows <- distinct[with_seed(seed, sample(length(distinct), max_knots))]
  as.double(unlist(lapply(vars, function(v) v[rows]), use.names = FALSE))
}

# Evaluates `expr` after set.seed(seed), then restores the random number stream.
with_seed <- function(seed, expr) {
  preserving_rng({
    set.seed(seed)
    expr
  })
}

# Evaluates `expr` and leaves the session's random number stream as it found it.
preserving_rng <- function(expr) {
  env <- globalenv()
  had <- exists(".Random.seed", envir = env, inherits = FALSE)
  old <- if (had) get(".Random.seed", envir = env, inherits = FALSE)
  on.exit(if (had) assign(".Random.seed", old, envir = env) else if (exists(".Random.seed", envir = env, inherits = FALSE)) rm(".Random.seed", envir = env))
  expr
}

engine_spec <- function(frame, family, method, gamma, sp, knots, select, control, threads, para_pen = NULL,
                        defer_knots = FALSE) {
  smooths <- smooth_terms(link_ids(frame$parts$smooths, frame$mf), frame$mf, knots, defer_knots)
  sides <- side_constraints(smooths, frame$xp, frame$intercept_only)
  for (i in seq_along(smooths)) smooths[[i]]["side"] <- list(sides[[i]])
  if (!is.null(sp)) {
    # With `select`, terms with a null space have two smoothing parameters; the engine
    # checks that count, which only it knows.
    # Terms sharing an `id` share one entry.
    penalized <- Filter(function(sm) !isTRUE(sm$fixed), smooths)
    n_sp <- length(unique(vapply(penalized, function(sm) if (is.null(sm$id)) sm$label else paste0("id ", sm$id), ""))) +
      length(para_pen$penalties)
    # Terms with several penalties (tensor products, factor smooths, adaptive
    # smooths, soap films, several B-spline orders, terms mgcv built with several)
    # have one each: the engine counts those.
    several <- any(vapply(smooths, function(sm) {
      sm$bs %in% c("te", "ti", "fs", "sz", "ad", soap_classes) || length(sm$given_s) > 1L ||
        (sm$bs == "bs" && length(sm$m) > 2L)
    }, logical(1)))
    if (!is.numeric(sp) || (!select && !several && length(sp) != n_sp)) {
      abort(sprintf("`sp` must be a numeric vector with one entry per smoothing parameter (%d).", n_sp), "argument")
    }
    sp <- ifelse(is.na(sp) | sp < 0, NA_real_, as.double(sp))
  }
  # The offsets of terms with a known part (see mgcv_built_terms()) add to the model's.
  offset <- frame$offset
  term_offsets <- Filter(Negate(is.null), lapply(smooths, `[[`, "term_offset"))
  if (length(term_offsets)) offset <- rep_len(offset %||% 0, length(frame$y)) + Reduce(`+`, term_offsets)
  c(list(
    y = frame$y, censor = frame$censor, weights = frame$weights, offset = offset,
    xp = if (frame$intercept_only) NULL else if (is.double(frame$xp)) frame$xp else matrix(as.double(frame$xp), nrow(frame$xp)),
    smooths = lapply(smooths, function(sm) c(sm[engine_fields], select = select)),
    # Knots left to draw (`defer_knots`), by term: draw_pending_knots() draws them.
    knots_draws = if (any(vapply(smooths, function(sm) !is.null(sm$knots_draw), logical(1)))) {
      lapply(smooths, `[[`, "knots_draw")
    },
    smooth_info = lapply(smooths, function(sm) {
      c(sm[intersect(info_fields, names(sm))],
        # Whether the term has a sum-to-zero constraint (mgcv's nCons > 0; a ti()
        # term's constraints are on its margins), for predict(type = "iterms").
        centred = isTRUE(sm$centre) && sm$bs != "ti")
    }),
    family = family_id(family), link = engine_link(family), variance = family$varfun %||% "",
    estimate_parameter = estimates_parameter(family),
    method = method, gamma = as.double(gamma), sp = sp, intercept = frame$parts$intercept,
    control = unclass(control)[c("outer_tol", "outer_max_iter", "max_step")],
    threads = threads,
    para_pen = para_pen$penalties, para_pen_names = para_pen$names
  ), family_parameter_fields(family, frame$y))
}

# The deviance and null deviance a fit reports: the engine's, except for the
# extended families whose null model mgcv defines its own way (the family's
# `null_deviance()`, as its postproc): beta regression, whose fitting deviance is
# -2 log f (both are then against the saturated model), and the scaled t.
reported_deviances <- function(res, family, y, frame) {
  if (is.null(family$null_deviance)) return(list(deviance = res$deviance, null = res$null_deviance))
  w <- frame$weights %||% rep(1, length(y))
  eta <- res$linear_predictor
  offset <- frame$offset %||% rep(0, length(y))
  list(deviance = sum(family$dev.resids(y, family$linkinv(eta), w)),
       null = family$null_deviance(y, w, offset, eta, frame$parts$intercept))
}

# The negative binomial theta the engine starts from (or keeps, when fixed): for an
# estimated theta, the moment estimate from the response's mean and variance.
negbin_theta_start <- function(family, y) {
  if (!inherits(family, "warmgam_nb")) return(NA_real_)
  if (!family$estimate_theta) return(as.double(family$theta))
  m <- mean(y)
  v <- stats::var(y)
  theta <- if (is.finite(v) && v > m) m^2 / (v - m) else 100
  min(max(theta, 0.01), 1e4)
}

# The engine's record of each smooth term with what R keeps of it (`smooth_info`),
# named by label, and the coefficients' names: the parametric columns', then each
# term's `label.1`, `label.2`, ... as mgcv names them.
named_terms <- function(engine_smooths, smooth_info, xp) {
  smooth <- Map(function(sm, info) c(info, sm), engine_smooths, smooth_info)
  names(smooth) <- vapply(smooth, `[[`, "", "label")
  coef_names <- c(colnames(xp), unlist(lapply(smooth, function(sm) {
    paste0(sm$label, ".", seq_len(sm$last - sm$first + 1))
  }), use.names = FALSE))
  list(smooth = smooth, coef_names = coef_names)
}

new_warmgam <- function(res, frame, spec, call, formula, family, method, gamma,
                        scale_estimated = !scale_known(family)) {
  if (inherits(family, "warmgam_nb") && family$estimate_theta) {
    family <- negbin_family(exp(res$extra[[length(res$extra)]]), estimate = TRUE, link = family$link)
  }
  if (inherits(family, "warmgam_tweedie") && family$estimate_p) {
    family <- tweedie_family(res$extra[[length(res$extra)]], estimate = TRUE, link = family$link)
  }
  if (isTRUE(family[["n_estimated"]] > 0)) {
    family <- family$at_estimates(unlist(utils::tail(res$extra, family$n_estimated)))
  }
  named <- named_terms(res$smooths, spec$smooth_info, frame$xp)
  smooth <- named$smooth
  coef_names <- named$coef_names
  coefficients <- stats::setNames(res$coefficients, coef_names)
  eta <- res$linear_predictor
  mu <- if (family$link == "identity") eta else family$linkinv(eta)
  y <- frame$y
  # A censored response keeps its bounds where mgcv keeps them (its family's
  # deviance residuals read them).
  if (!is.null(frame$censor)) attr(y, "censor") <- frame$censor
  dimnames(res$Vp) <- dimnames(res$Ve) <- list(coef_names, coef_names)
  if (!is.null(res$Vc)) dimnames(res$Vc) <- list(coef_names, coef_names)
  n <- length(y)
  edf <- stats::setNames(res$edf, coef_names)
  deviances <- reported_deviances(res, family, y, frame)
  crit_name <- if (!prediction_error(method)) method else if (!scale_estimated) "UBRE" else sub(".Cp", "", method, fixed = TRUE)
  crit <- stats::setNames(res$criterion, crit_name)
  structure(
    list(
      coefficients = coefficients,
      fitted.values = mu,
      linear.predictors = eta,
      residuals = as.vector(y) - mu,
      y = y,
      prior.weights = frame$weights,
      offset = frame$offset,
      sp = stats::setNames(res$sp, sp_names(smooth, length(res$sp), spec$para_pen_names)),
      scale = res$scale,
      sig2 = res$scale,
      scale.estimated = scale_estimated,
      reml.scale = if (scale_estimated && length(res$extra)) {
        exp(res$extra[[1]])
      } else if (!prediction_error(method) && !scale_estimated) spec$known_scale %||% 1 else NA_real_,
      edf = edf,
      edf1 = stats::setNames(res$edf1, coef_names),
      edf2 = if (!is.null(res$edf2)) stats::setNames(res$edf2, coef_names),
      criterion = crit,
      method = method,
      gamma = gamma,
      converged = res$converged && res$inner_converged,
      inner_converged = res$inner_converged,
      termination = res$termination,
      outer_iterations = res$iterations,
      gradient = res$gradient,
      hessian_eigenvalues = res$hessian_eigenvalues,
      deviance = deviances$deviance,
      null.deviance = deviances$null,
      df.residual = n - sum(res$edf),
      Vp = res$Vp,
      Ve = res$Ve,
      Vc = res$Vc,
      smooth = smooth,
      term_tests = res$term_tests,
      n_parametric = ncol(frame$xp),
      assign = attr(frame$xp, "assign"),
      call = call,
      formula = formula,
      terms = stats::terms(frame$mf),
      pterms = frame$pterms,
      xlevels = frame$xlevels,
      contrasts = frame$contrasts,
      family = family,
      model = frame$mf,
      na.action = attr(frame$mf, "na.action"),
      warm_start = list(
        source = res$warm_start$source,
        outer_iterations = res$iterations,
        key = if (nzchar(res$warm_start$key)) res$warm_start$key else NA_character_,
        verified = res$warm_start$verified,
        seed_outer_iterations = res$warm_start$seed_outer_iterations,
        family_trials = res$warm_start$family_trials,
        seed_family_trials = res$warm_start$seed_family_trials
      )
    ),
    class = "warmgam"
  )
}

# The store's notices and any problem using it, one warning each (a write refused
# for a reason already noticed is not a second warning).
warn_store_outcome <- function(ws) {
  warn_store_notices(ws$notices)
  problem <- ws$problem
  if (!any(vapply(ws$notices, function(n) grepl(n, problem, fixed = TRUE), logical(1)))) {
    warn_store_problem(problem)
  }
  invisible()
}

# Warnings for a fit that did not converge or whose fitted values sit on the edge of
# the family's range (mgcv warns the same way).
warn_fit_problems <- function(fit, res) {
  if (!res$converged) {
    warn(sprintf(
      "The smoothing parameter search did not converge (%s); see `gam_control()` to raise `outer_max_iter`.",
      res$termination
    ))
  }
  if (!res$inner_converged) {
    warn("The penalized IRLS (inner) iteration did not converge for some smoothing parameters: the fit may be diverging (e.g. perfect separation).")
  }
  mu <- fit$fitted.values
  eps <- 10 * .Machine$double.eps
  if (is_binomial(fit$family) && any(mu > 1 - eps | mu < eps)) {
    warn("Fitted probabilities numerically 0 or 1 occurred: the data may be (quasi-)perfectly separated, and the coefficients and standard errors of the terms concerned are unreliable.")
  }
  if (family_id(fit$family) %in% c("poisson", "quasipoisson", "negbin") && any(mu < eps)) {
    warn("Fitted rates numerically 0 occurred.")
  }
  invisible()
}
