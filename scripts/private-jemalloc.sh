#!/bin/sh
# The private allocator's archive for libweft.so, from Debian's PIC archive:
#
#     private-jemalloc.sh OBJCOPY AR LIBJEMALLOC_PIC_A OUTPUT.a
#
# - Without its constructor (jemalloc.o's one .init_array entry,
#   jemalloc_constructor), which initialised the allocator in every process
#   weft is loaded into, disabled or not: about 57,000 instructions and 25
#   page faults at start. It initialises when weft first allocates
#   (agent/alloc_private.c says how that excludes fork).
# - Without ctl.o, the control interface (mallctl): its name tree is 19.6 KiB
#   of pointers that the loader relocates, and so copies, at every start.
#   agent/alloc_private.c answers for the functions the rest calls.
set -eu
objcopy=$1 ar=$2 in=$3 out=$4
"$objcopy" --remove-section=.init_array "$in" "$out"
if ! "$ar" t "$out" | grep -qx 'ctl\.pic\.o'; then
    echo "private-jemalloc: $in has no ctl.pic.o (not Debian's jemalloc 5.3?)" >&2
    rm -f "$out"
    exit 1
fi
"$ar" d "$out" ctl.pic.o
