#!/usr/bin/env bash
# Runs every hisock test on a fresh machine. Installs what is missing (the
# wasm32 target, the wasm-bindgen CLI matching the pinned crate, Chromium and
# ChromeDriver, redis-server, binaryen) and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "checking tools"
apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v chromedriver >/dev/null || apt_packages+=(chromium-driver)
command -v redis-server >/dev/null || apt_packages+=(redis-server)
command -v wasm-opt >/dev/null || apt_packages+=(binaryen)
command -v node >/dev/null || apt_packages+=(nodejs npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
  step "installing ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
else
  echo "chromium, chromedriver, redis-server, wasm-opt, node: present"
fi

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
if rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  echo "wasm32-unknown-unknown: present"
else
  step "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly; the crate is pinned with
# "=" in Cargo.toml.
wb_version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
if wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$"; then
  echo "wasm-bindgen $wb_version: present"
else
  step "installing wasm-bindgen-cli $wb_version (a few minutes)"
  cargo install wasm-bindgen-cli --version "$wb_version"
fi

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "core and the browser client build for wasm32 (core without tokio)"
cargo clippy -p hisock --no-default-features --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p hisock-wasm --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy -p hisock-wasm --target wasm32-unknown-unknown --all-targets --all-features -- -D warnings

step "docs (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features -q

step "the library crates package for crates.io (cargo publish --dry-run)"
# --no-verify: verifying compiles the four crates and their ~130
# dependencies once more from the packaged sources (it passes; 1m46 on a
# loaded 2-core machine with a warm cache, more when cold), which the
# clippy and test steps already compile from the same files; packaging alone
# checks the manifests (metadata, versioned path dependencies) and the file
# lists, in about 7 s. --allow-dirty lets it run on a work tree with edits.
cargo publish --dry-run --workspace --no-verify --allow-dirty -q

# The oldest Rust the libraries build with (rust-version in Cargo.toml):
# several of their dependencies use edition 2024, which needs 1.85. Cost on
# a fresh machine: the toolchain (minimal profile, about 25 s) and a cold
# `check` of ~130 crates (about 50 s of CPU; 3-4 min on a loaded 2-core
# machine); under a second once checked.
msrv=$(sed -n 's/^rust-version = "\([0-9.]*\)"/\1/p' Cargo.toml)
step "the library crates build with Rust $msrv (their rust-version)"
if rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  echo "Rust $msrv: present"
else
  rustup toolchain install "$msrv" --profile minimal
fi
# Their published features, without `fuzzing` (hidden, for cargo-fuzz).
cargo "+$msrv" check -q -p hisock -p hisock-tcp -p hisock-ws -p hisock-wasm \
  --features hisock/metrics,hisock-tcp/tls,hisock-ws/tls,hisock-ws/axum

step "tests"
cargo test --workspace --all-features
# The client-only core (what the browser build compiles), natively.
cargo test -p hisock --no-default-features

if [ -f scripts/browser-tests.sh ]; then
  step "browser tests (wasm-bindgen-test and the npm package in Chromium)"
  bash scripts/browser-tests.sh
fi

step "all tests passed"
