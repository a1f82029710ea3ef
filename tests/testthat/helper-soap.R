# Test data for soap film smoothers (test-soap.R, test-mgcv-built.R).

# mgcv's ?smooth.construct.so.smooth.spec example: the finger-shaped domain of
# fs.boundary(), knots on a grid inside it, data drawn inside it.
soap_data <- function() {
  fsb <- list(mgcv::fs.boundary())
  names(fsb[[1]]) <- c("v", "w")
  knots <- data.frame(v = rep(seq(-0.5, 3, by = 0.5), 4), w = rep(c(-0.6, -0.3, 0.3, 0.6), rep(8, 4)))
  set.seed(0)
  n <- 600
  v <- runif(n) * 5 - 1
  w <- runif(n) * 2 - 1
  y <- mgcv::fs.test(v, w, b = 1)
  ind <- mgcv::inSide(fsb, x = v, y = w)
  y <- y + rnorm(n) * 0.3
  list(bnd = fsb, knots = knots, data = data.frame(y = y[ind], v = v[ind], w = w[ind]))
}
