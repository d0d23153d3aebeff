/*
 * The `otlp` output: OTLP/HTTP with protobuf bodies, as the OpenTelemetry
 * protocol exporter specification describes it.
 *
 * Spans go to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, used as given, or else to
 * OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318) joined with
 * exactly one slash to `v1/traces`; metrics likewise to `v1/metrics`. Each
 * signal has one libcurl handle, and so one keep-alive connection, reused
 * from export to export. Requests carry Content-Type application/x-protobuf,
 * User-Agent weft/VERSION, the headers of OTEL_EXPORTER_OTLP_HEADERS merged
 * with the signal's own (which win for the same name), and, with
 * OTEL_EXPORTER_OTLP_COMPRESSION=gzip, a gzip body. https uses the system's
 * CA store, or OTEL_EXPORTER_OTLP_CERTIFICATE when set.
 *
 * Retry: only 429, 502, 503 and 504 and transport failures (connection
 * refused or reset, timeouts, send and receive errors, name resolution, a
 * failed TLS handshake) are retried, with exponential backoff (1 s, doubling,
 * at most 5 s, each wait drawn uniformly from half to one and a half times
 * that) or after the server's Retry-After (seconds or an HTTP date) when it
 * sent one; each request is bounded by OTEL_EXPORTER_OTLP_TIMEOUT and the
 * whole export, retries included, by OTEL_BSP_EXPORT_TIMEOUT (spans) or
 * OTEL_METRIC_EXPORT_TIMEOUT (metrics). A batch still not delivered then is
 * dropped (the caller counts it), and for the next 5 s further batches of that
 * signal (and of the other, when it goes to the same scheme, host and port)
 * are dropped at once rather than stalling the exporter thread on a collector
 * known to be down. Any other status (400, 401, 404, 413, a redirect, ...) and
 * any other failure (a certificate that does not verify, ...) is final: the
 * batch is dropped without a retry. A 2xx answer with a partial success is
 * logged once per signal and not retried.
 *
 * Once the program is exiting (main returned or exit() was called) the final
 * export has one budget, WEFT_EXIT_TIMEOUT (default 1 s, never more than
 * OTEL_BSP_EXPORT_TIMEOUT), from the moment the exit is seen, shared by both
 * signals and every attempt, an export already in flight included; a
 * connection that is refused is not retried then, one that broke only once
 * (otlp_retry.h). What cannot be
 * delivered within it is not lost: it is written to a spool file beside the
 * file output (otlp_spool.h) and named in one `weft:` line at shutdown, and
 * `weft send FILE` delivers it later (weft-send, below).
 *
 * The first failure of each kind (an HTTP status, a transport error) prints
 * one `weft:` line naming the signal's endpoint (without any user:password
 * part) and the reason; later ones are only counted.
 *
 * A process forked while its parent's exporter was inside libcurl (loading it,
 * or in a transfer) inherits libcurl, its TLS library and the resolver with
 * locks held by a thread that does not exist in it; such a child never calls
 * into them and writes its telemetry to the file output (WEFT_OUTPUT) instead,
 * after one `weft:` line. Other children open connections of their own.
 *
 * Everything here runs on the exporter thread, whose guard keeps weft's hooks
 * out of libcurl's calls; see curl_dl.h for how libcurl is loaded and
 * sockets.h for how its sockets are kept apart from the program's.
 */
#ifndef WEFT_EXPORTER_OTLP_HTTP_H
#define WEFT_EXPORTER_OTLP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "exporter/sink.h"

/*
 * Sets up the otlp output for the signals whose exporter list in cfg names
 * otlp. NULL, after one `weft:` line, when libcurl cannot be loaded or an
 * endpoint is not an http(s) URL; the caller then uses the file output.
 * Calling it again in a forked child gives the child a sink of its own (the
 * parent's connections are closed in the child and never used).
 */
struct weft_sink *weft_otlp_open(const struct weft_config *cfg);

/*
 * For weft-send: the same exporter for both signals whatever
 * OTEL_{TRACES,METRICS}_EXPORTER say, which prints no failure of its own
 * (weft_otlp_client_send returns them). NULL, after one line, when libcurl
 * cannot be loaded or an endpoint is not an http(s) URL.
 */
struct weft_otlp;
struct weft_otlp *weft_otlp_client_open(const struct weft_config *cfg);

/*
 * Sends one encoded request body (signal 0 traces, 1 metrics) with the
 * retry policy of otlp_retry.h. Returns 0, or a negative errno with the
 * endpoint and the reason in why.
 */
int weft_otlp_client_send(struct weft_otlp *o, int signal, const uint8_t *body, size_t len,
			  char *why, size_t wlen);

#endif
