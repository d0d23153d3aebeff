#!/usr/bin/env bash
# Tests of the launcher, scripts/weft.
#
#     test-launcher.sh BUILDDIR SRCDIR
#
# Most checks preload a dummy shared object compiled here, so they do not
# depend on libweft.so working (or being built). The checks that run the real
# library are skipped when BUILDDIR/hooks/libweft.so does not exist.
# The last line is "N passed, N failed"; the status is nonzero on any failure.
#
# Many commands below are single-quoted on purpose: they are expanded by the
# program the launcher runs, not here.
# shellcheck disable=SC2016
set -uo pipefail

if (($# != 2)); then
    echo "usage: $0 BUILDDIR SRCDIR" >&2
    exit 2
fi
builddir=$(readlink -f -- "$1")
srcdir=$(readlink -f -- "$2")
weft=$srcdir/scripts/weft
cc=${CC:-cc}

tmp=$(mktemp -d)
tmp=$(readlink -f -- "$tmp")
trap 'rm -rf -- "$tmp"' EXIT

passed=0
failed=0
skipped=0
status=0

ok() {
    passed=$((passed + 1))
    printf 'ok - %s\n' "$1"
}

not_ok() {
    failed=$((failed + 1))
    printf 'not ok - %s\n' "$1"
    shift
    local line
    for line in "$@"; do
        printf '    %s\n' "$line"
    done
    printf '    status %s; stdout:\n' "$status"
    awk '{ print "        " $0 }' "$tmp/stdout"
    printf '    stderr:\n'
    awk '{ print "        " $0 }' "$tmp/stderr"
}

skip() {
    skipped=$((skipped + 1))
    printf 'skip - %s\n' "$1"
}

# run CMD...: runs CMD with stdout, stderr and status kept for the checks.
run() {
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    status=$?
}

# expect NAME STATUS [stdout|stderr REGEX]...: the last run's status, and
# lines matching (grep -E) in its output.
expect() {
    local name=$1 want=$2
    shift 2
    if [[ $status != "$want" ]]; then
        not_ok "$name" "expected status $want"
        return
    fi
    while (($# >= 2)); do
        if ! grep -q -E -e "$2" "$tmp/$1"; then
            not_ok "$name" "expected $1 to match: $2"
            return
        fi
        shift 2
    done
    ok "$name"
}

# expect_out NAME STATUS TEXT: status, and stdout exactly TEXT.
expect_out() {
    if [[ $status != "$2" ]]; then
        not_ok "$1" "expected status $2"
    elif [[ $(cat "$tmp/stdout") != "$3" ]]; then
        not_ok "$1" "expected stdout: $3"
    else
        ok "$1"
    fi
}

# expect_quiet NAME: nothing on stderr.
expect_quiet() {
    if [[ -s $tmp/stderr ]]; then
        not_ok "$1" "expected nothing on stderr"
    else
        ok "$1"
    fi
}

show_preload='printf "%s" "$LD_PRELOAD"'

# --- Fixtures -------------------------------------------------------------

if ! "$cc" -shared -fPIC -o "$tmp/libdummy.so" -x c /dev/null 2>"$tmp/stderr" ||
    ! "$cc" -shared -fPIC -o "$tmp/libother.so" -x c /dev/null 2>>"$tmp/stderr"; then
    echo "cannot build a shared object with $cc:" >&2
    cat "$tmp/stderr" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
dummy=$tmp/libdummy.so
other=$tmp/libother.so

# A program that prints LD_PRELOAD and exits with status 3.
cat >"$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	const char *p = getenv("LD_PRELOAD");
	printf("%s\n", p ? p : "");
	return 3;
}
EOF
"$cc" -o "$tmp/dynamic" "$tmp/prog.c" 2>/dev/null || true
have_static=0
if "$cc" -static -o "$tmp/static" "$tmp/prog.c" 2>/dev/null; then
    have_static=1
fi
have_static_pie=0
if "$cc" -static-pie -fPIE -o "$tmp/static-pie" "$tmp/prog.c" 2>/dev/null; then
    "$tmp/static-pie" >/dev/null
    [[ $? != 3 ]] || have_static_pie=1
fi

export WEFT_LIB=$dummy
unset LD_PRELOAD

# --- Help and version -----------------------------------------------------

run "$weft" --help
expect "weft --help" 0 stdout 'weft run'
run "$weft" help
expect "weft help" 0 stdout 'weft run'
run "$weft" run --help
expect "weft run --help" 0 stdout 'weft run' stdout 'LD_PRELOAD'
run "$weft"
expect "weft without a command: usage, status 2" 2 stderr 'weft run'
run "$weft" frobnicate
expect "unknown command: status 2" 2 stderr 'unknown command'

version=$(sed -E -n "s/^[[:space:]]*version:[[:space:]]*'([^']*)'.*/\\1/p" \
    "$srcdir/meson.build" | head -n 1)
run "$weft" version
expect_out "weft version prints the project version ($version)" 0 "weft $version"

mkdir -p "$tmp/alone"
cp "$weft" "$tmp/alone/weft"
run "$tmp/alone/weft" version
expect "weft version outside a source tree: built-in fallback" 0 \
    stdout '^weft [0-9]+\.[0-9]+\.[0-9]+$'

# --- Finding the library --------------------------------------------------

run "$weft" run sh -c "$show_preload"
expect_out "WEFT_LIB is preloaded, no trailing colon" 0 "$dummy"

run env -C "$tmp" WEFT_LIB=libdummy.so "$weft" run sh -c "$show_preload"
expect_out "a relative WEFT_LIB is made absolute" 0 "$dummy"

run env WEFT_LIB="$other" "$weft" run --lib "$dummy" sh -c "$show_preload"
expect_out "--lib wins over WEFT_LIB" 0 "$dummy"

run env WEFT_LIB="$other" "$weft" run --lib="$dummy" sh -c "$show_preload"
expect_out "--lib=PATH" 0 "$dummy"

run env WEFT_LIB="$tmp/nonexistent.so" "$weft" run true
expect "a missing WEFT_LIB: status 127, named" 127 stderr 'WEFT_LIB=.*nonexistent\.so'

run "$weft" run --lib "$tmp/nonexistent.so" true
expect "a missing --lib: status 127, named" 127 stderr 'nonexistent\.so'

# The layouts next to the script: a build tree, then an install prefix.
mkdir -p "$tmp/src/scripts" "$tmp/src/build/hooks" "$tmp/bin"
cp "$weft" "$tmp/src/scripts/weft"
cp "$dummy" "$tmp/src/build/hooks/libweft.so"
run env -u WEFT_LIB "$tmp/src/scripts/weft" run sh -c "$show_preload"
expect_out "found in the build tree (../build/hooks)" 0 "$tmp/src/build/hooks/libweft.so"

ln -s "$tmp/src/scripts/weft" "$tmp/bin/weft"
run env -u WEFT_LIB "$tmp/bin/weft" run sh -c "$show_preload"
expect_out "found through a symlink to the launcher" 0 "$tmp/src/build/hooks/libweft.so"

mkdir -p "$tmp/prefix/bin" "$tmp/prefix/lib/x86_64-linux-gnu"
cp "$weft" "$tmp/prefix/bin/weft"
cp "$dummy" "$tmp/prefix/lib/libweft.so"
run env -u WEFT_LIB "$tmp/prefix/bin/weft" run sh -c "$show_preload"
expect_out "found installed in ../lib" 0 "$tmp/prefix/lib/libweft.so"
cp "$dummy" "$tmp/prefix/lib/x86_64-linux-gnu/libweft.so"
run env -u WEFT_LIB "$tmp/prefix/bin/weft" run sh -c "$show_preload"
expect_out "../lib/x86_64-linux-gnu comes before ../lib" 0 \
    "$tmp/prefix/lib/x86_64-linux-gnu/libweft.so"

system_lib=''
for f in /usr/local/lib/x86_64-linux-gnu/libweft.so /usr/local/lib/libweft.so \
    /usr/lib/x86_64-linux-gnu/libweft.so; do
    [[ -e $f ]] && system_lib=$f
done
if [[ -z $system_lib ]]; then
    run env -u WEFT_LIB "$tmp/alone/weft" run true
    expect "not found: status 127, places tried and how to build" 127 \
        stderr 'not found' stderr "$tmp/build/hooks/libweft.so" \
        stderr '/usr/lib/x86_64-linux-gnu/libweft.so' stderr 'meson setup build && ninja -C build'
else
    skip "not found (a system copy exists: $system_lib)"
fi

# --- LD_PRELOAD -----------------------------------------------------------

run env LD_PRELOAD="$other" "$weft" run sh -c "$show_preload"
expect_out "prepended to an existing LD_PRELOAD" 0 "$dummy:$other"

run env LD_PRELOAD="$dummy:$other" "$weft" run sh -c "$show_preload"
expect_out "not added twice (already first)" 0 "$dummy:$other"

run env LD_PRELOAD="$other $dummy" "$weft" run sh -c "$show_preload"
expect_out "not added twice (space separated, later)" 0 "$dummy:$other"

ln -s "$dummy" "$tmp/link.so"
run env LD_PRELOAD="$tmp/link.so:$other" "$weft" run sh -c "$show_preload"
expect_out "not added twice (a symlink to the same file)" 0 "$dummy:$other"

mkdir -p "$tmp/old"
cp "$dummy" "$tmp/old/libweft.so"
run env LD_PRELOAD="$other:$tmp/old/libweft.so" "$weft" run sh -c "$show_preload"
expect "another libweft.so in LD_PRELOAD is replaced, with a note" 0 stderr 'old/libweft\.so'
expect_out "another libweft.so in LD_PRELOAD is replaced" 0 "$dummy:$other"

run env LD_PRELOAD= "$weft" run sh -c "$show_preload"
expect_out "an empty LD_PRELOAD: no trailing colon" 0 "$dummy"

# --- Options --------------------------------------------------------------

run "$weft" run --service svc --endpoint http://collector:4318 --output "$tmp/o-%p.jsonl" \
    --report --log-level debug --min-wait 5ms --hooks thread,mutex -- env
expect "options map to variables (--opt VALUE)" 0 \
    stdout '^OTEL_SERVICE_NAME=svc$' \
    stdout '^OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318$' \
    stdout "^WEFT_OUTPUT=$tmp/o-%p\\.jsonl\$" \
    stdout '^WEFT_REPORT=stderr$' \
    stdout '^WEFT_LOG_LEVEL=debug$' \
    stdout '^WEFT_SPAN_MIN_WAIT=5ms$' \
    stdout '^WEFT_HOOKS=thread,mutex$' \
    stdout "^LD_PRELOAD=$dummy\$"

run "$weft" run --service=svc2 --endpoint=http://h:1 --output=out.jsonl --report="$tmp/r.txt" \
    --log-level=info --min-wait=250us --hooks=thread env
expect "options map to variables (--opt=VALUE, no --)" 0 \
    stdout '^OTEL_SERVICE_NAME=svc2$' \
    stdout '^OTEL_EXPORTER_OTLP_ENDPOINT=http://h:1$' \
    stdout '^WEFT_OUTPUT=out\.jsonl$' \
    stdout "^WEFT_REPORT=$tmp/r\\.txt\$" \
    stdout '^WEFT_LOG_LEVEL=info$' \
    stdout '^WEFT_SPAN_MIN_WAIT=250us$' \
    stdout '^WEFT_HOOKS=thread$'

run "$weft" run --console env
expect "--console" 0 stdout '^OTEL_TRACES_EXPORTER=console$' stdout '^OTEL_METRICS_EXPORTER=console$'

run env OTEL_SERVICE_NAME=from-env "$weft" run --service from-option env
expect "an option wins over the environment" 0 stdout '^OTEL_SERVICE_NAME=from-option$'

run env OTEL_SERVICE_NAME=from-env WEFT_HOOKS=fd "$weft" run env
expect "the environment is kept" 0 stdout '^OTEL_SERVICE_NAME=from-env$' stdout '^WEFT_HOOKS=fd$'

run "$weft" run env
if grep -q -E '^(OTEL_|WEFT_(OUTPUT|REPORT|HOOKS|LOG_LEVEL|SPAN_MIN_WAIT)=)' "$tmp/stdout"; then
    not_ok "no option sets no variable"
else
    ok "no option sets no variable"
fi

run "$weft" run --bogus true
expect "an unknown option: status 2" 2 stderr 'unknown option: --bogus'
run "$weft" run --service
expect "an option without its value: status 2" 2 stderr '--service'
run "$weft" run --output= true
expect "an empty value: status 2" 2 stderr '--output'
run "$weft" run --console=yes true
expect "a value to a flag: status 2" 2 stderr '--console'
run "$weft" run
expect "run without a command: status 2" 2 stderr 'no command'
run "$weft" run --service x --
expect "run -- without a command: status 2" 2 stderr 'no command'
run "$weft" run -- -not-a-command
expect "after --, a command may start with -" 127 stderr '-not-a-command: command not found'

# --- Running the program --------------------------------------------------

run "$weft" run sh -c 'exit 7'
expect "the program's exit status is passed through" 7
# The inner bash reports the signal (not this script's stderr).
run bash -c '"$0" run sh -c "kill -TERM \$\$" 2>/dev/null; echo $?' "$weft"
expect_out "the program's signal is passed through (128+15)" 0 143

run bash -c 'echo $$; exec "$0" run sh -c "echo \$\$"' "$weft"
if [[ $status == 0 && $(sed -n 1p "$tmp/stdout") == "$(sed -n 2p "$tmp/stdout")" ]]; then
    ok "the program replaces the launcher (same pid)"
else
    not_ok "the program replaces the launcher (same pid)"
fi

run "$weft" run sh -c 'tr "\0" "\n" </proc/$$/cmdline | head -n 1'
expect_out "argv[0] is kept as typed" 0 "sh"

run "$weft" run no-such-command-weft-test
expect "command not found: status 127" 127 stderr 'no-such-command-weft-test: command not found'
run "$weft" run "$tmp/no-such-file"
expect "no such file: status 127" 127 stderr 'no such file'
printf '#!/bin/sh\nexit 0\n' >"$tmp/not-executable"
run "$weft" run "$tmp/not-executable"
expect "not executable: status 126" 126 stderr 'not executable'
run "$weft" run "$tmp"
expect "a directory: status 126" 126 stderr 'directory'

printf '#!/bin/sh\nprintf "%%s" "$LD_PRELOAD"\nexit 4\n' >"$tmp/script.sh"
chmod +x "$tmp/script.sh"
run "$weft" run "$tmp/script.sh"
expect_out "a #! script runs preloaded" 4 "$dummy"
expect_quiet "a #! script: no warning"

if [[ -x $tmp/dynamic ]]; then
    run "$weft" run "$tmp/dynamic"
    expect_out "a dynamic program runs preloaded" 3 "$dummy"
    expect_quiet "a dynamic program: no warning"
    run env _WEFT_NO_READELF=1 "$weft" run "$tmp/dynamic"
    expect_quiet "a dynamic program, without readelf: no warning"
fi

if ((have_static)); then
    run "$weft" run "$tmp/static"
    expect "a static program: explained, run anyway with its status" 3 \
        stderr '^weft: .*static.* is statically linked' stderr 'LD_PRELOAD' \
        stdout "^$dummy\$"
    run env _WEFT_NO_READELF=1 "$weft" run "$tmp/static"
    expect "a static program, without readelf: explained" 3 stderr 'is statically linked'
else
    skip "a static program (cannot link with -static)"
fi
if ((have_static_pie)); then
    run "$weft" run "$tmp/static-pie"
    expect "a static PIE program: explained" 3 stderr 'is statically linked'
    run env _WEFT_NO_READELF=1 "$weft" run "$tmp/static-pie"
    expect "a static PIE program, without readelf: explained" 3 stderr 'is statically linked'
else
    skip "a static PIE program (cannot link with -static-pie)"
fi

# Setuid: secure-execution mode only when the owner is not the real user.
if [[ -x $tmp/dynamic ]]; then
    cp "$tmp/dynamic" "$tmp/setuid-self"
    chmod u+s "$tmp/setuid-self"
    run "$weft" run "$tmp/setuid-self"
    expect_quiet "setuid to oneself: no warning"
    if ((EUID == 0)) && id -u nobody >/dev/null 2>&1; then
        cp "$tmp/dynamic" "$tmp/setuid"
        chown nobody "$tmp/setuid" && chmod 4755 "$tmp/setuid"
        run "$weft" run "$tmp/setuid"
        expect "a setuid program: explained, run anyway with its status" 3 \
            stderr 'is setuid' stderr 'secure-execution' stderr 'LD_PRELOAD'
        cp "$tmp/dynamic" "$tmp/setgid"
        chgrp nogroup "$tmp/setgid" 2>/dev/null || chgrp "$(id -g nobody)" "$tmp/setgid"
        chmod 2755 "$tmp/setgid"
        run "$weft" run "$tmp/setgid"
        expect "a setgid program: explained, run anyway with its status" 3 stderr 'is setgid'
    else
        skip "a setuid program (needs root to give a file to another user)"
    fi
fi

# --- The bundled example --------------------------------------------------

pool_src=$srcdir/tests/programs/worker-pool.c
if "$cc" -std=gnu17 -Wall -Wextra -Werror -pthread -rdynamic -o "$tmp/worker-pool" \
    "$pool_src" 2>"$tmp/stderr"; then
    ok "worker-pool builds warning-free"
    run "$tmp/worker-pool"
    expect "worker-pool runs" 0 stdout '^worker-pool: 200 items processed by 4 workers ' \
        stdout 'half of the 200 items'
    run "$tmp/worker-pool" -n 50 -w 2
    expect "worker-pool -n 50 -w 2" 0 stdout '^worker-pool: 50 items processed by 2 workers '
    run "$tmp/worker-pool" -w 0
    expect "worker-pool rejects -w 0" 2 stderr 'WORKERS'
else
    status=$?
    : >"$tmp/stdout"
    not_ok "worker-pool builds warning-free"
fi

# --- The real library -----------------------------------------------------

real=$builddir/hooks/libweft.so
if [[ -f $real ]]; then
    if [[ $builddir == "$srcdir/build" ]]; then
        run env -u WEFT_LIB -C "$tmp" "$weft" run --output "$tmp/find.jsonl" \
            sh -c "$show_preload"
        expect_out "finds the build tree's libweft.so" 0 "$real"
    fi
    run env -u WEFT_LIB "$weft" run --lib "$real" --output "$tmp/exit.jsonl" sh -c 'exit 7'
    expect "under libweft.so: the exit status is passed through" 7
    if [[ -x $tmp/worker-pool ]]; then
        run env -u WEFT_LIB -C "$tmp" "$weft" run --lib "$real" --service pool \
            --output "$tmp/pool.jsonl" ./worker-pool
        expect "under libweft.so: worker-pool runs" 0 stdout '200 items processed by 4 workers'
        if [[ -s $tmp/pool.jsonl ]]; then
            ok "under libweft.so: telemetry written to --output"
        else
            not_ok "under libweft.so: telemetry written to --output" "$tmp/pool.jsonl is empty"
        fi
    fi
else
    skip "the real library ($real not built)"
fi

# --- weft send ---------------------------------------------------------------

run "$weft" send
expect "send: no file is a usage error" 2 stderr 'no spool file given'
run "$weft" send --help
expect "send --help" 0 stdout 'weft send FILE'
run env WEFT_SEND="$tmp/no-such-sender" "$weft" send x.spool
expect "send: a WEFT_SEND that does not exist" 127 stderr 'WEFT_SEND='
# A stand-in sender: prints its arguments, exits 5.
printf '#!/bin/sh\necho "sender $*"\nexit 5\n' >"$tmp/fake-send"
chmod +x "$tmp/fake-send"
run env WEFT_SEND="$tmp/fake-send" "$weft" send 'a b.spool' c.spool
expect "send: runs WEFT_SEND with the files, its status passed through" 5 \
    stdout '^sender a b\.spool c\.spool$'
# The install layout: bin/weft, lib/libweft.so and lib/weft/weft-send.
mkdir -p "$tmp/sendprefix/bin" "$tmp/sendprefix/lib/weft"
cp "$weft" "$tmp/sendprefix/bin/weft"
cp "$dummy" "$tmp/sendprefix/lib/libweft.so"
cp "$tmp/fake-send" "$tmp/sendprefix/lib/weft/weft-send"
run env -u WEFT_LIB -u WEFT_SEND "$tmp/sendprefix/bin/weft" send d.spool
expect "send: finds weft/weft-send beside an installed libweft.so" 5 stdout '^sender d\.spool$'
rm -f "$tmp/sendprefix/lib/weft/weft-send"
run env -u WEFT_LIB -u WEFT_SEND "$tmp/sendprefix/bin/weft" send d.spool
expect "send: no weft-send found, said so" 127 stderr 'weft-send not found' \
    stderr 'sendprefix/lib/weft/weft-send'

# --- weft timeline, weft report: weft-read, found as weft-send is ------------

for command in timeline report; do
    run "$weft" "$command"
    expect "$command: no file is a usage error" 2 stderr "$command: no file given"
    run "$weft" "$command" --help
    expect "$command --help" 0 stdout "weft $command FILE"
done
run env WEFT_READ="$tmp/no-such-reader" "$weft" report x.jsonl
expect "report: a WEFT_READ that does not exist" 127 stderr 'WEFT_READ='
printf '#!/bin/sh\necho "reader $*"\nexit 4\n' >"$tmp/fake-read"
chmod +x "$tmp/fake-read"
run env WEFT_READ="$tmp/fake-read" "$weft" timeline 'a b.jsonl' -o t.json
expect "timeline: runs weft-read timeline with the arguments, its status passed through" 4 \
    stdout '^reader timeline a b\.jsonl -o t\.json$'
cp "$tmp/fake-read" "$tmp/sendprefix/lib/weft/weft-read"
run env -u WEFT_LIB -u WEFT_READ "$tmp/sendprefix/bin/weft" report d.jsonl
expect "report: finds weft/weft-read beside an installed libweft.so" 4 \
    stdout '^reader report d\.jsonl$'
rm -f "$tmp/sendprefix/lib/weft/weft-read"
run env -u WEFT_LIB -u WEFT_READ "$tmp/sendprefix/bin/weft" report d.jsonl
expect "report: no weft-read found, said so" 127 stderr 'weft-read not found' \
    stderr 'sendprefix/lib/weft/weft-read'

real_send=$builddir/exporter/weft-send
if [[ -x $real_send ]]; then
    if [[ $builddir == "$srcdir/build" ]]; then
        run env -u WEFT_SEND "$weft" send "$tmp/no-such.spool"
        expect "send: finds the build tree's weft-send" 1 stderr "weft-send: $tmp/no-such.spool: "
    fi
    printf 'not a spool\n' >"$tmp/bad.spool"
    run env WEFT_SEND="$real_send" "$weft" send "$tmp/bad.spool"
    expect "send: a file that is not a spool: one line, kept" 1 \
        stderr 'bad\.spool: not a weft spool file'
    if [[ -f $tmp/bad.spool && $(wc -l <"$tmp/stderr") == 1 ]]; then
        ok "send: the bad file is kept, one line"
    else
        not_ok "send: the bad file is kept, one line"
    fi
else
    skip "weft send with the real sender ($real_send not built)"
fi

# meson install: the launcher in the bindir, finding the installed library
# and sender by itself — no variable set, the build tree out of its reach (the
# installation is moved away from where DESTDIR put it first).
if [[ -f $builddir/hooks/libweft.so && -f $builddir/scripts/weft ]] && command -v meson >/dev/null; then
    if meson install -C "$builddir" --no-rebuild --quiet --destdir "$tmp/dest" >"$tmp/install.log" 2>&1; then
        ok "meson install into a DESTDIR"
        prefix=$(find "$tmp/dest" -path '*/bin/weft' -type f | head -n 1)
        prefix=${prefix%/bin/weft}
        mv -- "$prefix" "$tmp/moved"
        inst=$tmp/moved/bin/weft
        if [[ -x $inst ]]; then
            ok "the launcher is installed, executable"
        else
            not_ok "the launcher is installed, executable" "not found under $tmp/dest"
        fi
        run env -u WEFT_LIB -u WEFT_SEND -u LD_LIBRARY_PATH -u LD_PRELOAD \
            "$inst" run --output "$tmp/inst-%p.jsonl" -- cat /proc/self/maps
        expect "installed: preloads the installed library, found beside itself" 0 \
            stdout "$tmp/moved/lib[^ ]*/libweft\.so\$"
        if grep -q -F "$builddir" "$tmp/stdout"; then
            not_ok "installed: nothing from the build tree is loaded"
        else
            ok "installed: nothing from the build tree is loaded"
        fi
        cp -- "$builddir/tests/programs/worker-pool" "$tmp/moved/example"
        run env -u WEFT_LIB -u WEFT_SEND -u LD_LIBRARY_PATH -u LD_PRELOAD \
            "$inst" run --output "$tmp/inst-example.jsonl" -- "$tmp/moved/example"
        expect "installed: weft run on the bundled example" 0 \
            stdout '^worker-pool: 200 items processed by 4 workers '
        if [[ -s $tmp/inst-example.jsonl ]] &&
            grep -q '"thread worker-3"' "$tmp/inst-example.jsonl"; then
            ok "installed: the example's telemetry, its worker threads' spans included"
        else
            not_ok "installed: the example's telemetry, its worker threads' spans included"
        fi
        run env -u WEFT_LIB -u WEFT_SEND "$inst" send "$tmp/no-such.spool"
        expect "installed: weft send finds the installed sender" 1 \
            stderr "weft-send: $tmp/no-such.spool: "
        run env -u WEFT_LIB -u WEFT_READ "$inst" report "$tmp/inst-example.jsonl"
        expect "installed: weft report finds the installed reader, prints the report" 0 \
            stdout '^weft report: pid [0-9]+, ran ' stdout "telemetry: $tmp/inst-example\.jsonl\$"
        run env -u WEFT_LIB -u WEFT_READ "$inst" timeline "$tmp/inst-example.jsonl" \
            -o "$tmp/inst-example.json"
        expect "installed: weft timeline finds the installed reader" 0 \
            stderr 'wrote .*inst-example\.json: 1 processes, 7 threads'
    else
        not_ok "meson install into a DESTDIR" "$(cat "$tmp/install.log")"
    fi
else
    skip "meson install (no libweft.so built, or no meson)"
fi

((skipped == 0)) || printf '%d skipped\n' "$skipped"
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
