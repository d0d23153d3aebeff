/*
 * libcurl and zlib through dlopen: see curl_dl.h for why.
 *
 * Both loaders run once, on the exporter thread, and cache their result
 * (including a failure, so a missing library costs one warning, not one per
 * export). A forked child inherits the loaded libraries and the tables.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/log.h"
#include "exporter/curl_dl.h"

/* 7.62 brought the URL API; everything else weft uses is older. */
#define WEFT_CURL_MIN_VERSION 0x073e00u

/* OpenSSL's OPENSSL_INIT_NO_ATEXIT (openssl/crypto.h, 1.1.1 and later). */
#define WEFT_OPENSSL_INIT_NO_ATEXIT 0x00080000ull

static struct weft_curl curl;
static char curl_error[256];
static struct weft_zlib zlib;
static enum { UNTRIED, LOADED, FAILED } curl_state, zlib_state;

/* curl's allocator: weft's private one. */
static void *curl_cb_malloc(size_t n)
{
	return weft_alloc(n);
}

static void curl_cb_free(void *p)
{
	weft_free(p);
}

static void *curl_cb_realloc(void *p, size_t n)
{
	return weft_realloc(p, n);
}

static char *curl_cb_strdup(const char *s)
{
	return weft_strdup(s);
}

static void *curl_cb_calloc(size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	return weft_zalloc(nmemb * size);
}

/* dlsym into a function pointer without a cast that -Wpedantic rejects. */
static bool sym(void *lib, const char *name, void *fnptr, bool required)
{
	void *p = dlsym(lib, name);

	memcpy(fnptr, &p, sizeof(p));
	if (!p && required && !curl_error[0])
		snprintf(curl_error, sizeof(curl_error), "libcurl.so.4 has no %s", name);
	return p || !required;
}

/*
 * OpenSSL 1.1.1 and 3 register an atexit handler that tears the library down
 * at the first initialisation unless told not to. Registered late (from the
 * exporter thread, long after the program's own handlers), it would run before
 * weft's destructor and leave the final export over https with a dead TLS
 * library. Initialising it first with NO_ATEXIT avoids that; a program that
 * initialised OpenSSL itself already decided, and this call changes nothing.
 */
static void openssl_no_atexit(void *lib)
{
	int (*init)(uint64_t opts, const void *settings);

	if (sym(lib, "OPENSSL_init_crypto", &init, false) && init)
		init(WEFT_OPENSSL_INIT_NO_ATEXIT, NULL);
}

static const struct weft_curl *curl_load_once(void)
{
	curl_version_info_data *(*version_info)(CURLversion v);
	CURLcode (*global_init)(long flags);
	CURLcode (*global_init_mem)(long flags, curl_malloc_callback m, curl_free_callback f,
				    curl_realloc_callback r, curl_strdup_callback s,
				    curl_calloc_callback c);
	const curl_version_info_data *info;
	bool shared, ok = true;
	CURLcode rc;
	void *lib;

	/* Already in the process: the program's own libcurl. */
	lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	shared = lib != NULL;
	if (!lib)
		lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *err = dlerror();

		snprintf(curl_error, sizeof(curl_error),
			 "cannot load libcurl.so.4, which the otlp output needs (%s)",
			 err ? err : "unknown error");
		return NULL;
	}
	ok &= sym(lib, "curl_version_info", &version_info, true);
	ok &= sym(lib, "curl_global_init", &global_init, true);
	ok &= sym(lib, "curl_global_init_mem", &global_init_mem, true);
	ok &= sym(lib, "curl_easy_init", &curl.easy_init, true);
	ok &= sym(lib, "curl_easy_setopt", &curl.easy_setopt, true);
	ok &= sym(lib, "curl_easy_perform", &curl.easy_perform, true);
	ok &= sym(lib, "curl_easy_getinfo", &curl.easy_getinfo, true);
	ok &= sym(lib, "curl_easy_cleanup", &curl.easy_cleanup, true);
	ok &= sym(lib, "curl_easy_strerror", &curl.easy_strerror, true);
	ok &= sym(lib, "curl_slist_append", &curl.slist_append, true);
	ok &= sym(lib, "curl_slist_free_all", &curl.slist_free_all, true);
	ok &= sym(lib, "curl_getdate", &curl.getdate, true);
	ok &= sym(lib, "curl_multi_init", &curl.multi_init, true);
	ok &= sym(lib, "curl_multi_add_handle", &curl.multi_add_handle, true);
	ok &= sym(lib, "curl_multi_remove_handle", &curl.multi_remove_handle, true);
	ok &= sym(lib, "curl_multi_perform", &curl.multi_perform, true);
	ok &= sym(lib, "curl_multi_wait", &curl.multi_wait, true);
	ok &= sym(lib, "curl_multi_info_read", &curl.multi_info_read, true);
	ok &= sym(lib, "curl_multi_strerror", &curl.multi_strerror, true);
	sym(lib, "curl_url", &curl.url, false);
	sym(lib, "curl_url_set", &curl.url_set, false);
	sym(lib, "curl_url_cleanup", &curl.url_cleanup, false);
	if (!ok)
		return NULL; /* the library stays loaded: unloading is never safe */

	info = version_info(CURLVERSION_NOW);
	if (!info || info->version_num < WEFT_CURL_MIN_VERSION) {
		snprintf(curl_error, sizeof(curl_error),
			 "libcurl %s is too old for the otlp output (it needs 7.62 or later)",
			 info && info->version ? info->version : "?");
		return NULL;
	}
	curl.version_num = info->version_num;
	curl.version = info->version;
	curl.has_ssl = (info->features & CURL_VERSION_SSL) != 0;

	if (shared) {
		/*
		 * Reference-counted and thread-safe since 7.84; the program's
		 * settings (and allocator) stay as they are.
		 */
		rc = global_init(CURL_GLOBAL_DEFAULT);
	} else {
		openssl_no_atexit(lib);
		rc = global_init_mem(CURL_GLOBAL_DEFAULT, curl_cb_malloc, curl_cb_free,
				     curl_cb_realloc, curl_cb_strdup, curl_cb_calloc);
	}
	if (rc != CURLE_OK) {
		snprintf(curl_error, sizeof(curl_error), "cannot initialise libcurl (%s)",
			 curl.easy_strerror(rc));
		return NULL;
	}
	return &curl;
}

const struct weft_curl *weft_curl_load(void)
{
	if (curl_state == UNTRIED)
		curl_state = curl_load_once() ? LOADED : FAILED;
	return curl_state == LOADED ? &curl : NULL;
}

const char *weft_curl_error(void)
{
	return curl_error[0] ? curl_error : "libcurl is not available";
}

static const struct weft_zlib *zlib_load_once(void)
{
	void *lib = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *err = dlerror();

		weft_warn("cannot load libz.so.1 (%s); sending OTLP requests uncompressed",
			  err ? err : "unknown error");
		return NULL;
	}
	sym(lib, "deflateInit2_", &zlib.deflate_init2, false);
	sym(lib, "deflate", &zlib.deflate, false);
	sym(lib, "deflateReset", &zlib.deflate_reset, false);
	sym(lib, "deflateEnd", &zlib.deflate_end, false);
	sym(lib, "deflateBound", &zlib.deflate_bound, false);
	if (!zlib.deflate_init2 || !zlib.deflate || !zlib.deflate_reset || !zlib.deflate_end ||
	    !zlib.deflate_bound) {
		weft_warn("libz.so.1 lacks deflate; sending OTLP requests uncompressed");
		return NULL;
	}
	return &zlib;
}

const struct weft_zlib *weft_zlib_load(void)
{
	if (zlib_state == UNTRIED)
		zlib_state = zlib_load_once() ? LOADED : FAILED;
	return zlib_state == LOADED ? &zlib : NULL;
}
