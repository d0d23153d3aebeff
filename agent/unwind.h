/*
 * Call stacks for the hooks: the return addresses on the calling thread.
 *
 * A hook that decides to keep a stack (the start of a long wait, rate-limited)
 * calls weft_unwind_capture and stores the addresses in its event; naming them
 * is the exporter's work. The unwinder is libgcc's (_Unwind_Backtrace in
 * libgcc_s.so.1, which glibc loads for every pthread_cancel and pthread_exit
 * and every C++ program has):
 *
 *   - it adds no _Unwind_* definition to the program's scope (libgcc_s is the
 *     library that legitimately defines them; libweft.so exports none);
 *   - it is opened once, at agent init when stacks are on (weft_unwind_init),
 *     never from a hook, so a capture never takes the loader lock; libweft.so
 *     does not depend on it, so a process whose agent is disabled does not
 *     load it;
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

/*
 * Opens libgcc_s.so.1 (or finds it open) and keeps its _Unwind_Backtrace and
 * _Unwind_GetIP for weft_unwind_capture, which captures nothing before. Takes
 * the loader's lock: for agent init, never a hook. 0, or -ENOENT when
 * libgcc_s.so.1 or the functions cannot be found. Idempotent; errno kept.
 */
int weft_unwind_init(void);

/* libgcc_s.so.1's handle, opened if it is not loaded yet (NULL if absent); errno kept. */
void *weft_unwind_libgcc(void);

/*
 * libweft.so's forwarders to libgcc_s's personality routine and _Unwind_Resume
 * (agent/unwind_link.c): resolves them now, so that no unwind has to. 0 or
 * -ENOENT; a no-op returning 0 outside libweft.so.
 */
int weft_unwind_link_prepare(void);

#endif
