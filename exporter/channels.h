/*
 * The channel interpreter's questions for the others (exporter/channels.c):
 * a channel's name and the kind of its hand-off links.
 */
#ifndef WEFT_EXPORTER_CHANNELS_H
#define WEFT_EXPORTER_CHANNELS_H

#include <stdint.h>

#include "exporter/spans.h"

/* `pipe:main#1`, naming the channels not named yet; NULL for a slot no longer live. */
const char *weft_channels_name(uint32_t id);

/* weft.link.kind of the channel's hand-offs: pipe, eventfd, socket. */
const char *weft_channels_link_kind(uint32_t id);

/* Adds a link to a writer's span (span 0: none) of channel `id`. */
void weft_channels_link(struct weft_qspan *q, uint32_t id, uint64_t span);

#endif
