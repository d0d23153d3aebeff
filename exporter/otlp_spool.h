/*
 * The spool: OTLP requests the otlp output could not deliver before the
 * program's exit, kept in a file so that `weft send FILE` (the weft-send
 * executable) delivers them later with the same exporter.
 *
 * A spool file is exact and cheap to write and re-send: the request bodies
 * are kept as they were encoded (protobuf, uncompressed), each tagged with its
 * signal. Layout, integers little-endian:
 *
 *     "WEFTSPL1"                       8 bytes: magic and format version
 *     then records, each:
 *       u8  signal                     1 traces, 2 metrics
 *       u8  reserved[3]                0
 *       u32 items                      spans or data points, for messages
 *       u32 length                     of the body
 *       u8  body[length]               an Export{Trace,Metrics}ServiceRequest
 *
 * The file lives beside the file output: in the directory of the expanded
 * WEFT_OUTPUT path, named weft-<service>-<pid>.spool (or /tmp when that
 * directory cannot take it). It is created O_EXCL and O_NOFOLLOW, mode 0600
 * (bodies may hold command lines and resource attributes); each record is
 * appended whole by one write on a descriptor opened for it, or the file is cut
 * back to what it was, so a reader never meets half a record.
 */
#ifndef WEFT_EXPORTER_OTLP_SPOOL_H
#define WEFT_EXPORTER_OTLP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT_OTLP_SPOOL_MAGIC    "WEFTSPL1"
#define WEFT_OTLP_SPOOL_HEAD     8
#define WEFT_OTLP_SPOOL_REC_HEAD 12
#define WEFT_OTLP_SPOOL_PATH     640

/* What one process spooled. Starts zeroed. */
struct weft_otlp_spool {
	char path[WEFT_OTLP_SPOOL_PATH]; /* "" until created */
	int err;                         /* why it could not be created or written, or 0 */
	size_t records[2], items[2];     /* kept, by signal (0 traces, 1 metrics) */
	size_t lost_records[2], lost_items[2];
};

/*
 * Appends one request body (signal 0 traces, 1 metrics) to s, creating the
 * file at the first call (see above for where). Returns 0, or a negative errno
 * after counting the request as lost (s->err says why).
 */
int weft_otlp_spool_add(struct weft_otlp_spool *s, const char *output_pattern, const char *service,
			int signal, const uint8_t *body, size_t len, size_t items);

/* Creates path (O_EXCL, O_NOFOLLOW, 0600) with the spool header; a descriptor or -errno. */
int weft_otlp_spool_create(const char *path);

/* One record appended to fd, whole or not at all. Returns 0 or -errno. */
int weft_otlp_spool_append(int fd, int signal, const uint8_t *body, size_t len, size_t items);

/* One record read from a spool file held in memory. */
struct weft_otlp_spooled {
	int signal; /* 0 traces, 1 metrics */
	uint32_t items;
	const uint8_t *body;
	size_t len;
};

/*
 * Reads the whole file at path into *data (weft_alloc'd), checking the
 * header. Returns 0, -EBADMSG for a file that is not a spool, or -errno.
 */
int weft_otlp_spool_load(const char *path, uint8_t **data, size_t *len);

/*
 * The record at *pos (start at WEFT_OTLP_SPOOL_HEAD) into *rec, advancing
 * *pos. Returns 1, 0 at the end, -EBADMSG for a damaged record.
 */
int weft_otlp_spool_next(const uint8_t *data, size_t len, size_t *pos,
			 struct weft_otlp_spooled *rec);

#endif
