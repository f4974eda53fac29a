/*
 * exitcode.h - what hotspy's exit status means (docs/hotspy.1.md, EXIT
 * STATUS), so that a script can tell the cases apart.
 */
#ifndef HOTSPY_EXITCODE_H
#define HOTSPY_EXITCODE_H

#define EXIT_HOTSPY_OK        0  /* done */
#define EXIT_HOTSPY_ERROR     1  /* failed, already reported */
#define EXIT_HOTSPY_USAGE     2  /* a bad command line */
#define EXIT_HOTSPY_THRESHOLD 3  /* a --fail-* rule was violated; the outputs
				  * were written in full */

#endif
