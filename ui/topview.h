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
	size_t thread;          /* `t`: 0 all threads, else the thread index + 1 */
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
};

/* Take the terminal (colour unless NO_COLOR is set or it has none). 0 or -1. */
int topview_open(void);
void topview_close(void);
void topview_draw(const struct top_screen *sc, const struct top_state *st);
/*
 * Wait up to @timeout_ms for a key and apply it to @st (with @nthreads
 * threads to cycle through). True when the screen should be drawn again.
 */
bool topview_key(struct top_state *st, int timeout_ms, size_t nthreads);
/* Paint the whole screen at the next draw, not only what changed (a
 * program started under top writes to the same terminal). */
void topview_repaint(void);
/* Rows of the table that fit the screen (for scrolling). */
size_t topview_page(void);

#endif
