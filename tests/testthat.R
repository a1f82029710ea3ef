library(testthat)
library(warmgam)

test_check("warmgam")
