#include "topview.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#include "banned.h"

#define HEADER_LINES 5          /* three lines, a blank, the table header */

struct topview {
	SCREEN *screen;
	bool use_color;
	/* The last message logged while the view owns the terminal: shown on
	 * the bottom line, and logged again once the terminal is given back. */
	char logged[256];
	char shown[272];            /* the same as the bottom line shows it */
	enum log_level logged_level;
};

enum { PAIR_HEADER = 1, PAIR_TITLE, PAIR_HOT };

static void line_at(int y, const char *s, attr_t attr);

/* The logging sink while curses owns the terminal: a message written raw
 * to stderr would land in the middle of the screen. */
static void topview_log(enum log_level level, const char *msg, void *ctx)
{
	struct topview *tv = ctx;

	snprintf(tv->logged, sizeof(tv->logged), "%s", msg);
	snprintf(tv->shown, sizeof(tv->shown), "%s%s", level == LOG_WARN ? "warning: " : "",
		 tv->logged);
	tv->logged_level = level;
	line_at(getmaxy(stdscr) - 1, tv->shown, A_BOLD);
	refresh();
}

int topview_open(struct topview **out)
{
	struct topview *tv = calloc(1, sizeof(*tv));

	*out = NULL;
	if (!tv)
		return -ENOMEM;
	/* Names are UTF-8 (made valid by the model); the curses of wide
	 * characters draws them when the locale says so. */
	setlocale(LC_CTYPE, "");
	/* newterm, not initscr: on an unknown terminal it returns NULL rather
	 * than exiting with the target still attached. */
	tv->screen = newterm(NULL, stdout, stdin);
	if (!tv->screen) {
		free(tv);
		return -EIO;
	}
	set_term(tv->screen);
	cbreak();               /* Ctrl-C still raises SIGINT, which cmd_top handles */
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	tv->use_color = has_colors() && !getenv("NO_COLOR");
	if (tv->use_color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_HEADER, COLOR_BLACK, COLOR_GREEN);
		init_pair(PAIR_TITLE, COLOR_CYAN, -1);
		init_pair(PAIR_HOT, COLOR_RED, -1);
	}
	log_set_sink(topview_log, tv);
	*out = tv;
	return 0;
}

void topview_close(struct topview *tv)
{
	if (!tv)
		return;
	log_set_sink(NULL, NULL);
	endwin();
	delscreen(tv->screen);
	/* Warnings and errors shown on the bottom line must outlive it. */
	if (tv->logged[0] && tv->logged_level <= LOG_WARN)
		log_msg(tv->logged_level, "%s", tv->logged);
	free(tv);
}

void topview_repaint(struct topview *tv)
{
	(void)tv;
	clearok(curscr, TRUE);
}

size_t topview_page(const struct topview *tv)
{
	(void)tv;
	int rows = getmaxy(stdscr) - HEADER_LINES - 1;

	return rows > 0 ? (size_t)rows : 0;
}

static void line_at(int y, const char *s, attr_t attr)
{
	int w = getmaxx(stdscr);

	if (y >= getmaxy(stdscr))
		return;
	move(y, 0);
	clrtoeol();
	if (attr)
		attron(attr);
	addnstr(s, w);
	if (attr)
		attroff(attr);
}

static const char *const help_text[] = {
	"hotspy top: keys",
	"",
	"  1 2 3 4      sort by %Own, %Total, OwnTime, TotalTime",
	"  arrows PgUp PgDn Home End   scroll",
	"  l            functions / source lines",
	"  t            all threads / one thread at a time",
	"  p            all processes / one process at a time (--subprocesses)",
	"  space        pause the display (sampling goes on)",
	"  r            reset the counts",
	"  /            filter functions by a substring (Enter keeps, Esc clears)",
	"  ?            this help (any key closes it)",
	"  q, Ctrl-C    quit",
	"",
	"%Own, %Total: share of the samples of the last refresh in which the",
	"function was the leaf / anywhere in the stack. OwnTime, TotalTime:",
	"the same in seconds since the start (or the last reset).",
};

void topview_draw(struct topview *tv, const struct top_screen *sc, const struct top_state *st)
{
	char buf[4096], head[256];
	size_t page = topview_page(tv);
	int y = HEADER_LINES;

	erase();
	if (st->help) {
		for (size_t i = 0; i < sizeof(help_text) / sizeof(help_text[0]); i++)
			line_at((int)i, help_text[i], i ? 0 : A_BOLD);
		refresh();
		return;
	}
	line_at(0, sc->title, tv->use_color ? COLOR_PAIR(PAIR_TITLE) | A_BOLD : A_BOLD);
	line_at(1, sc->info, 0);
	snprintf(buf, sizeof(buf), "%s   sort: %s%s%s%s%s", sc->scope,
		 st->sort == TOP_SORT_OWN ? "%Own" : st->sort == TOP_SORT_TOTAL ? "%Total" :
		 st->sort == TOP_SORT_OWN_TIME ? "OwnTime" : "TotalTime",
		 st->lines ? "   by line" : "",
		 st->filter[0] || st->filtering ? "   filter: " : "", st->filter,
		 st->paused ? "   [paused]" : "");
	line_at(2, buf, 0);
	top_table_header(head, sizeof(head), st->sort, st->lines);
	snprintf(buf, sizeof(buf), "%-*s", getmaxx(stdscr) > 0 ? getmaxx(stdscr) : 1, head);
	line_at(4, buf, tv->use_color ? COLOR_PAIR(PAIR_HEADER) : A_REVERSE);
	if (!sc->nrows && sc->empty)
		line_at(y, sc->empty, A_DIM);
	for (size_t i = st->scroll; i < sc->nrows && (size_t)y < HEADER_LINES + page; i++, y++) {
		top_format_row(buf, sizeof(buf), &sc->rows[i], sc->win_total, sc->period);
		line_at(y, buf, tv->use_color && i == 0 && sc->rows[i].own_win ?
			COLOR_PAIR(PAIR_HOT) : 0);
	}
	if (sc->message)
		line_at(getmaxy(stdscr) - 1, sc->message, A_BOLD);
	else if (tv->shown[0])
		line_at(getmaxy(stdscr) - 1, tv->shown, A_BOLD);
	else if (sc->nrows > page)
		line_at(getmaxy(stdscr) - 1, "(more: arrows, PgDn; ? for help)", A_DIM);
	refresh();
}

static void scroll_by(struct top_state *st, long delta)
{
	long s = (long)st->scroll + delta;

	st->scroll = s < 0 ? 0 : (size_t)s;
}

bool topview_key(struct topview *tv, struct top_state *st, int timeout_ms, size_t nthreads,
		 size_t nprocs)
{
	int c;
	size_t page = topview_page(tv);

	timeout(timeout_ms);
	c = getch();
	if (c == ERR)
		return false;
	if (c == KEY_RESIZE)
		return true;
	if (st->help) {
		st->help = false;
		return true;
	}
	if (st->filtering) {
		size_t len = strlen(st->filter);

		if (c == '\n' || c == KEY_ENTER)
			st->filtering = false;
		else if (c == 27)
			st->filtering = false, st->filter[0] = '\0';
		else if ((c == KEY_BACKSPACE || c == 127 || c == 8) && len)
			st->filter[len - 1] = '\0';
		else if (c >= 0x20 && c < 0x7f && len + 1 < sizeof(st->filter))
			st->filter[len] = (char)c, st->filter[len + 1] = '\0';
		st->scroll = 0;
		return true;
	}
	switch (c) {
	case '1': case '2': case '3': case '4':
		st->sort = (enum top_sort)(c - '0');
		st->scroll = 0;
		break;
	case KEY_UP: scroll_by(st, -1); break;
	case KEY_DOWN: scroll_by(st, 1); break;
	case KEY_PPAGE: scroll_by(st, -(long)page); break;
	case KEY_NPAGE: scroll_by(st, (long)page); break;
	case KEY_HOME: st->scroll = 0; break;
	case KEY_END: st->scroll = (size_t)-1 / 2; break;   /* clamped by cmd_top */
	case 'l': st->lines = !st->lines; st->scroll = 0; break;
	case 't': st->thread = nthreads ? (st->thread + 1) % (nthreads + 1) : 0;
		st->scroll = 0;
		break;
	case 'p': st->process = nprocs > 1 ? (st->process + 1) % (nprocs + 1) : 0;
		st->thread = 0;
		st->scroll = 0;
		break;
	case ' ': st->paused = !st->paused; break;
	case 'r': st->reset = true; break;
	case '/': st->filtering = true; st->filter[0] = '\0'; break;
	case '?': st->help = true; break;
	case 'q': case 'Q': st->quit = true; break;
	default: return false;
	}
	return true;
}
