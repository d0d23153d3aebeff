/*
 * The connection interpreter (exporter/connections.c): sockets' spans and
 * metrics.
 */
#ifndef WEFT_EXPORTER_CONNECTIONS_H
#define WEFT_EXPORTER_CONNECTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/ids.h"

/*
 * The connection span of socket slot `id`, the parent of the waits on it:
 * its trace and span id; false when the slot is no stream connection.
 */
bool weft_connections_parent(uint32_t id, const struct weft_trace_id **trace, uint64_t *span);

#endif
