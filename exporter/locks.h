/*
 * The lock interpreter's entry for the wait interpreter: a contended
 * acquisition (a WAIT event of a lock kind) is counted here.
 */
#ifndef WEFT_EXPORTER_LOCKS_H
#define WEFT_EXPORTER_LOCKS_H

#include "agent/event.h"

/* Whether waits of this kind are lock acquisitions (mutex, rwlock.*, spin). */
bool weft_locks_is_lock(enum weft_wait_kind kind);

/* A lock acquisition that blocked, at the calling function `fn`. */
void weft_locks_contended(enum weft_wait_kind kind, const char *fn);

#endif
