#!/usr/bin/env bash
# Makes sure the Debian packages weft needs to build and test are installed.
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and exits 1. Sourced by scripts/quickstart and
# scripts/test (`deps_ensure build` or `deps_ensure test`).

# To build libweft.so and its example (binutils: objcopy copies jemalloc's
# archive without its constructor; libiberty-dev: the demanglers' archive).
WEFT_BUILD_PACKAGES=(gcc binutils pkg-config meson ninja-build libcurl4-openssl-dev
    libjemalloc-dev libiberty-dev zlib1g-dev python3)
# To run every test: the launcher tests read ELF headers (binutils), the OTLP
# tests decode with the OpenTelemetry JS project's decoder (nodejs, npm) and
# read back with protobuf-c what weft writes (libprotobuf-c-dev,
# protobuf-c-compiler: generated at build time from exporter/proto), the
# static-binary launcher test links against glibc's static archive, the
# unwinder tests build C++ programs (g++) and run one under memcheck (valgrind),
# the exit-from-a-signal-handler test stops a thread with gdb, the linkage
# test watches a start with strace, scripts/check-format needs
# clang-format 14 exactly (other versions format differently), the
# timeline test opens `weft timeline`'s output in speedscope in a headless
# browser (chromium) and keeps a screenshot, and the prometheus output's test
# scrapes with a real Prometheus and lints with its promtool (prometheus;
# tests/integration/test-promserver.py).
WEFT_TEST_PACKAGES=(binutils libc6-dev nodejs npm libprotobuf-c-dev protobuf-c-compiler g++
    valgrind gdb strace clang-format-14 chromium prometheus)

deps_missing() {
    local p
    for p in "$@"; do
        # A Node.js that ships its own npm (not Debian's split packages) counts.
        case $p in nodejs | npm) command -v "${p%js}" >/dev/null 2>&1 && continue ;; esac
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            printf '%s\n' "$p"
    done
}

deps_ensure() {
    local want=("${WEFT_BUILD_PACKAGES[@]}")
    [ "${1:-build}" = test ] && want+=("${WEFT_TEST_PACKAGES[@]}")
    local missing
    missing=$(deps_missing "${want[@]}" | tr '\n' ' ')
    [ -z "${missing// /}" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "weft: installing ${missing}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >&2
        return
    fi
    echo "weft: these Debian packages are missing; install them first:" >&2
    echo "  sudo apt-get install -y ${missing}" >&2
    exit 1
}
