/*
 * The stack interpreter's answer to the wait interpreter.
 */
#ifndef WEFT_EXPORTER_STACKS_H
#define WEFT_EXPORTER_STACKS_H

#include <stdint.h>

/*
 * Stack `id` as code.stacktrace text, one frame a line, innermost first
 * ("function+0xoffset" or the address when no symbol is known); NULL when the
 * stack is unknown or incomplete. Valid until the process forks.
 */
const char *weft_stacks_text(uint32_t id);

#endif
