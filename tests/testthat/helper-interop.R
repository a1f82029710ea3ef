# Shared by the interoperability tests (test-broom.R, test-easystats.R): a Gaussian
# and a Poisson fit of the same data in warmgam and mgcv, and a comparison of data
# frame columns.

# The fits; `seed` draws the data, `count_seed` the Poisson response.
interop_case <- function(seed, count_seed) {
  d <- sim_data(300, seed = seed)
  set.seed(count_seed)
  d$cnt <- rpois(nrow(d), exp(d$f / 5))
  list(
    d = d,
    fit = gam_fit(y ~ s(x0) + s(x1) + s(x2) + fac, data = d),
    ref = mgcv_fit(y ~ s(x0) + s(x1) + s(x2) + fac, d, method = "REML"),
    pois = gam_fit(cnt ~ s(x0) + s(x2) + fac, data = d, family = poisson()),
    pois_ref = mgcv_fit(cnt ~ s(x0) + s(x2) + fac, d, family = poisson(), method = "REML")
  )
}

# Largest relative difference of the numeric columns `cols` of two data frames, with
# their NAs in the same places; a column that is all zero in `b` (p-values below
# double precision) must be below `tol` in `a`.
expect_columns_close <- function(a, b, cols, tol, label) {
  for (col in cols) {
    x <- a[[col]]
    y <- b[[col]]
    keep <- !is.na(y)
    expect_identical(is.na(x), is.na(y), label = paste(label, col, "NA"))
    d <- if (all(y[keep] == 0)) max(abs(x[keep])) else rel_diff(x[keep], y[keep])
    expect_lt(d, tol, label = paste(label, col))
  }
}
