/*
 * Signals that end the process (issue 10, item 5): SIGTERM, SIGINT, SIGHUP
 * and SIGQUIT, and the faults SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT.
 *
 * While the program leaves one of them at its default action, weft's handler
 * stands in for the default: it records the signal on the process span (a
 * fault is a crash, status ERROR), runs the final export as exit would —
 * on the exporter's thread when there is one (it is async-signal-safe to
 * wait for it), here only for the file and console outputs (an OTLP export
 * would call libcurl, and so the program's allocator, inside the handler) —
 * then restores SIG_DFL and lets the signal act: the process dies of it with
 * the same status (and core dump) as without weft. Nothing is exported when
 * the signal interrupted weft's own code or its allocator on that thread.
 *
 * The program's view never changes: sigaction, signal and sysv_signal
 * (hooks/signal.c) report SIG_DFL where weft stands in, with the
 * mask and flags the program gave; a handler or SIG_IGN the program installs
 * replaces weft's at once (the program's own always takes precedence), and
 * SIG_DFL set again brings weft's back. A signal the program ignored or
 * handled before weft started is left alone.
 */
#ifndef WEFT_AGENT_SIGNALS_H
#define WEFT_AGENT_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* At agent start: stands in for every managed signal at its default action. */
void weft_signals_init(void);

/* Whether weft manages `sig` (sigaction on it goes through weft_signals_sigaction). */
bool weft_signals_managed(int sig);

/* sigaction on a managed signal, as the program sees it; 0 or -1 with errno. */
int weft_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
