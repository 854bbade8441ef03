# Sourced by the benchmark scripts: bench_capture ARG sets FILE and BYTES.
#   ARG  an existing capture (used as is), or a SIZE such as 100M or 1G: then
#        /tmp/apiscope-bench-SIZE.pcap, generated once with ../shared/gen/gen_pcap.py
#        (looked for next to the repository, one level higher, or in $APISCOPE_SHARED).
# Expects HERE (the repository root) to be set.
bench_capture() {
  local arg=$1 shared="" d
  for d in "$HERE/../shared" "$HERE/../../shared" "${APISCOPE_SHARED:-/nonexistent}"; do
    if [ -f "$d/gen/gen_pcap.py" ]; then shared=$(cd "$d" && pwd); break; fi
  done
  if [ -f "$arg" ]; then
    FILE=$arg
  else
    FILE=/tmp/apiscope-bench-$arg.pcap
    if [ ! -f "$FILE" ]; then
      [ -n "$shared" ] || { echo "no ../shared/gen/gen_pcap.py to generate $arg" >&2; exit 2; }
      echo "generating $FILE ($arg) ..." >&2
      python3 "$shared/gen/gen_pcap.py" --bytes "$arg" -o "$FILE" >&2
    fi
  fi
  BYTES=$(stat -c %s "$FILE")
}
