/*
 * Channels across exec: a descriptor the program keeps open without
 * FD_CLOEXEC across an exec is still the same channel in the new image.
 *
 * The old image's exec hooks (hooks/exec.c) pass the new one a copy of the
 * environment with one more variable,
 *
 *     WEFT_CHANNELS=<fd>:<entry bits>:<name>;<fd>:<entry bits>:<name>;...
 *
 * one item per channel descriptor open without FD_CLOEXEC: its number, the
 * low bits of its entry (agent/channel.h: ends, queues, the non-blocking
 * hint) in decimal, and the channel's name as the exporter gave it, or
 * `<kind>@<slot id>` when the exporter had not named it yet (the agent cannot
 * symbolise). Descriptors of one channel carry the same name. The program's
 * own environment is never changed: only the copy goes to the new image, and
 * only when that copy preloads libweft (an image weft does not run in must
 * not see the variable).
 *
 * The new image reads it at agent initialisation: one slot per name, named
 * already (unnamed ones `<kind>:inherited#n`), marked inherited — shared,
 * since its other end may be in another process — with counters from 0; each
 * descriptor is checked to be open (fcntl F_GETFD) and anything malformed is
 * ignored. The variable is then removed from the environment, so the program
 * sees the environment it was given and does not hand the list on.
 */
#ifndef WEFT_AGENT_CHANNEL_EXEC_H
#define WEFT_AGENT_CHANNEL_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/ids.h"

#define WEFT_CHANNELS_VAR "WEFT_CHANNELS"

/*
 * The context an exec or spawn hands the child's weft (W3C traceparent), so
 * that the child's process span continues the trace. A variable of weft's
 * own, taken out of the environment at start like WEFT_CHANNELS: the child
 * program sees exactly the environment its parent passed, TRACEPARENT
 * included if the program set one (for its own OpenTelemetry SDK).
 */
#define WEFT_TRACEPARENT_VAR "WEFT_TRACEPARENT"

/*
 * The environment an exec (or posix_spawn) hook passes instead of `envp`:
 * NULL when `envp` goes unchanged (nothing to add, the copy would not preload
 * libweft, no room), else a copy built in `buf` (`buf_size` bytes, the
 * hook's stack) when it fits there, else from weft_alloc when `may_alloc`
 * (*allocated then true: free it with weft_chan_exec_free if the exec
 * fails). The copy carries WEFT_CHANNELS when `channels` and a channel
 * descriptor survives the exec, and WEFT_TRACEPARENT=`traceparent` when that
 * is not NULL: the W3C context of the span that started the child, which the
 * child's weft takes as its process span's parent. Leaves errno as it found
 * it.
 */
char **weft_chan_exec_env(char *const envp[], void *buf, size_t buf_size, bool may_alloc,
			  bool *allocated, bool channels, const char *traceparent);
void weft_chan_exec_free(char **env);

/*
 * At agent initialisation: adopts the channels WEFT_CHANNELS lists (when
 * `adopt`) and removes the variable from the environment. Returns the number
 * of channels created.
 */
int weft_chan_exec_init(bool adopt);

/*
 * At agent initialisation: WEFT_TRACEPARENT taken out of the environment;
 * true with its value in `out` when it was there and of the right length.
 */
bool weft_exec_take_traceparent(char out[WEFT_TRACEPARENT_LEN + 1]);

#endif
