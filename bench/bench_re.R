# Random-effect benchmark: a school random intercept on nlme's MathAchieve data
# (7185 pupils, 160 schools), warmgam against mgcv, in one run.
#
# What it measures (elapsed seconds, one run each, after a small warm-up)
#   MathAch ~ Minority + Sex + s(SES) + s(School, bs = "re")
#     warmgam    gam_fit(method = "REML", cache = FALSE)
#     gam        mgcv::gam(method = "REML")
#     bam_disc   mgcv::bam(method = "fREML", discrete = TRUE)
#   and the largest relative difference of warmgam's fitted values from each.
#   Then a random intercept with many levels (issue 6: "hundreds of levels must not
#   be a dense p x p problem"): y ~ s(x0) + s(g, bs = "re") with 1000 levels at
#   n = 1e5 (WARMGAM_BENCH_RE_LEVELS, WARMGAM_BENCH_RE_N), Gaussian and binomial,
#   warmgam against bam(discrete = TRUE) (gam takes minutes there).
#
# Goal (reported, never asserted in tests): at most 1/20 of gam's time.
#
# How to run
#   make bench                   (all benchmarks; installs the package first)
#   Rscript bench/bench_re.R     (uses the installed warmgam)
#
# The tables are printed and written to bench/results/re.csv and
# bench/results/re_levels.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))
if (!requireNamespace("nlme", quietly = TRUE)) stop("the benchmark needs nlme")
private_store("re")

data("MathAchieve", package = "nlme", envir = environment())
d <- as.data.frame(MathAchieve)
d$School <- factor(as.character(d$School))
f <- MathAch ~ Minority + Sex + s(SES) + s(School, bs = "re")

invisible(gam_fit(MathAch ~ s(SES), data = d[1:500, ], cache = FALSE)) # warm-up
w <- elapsed(gam_fit(f, data = d, method = "REML", cache = FALSE))
g <- elapsed(mgcv::gam(f, data = d, method = "REML"))
b <- elapsed(mgcv::bam(f, data = d, method = "fREML", discrete = TRUE))
table <- data.frame(
  engine = c("warmgam", "gam", "bam_disc"),
  seconds = c(w$seconds, g$seconds, b$seconds),
  fitted_rel_diff = c(NA, rel_diff(fitted(w$value), fitted(g$value)), rel_diff(fitted(w$value), fitted(b$value)))
)
table$warmgam_ratio <- w$seconds / table$seconds
cat("MathAchieve: MathAch ~ Minority + Sex + s(SES) + s(School, bs = \"re\"), 160 schools\n\n")
print(table, row.names = FALSE, digits = 4)
cat(sprintf("\nwarmgam / gam = %.4f (goal: at most 0.05)\n", table$warmgam_ratio[[2]]))
write_results(table, "re")

# ---- many levels ---------------------------------------------------------------------
levels <- bench_n("WARMGAM_BENCH_RE_LEVELS", 1000)
n <- bench_n("WARMGAM_BENCH_RE_N", 1e5)
set.seed(1)
dl <- data.frame(x0 = runif(n), g = factor(sample(levels, n, replace = TRUE)))
dl$y <- sin(2 * pi * dl$x0) + rnorm(levels, sd = 0.5)[as.integer(dl$g)] + rnorm(n)
dl$yb <- rbinom(n, 1, plogis(sin(2 * pi * dl$x0) + rnorm(levels, sd = 0.5)[as.integer(dl$g)]))
many_case <- function(formula, family) {
  wl <- elapsed(gam_fit(formula, data = dl, family = family, method = "REML", cache = FALSE))
  bl <- elapsed(mgcv::bam(formula, data = dl, family = family, method = "fREML", discrete = TRUE, nthreads = 2))
  out <- data.frame(
    family = family$family, engine = c("warmgam", "bam_disc"), levels = levels, n = n,
    seconds = c(wl$seconds, bl$seconds),
    fitted_rel_diff = c(NA, rel_diff(fitted(wl$value), fitted(bl$value)))
  )
  out$warmgam_ratio <- wl$seconds / out$seconds
  out
}
many <- rbind(
  many_case(y ~ s(x0) + s(g, bs = "re"), gaussian()),
  many_case(yb ~ s(x0) + s(g, bs = "re"), binomial())
)
cat(sprintf("\ns(x0) + s(g, bs = \"re\"), %g levels, n = %g\n\n", levels, n))
print(many, row.names = FALSE, digits = 4)
write_results(many, "re_levels")
