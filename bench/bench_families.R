# Extended families benchmark: warmgam against mgcv, side by side in one run
# (issue 19).
#
# What it measures
#   Elapsed seconds to fit
#     y ~ s(x0) + s(x1) + s(x2) + s(x3)
#   to mgcv::gamSim(1, n) covariates with a response from each family, its own
#   parameters estimated:
#     betar   beta, mean plogis(f / 4 - 2), precision 5;           betar()
#     scat    f + 2 t_4;                                            scat()
#     ziP     zero-inflated Poisson, log mean f / 4 - 1, presence
#             theta = (-2, 0.3) (mgcv's ?ziP example's generator);  ziP()
#     ocat    4 classes, latent f - mean(f) + logistic, cuts -1, 0, 5;  ocat(R = 4)
#     nb      negative binomial, mean exp(f / 4), size 3;            nb()
#     tw      Tweedie, mean exp(f / 4), p 1.5, scale 1;              tw()
#     cnorm   f + 2 N(0, 1) - 8, recorded as "at most 0" below 0 (Tobit, ?cnorm's
#             form);                                                cnorm()
#     gaulss  f + N(0, exp(2 x2)), with list(<formula>, ~ s(x2));     mgcv::gaulss()
#     gammals gamma, mean exp(f / 8), scale exp(x2 - 1), with list(<formula>, ~ s(x2));
#                                                                    mgcv::gammals()
#     gumbls  Gumbel, location f / 2, scale exp(x2 - 1), with list(<formula>, ~ s(x2));
#                                                                    mgcv::gumbls()
#     ziplss  zero-inflated Poisson, log mean f / 4 - 1, presence probability
#             1 - exp(-exp(2 x2 - 0.5)), with list(<formula>, ~ s(x2)); mgcv::ziplss()
#     multinom  classes 0, 1, 2 with logits (0, f / 4 - 2, 2 sin(2 pi x2) - 0.5), with
#             list(<formula>, ~ s(x2));                              mgcv::multinom(K = 2)
#     gevlss  generalized extreme value, location f / 2, log scale x2 - 1, shape 0.1, with
#             list(<formula>, ~ s(x2), ~ 1);                       mgcv::gevlss()
#     shash   sinh-arcsinh, location f / 4, log scale x2 - 1, skewness 0.3, log tail
#             weight 0 (the normal's), with list(<formula>, ~ s(x2), ~ 1, ~ 1); mgcv::shash()
#     twlss   Tweedie, mean exp(f / 4), p 1.5, scale 1, with list(<formula>, ~ 1, ~ 1);
#                                                                    mgcv::twlss()
#     cox     survival times of hazard exp(f / 4 - 2), censored at U(0, 8);
#             `weights` the event indicator;                         mgcv::cox.ph()
#     mvn     y = f + e1, y2 = sin(2 pi x2) + e2, (e1, e2) correlated normal, with
#             list(y ~ s(x0) + s(x1), y2 ~ s(x2) + s(x3));          mgcv::mvn(d = 2)
#             (bam() takes no general family: gam only)
#   by
#     warmgam   gam_fit(method = "REML", threads = 2, cache = FALSE)
#     gam       mgcv::gam(method = "REML")
#     bam_disc  mgcv::bam(method = "fREML", discrete = TRUE, nthreads = 2)
#   at n = 2e4 (WARMGAM_BENCH_FAMILY_N); warmgam and bam timed as the median of three
#   fits up to n = 1e5 (once above), gam once. The table gives every
#   engine's seconds, the ratio warmgam / engine (below 1: warmgam is faster), the
#   family parameters each found, the largest relative difference of warmgam's
#   fitted values from each engine's, and the REML score (warmgam's and gam's).
#
# Goals (reported, never asserted): at n = 2e4 each family at most 1/20 of gam's
# time; at n = 1e6 betar, scat, ziP and ocat no slower than bam(discrete = TRUE); gaulss
# at n = 1e5 against gam().
#
# How to run
#   Rscript bench/bench_families.R
#   WARMGAM_BENCH_FAMILY_N=1e6 WARMGAM_BENCH_FAMILY_GAM=0 WARMGAM_BENCH_FAMILIES=betar,scat,ziP,ocat \
#     Rscript bench/bench_families.R     (the issue's n = 1e6 comparison with bam)
#   WARMGAM_BENCH_FAMILY_N=1e5 WARMGAM_BENCH_FAMILIES=gaulss Rscript bench/bench_families.R
#
# The table is printed and written to bench/results/families.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))

n <- bench_n("WARMGAM_BENCH_FAMILY_N", 2e4)
with_gam <- Sys.getenv("WARMGAM_BENCH_FAMILY_GAM", "1") != "0"
formula <- y ~ s(x0) + s(x1) + s(x2) + s(x3)

set.seed(19)
base <- mgcv::gamSim(1, n = n, verbose = FALSE)
responses <- list(
  betar = function(f) {
    mu <- stats::plogis(f / 4 - 2)
    stats::rbeta(length(f), mu * 5, (1 - mu) * 5)
  },
  scat = function(f) f + 2 * stats::rt(length(f), df = 4),
  ziP = function(f) {
    gamma <- f / 4 - 1
    lambda <- exp(gamma)
    present <- 1 - exp(-exp(-2 + exp(0.3) * gamma)) > stats::runif(length(f))
    y <- numeric(length(f))
    y[present] <- stats::qpois(stats::runif(sum(present), stats::dpois(0, lambda[present]), 1), lambda[present])
    y
  },
  ocat = function(f) findInterval(f - mean(f) + stats::rlogis(length(f)), c(-1, 0, 5)) + 1,
  nb = function(f) stats::rnbinom(length(f), mu = exp(f / 4), size = 3),
  tw = function(f) {
    mu <- exp(f / 4)
    # Compound Poisson-gamma with p = 1.5, scale 1: Poisson rate mu^0.5 / 0.5,
    # gamma shape 1, scale 0.5 mu^0.5.
    counts <- stats::rpois(length(f), mu^0.5 / 0.5)
    vapply(seq_along(f), function(i) sum(stats::rgamma(counts[i], shape = 1, scale = 0.5 * mu[i]^0.5)), 0)
  },
  cnorm = function(f) {
    ys <- f + 2 * stats::rnorm(length(f)) - 8
    y <- cbind(ys, ys)
    y[ys < 0, 2] <- -Inf
    y[ys < 0, 1] <- 0
    y
  },
  gaulss = function(f) f + stats::rnorm(length(f)) * exp(base$x2),
  gammals = function(f) {
    scale <- exp(base$x2 - 1)
    stats::rgamma(length(f), shape = 1 / scale, scale = exp(f / 8) * scale)
  },
  gumbls = function(f) f / 2 - exp(base$x2 - 1) * log(-log(stats::runif(length(f)))),
  ziplss = function(f) {
    lambda <- exp(f / 4 - 1)
    present <- 1 - exp(-exp(2 * base$x2 - 0.5)) > stats::runif(length(f))
    y <- numeric(length(f))
    y[present] <- stats::qpois(stats::runif(sum(present), stats::dpois(0, lambda[present]), 1), lambda[present])
    y
  },
  multinom = function(f) {
    p <- exp(cbind(0, f / 4 - 2, 2 * sin(2 * pi * base$x2) - 0.5))
    p <- p / rowSums(p)
    u <- stats::runif(length(f))
    (u > p[, 1]) + (u > p[, 1] + p[, 2])
  },
  gevlss = function(f) {
    # The inverse of the GEV distribution function, xi = 0.1.
    xi <- 0.1
    f / 2 + exp(base$x2 - 1) * ((-log(stats::runif(length(f))))^-xi - 1) / xi
  },
  shash = function(f) {
    # Jones & Pewsey's transform of a standard normal, epsilon = 0.3, delta = 1.
    # (With location f / 2 the skewness and kurtosis run off together at the first
    # smoothing parameters, where the location's smooths are stiff: the likelihood
    # keeps rising along eps, log delta -> infinity. mgcv stopped at eps = 27.)
    f / 4 + exp(base$x2 - 1) * sinh(asinh(stats::rnorm(length(f))) + 0.3)
  },
  twlss = function(f) mgcv::rTweedie(exp(f / 4), p = 1.5, phi = 1),
  # The observed time, its event indicator as an attribute.
  cox = function(f) {
    event_time <- stats::rexp(length(f), exp(f / 4 - 2))
    censor_time <- stats::runif(length(f), 0, 8)
    structure(pmin(event_time, censor_time), event = as.numeric(event_time <= censor_time))
  },
  # The first response, the second as an attribute.
  mvn = function(f) {
    e <- matrix(stats::rnorm(2 * length(f)), ncol = 2) %*% chol(matrix(c(2, 1, 1, 2), 2, 2))
    structure(f + e[, 1], second = sin(2 * pi * base$x2) + e[, 2])
  }
)
# A general family's list of formulae: one per linear predictor.
formulas <- list(gaulss = list(formula, ~ s(x2)), gammals = list(formula, ~ s(x2)), gumbls = list(formula, ~ s(x2)),
                 ziplss = list(formula, ~ s(x2)), multinom = list(formula, ~ s(x2)),
                 gevlss = list(formula, ~ s(x2), ~1), shash = list(formula, ~ s(x2), ~1, ~1), twlss = list(formula, ~1, ~1), mvn = list(y ~ s(x0) + s(x1), y2 ~ s(x2) + s(x3)))
families <- list(
  betar = list(warmgam = betar(), mgcv = mgcv::betar()),
  scat = list(warmgam = scat(), mgcv = mgcv::scat()),
  ziP = list(warmgam = ziP(), mgcv = mgcv::ziP()),
  ocat = list(warmgam = ocat(R = 4), mgcv = mgcv::ocat(R = 4)),
  nb = list(warmgam = nb(), mgcv = mgcv::nb()),
  tw = list(warmgam = tw(), mgcv = local({
    # mgcv 1.8-41's tw() finds its ldTweedie() only when mgcv is attached.
    fam <- mgcv::tw()
    parent.env(environment(fam$ls)) <- asNamespace("mgcv")
    fam
  })),
  cnorm = list(warmgam = cnorm(), mgcv = mgcv::cnorm()),
  gaulss = list(warmgam = mgcv::gaulss(), mgcv = mgcv::gaulss()),
  gammals = list(warmgam = mgcv::gammals(), mgcv = mgcv::gammals()),
  gumbls = list(warmgam = mgcv::gumbls(), mgcv = mgcv::gumbls()),
  ziplss = list(warmgam = mgcv::ziplss(), mgcv = mgcv::ziplss()),
  multinom = list(warmgam = mgcv::multinom(K = 2), mgcv = mgcv::multinom(K = 2)),
  gevlss = list(warmgam = mgcv::gevlss(), mgcv = mgcv::gevlss()),
  shash = list(warmgam = mgcv::shash(), mgcv = mgcv::shash()),
  twlss = list(warmgam = mgcv::twlss(), mgcv = local({
    # mgcv 1.8-41's twlss() finds its ldTweedie() only when mgcv is attached.
    fam <- mgcv::twlss()
    parent.env(environment(fam$ll)) <- asNamespace("mgcv")
    fam
  })),
  cox = list(warmgam = mgcv::cox.ph(), mgcv = mgcv::cox.ph()),
  mvn = list(warmgam = mgcv::mvn(d = 2), mgcv = mgcv::mvn(d = 2))
)
parameters <- function(fit) {
  if (inherits(fit, "warmgam_general") || inherits(fit$family, "general.family")) return("")
  fam <- fit$family
  value <- if (inherits(fit, "warmgam")) {
    fields <- list(fam[["phi"]], c(fam[["nu"]], fam[["sigma"]]), fam[["cuts"]], fam[["theta"]], fam[["p"]])
    found <- Filter(Negate(is.null), fields)
    if (!length(found)) return("")
    found[[1]]
  } else {
    fam$getTheta(TRUE)
  }
  paste(signif(value, 5), collapse = " ")
}

criterion <- function(fit) if (inherits(fit, c("warmgam", "warmgam_general"))) fit$criterion else fit$gcv.ubre

# The median of three fits up to n = 1e5 (a single fit of 0.3 s varied by 30%
# between runs), one fit above.
timed <- function(run) if (n <= 1e5) median_of_3(run) else run()

chosen <- strsplit(Sys.getenv("WARMGAM_BENCH_FAMILIES", paste(names(responses), collapse = ",")), ",")[[1]]
if (!all(chosen %in% names(responses))) stop("WARMGAM_BENCH_FAMILIES names families outside ", toString(names(responses)))

rows <- list()
# Each family's response from its own seed, drawn before any fit: a family's data
# are then the same whichever families run (the fits draw random numbers too, and
# responses drawn in turn between fits changed with WARMGAM_BENCH_FAMILIES).
drawn <- lapply(stats::setNames(seq_along(responses), names(responses)), function(i) {
  set.seed(1900 + i)
  responses[[i]](base$f)
})

for (name in chosen) {
  d <- base
  y <- drawn[[name]]
  # (A two-column response, cnorm's bounds, stays a matrix.)
  d$y <- if (is.matrix(y)) y else as.vector(y)
  d$y2 <- attr(y, "second")
  # Cox's event indicator is its `weights` (NULL: unit weights for the others).
  event <- attr(y, "event")
  fams <- families[[name]]
  f <- if (is.null(formulas[[name]])) formula else formulas[[name]]
  w <- timed(function() elapsed(gam_fit(f, data = d, family = fams$warmgam, weights = event, threads = 2, cache = FALSE)))
  engines <- list(warmgam = w)
  if (with_gam) engines$gam <- elapsed(mgcv::gam(f, data = d, family = fams$mgcv, weights = event, method = "REML"))
  if (!inherits(fams$mgcv, "general.family")) {
    engines$bam_disc <- timed(function() {
      elapsed(mgcv::bam(f, data = d, family = fams$mgcv, method = "fREML", discrete = TRUE, nthreads = 2))
    })
  }
  for (engine in names(engines)) {
    e <- engines[[engine]]
    rows[[length(rows) + 1]] <- data.frame(
      family = name, n = n, engine = engine, seconds = round(e$seconds, 3),
      ratio = round(w$seconds / e$seconds, 3), parameters = parameters(e$value),
      fitted_rel_diff = signif(rel_diff(fitted(w$value), fitted(e$value)), 3),
      # The REML score (bam's fREML score is on another scale: not shown).
      criterion = if (engine == "bam_disc") NA else round(unname(criterion(e$value)), 4)
    )
  }
  cat(sprintf("%s done\n", name))
}
table <- do.call(rbind, rows)
print(table, row.names = FALSE)
write_results(table, if (n == 2e4) "families" else sprintf("families_%g", n))
