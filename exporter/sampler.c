#include "agent/agent.h"
#include "exporter/sampler.h"
#include "exporter/spans.h"

static bool ratio_decide(double ratio, const struct weft_trace_id *trace)
{
	uint64_t lower = 0, bound;

	if (ratio >= 1.0)
		return true;
	if (!(ratio > 0.0))
		return false;
	for (int i = 8; i < 16; i++)
		lower = lower << 8 | trace->b[i];
	/* ratio < 1, so the bound fits in 63 bits and the conversion is exact enough. */
	bound = (uint64_t)(ratio * 9223372036854775808.0);
	return (lower >> 1) < bound;
}

bool weft_sampler_decide(enum weft_sampler sampler, double ratio, const struct weft_trace_id *trace,
			 bool has_parent, uint8_t parent_flags)
{
	bool parent_sampled = (parent_flags & WEFT_TRACE_FLAG_SAMPLED) != 0;

	switch (sampler) {
	case WEFT_SAMPLER_ALWAYS_ON:
		return true;
	case WEFT_SAMPLER_ALWAYS_OFF:
		return false;
	case WEFT_SAMPLER_TRACEIDRATIO:
		return ratio_decide(ratio, trace);
	case WEFT_SAMPLER_PARENT_ALWAYS_ON:
		return has_parent ? parent_sampled : true;
	case WEFT_SAMPLER_PARENT_ALWAYS_OFF:
		return has_parent ? parent_sampled : false;
	case WEFT_SAMPLER_PARENT_TRACEIDRATIO:
		return has_parent ? parent_sampled : ratio_decide(ratio, trace);
	}
	return true;
}

void weft_sampler_setup(void)
{
	/*
	 * A parent exists when TRACEPARENT was valid (agent.c took its span id
	 * and flags) or in a forked child (the forking thread's span, with the
	 * flags that the parent process decided).
	 */
	bool has_parent = weft_process.parent_span != 0;
	bool sampled = weft_sampler_decide(weft_cfg.sampler, weft_cfg.sampler_ratio,
					   &weft_process.trace, has_parent, weft_process.flags);

	if (sampled)
		weft_process.flags |= WEFT_TRACE_FLAG_SAMPLED;
	else
		weft_process.flags &= (uint8_t)~WEFT_TRACE_FLAG_SAMPLED;
	weft_spans_set_sampled(sampled);
}

bool weft_sampler_process_sampled(void)
{
	return (weft_process.flags & WEFT_TRACE_FLAG_SAMPLED) != 0;
}
