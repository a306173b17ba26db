#!/usr/bin/env bash
# Runs one test command under a deadline, so that a test that hangs fails the run in minutes and
# says where, instead of holding CI until its own limit with no clue.
#
#   scripts/test-deadline.sh SECONDS command [arguments…]
#
# Past SECONDS the test process (QuiverPackageTests.xctest) gets SIGABRT: Swift's backtracer then
# prints every thread's stack. The tests that started and never finished are listed last (CI shows
# the end of the output), and the exit status is 124.
set -uo pipefail
limit="$1"
shift
log="$(mktemp "${TMPDIR:-/tmp}/quiver-test-XXXXXX.log")"
trap 'rm -f "$log"' EXIT

"$@" > >(tee "$log") 2>&1 &
pid=$!
start=$SECONDS
while kill -0 "$pid" 2> /dev/null; do
    if (( SECONDS - start > limit )); then
        echo "test-deadline: $* is still running after ${limit} s: backtraces, then the unfinished tests" >&2
        pkill -ABRT -f 'QuiverPackageTests.xctest' || true
        for _ in $(seq 1 60); do kill -0 "$pid" 2> /dev/null || break; sleep 1; done
        pkill -KILL -f 'QuiverPackageTests.xctest' || true
        kill -KILL "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null
        sleep 1
        python3 - "$log" << 'EOF'
import re
import sys

started, ended = [], set()
for line in open(sys.argv[1], errors="replace"):
    if m := re.match(r'.*◇ Test "(.*?)" started', line):
        started.append(m.group(1))
    elif m := re.match(r'.*[✔✘➜] Test "(.*?)" ', line):
        ended.add(m.group(1))
left = [name for name in dict.fromkeys(started) if name not in ended]
print(f"test-deadline: {len(left)} test(s) started and never finished:", file=sys.stderr)
for name in left:
    print(f"  - {name}", file=sys.stderr)
EOF
        exit 124
    fi
    sleep 2
done
wait "$pid"
