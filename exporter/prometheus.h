/*
 * The `prometheus` output: the metrics served in the Prometheus text format
 * on OTEL_EXPORTER_PROMETHEUS_HOST:OTEL_EXPORTER_PROMETHEUS_PORT, `/metrics`.
 *
 * A pull output, unlike the others (sink.h): nothing is sent at the export
 * interval; a client's request is answered with the values of that moment.
 * Everything here runs on the exporter thread: the listening socket, owned
 * through agent/fd.h, is polled where the thread sleeps (weft_prometheus_wait
 * instead of weft_consumer_wait), and a client is served there, one at a
 * time, within WEFT_PROMETHEUS_DEADLINE_MS of its connection.
 *
 * prometheus_text.c renders, prometheus.c listens and answers.
 */
#ifndef WEFT_EXPORTER_PROMETHEUS_H
#define WEFT_EXPORTER_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/model.h"

struct weft_json;

/* A request larger than this (line and headers) is answered 431 and closed. */
#define WEFT_PROMETHEUS_REQUEST_MAX 8192
/* A connection is closed this long after it was accepted, served or not. */
#define WEFT_PROMETHEUS_DEADLINE_MS 1000
/* A metric name longer than this is cut. */
#define WEFT_PROMETHEUS_NAME_MAX 256

/*
 * Appends the exposition of the metrics and the resource (target_info) to
 * out. Returns 0, or the writer's error (out of memory).
 */
int weft_prometheus_render(struct weft_json *out, const struct weft_resource *res,
			   const struct weft_metric *metrics, size_t n);

/* The Prometheus name of a metric, suffixes included; returns its length. */
size_t weft_prometheus_name(const struct weft_metric *m, char *out, size_t len);

/*
 * Makes the descriptor that wakes the serving thread (an eventfd), on the
 * program's thread that starts the exporter: the program's threads write to
 * it (weft_consumer_wake), so it must be in the program's descriptor table,
 * and the exporter keeps a copy when it takes a table of its own
 * (agent/fd.h). 0 or a negative errno (then weft_prometheus_open makes it).
 */
int weft_prometheus_prepare(void);

/*
 * Opens the endpoint that weft_cfg names: 0, or a negative errno after one
 * `weft:` line (a port in use, a host that does not resolve); there is then
 * no endpoint, and nothing else changes.
 */
int weft_prometheus_open(void);

/* Whether the endpoint is open. */
bool weft_prometheus_active(void);

/*
 * Sleeps as weft_consumer_wait(seen, timeout_ns) does, and also until a
 * client connects. Returns true when one may be waiting to be served.
 */
bool weft_prometheus_wait(uint32_t seen, uint64_t timeout_ns);

/*
 * Accepts one waiting client and answers it: `GET /metrics` (or HEAD) with
 * what collect() returns at that moment (its model valid until the next
 * collect), rendered with res. Returns within the deadline.
 */
void weft_prometheus_serve(size_t (*collect)(const struct weft_metric **out),
			   const struct weft_resource *res);

/* Closes the endpoint (at exit). */
void weft_prometheus_close(void);

/*
 * In a forked child: forgets the parent's endpoint, whose descriptors the
 * child's descriptor table already closed (agent/fd.h); the child opens its
 * own when its exporter starts.
 */
void weft_prometheus_after_fork(void);

#endif
