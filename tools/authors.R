# The Rust crates whose sources the package ships, from Cargo's own metadata.
#
#   Rscript tools/authors.R            writes inst/AUTHORS: each crate's name, version,
#                                      authors, licence and repository
#   Rscript tools/authors.R --check    fails when inst/AUTHORS differs from what it would write
#   Rscript tools/authors.R --crates   prints the shipped crates as "name-version", one a
#                                      line (tools/vendor.sh keeps these, stubs the others)
#
# A crate ships when `cargo tree` (normal and build dependencies, Cargo.lock as it is)
# builds it for one of `targets` below: the Unix platforms R runs on (src/ has no
# Makevars.win). Crates that Cargo.lock lists only for other platforms (Windows, WASI)
# or cfgs (loom) are vendored as manifests only, which Cargo needs to resolve the lock
# file but never compiles. Base R only (no JSON package): run from the package root,
# with `cargo` on the PATH or in ~/.cargo/bin.

targets <- c(
  "x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin", "aarch64-apple-darwin",
  "x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl",
  "x86_64-unknown-freebsd", "i686-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf",
  "powerpc64le-unknown-linux-gnu", "s390x-unknown-linux-gnu",
  "riscv64gc-unknown-linux-gnu", "loongarch64-unknown-linux-gnu"
)
manifest <- file.path("src", "rust", "Cargo.toml")
out_file <- file.path("inst", "AUTHORS")

find_cargo <- function() {
  cargo <- Sys.which("cargo")
  if (nzchar(cargo)) return(unname(cargo))
  home <- Sys.getenv("CARGO_HOME", file.path(Sys.getenv("HOME"), ".cargo"))
  cargo <- file.path(home, "bin", "cargo")
  if (file.exists(cargo)) return(cargo)
  stop("cargo not found on the PATH nor in ", dirname(cargo), call. = FALSE)
}

run <- function(cargo, args) {
  out <- suppressWarnings(system2(cargo, args, stdout = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) {
    stop("`cargo ", paste(args, collapse = " "), "` failed (status ", status, ")", call. = FALSE)
  }
  out
}

# A JSON reader for `cargo metadata`: the tokens are rewritten as R code (objects and
# arrays become lists, null NULL) and parsed by R's own parser.
parse_json <- function(text) {
  pattern <- '"(?:[^"\\\\]|\\\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null|[][{}:,]'
  # useBytes: with character offsets, matching a long UTF-8 text takes minutes.
  tok <- regmatches(text, gregexpr(pattern, text, perl = TRUE, useBytes = TRUE))[[1]]
  Encoding(tok) <- "UTF-8"
  str <- startsWith(tok, '"')
  tok[str] <- gsub("\\/", "/", tok[str], fixed = TRUE)
  tok[str & tok == '""' & c(tok[-1L] == ":", FALSE)] <- '"_"' # R has no empty names
  code <- c("{" = "list(", "[" = "list(", "}" = ")", "]" = ")", ":" = "=",
    "true" = "TRUE", "false" = "FALSE", "null" = "NULL")
  rewrite <- !str & tok %in% names(code)
  tok[rewrite] <- code[tok[rewrite]]
  eval(parse(text = paste(tok, collapse = " "), keep.source = FALSE, encoding = "UTF-8"), baseenv())
}

# "name-version" of every crate some target builds (the root package excluded).
shipped_crates <- function(cargo) {
  rustc <- file.path(dirname(cargo), "rustc")
  if (!file.exists(rustc)) rustc <- "rustc"
  host <- sub("^host: ", "", grep("^host: ", run(rustc, "-vV"), value = TRUE))
  root <- NULL
  crates <- character()
  for (target in unique(c(targets, host))) {
    lines <- run(cargo, c(
      "tree", "--manifest-path", manifest, "--locked", "-e", "normal,build",
      "--target", target, "--prefix", "none", "-f", "'{p}'"
    ))
    m <- regmatches(lines, regexec("^(\\S+) v(\\S+)", lines))
    ids <- vapply(m[lengths(m) == 3L], function(x) paste0(x[2], "-", x[3]), "")
    root <- ids[1]
    crates <- union(crates, ids[-1])
  }
  sort(setdiff(crates, root), method = "radix") # the same order in every locale
}

authors_text <- function(cargo, crates) {
  json <- run(cargo, c("metadata", "--format-version", "1", "--manifest-path", manifest, "--locked"))
  Encoding(json) <- "UTF-8" # cargo writes UTF-8 whatever the locale
  meta <- parse_json(paste(json, collapse = "\n"))
  pkgs <- meta$packages
  ids <- vapply(pkgs, function(p) paste0(p$name, "-", p$version), "")
  missing <- setdiff(crates, ids)
  if (length(missing)) stop("not in cargo metadata: ", paste(missing, collapse = ", "), call. = FALSE)
  pkgs <- pkgs[match(crates, ids)]
  entry <- function(p) {
    authors <- unlist(p$authors)
    licence <- if (!is.null(p$license)) p$license else paste("see", basename(p$license_file))
    c(
      paste(p$name, p$version),
      paste0("  Authors: ", if (length(authors)) paste(authors, collapse = "; ") else
        "not stated in the crate's manifest; see its repository"),
      paste0("  License: ", licence),
      if (!is.null(p$repository)) paste0("  Repository: ", p$repository),
      ""
    )
  }
  header <- c(
    "warmgam's engine is written in Rust. Besides its own code (the warmgam authors,",
    "MIT licence), the package's source tarball ships the sources of the Rust crates",
    "below, in src/rust/vendor.tar.xz, so that it builds without network access. Each",
    "crate keeps its licence files in its directory there. Authors and licences are",
    "those each crate declares in its Cargo.toml.",
    "",
    "The archive also holds the manifests (Cargo.toml only, no code) of the crates that",
    "Cargo.lock lists for other platforms (Windows, WASI) only; they are not built and",
    "not listed here.",
    "",
    "This file is generated by tools/authors.R from `cargo metadata`; do not edit it.",
    "",
    sprintf("%d crates:", length(pkgs)),
    ""
  )
  c(header, unlist(lapply(pkgs, entry)))
}

main <- function(args) {
  cargo <- find_cargo()
  crates <- shipped_crates(cargo)
  if ("--crates" %in% args) {
    writeLines(crates)
    return(invisible())
  }
  text <- authors_text(cargo, crates)
  if ("--check" %in% args) {
    old <- if (file.exists(out_file)) readLines(out_file, encoding = "UTF-8") else character()
    if (!identical(enc2utf8(old), enc2utf8(text))) {
      stop(out_file, " is out of date with src/rust/Cargo.lock: run `make authors` and commit it",
        call. = FALSE)
    }
    message(out_file, " is up to date (", length(crates), " crates)")
    return(invisible())
  }
  dir.create(dirname(out_file), showWarnings = FALSE)
  writeLines(enc2utf8(text), out_file, useBytes = TRUE)
  message("wrote ", out_file, " (", length(crates), " crates)")
}

main(commandArgs(trailingOnly = TRUE))
