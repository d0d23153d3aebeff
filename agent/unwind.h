/*
 * Call stacks for the hooks: the return addresses on the calling thread.
 *
 * A hook that decides to keep a stack (the start of a long wait, rate-limited)
 * calls weft_unwind_capture and stores the addresses in its event; naming them
 * is the exporter's work. The unwinder is libgcc's, a private copy linked
 * into libweft.so (unwind.c says why):
 *
 *   - it adds no _Unwind_* definition to the program's scope (libgcc_s is the
 *     library that legitimately defines them; libweft.so exports none, and
 *     the copy's names are local or renamed);
 *   - it needs no loading, so it never takes the loader lock from a hook and
 *     costs nothing at process start;
 *   - on glibc 2.35 and later it finds unwind tables with _dl_find_object,
 *     which takes no lock and does not allocate; it opens no descriptor and
 *     changes no signal mask.
 *
 * libunwind was the first plan; see unwind.c for why neither way of keeping
 * it private was usable with Debian's libunwind 1.6.
 */
#ifndef WEFT_AGENT_UNWIND_H
#define WEFT_AGENT_UNWIND_H

#include <stdint.h>

/* The most frames a capture keeps; deeper stacks are cut at the top. */
#define WEFT_UNWIND_MAX_FRAMES 64

/*
 * Stores the calling thread's return addresses in pcs[0..n): pcs[0] is the
 * address in the caller of weft_unwind_capture to which it returns, pcs[1]
 * the caller's caller's, and so on outwards. Returns n, 0 <= n <= max (0 when
 * max <= 0 or no frame could be read). Each address is a return address: the
 * instruction after the call, so symbolise pc - 1.
 *
 * Never allocates with the program's malloc, preserves errno, and is safe in
 * any hook, including one that runs early in a thread or before weft's
 * constructor. It is not async-signal-safe: libgcc's unwinder takes a mutex
 * when a program has registered unwind tables at run time (JITs), so a signal
 * handler that interrupted that must not capture.
 */
int weft_unwind_capture(uintptr_t *pcs, int max);

#endif
