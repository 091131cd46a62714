#!/usr/bin/env bash
# Builds the npm package "hisock" (the browser client) from the hisock-wasm
# crate:
#   1. cargo build --profile wasm-release --target wasm32-unknown-unknown
#      --features talc (without the reference-types target feature; the
#      dependencies' source paths in panic locations relative to cargo's
#      registry)
#   2. wasm-bindgen --target web  -> wasm/pkg/hisock.js, hisock_bg.wasm, .d.ts
#      (without the wasm `name` and `producers` sections); the crate's
#      hand-written JS (wasm/src/js/errors.js, a wasm-bindgen snippet) is
#      inlined into hisock.js (wasm/npm/inline-snippets.mjs)
#   3. wasm-opt (binaryen from wasm/npm/build-tools, else the system's): a few
#      flag sets, keeping whichever makes the gzipped .wasm smallest (none if
#      none helps), then short import/export names in the .wasm and the glue
#      (wasm/npm/minify-names.mjs)
#   4. terser minifies hisock.js (kept only if the gzipped file is smaller)
#   5. package.json (with `exports`: ".", "./hisock_bg.wasm" typed as a URL
#      module, "./package.json"), hisock_bg.wasm.d.ts and README.md ->
#      wasm/pkg, then npm pack -> target/npm/
#   6. prints the gzipped sizes of the .wasm and the JS glue, and fails if
#      together they exceed the budget (84 KiB; HISOCK_NPM_SIZE_BUDGET
#      overrides it) when every size step above could run
# Installs the wasm32 target, the matching wasm-bindgen CLI and the npm build
# tools (wasm/npm/build-tools: terser, binaryen) when missing.
# Honours CARGO_TARGET_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

target_dir=${CARGO_TARGET_DIR:-$root/target}
pkg=$root/wasm/pkg
npm_out=$root/target/npm

step() { printf '==> %s\n' "$*"; }

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  step "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi
wb_version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$"; then
  step "installing wasm-bindgen-cli $wb_version (a few minutes)"
  cargo install wasm-bindgen-cli --version "$wb_version"
fi
command -v npm >/dev/null || { echo "build-npm.sh: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }

step "cargo build (wasm-release, wasm32)"
# Without the reference-types feature, wasm-bindgen keeps JS values in a
# table in the glue instead of an externref table in the .wasm: about 1 KB
# smaller gzipped (.wasm and glue together), and it runs in every browser.
# (A RUSTFLAGS of the caller's takes precedence over this.)
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} -C target-feature=-reference-types"
# Panic locations name their source files: dependencies' as
# "futures-util-0.3.34/src/…" rather than under this machine's cargo home
# (shorter, and the package does not depend on where it was built).
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  if [ -d "$src" ]; then
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS+=" --remap-path-prefix=$src="
  fi
done
cargo build -q --profile wasm-release --target wasm32-unknown-unknown -p hisock-wasm --lib --features talc
wasm=$target_dir/wasm32-unknown-unknown/wasm-release/hisock_wasm.wasm

step "wasm-bindgen --target web"
rm -rf "$pkg"
# The profile strips the target_features section, so wasm-bindgen warns that
# it cannot see the enabled features; the output works in every current
# browser all the same.
wasm-bindgen --target web --remove-name-section --remove-producers-section \
  --out-dir "$pkg" --out-name hisock "$wasm" 2> >(grep -v 'target_features\|^$' >&2 || true)
# One JS file that exports HisockError (see wasm/npm/inline-snippets.mjs).
node wasm/npm/inline-snippets.mjs "$pkg" HisockError

gz_size() { gzip -9 -n -c "$1" | wc -c; }

tools=$root/wasm/npm/build-tools
if [ ! -d "$tools/node_modules/terser" ] || [ ! -d "$tools/node_modules/binaryen" ]; then
  step "installing the npm build tools (terser, binaryen)"
  (cd "$tools" && timeout 600 npm ci --no-audit --no-fund --silent) ||
    echo "build-npm.sh: could not install wasm/npm/build-tools; building without them" >&2
fi

# Binaryen 132 (npm) shrinks the gzipped .wasm more than Debian's 108.
# Steps 3 and 4 are what the size budget assumes; without their tools the
# package still builds, and the budget only warns.
fully_optimized=true
wasm_opt=$tools/node_modules/.bin/wasm-opt
[ -x "$wasm_opt" ] || wasm_opt=$(command -v wasm-opt || true)
if [ -n "$wasm_opt" ]; then
  step "wasm-opt ($("$wasm_opt" --version 2>/dev/null | head -n1))"
  # rustc enables these wasm features by default; binaryen needs to be told.
  features="--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
    --enable-mutable-globals --enable-reference-types --enable-multivalue"
  # What holds for rustc's output, and lets binaryen fold more: safe Rust
  # never loads or stores out of bounds nor divides by zero unchecked
  # (-iit: implicit traps never happen; panics are explicit `unreachable`s,
  # which stay), and the low 1 KiB of memory is the far end of the 1 MiB
  # stack that lld places first, never reached by a pointer plus a small
  # constant offset that wraps (--low-memory-unused). About 170 bytes.
  assume="-iit --low-memory-unused"
  # -ocimfs=0 (no inlining of functions with one caller) is what makes the
  # gzipped output smaller: inlining shrinks the raw .wasm but repeats code
  # that gzip would otherwise share; -aimfs=4..6 (always inline functions
  # that small) removes call overhead of tiny helpers. Measured, each of
  # these wins on some builds; the smallest result is kept.
  best=$(gz_size "$pkg/hisock_bg.wasm")
  echo "rustc output: $best bytes gzipped"
  for flags in "-O3 -ocimfs=0 -fimfs=0 --converge" "-O3 -ocimfs=0 -fimfs=0 -aimfs=4 --converge" \
      "-O3 -ocimfs=0 -fimfs=0 -aimfs=5 --converge" "-O3 -ocimfs=0 -fimfs=0 -aimfs=6 --converge" \
      "-Oz -ocimfs=0 -fimfs=0 -aimfs=6 --converge" "-Os -ocimfs=0 -aimfs=6 --converge"; do
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    if timeout 600 "$wasm_opt" $flags $assume $features "$pkg/hisock_bg.wasm" -o "$pkg/opt.wasm" \
        >/dev/null 2>"$pkg/wasm-opt.log"; then
      size=$(gz_size "$pkg/opt.wasm")
      echo "wasm-opt $flags $assume: $size bytes gzipped"
      if [ "$size" -lt "$best" ]; then
        best=$size
        mv "$pkg/opt.wasm" "$pkg/best.wasm"
      fi
    else
      echo "wasm-opt $flags failed:" >&2
      cat "$pkg/wasm-opt.log" >&2
    fi
  done
  [ -f "$pkg/best.wasm" ] && mv "$pkg/best.wasm" "$pkg/hisock_bg.wasm"
  rm -f "$pkg/opt.wasm" "$pkg/wasm-opt.log"
  # One- and two-letter names between the .wasm and the glue instead of
  # wasm-bindgen's hashed ones (see wasm/npm/minify-names.mjs).
  # shellcheck disable=SC2086
  if "$wasm_opt" $features --minify-imports-and-exports-and-modules "$pkg/hisock_bg.wasm" \
      -o "$pkg/min.wasm" >"$pkg/names.json" 2>"$pkg/wasm-opt.log" &&
    node wasm/npm/minify-names.mjs "$pkg/names.json" "$pkg/min.wasm" "$pkg"; then
    echo "short import/export names: $best -> $(gz_size "$pkg/min.wasm") bytes gzipped"
    mv "$pkg/min.wasm" "$pkg/hisock_bg.wasm"
  else
    cat "$pkg/wasm-opt.log" >&2
    echo "build-npm.sh: keeping wasm-bindgen's import/export names" >&2
  fi
  rm -f "$pkg/min.wasm" "$pkg/names.json" "$pkg/wasm-opt.log"
else
  echo "wasm-opt not available (npm build tools or apt-get install binaryen): skipping"
  fully_optimized=false
fi

terser=$tools/node_modules/.bin/terser
if [ -x "$terser" ]; then
  step "terser hisock.js"
  # The @ts-self-types comment tells Deno and bundlers where the types are.
  if "$terser" "$pkg/hisock.js" --module --compress passes=2 --mangle \
      --comments '/@ts-self-types/' -o "$pkg/hisock.min.js" &&
    [ "$(gz_size "$pkg/hisock.min.js")" -lt "$(gz_size "$pkg/hisock.js")" ]; then
    echo "terser: $(gz_size "$pkg/hisock.js") -> $(gz_size "$pkg/hisock.min.js") bytes gzipped"
    mv "$pkg/hisock.min.js" "$pkg/hisock.js"
  else
    rm -f "$pkg/hisock.min.js"
    echo "terser: kept the wasm-bindgen output"
  fi
else
  echo "terser not available (wasm/npm/build-tools): hisock.js is not minified"
  fully_optimized=false
fi

step "package.json and README.md"
version=$(cargo metadata --no-deps --format-version 1 |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s).packages.find(p=>p.name==="hisock-wasm");process.stdout.write(p.version)})')
license=$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n1)
node - "$pkg/package.json" "$version" "$license" <<'JS'
const [file, version, license] = process.argv.slice(2);
const pkg = {
  name: "hisock",
  version,
  description: "Browser client for hisock: named events with MessagePack payloads over WebSocket (Rust + WebAssembly)",
  license,
  type: "module",
  main: "hisock.js",
  module: "hisock.js",
  types: "hisock.d.ts",
  exports: {
    ".": { types: "./hisock.d.ts", default: "./hisock.js" },
    // `import wasmUrl from "hisock/hisock_bg.wasm"` with a bundler that
    // turns .wasm imports into URLs (see the README's bundler recipes).
    "./hisock_bg.wasm": { types: "./hisock_bg.wasm.d.ts", default: "./hisock_bg.wasm" },
    "./package.json": "./package.json",
  },
  files: ["hisock.js", "hisock.d.ts", "hisock_bg.wasm", "hisock_bg.wasm.d.ts", "README.md"],
  sideEffects: false,
  keywords: ["websocket", "events", "messagepack", "wasm", "socket", "hisock"],
};
require("fs").writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
JS
cp wasm/npm/README.md "$pkg/README.md"
# wasm-bindgen's hisock_bg.wasm.d.ts declares the module's raw exports, which
# no application imports; the package's "./hisock_bg.wasm" entry is a URL.
cp wasm/npm/hisock_bg.wasm.d.ts "$pkg/hisock_bg.wasm.d.ts"
# npm ships LICENSE* files by itself; the repository's, if it has any.
for license_file in LICENSE* LICENCE*; do
  if [ -f "$license_file" ]; then cp "$license_file" "$pkg/"; fi
done

step "npm pack -> target/npm"
mkdir -p "$npm_out"
tarball=$(cd "$pkg" && npm pack --silent --pack-destination "$npm_out")
echo "$npm_out/$tarball"

wasm_gz=$(gz_size "$pkg/hisock_bg.wasm")
js_gz=$(gz_size "$pkg/hisock.js")
total=$((wasm_gz + js_gz))
printf 'gzipped sizes: hisock_bg.wasm %d bytes (%d raw), hisock.js %d bytes, together %d bytes (%d KiB)\n' \
  "$wasm_gz" "$(wc -c <"$pkg/hisock_bg.wasm")" "$js_gz" "$total" "$(((total + 1023) / 1024))"

budget=${HISOCK_NPM_SIZE_BUDGET:-86016}
if [ "$total" -gt "$budget" ]; then
  message="the package is $total bytes gzipped, over its budget of $budget by $((total - budget))"
  if $fully_optimized; then
    echo "build-npm.sh: $message" >&2
    exit 1
  fi
  echo "build-npm.sh: warning: $message (built without wasm-opt or terser)" >&2
else
  echo "size budget: $total of $budget bytes ($((budget - total)) to spare)"
fi
