#!/usr/bin/env bash
# Run apiscope's fuzz targets (fuzz/), each seeded from the project's fixtures.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 600 s, every target)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Corpora and any
# crash artifacts stay under fuzz/corpus and fuzz/artifacts (not committed). Exits non-zero
# when a target finds a crash.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(read_any tls_capture filter_parser spec_loader)
cd "$root/fuzz"
seed() {
  local t=$1 dir=$root/fuzz/corpus/$1
  mkdir -p "$dir"
  case $t in
    read_any)
      find "$root/fixtures" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.har' -o -name '*.chlsj' -o -name '*.mitm' \) \
        -size -300k -exec cp -t "$dir" {} + ;;
    tls_capture) cp "$root/fixtures/tls/loopback-https.pcap" "$dir/" ;;
    filter_parser) printf '%s' '~c >=400 | ~dur >500ms & !(~m GET) & ~u "/v1/orders" & ~h "x-api-key"' > "$dir/seed" ;;
    spec_loader) find "$root/fixtures" -type f \( -name '*.yaml' -o -name '*.json' \) -size -300k -exec cp -t "$dir" {} + ;;
  esac
}
status=0
for t in "${targets[@]}"; do
  seed "$t"
  echo "fuzz: $t for ${secs}s"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 || status=1
done
exit $status
