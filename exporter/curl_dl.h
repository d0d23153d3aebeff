/*
 * libcurl and zlib, loaded on demand.
 *
 * libweft.so does not link libcurl: a program that never exports over OTLP
 * never gets libcurl, its TLS library and their dependencies mapped into it.
 * The otlp output loads "libcurl.so.4" with dlopen the first time it is set
 * up, on the exporter thread, and reaches it through the table below (curl's
 * headers give the types). zlib, needed only for
 * OTEL_EXPORTER_OTLP_COMPRESSION=gzip, is loaded the same way (libcurl
 * depends on it, so it is mapped by then anyway).
 *
 * libcurl is initialised with curl_global_init_mem and weft's private
 * allocator (agent/alloc.h), so curl's own allocations never reach the
 * program's malloc. What remains outside weft's control: the dynamic loader's
 * allocations while dlopen runs, and the libraries curl calls (OpenSSL, the
 * resolver in glibc, nghttp2, ...), which allocate with the C library's
 * malloc, that is with the program's malloc when the program replaces it.
 * When the program has loaded libcurl itself, weft shares that copy and
 * leaves its global initialisation (and allocator) as the program set it.
 */
#ifndef WEFT_EXPORTER_CURL_DL_H
#define WEFT_EXPORTER_CURL_DL_H

#include <stdbool.h>
#include <time.h>

#define CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_DEPRECATION
#include <curl/curl.h>
#include <zlib.h>

struct weft_curl {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	time_t (*getdate)(const char *s, const time_t *unused);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMcode (*multi_wait)(CURLM *m, struct curl_waitfd *extra, unsigned int n_extra,
				int timeout_ms, int *numfds);
	CURLMsg *(*multi_info_read)(CURLM *m, int *queued);
	const char *(*multi_strerror)(CURLMcode code);
	/* Optional (NULL when this libcurl lacks them). */
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart part, const char *content, unsigned int flags);
	void (*url_cleanup)(CURLU *u);
	/* The loaded library's version, as CURL_VERSION_NUM (0xXXYYZZ). */
	unsigned int version_num;
	const char *version;
	bool has_ssl;
};

/*
 * Loads and initialises libcurl once; NULL when it cannot be loaded, lacks a
 * function weft needs or is older than 7.62, and then weft_curl_error() says
 * why (the caller prints it). Exporter thread only.
 */
const struct weft_curl *weft_curl_load(void);
const char *weft_curl_error(void);

struct weft_zlib {
	int (*deflate_init2)(z_streamp strm, int level, int method, int window_bits, int mem_level,
			     int strategy, const char *version, int stream_size);
	int (*deflate)(z_streamp strm, int flush);
	int (*deflate_reset)(z_streamp strm);
	int (*deflate_end)(z_streamp strm);
	uLong (*deflate_bound)(z_streamp strm, uLong source_len);
};

/* Loads zlib once; NULL (after one `weft:` line) when it cannot be loaded. */
const struct weft_zlib *weft_zlib_load(void);

#endif
