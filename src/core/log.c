#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "banned.h"

/*
 * The one mutable file-scope state of hotspy besides what signals need, on
 * purpose: there is one terminal, and every layer logs to it, so passing a
 * logger through every call would add a parameter to nearly every function
 * for no second instance ever. It is set by main (the level) and by the top
 * view while it owns the terminal (the sink), never from a signal handler.
 */
static struct {
	enum log_level level;
	log_sink_fn sink;
	void *sink_ctx;
} log_state = { .level = LOG_INFO };

void log_set_level(enum log_level level) { log_state.level = level; }
enum log_level log_get_level(void) { return log_state.level; }

void log_set_sink(log_sink_fn fn, void *ctx)
{
	log_state.sink = fn;
	log_state.sink_ctx = ctx;
}

__attribute__((format(printf, 2, 0)))
static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level > log_state.level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_state.sink) {
		log_state.sink(level, buf, log_state.sink_ctx);
		return;
	}
	fprintf(stderr, "hotspy: %s%s\n",
		level == LOG_WARN ? "warning: " : "", buf);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int log_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	return err;
}
