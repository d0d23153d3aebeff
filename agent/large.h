/*
 * WEFT_LARGE: where a zero-initialised static of 2 KiB or more goes — after
 * all the small ones (x86-64's large-data section .lbss, which the linker
 * places after .bss), so that the small statics of every module share a few
 * pages. A short process's exit and a forked child's fork handlers write a
 * few words of most modules' state; with the tables in between, each
 * module's words sat on a page of their own, and each page is a page fault
 * (about 25 µs in a VM): a copy in a forked child, a fresh page in a short
 * process. Elsewhere it is nothing: the statics stay where they were.
 */
#ifndef WEFT_AGENT_LARGE_H
#define WEFT_AGENT_LARGE_H

#if defined(__x86_64__)
#define WEFT_LARGE __attribute__((section(".lbss")))
#else
#define WEFT_LARGE
#endif

#endif
