/*
 * The `file` output: OTLP JSON Lines, the OpenTelemetry file-exporter format.
 *
 * Each export call appends one line: an ExportTraceServiceRequest or an
 * ExportMetricsServiceRequest in the proto3 JSON mapping (lowerCamelCase
 * names, ids as lowercase hex, enums as integers, 64-bit integers as decimal
 * strings, fields equal to their default left out). The line is built whole
 * in memory and written with one write(2) sequence on an O_APPEND descriptor,
 * so processes sharing the file interleave by whole lines.
 *
 * The file itself — lazy creation, ownership of the descriptor, rotation,
 * bounded writes, saying what was lost — is exporter/outfile.c's.
 */
#include <errno.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/log.h"
#include "exporter/json.h"
#include "exporter/outfile.h"
#include "exporter/sink.h"

/* A buffer that grew past this after a huge batch is given back. */
#define JSONL_KEEP_BUFFER (4u << 20)

struct jsonl {
	struct weft_sink sink;
	struct weft_outfile *file;
	struct weft_json json;
};

static int jsonl_flush(struct jsonl *s, size_t spans, size_t metrics)
{
	int r;

	weft_json_append(&s->json, "\n", 1);
	r = weft_json_error(&s->json);
	if (r == 0)
		r = weft_outfile_write(s->file, s->json.buf, s->json.len, spans, metrics);
	if (s->json.cap > JSONL_KEEP_BUFFER)
		weft_json_free(&s->json);
	weft_json_reset(&s->json);
	return r;
}

static bool nonempty(const char *s)
{
	return s && s[0];
}

#define PUT(o, lit) WEFT_JSON_PUT_LIT(o, lit)

/* Room for an attribute's fixed parts and a number (a double's, quoted, is the widest). */
#define ATTR_FIXED 96

static size_t length(const char *s)
{
	return s ? strlen(s) : 0;
}

/* A string to escape: NULL is written as "". */
static const char *text(const char *s)
{
	return s ? s : "";
}

/* A string array attribute's value, `{"arrayValue":{..}}` without its last brace. */
static char *put_strings(struct weft_json *j, char *o, const char *const *items, size_t n)
{
	o = PUT(o, "{\"arrayValue\":{");
	if (n)
		o = PUT(o, "\"values\":[");
	for (size_t i = 0; i < n; i++) {
		size_t len = length(items[i]);

		weft_json_done(j, o);
		if (!(o = weft_json_room(j, len, 32)))
			return NULL;
		if (i)
			*o++ = ',';
		o = PUT(o, "{\"stringValue\":\"");
		o = weft_json_put_escaped(o, text(items[i]), len);
		o = PUT(o, "\"}");
	}
	if (n)
		*o++ = ']';
	return PUT(o, "}}");
}

/*
 * `"attributes":[{"key":..,"value":{..}},..]` for n > 0, written directly
 * (json.h's cursor): no comma before it, the caller's.
 */
static void put_attrs(struct weft_json *j, const struct weft_attr *attrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct weft_attr *a = &attrs[i];
		size_t key_n = length(a->key),
		       v_n = a->type == WEFT_VALUE_STRING ? length(a->v.s) : 0;
		char *o = weft_json_room(j, key_n + v_n, ATTR_FIXED);

		if (!o)
			return;
		o = i ? PUT(o, ",{\"key\":\"") : PUT(o, "\"attributes\":[{\"key\":\"");
		o = weft_json_put_escaped(o, text(a->key), key_n);
		o = PUT(o, "\",\"value\":");
		switch (a->type) {
		case WEFT_VALUE_STRING:
			o = PUT(o, "{\"stringValue\":\"");
			o = PUT(weft_json_put_escaped(o, text(a->v.s), v_n), "\"}");
			break;
		case WEFT_VALUE_INT:
			o = PUT(o, "{\"intValue\":\"");
			if (a->v.i < 0)
				*o++ = '-';
			/* The magnitude in unsigned arithmetic, so that INT64_MIN works. */
			o = weft_json_put_u64(o, a->v.i < 0 ? (uint64_t)0 - (uint64_t)a->v.i
							    : (uint64_t)a->v.i);
			o = PUT(o, "\"}");
			break;
		case WEFT_VALUE_DOUBLE:
			o = PUT(o, "{\"doubleValue\":");
			o = weft_json_put_double(o, a->v.d);
			*o++ = '}';
			break;
		case WEFT_VALUE_BOOL:
			o = a->v.b ? PUT(o, "{\"boolValue\":true}")
				   : PUT(o, "{\"boolValue\":false}");
			break;
		case WEFT_VALUE_STRING_ARRAY:
			if (!(o = put_strings(j, o, a->v.strs.items, a->v.strs.n)))
				return;
			break;
		default:
			o = PUT(o, "{}"); /* no value known: an empty AnyValue */
			break;
		}
		*o++ = '}';
		weft_json_done(j, o);
	}
	weft_json_append(j, "]", 1);
}

/* `"attributes":[..]` as a member of the object being written, nothing when there are none. */
static void json_attrs(struct weft_json *j, const struct weft_attr *attrs, size_t n)
{
	if (!n)
		return;
	weft_json_raw(j, "", 0); /* the comma before it */
	put_attrs(j, attrs, n);
}

/* A key literal with its quotes and colon, and its length: for weft_json_raw_key. */
#define QKEY(lit) "\"" lit "\":", sizeof(lit) + 2

static void json_string_field(struct weft_json *j, const char *qkey, size_t n, const char *s)
{
	if (!nonempty(s))
		return;
	weft_json_raw_key(j, qkey, n);
	weft_json_string(j, s);
}

/* {"resource":{..},"scope<Kind>":[{"scope":{..},"<items>":[ — the caller adds the items. */
#define json_begin_request(j, res, resource_key, scope_key, items_key)                             \
	json_begin_request_q(j, res, QKEY(resource_key), QKEY(scope_key), QKEY(items_key))
static void json_begin_request_q(struct weft_json *j, const struct weft_resource *res,
				 const char *resource_key, size_t resource_n, const char *scope_key,
				 size_t scope_n, const char *items_key, size_t items_n)
{
	weft_json_begin_object(j);
	weft_json_raw_key(j, resource_key, resource_n);
	weft_json_begin_array(j);
	weft_json_begin_object(j);
	weft_json_key_lit(j, "resource");
	weft_json_begin_object(j);
	json_attrs(j, res->attrs, res->n_attrs);
	weft_json_end_object(j);
	weft_json_raw_key(j, scope_key, scope_n);
	weft_json_begin_array(j);
	weft_json_begin_object(j);
	weft_json_key_lit(j, "scope");
	weft_json_begin_object(j);
	json_string_field(j, QKEY("name"), res->scope_name);
	json_string_field(j, QKEY("version"), res->scope_version);
	weft_json_end_object(j);
	weft_json_raw_key(j, items_key, items_n);
	weft_json_begin_array(j);
}

static void json_end_request(struct weft_json *j)
{
	weft_json_end_array(j);  /* items */
	weft_json_end_object(j); /* scope* */
	weft_json_end_array(j);
	weft_json_end_object(j); /* resource* */
	weft_json_end_array(j);
	weft_json_end_object(j);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* `,"<key>":<v>` for a count, left out when zero as proto3 JSON does. */
#define PUT_COUNT(o, key, v) ((v) ? weft_json_put_u64(PUT(o, ",\"" key "\":"), (v)) : (o))

/* The same for a fixed64, which proto3 JSON writes as a string. */
#define PUT_U64_STRING(o, key, v)                                                                  \
	((v) ? PUT(weft_json_put_u64(PUT(o, ",\"" key "\":\""), (v)), "\"") : (o))

/* Room for a span's fixed parts: ids, flags, kind, times, counts, brackets. */
#define SPAN_FIXED 256

/* `,"<key>":"<hex>"` */
static char *put_id(char *o, const char *qkey, size_t qkey_n, const uint8_t *b, size_t n)
{
	memcpy(o, qkey, qkey_n);
	o = weft_json_put_hex(o + qkey_n, b, n);
	*o++ = '"';
	return o;
}
#define PUT_ID(o, key, id) put_id(o, ",\"" key "\":\"", sizeof(key) + 4, (id).b, sizeof((id).b))

/*
 * `,"attributes":[..]` when there are any (no comma when `first`): the run at
 * `o` is ended there, and a new one with room for `then` begins after them.
 */
static char *put_attrs_member(struct weft_json *j, char *o, const struct weft_attr *attrs, size_t n,
			      bool first, size_t then)
{
	if (n) {
		if (!first)
			*o++ = ',';
		weft_json_done(j, o);
		put_attrs(j, attrs, n);
	} else {
		weft_json_done(j, o);
	}
	return weft_json_room(j, 0, then);
}

/*
 * A span, written directly (json.h's cursor) rather than field by field: a
 * busy program's spans are most of what the exporter writes. The same text
 * as the writer's calls would give (test-jsonl compares it byte for byte).
 */
static void json_span(struct weft_json *j, const struct weft_span *sp)
{
	size_t name_n = length(sp->name);
	char *o = weft_json_member_room(j, name_n, SPAN_FIXED);

	if (!o)
		return;
	/* traceId first: every later member has its comma. */
	o = put_id(o, "{\"traceId\":\"", 12, sp->trace_id.b, sizeof(sp->trace_id.b));
	o = PUT_ID(o, "spanId", sp->span_id);
	if (!all_zero(sp->parent_span_id.b, sizeof(sp->parent_span_id.b)))
		o = PUT_ID(o, "parentSpanId", sp->parent_span_id);
	o = PUT_COUNT(o, "flags", sp->flags);
	if (name_n)
		o = PUT(weft_json_put_escaped(PUT(o, ",\"name\":\""), sp->name, name_n), "\"");
	o = PUT_COUNT(o, "kind", (uint64_t)sp->kind);
	o = PUT_U64_STRING(o, "startTimeUnixNano", sp->start_unix_nano);
	o = PUT_U64_STRING(o, "endTimeUnixNano", sp->end_unix_nano);
	if (!(o = put_attrs_member(j, o, sp->attrs, sp->n_attrs, false, SPAN_FIXED)))
		return;
	o = PUT_COUNT(o, "droppedAttributesCount", sp->dropped_attrs);
	if (sp->n_events)
		o = PUT(o, ",\"events\":[");
	for (size_t i = 0; i < sp->n_events; i++) {
		const struct weft_span_event *ev = &sp->events[i];
		size_t n = length(ev->name);

		weft_json_done(j, o);
		if (!(o = weft_json_room(j, n, SPAN_FIXED)))
			return;
		*o++ = '{';
		if (ev->time_unix_nano) {
			o = PUT(o, "\"timeUnixNano\":\"");
			o = PUT(weft_json_put_u64(o, ev->time_unix_nano), "\"");
		}
		if (n) {
			if (ev->time_unix_nano)
				*o++ = ',';
			o = PUT(weft_json_put_escaped(PUT(o, "\"name\":\""), ev->name, n), "\"");
		}
		if (!(o = put_attrs_member(j, o, ev->attrs, ev->n_attrs, !ev->time_unix_nano && !n,
					   SPAN_FIXED)))
			return;
		*o++ = '}';
		if (i + 1 < sp->n_events)
			*o++ = ',';
	}
	if (sp->n_events)
		*o++ = ']';
	o = PUT_COUNT(o, "droppedEventsCount", sp->dropped_events);
	if (sp->n_links)
		o = PUT(o, ",\"links\":[");
	for (size_t i = 0; i < sp->n_links; i++) {
		const struct weft_span_link *l = &sp->links[i];

		o = put_id(o, "{\"traceId\":\"", 12, l->trace_id.b, sizeof(l->trace_id.b));
		o = PUT_ID(o, "spanId", l->span_id);
		if (!(o = put_attrs_member(j, o, l->attrs, l->n_attrs, false, SPAN_FIXED)))
			return;
		*o++ = '}';
		if (i + 1 < sp->n_links)
			*o++ = ',';
	}
	if (sp->n_links)
		*o++ = ']';
	o = PUT_COUNT(o, "droppedLinksCount", sp->dropped_links);
	if (sp->status != WEFT_STATUS_UNSET || nonempty(sp->status_message)) {
		size_t n = length(sp->status_message);

		weft_json_done(j, o);
		if (!(o = weft_json_room(j, n, SPAN_FIXED)))
			return;
		o = PUT(o, ",\"status\":{");
		if (sp->status != WEFT_STATUS_UNSET)
			o = weft_json_put_u64(PUT(o, "\"code\":"), (uint64_t)sp->status);
		if (n) {
			if (sp->status != WEFT_STATUS_UNSET)
				*o++ = ',';
			o = PUT(weft_json_put_escaped(PUT(o, "\"message\":\""), sp->status_message,
						      n),
				"\"");
		}
		*o++ = '}';
	}
	*o++ = '}';
	weft_json_done(j, o);
}

static int jsonl_export_spans(struct weft_sink *sink, const struct weft_resource *res,
			      const struct weft_span *spans, size_t n)
{
	struct jsonl *s = sink->priv;
	struct weft_json *j = &s->json;

	/* An empty batch is not worth a line. */
	if (!n)
		return 0;
	weft_json_reset(j);
	json_begin_request(j, res, "resourceSpans", "scopeSpans", "spans");
	for (size_t i = 0; i < n; i++)
		json_span(j, &spans[i]);
	json_end_request(j);
	return jsonl_flush(s, n, 0);
}

/*
 * A point's start and time as decimal text, kept from the last point: every
 * point of one collection has the same two.
 */
struct time_text {
	uint64_t v;
	size_t n;
	char s[WEFT_JSON_U64_MAX];
};
static struct time_text start_text, now_text;

/* A comma unless this is the object's first member. */
static inline char *sep(char *o, bool *first)
{
	if (!*first)
		*o++ = ',';
	*first = false;
	return o;
}

/* `"<key>":"<v>"`, v's text kept in *t. */
static char *put_time(char *o, const char *qkey, size_t qkey_n, uint64_t v, struct time_text *t)
{
	if (t->v != v || !t->n) {
		t->n = weft_json_format_u64(t->s, v);
		t->v = v;
	}
	memcpy(o, qkey, qkey_n);
	memcpy(o + qkey_n, t->s, t->n);
	o += qkey_n + t->n;
	*o++ = '"';
	return o;
}
#define PUT_TIME(o, key, v, t) put_time(o, "\"" key "\":\"", sizeof(key) + 3, v, t)

/* Room for a point's fixed parts: times, count, value, sum, min, max. */
#define POINT_FIXED 256

/*
 * `{` (after a comma if `comma`), the point's attributes and times; the
 * cursor for the rest, with room for POINT_FIXED and `more`, and whether a
 * member was written.
 */
static char *point_begin(struct weft_json *j, const struct weft_point *p, bool comma, size_t more,
			 bool *first)
{
	char *o = weft_json_room(j, 0, 2);

	if (!o)
		return NULL;
	if (comma)
		*o++ = ',';
	*o++ = '{';
	*first = !p->n_attrs;
	weft_json_done(j, o);
	if (p->n_attrs)
		put_attrs(j, p->attrs, p->n_attrs);
	if (!(o = weft_json_room(j, 0, POINT_FIXED + more)))
		return NULL;
	if (p->start_unix_nano)
		o = PUT_TIME(sep(o, first), "startTimeUnixNano", p->start_unix_nano, &start_text);
	if (p->time_unix_nano)
		o = PUT_TIME(sep(o, first), "timeUnixNano", p->time_unix_nano, &now_text);
	return o;
}

/* A NumberDataPoint; the value is a oneof, so it is written even when zero. */
static void json_number_point(struct weft_json *j, const struct weft_point *p, bool comma)
{
	bool first;
	char *o = point_begin(j, p, comma, 0, &first);

	if (!o)
		return;
	o = sep(o, &first);
	if (p->is_double) {
		o = weft_json_put_double(PUT(o, "\"asDouble\":"), p->as_double);
	} else {
		o = PUT(o, "\"asInt\":\"");
		if (p->as_int < 0)
			*o++ = '-';
		o = weft_json_put_u64(o, p->as_int < 0 ? (uint64_t)0 - (uint64_t)p->as_int
						       : (uint64_t)p->as_int);
		*o++ = '"';
	}
	*o++ = '}';
	weft_json_done(j, o);
}

/*
 * A HistogramDataPoint. sum, min and max are proto3 `optional`: sum is always
 * present, min and max only when something was recorded.
 */
static void json_histogram_point(struct weft_json *j, const struct weft_point *p, bool comma)
{
	/* A bucket's count (a quoted fixed64) or a bound (a double), and a comma. */
	bool first;
	char *o = point_begin(j, p, comma,
			      p->n_bounds < SIZE_MAX / 256 ? 64 * (p->n_bounds + 1) : SIZE_MAX / 2,
			      &first);

	if (!o)
		return;
	if (p->count)
		o = PUT(weft_json_put_u64(PUT(sep(o, &first), "\"count\":\""), p->count), "\"");
	o = weft_json_put_double(PUT(sep(o, &first), "\"sum\":"), p->sum);
	if (p->bucket_counts) {
		o = PUT(o, ",\"bucketCounts\":[");
		for (size_t i = 0; i <= p->n_bounds; i++) {
			if (i)
				*o++ = ',';
			*o++ = '"';
			o = weft_json_put_u64(o, p->bucket_counts[i]);
			*o++ = '"';
		}
		*o++ = ']';
	}
	if (p->n_bounds) {
		o = PUT(o, ",\"explicitBounds\":[");
		for (size_t i = 0; i < p->n_bounds; i++) {
			if (i)
				*o++ = ',';
			o = weft_json_put_double(o, p->bounds[i]);
		}
		*o++ = ']';
	}
	if (p->count) {
		o = weft_json_put_double(PUT(o, ",\"min\":"), p->min);
		o = weft_json_put_double(PUT(o, ",\"max\":"), p->max);
	}
	*o++ = '}';
	weft_json_done(j, o);
}

/* `"<key>":"<s>"` for a text that is not empty. */
static char *put_text(char *o, bool *first, const char *qkey, size_t qkey_n, const char *s,
		      size_t n)
{
	if (!n)
		return o;
	o = sep(o, first);
	memcpy(o, qkey, qkey_n);
	o = weft_json_put_escaped(o + qkey_n, s, n);
	*o++ = '"';
	return o;
}
#define PUT_TEXT(o, first, key, s, n) put_text(o, first, "\"" key "\":\"", sizeof(key) + 3, s, n)

/* A metric, written directly as a span is (json_span). */
static void json_metric(struct weft_json *j, const struct weft_metric *m)
{
	size_t name_n = length(m->name), desc_n = length(m->description), unit_n = length(m->unit);
	bool first = true;
	char *o = weft_json_member_room(j, name_n + desc_n + unit_n, 128);

	if (!o)
		return;
	*o++ = '{';
	o = PUT_TEXT(o, &first, "name", m->name, name_n);
	o = PUT_TEXT(o, &first, "description", m->description, desc_n);
	o = PUT_TEXT(o, &first, "unit", m->unit, unit_n);
	o = sep(o, &first);
	switch (m->type) {
	case WEFT_METRIC_SUM:
		o = PUT(o, "\"sum\":{");
		break;
	case WEFT_METRIC_GAUGE:
		o = PUT(o, "\"gauge\":{");
		break;
	case WEFT_METRIC_HISTOGRAM:
		o = PUT(o, "\"histogram\":{");
		break;
	}
	if (m->n_points)
		o = PUT(o, "\"dataPoints\":[");
	weft_json_done(j, o);
	for (size_t i = 0; i < m->n_points; i++) {
		if (m->type == WEFT_METRIC_HISTOGRAM)
			json_histogram_point(j, &m->points[i], i > 0);
		else
			json_number_point(j, &m->points[i], i > 0);
	}
	if (!(o = weft_json_room(j, 0, 64)))
		return;
	if (m->n_points)
		*o++ = ']';
	if (m->type != WEFT_METRIC_GAUGE) {
		if (m->n_points)
			*o++ = ',';
		o = weft_json_put_u64(PUT(o, "\"aggregationTemporality\":"),
				      WEFT_TEMPORALITY_CUMULATIVE);
	}
	if (m->type == WEFT_METRIC_SUM && m->monotonic)
		o = PUT(o, ",\"isMonotonic\":true");
	o = PUT(o, "}}");
	weft_json_done(j, o);
}

static int jsonl_export_metrics(struct weft_sink *sink, const struct weft_resource *res,
				const struct weft_metric *metrics, size_t n)
{
	struct jsonl *s = sink->priv;
	struct weft_json *j = &s->json;

	if (!n)
		return 0;
	weft_json_reset(j);
	json_begin_request(j, res, "resourceMetrics", "scopeMetrics", "metrics");
	for (size_t i = 0; i < n; i++)
		json_metric(j, &metrics[i]);
	json_end_request(j);
	return jsonl_flush(s, 0, 1);
}

static void jsonl_shutdown(struct weft_sink *sink)
{
	struct jsonl *s = sink->priv;

	weft_outfile_close(s->file);
	weft_json_free(&s->json);
	weft_free(s);
}

struct weft_sink *weft_jsonl_open_file(struct weft_outfile *f)
{
	struct jsonl *s = weft_zalloc(sizeof(*s));

	if (!s) {
		weft_outfile_close(f);
		return NULL;
	}
	s->file = f;
	weft_json_init(&s->json);
	s->sink.name = "file";
	s->sink.export_spans = jsonl_export_spans;
	s->sink.export_metrics = jsonl_export_metrics;
	s->sink.shutdown = jsonl_shutdown;
	s->sink.priv = s;
	return &s->sink;
}

/* An explicit path, created now: one line and NULL when it cannot be. */
struct weft_sink *weft_jsonl_open(const char *path)
{
	struct weft_outfile *f = weft_outfile_new(-1, path, path, 0, NULL);

	if (!f) {
		weft_warn("cannot write %s: %s", path, strerrordesc_np(ENOMEM));
		return NULL;
	}
	if (weft_outfile_open_now(f) < 0) {
		weft_outfile_close(f);
		return NULL;
	}
	return weft_jsonl_open_file(f);
}
