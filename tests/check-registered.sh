#!/bin/sh
# Fails when a test source file is on disk but no meson.build uses it, so that a
# test cannot be added and silently never run.
#
#     check-registered.sh TESTS_DIR REGISTERED...
#
# REGISTERED are the paths, relative to TESTS_DIR, that the meson.build files
# build or run (tests/meson.build collects them in tests_registered). The files
# that must be among them are those matching the patterns below; tests/otlp and
# tests/bench are not checked here.
set -u
cd "$1" || exit 2
shift
registered=" $* "
missing=0
for f in unit/*.c stress/*.c integration/test-*.py integration/test-*.sh \
    behaviour/*.c behaviour/*.py programs/*.c; do
    [ -e "$f" ] || continue
    case $registered in
    *" $f "*) ;;
    *)
        echo "tests/$f is not registered in tests/${f%%/*}/meson.build"
        missing=$((missing + 1))
        ;;
    esac
done
if [ "$missing" -gt 0 ]; then
    echo "$missing test source(s) on disk that no meson.build builds or runs"
    exit 1
fi
echo "every test source is registered"
