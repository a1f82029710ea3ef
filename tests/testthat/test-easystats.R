# insight, performance and parameters on warmgam fits against the same packages on
# the mgcv fit of the same model (R/easystats.R).

easystats_case <- function() interop_case(seed = 7, count_seed = 8)

test_that("performance::r2() is mgcv's adjusted R-squared, not 1", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("performance")
  cs <- easystats_case()
  got <- performance::r2(cs$fit)
  want <- performance::r2(cs$ref)
  expect_named(got, names(want))
  # 1e-6 relative; it was 1 before.
  expect_lt(rel_diff(got$R2, want$R2), 1e-6)
  expect_lt(got$R2, 0.9)
  expect_lt(rel_diff(performance::r2(cs$pois)$R2, performance::r2(cs$pois_ref)$R2), 1e-6)
})

test_that("model_performance() and check_heteroscedasticity() give mgcv's numbers", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("performance")
  cs <- easystats_case()
  for (pair in list(list(cs$fit, cs$ref, "gaussian"), list(cs$pois, cs$pois_ref, "poisson"))) {
    got <- performance::model_performance(pair[[1]])
    want <- performance::model_performance(pair[[2]])
    expect_named(got, names(want))
    # AIC, AICc, BIC, R2, RMSE, Sigma (and for Poisson the scores) to 1e-6 relative.
    expect_columns_close(got, want, names(want), 1e-6, pair[[3]])
  }
  got <- performance::check_heteroscedasticity(cs$fit)
  want <- performance::check_heteroscedasticity(cs$ref)
  # The Breusch-Pagan p-value, 1e-6 relative.
  expect_lt(rel_diff(as.numeric(got), as.numeric(want)), 1e-6)
})

test_that("parameters::model_parameters() gives mgcv's table", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("parameters")
  cs <- easystats_case()
  for (pair in list(list(cs$fit, cs$ref, "gaussian"), list(cs$pois, cs$pois_ref, "poisson"))) {
    got <- as.data.frame(parameters::model_parameters(pair[[1]]))
    want <- as.data.frame(parameters::model_parameters(pair[[2]]))
    expect_named(got, names(want))
    expect_identical(got$Parameter, want$Parameter)
    expect_identical(got$Component, want$Component)
    stat <- intersect(c("t / F", "z / Chi2"), names(want))
    # Estimates, statistics, p-values and df to 1e-6; standard errors and limits to 1e-4.
    expect_columns_close(got, want, c("Coefficient", stat, "p", "df", "df_error"), 1e-6, pair[[3]])
    expect_columns_close(got, want, c("SE", "CI_low", "CI_high"), 1e-4, pair[[3]])
    expect_columns_close(parameters::ci(pair[[1]]), parameters::ci(pair[[2]]), c("CI_low", "CI_high"), 1e-4, pair[[3]])
    expect_columns_close(parameters::p_value(pair[[1]]), parameters::p_value(pair[[2]]), "p", 1e-6, pair[[3]])
    expect_columns_close(parameters::standard_error(pair[[1]]), parameters::standard_error(pair[[2]]), "SE", 1e-4,
                        pair[[3]])
  }
})

test_that("insight's accessors give what they give for the mgcv fit", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("insight")
  cs <- easystats_case()
  got <- insight::get_parameters(cs$fit)
  want <- insight::get_parameters(cs$ref)
  # Parametric rows and one row per smooth term (its edf), not the basis coefficients.
  expect_equal(nrow(got), 6L)
  expect_identical(got$Parameter, want$Parameter)
  expect_identical(got$Component, want$Component)
  expect_lt(rel_diff(got$Estimate, want$Estimate), 1e-6)
  expect_equal(insight::find_parameters(cs$fit), insight::find_parameters(cs$ref))
  got <- insight::get_statistic(cs$fit)
  want <- insight::get_statistic(cs$ref)
  expect_identical(got$Parameter, want$Parameter)
  expect_lt(rel_diff(got$Statistic, want$Statistic), 1e-6)
  expect_identical(attr(got, "statistic"), attr(want, "statistic"))
  expect_identical(attr(insight::get_statistic(cs$pois), "statistic"), attr(insight::get_statistic(cs$pois_ref), "statistic"))
  # Residual degrees of freedom, 1e-6 relative; Wald df for a known scale is Inf.
  expect_lt(rel_diff(insight::get_df(cs$fit, type = "residual"), insight::get_df(cs$ref, type = "residual")), 1e-6)
  expect_identical(insight::get_df(cs$pois, type = "wald"), insight::get_df(cs$pois_ref, type = "wald"))
  expect_lt(rel_diff(as.numeric(insight::get_loglikelihood(cs$fit)), as.numeric(insight::get_loglikelihood(cs$ref))), 1e-6)
  for (what in c("family", "link_function", "is_linear", "is_count", "is_binomial")) {
    expect_identical(insight::model_info(cs$pois)[[what]], insight::model_info(cs$pois_ref)[[what]], label = what)
  }
  expect_equal(insight::find_formula(cs$fit), insight::find_formula(cs$ref), ignore_attr = TRUE)
  expect_identical(insight::n_obs(cs$fit), insight::n_obs(cs$ref))
  want <- insight::get_data(cs$ref)
  expect_setequal(names(insight::get_data(cs$fit)), names(want))
  expect_equal(insight::get_data(cs$fit)[names(want)], want, ignore_attr = TRUE)
})

test_that("insight::get_predicted() gives mgcv's predictions and confidence limits", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("insight")
  cs <- easystats_case()
  nd <- new_points(cs$d, 20)
  for (pair in list(list(cs$fit, cs$ref, "gaussian"), list(cs$pois, cs$pois_ref, "poisson"))) {
    for (predict in c("expectation", "link")) {
      got <- insight::get_predicted(pair[[1]], data = nd, predict = predict, ci = 0.9)
      want <- insight::get_predicted(pair[[2]], data = nd, predict = predict, ci = 0.9)
      label <- paste(pair[[3]], predict)
      # Predictions to 1e-6 relative; standard errors and limits to 1e-4.
      expect_lt(rel_diff(as.numeric(got), as.numeric(want)), 1e-6, label = label)
      expect_columns_close(as.data.frame(got), as.data.frame(want), c("SE", "CI_low", "CI_high"), 1e-4, label)
    }
    got <- insight::get_predicted(pair[[1]])
    expect_lt(rel_diff(as.numeric(got), as.numeric(insight::get_predicted(pair[[2]]))), 1e-6)
  }
})

test_that("compare_performance() and performance's tests give mgcv's tables", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("performance")
  cs <- easystats_case()
  # A second model of each family without the factor (noise in these data), so that
  # neither weight is negligible.
  fit <- cs$fit
  fit2 <- gam_fit(y ~ s(x0) + s(x1) + s(x2), data = cs$d)
  ref <- cs$ref
  ref2 <- mgcv_fit(y ~ s(x0) + s(x1) + s(x2), cs$d, method = "REML")
  pois <- cs$pois
  pois2 <- gam_fit(cnt ~ s(x0) + s(x2), data = cs$d, family = poisson())
  pois_ref <- cs$pois_ref
  pois2_ref <- mgcv_fit(cnt ~ s(x0) + s(x2), cs$d, family = poisson(), method = "REML")
  cases <- list(
    gaussian = list(performance::compare_performance(fit, fit2), performance::compare_performance(ref, ref2)),
    poisson = list(performance::compare_performance(pois, pois2),
                   performance::compare_performance(pois_ref, pois2_ref)),
    rank = list(performance::compare_performance(fit, fit2, rank = TRUE),
                performance::compare_performance(ref, ref2, rank = TRUE)),
    # A warmgam fit first, then an mgcv one.
    mixed = list(performance::compare_performance(fit, ref2), performance::compare_performance(ref, ref2))
  )
  for (label in names(cases)) {
    got <- as.data.frame(cases[[label]][[1]])
    want <- as.data.frame(cases[[label]][[2]])
    expect_named(got, names(want))
    expect_equal(nrow(got), 2L, label = label)
    num <- setdiff(names(want), c("Name", "Model"))
    # Every index and weight (and Performance_Score) to 1e-6 relative.
    expect_columns_close(got, want, num, 1e-6, label)
    if (!is.null(got$AIC_wt)) expect_gt(min(got$AIC_wt), 1e-3)
  }
  got <- as.data.frame(cases$gaussian[[1]])
  expect_identical(got$Name, c("fit", "fit2"))
  expect_identical(got$Model, c("warmgam", "warmgam"))
  expect_identical(as.data.frame(cases$mixed[[1]])$Model, c("warmgam", "gam"))
  # insight's list of the models, named as for the mgcv fits.
  expect_identical(names(insight::ellipsis_info(fit, fit2)), c("fit", "fit2"))
  expect_identical(names(insight::ellipsis_info(ref, ref2)), c("ref", "ref2"))
  for (test in c("test_performance", "test_likelihoodratio", "test_wald", "test_bf")) {
    f <- getExportedValue("performance", test)
    got <- as.data.frame(f(fit, fit2))
    want <- as.data.frame(f(ref, ref2))
    expect_named(got, names(want))
    # df, statistics, p-values and Bayes factors to 1e-6 relative.
    expect_columns_close(got, want, intersect(c("df", "df_diff", "Chi2", "F", "p", "BF", "log_BF"), names(want)),
                         1e-6, test)
  }
})
