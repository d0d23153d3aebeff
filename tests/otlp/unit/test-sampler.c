/*
 * The samplers of OTEL_TRACES_SAMPLER (exporter/sampler.c), built alone with
 * the two globals and the one spans.c function it uses stubbed here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent/agent.h"
#include "exporter/sampler.h"
#include "exporter/spans.h"
#include "harness.h"

struct weft_config weft_cfg;
struct weft_process weft_process;
static int spans_sampled = -1;

void weft_spans_set_sampled(bool sampled)
{
	spans_sampled = sampled;
}

static struct weft_trace_id trace_with_lower(uint64_t lower)
{
	struct weft_trace_id t;

	memset(t.b, 0xab, 8);
	for (int i = 0; i < 8; i++)
		t.b[8 + i] = (uint8_t)(lower >> (56 - 8 * i));
	return t;
}

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int main(void)
{
	const struct weft_trace_id low = trace_with_lower(1), high = trace_with_lower(UINT64_MAX);
	const struct weft_trace_id below = trace_with_lower((UINT64_C(1) << 63) - 1);
	const struct weft_trace_id at = trace_with_lower(UINT64_C(1) << 63);
	uint64_t x = 0x2545f4914f6cdd1dull;
	int hits = 0, n = 200000;

	expect_true(weft_sampler_decide(WEFT_SAMPLER_ALWAYS_ON, 0, &high, true, 0));
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_ALWAYS_OFF, 1, &low, true, 1));

	/* traceidratio: the lower 8 bytes, big-endian, >> 1, against ratio * 2^63. */
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0, &low, false, 1));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 1, &high, false, 0));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.5, &low, false, 0));
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.5, &high, false, 1));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.5, &below, false, 0));
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.5, &at, false, 0));
	/* A trace id's upper half plays no part. */
	{
		struct weft_trace_id t = low;

		memset(t.b, 0xff, 8);
		expect_true(weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.5, &t, false, 0));
	}
	/* The fraction sampled is the ratio, and a lower ratio samples a subset. */
	for (int i = 0; i < n; i++) {
		struct weft_trace_id t = trace_with_lower(next(&x));
		bool at30 = weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.3, &t, false, 0);
		bool at60 = weft_sampler_decide(WEFT_SAMPLER_TRACEIDRATIO, 0.6, &t, false, 0);

		hits += at30;
		if (at30 && !at60)
			HARNESS_FAIL(0, "sampled at 0.3 but not at 0.6");
	}
	expect_true(hits > n * 29 / 100 && hits < n * 31 / 100);

	/* parentbased_*: the parent's sampled flag, else the root sampler. */
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_PARENT_ALWAYS_ON, 1, &low, true, 0));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_PARENT_ALWAYS_ON, 1, &low, true, 1));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_PARENT_ALWAYS_ON, 1, &low, false, 0));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_PARENT_ALWAYS_OFF, 1, &low, true, 1));
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_PARENT_ALWAYS_OFF, 1, &low, false, 1));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_PARENT_TRACEIDRATIO, 0, &high, true, 0x03));
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_PARENT_TRACEIDRATIO, 1, &low, true, 0x02));
	expect_true(weft_sampler_decide(WEFT_SAMPLER_PARENT_TRACEIDRATIO, 0.5, &low, false, 0));
	expect_true(!weft_sampler_decide(WEFT_SAMPLER_PARENT_TRACEIDRATIO, 0.5, &high, false, 1));

	/* The process's decision lands in its flags and in the span queue. */
	weft_cfg.sampler = WEFT_SAMPLER_PARENT_ALWAYS_ON;
	weft_process.trace = high;
	weft_process.parent_span = 42;
	weft_process.flags = 0x02;
	weft_sampler_setup();
	expect_int(weft_process.flags, 0x02);
	expect_int(spans_sampled, 0);
	expect_true(!weft_sampler_process_sampled());
	weft_process.parent_span = 0;
	weft_sampler_setup();
	expect_int(weft_process.flags, 0x03);
	expect_int(spans_sampled, 1);
	expect_true(weft_sampler_process_sampled());

	return harness_done();
}
