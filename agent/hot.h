/*
 * WEFT_HOT, WEFT_HOT_DATA: the code and the small statics that the hooks'
 * common paths run and read at every call (a channel's read or write, a
 * condition variable's wait and signal, a lock, a task's start, a record),
 * kept together on a few pages: the linker's default script groups every
 * .text.hot.* section near the start of .text, and hooks/layout.ld puts the
 * statics after .got.plt.
 *
 * What a hook costs is mostly the pages it touches, not its instructions.
 * A kernel that isolates its page tables (PTI) on a CPU without PCIDs, as
 * the VMs weft is measured on, flushes the TLB at every system call, so
 * each page a thread touches between two calls costs a page walk: 6-10 ns
 * measured here (a pinned pipe ping-pong touching N more pages, code or
 * data, after each call): about what 20 to 30 instructions cost. Scattered
 * over the library, a pipe read's path touched about 19 more pages than the
 * native call did (valgrind --tool=lackey, pages per interval between two
 * system calls; tests/bench/README.md).
 *
 * So: a function a hook calls on its common path is WEFT_HOT, and is
 * defined once (a static inline function the compiler keeps out of line is
 * a copy in each file that uses it, each on its own page); a static the
 * common path reads at each call is WEFT_HOT_DATA (small ones only: a table
 * of kilobytes belongs with WEFT_LARGE, agent/large.h). Rare paths stay
 * where they are, so that the hot pages hold only what is run.
 */
#ifndef WEFT_AGENT_HOT_H
#define WEFT_AGENT_HOT_H

#define WEFT_HOT      __attribute__((section(".text.hot.weft")))
#define WEFT_HOT_DATA __attribute__((section(".data.hot.weft")))
/*
 * A static whose first bytes are hot and the rest not (the configuration:
 * its switches, then kilobytes of strings): after every WEFT_HOT_DATA one.
 */
#define WEFT_HOT_DATA_TAIL __attribute__((section(".data.hot.weft.tail")))

#endif
