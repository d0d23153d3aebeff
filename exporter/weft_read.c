/*
 * weft-read: reads weft's OTLP JSON Lines files back, for the launcher's
 * `weft timeline` (exporter/timeline.h) and `weft report`
 * (exporter/report_read.h). Installed beside weft-send, in <libdir>/weft/;
 * needs nothing but the C library.
 */
#include <stdio.h>
#include <string.h>

#include "exporter/report_read.h"
#include "exporter/timeline.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "timeline") == 0)
		return weft_timeline_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "report") == 0)
		return weft_report_read_main(argc - 1, argv + 1);
	fprintf(stderr, "Usage: weft-read timeline FILE.jsonl... [-o OUT.json]\n"
			"       weft-read report FILE.jsonl...\n");
	return 2;
}
