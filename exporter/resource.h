/*
 * The resource every export carries: who produced the telemetry.
 */
#ifndef WEFT_EXPORTER_RESOURCE_H
#define WEFT_EXPORTER_RESOURCE_H

#include "exporter/model.h"

/*
 * Builds (or rebuilds, in a forked child) the resource from the process and
 * config; a child keeps the executable's path its parent read.
 */
void weft_resource_build(void);

const struct weft_resource *weft_resource_get(void);

/* /proc/self/exe as the last build read it; "" before any build. */
const char *weft_resource_exe_path(void);

/* service.name as resolved (for the %n of WEFT_OUTPUT). */
const char *weft_resource_service_name(void);

/*
 * Parses OTEL_RESOURCE_ATTRIBUTES-style `k=v,k2=v2` with percent-decoding into
 * buf; calls fn for each pair. Items that are not key=value, or whose key is
 * empty, are skipped silently: the caller reports them (the configuration
 * does for OTEL_RESOURCE_ATTRIBUTES, in one line). Returns 0, or -ENOSPC if
 * buflen is below strlen(s) + 2. Exposed for tests and for
 * OTEL_EXPORTER_OTLP_HEADERS.
 */
int weft_resource_parse_pairs(const char *s, char *buf, size_t buflen,
			      void (*fn)(const char *key, const char *value, void *arg), void *arg);

#endif
