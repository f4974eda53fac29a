/*
 * exitcode.h - what hotspy's exit status means, in one place (documented in
 * docs/hotspy.1.md, EXIT STATUS).
 *
 * hotspy's own outcomes use small codes; a program started with `--` passes
 * its status through as time(1) and perf stat do: its exit code, or 128 + N
 * when signal N killed it. A script that must tell hotspy's failure from the
 * program's reads the "program" object of --summary-json (or the summary
 * line), which is written only when the recording itself succeeded.
 */
#ifndef HOTSPY_EXITCODE_H
#define HOTSPY_EXITCODE_H

enum exit_code {
	EXIT_CODE_OK = 0,          /* done; also when hotspy ended the program it
	                            * started (-d, SIGTERM to hotspy, top quit) */
	EXIT_CODE_ERROR = 1,       /* hotspy failed: nothing (or not all) written */
	EXIT_CODE_USAGE = 2,       /* the command line is wrong */
	EXIT_CODE_THRESHOLD = 3,   /* a --fail-* rule was violated; the outputs
	                            * were written in full */
	EXIT_CODE_SIGNAL_BASE = 128,  /* + N: the started program died of signal N */
};

#endif
