/*
 * The transport of the otlp output: one libcurl easy handle, in a multi
 * handle of its own, per signal (`struct weft_otlp_conn`), which keeps the
 * signal's keep-alive connection from export to export.
 *
 * The transfer is driven with curl_multi_perform and curl_multi_wait rather
 * than curl_easy_perform: curl_multi_wait never reads the multi handle's
 * internal wake-up socketpair (curl_easy_perform polls and drains it), so
 * once a handle is set up libcurl touches no descriptor but the connection
 * sockets sockets.c tracks. The loop wakes at least every WEFT_OTLP_NAP to
 * look at the export's deadline, which moves closer when the program begins
 * to exit (otlp_retry.h): an attempt in flight then ends within the exit
 * budget.
 *
 * Only the head of a response is kept (WEFT_OTLP_RESPONSE_MAX bytes: a
 * partial success is all weft reads of it); a longer body ends the transfer
 * there, and the answer counts with its status as it came.
 *
 * Handles are never cleaned up. Cleaning up closes (and for TLS, first
 * writes an alert to) every descriptor the handle holds, and after a program
 * has closed and reused our descriptors those numbers may be the program's.
 * A connection whose sockets are no longer ours abandons its handles whole and
 * starts new ones (at most WEFT_OTLP_MAX_ABANDONED times, then it stops
 * keeping connections alive); at exit the process ends with them.
 */
#ifndef WEFT_EXPORTER_OTLP_TRANSPORT_H
#define WEFT_EXPORTER_OTLP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/curl_dl.h"
#include "exporter/otlp_retry.h"
#include "exporter/sockets.h"

#define WEFT_OTLP_RESPONSE_MAX  (64 * 1024)
#define WEFT_OTLP_MAX_ABANDONED 8

struct weft_otlp_conn {
	/* Set by the owner before the first attempt, never changed after. */
	const struct weft_curl *c;
	const char *url;
	const char *shown; /* the URL for messages */
	const char *name;  /* "traces", for messages */
	struct curl_slist *headers;
	const char *user_agent;
	const char *certificate; /* "" for the system's CA store */

	CURLM *multi;
	CURL *easy;
	struct weft_sockets socks;
	unsigned abandoned;
	/* The last response. */
	char status_line[96];
	char retry_after[64];
	uint8_t *body; /* its first WEFT_OTLP_RESPONSE_MAX bytes */
	size_t body_len;
	bool body_cut; /* the body was longer, and not read further */
	char errbuf[CURL_ERROR_SIZE];
};

/* Allocates the response buffer. Returns 0 or -ENOMEM. */
int weft_otlp_conn_init(struct weft_otlp_conn *k);

/* A struct weft_otlp_transport attempt; arg is the conn. */
enum weft_otlp_outcome weft_otlp_conn_attempt(void *arg, const uint8_t *body, size_t len,
					      struct weft_otlp_try *t, struct weft_otlp_failure *f);

/* A forked child's copy of the parent's connection: closed here, never used. */
void weft_otlp_conn_retire(struct weft_otlp_conn *k);

/*
 * Whether weft is inside the dynamic loader or libcurl (loading it, or
 * running a transfer: TLS, the resolver, curl's own state) right now. A
 * process forked at such a moment inherits those libraries' locks held and
 * their state half-changed by a thread that does not exist in it, so the
 * child never calls into them. weft_otlp_in_libcurl_set brackets such work.
 */
bool weft_otlp_in_libcurl(void);
void weft_otlp_in_libcurl_set(bool inside);

#endif
