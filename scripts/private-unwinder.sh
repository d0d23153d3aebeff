#!/bin/sh
# A private copy of libgcc's unwinder for libweft.so's stack capture
# (agent/unwind.c), built from GCC's static libgcc_eh.a:
#
#     private-unwinder.sh LIBGCC_EH_A OUTPUT.o
#
# Its two objects (the DWARF unwinder and its FDE lookup) are linked into one,
# _Unwind_Backtrace and _Unwind_GetIP are renamed weft_eh_backtrace and
# weft_eh_get_ip, and every other symbol it defines is made local: nothing
# named _Unwind_* can reach the program's scope, and libweft.so's own hidden
# _Unwind_Resume (agent/unwind_link.c) does not clash with the copy's.
set -eu
eh=$1
case $2 in
/*) out=$2 ;;
*) out=$(pwd)/$2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
ar x "$eh" unwind-dw2.o unwind-dw2-fde-dip.o
ld -r -o unwinder.o unwind-dw2.o unwind-dw2-fde-dip.o
objcopy --redefine-sym _Unwind_Backtrace=weft_eh_backtrace \
    --redefine-sym _Unwind_GetIP=weft_eh_get_ip \
    --keep-global-symbol=weft_eh_backtrace --keep-global-symbol=weft_eh_get_ip \
    unwinder.o "$out"
