#!/bin/sh
# A private copy of libiberty's C++ and Rust demanglers for the exporter's
# function names (exporter/demangle.c), built from Debian's libiberty.a
# (libiberty-dev, the same code as binutils' c++filt):
#
#     private-demangler.sh LIBIBERTY_A OUTPUT.o
#
# Its three objects (the Itanium C++ ABI demangler, the Rust one and the
# character table both use) are linked into one; only the two callback entry
# points stay global, renamed weft_iberty_cplus and weft_iberty_rust, so no
# libiberty name can clash with a program's. Their allocation calls are
# renamed too (weft_iberty_malloc, _realloc, _free: exporter/demangle.c sends
# them to the private allocator), so libweft.so imports no allocator of the
# program's; the callback entry points allocate nothing in any case.
set -eu
iberty=$1
case $2 in
/*) out=$2 ;;
*) out=$(pwd)/$2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
ar x "$iberty" cp-demangle.o rust-demangle.o safe-ctype.o
ld -r -o demangler.o cp-demangle.o rust-demangle.o safe-ctype.o
objcopy --redefine-sym cplus_demangle_v3_callback=weft_iberty_cplus \
    --redefine-sym rust_demangle_callback=weft_iberty_rust \
    --redefine-sym malloc=weft_iberty_malloc \
    --redefine-sym realloc=weft_iberty_realloc \
    --redefine-sym free=weft_iberty_free \
    --keep-global-symbol=weft_iberty_cplus --keep-global-symbol=weft_iberty_rust \
    demangler.o "$out"
