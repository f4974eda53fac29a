/*
 * topview.h - the ncurses screen of `hotspy top`: the only code that
 * includes curses. It draws what cmd_top prepared and turns keys into the
 * view's state; it never touches the target.
 */
#ifndef HOTSPY_TOPVIEW_H
#define HOTSPY_TOPVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topmodel.h"

struct top_state {
	enum top_sort sort;
	bool lines;             /* `l`: by source line */
	size_t thread;          /* `t`: 0 all threads, else the thread index + 1
	                         * (among the threads of the process picked) */
	size_t process;         /* `p`: 0 all processes, else the process
	                         * index + 1 (--subprocesses) */
	bool paused;            /* space: the display stays, sampling goes on */
	bool help;              /* `?` */
	bool filtering;         /* `/` typed, the filter being edited */
	char filter[64];
	size_t scroll;          /* first row shown */
	bool quit;
	bool reset;             /* `r`: cmd_top clears the counts */
};

struct top_screen {
	const char *title;      /* first header line */
	const char *info;       /* second header line */
	const char *scope;      /* third: all threads or the one shown */
	const struct top_row *rows;
	size_t nrows;
	uint64_t win_total;
	double period;          /* seconds per unit of weight */
	const char *message;    /* bottom line, or NULL */
	const char *empty;      /* in place of the rows when there are none:
				 * why (a filter matching nothing), or NULL */
};

struct topview;

/*
 * Take the terminal (colour unless NO_COLOR is set or it has none) and
 * install the logging sink: until topview_close, messages go to the bottom
 * line of the screen, never raw to stderr. Returns 0 with the view in *@out
 * (freed by topview_close), -EIO when the terminal cannot be used, or
 * -ENOMEM.
 */
int topview_open(struct topview **out);
/* Give the terminal back and remove the logging sink; the last warning or
 * error the bottom line showed is logged again, to stderr. Frees @tv;
 * accepts NULL. */
void topview_close(struct topview *tv);
/* Draw @sc with the keys' state @st (both borrowed). sc->message, or else
 * the last logged message, is the bottom line. */
void topview_draw(struct topview *tv, const struct top_screen *sc,
		  const struct top_state *st);
/*
 * Wait up to @timeout_ms for a key and apply it to @st (with @nthreads
 * threads and @nprocs processes to cycle through; picking a process shows
 * all its threads). True when the screen should be drawn again.
 */
bool topview_key(struct topview *tv, struct top_state *st, int timeout_ms, size_t nthreads,
		 size_t nprocs);
/* Paint the whole screen at the next draw, not only what changed (a
 * program started under top writes to the same terminal). */
void topview_repaint(struct topview *tv);
/* Rows of the table that fit the screen (for scrolling). */
size_t topview_page(const struct topview *tv);

#endif
