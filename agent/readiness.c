/*
 * The default weft_channel_polled (agent/readiness.h): nothing to mark while
 * no channel code is linked. Weak, so that the channel code's strong
 * definition replaces it in libweft.so and in the unit tests alike.
 */
#include "agent/readiness.h"

__attribute__((weak)) void weft_channel_polled(struct weft_thread *t)
{
	(void)t;
}
