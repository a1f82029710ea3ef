# Smooth classes benchmark (issue 18): one model per class, warmgam against mgcv, in
# one run.
#
# What it measures (elapsed seconds: the median of three runs for warmgam and bam, one
# run of gam), Gaussian, REML:
#   y ~ s(x, bs = <class>) (+ a second covariate or factor where the class needs one)
#   at n = 2e4 against gam() and bam(discrete = TRUE), and at n = 1e5 against
#   bam(discrete = TRUE) alone; and the largest relative difference of warmgam's fitted
#   values from each. `native` says whether warmgam built the term itself or through
#   mgcv's constructor.
#
# Goals (reported, never asserted in tests): at most 1/20 of gam's time and no slower
# than bam(discrete = TRUE).
#
# How to run
#   make bench                            (all benchmarks; installs the package first)
#   Rscript bench/bench_classes.R         (uses the installed warmgam)
#   WARMGAM_BENCH_CLASSES=bs,cp Rscript bench/bench_classes.R
#   WARMGAM_BENCH_CLASSES_LARGE=0 Rscript bench/bench_classes.R   (skip n = 1e5)
#
# The table is printed and written to bench/results/classes.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))
private_store("classes")

# A 12 x 12 lattice of regions, each the neighbour of those sharing an edge.
lattice_nb <- function(side) {
  id <- function(i, j) (i - 1) * side + j
  nb <- vector("list", side * side)
  for (i in seq_len(side)) for (j in seq_len(side)) {
    cand <- rbind(c(i - 1, j), c(i + 1, j), c(i, j - 1), c(i, j + 1))
    ok <- cand[, 1] >= 1 & cand[, 1] <= side & cand[, 2] >= 1 & cand[, 2] <= side
    nb[[id(i, j)]] <- id(cand[ok, 1], cand[ok, 2])
  }
  names(nb) <- as.character(seq_len(side * side))
  nb
}

simulate <- function(n) {
  set.seed(18)
  side <- 12
  d <- data.frame(x = runif(n), z = runif(n), fac = factor(sample(letters[1:5], n, TRUE)))
  d$lat <- runif(n, -80, 80)
  d$lon <- runif(n, -180, 180)
  cell <- sample(side * side, n, replace = TRUE)
  d$region <- factor(cell, levels = seq_len(side * side))
  row <- (cell - 1) %/% side
  region_effect <- sin(row / 3) + cos(((cell - 1) %% side) / 4)
  level_shift <- as.numeric(d$fac) / 5
  d$y <- sin(2 * pi * d$x) + 0.5 * cos(3 * d$z) + region_effect + level_shift * d$x +
    sin(d$lat / 30) * cos(d$lon / 60) + rnorm(n, sd = 0.4)
  # (Drawn last, so that the other columns are as before it was added.)
  d$fac2 <- factor(sample(c("p", "q", "r"), n, TRUE))
  d
}

# A soap film's domain: the unit square, slightly enlarged, with a 6 x 6 grid of
# knots inside it.
square <- list(list(x = c(-0.01, 1.01, 1.01, -0.01), z = c(-0.01, -0.01, 1.01, 1.01)))
soap_knots <- expand.grid(x = seq(0.1, 0.9, length.out = 6), z = seq(0.1, 0.9, length.out = 6))

nb <- lattice_nb(12)
models <- list(
  bs = y ~ s(x, bs = "bs", k = 20),
  bs2 = y ~ s(x, bs = "bs", m = c(3, 2, 1), k = 20),
  cp = y ~ s(x, bs = "cp", k = 20),
  gp = y ~ s(x, bs = "gp", k = 20),
  mrf = y ~ s(region, bs = "mrf", xt = list(nb = nb)),
  sz = y ~ s(x) + s(fac, x, bs = "sz"),
  ad = y ~ s(x, bs = "ad", k = 30),
  ds = y ~ s(x, z, bs = "ds", k = 30),
  sos = y ~ s(lat, lon, bs = "sos", k = 40),
  sos2 = y ~ s(lat, lon, bs = "sos", m = 2, k = 40),
  sz2 = y ~ s(x) + s(fac, fac2, x, bs = "sz"),
  te_gp = y ~ te(x, z, bs = c("gp", "cr"), k = 6),
  so = y ~ s(x, z, bs = "so", xt = list(bnd = square, nmax = 100))
)
# Knots a model needs (the soap film's interior part).
model_knots <- list(so = soap_knots)
chosen <- strsplit(Sys.getenv("WARMGAM_BENCH_CLASSES", paste(names(models), collapse = ",")), ",")[[1]]
models <- models[intersect(chosen, names(models))]
large <- Sys.getenv("WARMGAM_BENCH_CLASSES_LARGE", "1") != "0"

is_native <- function(fit) !any(vapply(fit$smooth, function(s) identical(s$class, "mgcv"), TRUE))

one <- function(name, f, d, with_gam) {
  kn <- model_knots[[name]]
  w <- median_of_3(function() elapsed(gam_fit(f, data = d, method = "REML", knots = kn, cache = FALSE)))
  # (bam(discrete = TRUE) does not take every class: NA where it refuses.)
  b <- tryCatch(median_of_3(function() elapsed(mgcv::bam(f, data = d, method = "fREML", discrete = TRUE, knots = kn))),
                error = function(e) NULL)
  g <- if (with_gam) elapsed(mgcv::gam(f, data = d, method = "REML", knots = kn)) else NULL
  data.frame(
    class = name, n = nrow(d), native = is_native(w$value), warmgam = w$seconds,
    gam = if (with_gam) g$seconds else NA, bam_disc = if (!is.null(b)) b$seconds else NA,
    to_gam = if (with_gam) w$seconds / g$seconds else NA,
    to_bam_disc = if (!is.null(b)) w$seconds / b$seconds else NA,
    fitted_vs_gam = if (with_gam) rel_diff(fitted(w$value), fitted(g$value)) else NA,
    fitted_vs_bam = if (!is.null(b)) rel_diff(fitted(w$value), fitted(b$value)) else NA
  )
}

small <- simulate(2e4)
invisible(gam_fit(y ~ s(x), data = small[1:2000, ], cache = FALSE)) # warm-up
rows <- lapply(names(models), function(nm) one(nm, models[[nm]], small, TRUE))
if (large) {
  big <- simulate(1e5)
  rows <- c(rows, lapply(names(models), function(nm) one(nm, models[[nm]], big, FALSE)))
}
table <- do.call(rbind, rows)
cat("Smooth classes, Gaussian REML (goals: to_gam <= 0.05, to_bam_disc <= 1)\n\n")
print(table, row.names = FALSE, digits = 3)
write_results(table, "classes")
