#!/usr/bin/env bash
# Builds the npm package "hisock" (the browser client) from the hisock-wasm
# crate:
#   1. cargo build --profile wasm-release --target wasm32-unknown-unknown
#   2. wasm-bindgen --target web  -> wasm/pkg/hisock.js, hisock_bg.wasm, .d.ts
#   3. wasm-opt -Oz (when installed; kept only if it makes the gzipped
#      .wasm smaller)
#   4. package.json + README.md -> wasm/pkg, then npm pack -> target/npm/
#   5. prints the gzipped sizes of the .wasm and the JS glue
# Installs the wasm32 target and the matching wasm-bindgen CLI when missing.
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
cargo build -q --profile wasm-release --target wasm32-unknown-unknown -p hisock-wasm --lib
wasm=$target_dir/wasm32-unknown-unknown/wasm-release/hisock_wasm.wasm

step "wasm-bindgen --target web"
rm -rf "$pkg"
# The profile strips the target_features section, so wasm-bindgen warns that
# it cannot see the enabled features; the output works in every current
# browser all the same.
wasm-bindgen --target web --out-dir "$pkg" --out-name hisock "$wasm" 2> >(grep -v 'target_features\|^$' >&2 || true)

gz_size() { gzip -9 -c "$1" | wc -c; }

if command -v wasm-opt >/dev/null; then
  step "wasm-opt -Oz"
  # rustc enables these wasm features by default; older binaryen releases
  # need to be told.
  if wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$pkg/hisock_bg.wasm" -o "$pkg/hisock_bg.opt.wasm" >/dev/null 2>"$pkg/wasm-opt.log"; then
    before=$(gz_size "$pkg/hisock_bg.wasm")
    after=$(gz_size "$pkg/hisock_bg.opt.wasm")
    if [ "$after" -lt "$before" ]; then
      mv "$pkg/hisock_bg.opt.wasm" "$pkg/hisock_bg.wasm"
      echo "wasm-opt: $before -> $after bytes gzipped"
    else
      rm "$pkg/hisock_bg.opt.wasm"
      echo "wasm-opt: kept the rustc output ($before bytes gzipped; wasm-opt gave $after)"
    fi
    rm -f "$pkg/wasm-opt.log"
  else
    echo "wasm-opt failed (see $pkg/wasm-opt.log); keeping the rustc output" >&2
    rm -f "$pkg/hisock_bg.opt.wasm"
  fi
else
  echo "wasm-opt not installed (apt-get install binaryen): skipping"
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
    "./hisock_bg.wasm": "./hisock_bg.wasm",
  },
  files: ["hisock.js", "hisock.d.ts", "hisock_bg.wasm", "hisock_bg.wasm.d.ts", "README.md"],
  sideEffects: false,
  keywords: ["websocket", "events", "messagepack", "wasm", "socket", "hisock"],
};
require("fs").writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
JS
cp wasm/npm/README.md "$pkg/README.md"

step "npm pack -> target/npm"
mkdir -p "$npm_out"
tarball=$(cd "$pkg" && npm pack --silent --pack-destination "$npm_out")
echo "$npm_out/$tarball"

wasm_gz=$(gz_size "$pkg/hisock_bg.wasm")
js_gz=$(gz_size "$pkg/hisock.js")
total=$((wasm_gz + js_gz))
printf 'gzipped sizes: hisock_bg.wasm %d bytes (%d raw), hisock.js %d bytes, together %d bytes (%d KiB)\n' \
  "$wasm_gz" "$(wc -c <"$pkg/hisock_bg.wasm")" "$js_gz" "$total" "$(((total + 1023) / 1024))"
