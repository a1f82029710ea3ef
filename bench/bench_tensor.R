# Tensor product benchmark: a te() surface plus a one-dimensional smooth, warmgam
# against mgcv, in one run.
#
# What it measures (elapsed seconds after a small warm-up: the median of three runs for
# warmgam and bam, whose single runs vary by tens of milliseconds; one run of gam)
#   y ~ te(x, z, k = c(10, 10)) + s(x0), Gaussian, n = 1e5 rows (gamSim(2)'s surface
#   plus a sine in x0)
#     warmgam    gam_fit(method = "REML", cache = FALSE)
#     gam        mgcv::gam(method = "REML")
#     bam_disc   mgcv::bam(method = "fREML", discrete = TRUE)
#   and the largest relative difference of warmgam's fitted values from each.
#
# Goals (reported, never asserted in tests): at most 1/20 of gam's time and no slower
# than bam(discrete = TRUE), while exact.
#
# How to run
#   make bench                          (all benchmarks; installs the package first)
#   Rscript bench/bench_tensor.R        (uses the installed warmgam)
#   BENCH_TENSOR_N=20000 Rscript bench/bench_tensor.R
#
# The table is printed and written to bench/results/tensor.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))
private_store("tensor")

n <- bench_n("BENCH_TENSOR_N", 1e5)
set.seed(11)
d <- mgcv::gamSim(2, n = n, scale = 0.3, verbose = FALSE)$data
d$x0 <- runif(n)
d$y <- d$y + sin(2 * pi * d$x0)
f <- y ~ te(x, z, k = c(10, 10)) + s(x0)

invisible(gam_fit(f, data = d[1:2000, ], cache = FALSE)) # warm-up
w <- median_of_3(function() elapsed(gam_fit(f, data = d, method = "REML", cache = FALSE)))
g <- elapsed(mgcv::gam(f, data = d, method = "REML"))
b <- median_of_3(function() elapsed(mgcv::bam(f, data = d, method = "fREML", discrete = TRUE)))
table <- data.frame(
  engine = c("warmgam", "gam", "bam_disc"),
  seconds = c(w$seconds, g$seconds, b$seconds),
  fitted_rel_diff = c(NA, rel_diff(fitted(w$value), fitted(g$value)), rel_diff(fitted(w$value), fitted(b$value)))
)
table$warmgam_ratio <- w$seconds / table$seconds
cat(sprintf("Tensor product: y ~ te(x, z, k = c(10, 10)) + s(x0), n = %d\n\n", n))
print(table, row.names = FALSE, digits = 4)
cat(sprintf("\nwarmgam / gam = %.4f (goal: at most 0.05); warmgam / bam_disc = %.3f (goal: at most 1)\n",
            table$warmgam_ratio[[2]], table$warmgam_ratio[[3]]))
write_results(table, "tensor")
