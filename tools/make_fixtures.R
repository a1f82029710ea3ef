# Regenerates the mgcv reference fixtures in tests/testthat/fixtures/.
#
#   Rscript tools/make_fixtures.R            # every test file that has references
#   Rscript tools/make_fixtures.R bases cv   # only test-bases.R and test-cv.R
#   Rscript tools/make_fixtures.R --force    # write even if a test fails
#
# Run from the repository root with warmgam installed (the tests fit it too). The
# test files run with recording on: each mgcv_reference() call fits mgcv live, with
# the tight tolerances of mgcv_fit(), and every answer the test takes from it is
# written, with the call's inputs, to fixtures/<file>.rds (helper-references.R). A
# fixture is therefore computed by the very code that later reads it. The mgcv and R
# versions are recorded in each file. Takes about ten minutes.

if (!requireNamespace("mgcv", quietly = TRUE)) {
  stop("tools/make_fixtures.R needs mgcv: the fixtures are mgcv's answers.", call. = FALSE)
}
if (!file.exists("DESCRIPTION") || !dir.exists("tests/testthat")) {
  stop("Run tools/make_fixtures.R from the repository root.", call. = FALSE)
}
library(testthat)
# mgcv's tw() family finds ldTweedie() on the search path only.
suppressPackageStartupMessages(library(mgcv))

cli_args <- commandArgs(trailingOnly = TRUE)
force <- "--force" %in% cli_args
only <- setdiff(cli_args, "--force")

test_files <- list.files("tests/testthat", pattern = "^test-.*\\.R$", full.names = TRUE)
uses <- vapply(test_files, function(f) any(grepl("mgcv_reference(", readLines(f), fixed = TRUE)), NA)
test_files <- setdiff(test_files[uses], "tests/testthat/test-fixtures.R") # tests the helper itself
names <- sub("^test-(.*)\\.R$", "\\1", basename(test_files))
if (length(only)) {
  unknown <- setdiff(only, names)
  if (length(unknown)) stop("No test file with references named ", paste(unknown, collapse = ", "), call. = FALSE)
  test_files <- test_files[names %in% only]
  names <- names[names %in% only]
}

recorder <- new.env(parent = emptyenv())
options(warmgam.reference_recorder = recorder)
results <- testthat::test_dir("tests/testthat", filter = paste0("^(", paste(names, collapse = "|"), ")$"),
                              package = "warmgam", load_package = "installed", reporter = "summary",
                              stop_on_failure = FALSE)
options(warmgam.reference_recorder = NULL)

failed <- as.data.frame(results)
failed <- failed[failed$failed > 0 | failed$error, c("file", "test")]
if (nrow(failed) && !force) {
  print(failed)
  stop("Some tests failed while recording; nothing written (use --force to write anyway).", call. = FALSE)
}

keys <- ls(recorder)
meta <- list(mgcv = as.character(utils::packageVersion("mgcv")), R = R.version.string,
             created = format(Sys.time(), tz = "UTC", usetz = TRUE))
dir.create("tests/testthat/fixtures", showWarnings = FALSE)
for (name in names) {
  mine <- keys[startsWith(keys, paste0(name, "/"))]
  path <- file.path("tests/testthat/fixtures", paste0(name, ".rds"))
  if (!length(mine)) {
    warning("test-", name, ".R recorded no reference; ", path, " left as it is.", call. = FALSE)
    next
  }
  references <- lapply(stats::setNames(mine, mine), function(k) {
    list(inputs = recorder[[k]]$inputs, answers = recorder[[k]]$answers)
  })
  saveRDS(list(meta = meta, references = references), path, compress = "xz", version = 2)
  cat(sprintf("%-28s %3d references %8.0f bytes\n", path, length(mine), file.size(path)))
}
stray <- setdiff(sub("/.*", "", keys), names)
if (length(stray)) {
  warning("Keys whose prefix is not their test file: ", paste(keys[sub("/.*", "", keys) %in% stray], collapse = ", "),
          call. = FALSE)
}
