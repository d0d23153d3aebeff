/*
 * `weft report FILE...`: the end-of-run report of each process in weft's
 * files, as WEFT_REPORT printed it. The exporter attaches the report's text
 * to the process span (event `weft.report`, attribute `weft.report.text`;
 * exporter/report.h), so nothing is recomputed: the text is printed as it
 * was written, one process after another in the order they started. A
 * process whose files hold no such event — killed before its final export,
 * or its trace not sampled — gets one line saying so.
 */
#ifndef WEFT_EXPORTER_REPORT_READ_H
#define WEFT_EXPORTER_REPORT_READ_H

/* argv: the files. 0 when a report was found, 1 when none was, 2 on a usage error. */
int weft_report_read_main(int argc, char **argv);

#endif
