#!/bin/sh
# expect-exit.sh CODE COMMAND [ARGS...]: runs COMMAND (its output passes
# through) and fails unless it exits with status CODE.
code=$1
shift
"$@"
status=$?
if [ "$status" -ne "$code" ]; then
  echo "expect-exit.sh: expected exit status $code, got $status" >&2
  exit 1
fi
exit 0
